//! Small helpers: start a server, make requests, decode images.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use vellum::server::{Server, ServerConfig};
use vellum::state::State;
use vellum::{Engine, EngineConfig};

/// The repository root, where the bundled `templates/` and `fonts/` live.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// An engine over the bundled templates and fonts.
pub fn bundled_engine() -> Engine {
    Engine::new(EngineConfig::bundled(&root())).expect("bundled templates load")
}

/// A running server; dropped at the end of the test with its runtime.
pub struct TestServer {
    pub addr: SocketAddr,
    pub state: Arc<State>,
    client: Client<HttpConnector, Full<Bytes>>,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

/// A response with its body read.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("ascii header"))
            .unwrap_or_else(|| panic!("no {name} header"))
    }

    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("utf-8 body")
    }
}

impl TestServer {
    /// Starts a server over the bundled templates.
    pub async fn start() -> TestServer {
        TestServer::start_with(EngineConfig::bundled(&root()), ServerConfig::default()).await
    }

    pub async fn start_with(engine: EngineConfig, config: ServerConfig) -> TestServer {
        let engine = Engine::new(engine).expect("templates load");
        TestServer::start_engine(engine, config).await
    }

    /// Starts `vellum dev` over `templates` (and the bundled fonts): the studio, loading
    /// leniently, with the watcher that reloads it (dropped, it stops watching).
    pub async fn start_dev(
        templates: &Path,
        mut config: ServerConfig,
    ) -> (TestServer, notify::RecommendedWatcher) {
        let mut engine_config = EngineConfig::bundled(&root());
        engine_config.templates_dir = templates.to_path_buf();
        let dirs = [templates.to_path_buf(), root().join("fonts")];
        let (engine, problems) = Engine::new_lenient(engine_config).expect("fonts load");
        config.studio = Some(Arc::new(vellum::studio::Studio::new(problems)));
        let server = TestServer::start_engine(engine, config).await;
        let watcher = vellum::studio::watch::watch(server.state.clone(), &dirs).expect("watch");
        (server, watcher)
    }

    async fn start_engine(engine: Engine, config: ServerConfig) -> TestServer {
        let engine = Arc::new(engine);
        let server = Server::bind("127.0.0.1:0".parse().unwrap(), engine, config)
            .await
            .expect("bind loopback");
        let addr = server.local_addr().unwrap();
        let state = server.state();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async {
            let _ = rx.await;
        }));
        TestServer {
            addr,
            state,
            client: Client::builder(TokioExecutor::new()).build_http(),
            shutdown: tx,
            task,
        }
    }

    /// Asks the server to shut down and waits until it has.
    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        tokio::time::timeout(Duration::from_secs(15), self.task)
            .await
            .expect("server stopped within 15 s")
            .expect("server task did not panic");
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.request(Method::GET, path, &[]).await
    }

    pub async fn request(&self, method: Method, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.send(method, path, headers, Bytes::new()).await
    }

    /// `POST` with `body`.
    pub async fn post(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Reply {
        self.send(Method::POST, path, headers, body.into()).await
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Reply {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("http://{}{}", self.addr, path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let response = tokio::time::timeout(
            Duration::from_secs(60),
            self.client.request(req.body(Full::new(body)).unwrap()),
        )
        .await
        .expect("request finished within 60 s")
        .expect("request succeeded");
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("body read").to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    pub fn renders(&self) -> u64 {
        self.state.engine().render_count()
    }
}

/// Decoded RGBA pixels.
pub struct Pixels {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
}

impl Pixels {
    pub fn at(&self, x: u32, y: u32) -> [u8; 4] {
        let i = ((y * self.width + x) * 4) as usize;
        self.rgba[i..i + 4].try_into().unwrap()
    }
}

/// Asserts that each of `lines` is a whole line of `text`.
pub fn assert_has_lines(text: &str, lines: &[&str]) {
    for line in lines {
        assert!(
            text.lines().any(|l| l == *line),
            "missing {line:?} in\n{text}"
        );
    }
}

/// The value of metric `name` (a counter's `_total` included) in `/metrics` text; panics,
/// showing the text, when it is missing.
pub fn metric(text: &str, name: &str) -> u64 {
    (text.lines())
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
}

/// Decodes a PNG into RGBA, whatever its colour type.
pub fn decode_png(bytes: &[u8]) -> Pixels {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().expect("valid png header");
    let mut buf = vec![0; reader.output_buffer_size().expect("sane size")];
    let info = reader.next_frame(&mut buf).expect("valid png data");
    buf.truncate(info.buffer_size());
    let rgba = match info.color_type {
        png::ColorType::Rgba => buf,
        png::ColorType::Rgb => buf
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        other => panic!("unexpected png colour type {other:?}"),
    };
    Pixels {
        width: info.width,
        height: info.height,
        rgba,
    }
}

/// Width and height of a JPEG.
pub fn jpeg_size(bytes: &[u8]) -> (u32, u32) {
    let mut decoder = zune_jpeg::JpegDecoder::new(std::io::Cursor::new(bytes));
    decoder.decode().expect("valid jpeg");
    let info = decoder.info().expect("jpeg info");
    (u32::from(info.width), u32::from(info.height))
}

/// Width and height of a WebP, after decoding it fully.
pub fn webp_size(bytes: &[u8]) -> (u32, u32) {
    let mut decoder =
        image_webp::WebPDecoder::new(std::io::Cursor::new(bytes)).expect("valid webp header");
    let mut buf = vec![0; decoder.output_buffer_size().expect("sane size")];
    decoder.read_image(&mut buf).expect("valid webp data");
    decoder.dimensions()
}

/// Copies the bundled templates (and their assets) into a directory the test may edit.
pub fn copy_templates(to: &Path) {
    copy_dir(&root().join("templates"), to);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// Writes template `t` into `dir`: it loads, but its `text_box` fails at render time when
/// `w=0` (a Tera runtime error).
pub fn write_failing_template(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("t.toml"),
        "width = 100\nheight = 40\n[params.w]\ntype = \"number\"\nmin = 0\nmax = 100\ndefault = 50\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("t.svg"),
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="100" height="40">{{ text_box(text="Hi", x=0, y=0, width=w, max_lines=1, font_size=10) }}</svg>"#,
    )
    .unwrap();
}

/// A fresh scratch directory under `target/`, emptied first.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = root().join("target").join("test-scratch").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
