//! The client network a use came from: an IPv4 /24 or an IPv6 /48.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The network of a client address, as the unusual-activity rules compare them: the /24 of
/// an IPv4 address, the /48 of an IPv6 address (an IPv4-mapped IPv6 address counts as its
/// IPv4 address). Packed in one word, so a recorder compares networks without allocating.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Network(u64);

const V4: u64 = 4 << 56;
const V6: u64 = 6 << 56;
const FAMILY: u64 = 0xff << 56;

impl Network {
    /// The network of `addr`.
    pub fn of(addr: IpAddr) -> Self {
        match addr.to_canonical() {
            IpAddr::V4(v4) => {
                let [a, b, c, _] = v4.octets();
                Network(V4 | u64::from(u32::from_be_bytes([0, a, b, c])))
            }
            IpAddr::V6(v6) => {
                let o = v6.octets();
                let prefix = u64::from_be_bytes([0, 0, o[0], o[1], o[2], o[3], o[4], o[5]]);
                Network(V6 | prefix)
            }
        }
    }

    /// The packed form (never 0).
    pub(crate) const fn bits(self) -> u64 {
        self.0
    }

    /// A network from its packed form, if it is one.
    pub(crate) fn from_bits(bits: u64) -> Option<Self> {
        let rest = bits & !FAMILY;
        match bits & FAMILY {
            V4 if rest >> 24 == 0 => Some(Network(bits)),
            V6 if rest >> 48 == 0 => Some(Network(bits)),
            _ => None,
        }
    }

    /// The network's first address (`203.0.113.0`, `2001:db8:1::`).
    pub fn addr(&self) -> IpAddr {
        let rest = self.0 & !FAMILY;
        if self.0 & FAMILY == V4 {
            let [_, a, b, c] = (rest as u32).to_be_bytes();
            IpAddr::V4(Ipv4Addr::new(a, b, c, 0))
        } else {
            let b = rest.to_be_bytes();
            let mut o = [0u8; 16];
            o[..6].copy_from_slice(&b[2..]);
            IpAddr::V6(Ipv6Addr::from(o))
        }
    }

    /// The prefix length: 24 or 48.
    pub fn prefix_len(&self) -> u8 {
        if self.0 & FAMILY == V4 { 24 } else { 48 }
    }

    /// Parses the form [`fmt::Display`] writes (`203.0.113.0/24`, `2001:db8:1::/48`); any
    /// address with the right prefix length is accepted and masked.
    pub fn parse(text: &str) -> Option<Self> {
        let (addr, len) = text.split_once('/')?;
        let addr: IpAddr = addr.parse().ok()?;
        let network = Network::of(addr);
        (len.parse::<u8>().ok()? == network.prefix_len()
            && addr.is_ipv4() == network_is_v4(network))
        .then_some(network)
    }
}

fn network_is_v4(n: Network) -> bool {
    n.0 & FAMILY == V4
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr(), self.prefix_len())
    }
}

impl fmt::Debug for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Network({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_to_24_and_48() {
        let a = Network::of("203.0.113.77".parse().expect("test input"));
        assert_eq!(a.to_string(), "203.0.113.0/24");
        assert_eq!(a, Network::of("203.0.113.1".parse().expect("test input")));
        assert_ne!(a, Network::of("203.0.114.1".parse().expect("test input")));
        let b = Network::of("2001:db8:1:2::5".parse().expect("test input"));
        assert_eq!(b.to_string(), "2001:db8:1::/48");
        assert_eq!(
            b,
            Network::of("2001:db8:1:ffff::1".parse().expect("test input"))
        );
        assert_ne!(b, Network::of("2001:db8:2::1".parse().expect("test input")));
    }

    #[test]
    fn mapped_v4_is_v4_and_forms_round_trip() {
        let mapped = Network::of("::ffff:198.51.100.9".parse().expect("test input"));
        assert_eq!(mapped.to_string(), "198.51.100.0/24");
        for text in ["198.51.100.0/24", "2001:db8:1::/48", "::/48", "0.0.0.0/24"] {
            let n = Network::parse(text).expect("test input");
            assert_eq!(n.to_string(), text);
            assert_eq!(Network::from_bits(n.bits()), Some(n));
        }
        for bad in [
            "198.51.100.0/48",
            "2001:db8::/24",
            "198.51.100.0",
            "x/24",
            "::ffff:1.2.3.4/24",
        ] {
            assert_eq!(Network::parse(bad), None, "{bad}");
        }
        assert_eq!(Network::from_bits(0), None);
        assert_eq!(Network::from_bits(V4 | 1 << 24), None);
    }
}
