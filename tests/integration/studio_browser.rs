//! The studio in real headless Chromium (Debian's `chromium` and `chromium-driver`, driven
//! over WebDriver): the gallery's thumbnails load, typing changes the preview's pixels, a bad
//! value shows the server's message beside its field, every input is labelled, and a file
//! edited on disk updates an open page without a reload (a broken edit keeps the last good
//! image). Screenshots go to `target/studio-screens/` for a person to look at.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::Value;
use vellum::server::ServerConfig;

use crate::support::{self, TestServer};

/// A headless Chromium session and the chromedriver behind it (killed on drop).
struct Browser {
    client: Client,
    driver: Child,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Browser {
    async fn start() -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver runs (apt-get install chromium chromium-driver)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver listens within 20 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1400,1100"],
            }),
        );
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session");
        Browser { client, driver }
    }

    async fn js(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    /// Polls `script` until it returns something other than `null` or `false`, for up to
    /// `seconds`; returns that value.
    async fn wait_for(&self, what: &str, seconds: u64, script: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        loop {
            let value = self.js(script).await;
            if !matches!(value, Value::Null | Value::Bool(false)) {
                return value;
            }
            assert!(Instant::now() < deadline, "{what} within {seconds} s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(screens().join(name), png).unwrap();
    }
}

fn screens() -> PathBuf {
    let dir = support::root().join("target/studio-screens");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A checksum of the preview's pixels, or `null` before it has loaded.
const PREVIEW_DIGEST: &str = r#"
const img = document.getElementById('preview');
if (!img || !img.complete || img.naturalWidth === 0) return null;
const c = document.createElement('canvas');
c.width = img.naturalWidth; c.height = img.naturalHeight;
const ctx = c.getContext('2d');
ctx.drawImage(img, 0, 0);
const d = ctx.getImageData(0, 0, c.width, c.height).data;
let h = 0;
for (let i = 0; i < d.length; i += 4) h = (h * 31 + d[i] + d[i + 1] * 7 + d[i + 2] * 13) | 0;
return String(h);
"#;

/// The preview's pixel at (60, 30) as "r,g,b", or `null` before it has loaded.
const PREVIEW_CORNER: &str = r#"
const img = document.getElementById('preview');
if (!img || !img.complete || img.naturalWidth === 0) return null;
const c = document.createElement('canvas');
c.width = img.naturalWidth; c.height = img.naturalHeight;
const ctx = c.getContext('2d');
ctx.drawImage(img, 0, 0);
const p = ctx.getImageData(60, 30, 1, 1).data;
return `${p[0]},${p[1]},${p[2]}`;
"#;

async fn studio(name: &str) -> (TestServer, notify::RecommendedWatcher, PathBuf) {
    let templates = support::scratch_dir(name).join("templates");
    support::copy_templates(&templates);
    let (server, watcher) = TestServer::start_dev(&templates, ServerConfig::default()).await;
    (server, watcher, templates)
}

#[tokio::test]
async fn the_gallery_shows_every_template_with_a_thumbnail() {
    let (server, _watch, _) = studio("browser-gallery").await;
    let browser = Browser::start().await;
    browser
        .client
        .goto(&format!("http://{}/", server.addr))
        .await
        .unwrap();
    let names = browser
        .wait_for(
            "every thumbnail loaded",
            10,
            r#"
            const imgs = [...document.querySelectorAll('.gallery img')];
            if (imgs.length === 0 || !imgs.every((i) => i.complete && i.naturalWidth > 0)) return null;
            return [...document.querySelectorAll('.gallery h2')].map((h) => h.textContent);
            "#,
        )
        .await;
    assert_eq!(
        names,
        serde_json::json!(["card-a", "certificate", "post", "product", "travel"])
    );
    browser.screenshot("gallery.png").await;
    browser.client.clone().close().await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn a_template_page_previews_as_you_type_and_reloads_by_itself() {
    let (server, _watch, templates) = studio("browser-page").await;
    let browser = Browser::start().await;
    let client = &browser.client;
    client
        .goto(&format!("http://{}/studio/post", server.addr))
        .await
        .unwrap();
    let first = browser
        .wait_for("the first preview", 10, PREVIEW_DIGEST)
        .await;

    // Every control has a label (or an aria-label, for the colour pickers).
    let unlabelled = browser
        .js(
            r#"return [...document.querySelectorAll('input, select, textarea')]
            .filter((e) => e.labels.length === 0 && !e.getAttribute('aria-label'))
            .map((e) => e.id || e.name || e.type);"#,
        )
        .await;
    assert_eq!(unlabelled, serde_json::json!([]));

    // Typing a title changes the preview's pixels within 2 s.
    let title = client.find(Locator::Css("#f-title")).await.unwrap();
    title.clear().await.unwrap();
    title.send_keys("Typed in the studio").await.unwrap();
    let typed = browser
        .wait_for(
            "the preview to change",
            2,
            &format!("const d = (() => {{ {PREVIEW_DIGEST} }})(); return d !== {first} && d;"),
        )
        .await;
    assert_ne!(typed, first);
    browser.screenshot("template-page.png").await;
    browser
        .js("document.querySelector('.shares').scrollIntoView(); return null;")
        .await;
    let shares = client.find(Locator::Css(".shares")).await.unwrap();
    std::fs::write(
        screens().join("share-previews.png"),
        shares.screenshot().await.unwrap(),
    )
    .unwrap();

    // The outline draws the fitted boxes over the preview; the format switch renders SVG.
    client
        .find(Locator::Css("#o-outline"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let boxes = browser
        .wait_for(
            "the outline",
            3,
            "const n = document.querySelectorAll('.boxes .box').length; return n > 0 && n;",
        )
        .await;
    // post.svg draws five: title, subtitle, author badge, author, site.
    assert_eq!(boxes, Value::from(5));
    client
        .execute(
            "const f = document.getElementById('o-format'); f.value = 'svg'; \
             f.dispatchEvent(new Event('change')); return null;",
            vec![],
        )
        .await
        .unwrap();
    browser
        .wait_for(
            "the SVG preview",
            3,
            "return document.getElementById('info').textContent.startsWith('1200×630') \
             && document.querySelector('#snippet-0 code').textContent.includes('/og/post.svg?');",
        )
        .await;

    // The size switch draws the card at the size picked, and the snippets say so.
    for (size, expected) in [("square", "1080×1080"), ("og", "1200×630")] {
        browser
            .js(&format!(
                "const s = document.getElementById('o-size'); s.value = '{size}'; \
                 s.dispatchEvent(new Event('change')); return null;"
            ))
            .await;
        // The default size stays out of the URL.
        let in_url = match size {
            "og" => "!document.querySelector('#snippet-0 code').textContent.includes('size=')",
            _ => "document.querySelector('#snippet-0 code').textContent.includes('size=square')",
        };
        browser
            .wait_for(
                &format!("the {size} preview"),
                3,
                &format!(
                    "return document.getElementById('info').textContent.startsWith('{expected}') \
                     && {in_url};"
                ),
            )
            .await;
    }

    // An invalid colour shows the server's own message beside the colour field.
    let color = client.find(Locator::Css("#f-color")).await.unwrap();
    color.clear().await.unwrap();
    color.send_keys("bluish").await.unwrap();
    let expected = server.get("/og/post.png?title=x&color=bluish").await;
    let expected = expected.text().trim().to_string();
    let shown = browser
        .wait_for(
            "the colour error",
            3,
            &format!(
                "const t = document.getElementById('f-color-error').textContent; return t === {} && t;",
                serde_json::to_string(&expected).unwrap()
            ),
        )
        .await;
    assert_eq!(shown, Value::String(expected));
    color.clear().await.unwrap();
    color.send_keys("#1e40af").await.unwrap();
    browser
        .wait_for(
            "the error to clear",
            3,
            "return document.getElementById('f-color-error').textContent === '';",
        )
        .await;

    // Saving the template on disk updates the open page, with no page load.
    browser
        .js("window.stillTheSamePage = true; return null;")
        .await;
    let svg = templates.join("post.svg");
    let original = std::fs::read_to_string(&svg).unwrap();
    let red = original.replacen(
        "</svg>",
        r##"<rect x="0" y="0" width="1200" height="60" fill="#ff0000"/></svg>"##,
        1,
    );
    std::fs::write(&svg, &red).unwrap();
    browser
        .wait_for(
            "the edit in the preview",
            5,
            &format!("return (() => {{ {PREVIEW_CORNER} }})() === '255,0,0';"),
        )
        .await;
    assert_eq!(
        browser.js("return window.stillTheSamePage === true;").await,
        Value::Bool(true)
    );

    // A broken edit shows the error, and the last good image stays.
    std::fs::write(
        &svg,
        red.replacen("fill=\"#ff0000\"/>", "fill=\"#ff0000\"><", 1),
    )
    .unwrap();
    let problem = browser
        .wait_for(
            "the load error",
            5,
            "const p = document.getElementById('problems'); return !p.hidden && p.textContent;",
        )
        .await;
    let problem = problem.as_str().unwrap();
    assert!(
        problem.contains("post.svg: line ") && problem.contains("last good version"),
        "{problem}"
    );
    // The page asks for the preview again on every notice; once it has loaded (null while
    // it loads), it is the last good version's.
    let shown = browser
        .wait_for(
            "the preview after the broken edit",
            5,
            &format!("return (() => {{ {PREVIEW_CORNER} }})();"),
        )
        .await;
    assert_eq!(shown, Value::String("255,0,0".into()));
    browser.js("window.scrollTo(0, 0); return null;").await;
    browser.screenshot("broken-edit.png").await;
    browser.client.clone().close().await.unwrap();
    server.stop().await;
}
