//! Which URLs the server may fetch for `image` parameters: the policy, with no I/O.
//!
//! A URL must be http(s), carry no user name or password, name a host on the allow-list, and
//! resolve only to public addresses: loopback, private, link-local (cloud metadata), CGNAT,
//! unspecified, multicast, documentation and IPv4-in-IPv6 forms of those are refused. Hosts
//! are parsed the way browsers do (the `url` crate), so `2130706433`, `0x7f.1` and `0177.0.0.1`
//! are all 127.0.0.1 and refused as such. The client checks resolved addresses again at
//! connect time with [`check_ip`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why a URL may not be fetched; `Display` is the public message (after the param name).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UrlError {
    /// Not a URL at all.
    #[error("not a valid URL")]
    Malformed,
    /// A scheme other than http or https.
    #[error("only http and https URLs are fetched, got {0}:")]
    Scheme(String),
    /// `user:password@` in the URL.
    #[error("URLs with a user name or password are not fetched")]
    Credentials,
    /// The host is not on the allow-list (or the list is empty).
    #[error("host {0} is not on this server's image allow-list")]
    NotAllowed(String),
    /// The host is, or resolves to, an address that is not public.
    #[error("address {0} is not a public address")]
    Forbidden(IpAddr),
}

/// The hosts images may come from: `example.com`, `example.com:8080`, or `*.example.com`
/// (any subdomain, not the domain itself).
#[derive(Debug, Clone, Default)]
pub struct AllowList {
    patterns: Vec<String>,
}

impl AllowList {
    /// An allow-list from patterns; empty means remote images are off.
    pub fn new(patterns: impl IntoIterator<Item = String>) -> AllowList {
        AllowList {
            patterns: patterns
                .into_iter()
                .map(|p| p.trim().to_ascii_lowercase())
                .filter(|p| !p.is_empty())
                .collect(),
        }
    }

    /// Whether any host is allowed at all.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    fn allows(&self, host: &str, port: u16, default_port: bool) -> bool {
        self.patterns.iter().any(|pattern| {
            let (pattern_host, pattern_port) = match pattern.rsplit_once(':') {
                Some((h, p)) if !h.is_empty() && p.chars().all(|c| c.is_ascii_digit()) => {
                    (h, p.parse::<u16>().ok())
                }
                _ => (pattern.as_str(), None),
            };
            let port_ok = match pattern_port {
                Some(p) => p == port,
                None => default_port,
            };
            let host_ok = match pattern_host.strip_prefix("*.") {
                Some(domain) => {
                    host.len() > domain.len() + 1 && host.ends_with(&format!(".{domain}"))
                }
                None => host == pattern_host,
            };
            host_ok && port_ok
        })
    }
}

/// Parses and checks a URL before any connection: scheme, credentials, allow-list, and (for
/// IP-literal hosts) the address. Names are checked again once resolved, at connect time.
pub fn check_url(raw: &str, allow: &AllowList) -> Result<url::Url, UrlError> {
    let url = url::Url::parse(raw).map_err(|_| UrlError::Malformed)?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(UrlError::Scheme(url.scheme().to_string()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlError::Credentials);
    }
    let host = url.host().ok_or(UrlError::Malformed)?;
    let port = url.port_or_known_default().ok_or(UrlError::Malformed)?;
    let host_text = match &host {
        url::Host::Domain(d) => d.to_string(),
        url::Host::Ipv4(ip) => ip.to_string(),
        url::Host::Ipv6(ip) => format!("[{ip}]"),
    };
    if allow.is_empty() || !allow.allows(&host_text, port, url.port().is_none()) {
        return Err(UrlError::NotAllowed(host_text));
    }
    match host {
        url::Host::Ipv4(ip) => check_ip(IpAddr::V4(ip))?,
        url::Host::Ipv6(ip) => check_ip(IpAddr::V6(ip))?,
        url::Host::Domain(_) => {}
    }
    Ok(url)
}

/// Refuses every address that is not a public unicast one.
pub fn check_ip(ip: IpAddr) -> Result<(), UrlError> {
    let public = match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => public_v6(v6),
    };
    if public {
        Ok(())
    } else {
        Err(UrlError::Forbidden(ip))
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || a == 0 // "this network"
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254/16, cloud metadata
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || ip.is_documentation()
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || ip.is_multicast()
        || a >= 240) // reserved and broadcast
}

fn public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    // Forms that carry an IPv4 address: judge the IPv4 address.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return public_v4(v4);
    }
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if segments[..6] == [0, 0, 0, 0, 0, 0] {
        // IPv4-compatible (deprecated), and :: / ::1.
        return !ip.is_unspecified()
            && !ip.is_loopback()
            && public_v4(embedded(segments[6], segments[7]));
    }
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return public_v4(embedded(segments[6], segments[7])); // NAT64
    }
    if segments[0] == 0x2002 {
        return public_v4(embedded(segments[1], segments[2])); // 6to4
    }
    !(ip.is_multicast()
        || (segments[0] & 0xfe00) == 0xfc00 // unique local
        || (segments[0] & 0xffc0) == 0xfe80 // link-local
        || (segments[0] == 0x2001 && segments[1] == 0) // Teredo
        || (segments[0] == 0x2001 && segments[1] == 0x0db8)) // documentation
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow() -> AllowList {
        AllowList::new([
            "img.example.com".into(),
            "*.cdn.example.net".into(),
            "media.example.org:8443".into(),
            "127.0.0.1".into(),
            "[::1]".into(),
            "0.0.0.0".into(),
            "169.254.169.254".into(),
        ])
    }

    #[test]
    fn the_allow_list_matches_hosts_ports_and_subdomains() {
        let a = allow();
        assert!(check_url("https://img.example.com/a.png", &a).is_ok());
        assert!(
            check_url("https://IMG.example.com./a.png", &a).is_err(),
            "trailing dot is another name"
        );
        assert!(check_url("https://a.cdn.example.net/x.png", &a).is_ok());
        assert!(check_url("https://a.b.cdn.example.net/x.png", &a).is_ok());
        assert_eq!(
            check_url("https://cdn.example.net/x.png", &a),
            Err(UrlError::NotAllowed("cdn.example.net".into()))
        );
        assert_eq!(
            check_url("https://evilcdn.example.net/x.png", &a),
            Err(UrlError::NotAllowed("evilcdn.example.net".into()))
        );
        assert!(check_url("https://media.example.org:8443/x.png", &a).is_ok());
        assert!(check_url("https://media.example.org/x.png", &a).is_err());
        assert!(check_url("https://img.example.com:8080/x.png", &a).is_err());
        assert_eq!(
            check_url("https://img.example.com/a.png", &AllowList::default()),
            Err(UrlError::NotAllowed("img.example.com".into()))
        );
    }

    #[test]
    fn schemes_credentials_and_garbage_are_refused() {
        let a = allow();
        assert_eq!(
            check_url("file:///etc/passwd", &a),
            Err(UrlError::Scheme("file".into()))
        );
        assert_eq!(
            check_url("gopher://img.example.com/", &a),
            Err(UrlError::Scheme("gopher".into()))
        );
        assert_eq!(
            check_url("data:image/png;base64,AAAA", &a),
            Err(UrlError::Scheme("data".into()))
        );
        assert_eq!(
            check_url("https://u:p@img.example.com/", &a),
            Err(UrlError::Credentials)
        );
        assert_eq!(check_url("not a url", &a), Err(UrlError::Malformed));
    }

    #[test]
    fn private_addresses_are_refused_in_every_spelling() {
        let a = allow();
        for url in [
            "http://127.0.0.1/",
            "http://[::1]/",
            "http://0.0.0.0/",
            "http://169.254.169.254/latest/meta-data/",
        ] {
            assert!(
                matches!(check_url(url, &a), Err(UrlError::Forbidden(_))),
                "{url}"
            );
        }
        // Other spellings of 127.0.0.1 normalise to it, which is not on the list as a name.
        for url in [
            "http://2130706433/",
            "http://0x7f.1/",
            "http://0177.0.0.1/",
            "http://[::ffff:127.0.0.1]/",
        ] {
            assert!(check_url(url, &a).is_err(), "{url}");
        }
        for ip in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.0.1",
            "0.1.2.3",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fc00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
            "2001:db8::1",
            "ff02::1",
        ] {
            assert!(check_ip(ip.parse().unwrap()).is_err(), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(check_ip(ip.parse().unwrap()).is_ok(), "{ip}");
        }
    }
}
