//! The cache-hit fast path: a target served before is answered from the cache by its exact
//! text, with the same bytes and headers as the full path, and never when the full path
//! would now answer otherwise (an expired signature, an evicted image, a reloaded template).

use hyper::{Method, StatusCode};
use vellum::EngineConfig;
use vellum::server::ServerConfig;
use vellum::signing::Signer;

use crate::support::{self, TestServer};

const HEADERS: [&str; 5] = [
    "content-type",
    "content-length",
    "etag",
    "cache-control",
    "x-content-type-options",
];

#[tokio::test]
async fn a_known_hit_is_the_full_paths_answer() {
    let server = TestServer::start().await;
    let url = "/og/post.png?title=Known&size=square";
    let first = server.get(url).await;
    assert_eq!(first.status, StatusCode::OK);
    let renders = server.renders();
    for _ in 0..3 {
        let again = server.get(url).await;
        assert_eq!(again.status, StatusCode::OK);
        assert_eq!(again.body, first.body);
        for name in HEADERS {
            assert_eq!(again.header(name), first.header(name), "{name}");
        }
    }
    let head = server.request(Method::HEAD, url, &[]).await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.body.is_empty());
    assert_eq!(
        head.header("content-length"),
        first.header("content-length")
    );
    // A revalidation still gets its 304.
    let etag = first.header("etag").to_string();
    let revalidated = server
        .request(Method::GET, url, &[("if-none-match", &etag)])
        .await;
    assert_eq!(revalidated.status, StatusCode::NOT_MODIFIED);
    assert_eq!(server.renders(), renders, "no render for a hit");
    // Hits are counted as 200s.
    let metrics = server.get("/metrics").await;
    let ok = metrics
        .text()
        .lines()
        .find(|l| l.starts_with("vellum_responses_total{status=\"200\"}"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap());
    assert!(ok >= Some(5), "{ok:?}");
    server.stop().await;
}

#[tokio::test]
async fn an_expired_signature_is_refused_even_after_a_hit() {
    let config = ServerConfig {
        signer: Signer::new(vec![b"k1".to_vec()]),
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(EngineConfig::bundled(&support::root()), config).await;
    let soon = vellum::signing::unix_now() + 2;
    let url = Signer::new(vec![b"k1".to_vec()])
        .sign(&format!("/og/post.png?title=Soon&exp={soon}"))
        .unwrap();
    assert_eq!(server.get(&url).await.status, StatusCode::OK);
    assert_eq!(server.get(&url).await.status, StatusCode::OK);
    while vellum::signing::unix_now() <= soon {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let expired = server.get(&url).await;
    assert_eq!(expired.status, StatusCode::FORBIDDEN, "{}", expired.text());
    server.stop().await;
}

#[tokio::test]
async fn an_evicted_image_is_rendered_again() {
    // A cache that holds one post card (half a small budget is left for images): the
    // second card evicts the first.
    let config = ServerConfig {
        cache_bytes: 144 * 1024,
        ..ServerConfig::default()
    };
    assert_eq!(vellum::state::image_cache_bytes(&config), 72 * 1024);
    let server = TestServer::start_with(EngineConfig::bundled(&support::root()), config).await;
    let (a, b) = ("/og/post.png?title=First", "/og/post.png?title=Second");
    let first = server.get(a).await;
    assert!(
        (40_000..72 * 1024).contains(&first.body.len()),
        "{}",
        first.body.len()
    );
    server.get(b).await;
    let renders = server.renders();
    let again = server.get(a).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body, first.body);
    assert_eq!(server.renders(), renders + 1, "evicted, so rendered again");
    server.stop().await;
}
