//! The remote-image fetcher against fixture servers and a canary on 127.0.0.1: what it
//! fetches, what it refuses, and that refused addresses are never connected to.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use vellum::EngineConfig;
use vellum::fetch::{AllowList, FetchError, FetchLimits, Fetcher, UrlError};
use vellum::server::ServerConfig;

use crate::support::{self, TestServer, decode_png};

/// A PNG header declaring a 50000x50000 image (the body is never decoded).
fn huge_png_header() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
    png.extend_from_slice(&50_000u32.to_be_bytes());
    png.extend_from_slice(&50_000u32.to_be_bytes());
    png.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
    png
}

async fn route(
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let png = std::fs::read(support::root().join("tests/golden/post.png")).unwrap();
    let reply = |status: u16, body: Vec<u8>| {
        let mut r = Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = StatusCode::from_u16(status).unwrap();
        r
    };
    let redirect = |to: &str| {
        let mut r = reply(302, Vec::new());
        r.headers_mut().insert("location", to.parse().unwrap());
        r
    };
    Ok(match req.uri().path() {
        "/ok.png" => reply(200, png),
        "/big.png" => {
            let mut big = png.clone();
            big.resize(6 * 1024 * 1024, 0);
            reply(200, big)
        }
        "/huge.png" => reply(200, huge_png_header()),
        "/image.svg" => reply(200, b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>".to_vec()),
        "/page.html" => reply(200, b"<html>not an image</html>".to_vec()),
        "/missing.png" => reply(404, Vec::new()),
        "/slow.png" => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            reply(200, png)
        }
        "/to-ok" => redirect("/ok.png"),
        "/loop" => redirect("/loop"),
        "/to-metadata" => redirect("http://169.254.169.254/latest/meta-data/"),
        "/to-file" => redirect("file:///etc/passwd"),
        _ => reply(404, Vec::new()),
    })
}

/// Serves `route` on 127.0.0.1; returns its address.
async fn fixture() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), hyper::service::service_fn(route))
                    .await;
            });
        }
    });
    addr
}

/// A listener on 127.0.0.1 that only counts the connections made to it.
async fn canary() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let counted = count.clone();
    tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            counted.fetch_add(1, Ordering::SeqCst);
        }
    });
    (addr, count)
}

fn fetcher(allow: &[String], loopback: bool) -> Fetcher {
    let limits = FetchLimits {
        total_timeout: Duration::from_secs(2),
        ..FetchLimits::default()
    };
    Fetcher::new(AllowList::new(allow.to_vec()), limits, loopback)
}

#[tokio::test]
async fn fixture_images_are_fetched_and_hostile_ones_refused() {
    let addr = fixture().await;
    let f = fetcher(&[format!("127.0.0.1:{}", addr.port())], true);
    let url = |path: &str| format!("http://{addr}{path}");

    let ok = f.fetch(&url("/ok.png")).await.unwrap();
    assert_eq!(ok.mime, "image/png");
    assert!(
        ok.data_url()
            .starts_with("data:image/png;base64,iVBORw0KGgo")
    );
    assert_eq!(f.fetch(&url("/to-ok")).await.unwrap().bytes, ok.bytes);

    let cases = [
        ("/big.png", FetchError::TooLarge(5 * 1024 * 1024)),
        ("/huge.png", FetchError::TooManyPixels(50_000, 50_000, 4096)),
        ("/image.svg", FetchError::NotAnImage),
        ("/page.html", FetchError::NotAnImage),
        ("/missing.png", FetchError::Status(404)),
        ("/slow.png", FetchError::Timeout(2)),
        ("/loop", FetchError::TooManyRedirects(3)),
        (
            "/to-metadata",
            FetchError::Url(UrlError::NotAllowed("169.254.169.254".into())),
        ),
        ("/to-file", FetchError::Url(UrlError::Scheme("file".into()))),
    ];
    for (path, expected) in cases {
        assert_eq!(f.fetch(&url(path)).await.unwrap_err(), expected, "{path}");
    }
}

#[tokio::test]
async fn private_addresses_are_never_connected_to() {
    let (addr, connections) = canary().await;
    let port = addr.port();
    // Allow-listed by name and by address, but private: refused before or at connect time.
    let allowed = vec![
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        format!("0.0.0.0:{port}"),
    ];
    let f = fetcher(&allowed, false);
    for url in [
        format!("http://127.0.0.1:{port}/x.png"),
        format!("http://localhost:{port}/x.png"),
        format!("http://[::1]:{port}/x.png"),
        format!("http://0.0.0.0:{port}/x.png"),
        format!("http://2130706433:{port}/x.png"),
        format!("http://0x7f.0.0.1:{port}/x.png"),
        format!("http://0177.0.0.1:{port}/x.png"),
        format!("http://[::ffff:127.0.0.1]:{port}/x.png"),
    ] {
        let err = f.fetch(&url).await.unwrap_err();
        assert!(
            matches!(
                err,
                FetchError::Url(UrlError::Forbidden(_)) | FetchError::Url(UrlError::NotAllowed(_))
            ),
            "{url}: {err:?}"
        );
    }
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "a refused address was connected to"
    );
}

async fn server_fetching_from(fixture: SocketAddr) -> TestServer {
    let fetcher = Fetcher::new(
        AllowList::new([format!("127.0.0.1:{}", fixture.port())]),
        FetchLimits {
            total_timeout: Duration::from_secs(2),
            ..FetchLimits::default()
        },
        true,
    );
    let config = ServerConfig {
        fetcher: Some(Arc::new(fetcher)),
        ..ServerConfig::default()
    };
    TestServer::start_with(EngineConfig::bundled(&support::root()), config).await
}

#[tokio::test]
async fn a_product_card_embeds_a_fetched_photo() {
    let addr = fixture().await;
    let server = server_fetching_from(addr).await;
    let photo = format!("http://{addr}/ok.png");
    let query = serde_urlencoded::to_string([("name", "Boot"), ("price", "89"), ("photo", &photo)])
        .unwrap();
    let with = server.get(&format!("/og/product.png?{query}")).await;
    assert_eq!(
        with.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&with.body)
    );
    let without = server.get("/og/product.png?name=Boot&price=89").await;
    let (a, b) = (decode_png(&with.body), decode_png(&without.body));
    // The photo (the post card's dark background) fills the panel where the initial was.
    let [r, g, b_, _] = a.at(100, 500);
    assert!(
        r < 60 && g < 60 && b_ < 90,
        "panel shows the photo: {:?}",
        a.at(100, 500)
    );
    assert_ne!(a.at(100, 500), b.at(100, 500));
    let svg = server.get(&format!("/og/product.svg?{query}")).await;
    assert!(
        svg.text().contains("href=\"data:image/png;base64,"),
        "fetched bytes are embedded"
    );
    assert!(
        !svg.text().contains(&photo),
        "the URL itself never reaches the SVG"
    );
}

#[tokio::test]
async fn image_failures_get_their_status_and_reason() {
    let addr = fixture().await;
    let server = server_fetching_from(addr).await;
    // The post card's avatar declares no fallback: a failed fetch is the request's error.
    let url = |path: &str| {
        let avatar = format!("http://{addr}{path}");
        let q =
            serde_urlencoded::to_string([("title", "Hi"), ("author", "Ada"), ("avatar", &avatar)])
                .unwrap();
        format!("/og/post.png?{q}")
    };
    let cases = [
        (
            url("/missing.png"),
            502,
            "avatar: the image server answered 404".to_string(),
        ),
        (
            url("/page.html"),
            502,
            "avatar: not a PNG, JPEG, WebP or GIF image".to_string(),
        ),
        (
            url("/big.png"),
            502,
            "avatar: the image is larger than 5242880 bytes".to_string(),
        ),
        (
            url("/slow.png"),
            504,
            "avatar: the image server did not answer within 2 s".to_string(),
        ),
        (
            url("/to-metadata"),
            400,
            "avatar: host 169.254.169.254 is not on this server's image allow-list".to_string(),
        ),
        (
            "/og/post.png?title=Hi&avatar=http%3A%2F%2Fevil.example%2Fx.png".to_string(),
            400,
            "avatar: host evil.example is not on this server's image allow-list".to_string(),
        ),
        (
            "/og/post.png?title=Hi&avatar=file%3A%2F%2F%2Fetc%2Fpasswd".to_string(),
            400,
            "avatar: expected an http(s) URL of at most 2048 bytes, got \"file:///etc/passwd\""
                .to_string(),
        ),
    ];
    for (path, status, message) in cases {
        let reply = server.get(&path).await;
        assert_eq!(reply.status.as_u16(), status, "{path}: {}", reply.text());
        assert_eq!(reply.text(), format!("{message}\n"), "{path}");
        assert_eq!(reply.header("cache-control"), "no-store");
    }
    let off = TestServer::start().await;
    let reply = off.get(&url("/ok.png")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.text(),
        "avatar: remote images are off on this server (it has no --allow-image-host)\n"
    );
}

#[tokio::test]
async fn a_failed_photo_draws_the_fallback_briefly_and_is_not_cached() {
    let addr = fixture().await;
    let server = server_fetching_from(addr).await;
    let photo = format!("http://{addr}/missing.png");
    let query = serde_urlencoded::to_string([("name", "Boot"), ("price", "89"), ("photo", &photo)])
        .unwrap();
    let first = server.get(&format!("/og/product.png?{query}")).await;
    assert_eq!(
        first.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    assert_eq!(first.header("cache-control"), "public, max-age=60");
    assert!(
        first.headers.get("etag").is_none(),
        "a stand-in claims no identity"
    );
    // The placeholder's light grey fills the panel.
    assert_eq!(
        decode_png(&first.body).at(100, 500),
        [0xe7, 0xe5, 0xe4, 255]
    );
    let second = server.get(&format!("/og/product.png?{query}")).await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(server.renders(), 2, "a fallback render is not cached");
}
