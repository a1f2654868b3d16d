//! Template assets and QR codes: embedded from the project's files, never from a request.

use hyper::StatusCode;
use vellum::server::ServerConfig;
use vellum::{Engine, EngineConfig};

use crate::support::{self, TestServer, decode_png};

const VERIFY: &str = "https://academy.example.com/verify/7F3K-92QX";

#[tokio::test]
async fn a_certificate_carries_a_qr_code_that_decodes_to_its_url() {
    let server = TestServer::start().await;
    let query = serde_urlencoded::to_string([
        ("recipient", "Grace Hopper"),
        ("achievement", "Compilers"),
        ("verify_url", VERIFY),
    ])
    .unwrap();
    let reply = server
        .get(&format!("/og/certificate.png?{query}&scale=2"))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let png = decode_png(&reply.body);
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(
        png.width as usize,
        png.height as usize,
        |x, y| {
            let [r, g, b, _] = png.at(x as u32, y as u32);
            ((u32::from(r) + u32::from(g) + u32::from(b)) / 3) as u8
        },
    );
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code on the card");
    let (_, content) = grids[0].decode().expect("the QR code decodes");
    assert_eq!(content, VERIFY);
}

#[tokio::test]
async fn assets_are_embedded_as_data_urls_and_never_named_by_path() {
    let server = TestServer::start().await;
    let svg = server
        .get("/og/certificate.svg?recipient=Ada&achievement=Maths")
        .await;
    let text = svg.text();
    assert!(text.contains("href=\"data:image/svg+xml;base64,"), "{text}");
    assert!(!text.contains("mark.svg"), "the asset's file name leaked");
}

#[tokio::test]
async fn editing_an_asset_changes_every_etag_after_reload() {
    let dir = support::scratch_dir("asset-edit");
    support::copy_templates(&dir);
    let mut engine = EngineConfig::bundled(&support::root());
    engine.templates_dir = dir.clone();
    let server = TestServer::start_with(engine, ServerConfig::default()).await;
    let url = "/og/certificate.png?recipient=Ada&achievement=Maths";
    let before = server.get(url).await;
    let mark = std::fs::read_to_string(dir.join("assets/mark.svg")).unwrap();
    std::fs::write(
        dir.join("assets/mark.svg"),
        mark.replace("#38bdf8", "#f97316"),
    )
    .unwrap();
    server.state.engine().reload().unwrap();
    let after = server.get(url).await;
    assert_ne!(before.header("etag"), after.header("etag"));
    assert_ne!(before.body, after.body);
}

fn load_error(dir: &std::path::Path) -> String {
    let mut config = EngineConfig::bundled(&support::root());
    config.templates_dir = dir.to_path_buf();
    match Engine::new(config) {
        Ok(_) => panic!("{} loaded", dir.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn unknown_assets_and_disguised_files_stop_the_load() {
    let dir = support::scratch_dir("asset-traversal");
    std::fs::write(dir.join("t.toml"), "width = 10\nheight = 10\n").unwrap();
    std::fs::write(
        dir.join("t.svg"),
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><image href="{{ asset(name="../Cargo.toml") }}"/></svg>"#,
    )
    .unwrap();
    let err = load_error(&dir);
    assert!(
        err.contains("asset: no file \"../Cargo.toml\" in the templates' assets/"),
        "{err}"
    );

    let dir = support::scratch_dir("asset-fallback");
    std::fs::write(
        dir.join("t.toml"),
        "width = 10\nheight = 10\n[params.photo]\ntype = \"image\"\nfallback = \"gone.png\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("t.svg"),
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>"#,
    )
    .unwrap();
    let err = load_error(&dir);
    assert!(
        err.contains("params.photo: fallback: no file \"gone.png\" in the templates' assets/"),
        "{err}"
    );

    let dir = support::scratch_dir("asset-disguised");
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    std::fs::write(dir.join("assets/logo.png"), "#!/bin/sh\necho not a png\n").unwrap();
    let err = load_error(&dir);
    assert!(
        err.contains("logo.png: not a PNG, JPEG, WebP, GIF or SVG file matching its extension"),
        "{err}"
    );
}

#[tokio::test]
async fn a_background_is_under_the_card_at_every_scale_and_in_svg_output() {
    let server = TestServer::start().await;
    let q = "title=Backgrounds";
    let one = decode_png(&server.get(&format!("/og/card-a.png?{q}")).await.body);
    let two = decode_png(
        &server
            .get(&format!("/og/card-a.png?{q}&scale=2"))
            .await
            .body,
    );
    assert_eq!((two.width, two.height), (2400, 1260));
    // The circle at (1080, 110) and the gradient's dark top-left corner, at both scales.
    let circle = [0x38, 0xbd, 0xf8, 255];
    assert_eq!(one.at(1080, 110), circle);
    assert_eq!(two.at(2160, 220), circle);
    let [r, g, b, _] = one.at(2, 2);
    assert!(
        r < 20 && g < 30 && b < 50,
        "gradient start: {:?}",
        one.at(2, 2)
    );
    assert_eq!(one.at(2, 2), two.at(4, 4));

    // SVG output carries the background as its first element, so it looks the same.
    let svg = server.get(&format!("/og/card-a.svg?{q}")).await;
    let text = svg.text();
    let body = &text[text.find("<svg").unwrap()..];
    let first = &body[body.find('>').unwrap() + 1..].trim_start();
    assert!(
        first.starts_with("<image href=\"data:image/svg+xml;base64,"),
        "{}",
        &first[..80]
    );
    let engine = support::bundled_engine();
    let tree = vellum::raster::parse(text, engine.usvg_options(), 100_000).unwrap();
    let pixmap = vellum::raster::rasterize(&tree, 1.0, u64::MAX, None).unwrap();
    let pixel = pixmap.pixel(1080, 110).unwrap();
    assert_eq!(
        [pixel.red(), pixel.green(), pixel.blue(), pixel.alpha()],
        circle
    );
}

#[test]
fn a_missing_background_or_a_scaled_viewbox_fails_at_load() {
    let dir = support::scratch_dir("background-errors");
    support::copy_templates(&dir);
    let toml = dir.join("card-a.toml");
    let original = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(
        &toml,
        original.replace("card-a-background.svg", "missing.svg"),
    )
    .unwrap();
    let mut config = EngineConfig::bundled(&support::root());
    config.templates_dir = dir.clone();
    let error = Engine::new(config.clone()).err().expect("a load error");
    assert!(
        error
            .to_string()
            .ends_with("background: no file \"missing.svg\" in the templates' assets/"),
        "{error}"
    );

    std::fs::write(&toml, &original).unwrap();
    let svg = dir.join("card-a.svg");
    let text = std::fs::read_to_string(&svg).unwrap();
    std::fs::write(
        &svg,
        text.replace("viewBox=\"0 0 1200 630\"", "viewBox=\"0 0 600 315\""),
    )
    .unwrap();
    let error = Engine::new(config).err().expect("a load error");
    assert!(
        error
            .to_string()
            .ends_with("has a background, so its viewBox must be 0 0 1200 630 (or none)"),
        "{error}"
    );
}

#[test]
fn a_load_error_names_the_file_that_is_wrong() {
    const SVG: &str = r#"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>{{ title }}</text></svg>"#;
    const TITLE: &str =
        "width = 10\nheight = 10\n[params.title]\ntype = \"text\"\nrequired = true\n";
    let cases: [(&str, String, &str, &str); 8] = [
        (
            "required-without-example",
            TITLE.to_string(),
            SVG,
            "t.toml: params.title: a required parameter needs an example",
        ),
        (
            "bad-example",
            format!("{TITLE}max_chars = 2\nexample = \"long\"\n"),
            SVG,
            "t.toml: example: title: at most 2 characters, got 4",
        ),
        (
            "bad-manifest",
            "width = 0\nheight = 10\n".to_string(),
            SVG,
            "t.toml: width: must be between 1 and 10000, got 0",
        ),
        (
            "undeclared",
            "width = 10\nheight = 10\n".to_string(),
            SVG,
            "t.svg: uses title (line 1), not declared in t.toml",
        ),
        (
            "misspelt",
            format!("{TITLE}example = \"Hi\"\n"),
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\">\n<text>{{ titel }}</text></svg>",
            "t.svg: uses titel (line 2, did you mean title?), not declared in t.toml",
        ),
        (
            "wrong-size",
            format!("{TITLE}example = \"Hi\"\n").replace("width = 10", "width = 20"),
            SVG,
            "t.svg: renders at 10x10, but its manifest says 20x10",
        ),
        (
            "not-xml",
            format!("{TITLE}example = \"Hi\"\n"),
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>{{ title }} & co</text></svg>"#,
            "t.svg: line 1, column 82: malformed entity reference",
        ),
        (
            // Well-formed as written; only the filled SVG (the `if` not taken) is broken.
            "filled-only",
            format!("{TITLE}example = \"Hi\"\n"),
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\">\n{% if title == \"x\" %}<g>{% endif %}</g>\n</svg>",
            "t.svg: filled with its examples: svg parse failed: expected 'svg' tag, not 'g' at 2:1; the filled line reads: \"</g>\"",
        ),
    ];
    for (name, toml, svg, expected) in cases {
        let dir = support::scratch_dir(&format!("load-error-{name}"));
        std::fs::write(dir.join("t.toml"), toml).unwrap();
        std::fs::write(dir.join("t.svg"), svg).unwrap();
        let err = load_error(&dir);
        let shown = err.strip_prefix(&format!("{}/", dir.display()));
        assert!(
            shown.is_some_and(|e| e.starts_with(expected)),
            "{name}: expected {expected:?}, got {err:?}"
        );
    }
}

#[test]
fn one_load_reports_every_broken_template_and_param() {
    let dir = support::scratch_dir("load-every-error");
    // Two bad params in one manifest, and a second template with a missing example.
    std::fs::write(
        dir.join("a.toml"),
        "width = 10\nheight = 10\n[params.c]\ntype = \"color\"\ndefault = \"bluish\"\n[params.n]\ntype = \"number\"\nmin = 5\nmax = 1\ndefault = 2\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("a.svg"),
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("b.toml"),
        "width = 10\nheight = 10\n[params.t]\ntype = \"text\"\nrequired = true\n[params.u]\ntype = \"text\"\nrequired = true\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("b.svg"),
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>{{ t }}{{ u }}</text></svg>"#,
    )
    .unwrap();
    let err = load_error(&dir);
    let shown = err.replace(&format!("{}/", dir.display()), "");
    assert_eq!(
        shown,
        "a.toml: params.c: default: c: expected a colour (#1e40af, rgb(30 64 175), hsl(224 71% 40%) or a CSS name), got \"bluish\"\n\
         a.toml: params.n: min (5) must be <= max (1)\n\
         b.toml: params.t: a required parameter needs an example\n\
         b.toml: params.u: a required parameter needs an example"
    );
}
