//! `vellum dev` over HTTP: the studio's pages and JSON, hot reload announced as server-sent
//! events, a broken edit that keeps the last good version serving, and errors in full. The
//! same pages in a real browser are `studio_browser.rs`.

use std::path::Path;
use std::time::Duration;

use hyper::StatusCode;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use vellum::server::ServerConfig;
use vellum::signing::Signer;

use crate::support::{self, TestServer, decode_png};

/// The studio's event stream, read line by line from a raw connection.
struct Events {
    lines: tokio::io::Lines<BufReader<tokio::net::TcpStream>>,
}

impl Events {
    async fn open(server: &TestServer) -> Events {
        let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let request = format!(
            "GET /studio/events HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
            server.addr
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut events = Events {
            lines: BufReader::new(stream).lines(),
        };
        let status = events.line().await;
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        events
    }

    async fn line(&mut self) -> String {
        tokio::time::timeout(Duration::from_secs(10), self.lines.next_line())
            .await
            .expect("a line within 10 s")
            .unwrap()
            .expect("the stream stays open")
    }

    /// Waits for the next `reload` event and returns its data (the status version).
    async fn reload(&mut self) -> String {
        loop {
            if self.line().await == "event: reload" {
                return self.line().await.trim_start_matches("data: ").to_string();
            }
        }
    }
}

fn status_json(reply: &support::Reply) -> serde_json::Value {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    serde_json::from_slice(&reply.body).unwrap()
}

fn scratch_templates(name: &str) -> std::path::PathBuf {
    let dir = support::scratch_dir(name).join("templates");
    support::copy_templates(&dir);
    dir
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{from} not in {}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

#[tokio::test]
async fn serve_never_serves_the_studio() {
    let server = TestServer::start().await;
    for path in ["/", "/studio/post", "/studio/api/status", "/studio/events"] {
        let reply = server.get(path).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(reply.text(), format!("not found: {path}\n"));
    }
    server.stop().await;
}

#[tokio::test]
async fn pages_allow_nothing_but_their_own_origin() {
    let templates = scratch_templates("studio-pages");
    let (server, _watch) = TestServer::start_dev(&templates, ServerConfig::default()).await;
    for (path, kind) in [
        ("/", "text/html"),
        ("/studio/post", "text/html"),
        ("/studio/assets/studio.js", "text/javascript"),
        ("/studio/assets/studio.css", "text/css"),
    ] {
        let reply = server.get(path).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert!(reply.header("content-type").starts_with(kind), "{path}");
        let csp = reply.header("content-security-policy");
        assert!(
            csp.starts_with("default-src 'none'; script-src 'self';"),
            "{csp}"
        );
        // Nothing is loaded from elsewhere: no remote scripts, styles, fonts or images.
        for remote in [
            "src=\"http",
            "href=\"http",
            "url(http",
            "@import",
            "fetch('http",
        ] {
            assert!(!reply.text().contains(remote), "{path} loads {remote}");
        }
    }
    let status = status_json(&server.get("/studio/api/status").await);
    let names: Vec<&str> = status["templates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["card-a", "certificate", "post", "product", "travel"]
    );
    assert_eq!(status["status"]["problems"], serde_json::json!([]));
    // The endpoint still works beside the studio.
    let card = server.get("/og/post.png?title=Hi").await;
    assert_eq!(card.status, StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn an_edit_reloads_and_a_broken_edit_keeps_the_last_good_version() {
    let templates = scratch_templates("studio-reload");
    let (server, _watch) = TestServer::start_dev(&templates, ServerConfig::default()).await;
    let mut events = Events::open(&server).await;
    let preview = "/studio/render/post.png?title=Reload&scale=0.1";
    let before = server.get(preview).await;
    assert_eq!(before.status, StatusCode::OK);
    assert!(before.header("server-timing").starts_with("render;dur="));
    assert_eq!(before.header("cache-control"), "no-store");

    // A good edit: the new version renders and pages are told.
    let svg = templates.join("post.svg");
    let original = std::fs::read_to_string(&svg).unwrap();
    let with_bar = original.replacen(
        "</svg>",
        r##"<rect x="0" y="0" width="1200" height="630" fill="#ff0000"/></svg>"##,
        1,
    );
    assert_ne!(with_bar, original);
    std::fs::write(&svg, &with_bar).unwrap();
    let version = events.reload().await;
    assert_eq!(version, "2");
    let red = server.get(preview).await;
    assert_eq!(decode_png(&red.body).at(60, 30), [255, 0, 0, 255]);

    // A broken edit: the problem names the file, line and column; the last good version
    // keeps rendering.
    edit(&svg, r##"fill="#ff0000"/>"##, r##"fill="#ff0000"><"##);
    events.reload().await;
    let status = status_json(&server.get("/studio/api/status").await);
    let problems = status["status"]["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0]["template"], "post");
    let message = problems[0]["message"].as_str().unwrap();
    let line = with_bar.lines().count();
    assert!(
        message.starts_with(&format!("{}: line {line}, column ", svg.display())),
        "{message}"
    );
    assert_eq!(status["status"]["stale"], true);
    let still = server.get(preview).await;
    assert_eq!(still.status, StatusCode::OK);
    assert_eq!(decode_png(&still.body).at(60, 30), [255, 0, 0, 255]);

    // Fixed: the problem goes, the file's version serves.
    std::fs::write(&svg, &original).unwrap();
    events.reload().await;
    let status = status_json(&server.get("/studio/api/status").await);
    assert_eq!(status["status"]["problems"], serde_json::json!([]));
    assert_eq!(status["status"]["stale"], false);
    let back = server.get(preview).await;
    assert_ne!(decode_png(&back.body).at(60, 30), [255, 0, 0, 255]);
    server.stop().await;
}

#[tokio::test]
async fn a_template_broken_at_start_is_listed_and_the_rest_serve() {
    let templates = scratch_templates("studio-broken-start");
    edit(
        &templates.join("product.toml"),
        "type = \"number\"",
        "type = \"numbr\"",
    );
    let (server, _watch) = TestServer::start_dev(&templates, ServerConfig::default()).await;
    let status = status_json(&server.get("/studio/api/status").await);
    let names: Vec<&str> = status["templates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["card-a", "certificate", "post", "travel"]);
    let problems = status["status"]["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0]["template"], "product");
    assert!(
        problems[0]["message"]
            .as_str()
            .unwrap()
            .contains("product.toml"),
        "{problems:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_template_error_at_render_time_shows_in_full_only_under_dev() {
    let dir = support::scratch_dir("studio-tera-runtime").join("templates");
    support::write_failing_template(&dir);
    let (dev, _watch) = TestServer::start_dev(&dir, ServerConfig::default()).await;
    let reply = dev.get("/og/t.png?w=0").await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        reply
            .text()
            .starts_with("internal error (request id 1): t: fill: "),
        "{}",
        reply.text()
    );
    assert!(
        reply
            .text()
            .contains("text_box: width, font_size and min_font_size must be positive"),
        "{}",
        reply.text()
    );
    dev.stop().await;

    let mut config = vellum::EngineConfig::bundled(&support::root());
    config.templates_dir = dir.clone();
    let serve = TestServer::start_with(config, ServerConfig::default()).await;
    let reply = serve.get("/og/t.png?w=0").await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.text(), "internal error (request id 1)\n");
    serve.stop().await;
}

#[tokio::test]
async fn snippets_describe_the_card_and_sign_it_when_the_server_signs() {
    let templates = scratch_templates("studio-snippets");
    let signer = Signer::new(vec![b"studio-key".to_vec()]);
    let config = ServerConfig {
        signer: signer.clone(),
        ..ServerConfig::default()
    };
    let (server, _watch) = TestServer::start_dev(&templates, config).await;
    let reply = server
        .get("/studio/api/snippets/post.webp?title=Hello+%26+welcome&scale=2")
        .await;
    let snippets = status_json(&reply);
    let url = snippets["url"].as_str().unwrap();
    let path = url
        .strip_prefix(&format!("http://{}", server.addr))
        .unwrap();
    let status = status_json(&server.get("/studio/api/status").await);
    let post = status["templates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "post")
        .unwrap();
    let version = post["version"].as_str().unwrap();
    assert_eq!(
        path,
        signer
            .sign(&format!(
                "/og/post.webp?title=Hello+%26+welcome&scale=2&v={version}"
            ))
            .unwrap()
    );
    let card = server.get(path).await;
    assert_eq!(
        card.header("cache-control"),
        "public, max-age=31536000, immutable",
        "the snippet's URL names the current version"
    );
    // The signed URL is one the endpoint serves.
    let card = server.get(path).await;
    assert_eq!(card.status, StatusCode::OK);
    assert_eq!(support::webp_size(&card.body), (2400, 1260));
    let meta = snippets["meta"].as_str().unwrap();
    assert!(meta.contains(r#"<meta property="og:image:width" content="2400">"#));
    assert!(meta.contains(&url.replace('&', "&amp;")));
    assert_eq!(
        snippets["cli"],
        "vellum render post 'title=Hello & welcome' scale=2 -o post.webp"
    );
    assert!(!snippets["curl"].as_str().unwrap().contains("studio-key"));
    // Bad values get the endpoint's own message.
    let bad = server
        .get("/studio/api/snippets/post.png?color=bluish")
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        bad.text(),
        "color: expected a colour (#1e40af, rgb(30 64 175), hsl(224 71% 40%) or a CSS name), got \"bluish\"\n"
    );
    server.stop().await;
}

#[tokio::test]
async fn the_outline_names_every_fitted_box() {
    let templates = scratch_templates("studio-boxes");
    let (server, _watch) = TestServer::start_dev(&templates, ServerConfig::default()).await;
    let long = "word ".repeat(40);
    let reply = server
        .get(&format!(
            "/studio/api/boxes/post?title={}",
            long.trim().replace(' ', "+")
        ))
        .await;
    let found = status_json(&reply);
    let boxes = found["boxes"].as_array().unwrap();
    assert_eq!(
        (found["width"].as_u64(), found["height"].as_u64()),
        (Some(1200), Some(630))
    );
    // Boxes come in drawing order (post draws its footer first); only the title is cut.
    let cut: Vec<_> = boxes.iter().filter(|b| b["truncated"] == true).collect();
    assert_eq!(cut.len(), 1, "{boxes:?}");
    let title = cut[0];
    assert_eq!(
        (title["x"].as_f64(), title["y"].as_f64()),
        (Some(80.0), Some(136.0))
    );
    assert_eq!(title["width"].as_f64(), Some(1040.0));
    assert!(title["font_size"].as_f64().unwrap() < 64.0, "{title}");
    server.stop().await;
}
