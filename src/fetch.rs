//! Remote images: which URLs the server may fetch for `image` parameters.
//!
//! A URL must be http(s), carry no user name or password, name a host on the allow-list, and
//! resolve only to public addresses: loopback, private, link-local (cloud metadata), CGNAT,
//! unspecified, multicast, documentation and IPv4-in-IPv6 forms of those are refused. Hosts
//! are parsed the way browsers do (the `url` crate), so `2130706433`, `0x7f.1` and `0177.0.0.1`
//! are all 127.0.0.1 and refused as such.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::TokioExecutor;
use prometheus_client::metrics::counter::Counter;

use crate::cache::ByteCache;

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

/// Limits on one fetch, each with a default.
#[derive(Debug, Clone)]
pub struct FetchLimits {
    /// Largest body accepted. Default: 5 MiB.
    pub max_bytes: usize,
    /// Time to connect. Default: 3 s.
    pub connect_timeout: Duration,
    /// Time for the whole fetch, redirects included. Default: 10 s.
    pub total_timeout: Duration,
    /// Redirects followed. Default: 3.
    pub max_redirects: usize,
    /// Largest width or height of a fetched image, read from its header before decoding.
    /// Default: 4096.
    pub max_side: usize,
    /// Bytes of fetched images kept, so a popular avatar is fetched once. Default: 64 MiB.
    pub cache_bytes: usize,
}

impl Default for FetchLimits {
    fn default() -> Self {
        FetchLimits {
            max_bytes: 5 * 1024 * 1024,
            connect_timeout: Duration::from_secs(3),
            total_timeout: Duration::from_secs(10),
            max_redirects: 3,
            max_side: 4096,
            cache_bytes: 64 * 1024 * 1024,
        }
    }
}

/// Why a fetch failed; `Display` is the public message (after the param name).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FetchError {
    /// The URL (or a redirect target) may not be fetched.
    #[error("{0}")]
    Url(#[from] UrlError),
    /// No connection could be made (refused, unreachable, unknown name, connect timeout).
    #[error("could not connect to the image server")]
    Connect,
    /// The server's TLS certificate was refused (untrusted, expired, wrong name).
    #[error("the image server's TLS certificate was not accepted")]
    Certificate,
    /// TLS failed for another reason.
    #[error("the TLS handshake with the image server failed")]
    Tls,
    /// The connection ended before the whole body arrived.
    #[error("the connection closed before the whole image arrived")]
    Truncated,
    /// Any other broken exchange; the detail goes to the log, not to the client.
    #[error("the image server's answer could not be read")]
    Broken,
    /// The upstream answered with a status other than 200.
    #[error("the image server answered {0}")]
    Status(u16),
    /// More redirects than allowed.
    #[error("more than {0} redirects")]
    TooManyRedirects(usize),
    /// Past the total timeout.
    #[error("the image server did not answer within {0} s")]
    Timeout(u64),
    /// The body is larger than allowed.
    #[error("the image is larger than {0} bytes")]
    TooLarge(usize),
    /// The body is not PNG, JPEG, WebP or GIF.
    #[error("not a PNG, JPEG, WebP or GIF image")]
    NotAnImage,
    /// The image's declared size is too large.
    #[error("the image is {0}x{1} pixels; at most {2} per side")]
    TooManyPixels(usize, usize, usize),
}

/// A fetched, checked image.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Its MIME type, from its magic bytes.
    pub mime: &'static str,
    /// The file.
    pub bytes: Bytes,
}

impl crate::cache::Weigh for Fetched {
    fn bytes(&self) -> usize {
        self.bytes.len()
    }
}

impl Fetched {
    /// The image as a `data:` URL for an `<image href>`.
    pub fn data_url(&self) -> String {
        crate::render::data_url(self.mime, &self.bytes)
    }
}

/// Fetches allow-listed images over http(s), checking every address it connects to.
pub struct Fetcher {
    allow: AllowList,
    limits: FetchLimits,
    trusted: Option<IpAddr>,
    client: Client<hyper_rustls::HttpsConnector<HttpConnector<PublicResolver>>, Empty<Bytes>>,
    cache: ByteCache<String, Fetched>,
    /// Fetches made (cache hits excluded).
    pub fetches: Counter,
    /// Fetches that failed.
    pub failures: Counter,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("allow", &self.allow)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Fetcher {
    /// A fetcher for `allow`ed hosts. `trusted` lets one non-public address through (a
    /// fixture server on a loopback address in tests); `None` in production.
    pub fn new(allow: AllowList, limits: FetchLimits, trusted: Option<IpAddr>) -> Fetcher {
        let mut http = HttpConnector::new_with_resolver(PublicResolver { trusted });
        http.enforce_http(false);
        http.set_connect_timeout(Some(limits.connect_timeout));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Fetcher {
            cache: ByteCache::new(limits.cache_bytes),
            allow,
            limits,
            trusted,
            client: Client::builder(TokioExecutor::new()).build(https),
            fetches: Counter::default(),
            failures: Counter::default(),
        }
    }

    /// Fetches `url`, following up to `max_redirects` redirects (each target checked like
    /// the first URL), within the total timeout.
    /// Successful fetches are cached by URL; failures are not.
    pub async fn fetch(&self, url: &str) -> Result<Fetched, FetchError> {
        if let Some(hit) = self.cache.get(&url.to_string()) {
            return Ok(hit);
        }
        self.fetches.inc();
        let total = self.limits.total_timeout;
        let fetched = tokio::time::timeout(total, self.fetch_inner(url))
            .await
            .unwrap_or(Err(FetchError::Timeout(total.as_secs())));
        match &fetched {
            Ok(image) => self.cache.insert(url.to_string(), image.clone()),
            Err(_) => {
                self.failures.inc();
            }
        }
        fetched
    }

    async fn fetch_inner(&self, url: &str) -> Result<Fetched, FetchError> {
        let mut url = self.check(url)?;
        for _ in 0..=self.limits.max_redirects {
            let uri: hyper::Uri = url.as_str().parse().map_err(|_| UrlError::Malformed)?;
            let response = self.client.get(uri).await.map_err(|e| {
                if let Some(ip) = forbidden_address(&e) {
                    return FetchError::Url(UrlError::Forbidden(ip));
                }
                tracing::warn!(%url, error = error_chain(&e), "image request failed");
                classify(&e, e.is_connect())
            })?;
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(hyper::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or(FetchError::Status(status.as_u16()))?;
                let next = url.join(location).map_err(|_| UrlError::Malformed)?;
                url = self.check(next.as_str())?;
                continue;
            }
            if status != hyper::StatusCode::OK {
                return Err(FetchError::Status(status.as_u16()));
            }
            let declared = response
                .headers()
                .get(hyper::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
            if declared.is_some_and(|n| n > self.limits.max_bytes as u64) {
                return Err(FetchError::TooLarge(self.limits.max_bytes));
            }
            let body = Limited::new(response.into_body(), self.limits.max_bytes)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        return FetchError::TooLarge(self.limits.max_bytes);
                    }
                    tracing::warn!(%url, error = error_chain(&*e), "image body failed");
                    classify(&*e, false)
                })?
                .to_bytes();
            return self.checked_image(body);
        }
        Err(FetchError::TooManyRedirects(self.limits.max_redirects))
    }

    fn check(&self, url: &str) -> Result<url::Url, UrlError> {
        match check_url(url, &self.allow) {
            Err(UrlError::Forbidden(ip)) if self.trusted == Some(ip) => {
                url::Url::parse(url).map_err(|_| UrlError::Malformed)
            }
            other => other,
        }
    }

    fn checked_image(&self, bytes: Bytes) -> Result<Fetched, FetchError> {
        let mime = crate::render::raster_mime(&bytes).ok_or(FetchError::NotAnImage)?;
        let size = imagesize::blob_size(&bytes).map_err(|_| FetchError::NotAnImage)?;
        let max = self.limits.max_side;
        if size.width > max || size.height > max {
            return Err(FetchError::TooManyPixels(size.width, size.height, max));
        }
        Ok(Fetched { mime, bytes })
    }
}

/// Fetches a job's image params into `job.images`; a failed fetch uses the param's fallback
/// asset if it declares one. Without a fetcher, a job that names an image URL is refused.
pub async fn fetch_images(
    fetcher: Option<&Fetcher>,
    mut job: crate::engine::Job,
) -> Result<crate::engine::Job, crate::error::RequestError> {
    use crate::error::RequestError;
    for (param, url) in job.image_urls() {
        let Some(fetcher) = fetcher else {
            return Err(RequestError::ImagesOff(param));
        };
        let data_url = match fetcher.fetch(&url).await {
            Ok(fetched) => fetched.data_url(),
            Err(error) => match job.fallback_url(&param) {
                Some(fallback) => {
                    tracing::warn!(%param, %url, %error, "image fetch failed; drawing the fallback");
                    job.fallback_used = true;
                    fallback
                }
                None => return Err(RequestError::Image { param, error }),
            },
        };
        job.images.insert(param, data_url);
    }
    Ok(job)
}

/// Resolves names and keeps only public addresses, so a name that points at a private
/// address (DNS rebinding included: this runs at connect time) is never connected to.
#[derive(Clone)]
struct PublicResolver {
    trusted: Option<IpAddr>,
}

/// A resolved address that was refused; found again in the client's error chain.
#[derive(Debug, thiserror::Error)]
#[error("address {0} is not a public address")]
struct ForbiddenAddress(IpAddr);

impl tower_service::Service<Name> for PublicResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let trusted = self.trusted;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refused = None;
            let public: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|addr| {
                    let ok = check_ip(addr.ip()).is_ok() || trusted == Some(addr.ip());
                    if !ok {
                        refused = Some(addr.ip());
                    }
                    ok
                })
                .collect();
            match (public.is_empty(), refused) {
                (true, Some(ip)) => Err(std::io::Error::other(ForbiddenAddress(ip))),
                _ => Ok(public.into_iter()),
            }
        })
    }
}

fn forbidden_address(error: &(dyn std::error::Error + 'static)) -> Option<IpAddr> {
    causes(error)
        .into_iter()
        .find_map(|e| e.downcast_ref::<ForbiddenAddress>().map(|f| f.0))
}

/// The public reason for a failed exchange, from the client's error chain.
fn classify(error: &(dyn std::error::Error + 'static), connecting: bool) -> FetchError {
    for e in causes(error) {
        match e.downcast_ref::<rustls::Error>() {
            Some(rustls::Error::InvalidCertificate(_)) => return FetchError::Certificate,
            Some(_) => return FetchError::Tls,
            None => {}
        }
        let io = e.downcast_ref::<std::io::Error>();
        if io.is_some_and(|io| io.kind() == std::io::ErrorKind::UnexpectedEof) {
            return FetchError::Truncated;
        }
    }
    if connecting {
        FetchError::Connect
    } else {
        FetchError::Broken
    }
}

/// An error and everything under it. `io::Error::source` skips the error an `io::Error`
/// wraps (it returns that error's source), so wrapped errors are visited explicitly.
fn causes<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Vec<&'a (dyn std::error::Error + 'static)> {
    let mut all = Vec::new();
    let mut current = Some(error);
    while let Some(e) = current {
        all.push(e);
        current = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    all
}

fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut current = error.source();
    while let Some(e) = current {
        parts.push(e.to_string());
        current = e.source();
    }
    parts.join(": ")
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
