//! The URL endpoint as a browser, a CDN or a crawler sees it.

use hyper::{Method, StatusCode};
use vellum::EngineConfig;
use vellum::server::ServerConfig;

use crate::support::{self, TestServer, decode_png, jpeg_size, webp_size};

const POST: &str = "/og/post?title=Hello%20world&author=Ada";

#[tokio::test]
async fn a_post_card_is_a_1200x630_png_with_cache_headers() {
    let server = TestServer::start().await;
    let reply = server.get(POST).await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.header("content-type"), "image/png");
    assert_eq!(reply.header("content-length"), reply.body.len().to_string());
    // No v= in the URL: kept a day, then revalidated (versions.rs has the other rules).
    assert_eq!(
        reply.header("cache-control"),
        "public, max-age=86400, stale-while-revalidate=86400"
    );
    assert_eq!(reply.header("x-content-type-options"), "nosniff");
    let etag = reply.header("etag");
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() == 34,
        "{etag}"
    );
    let pixels = decode_png(&reply.body);
    assert_eq!((pixels.width, pixels.height), (1200, 630));
}

#[tokio::test]
async fn every_format_decodes_with_its_type_and_size() {
    let server = TestServer::start().await;
    let jpg = server.get("/og/post.jpg?title=Hi").await;
    assert_eq!(jpg.status, StatusCode::OK);
    assert_eq!(jpg.header("content-type"), "image/jpeg");
    assert_eq!(jpeg_size(&jpg.body), (1200, 630));

    let webp = server.get("/og/post.webp?title=Hi").await;
    assert_eq!(webp.status, StatusCode::OK);
    assert_eq!(webp.header("content-type"), "image/webp");
    assert_eq!(webp_size(&webp.body), (1200, 630));

    let png = server.get("/og/post.png?title=Hi").await;
    assert_eq!(png.header("content-type"), "image/png");
    assert_eq!(decode_png(&png.body).width, 1200);

    let svg = server.get("/og/post.svg?title=Hi").await;
    assert_eq!(svg.status, StatusCode::OK);
    assert_eq!(svg.header("content-type"), "image/svg+xml");
    assert_eq!(
        svg.header("content-security-policy"),
        "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    );
    let tree = usvg::Tree::from_str(svg.text(), &usvg::Options::default()).expect("valid svg");
    assert_eq!((tree.size().width(), tree.size().height()), (1200.0, 630.0));
}

#[tokio::test]
async fn jpeg_quality_changes_the_file() {
    let server = TestServer::start().await;
    let low = server.get("/og/post.jpg?title=Hi&quality=20").await;
    let high = server.get("/og/post.jpg?title=Hi&quality=95").await;
    assert_eq!(low.status, StatusCode::OK);
    assert!(low.body.len() < high.body.len());
    assert_ne!(low.header("etag"), high.header("etag"));
}

/// Decodes a WebP (lossy or lossless) into RGBA.
fn decode_webp(bytes: &[u8]) -> Vec<u8> {
    let mut decoder =
        image_webp::WebPDecoder::new(std::io::Cursor::new(bytes)).expect("valid webp header");
    let mut buf = vec![0; decoder.output_buffer_size().expect("sane size")];
    decoder.read_image(&mut buf).expect("valid webp data");
    match decoder.has_alpha() {
        true => buf,
        false => buf
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
    }
}

#[tokio::test]
async fn webp_is_lossy_by_quality_or_lossless_on_request() {
    let server = TestServer::start().await;
    let get = |url: &'static str| server.get(url);
    let png = decode_png(&get("/og/post.png?title=Hi").await.body);
    let lossy = get("/og/post.webp?title=Hi").await;
    let lossless = get("/og/post.webp?title=Hi&lossless=true").await;
    assert_eq!(lossy.status, StatusCode::OK);
    assert_eq!(lossless.status, StatusCode::OK);
    assert_eq!(lossy.header("content-type"), "image/webp");
    // Lossless gives the PNG's pixels exactly; the default is lossy, close and smaller.
    assert_eq!(decode_webp(&lossless.body), png.rgba);
    let lossy_pixels = decode_webp(&lossy.body);
    assert_ne!(lossy_pixels, png.rgba);
    let mean: f64 = lossy_pixels
        .iter()
        .zip(&png.rgba)
        .map(|(a, b)| f64::from(a.abs_diff(*b)))
        .sum::<f64>()
        / png.rgba.len() as f64;
    assert!(
        mean < 3.0,
        "lossy WebP strays {mean:.2} per channel from the PNG"
    );
    assert!(
        lossy.body.len() * 2 < lossless.body.len(),
        "{} vs {}",
        lossy.body.len(),
        lossless.body.len()
    );
    // Quality trades size; the default written out is the same image and ETag.
    let low = get("/og/post.webp?title=Hi&quality=30").await;
    let high = get("/og/post.webp?title=Hi&quality=95").await;
    assert!(low.body.len() < lossy.body.len() && lossy.body.len() < high.body.len());
    let explicit = get("/og/post.webp?title=Hi&quality=80").await;
    assert_eq!(explicit.header("etag"), lossy.header("etag"));
    assert_eq!(explicit.body, lossy.body);
    for (url, message) in [
        (
            "/og/post.webp?title=Hi&lossless=1&quality=90",
            "quality: lossless WebP has no quality; give one or the other",
        ),
        (
            "/og/post.png?title=Hi&lossless=true",
            "lossless: only applies to .webp output",
        ),
        (
            "/og/post.webp?title=Hi&lossless=maybe",
            "lossless: expected true or false, got \"maybe\"",
        ),
    ] {
        let reply = get(url).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{url}");
        assert_eq!(reply.text(), format!("{message}\n"), "{url}");
    }
}

#[tokio::test]
async fn scale_multiplies_the_output_size() {
    let server = TestServer::start().await;
    let reply = server.get("/og/post.png?title=Retina&scale=2").await;
    assert_eq!(reply.status, StatusCode::OK);
    let pixels = decode_png(&reply.body);
    assert_eq!((pixels.width, pixels.height), (2400, 1260));
}

#[tokio::test]
async fn the_same_url_twice_renders_once_with_one_etag() {
    let server = TestServer::start().await;
    let first = server.get(POST).await;
    let second = server.get(POST).await;
    assert_eq!(first.header("etag"), second.header("etag"));
    assert_eq!(first.body, second.body);
    assert_eq!(server.renders(), 1);
    let stats = server.state.cache.stats();
    assert_eq!((stats.hits, stats.misses, stats.entries), (1, 1, 1));
}

#[tokio::test]
async fn reordered_and_defaulted_queries_are_one_cache_entry() {
    let server = TestServer::start().await;
    let a = server
        .get("/og/post?title=Hi&theme=light&color=%23e11d48")
        .await;
    let b = server
        .get("/og/post.png?color=E11D48&theme=light&title=Hi&site=vellum.dev")
        .await;
    assert_eq!(a.header("etag"), b.header("etag"));
    assert_eq!(server.renders(), 1);
    let c = server
        .get("/og/post?title=Hi&theme=dark&color=%23e11d48")
        .await;
    assert_ne!(a.header("etag"), c.header("etag"));
}

#[tokio::test]
async fn concurrent_requests_for_one_new_url_render_once() {
    let server = std::sync::Arc::new(TestServer::start().await);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let server = server.clone();
        tasks.push(tokio::spawn(async move {
            server.get("/og/post?title=Stampede").await
        }));
    }
    let mut etags = Vec::new();
    for task in tasks {
        let reply = task.await.unwrap();
        assert_eq!(reply.status, StatusCode::OK);
        etags.push(reply.header("etag").to_string());
    }
    etags.dedup();
    assert_eq!(etags.len(), 1);
    assert_eq!(server.renders(), 1);
}

#[tokio::test]
async fn if_none_match_answers_304_without_a_body_or_a_render() {
    let server = TestServer::start().await;
    let first = server.get(POST).await;
    let etag = first.header("etag").to_string();
    let renders = server.renders();
    for tag in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"other\", {etag}"),
    ] {
        let reply = server
            .request(Method::GET, POST, &[("if-none-match", &tag)])
            .await;
        assert_eq!(reply.status, StatusCode::NOT_MODIFIED, "{tag}");
        assert!(reply.body.is_empty());
        assert_eq!(reply.header("etag"), etag);
        assert_eq!(
            reply.header("cache-control"),
            "public, max-age=86400, stale-while-revalidate=86400"
        );
    }
    assert_eq!(server.renders(), renders);
    let other = server
        .request(Method::GET, POST, &[("if-none-match", "\"stale\"")])
        .await;
    assert_eq!(other.status, StatusCode::OK);
}

#[tokio::test]
async fn head_sends_the_headers_of_get_and_no_body() {
    let server = TestServer::start().await;
    let get = server.get(POST).await;
    let head = server.request(Method::HEAD, POST, &[]).await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.body.is_empty());
    assert_eq!(head.header("content-length"), get.body.len().to_string());
    assert_eq!(head.header("content-type"), "image/png");
    assert_eq!(head.header("etag"), get.header("etag"));
}

/// Every user mistake gets its status and a one-line reason, and is never cached.
#[tokio::test]
async fn bad_requests_get_a_status_and_a_one_line_reason() {
    let server = TestServer::start().await;
    let long_title = "x".repeat(201);
    let long_query = format!("title={}", "y".repeat(9000));
    let cases: Vec<(String, u16, &str)> = vec![
        (
            "/og/nope.png?title=Hi".into(),
            404,
            "unknown template: \"nope\"",
        ),
        (
            "/og/post.gif?title=Hi".into(),
            404,
            "unknown format: \"gif\" (expected png, jpg, webp, svg or pdf)",
        ),
        (
            "/og/post?title=Hi&font=Comic".into(),
            400,
            "unknown parameter \"font\"; this template takes: author, avatar, color, site, subtitle, theme, title",
        ),
        (
            "/og/post?title=a&title=b".into(),
            400,
            "duplicate parameter \"title\": give it once",
        ),
        (
            "/og/post?subtitle=Hi".into(),
            400,
            "missing required parameter \"title\"",
        ),
        (
            format!("/og/post?title={long_title}"),
            400,
            "title: at most 200 characters, got 201",
        ),
        (
            "/og/post?title=Hi&theme=blue".into(),
            400,
            "theme: expected one of dark, light, got \"blue\"",
        ),
        (
            "/og/post?title=Hi&color=reddish".into(),
            400,
            "color: expected a colour (#1e40af, rgb(30 64 175), hsl(224 71% 40%) or a CSS name), got \"reddish\"",
        ),
        (
            "/og/product?name=Boot&price=cheap".into(),
            400,
            "price: expected a number from 0 to 99999999, got \"cheap\"",
        ),
        (
            "/og/product?name=Boot&price=-1".into(),
            400,
            "price: expected a number from 0 to 99999999, got \"-1\"",
        ),
        (
            "/og/post?title=Hi&scale=0".into(),
            400,
            "scale: expected a number from 0.1 to 4, got \"0\"",
        ),
        (
            "/og/post?title=Hi&scale=abc".into(),
            400,
            "scale: expected a number from 0.1 to 4, got \"abc\"",
        ),
        (
            "/og/post.png?title=Hi&quality=50".into(),
            400,
            "quality: only applies to .jpg and .webp output",
        ),
        (
            "/og/post.jpg?title=Hi&quality=0".into(),
            400,
            "quality: expected a whole number from 1 to 100, got \"0\"",
        ),
        (
            "/og/post?title=%07bell".into(),
            400,
            "title: contains the control character U+0007, which SVG cannot hold",
        ),
        (
            format!("/og/post?{long_query}"),
            414,
            "query string too long: 9006 bytes (limit 8192)",
        ),
        ("/nowhere".into(), 404, "not found: /nowhere"),
    ];
    for (path, status, message) in cases {
        let reply = server.get(&path).await;
        assert_eq!(reply.status.as_u16(), status, "{path}: {}", reply.text());
        assert_eq!(reply.text(), format!("{message}\n"), "{path}");
        assert_eq!(reply.header("cache-control"), "no-store", "{path}");
        assert_eq!(reply.header("content-type"), "text/plain; charset=utf-8");
    }
    let post = server.request(Method::POST, "/og/post?title=Hi", &[]).await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(post.header("allow"), "GET, HEAD");
    assert_eq!(server.renders(), 0, "no bad request reaches the renderer");
}

#[tokio::test]
async fn the_pixel_budget_is_checked_before_rendering() {
    let mut engine = EngineConfig::bundled(&support::root());
    engine.limits.max_pixels = 2_000_000;
    let server = TestServer::start_with(engine, ServerConfig::default()).await;
    let reply = server.get("/og/post?title=Hi&scale=2").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.text(),
        "output too large: 2400x1260 pixels exceeds the budget of 2000000 pixels\n"
    );
    assert_eq!(server.renders(), 0);
    assert_eq!(server.get("/og/post?title=Hi").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_full_render_queue_answers_503_with_retry_after() {
    let config = ServerConfig {
        max_renders: 1,
        render_wait: std::time::Duration::from_millis(1),
        ..ServerConfig::default()
    };
    let server = std::sync::Arc::new(
        TestServer::start_with(EngineConfig::bundled(&support::root()), config).await,
    );
    let mut tasks = Vec::new();
    for i in 0..6 {
        let server = server.clone();
        tasks.push(tokio::spawn(async move {
            server.get(&format!("/og/post?title=Busy{i}&scale=4")).await
        }));
    }
    let health = server.get("/healthz").await;
    assert_eq!(
        health.status,
        StatusCode::OK,
        "health never waits behind renders"
    );
    let mut busy = 0;
    for task in tasks {
        let reply = task.await.unwrap();
        match reply.status.as_u16() {
            200 => {}
            503 => {
                busy += 1;
                assert_eq!(reply.text(), "server busy, try again shortly\n");
                assert_eq!(reply.header("retry-after"), "1");
                assert_eq!(reply.header("cache-control"), "no-store");
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(
        busy > 0,
        "six 4x renders through one slot with a 1 ms wait must overflow"
    );
}

#[tokio::test]
async fn an_edited_template_gets_a_new_etag_after_reload() {
    let dir = support::scratch_dir("reload");
    support::copy_templates(&dir);
    let mut engine = EngineConfig::bundled(&support::root());
    engine.templates_dir = dir.clone();
    let server = TestServer::start_with(engine, ServerConfig::default()).await;
    let before = server.get(POST).await;

    let svg = std::fs::read_to_string(dir.join("post.svg")).unwrap();
    std::fs::write(
        dir.join("post.svg"),
        svg.replace("fill-opacity=\"0.10\"", "fill-opacity=\"0.30\""),
    )
    .unwrap();
    let unchanged = server.get(POST).await;
    assert_eq!(
        unchanged.header("etag"),
        before.header("etag"),
        "no reload, no change"
    );

    server
        .state
        .engine()
        .reload()
        .expect("edited template loads");
    let after = server.get(POST).await;
    assert_eq!(after.status, StatusCode::OK);
    assert_ne!(after.header("etag"), before.header("etag"));
    assert_ne!(after.body, before.body);

    std::fs::write(dir.join("post.svg"), "<svg>{{ nope }}</svg>").unwrap();
    let err = server.state.engine().reload().unwrap_err().to_string();
    assert!(err.contains("post.svg"), "{err}");
    let still = server.get(POST).await;
    assert_eq!(
        still.header("etag"),
        after.header("etag"),
        "a broken edit keeps the old set"
    );
}

#[tokio::test]
async fn templates_are_listed_as_json_with_their_params() {
    let server = TestServer::start().await;
    let reply = server.get("/templates").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), "application/json");
    let json: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    let names: Vec<&str> = json["templates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["card-a", "certificate", "post", "product", "travel"]
    );
    let post = &json["templates"][2];
    assert_eq!(post["width"], 1200);
    assert_eq!(post["params"]["theme"]["type"], "enum");
    assert_eq!(
        post["params"]["theme"]["values"],
        serde_json::json!(["dark", "light"])
    );
    assert_eq!(post["params"]["theme"]["default"], "dark");
    assert_eq!(post["params"]["title"]["required"], true);
    let example = post["example_url"].as_str().unwrap();
    assert_eq!(
        server.get(example).await.status,
        StatusCode::OK,
        "{example}"
    );
}

#[tokio::test]
async fn health_and_metrics_answer() {
    let server = TestServer::start().await;
    server.get(POST).await;
    server.get(POST).await;
    server.get("/og/post").await;
    let health = server.get("/healthz").await;
    assert_eq!((health.status, health.text()), (StatusCode::OK, "ok\n"));
    let metrics = server.get("/metrics").await;
    let text = metrics.text();
    let lines = [
        "vellum_render_seconds_count 1",
        "vellum_renders_in_flight 0",
        "vellum_cache_hits_total 1",
        "vellum_cache_misses_total 1",
        "vellum_cache_entries 1",
        "vellum_responses_total{status=\"200\"} 3", // two images and /healthz
        "vellum_responses_total{status=\"400\"} 1",
        "# EOF",
    ];
    support::assert_has_lines(text, &lines);
}

#[tokio::test]
async fn found_backgrounds_show_in_metrics() {
    let server = TestServer::start().await;
    // post's leading shapes are drawn at the second card and copied under the third.
    for title in ["One", "Two", "Three"] {
        let reply = server.get(&format!("/og/post.png?title={title}")).await;
        assert_eq!(reply.status, StatusCode::OK);
    }
    let metrics = server.get("/metrics").await;
    let text = metrics.text();
    let lines = [
        "vellum_found_backgrounds_hits_total 1",
        "vellum_found_backgrounds_misses_total 1",
        "vellum_found_backgrounds_entries 1",
    ];
    support::assert_has_lines(text, &lines);
    let bytes = support::metric(text, "vellum_found_backgrounds_bytes");
    assert!(bytes > 1200 * 630 * 4, "{bytes}");
}

#[tokio::test]
async fn glyph_masks_show_in_metrics() {
    let server = TestServer::start().await;
    // The masks are the process's: other tests' renders count too, so only what one render
    // must add is asserted.
    let value = support::metric;
    let before = server.get("/metrics").await.text().to_string();
    let reply = server.get("/og/post.png?title=Banana%20bread").await;
    assert_eq!(reply.status, StatusCode::OK);
    let after = server.get("/metrics").await.text().to_string();
    let hits = "vellum_glyph_masks_hits_total";
    assert!(
        value(&after, hits) > value(&before, hits),
        "the repeated letters of a title are drawn from kept masks"
    );
    let bytes = value(&after, "vellum_glyph_masks_bytes");
    assert!(
        bytes > 0 && bytes <= vellum::raster::MASKS_BUDGET as u64,
        "{bytes}"
    );
    assert!(value(&after, "vellum_glyph_masks_entries") > 0);
    for name in [
        "vellum_glyph_masks_misses_total",
        "vellum_glyph_masks_evictions_total",
        "vellum_shrunk_photos_hits_total",
        "vellum_shrunk_photos_bytes",
    ] {
        value(&after, name);
    }
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let config = ServerConfig {
        header_read_timeout: std::time::Duration::from_millis(300),
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(EngineConfig::bundled(&support::root()), config).await;
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut buf),
    )
    .await
    .expect("the server closed the slow connection");
    assert!(read.is_ok() || buf.is_empty());
    assert_eq!(server.get("/healthz").await.status, StatusCode::OK);
}

#[tokio::test]
async fn shutdown_stops_accepting_and_finishes() {
    let server = TestServer::start().await;
    let addr = server.addr;
    assert_eq!(server.get("/healthz").await.status, StatusCode::OK);
    server.stop().await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still accepting"
    );
}

#[tokio::test]
async fn a_request_past_its_deadline_gets_503() {
    let config = ServerConfig {
        request_deadline: std::time::Duration::from_millis(1),
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(EngineConfig::bundled(&support::root()), config).await;
    let reply = server.get("/og/post?title=Slow&scale=4").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.text(), "request took too long, try again shortly\n");
    assert_eq!(reply.header("retry-after"), "1");
}

#[tokio::test]
async fn connections_past_the_limit_wait_for_a_free_slot() {
    let config = ServerConfig {
        max_connections: 1,
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(EngineConfig::bundled(&support::root()), config).await;
    let idle = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let waiting = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        server.get("/healthz"),
    )
    .await;
    assert!(
        waiting.is_err(),
        "a second connection was served past the limit"
    );
    drop(idle);
    let reply = server.get("/healthz").await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn png_compression_trades_time_for_size_with_the_same_pixels() {
    let server = TestServer::start().await;
    let title = "title=How%20we%20rendered%20a%20million%20social%20cards";
    let default = server.get(&format!("/og/card-a.png?{title}")).await;
    let smallest = server
        .get(&format!("/og/card-a.png?{title}&compression=6"))
        .await;
    let fastest = server
        .get(&format!("/og/card-a.png?{title}&compression=1"))
        .await;
    for reply in [&default, &smallest, &fastest] {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    }
    assert!(
        smallest.body.len() < default.body.len() && default.body.len() < fastest.body.len(),
        "sizes: level 6 {}, default {}, level 1 {}",
        smallest.body.len(),
        default.body.len(),
        fastest.body.len()
    );
    let pixels = decode_png(&default.body).rgba;
    assert_eq!(decode_png(&smallest.body).rgba, pixels);
    assert_eq!(decode_png(&fastest.body).rgba, pixels);
    assert_ne!(default.header("etag"), smallest.header("etag"));
    let explicit = server
        .get(&format!("/og/card-a.png?{title}&compression=2"))
        .await;
    assert_eq!(
        default.header("etag"),
        explicit.header("etag"),
        "2 is the default"
    );

    let jpg = server
        .get(&format!("/og/card-a.jpg?{title}&compression=6"))
        .await;
    assert_eq!(jpg.status, StatusCode::BAD_REQUEST);
    assert_eq!(jpg.text(), "compression: only applies to .png output\n");
}

#[tokio::test]
async fn renders_with_missing_glyphs_are_counted() {
    let server = TestServer::start().await;
    let count = |text: &str| support::metric(text, "vellum_missing_glyphs_total");
    server.get("/og/post.png?title=Fine").await;
    let before = server.get("/metrics").await;
    assert_eq!(count(before.text()), 0);
    // Tamil: no bundled font has it.
    let card = server
        .get("/og/post.png?title=%E0%AE%B5%E0%AE%A3%E0%AE%95%E0%AF%8D%E0%AE%95%E0%AE%AE%E0%AF%8D")
        .await;
    assert_eq!(card.status, StatusCode::OK);
    let after = server.get("/metrics").await;
    assert_eq!(count(after.text()), 1, "{}", after.text());
}
