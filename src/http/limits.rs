//! Open connections: counted per client address while they speak HTTP (so
//! one address cannot hold every socket the process may open; an upgraded
//! media stream is signed and bounded by `websocket.max_connections`
//! instead), and in total for as long as the socket is open (so a graceful
//! stop knows when the last one, media streams included, has closed).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

pub struct Connections {
    per_ip: u32,
    open: Mutex<HashMap<IpAddr, u32>>,
    total: AtomicUsize,
    idle: Notify,
}

/// An open socket, counted until it is dropped (also after an upgrade to a
/// WebSocket: it travels with the socket).
pub struct Open {
    connections: Arc<Connections>,
}

/// A connection's share of its address's cap, given back when it stops
/// speaking HTTP (closed, or upgraded).
pub struct IpSlot {
    connections: Arc<Connections>,
    key: IpAddr,
}

impl Connections {
    /// `per_ip` 0: no cap.
    pub fn new(per_ip: u32) -> Arc<Connections> {
        Arc::new(Connections {
            per_ip,
            open: Mutex::new(HashMap::new()),
            total: AtomicUsize::new(0),
            idle: Notify::new(),
        })
    }

    /// Slots for a connection from `ip`, or None when that address already
    /// holds its share.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<(Open, IpSlot)> {
        let key = client_key(ip);
        {
            let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
            let count = open.entry(key).or_insert(0);
            if self.per_ip > 0 && *count >= self.per_ip {
                return None;
            }
            *count += 1;
        }
        self.total.fetch_add(1, Ordering::SeqCst);
        Some((Open { connections: self.clone() }, IpSlot { connections: self.clone(), key }))
    }

    pub fn total(&self) -> usize {
        self.total.load(Ordering::SeqCst)
    }

    /// Resolves once no connection is open.
    pub async fn idle(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.total() == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut open = self.connections.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        if self.connections.total.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.connections.idle.notify_waiters();
        }
    }
}

/// The address a cap applies to: IPv4 as is, IPv6 by its /64 (one
/// subscriber's network), IPv4-mapped IPv6 as the IPv4 address.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_client_gets_its_share_and_slots_come_back() {
        let c = Connections::new(2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let (open, first) = c.admit(a).unwrap();
        let _second = c.admit(a).unwrap();
        assert!(c.admit(a).is_none());
        assert!(c.admit("10.0.0.2".parse().unwrap()).is_some());
        // Upgraded: still open, no longer in the address's share.
        drop(first);
        assert_eq!(c.total(), 2);
        let _third = c.admit(a).unwrap();
        drop(open);
        assert_eq!(c.total(), 2);
        // One IPv6 /64 is one client.
        let v6 = Connections::new(1);
        let _s = v6.admit("2001:db8::1".parse().unwrap()).unwrap();
        assert!(v6.admit("2001:db8::ffff".parse().unwrap()).is_none());
        assert!(v6.admit("2001:db8:0:1::1".parse().unwrap()).is_some());
        assert_eq!(Connections::new(0).admit(a).map(|_| ()), Some(()), "0: no cap");
    }
}
