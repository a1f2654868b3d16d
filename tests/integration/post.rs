//! `POST /render`: the image, or its GET URL as JSON, from a JSON body; same checks as GET.

use hyper::{Method, StatusCode};
use serde_json::{Value, json};
use vellum::EngineConfig;
use vellum::server::ServerConfig;
use vellum::signing::Signer;

use crate::support::{self, TestServer, decode_png};

const JSON: (&str, &str) = ("content-type", "application/json");
const ACCEPT_JSON: (&str, &str) = ("accept", "application/json");

/// Request headers, body, and the status and message it must get.
type BadPost<'a> = (Vec<(&'a str, &'a str)>, Vec<u8>, u16, &'a str);

fn body(value: Value) -> Vec<u8> {
    serde_json::to_vec(&value).unwrap()
}

/// The path and query of an absolute URL.
fn path_of(url: &str) -> &str {
    let rest = url.strip_prefix("http://").expect("an http URL");
    &rest[rest.find('/').unwrap()..]
}

#[tokio::test]
async fn post_returns_the_same_image_as_get() {
    let server = TestServer::start().await;
    let posted = server
        .post(
            "/render",
            &[JSON],
            body(json!({"template": "post", "params": {"title": "Hello"}})),
        )
        .await;
    assert_eq!(posted.status, StatusCode::OK, "{}", posted.text());
    assert_eq!(posted.header("content-type"), "image/png");
    let got = server.get("/og/post.png?title=Hello").await;
    assert_eq!(posted.body, got.body);
    assert_eq!(posted.header("etag"), got.header("etag"));
    assert_eq!(server.renders(), 1, "POST and GET share the cache");
}

#[tokio::test]
async fn json_answers_carry_a_url_that_serves_the_same_bytes() {
    let server = TestServer::start().await;
    let request = json!({
        "template": "product",
        "format": "webp",
        "params": {"name": "Trail boot & co", "price": 89.5, "old_price": 120, "badge": null, "scale": 0.5}
    });
    let answer = server
        .post("/render", &[JSON, ACCEPT_JSON], body(request))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.header("content-type"), "application/json");
    let answer: Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(answer["width"], 600);
    assert_eq!(answer["height"], 315);
    assert_eq!(answer["format"], "webp");
    let url = answer["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("http://{}/og/product.webp?", server.addr)),
        "{url}"
    );
    let fetched = server.get(path_of(url)).await;
    assert_eq!(fetched.status, StatusCode::OK);
    assert_eq!(fetched.body.len() as u64, answer["bytes"].as_u64().unwrap());
    assert_eq!(support::webp_size(&fetched.body), (600, 315));
    assert_eq!(
        server.renders(),
        1,
        "the URL is a cache hit of the POST's render"
    );
}

#[tokio::test]
async fn with_signing_on_post_needs_the_key_and_returns_signed_urls() {
    let config = ServerConfig {
        signer: Signer::new(vec![b"k1".to_vec()]),
        public_url: Some("https://img.example.com/".into()),
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(EngineConfig::bundled(&support::root()), config).await;
    let request = || body(json!({"template": "post", "params": {"title": "Signed"}}));

    for auth in [None, Some("Bearer wrong"), Some("k1"), Some("Basic azE=")] {
        let mut headers = vec![JSON];
        if let Some(auth) = auth {
            headers.push(("authorization", auth));
        }
        let refused = server.post("/render", &headers, request()).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(refused.header("www-authenticate"), "Bearer");
        assert_eq!(
            refused.text(),
            "this server signs its URLs: POST /render needs Authorization: Bearer <signing key>\n"
        );
    }

    let answer = server
        .post(
            "/render",
            &[JSON, ACCEPT_JSON, ("authorization", "Bearer k1")],
            request(),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let answer: Value = serde_json::from_slice(&answer.body).unwrap();
    let url = answer["url"].as_str().unwrap();
    let path = url
        .strip_prefix("https://img.example.com")
        .unwrap_or_else(|| panic!("public origin used: {url}"));
    assert!(path.contains("&sig="), "{url}");
    let fetched = server.get(path).await;
    assert_eq!(fetched.status, StatusCode::OK, "{}", fetched.text());
    assert_eq!(decode_png(&fetched.body).width, 1200);
}

#[tokio::test]
async fn bad_posts_get_clear_errors() {
    let server = TestServer::start().await;
    let too_big = format!(
        "{{\"template\": \"post\", \"params\": {{\"title\": \"{}\"}}}}",
        "x".repeat(70_000)
    );
    let cases: Vec<BadPost> = vec![
        (
            vec![JSON],
            b"{\"template\": \"post\", ".to_vec(),
            400,
            "invalid JSON body: EOF while parsing a value at line 1 column 21",
        ),
        (
            vec![JSON],
            b"\"hello\"".to_vec(),
            400,
            "invalid JSON body: invalid type: string \"hello\", expected a render request at line 1 column 7",
        ),
        (
            vec![JSON],
            body(json!({"template": "post", "title": "Hi"})),
            400,
            "invalid JSON body: unknown field `title`, expected one of `template`, `format`, `params` at line 1 column 26",
        ),
        (
            vec![JSON],
            body(json!({"params": {"title": "Hi"}})),
            400,
            "invalid JSON body: missing field `template` at line 1 column 25",
        ),
        (
            vec![JSON],
            body(json!({"template": "post", "params": {"title": "t".repeat(201)}})),
            400,
            "title: at most 200 characters, got 201",
        ),
        (
            vec![JSON],
            body(json!({"template": "post", "params": {"title": ["a", "b"]}})),
            400,
            "title: expected a string, number or boolean",
        ),
        (
            vec![JSON],
            body(json!({"template": "post", "params": {"title": "Hi", "colour": "red"}})),
            400,
            "unknown parameter \"colour\"; this template takes: author, avatar, color, site, subtitle, theme, title",
        ),
        (
            vec![JSON],
            body(json!({"template": "post", "format": "gif", "params": {"title": "Hi"}})),
            400,
            "format: expected png, jpg, webp, svg or pdf, got \"gif\"",
        ),
        (
            vec![JSON],
            body(
                json!({"template": "certificate", "params": {"recipient": "A", "achievement": "B", "scale": 4}}),
            ),
            400,
            "output too large: 4800x3392 pixels exceeds the budget of 16000000 pixels",
        ),
        (
            vec![JSON],
            body(json!({"template": "nope", "params": {}})),
            404,
            "unknown template: \"nope\"",
        ),
        (
            vec![JSON],
            too_big.into_bytes(),
            413,
            "request body too large: at most 65536 bytes",
        ),
        (
            vec![("content-type", "text/plain")],
            body(json!({"template": "post", "params": {"title": "Hi"}})),
            415,
            "expected a JSON body (Content-Type: application/json)",
        ),
        (
            vec![],
            body(json!({"template": "post", "params": {"title": "Hi"}})),
            415,
            "expected a JSON body (Content-Type: application/json)",
        ),
    ];
    for (headers, request, status, message) in cases {
        let reply = server.post("/render", &headers, request.clone()).await;
        assert_eq!(reply.status.as_u16(), status, "{message}: {}", reply.text());
        assert_eq!(reply.text(), format!("{message}\n"));
        assert_eq!(reply.header("cache-control"), "no-store");

        // The same error as JSON for clients that ask for JSON.
        let mut headers = headers.clone();
        headers.push(ACCEPT_JSON);
        let reply = server.post("/render", &headers, request).await;
        assert_eq!(reply.status.as_u16(), status);
        assert_eq!(reply.header("content-type"), "application/json");
        let error: Value = serde_json::from_slice(&reply.body).unwrap();
        // A stable code beside the message, for clients that branch on the kind of error.
        let code = match status {
            404 => "unknown_template",
            413 => "body_too_large",
            415 => "unsupported_media_type",
            _ if message.starts_with("output too large") => "too_many_pixels",
            _ => "bad_param",
        };
        assert_eq!(
            error,
            json!({"error": message, "status": status, "code": code})
        );
    }
    let get = server.request(Method::GET, "/render", &[]).await;
    assert_eq!(get.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(get.header("allow"), "POST");
    assert_eq!(server.renders(), 0);
    assert_eq!(server.get("/healthz").await.status, StatusCode::OK);
}
