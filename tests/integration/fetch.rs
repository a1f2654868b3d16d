//! The remote-image fetcher against the fixture upstream: what it fetches and the error for
//! each kind of hostile answer; the HTTP-level refusals live in the adversarial suite.

use std::sync::Arc;
use std::time::Duration;

use hyper::StatusCode;
use vellum::EngineConfig;
use vellum::fetch::{AllowList, FetchError, FetchLimits, Fetcher, ImageSources, UrlError};
use vellum::media::ImageError;
use vellum::server::ServerConfig;

use crate::support::{self, TestServer, decode_png};
use crate::upstream::{UPSTREAM_IP, Upstream};

/// A fetcher for the upstream's ports (and `extra` hosts), with a 2 s total timeout.
pub fn test_fetcher(upstream: &Upstream, extra: &[String]) -> Fetcher {
    let mut allow = vec![
        upstream.http.to_string(),
        upstream.https.to_string(),
        upstream.closed.to_string(),
    ];
    allow.extend_from_slice(extra);
    let limits = FetchLimits {
        total_timeout: Duration::from_secs(2),
        ..FetchLimits::default()
    };
    Fetcher::new(AllowList::new(allow), limits, Some(UPSTREAM_IP))
}

#[tokio::test]
async fn fixture_images_are_fetched_and_hostile_ones_refused() {
    let upstream = Upstream::start().await;
    let f = test_fetcher(&upstream, &[]);

    let ok = f.fetch(&upstream.url("/ok.png")).await.unwrap();
    assert_eq!(ok.mime, "image/png");
    assert!(
        ok.data_url()
            .starts_with("data:image/png;base64,iVBORw0KGgo")
    );
    assert_eq!(
        f.fetch(&upstream.url("/redirect?to=/ok.png"))
            .await
            .unwrap()
            .bytes,
        ok.bytes
    );

    let cases = [
        ("/big.png", ImageError::TooLarge(5 * 1024 * 1024).into()),
        (
            "/claims-huge.png",
            ImageError::TooLarge(5 * 1024 * 1024).into(),
        ),
        ("/claims-more.png", FetchError::Truncated),
        (
            "/huge.png",
            ImageError::TooManyPixels(50_000, 50_000, 4096).into(),
        ),
        ("/image.svg", ImageError::NotAnImage.into()),
        ("/page.html", ImageError::NotAnImage.into()),
        ("/missing.png", FetchError::Status(404)),
        ("/hang.png", FetchError::Timeout(2)),
        ("/trickle.png", FetchError::Timeout(2)),
        ("/loop", FetchError::TooManyRedirects(3)),
        (
            "/redirect?to=http://169.254.169.254/latest/meta-data/",
            FetchError::Url(UrlError::NotAllowed("169.254.169.254".into())),
        ),
        (
            "/redirect?to=file:///etc/passwd",
            FetchError::Url(UrlError::Scheme("file".into())),
        ),
    ];
    let mut urls: Vec<(String, FetchError)> = cases
        .into_iter()
        .map(|(path, e)| (upstream.url(path), e))
        .collect();
    urls.push((upstream.tls_url("/ok.png"), FetchError::Certificate));
    urls.push((
        format!("http://{}/a.png", upstream.closed),
        FetchError::Connect,
    ));
    for (url, expected) in &urls {
        assert_eq!(&f.fetch(url).await.unwrap_err(), expected, "{url}");
    }
    let fetched = 2 + urls.len() as u64;
    assert_eq!(f.fetches.get(), fetched, "failures are not cached");
    assert_eq!(f.failures.get(), urls.len() as u64);
    f.fetch(&upstream.url("/ok.png")).await.unwrap();
    assert_eq!(
        f.fetches.get(),
        fetched,
        "a fetched image is served from the cache"
    );
}

async fn server_fetching_from(upstream: &Upstream) -> TestServer {
    let config = ServerConfig {
        images: ImageSources {
            remote: Some(Arc::new(test_fetcher(upstream, &[]))),
            local: None,
        },
        ..ServerConfig::default()
    };
    TestServer::start_with(EngineConfig::bundled(&support::root()), config).await
}

#[tokio::test]
async fn a_product_card_embeds_a_fetched_photo() {
    let upstream = Upstream::start().await;
    let server = server_fetching_from(&upstream).await;
    let photo = upstream.url("/ok.png");
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
async fn a_failed_photo_draws_the_fallback_briefly_and_is_not_cached() {
    let upstream = Upstream::start().await;
    let server = server_fetching_from(&upstream).await;
    let photo = upstream.url("/missing.png");
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

#[tokio::test]
async fn a_url_that_may_not_be_fetched_is_an_error_even_with_a_fallback() {
    // The product photo declares a fallback; a fallback covers upstream failures only.
    let upstream = Upstream::start().await;
    let server = server_fetching_from(&upstream).await;
    for (photo, message) in [
        (
            "https://evil.example/x.png",
            "photo: host evil.example is not on this server's image allow-list",
        ),
        (
            "http://10.0.0.1/x.png",
            "photo: host 10.0.0.1 is not on this server's image allow-list",
        ),
    ] {
        let query =
            serde_urlencoded::to_string([("name", "Boot"), ("price", "89"), ("photo", photo)])
                .unwrap();
        let reply = server.get(&format!("/og/product.png?{query}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{photo}");
        assert_eq!(reply.text(), format!("{message}\n"));
        assert_eq!(reply.header("cache-control"), "no-store");
    }
    assert_eq!(server.renders(), 0);
}
