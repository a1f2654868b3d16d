//! Request values are text, never markup: they cannot add elements, read files or run code.

use hyper::StatusCode;

use crate::support::{self, TestServer, decode_png};

/// Every text string the parsed SVG will draw, and whether it holds any image element.
fn texts_and_images(svg: &str) -> (Vec<String>, bool) {
    fn walk(group: &usvg::Group, texts: &mut Vec<String>, images: &mut bool) {
        for node in group.children() {
            match node {
                usvg::Node::Group(g) => walk(g, texts, images),
                usvg::Node::Text(t) => {
                    texts.push(t.chunks().iter().map(|c| c.text()).collect());
                }
                usvg::Node::Image(_) => *images = true,
                usvg::Node::Path(_) => {}
            }
        }
    }
    let engine = support::bundled_engine();
    let tree = usvg::Tree::from_str(svg, engine.usvg_options()).expect("output is valid svg");
    let (mut texts, mut images) = (Vec::new(), false);
    walk(tree.root(), &mut texts, &mut images);
    (texts, images)
}

/// Pixels in the title band that differ between two renders.
fn title_band_difference(a: &[u8], b: &[u8]) -> usize {
    let (a, b) = (decode_png(a), decode_png(b));
    let mut differing = 0;
    for y in 140..380 {
        for x in 80..1120 {
            if a.at(x, y) != b.at(x, y) {
                differing += 1;
            }
        }
    }
    differing
}

const HOSTILE: [&str; 4] = [
    r#"</text><image href="/etc/passwd"/><text>"#,
    "<script>alert(1)</script>",
    r#"" onload="alert(1)"#,
    "{{ 7 * 7 }} {% raw %}&amp; ]]> <!--",
];

#[tokio::test]
async fn markup_in_a_value_is_drawn_as_text_and_escaped_in_svg_output() {
    let server = TestServer::start().await;
    let blank = server.get("/og/post.png?title=%20").await;
    for hostile in HOSTILE {
        let query = serde_urlencoded::to_string([("title", hostile)]).unwrap();
        let svg = server.get(&format!("/og/post.svg?{query}")).await;
        assert_eq!(svg.status, StatusCode::OK, "{hostile}");
        assert!(
            !svg.text().contains(hostile),
            "raw value leaked into the svg: {hostile}"
        );
        let (texts, has_image) = texts_and_images(svg.text());
        // The title may wrap over several lines; compare without the whitespace between them.
        let squeeze = |s: &str| s.split_whitespace().collect::<String>();
        assert!(
            texts.iter().any(|t| squeeze(t) == squeeze(hostile)),
            "{hostile} not drawn as text: {texts:?}"
        );
        assert!(!has_image, "{hostile} added an image element");

        let png = server.get(&format!("/og/post.png?{query}")).await;
        assert_eq!(png.status, StatusCode::OK);
        let ink = title_band_difference(&png.body, &blank.body);
        assert!(ink > 2_000, "{hostile}: only {ink} title pixels drawn");
    }
    // Short enough for one line, so the escaped form appears whole.
    let escaped = server
        .get("/og/post.svg?title=%3Cimage%20href%3D%22%2Fetc%2Fpasswd%22%2F%3E")
        .await;
    let text = escaped.text();
    assert!(
        text.contains("&lt;image href=&quot;/etc/passwd&quot;/&gt;"),
        "{text}"
    );
    assert!(!text.contains("<image"), "{text}");
}

#[test]
fn no_bundled_template_marks_a_value_safe() {
    for entry in std::fs::read_dir(support::root().join("templates")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "svg") {
            let text = std::fs::read_to_string(&path).unwrap();
            let squeezed: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            assert!(
                !squeezed.contains("|safe"),
                "{} uses | safe",
                path.display()
            );
        }
    }
}

#[test]
fn the_parser_never_reads_local_files() {
    let engine = support::bundled_engine();
    let svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">
             <image href="{}" width="10" height="10"/>
             <image href="file:///etc/hostname" width="10" height="10"/>
           </svg>"#,
        support::root().join("tests/golden/post.png").display()
    );
    let tree = vellum::raster::parse(&svg, engine.usvg_options(), 1000).unwrap();
    assert!(
        tree.root().children().is_empty(),
        "an image was loaded from disk"
    );
    let dtd = r#"<!DOCTYPE svg [<!ENTITY a "aaaaaaaa">]><svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"><text>&a;</text></svg>"#;
    assert!(
        vellum::raster::parse(dtd, engine.usvg_options(), 1000).is_err(),
        "DTDs are refused"
    );
}
