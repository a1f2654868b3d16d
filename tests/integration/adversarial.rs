//! The adversarial suite: hostile requests against one server configured as a public
//! deployment would be (signed URLs with a rotated key, remote images from an allow-list).
//! Every case asserts its exact status and message (or that it draws a harmless image), that
//! errors are never cached, that the server still answers `/healthz` afterwards, and that no
//! connection reached the canary listening on 127.0.0.1 and [::1].

use std::sync::Arc;

use hyper::{Method, StatusCode};
use vellum::EngineConfig;
use vellum::fetch::ImageSources;
use vellum::server::ServerConfig;
use vellum::signing::Signer;

use crate::fetch::test_fetcher;
use crate::support::{self, TestServer};
use crate::upstream::{Canary, Upstream};

/// One hostile request and what it must get.
#[derive(Clone)]
struct Case {
    url: String,
    status: u16,
    /// The error text, or for a 200 the content type.
    expect: String,
}

/// Signs `path` with the server's current key, as a legitimate page would.
fn signed(path: &str) -> String {
    sign_with("current", path)
}

fn sign_with(key: &str, path: &str) -> String {
    Signer::new(vec![key.as_bytes().to_vec()])
        .sign(path)
        .unwrap()
}

fn ok(path: &str) -> Case {
    Case {
        url: signed(path),
        status: 200,
        expect: "image/png".into(),
    }
}

fn err(path: &str, status: u16, message: &str) -> Case {
    unsigned_err(&signed(path), status, message)
}

fn unsigned_err(url: &str, status: u16, message: &str) -> Case {
    Case {
        url: url.to_string(),
        status,
        expect: format!("{message}\n"),
    }
}

/// A signed post card whose avatar is `url`.
fn with_avatar(url: &str) -> String {
    let query = serde_urlencoded::to_string([("title", "Hi"), ("avatar", url)]).unwrap();
    format!("/og/post.png?{query}")
}

/// Query strings, encodings, sizes and paths.
fn request_cases() -> Vec<Case> {
    let many_params: String = (0..33).map(|i| format!("p{i}=1&")).collect();
    let long = signed(&format!("/og/post.png?title={}", "q".repeat(9000)));
    let long_bytes = long.split_once('?').unwrap().1.len();
    vec![
        // Markup and template injection: drawn as text.
        ok("/og/post.png?title=%3C%2Ftext%3E%3Cimage%20href%3D%22%2Fetc%2Fpasswd%22%2F%3E"),
        ok("/og/post.png?title=%3Cscript%3Ealert(1)%3C%2Fscript%3E"),
        ok("/og/post.png?title=%7B%7B%207%20*%207%20%7D%7D%20%7B%25%20raw%20%25%7D"),
        ok("/og/post.png?title=%5D%5D%3E%20%3C!--%20%26amp%3B"),
        ok("/og/post.png?title=file%3A%2F%2F%2Fetc%2Fpasswd"),
        ok("/og/post.png?title=100%"),
        ok("/og/post.png?title=%3Cimage%20href%3D%22http%3A%2F%2F127.0.0.1%2Fa.png%22%2F%3E"),
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
        unsigned_err(
            &long,
            414,
            &format!("query string too long: {long_bytes} bytes (limit 8192)"),
        ),
        err(
            &format!("/og/post.png?{many_params}"),
            400,
            "too many parameters: at most 32, got 34", // the signature counts
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
            "/og/post.png?title=Hi&compression=9",
            400,
            "compression: expected a whole number from 1 to 6, got \"9\"",
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

/// Remote images: forbidden addresses in every spelling, directly and through redirects;
/// schemes; hostile upstreams.
fn image_cases(canary: &Canary, upstream: &Upstream) -> Vec<Case> {
    let port = canary.port;
    let avatar_err = |url: &str, status: u16, message: &str| {
        err(&with_avatar(url), status, &format!("avatar: {message}"))
    };
    let not_public = |ip: &str| format!("address {ip} is not a public address");
    let mut cases = vec![
        ok(&with_avatar(&upstream.url("/ok.png"))),
        ok(&with_avatar(&upstream.redirect_to("/ok.png"))),
    ];
    // Forbidden targets, each allow-listed on purpose so the address check is what refuses.
    let forbidden = [
        (format!("http://127.0.0.1:{port}/a.png"), "127.0.0.1"),
        (format!("http://127.1:{port}/a.png"), "127.0.0.1"),
        (format!("http://2130706433:{port}/a.png"), "127.0.0.1"),
        (format!("http://0x7f.0.0.1:{port}/a.png"), "127.0.0.1"),
        (format!("http://0177.0.0.1:{port}/a.png"), "127.0.0.1"),
        (format!("http://[::1]:{port}/a.png"), "::1"),
        (
            format!("http://[::ffff:127.0.0.1]:{port}/a.png"),
            "::ffff:127.0.0.1",
        ),
        (format!("http://0.0.0.0:{port}/a.png"), "0.0.0.0"),
        (format!("http://localhost:{port}/a.png"), "127.0.0.1"),
        (
            "http://169.254.169.254/latest/meta-data/".to_string(),
            "169.254.169.254",
        ),
        (
            "http://[::ffff:a9fe:a9fe]/latest/meta-data/".to_string(),
            "::ffff:169.254.169.254",
        ),
    ];
    for (url, ip) in &forbidden {
        cases.push(avatar_err(url, 400, &not_public(ip)));
        cases.push(avatar_err(&upstream.redirect_to(url), 400, &not_public(ip)));
    }
    let not_http = |url: &str| {
        format!("expected an http(s) URL or an image path of at most 2048 bytes, got \"{url}\"")
    };
    // A path is read from an image directory, and this server has none.
    cases.push(avatar_err(
        "/etc/passwd",
        400,
        "local images are off (no --image-dir given)",
    ));
    for url in [
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/_GET",
        "ftp://127.0.0.2/a.png",
        "data:image/svg+xml,<svg/>",
        "javascript:alert(1)",
    ] {
        cases.push(avatar_err(url, 400, &not_http(url)));
    }
    cases.extend([
        avatar_err(
            &upstream.redirect_to("file:///etc/passwd"),
            400,
            "only http and https URLs are fetched, got file:",
        ),
        avatar_err(
            &upstream.redirect_to(&format!("gopher://127.0.0.1:{port}/_GET")),
            400,
            "only http and https URLs are fetched, got gopher:",
        ),
        avatar_err(
            &format!("http://user:pw@{}/ok.png", upstream.http),
            400,
            "URLs with a user name or password are not fetched",
        ),
        avatar_err(
            "http://evil.example/a.png",
            400,
            "host evil.example is not on this server's image allow-list",
        ),
        avatar_err(
            &upstream.url("/missing.png"),
            502,
            "the image server answered 404",
        ),
        avatar_err(
            &upstream.url("/page.html"),
            502,
            "not a PNG, JPEG, WebP or GIF image",
        ),
        avatar_err(
            &upstream.url("/image.svg"),
            502,
            "not a PNG, JPEG, WebP or GIF image",
        ),
        avatar_err(
            &upstream.url("/big.png"),
            502,
            "the image is larger than 5242880 bytes",
        ),
        avatar_err(
            &upstream.url("/claims-huge.png"),
            502,
            "the image is larger than 5242880 bytes",
        ),
        avatar_err(
            &upstream.url("/claims-more.png"),
            502,
            "the connection closed before the whole image arrived",
        ),
        avatar_err(
            &upstream.url("/huge.png"),
            502,
            "the image is 50000x50000 pixels; at most 4096 per side",
        ),
        avatar_err(&upstream.url("/loop"), 502, "more than 3 redirects"),
        avatar_err(
            &format!("http://{}/a.png", upstream.closed),
            502,
            "could not connect to the image server",
        ),
        avatar_err(
            &upstream.url("/trickle.png"),
            504,
            "the image server did not answer within 2 s",
        ),
        avatar_err(
            &upstream.url("/hang.png"),
            504,
            "the image server did not answer within 2 s",
        ),
        avatar_err(
            &upstream.tls_url("/ok.png"),
            502,
            "the image server's TLS certificate was not accepted",
        ),
    ]);
    cases
}

/// Signatures: missing, tampered, wrong, retired, expired; the rotated-out key still works.
fn signature_cases() -> Vec<Case> {
    let path = "/og/post.png?title=Hi";
    let bad = "bad signature";
    vec![
        Case {
            url: sign_with("previous", path),
            status: 200,
            expect: "image/png".into(),
        },
        unsigned_err(
            path,
            403,
            "missing signature: this server only serves signed URLs (add sig=...)",
        ),
        unsigned_err(&signed(path).replace("Hi", "Ho"), 403, bad),
        unsigned_err(&signed(path).replace("post.png", "post.jpg"), 403, bad),
        unsigned_err(&sign_with("retired", path), 403, bad),
        unsigned_err(&format!("{path}&sig=!!!"), 403, bad),
        unsigned_err(&format!("{}&sig=again", signed(path)), 403, bad),
        unsigned_err(
            &signed(&format!("{path}&exp=1")),
            403,
            "signature expired at 1 (unix time)",
        ),
        unsigned_err(
            &signed(&format!("{path}&exp=soon")),
            403,
            "exp: expected unix seconds, got \"soon\"",
        ),
    ]
}

/// A server as a public deployment would run it: signed URLs, a rotated key still accepted,
/// remote images from the fixture upstream and, on purpose, from every spelling of the
/// canary's address (so that the address checks, not the allow-list, must refuse them).
async fn public_server(canary: &Canary, upstream: &Upstream) -> TestServer {
    let port = canary.port;
    let forbidden_but_listed = [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        format!("[::ffff:127.0.0.1]:{port}"),
        format!("0.0.0.0:{port}"),
        "169.254.169.254".to_string(),
        "[::ffff:169.254.169.254]".to_string(),
    ];
    let config = ServerConfig {
        signer: Signer::new(vec![b"current".to_vec(), b"previous".to_vec()]),
        images: ImageSources {
            remote: Some(Arc::new(test_fetcher(upstream, &forbidden_but_listed))),
            local: None,
        },
        ..ServerConfig::default()
    };
    TestServer::start_with(EngineConfig::bundled(&support::root()), config).await
}

#[tokio::test]
async fn hostile_requests_get_exact_answers_and_nothing_escapes() {
    let canary = Canary::start().await;
    let upstream = Upstream::start().await;
    let server = public_server(&canary, &upstream).await;
    let cases: Vec<Case> = [
        request_cases(),
        image_cases(&canary, &upstream),
        signature_cases(),
    ]
    .concat();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let canary_before = canary.connections();
        let reply = server.get(&case.url).await;
        let shown: String = case.url.chars().take(120).collect();
        let got = if reply.status == StatusCode::OK {
            reply.header("content-type").to_string()
        } else {
            String::from_utf8_lossy(&reply.body).into_owned()
        };
        let mut problems = Vec::new();
        if reply.status.as_u16() != case.status || got != case.expect {
            problems.push(format!(
                "want {} {:?}, got {} {got:?}",
                case.status, case.expect, reply.status
            ));
        }
        let cache_control = reply.headers.get("cache-control");
        if case.status != 200 && cache_control.is_none_or(|v| v != "no-store") {
            problems.push(format!("error with cache-control {cache_control:?}"));
        }
        if canary.connections() != canary_before {
            problems.push("the canary was connected to".into());
        }
        let health = server.get("/healthz").await;
        if health.status != StatusCode::OK {
            problems.push(format!("/healthz answered {} afterwards", health.status));
        }
        if !problems.is_empty() {
            failures.push(format!("{shown}\n  {}", problems.join("\n  ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    for method in [Method::DELETE, Method::PUT, Method::OPTIONS] {
        let reply = server
            .request(method.clone(), &signed("/og/post.png?title=Hi"), &[])
            .await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
    }
}
