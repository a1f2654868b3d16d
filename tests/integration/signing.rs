//! Signed URLs: with a key configured, only URLs signed with it (or an older key) render.

use hyper::StatusCode;
use vellum::EngineConfig;
use vellum::server::ServerConfig;
use vellum::signing::Signer;

use crate::support::{self, TestServer};

async fn signed_server(keys: &[&str]) -> TestServer {
    let config = ServerConfig {
        signer: Signer::new(keys.iter().map(|k| k.as_bytes().to_vec()).collect()),
        ..ServerConfig::default()
    };
    TestServer::start_with(EngineConfig::bundled(&support::root()), config).await
}

fn sign(key: &str, url: &str) -> String {
    Signer::new(vec![key.as_bytes().to_vec()])
        .sign(url)
        .unwrap()
}

#[tokio::test]
async fn unsigned_tampered_and_expired_urls_are_refused_with_403() {
    let server = signed_server(&["k1"]).await;
    let far_future = "exp=4102444800"; // 2100-01-01
    let cases = [
        (
            "/og/post.png?title=Hi".to_string(),
            "missing signature: this server only serves signed URLs (add sig=...)",
        ),
        (
            sign("k1", "/og/post.png?title=Hi").replace("Hi", "Ho"),
            "bad signature",
        ),
        (
            sign("k1", "/og/post.png?title=Hi").replace("post.png", "post.jpg"),
            "bad signature",
        ),
        (sign("wrong", "/og/post.png?title=Hi"), "bad signature"),
        ("/og/post.png?title=Hi&sig=!!!".to_string(), "bad signature"),
        (
            format!("{}&sig=again", sign("k1", "/og/post.png?title=Hi")),
            "bad signature",
        ),
        (
            sign("k1", "/og/post.png?title=Hi&exp=1"),
            "signature expired at 1 (unix time)",
        ),
        (
            sign("k1", "/og/post.png?title=Hi&exp=soon"),
            "exp: expected unix seconds, got \"soon\"",
        ),
        (
            sign("k1", &format!("/og/nope.png?title=Hi&{far_future}")).replace("nope", "post"),
            "bad signature",
        ),
    ];
    for (url, message) in cases {
        let reply = server.get(&url).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{url}");
        assert_eq!(reply.text(), format!("{message}\n"), "{url}");
        assert_eq!(reply.header("cache-control"), "no-store");
    }
    assert_eq!(server.renders(), 0);
    assert_eq!(server.get("/healthz").await.status, StatusCode::OK);
}

#[tokio::test]
async fn signed_urls_render_and_the_signature_is_not_part_of_the_image_identity() {
    let server = signed_server(&["k1"]).await;
    let plain = server.get(&sign("k1", "/og/post.png?title=Hi")).await;
    assert_eq!(
        plain.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&plain.body)
    );
    let expiring = server
        .get(&sign("k1", "/og/post.png?title=Hi&exp=4102444800"))
        .await;
    assert_eq!(expiring.status, StatusCode::OK);
    assert_eq!(plain.header("etag"), expiring.header("etag"));
    assert_eq!(server.renders(), 1);
}

#[tokio::test]
async fn rotated_keys_keep_old_urls_working_until_removed() {
    let old_url = sign("old", "/og/post.png?title=Rotate");
    let rotated = signed_server(&["new", "old"]).await;
    assert_eq!(rotated.get(&old_url).await.status, StatusCode::OK);
    assert_eq!(
        rotated
            .get(&sign("new", "/og/post.png?title=Rotate"))
            .await
            .status,
        StatusCode::OK
    );
    let retired = signed_server(&["new"]).await;
    assert_eq!(retired.get(&old_url).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_sign_command_makes_urls_the_server_accepts() {
    let server = signed_server(&["cli-key"]).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vellum"))
        .args(["sign", "/og/post.png?title=From%20the%20CLI"])
        .env("VELLUM_SIGNING_KEYS", "cli-key")
        .output()
        .unwrap();
    assert!(out.status.success());
    let url = String::from_utf8(out.stdout).unwrap();
    assert_eq!(server.get(url.trim()).await.status, StatusCode::OK, "{url}");
}
