//! Zones a node can observe: in an open swarm a peer's announced zone is its
//! own word, so an attacker could announce a fresh zone per id and win every
//! zone-spread slot. What a node does see is the address a peer connects
//! from or answers at (TCP and the noise handshake confirm both), and an
//! attacker's ids share few network prefixes. So for a peer seen at a public
//! address, placement spreads by its prefix (IPv4 /24 as Storj does, IPv6
//! /48); zone spread then gives one attacker prefix at most one place in a
//! shard's set while the swarm has as many prefixes as copies. A peer on
//! loopback or a private network (a LAN cluster, a test swarm) keeps its
//! announced zone, which the operator set.
//!
//! The same observation filters addresses: a peer seen at a public address
//! may not announce loopback or private ones (which would point this node's
//! dials at its own host or network).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether `ip` is reachable across the internet (not loopback, private,
/// link-local, shared CGNAT space, documentation, unspecified, multicast or
/// unique-local).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        // Shared address space (RFC 6598, carrier-grade NAT).
        || (o[0] == 100 && (o[1] & 0xc0) == 64)
        // "This network" and reserved (0/8, 240/4).
        || o[0] == 0
        || o[0] >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // Unique local fc00::/7, link-local fe80::/10, documentation 2001:db8::/32.
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
        || (s[0] == 0x2001 && s[1] == 0x0db8))
}

/// The network prefix of a public address (`net:203.0.113.0/24`,
/// `net:2001:4860:4860::/48`); `None` for any other address.
pub fn prefix(ip: IpAddr) -> Option<String> {
    if !is_public(ip) {
        return None;
    }
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    Some(match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("net:{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("net:{}/48", Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0))
        }
    })
}

/// The zone placement uses for a peer: its observed public prefix, else the
/// zone it announced.
pub fn placement_zone(observed: Option<IpAddr>, announced: &str) -> String {
    observed
        .and_then(prefix)
        .unwrap_or_else(|| announced.to_string())
}

/// Whether to use an address `addr` announced by a peer observed at
/// `observed`: a peer seen at a public address may announce only public
/// ones; a peer seen on loopback or a private network, or not yet seen, may
/// announce any (a LAN cluster or a test swarm).
pub fn announced_addr_allowed(observed: Option<IpAddr>, addr: IpAddr) -> bool {
    match observed {
        Some(o) if is_public(o) => is_public(addr),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn prefixes_of_public_addresses_only() {
        assert_eq!(
            prefix(ip("203.0.114.77")).as_deref(),
            Some("net:203.0.114.0/24")
        );
        assert_eq!(
            prefix(ip("::ffff:8.8.4.4")).as_deref(),
            Some("net:8.8.4.0/24")
        );
        assert_eq!(
            prefix(ip("2a00:1450:4001:81c::200e")).as_deref(),
            Some("net:2a00:1450:4001::/48")
        );
        for s in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.1.1",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "203.0.113.5",
            "::1",
            "fd00::1",
            "fe80::1",
            "2001:db8::1",
            "::",
        ] {
            assert_eq!(prefix(ip(s)), None, "{s}");
            assert!(!is_public(ip(s)), "{s}");
        }
    }

    #[test]
    fn a_public_peer_may_not_point_at_private_addresses() {
        let public = Some(ip("8.8.8.8"));
        assert!(!announced_addr_allowed(public, ip("127.0.0.1")));
        assert!(!announced_addr_allowed(public, ip("192.168.0.10")));
        assert!(announced_addr_allowed(public, ip("9.9.9.9")));
        // A LAN or test peer, or one not seen yet: anything.
        assert!(announced_addr_allowed(
            Some(ip("127.0.0.1")),
            ip("127.0.0.1")
        ));
        assert!(announced_addr_allowed(None, ip("10.0.0.1")));
    }

    #[test]
    fn placement_zone_is_observed_for_public_peers_and_announced_otherwise() {
        assert_eq!(placement_zone(Some(ip("8.8.8.8")), "eu"), "net:8.8.8.0/24");
        assert_eq!(placement_zone(Some(ip("127.0.0.1")), "eu"), "eu");
        assert_eq!(placement_zone(None, "eu"), "eu");
    }

    proptest! {
        /// Whatever zone an attacker announces, every id it runs from one
        /// public /24 has the same placement zone.
        #[test]
        fn one_prefix_is_one_zone(a in any::<[u8; 3]>(), h1 in any::<u8>(), h2 in any::<u8>(), z1 in "[a-z]{1,8}", z2 in "[a-z]{1,8}") {
            let x = IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], h1));
            let y = IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], h2));
            if is_public(x) {
                prop_assert_eq!(placement_zone(Some(x), &z1), placement_zone(Some(y), &z2));
            }
        }
    }
}
