//! Who the client is, for per-address limits: the peer of the connection,
//! unless that peer is a reverse proxy the operator trusts
//! (`server.trusted_proxies`); then the right-most `X-Forwarded-For` hop that
//! is not one of those proxies. Everything left of that hop was written by
//! the client and proves nothing.

use std::net::{IpAddr, SocketAddr};

use warp::http::HeaderMap;
use warp::Filter;

use crate::config::TrustedProxies;

/// The client's address. `forwarded` is every `X-Forwarded-For` header value,
/// in the order received. None only when the peer is unknown.
pub fn client_ip(peer: Option<SocketAddr>, forwarded: &[&str], trusted: &TrustedProxies) -> Option<IpAddr> {
    let peer = peer?.ip();
    let peer = canonical(peer);
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let hops = forwarded.iter().flat_map(|v| v.split(',')).map(str::trim).filter(|h| !h.is_empty());
    let mut nearest = peer;
    for hop in hops.collect::<Vec<_>>().into_iter().rev() {
        // Garbage where an address should be: the client wrote it; the
        // proxy that passed it on is the last address we can vouch for.
        let Some(ip) = parse_hop(hop) else { return Some(nearest) };
        if !trusted.contains(&ip) {
            return Some(ip);
        }
        nearest = ip;
    }
    Some(nearest)
}

/// An address as proxies write it: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]:443`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim_matches('"');
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    hop.parse::<SocketAddr>().ok().map(|s| canonical(s.ip()))
}

/// IPv4 seen through an IPv6 socket (`::ffff:1.2.3.4`) is that IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The client address of a request as text ("unknown" without a peer).
pub fn client_ip_text(peer: Option<SocketAddr>, headers: &HeaderMap, trusted: &TrustedProxies) -> String {
    let forwarded: Vec<&str> =
        headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect();
    client_ip(peer, &forwarded, trusted).map_or_else(|| "unknown".to_string(), |ip| ip.to_string())
}

/// The client address of every request, as a filter.
pub fn filter(
    trusted: TrustedProxies,
) -> impl Filter<Extract = (String,), Error = std::convert::Infallible> + Clone {
    crate::http::conn::peer_addr()
        .and(warp::header::headers_cloned())
        .map(move |peer: Option<SocketAddr>, headers: HeaderMap| client_ip_text(peer, &headers, &trusted))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::Value as _;

    fn proxies(s: &str) -> TrustedProxies {
        TrustedProxies::parse(s).unwrap()
    }

    fn peer(s: &str) -> Option<SocketAddr> {
        Some(SocketAddr::new(s.parse().unwrap(), 40000))
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let none = TrustedProxies::default();
        // Loopback used to be believed: a local client could claim any address.
        assert_eq!(client_ip(peer("127.0.0.1"), &["6.6.6.6"], &none), ip("127.0.0.1"));
        assert_eq!(client_ip(peer("203.0.113.9"), &["6.6.6.6"], &proxies("10.0.0.0/8")), ip("203.0.113.9"));
        assert_eq!(client_ip(None, &["6.6.6.6"], &none), None);
        assert_eq!(client_ip(peer("::ffff:198.51.100.7"), &[], &none), ip("198.51.100.7"));
    }

    #[test]
    fn behind_trusted_proxies_the_right_most_untrusted_hop_is_the_client() {
        let t = proxies("127.0.0.1, 10.0.0.0/8");
        // The client wrote 6.6.6.6 itself; the proxy appended the real address.
        assert_eq!(client_ip(peer("127.0.0.1"), &["6.6.6.6, 198.51.100.7"], &t), ip("198.51.100.7"));
        // Two proxies in a row, across two header lines.
        assert_eq!(
            client_ip(peer("127.0.0.1"), &["6.6.6.6, 198.51.100.7", "10.1.2.3"], &t),
            ip("198.51.100.7")
        );
        assert_eq!(client_ip(peer("10.0.0.5"), &["[2001:db8::7]:443"], &t), ip("2001:db8::7"));
        assert_eq!(client_ip(peer("10.0.0.5"), &["198.51.100.7:5555"], &t), ip("198.51.100.7"));
        // No header: the proxy itself.
        assert_eq!(client_ip(peer("127.0.0.1"), &[], &t), ip("127.0.0.1"));
        // Garbage: the nearest hop we can vouch for.
        assert_eq!(client_ip(peer("127.0.0.1"), &["1.2.3.4, not-an-ip"], &t), ip("127.0.0.1"));
        assert_eq!(client_ip(peer("127.0.0.1"), &["not-an-ip, 10.9.9.9"], &t), ip("10.9.9.9"));
    }

    #[test]
    fn trusted_proxies_parse_cidrs_and_bare_addresses() {
        assert_eq!(proxies("").0.len(), 0);
        assert_eq!(proxies("10.0.0.0/8, ::1").show(), "10.0.0.0/8, ::1/128");
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.local").unwrap_err().contains("proxy.local"));
    }
}
