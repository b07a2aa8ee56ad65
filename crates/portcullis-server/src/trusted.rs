//! The networks whose forwarded headers are believed (`--trusted-proxy`).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// One network: an address and a prefix length (`10.0.0.0/8`, `::1/128`; a bare address is
/// a network of one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

/// Why a network does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a network (an address, or an address and a prefix length: 10.0.0.0/8)")]
pub struct CidrError(String);

impl Cidr {
    /// Whether `ip` is in this network. An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`)
    /// counts as its IPv4 address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u128::from(u32::from(net)), 32, self.prefix)
                    == masked(u128::from(u32::from(ip)), 32, self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(u128::from(net), 128, self.prefix)
                    == masked(u128::from(ip), 128, self.prefix)
            }
            _ => false,
        }
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn masked(value: u128, bits: u8, prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        value >> (bits - prefix)
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let error = || CidrError(s.chars().take(64).collect());
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s, None),
        };
        let addr = canonical(addr.parse::<IpAddr>().map_err(|_| error())?);
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && p.len() <= 3 => {
                p.parse::<u8>().map_err(|_| error())?
            }
            Some(_) => return Err(error()),
        };
        if prefix > max {
            return Err(error());
        }
        Ok(Cidr { addr, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The proxies whose `X-Forwarded-*` and `X-Original-*` headers are believed. A request
/// from any other address reaches no forward-auth endpoint (403): otherwise a client could
/// name the method and path it is decided for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    /// At most this many networks (a list is scanned per request).
    pub const MAX: usize = 64;

    /// These networks (at most [`TrustedProxies::MAX`]; more are an error).
    pub fn new(networks: Vec<Cidr>) -> Result<Self, CidrError> {
        if networks.len() > Self::MAX {
            return Err(CidrError(format!("{} networks", networks.len())));
        }
        Ok(TrustedProxies(networks))
    }

    /// Loopback only (`127.0.0.0/8`, `::1`): a proxy on the same machine, the default.
    pub fn loopback() -> Self {
        TrustedProxies(vec![
            Cidr {
                addr: IpAddr::from([127, 0, 0, 0]),
                prefix: 8,
            },
            Cidr {
                addr: IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]),
                prefix: 128,
            },
        ])
    }

    /// Whether a request from `ip` may forward another request's attributes.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(ip))
    }

    /// The networks.
    pub fn networks(&self) -> &[Cidr] {
        &self.0
    }
}

impl Default for TrustedProxies {
    fn default() -> Self {
        TrustedProxies::loopback()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Cidr {
        s.parse().expect("network")
    }

    #[test]
    fn networks_contain_their_addresses_only() {
        let ten = net("10.0.0.0/8");
        assert!(ten.contains("10.255.1.2".parse::<IpAddr>().expect("address")));
        assert!(!ten.contains(IpAddr::from([11, 0, 0, 1])));
        assert!(ten.contains("::ffff:10.1.2.3".parse::<IpAddr>().expect("address")));
        let one = net("192.168.1.7");
        assert!(one.contains(IpAddr::from([192, 168, 1, 7])));
        assert!(!one.contains(IpAddr::from([192, 168, 1, 8])));
        assert!(net("0.0.0.0/0").contains(IpAddr::from([8, 8, 8, 8])));
        assert!(!net("0.0.0.0/0").contains(IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1])));
        assert!(net("fd00::/8").contains("fd12::1".parse::<IpAddr>().expect("address")));
    }

    #[test]
    fn bad_networks_are_errors() {
        for bad in [
            "",
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0/8",
            "::1/129",
            "x",
            "1.2.3.4/+8",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn loopback_is_the_default() {
        let t = TrustedProxies::default();
        assert!(t.trusts(IpAddr::from([127, 0, 0, 1])));
        assert!(t.trusts(IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1])));
        assert!(!t.trusts(IpAddr::from([10, 0, 0, 1])));
    }
}
