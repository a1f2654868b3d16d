//! One design in every size: `size=` on a URL, in `POST /render`, in the layered API, in
//! `vellum render` and `vellum batch`; the JSON answers list every size's URL.

use hyper::StatusCode;
use serde_json::{Value, json};

use crate::support::{self, TestServer, decode_png};

const POST_SIZES: [(&str, u32, u32); 3] = [
    ("og", 1200, 630),
    ("square", 1080, 1080),
    ("story", 1080, 1920),
];

/// The path and query of a URL the server handed out.
fn path_of<'a>(url: &'a str, server: &TestServer) -> &'a str {
    url.strip_prefix(&format!("http://{}", server.addr))
        .unwrap_or_else(|| panic!("{url} is not on this server"))
}

fn png_size(bytes: &[u8]) -> (u32, u32) {
    let png = decode_png(bytes);
    (png.width, png.height)
}

#[tokio::test]
async fn a_url_picks_a_size_and_the_default_size_is_one_image() {
    let server = TestServer::start().await;
    for (size, width, height) in POST_SIZES {
        for scale in [1, 2] {
            let reply = server
                .get(&format!("/og/post.png?title=Hi&size={size}&scale={scale}"))
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{size}: {}", reply.text());
            assert_eq!(
                png_size(&reply.body),
                (width * scale, height * scale),
                "{size}"
            );
        }
    }
    // Naming the default size is the same image as naming none: one cache entry, one ETag.
    let plain = server.get("/og/post.png?title=Hi").await;
    let named = server.get("/og/post.png?title=Hi&size=og").await;
    let square = server.get("/og/post.png?title=Hi&size=square").await;
    assert_eq!(plain.header("etag"), named.header("etag"));
    assert_ne!(plain.header("etag"), square.header("etag"));
    assert_eq!(plain.body, named.body);

    // An unknown size names the ones there are; a template with one size calls it default.
    for (path, expected) in [
        (
            "/og/post.png?title=Hi&size=banner",
            r#"size: expected one of og, square, story, got "banner""#,
        ),
        (
            "/og/card-a.png?title=Hi&size=square",
            r#"size: expected one of default, got "square""#,
        ),
    ] {
        let reply = server.get(path).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(reply.text(), format!("{expected}\n"), "{path}");
        assert_eq!(reply.header("cache-control"), "no-store");
    }
    let card_a = server.get("/og/card-a.png?title=Hi&size=default").await;
    assert_eq!(png_size(&card_a.body), (1200, 630));
    server.stop().await;
}

#[tokio::test]
async fn templates_lists_every_size_with_a_url_that_draws_it() {
    let server = TestServer::start().await;
    let listed: Value = serde_json::from_slice(&server.get("/templates").await.body).unwrap();
    let templates = listed["templates"].as_array().unwrap();
    for template in templates {
        let name = template["name"].as_str().unwrap();
        let sizes = template["sizes"].as_object().unwrap();
        let default = template["default_size"].as_str().unwrap();
        assert_eq!(sizes[default]["width"], template["width"], "{name}");
        assert_eq!(sizes[default]["height"], template["height"], "{name}");
        for (size, listed) in sizes {
            let url = listed["example_url"].as_str().unwrap();
            let reply = server.get(url).await;
            assert_eq!(reply.status, StatusCode::OK, "{url}: {}", reply.text());
            let expected = (
                listed["width"].as_u64().unwrap() as u32,
                listed["height"].as_u64().unwrap() as u32,
            );
            assert_eq!(png_size(&reply.body), expected, "{name} at {size}");
        }
    }
    let post = templates.iter().find(|t| t["name"] == "post").unwrap();
    let names: Vec<&String> = post["sizes"].as_object().unwrap().keys().collect();
    assert_eq!(names, ["og", "square", "story"]);
    assert_eq!(post["default_size"], "og");
    server.stop().await;
}

#[tokio::test]
async fn json_answers_give_every_sizes_url() {
    let server = TestServer::start().await;
    let headers = [
        ("content-type", "application/json"),
        ("accept", "application/json"),
    ];
    let body = json!({
        "template": "post",
        "format": "jpg",
        "params": {"title": "Sizes", "size": "square", "scale": 0.5},
    });
    let reply = server.post("/render", &headers, body.to_string()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let answer: Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(answer["size"], "square");
    assert_eq!(
        (answer["width"].as_u64(), answer["height"].as_u64()),
        (Some(540), Some(540))
    );
    assert_eq!(answer["url"], answer["sizes"]["square"]["url"]);
    let sizes = answer["sizes"].as_object().unwrap();
    assert_eq!(sizes.len(), 3);
    for (size, width, height) in POST_SIZES {
        let listed = &sizes[size];
        // At the request's scale, in the request's format.
        let expected = (width / 2, height / 2);
        let stated = (
            listed["width"].as_u64().unwrap(),
            listed["height"].as_u64().unwrap(),
        );
        assert_eq!(
            stated,
            (u64::from(expected.0), u64::from(expected.1)),
            "{size}"
        );
        let url = listed["url"].as_str().unwrap();
        let image = server.get(path_of(url, &server)).await;
        assert_eq!(image.status, StatusCode::OK, "{url}: {}", image.text());
        assert_eq!(image.header("content-type"), "image/jpeg");
        assert_eq!(support::jpeg_size(&image.body), expected, "{url}");
        // The default size's URL does not name it.
        assert_eq!(url.contains("size="), size != "og", "{url}");
    }

    // The layered API takes the size beside its layers and answers the same list.
    let body = json!({
        "size": "story",
        "params": [{"name": "title", "text": "A story"}],
    });
    let reply = server
        .post("/templates/post/images", &headers, body.to_string())
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let answer: Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(
        (answer["width"].as_u64(), answer["height"].as_u64()),
        (Some(1080), Some(1920))
    );
    assert_eq!(answer["imageUrl"], answer["sizes"]["story"]["url"]);
    let thumbnail = server
        .get(path_of(answer["thumbnailUrl"].as_str().unwrap(), &server))
        .await;
    assert!(png_size(&thumbnail.body).0 <= 400);
    let square = server
        .get(path_of(
            answer["sizes"]["square"]["url"].as_str().unwrap(),
            &server,
        ))
        .await;
    assert_eq!(png_size(&square.body), (1080, 1080));

    // A size the template lacks is a 400 with the same line as a URL gets.
    let body = json!({"template": "post", "params": {"title": "x", "size": "huge"}});
    let reply = server.post("/render", &headers, body.to_string()).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let error: Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(
        error["error"],
        r#"size: expected one of og, square, story, got "huge""#
    );
    server.stop().await;
}

#[test]
fn render_and_batch_take_a_size() {
    let dir = support::scratch_dir("sizes-cli");
    let story = dir.join("story.png");
    let out = crate::cli::vellum(&[
        "render",
        "post",
        "title=Story",
        "size=story",
        "-o",
        story.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", crate::cli::stderr(&out));
    assert_eq!(png_size(&std::fs::read(&story).unwrap()), (1080, 1920));

    // --size for every row, or a size column per row (which --size must not contradict).
    let rows = dir.join("rows.csv");
    std::fs::write(&rows, "title,size\nOne,square\nTwo,story\nThree,\n").unwrap();
    let templates = support::root().join("templates");
    let by_column = dir.join("by-column");
    let out = crate::batch::vellum_batch(
        &templates,
        &[
            "post",
            rows.to_str().unwrap(),
            "-o",
            by_column.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", crate::batch::stderr(&out));
    let sizes: Vec<(u32, u32)> = (1..=3)
        .map(|row| png_size(&std::fs::read(by_column.join(format!("{row}.png"))).unwrap()))
        .collect();
    assert_eq!(sizes, [(1080, 1080), (1080, 1920), (1200, 630)]);

    let titles = dir.join("titles.csv");
    std::fs::write(&titles, "title\nOne\nTwo\n").unwrap();
    let flagged = dir.join("flagged");
    let out = crate::batch::vellum_batch(
        &templates,
        &[
            "post",
            titles.to_str().unwrap(),
            "-o",
            flagged.to_str().unwrap(),
            "--size",
            "square",
        ],
    );
    assert!(out.status.success(), "{}", crate::batch::stderr(&out));
    for row in 1..=2 {
        let png = std::fs::read(flagged.join(format!("{row}.png"))).unwrap();
        assert_eq!(png_size(&png), (1080, 1080));
    }
}

#[test]
fn a_size_may_have_its_own_background() {
    let dir = support::scratch_dir("sizes-backgrounds");
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    for (name, fill) in [("red.svg", "#ff0000"), ("blue.svg", "#0000ff")] {
        let svg = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10" fill="{fill}"/></svg>"#
        );
        std::fs::write(dir.join("assets").join(name), svg).unwrap();
    }
    std::fs::write(
        dir.join("t.toml"),
        "default_size = \"wide\"\nbackground = \"red.svg\"\n\
         [sizes.wide]\nwidth = 60\nheight = 20\n\
         [sizes.tall]\nwidth = 20\nheight = 60\nbackground = \"blue.svg\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("t.svg"),
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{{ width }}" height="{{ height }}"/>"#,
    )
    .unwrap();
    let mut config = vellum::EngineConfig::bundled(&support::root());
    config.templates_dir = dir;
    let engine = vellum::Engine::new(config).unwrap();
    for (size, expected, dims) in [
        ("wide", [255, 0, 0, 255], (60, 20)),
        ("tall", [0, 0, 255, 255], (20, 60)),
    ] {
        let job = engine
            .prepare_pairs("t", vellum::Format::Png, vec![("size".into(), size.into())])
            .unwrap();
        let png = decode_png(&engine.render(&job).unwrap().bytes);
        assert_eq!((png.width, png.height), dims, "{size}");
        assert_eq!(png.at(dims.0 / 2, dims.1 / 2), expected, "{size}");
    }
}
