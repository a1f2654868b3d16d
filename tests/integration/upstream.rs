//! Fixture servers for the remote-image tests, all on loopback addresses:
//! - an image upstream on 127.0.0.2 (plain HTTP and TLS with a self-signed certificate) that
//!   misbehaves on demand: wrong types, lies about its length, trickles, hangs, redirects;
//! - a canary on 127.0.0.1 and [::1] that only counts the connections made to it, so a test
//!   can prove a refused address was never connected to.
//!
//! The upstream answers with hand-written HTTP/1.1 so that it can lie in ways a real HTTP
//! library would not let it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support;

/// The upstream's address: loopback, so refused by default, and trusted by the test fetcher.
pub const UPSTREAM_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// A listener on 127.0.0.1 and [::1] (same port) that counts connections and answers none.
pub struct Canary {
    pub port: u16,
    count: Arc<AtomicUsize>,
}

impl Canary {
    pub async fn start() -> Canary {
        let v4 = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = v4.local_addr().unwrap().port();
        let count = Arc::new(AtomicUsize::new(0));
        let mut listeners = vec![v4];
        // Best effort: a machine without IPv6 loopback cannot be reached over it either.
        if let Ok(v6) = TcpListener::bind(("::1", port)).await {
            listeners.push(v6);
        }
        for listener in listeners {
            let counted = count.clone();
            tokio::spawn(async move {
                while listener.accept().await.is_ok() {
                    counted.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
        Canary { port, count }
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

/// The misbehaving image server, over plain HTTP and over TLS, and a port beside it where
/// nothing listens.
pub struct Upstream {
    pub http: SocketAddr,
    pub https: SocketAddr,
    pub closed: SocketAddr,
}

impl Upstream {
    pub async fn start() -> Upstream {
        let http = TcpListener::bind((UPSTREAM_IP, 0)).await.unwrap();
        let https = TcpListener::bind((UPSTREAM_IP, 0)).await.unwrap();
        let closed = TcpListener::bind((UPSTREAM_IP, 0)).await.unwrap();
        let upstream = Upstream {
            http: http.local_addr().unwrap(),
            https: https.local_addr().unwrap(),
            closed: closed.local_addr().unwrap(),
        };
        drop(closed);
        tokio::spawn(async move {
            while let Ok((stream, _)) = http.accept().await {
                tokio::spawn(serve(stream));
            }
        });
        let acceptor = tls_acceptor();
        tokio::spawn(async move {
            while let Ok((stream, _)) = https.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        serve(stream).await;
                    }
                });
            }
        });
        upstream
    }

    /// `http://127.0.0.2:port{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    /// `https://127.0.0.2:port{path}`.
    pub fn tls_url(&self, path: &str) -> String {
        format!("https://{}{path}", self.https)
    }

    /// A URL on the upstream that redirects to `target`.
    pub fn redirect_to(&self, target: &str) -> String {
        self.url(&format!(
            "/redirect?{}",
            serde_urlencoded::to_string([("to", target)]).unwrap()
        ))
    }
}

/// A PNG whose header declares 50000x50000 pixels (the body is never decoded).
pub fn huge_png_header() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
    png.extend_from_slice(&50_000u32.to_be_bytes());
    png.extend_from_slice(&50_000u32.to_be_bytes());
    png.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
    png
}

/// A small real PNG (a golden image).
pub fn sample_png() -> Vec<u8> {
    std::fs::read(support::root().join("tests/golden/post.png")).unwrap()
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S) {
    let Some(target) = read_request_target(&mut stream).await else {
        return;
    };
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let png = sample_png();
    let _ = match path {
        "/ok.png" => respond(&mut stream, "200 OK", &[], &png).await,
        "/big.png" => respond(&mut stream, "200 OK", &[], &vec![0; 6 * 1024 * 1024]).await,
        "/huge.png" => respond(&mut stream, "200 OK", &[], &huge_png_header()).await,
        "/image.svg" => {
            let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>";
            respond(&mut stream, "200 OK", &["content-type: image/png"], svg).await
        }
        "/page.html" => respond(&mut stream, "200 OK", &[], b"<html>not an image</html>").await,
        "/missing.png" => respond(&mut stream, "404 Not Found", &[], b"").await,
        // Claims a gigabyte, sends a little.
        "/claims-huge.png" => {
            let head = "HTTP/1.1 200 OK\r\ncontent-length: 1073741824\r\n\r\n";
            write_then_close(&mut stream, head, &png[..64]).await
        }
        // Claims more than it sends, then hangs up.
        "/claims-more.png" => {
            let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", png.len());
            write_then_close(&mut stream, &head, &png[..100]).await
        }
        // Sends a little of a body forever.
        "/trickle.png" => {
            let head = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
            let _ = stream.write_all(head.as_bytes()).await;
            loop {
                if stream.write_all(b"1\r\nx\r\n").await.is_err() {
                    break Ok(());
                }
                let _ = stream.flush().await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        // Reads the request and never answers.
        "/hang.png" => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok(())
        }
        "/loop" => respond(&mut stream, "302 Found", &["location: /loop"], b"").await,
        "/redirect" => {
            let to = serde_urlencoded::from_str::<Vec<(String, String)>>(query)
                .ok()
                .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "to"))
                .map(|(_, v)| v)
                .unwrap_or_default();
            let location = format!("location: {to}");
            respond(&mut stream, "302 Found", &[&location], b"").await
        }
        _ => respond(&mut stream, "404 Not Found", &[], b"").await,
    };
}

/// Reads one request head; returns its target (`/path?query`).
async fn read_request_target<S: AsyncRead + Unpin>(stream: &mut S) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 || head.len() > 16 * 1024 {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    line.split_whitespace().nth(1).map(str::to_string)
}

async fn respond<S: AsyncWrite + Unpin>(
    stream: &mut S,
    status: &str,
    headers: &[&str],
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\n", body.len());
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("connection: close\r\n\r\n");
    write_then_close(stream, &head, body).await
}

async fn write_then_close<S: AsyncWrite + Unpin>(
    stream: &mut S,
    head: &str,
    body: &[u8],
) -> std::io::Result<()> {
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.shutdown().await
}

/// A TLS acceptor with the self-signed certificate in `tests/tls/` (no client trusts it).
fn tls_acceptor() -> tokio_rustls::TlsAcceptor {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let dir = support::root().join("tests/tls");
    let cert = CertificateDer::from_pem_file(dir.join("upstream.pem")).unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join("upstream.key")).unwrap();
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}
