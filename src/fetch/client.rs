//! The HTTP client that fetches remote images: allow-listed URLs only (see
//! [`super::policy`]), every resolved address checked at connect time, redirects re-checked,
//! and time, size, type and dimensions capped. Successful fetches are cached by URL.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::TokioExecutor;
use prometheus_client::metrics::counter::Counter;

use super::policy::{AllowList, UrlError, check_ip, check_url};
use crate::body::{BodyError, read_limited};
use crate::cache::ByteCache;
use crate::media::{ImageError, check_image};

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
    /// The body is too large, or not an image a template may draw.
    #[error(transparent)]
    Image(#[from] ImageError),
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
        crate::media::data_url(self.mime, &self.bytes)
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
            let (head, body) = response.into_parts();
            let max = self.limits.max_bytes;
            let body = read_limited(&head.headers, body, max)
                .await
                .map_err(|e| match e {
                    BodyError::TooLarge => ImageError::TooLarge(max).into(),
                    BodyError::Read(e) => {
                        tracing::warn!(%url, error = error_chain(&*e), "image body failed");
                        classify(&*e, false)
                    }
                })?;
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
        let mime = check_image(&bytes, self.limits.max_side)?;
        Ok(Fetched { mime, bytes })
    }
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
