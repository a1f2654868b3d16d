//! PDF output, read back with poppler's tools (`.ci/run` installs `poppler-utils`): the text
//! is there to extract (a Japanese name included), the page is the template's size, the page
//! drawn at 96 dpi matches the PNG render, and colour emoji are drawn.

use std::path::{Path, PathBuf};
use std::process::Command;

use hyper::StatusCode;

use crate::support::{self, Pixels, TestServer, decode_png};

/// Runs a poppler tool on the file `pdf`, returning what it printed.
fn poppler(tool: &str, args: &[&str], pdf: &Path) -> Vec<u8> {
    let mut command = Command::new(tool);
    command.args(args).arg(pdf);
    if tool == "pdftotext" {
        command.arg("-"); // to standard output
    }
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{tool} runs (apt-get install poppler-utils): {e}"));
    assert!(
        output.status.success(),
        "{tool}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// Where a file called `name` goes: a directory a person can open after a failure.
fn out_path(name: &str) -> PathBuf {
    let dir = support::root().join("target/pdf-compare");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// `bytes` saved as `name` there.
fn save(name: &str, bytes: &[u8]) -> PathBuf {
    let path = out_path(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// The PDF's first page drawn at 96 dpi (one pixel per template unit).
fn page_pixels(pdf: &Path) -> Pixels {
    decode_png(&poppler(
        "pdftoppm",
        &["-png", "-r", "96", "-singlefile"],
        pdf,
    ))
}

/// Checks that a PDF page drawn at 96 dpi matches the PNG render: few pixels differ by more
/// than a quarter of the range. Anti-aliasing differs between poppler and resvg along every
/// edge; a missing or moved word or a wrong face differs far more (a name alone covers about
/// 1% of a certificate). On failure the page and a diff go to `target/pdf-compare/`.
fn assert_same_picture(name: &str, page: &Pixels, png: &Pixels) {
    assert_eq!(
        (page.width, page.height),
        (png.width, png.height),
        "{name}: page size in pixels"
    );
    let (differing, diff) = crate::golden::compare(png, page, 64);
    let share = differing as f64 / f64::from(page.width * page.height);
    if share > 0.006 {
        let page_path = out_path(&format!("{name}.page.png"));
        crate::golden::write_png(&page_path, &page.rgba, page.width, page.height);
        let diff_path = out_path(&format!("{name}.diff.png"));
        crate::golden::write_png(&diff_path, &diff, page.width, page.height);
        panic!(
            "{name}: {share:.4} of the PDF page's pixels differ from the PNG; page: {}, diff: {}",
            page_path.display(),
            diff_path.display()
        );
    }
}

async fn get_ok(server: &TestServer, url: &str) -> crate::support::Reply {
    let reply = server.get(url).await;
    assert_eq!(reply.status, StatusCode::OK, "{url}: {}", reply.text());
    reply
}

#[tokio::test]
async fn a_certificate_pdf_has_the_name_as_text_the_page_size_and_the_png_s_pixels() {
    let server = TestServer::start().await;
    let query = "recipient=%E5%B1%B1%E7%94%B0%20%E5%A4%AA%E9%83%8E%20Yamada&achievement=Rust%20for%20printers&date=1%20December%202026";
    let pdf = get_ok(&server, &format!("/og/certificate.pdf?{query}")).await;
    assert_eq!(pdf.header("content-type"), "application/pdf");
    assert!(pdf.header("etag").starts_with('"'));
    assert!(pdf.body.starts_with(b"%PDF-"));
    let file = save("certificate.pdf", &pdf.body);

    let text = String::from_utf8(poppler("pdftotext", &[], &file)).unwrap();
    assert!(text.contains("山田 太郎 Yamada"), "{text}");
    assert!(text.contains("Rust for printers"), "{text}");

    // 1200x848 template units at 96 per inch: 900x636 points, A4 landscape's proportions.
    let info = String::from_utf8(poppler("pdfinfo", &[], &file)).unwrap();
    assert!(info.contains("Page size:       900 x 636 pts"), "{info}");
    assert!(info.contains("Pages:           1"), "{info}");

    let png = get_ok(&server, &format!("/og/certificate.png?{query}")).await;
    assert_same_picture("certificate", &page_pixels(&file), &decode_png(&png.body));

    // The same URL, the same bytes (the second from the cache; a new server renders again).
    let again = get_ok(&server, &format!("/og/certificate.pdf?{query}")).await;
    assert_eq!(again.body, pdf.body);
    server.stop().await;
    let fresh = TestServer::start().await;
    let rendered = get_ok(&fresh, &format!("/og/certificate.pdf?{query}")).await;
    assert_eq!(
        rendered.body, pdf.body,
        "PDF bytes depend only on the request"
    );
    fresh.stop().await;
}

#[tokio::test]
async fn a_pdf_draws_colour_emoji_and_every_template_renders_as_pdf() {
    let server = TestServer::start().await;
    let query = "title=%F0%9F%8E%89%F0%9F%8E%89%F0%9F%8E%89%20Launch%20day&theme=light";
    let pdf = get_ok(&server, &format!("/og/post.pdf?{query}")).await;
    let file = save("post-emoji.pdf", &pdf.body);
    let page = page_pixels(&file);
    let png = decode_png(&get_ok(&server, &format!("/og/post.png?{query}")).await.body);
    assert_same_picture("post-emoji", &page, &png);
    // The party poppers are orange and yellow: strongly saturated pixels in the title.
    let saturated = (0..page.height)
        .flat_map(|y| (0..page.width).map(move |x| (x, y)))
        .filter(|&(x, y)| {
            let [r, g, b, _] = page.at(x, y);
            r > 200 && b < 90 && g > 100
        })
        .count();
    assert!(
        saturated > 500,
        "only {saturated} emoji-coloured pixels in the PDF page"
    );

    // Every bundled template, with its examples, as a one-page PDF.
    let templates: serde_json::Value =
        serde_json::from_slice(&server.get("/templates").await.body).unwrap();
    for template in templates["templates"].as_array().unwrap() {
        let url = template["example_url"]
            .as_str()
            .unwrap()
            .replace(".png?", ".pdf?");
        let pdf = get_ok(&server, &url).await;
        let file = save("example.pdf", &pdf.body);
        let info = String::from_utf8(poppler("pdfinfo", &[], &file)).unwrap();
        let (w, h) = (
            template["width"].as_f64().unwrap(),
            template["height"].as_f64().unwrap(),
        );
        let size = format!("Page size:       {} x {} pts", w * 0.75, h * 0.75);
        assert!(info.contains(&size), "{url}: {info}");
    }

    // Output options: scale enlarges the page; JPEG and PNG settings do not apply.
    let big = get_ok(&server, "/og/post.pdf?title=Hi&scale=2").await;
    let info = String::from_utf8(poppler("pdfinfo", &[], &save("big.pdf", &big.body))).unwrap();
    assert!(info.contains("Page size:       1800 x 945 pts"), "{info}");
    let reply = server.get("/og/post.pdf?title=Hi&quality=80").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.text(),
        "quality: only applies to .jpg and .webp output\n"
    );
    server.stop().await;
}

#[test]
fn a_batch_pdf_has_one_page_per_row_in_row_order() {
    let dir = support::scratch_dir("pdf-book");
    let data = dir.join("class.csv");
    std::fs::write(
        &data,
        "recipient,achievement\n山田 太郎,Rust\nAda Lovelace,Engines 🎉\n,no name\nGrace Hopper,COBOL\n",
    )
    .unwrap();
    let out = dir.join("out");
    let templates = support::root().join("templates");
    let (data, out_dir) = (data.to_str().unwrap(), out.to_str().unwrap());
    let args = ["certificate", data, "-o", out_dir, "--pdf", "class.pdf"];
    let run = crate::batch::vellum_batch(&templates, &args);
    let stderr = String::from_utf8_lossy(&run.stderr);
    // The row without a name fails with its line; the others are pages.
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("class.csv:4: missing required parameter \"recipient\""),
        "{stderr}"
    );
    let book = out.join("class.pdf");
    let info = String::from_utf8(poppler("pdfinfo", &[], &book)).unwrap();
    assert!(info.contains("Pages:           3"), "{info}");
    let text = String::from_utf8(poppler("pdftotext", &[], &book)).unwrap();
    let pages: Vec<&str> = text
        .split('\u{c}')
        .filter(|p| !p.trim().is_empty())
        .collect();
    assert_eq!(pages.len(), 3, "{text}");
    for (page, name) in pages
        .iter()
        .zip(["山田 太郎", "Ada Lovelace", "Grace Hopper"])
    {
        assert!(page.contains(name), "{name} not on its page: {page}");
    }
    let report = std::fs::read_to_string(out.join("manifest.csv")).unwrap();
    assert_eq!(
        report
            .lines()
            .filter(|l| l.contains(",class.pdf,rendered,"))
            .count(),
        3,
        "{report}"
    );
}
