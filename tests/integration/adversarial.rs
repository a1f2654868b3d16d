//! Hostile requests against a default server: each gets its exact status and message (or a
//! harmless image), errors are never cached, and the server keeps answering `/healthz`.
//! Remote-image cases (SSRF, hostile upstreams) join this suite with image parameters.

use hyper::{Method, StatusCode};

use crate::support::TestServer;

/// (path and query, status, body for errors; for 200 the content type).
fn cases() -> Vec<(String, u16, String)> {
    let err =
        |path: &str, status: u16, message: &str| (path.to_string(), status, format!("{message}\n"));
    let ok = |path: &str| (path.to_string(), 200, "image/png".to_string());
    let many_params: String = (0..33).map(|i| format!("p{i}=1&")).collect();
    vec![
        // Markup and template injection: drawn as text.
        ok("/og/post.png?title=%3C%2Ftext%3E%3Cimage%20href%3D%22%2Fetc%2Fpasswd%22%2F%3E"),
        ok("/og/post.png?title=%3Cscript%3Ealert(1)%3C%2Fscript%3E"),
        ok("/og/post.png?title=%7B%7B%207%20*%207%20%7D%7D%20%7B%25%20raw%20%25%7D"),
        ok("/og/post.png?title=%5D%5D%3E%20%3C!--%20%26amp%3B"),
        ok("/og/post.png?title=file%3A%2F%2F%2Fetc%2Fpasswd"),
        ok("/og/post.png?title=100%"),
        // Characters SVG cannot hold.
        err(
            "/og/post.png?title=a%00b",
            400,
            "title: contains the control character U+0000, which SVG cannot hold",
        ),
        err(
            "/og/post.png?title=%08",
            400,
            "title: contains the control character U+0008, which SVG cannot hold",
        ),
        err(
            "/og/post.png?title=%1F",
            400,
            "title: contains the control character U+001F, which SVG cannot hold",
        ),
        err(
            "/og/post.png?title=%EF%BF%BE",
            400,
            "title: contains the control character U+FFFE, which SVG cannot hold",
        ),
        err(
            "/og/post.png?title=x&subtitle=%1B%5B31m",
            400,
            "subtitle: contains the control character U+001B, which SVG cannot hold",
        ),
        // Broken encodings.
        err(
            "/og/post.png?title=%C3%28",
            400,
            "malformed query string: \"title\" is not valid UTF-8 once decoded",
        ),
        err(
            "/og/post.png?title=%E2%82",
            400,
            "malformed query string: \"title\" is not valid UTF-8 once decoded",
        ),
        err(
            "/og/post.png?%FF=1",
            400,
            "malformed query string: \"%FF\" is not valid UTF-8 once decoded",
        ),
        // Bidi controls are text: drawn by the Unicode rules, nothing breaks.
        ok("/og/post.png?title=%E2%80%AEgnp.exe"),
        ok("/og/post.png?title=a%E2%81%A6%D7%A9%D7%9C%D7%95%D7%9D%E2%81%A9b"),
        // Sizes.
        err(
            &format!("/og/post.png?title={}", "q".repeat(9000)),
            414,
            "query string too long: 9006 bytes (limit 8192)",
        ),
        err(
            &format!("/og/post.png?{many_params}"),
            400,
            "too many parameters: at most 32, got 33",
        ),
        err(
            &format!("/og/post.png?title={}", "t".repeat(201)),
            400,
            "title: at most 200 characters, got 201",
        ),
        ok(&format!(
            "/og/post.png?title={}",
            "%F0%9F%A6%80".repeat(200)
        )),
        err(
            "/og/post.png?title=Hi&scale=1e9",
            400,
            "scale: expected a number from 0.1 to 4, got \"1e9\"",
        ),
        err(
            "/og/post.png?title=Hi&scale=NaN",
            400,
            "scale: expected a number from 0.1 to 4, got \"NaN\"",
        ),
        err(
            "/og/post.png?title=Hi&scale=-2",
            400,
            "scale: expected a number from 0.1 to 4, got \"-2\"",
        ),
        err(
            "/og/certificate.png?recipient=A&achievement=B&scale=4",
            400,
            "output too large: 4800x3392 pixels exceeds the budget of 16000000 pixels",
        ),
        err(
            "/og/product.png?name=A&price=1e400",
            400,
            "price: expected a number from 0 to 99999999, got \"1e400\"",
        ),
        // Paths that try to leave /og/ or name files.
        err(
            "/og/..%2F..%2Fetc%2Fpasswd",
            404,
            "unknown template: \"..%2F..%2Fetc%2Fpasswd\"",
        ),
        err(
            "/og/post.png.svg?title=Hi",
            404,
            "unknown template: \"post.png\"",
        ),
        err("/og/.png", 404, "unknown template: \"\""),
        err(
            "/og/templates/post.svg",
            404,
            "unknown template: \"templates/post\"",
        ),
        err("/etc/passwd", 404, "not found: /etc/passwd"),
        // Reserved and duplicated keys.
        err(
            "/og/post.png?title=a&scale=1&scale=2",
            400,
            "duplicate parameter \"scale\": give it once",
        ),
        err(
            "/og/post.png?title=a&TITLE=b",
            400,
            "unknown parameter \"TITLE\"; this template takes: author, avatar, color, site, subtitle, theme, title",
        ),
    ]
}

#[tokio::test]
async fn hostile_requests_get_exact_answers_and_the_server_stays_up() {
    let server = TestServer::start().await;
    let cases = cases();
    assert!(cases.len() >= 30);
    for (path, status, expected) in cases {
        let reply = server.get(&path).await;
        let shown: String = path.chars().take(80).collect();
        assert_eq!(
            reply.status.as_u16(),
            status,
            "{shown}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        if status == 200 {
            assert_eq!(reply.header("content-type"), expected, "{shown}");
        } else {
            assert_eq!(reply.text(), expected, "{shown}");
            assert_eq!(reply.header("cache-control"), "no-store", "{shown}");
        }
        let health = server.get("/healthz").await;
        assert_eq!(health.status, StatusCode::OK, "after {shown}");
    }
    for method in [Method::DELETE, Method::PUT, Method::OPTIONS] {
        let reply = server
            .request(method.clone(), "/og/post.png?title=Hi", &[])
            .await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
    }
}
