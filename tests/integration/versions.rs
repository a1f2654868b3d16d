//! Versioned URLs: a URL that names the current template version (`v=`) is kept for good, one
//! that names an older version is sent to the current one, one with none is kept a day and
//! revalidated by ETag; an edit changes the version and the ETag, never the rule.

use hyper::{Method, StatusCode};
use vellum::server::ServerConfig;
use vellum::signing::Signer;

use crate::support::{self, TestServer};

/// The version `/templates` gives `name`, and its example URL.
async fn listed(server: &TestServer, name: &str) -> (String, String) {
    let reply = server.get("/templates").await;
    let list: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    let template = list["templates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap()
        .clone();
    (
        template["version"].as_str().unwrap().to_string(),
        template["example_url"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn each_kind_of_url_is_cached_by_its_own_rule() {
    let dir = support::scratch_dir("versions").join("templates");
    support::copy_templates(&dir);
    let mut config = vellum::EngineConfig::bundled(&support::root());
    config.templates_dir = dir.clone();
    let server = TestServer::start_with(config, ServerConfig::default()).await;
    let (version, example) = listed(&server, "post").await;
    assert!(
        version.len() == 10 && version.chars().all(|c| c.is_ascii_hexdigit()),
        "{version}"
    );
    assert!(example.ends_with(&format!("&v={version}")), "{example}");

    // The current version: kept for good.
    let current = server
        .get(&format!("/og/post.png?title=Hi&v={version}"))
        .await;
    assert_eq!(current.status, StatusCode::OK);
    assert_eq!(
        current.header("cache-control"),
        "public, max-age=31536000, immutable"
    );
    // No version: a day, then revalidated by ETag (the same ETag: v never changes the image).
    let plain = server.get("/og/post.png?title=Hi").await;
    assert_eq!(plain.status, StatusCode::OK);
    assert_eq!(
        plain.header("cache-control"),
        "public, max-age=86400, stale-while-revalidate=86400"
    );
    assert_eq!(plain.header("etag"), current.header("etag"));
    assert_eq!(plain.body, current.body);
    let revalidated = server
        .request(
            Method::GET,
            "/og/post.png?title=Hi",
            &[("if-none-match", plain.header("etag"))],
        )
        .await;
    assert_eq!(revalidated.status, StatusCode::NOT_MODIFIED);
    assert_eq!(
        revalidated.header("cache-control"),
        "public, max-age=86400, stale-while-revalidate=86400"
    );
    // An old version: sent to the current one, every other pair as it was.
    let stale = server
        .get("/og/post.png?title=Hi&v=0000000000&theme=light")
        .await;
    assert_eq!(stale.status, StatusCode::FOUND);
    assert_eq!(
        stale.header("location"),
        format!("/og/post.png?title=Hi&v={version}&theme=light")
    );
    assert_eq!(stale.header("cache-control"), "public, max-age=60");

    // An edit gives a new version and a new ETag; the old version's URL now redirects.
    let svg = dir.join("post.svg");
    let text = std::fs::read_to_string(&svg).unwrap();
    std::fs::write(
        &svg,
        text.replacen(
            "</svg>",
            "<rect width=\"1\" height=\"1\" fill=\"#ff0000\"/></svg>",
            1,
        ),
    )
    .unwrap();
    server.state.engine().reload().unwrap();
    let (edited, _) = listed(&server, "post").await;
    assert_ne!(edited, version);
    let old = server
        .get(&format!("/og/post.png?title=Hi&v={version}"))
        .await;
    assert_eq!(old.status, StatusCode::FOUND);
    assert_eq!(
        old.header("location"),
        format!("/og/post.png?title=Hi&v={edited}")
    );
    let new = server
        .get(&format!("/og/post.png?title=Hi&v={edited}"))
        .await;
    assert_eq!(new.status, StatusCode::OK);
    assert_ne!(new.header("etag"), current.header("etag"));
    server.stop().await;
}

#[tokio::test]
async fn a_signed_stale_url_redirects_to_a_signed_current_one() {
    let signer = Signer::new(vec![b"version-key".to_vec()]);
    let config = ServerConfig {
        signer: signer.clone(),
        ..ServerConfig::default()
    };
    let server =
        TestServer::start_with(vellum::EngineConfig::bundled(&support::root()), config).await;
    let (version, _) = listed(&server, "post").await;
    let stale = signer.sign("/og/post.png?title=Hi&v=0000000000").unwrap();
    let reply = server.get(&stale).await;
    assert_eq!(reply.status, StatusCode::FOUND);
    let location = reply.header("location").to_string();
    assert_eq!(
        location,
        signer
            .sign(&format!("/og/post.png?title=Hi&v={version}"))
            .unwrap()
    );
    let followed = server.get(&location).await;
    assert_eq!(followed.status, StatusCode::OK);
    assert_eq!(
        followed.header("cache-control"),
        "public, max-age=31536000, immutable"
    );
    // Changing v without re-signing is refused like any tampering.
    let tampered = stale.replace("v=0000000000", &format!("v={version}"));
    assert_eq!(server.get(&tampered).await.status, StatusCode::FORBIDDEN);
    server.stop().await;
}

#[tokio::test]
async fn every_url_vellum_hands_out_names_the_version() {
    let server = TestServer::start().await;
    let (version, _) = listed(&server, "post").await;
    let json = server
        .send(
            Method::POST,
            "/render",
            &[
                ("content-type", "application/json"),
                ("accept", "application/json"),
            ],
            r#"{"template": "post", "params": {"title": "Hi"}}"#.into(),
        )
        .await;
    let answer: serde_json::Value = serde_json::from_slice(&json.body).unwrap();
    assert!(
        answer["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/og/post.png?title=Hi&v={version}")),
        "{answer}"
    );
    let (travel, _) = listed(&server, "travel").await;
    let layered = server
        .send(
            Method::POST,
            "/templates/travel/images",
            &[("content-type", "application/json")],
            r#"{"params": [{"name": "title", "text": "Hi"}]}"#.into(),
        )
        .await;
    let answer: serde_json::Value = serde_json::from_slice(&layered.body).unwrap();
    for field in ["imageUrl", "thumbnailUrl", "retinaThumbnailUrl"] {
        let url = answer[field].as_str().unwrap();
        assert!(url.ends_with(&format!("&v={travel}")), "{field}: {url}");
    }
    server.stop().await;

    let signed = std::process::Command::new(env!("CARGO_BIN_EXE_vellum"))
        .args(["sign", "--signing-key", "k", "/og/post.png?title=Hi"])
        .current_dir(support::root())
        .output()
        .unwrap();
    assert!(
        signed.status.success(),
        "{}",
        String::from_utf8_lossy(&signed.stderr)
    );
    let url = String::from_utf8_lossy(&signed.stdout).trim().to_string();
    assert_eq!(
        url,
        Signer::new(vec![b"k".to_vec()])
            .sign(&format!("/og/post.png?title=Hi&v={version}"))
            .unwrap()
    );
}
