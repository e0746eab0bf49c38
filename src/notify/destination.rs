//! Where an owner's lead webhook may point. An owner chooses the URL and
//! sees the outcome in the outbox, so without a rule the server would post
//! (and report back) to anything it can reach: its own loopback ports, the
//! cloud metadata service, the operator's private network. Unless the
//! operator allows it (`notify.allow_private_webhooks`), only public
//! addresses are reached, checked on the addresses the name resolves to
//! *when sending* (so a name that later resolves elsewhere, DNS rebinding,
//! gains nothing), and redirects are never followed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// Whether a webhook may be sent to `ip`: a globally routable unicast
/// address, not loopback, private, link-local (the metadata service lives
/// there), shared (CGNAT), unique-local, documentation, benchmarking,
/// multicast, reserved or unspecified; IPv6 forms that embed an IPv4
/// address are judged by that address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let special = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240; // reserved
    !special
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) carry an IPv4 address.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return is_public_v4(Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8));
    }
    if s[0] == 0x2002 {
        return is_public_v4(Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8));
    }
    let special = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local (fd00:ec2::254 is a metadata address)
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x2001 && s[1] == 0) // Teredo
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard-only
        || s[0..6] == [0, 0, 0, 0, 0, 0]; // IPv4-compatible (deprecated)
    !special
}

/// Why a webhook was not sent there: plain words, no trace of what answered.
pub fn refusal(host: &str) -> String {
    format!(
        "not sent: {host} is a private or internal address; lead webhooks go to public addresses only \
         (the operator can allow others with notify.allow_private_webhooks)"
    )
}

/// Host names that always mean this machine or its network.
pub(crate) fn internal_name(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost"
        || [".localhost", ".local", ".internal", ".home.arpa"].iter().any(|s| host.ends_with(s))
}

/// Checks a webhook URL when the owner saves it: an address literal or a
/// name that resolves (within a couple of seconds) to a non-public address
/// is refused with a message; a name that does not resolve now is accepted
/// (sending checks again).
pub async fn check_url(raw: &str, allow_private: bool) -> Result<(), String> {
    if allow_private {
        return Ok(());
    }
    let url = url::Url::parse(raw.trim()).map_err(|e| format!("not a URL: {e}"))?;
    let host = url.host().ok_or("the URL has no host")?;
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<IpAddr> = match host {
        url::Host::Ipv4(v4) => vec![IpAddr::V4(v4)],
        url::Host::Ipv6(v6) => vec![IpAddr::V6(v6)],
        url::Host::Domain(name) if internal_name(name) => return Err(refusal(name)),
        url::Host::Domain(name) => {
            match tokio::time::timeout(Duration::from_secs(2), tokio::net::lookup_host((name, port))).await {
                Ok(Ok(found)) => found.map(|a| a.ip()).collect(),
                _ => return Ok(()),
            }
        }
    };
    match addrs.iter().find(|ip| !is_public(**ip)) {
        Some(_) => Err(refusal(url.host_str().unwrap_or_default())),
        None => Ok(()),
    }
}

/// A DNS resolver for the webhook client that hands out only public
/// addresses: the connection is made to an address this checked.
pub struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            if internal_name(&host) {
                return Err(refusal(&host).into());
            }
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = found.into_iter().filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                return Err(refusal(&host).into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

/// Whether a URL names its host by an address literal that is not public
/// (the resolver is not asked about literals, so this is checked first).
pub fn literal_refused(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let ip = match parsed.host()? {
        url::Host::Ipv4(v4) => IpAddr::V4(v4),
        url::Host::Ipv6(v6) => IpAddr::V6(v6),
        url::Host::Domain(_) => return None,
    };
    (!is_public(ip)).then(|| refusal(&ip.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(s: &str) -> bool {
        is_public(s.parse().unwrap_or_else(|_| panic!("{s}")))
    }

    #[test]
    fn internal_and_special_addresses_are_not_public() {
        for internal in [
            "127.0.0.1",
            "127.8.8.8",
            "0.0.0.0",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "192.0.0.170",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.2.1",
            "::1",
            "::",
            "fd00:ec2::254",
            "fc00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "2001:db8::1",
            "::127.0.0.1",
        ] {
            assert!(!public(internal), "{internal} must be refused");
        }
        for outside in
            ["8.8.8.8", "1.1.1.1", "100.128.0.1", "172.32.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"]
        {
            assert!(public(outside), "{outside} is public");
        }
    }

    #[tokio::test]
    async fn saving_refuses_internal_targets_unless_allowed() {
        for url in [
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]:22/",
            "http://localhost:5432/",
            "http://127.0.0.1:3000/x",
            "http://db.internal/hook",
        ] {
            let e = check_url(url, false).await.unwrap_err();
            assert!(e.contains("private or internal"), "{url}: {e}");
            assert!(check_url(url, true).await.is_ok());
        }
        assert!(check_url("https://93.184.215.14/hook", false).await.is_ok());
        assert_eq!(literal_refused("http://[::1]:22/").as_deref().map(|m| m.contains("::1")), Some(true));
        assert_eq!(literal_refused("https://hooks.example.com/x"), None);
    }
}
