//! Which webhook URLs may be called (contract section 7, OWASP API7: server-side request
//! forgery): `https` only, to hosts whose every address is public. Checked when an endpoint is
//! created and again before each delivery, whose connection then goes only to the addresses
//! checked (see [`PublicOnly`]), so that a DNS answer that changes in between cannot send it
//! anywhere else.
//!
//! Hosts are parsed as browsers parse them (the WHATWG URL standard, through the `url` crate):
//! `2130706433`, `0x7f.1`, `0177.0.0.1` and `127.1` all become 127.0.0.1 before they are judged.
//! IPv6 addresses that carry an IPv4 one (mapped, compatible, NAT64, 6to4) are judged by it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// Why a URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("is not a valid absolute URL")]
    Malformed,
    #[error("must use https")]
    NotHttps,
    #[error("must not carry a user name or password")]
    Credentials,
    #[error("must have a host name or address")]
    NoHost,
    /// The address is kept for the server's own log, never shown: the answer must not map
    /// internal names to addresses for the caller.
    #[error("must point to public addresses only (not loopback, private, link-local, carrier-grade NAT or cloud metadata)")]
    NotPublic(IpAddr),
    /// Likewise, the resolver's own words stay in the log.
    #[error("has a host name that does not resolve")]
    Unresolved(String),
}

/// Parses a webhook URL and checks its form: `https` (unless `allow_private`), a host, no
/// credentials. Its addresses are checked by [`resolve`].
pub fn parse(raw: &str, allow_private: bool) -> Result<Url, Refused> {
    let url = Url::parse(raw).map_err(|_| Refused::Malformed)?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err(Refused::NotHttps),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Refused::Credentials);
    }
    if url.host().is_none() {
        return Err(Refused::NoHost);
    }
    Ok(url)
}

/// The addresses the URL's host stands for, each public (unless `allow_private`); the host's
/// name is resolved within `within`.
pub async fn resolve(
    url: &Url,
    allow_private: bool,
    within: Duration,
) -> Result<Vec<IpAddr>, Refused> {
    let addresses = match url.host() {
        None => return Err(Refused::NoHost),
        Some(Host::Ipv4(ip)) => vec![IpAddr::V4(ip)],
        Some(Host::Ipv6(ip)) => vec![IpAddr::V6(ip)],
        Some(Host::Domain(name)) => lookup(name, within).await?,
    };
    if !allow_private {
        if let Some(bad) = addresses.iter().find(|ip| !is_public(**ip)) {
            return Err(Refused::NotPublic(*bad));
        }
    }
    Ok(addresses)
}

async fn lookup(name: &str, within: Duration) -> Result<Vec<IpAddr>, Refused> {
    let found = tokio::time::timeout(within, tokio::net::lookup_host((name, 0)))
        .await
        .map_err(|_| Refused::Unresolved(format!("no answer within {} ms", within.as_millis())))?
        .map_err(|e| Refused::Unresolved(e.to_string()))?;
    let addresses: Vec<IpAddr> = found.map(|a| a.ip()).collect();
    if addresses.is_empty() {
        return Err(Refused::Unresolved("no address".to_owned()));
    }
    Ok(addresses)
}

/// Whether an address is one the public internet routes to us as someone else's: not loopback,
/// private, link-local, unique-local, carrier-grade NAT, cloud metadata, multicast, reserved or
/// documentation space.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let refused = ip.is_unspecified()
        || a == 0                                   // "this network"
        || ip.is_loopback()                         // 127/8
        || ip.is_private()                          // 10/8, 172.16/12, 192.168/16
        || ip.is_link_local()                       // 169.254/16: cloud metadata (169.254.169.254)
        || (a == 100 && (64..128).contains(&b))     // 100.64/10: carrier-grade NAT (and Alibaba's metadata)
        || (a == 192 && b == 0 && c == 0)           // 192.0.0/24: protocol assignments
        || (a == 192 && b == 0 && c == 2)           // TEST-NET-1
        || (a == 198 && (b == 18 || b == 19))       // 198.18/15: benchmarking
        || (a == 198 && b == 51 && c == 100)        // TEST-NET-2
        || (a == 203 && b == 0 && c == 113)         // TEST-NET-3
        || (a == 192 && b == 88 && c == 99)         // 6to4 relay anycast
        || ip.is_multicast()                        // 224/4
        || a >= 240; // 240/4 reserved, and the broadcast address
    !refused
}

/// Only global unicast (2000::/3) is public, less what inside it is not routed to someone else.
fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let global_unicast = (s[0] & 0xe000) == 0x2000;
    let refused = (s[0] == 0x2001 && s[1] == 0x0db8)    // documentation
        || (s[0] & 0xfff0) == 0x3ff0                      // 3fff::/20 documentation
        || (s[0] == 0x2001 && s[1] < 0x0200)              // 2001::/23 IETF protocol assignments (Teredo included)
        || s[0] == 0x2002; // 6to4 (judged by its IPv4 address before this)
    global_unicast && !refused
}

/// The IPv4 address an IPv6 one carries: IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible
/// (`::a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`, `64:ff9b:1::/48`) or 6to4 (`2002:aabb:ccdd::`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = Ipv4Addr::new(
        (s[6] >> 8) as u8,
        (s[6] & 0xff) as u8,
        (s[7] >> 8) as u8,
        (s[7] & 0xff) as u8,
    );
    if let Some(mapped) = ip.to_ipv4_mapped() {
        return Some(mapped);
    }
    // IPv4-compatible (::a.b.c.d, deprecated) and IPv4-translated (::ffff:0:a.b.c.d).
    let compatible = s[..6] == [0, 0, 0, 0, 0, 0];
    let translated = s[..6] == [0, 0, 0, 0, 0xffff, 0];
    if (compatible || translated) && !ip.is_loopback() && !ip.is_unspecified() {
        return Some(low);
    }
    // NAT64, well-known prefix 64:ff9b::/96. (The local-use 64:ff9b:1::/48 puts the address
    // elsewhere, and is a local network: it is refused whole, by not being global unicast.)
    if s[0] == 0x0064 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return Some(low);
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            (s[1] & 0xff) as u8,
            (s[2] >> 8) as u8,
            (s[2] & 0xff) as u8,
        ));
    }
    None
}

/// The delivery client's resolver: a host name resolves to its addresses only when every one
/// is public, and the connection is made to exactly those.
#[derive(Debug, Clone, Copy)]
pub struct PublicOnly {
    pub allow_private: bool,
    pub within: Duration,
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let PublicOnly {
            allow_private,
            within,
        } = *self;
        Box::pin(async move {
            let found = lookup(name.as_str(), within).await?;
            if !allow_private {
                if let Some(bad) = found.iter().find(|ip| !is_public(**ip)) {
                    return Err(Box::new(Refused::NotPublic(*bad)) as _);
                }
            }
            let addrs: Addrs = Box::new(found.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host_verdict(url: &str) -> Result<IpAddr, Refused> {
        let url = parse(url, false)?;
        let ip = match url.host() {
            Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
            other => panic!("{other:?} is not an address"),
        };
        if is_public(ip) {
            Ok(ip)
        } else {
            Err(Refused::NotPublic(ip))
        }
    }

    #[test]
    fn loopback_is_refused_in_every_spelling() {
        for url in [
            "https://127.0.0.1/",
            "https://2130706433/",
            "https://0x7f000001/",
            "https://0x7f.0.0.1/",
            "https://0177.0.0.1/",
            "https://127.1/",
            "https://[::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[::ffff:7f00:1]/",
            "https://[0:0:0:0:0:ffff:127.0.0.1]/",
            "https://[64:ff9b::127.0.0.1]/",
            "https://[2002:7f00:1::]/",
            "https://[::127.0.0.1]/",
        ] {
            assert!(
                matches!(host_verdict(url), Err(Refused::NotPublic(_))),
                "{url} was not refused"
            );
        }
    }

    #[test]
    fn private_link_local_cgnat_and_metadata_are_refused() {
        for url in [
            "https://10.0.0.1/",
            "https://172.16.5.4/",
            "https://172.31.255.255/",
            "https://192.168.1.1/",
            "https://169.254.169.254/latest/meta-data/",
            "https://2852039166/",
            "https://100.64.0.1/",
            "https://100.100.100.200/",
            "https://0.0.0.0/",
            "https://[::]/",
            "https://[fd00:ec2::254]/",
            "https://[fc00::1]/",
            "https://[fe80::1]/",
            "https://[::ffff:169.254.169.254]/",
            "https://[::ffff:10.0.0.1]/",
            "https://224.0.0.1/",
            "https://255.255.255.255/",
            "https://192.0.2.1/",
            "https://[2001:db8::1]/",
            "https://[ff02::1]/",
            "https://[64:ff9b:1:7f00:1::808:808]/",
            "https://[::ffff:0:7f00:1]/",
            "https://[::ffff:0:a00:1]/",
            "https://[3fff::1]/",
            "https://[5f00::1]/",
            "https://[2002:c0a8:101::1]/",
            "https://[2001::1]/",
        ] {
            assert!(
                matches!(host_verdict(url), Err(Refused::NotPublic(_))),
                "{url} was not refused"
            );
        }
    }

    #[test]
    fn public_addresses_are_accepted() {
        for url in [
            "https://93.184.215.14/hooks",
            "https://8.8.8.8/",
            "https://172.32.0.1/",
            "https://100.128.0.1/",
            "https://[2606:4700:4700::1111]/",
            "https://[::ffff:8.8.8.8]/",
            "https://[64:ff9b::808:808]/",
            "https://[2002:808:808::1]/",
        ] {
            assert!(host_verdict(url).is_ok(), "{url} was refused");
        }
    }

    #[test]
    fn only_https_without_credentials() {
        assert_eq!(parse("http://example.com/", false), Err(Refused::NotHttps));
        assert_eq!(parse("ftp://example.com/", false), Err(Refused::NotHttps));
        assert_eq!(parse("file:///etc/passwd", true), Err(Refused::NotHttps));
        assert_eq!(
            parse("https://user:pw@example.com/", false),
            Err(Refused::Credentials)
        );
        assert_eq!(parse("not a url", false), Err(Refused::Malformed));
        assert_eq!(parse("/relative", false), Err(Refused::Malformed));
        assert!(parse("http://127.0.0.1:9000/hook", true).is_ok());
        assert!(parse("https://hooks.example.com/in", false).is_ok());
    }

    #[tokio::test]
    async fn names_are_judged_by_what_they_resolve_to() {
        let url = parse("https://localhost:8443/", false).unwrap();
        assert!(matches!(
            resolve(&url, false, Duration::from_secs(5)).await,
            Err(Refused::NotPublic(_))
        ));
        assert!(resolve(&url, true, Duration::from_secs(5)).await.is_ok());
        let nowhere = parse("https://no-such-host.invalid/", false).unwrap();
        assert!(matches!(
            resolve(&nowhere, false, Duration::from_secs(5)).await,
            Err(Refused::Unresolved(_))
        ));
    }
}
