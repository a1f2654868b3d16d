//! The studio's routes, served only by `vellum dev`:
//!
//! | route | answer |
//! |---|---|
//! | `GET /`, `GET /studio/{name}` | the page (gallery, or one template's form and preview) |
//! | `GET /studio/assets/{file}` | its stylesheet and script |
//! | `GET /studio/api/status` | JSON: templates, load problems, reload version |
//! | `GET /studio/render/{name}.{ext}?...` | the image, unsigned and uncached, with its render time |
//! | `GET /studio/api/snippets/{name}.{ext}?...` | JSON: URL, `<img>`, meta tags, CLI, curl |
//! | `GET /studio/api/boxes/{name}?...` | JSON: the boxes of its fitted text |
//! | `GET /studio/events` | server-sent events: `reload` with the new version |
//!
//! Every page carries a `Content-Security-Policy` that allows nothing but this origin.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{Either, StreamBody};
use hyper::body::Frame;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::BroadcastStream;

use super::snippets::Card;
use super::{Notice, Studio};
use crate::error::RequestError;
use crate::format::Format;
use crate::response::{self, Body};
use crate::state::State;

const PAGE: &str = include_str!("page/studio.html");
const STYLE: &str = include_str!("page/studio.css");
const SCRIPT: &str = include_str!("page/studio.js");

/// Pages load only this origin's styles, scripts, images and JSON; nothing may frame them.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                   img-src 'self' blob: data:; connect-src 'self'; base-uri 'none'; \
                   form-action 'none'; frame-ancestors 'none'";

/// The answer for a studio path, or `None` for a path the studio does not serve.
pub async fn route(
    state: &Arc<State>,
    studio: &Studio,
    req: &Request<hyper::body::Incoming>,
) -> Option<Result<Response<Body>, RequestError>> {
    let path = req.uri().path();
    let query = req.uri().query().unwrap_or("");
    let is_page = path == "/" || path.starts_with("/studio/");
    if !is_page {
        return None;
    }
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return Some(Err(RequestError::MethodNotAllowed("GET, HEAD")));
    }
    let rest = path.strip_prefix("/studio/").unwrap_or("");
    Some(match rest.split_once('/') {
        _ if path == "/" => Ok(page(PAGE, "text/html; charset=utf-8")),
        Some(("assets", "studio.css")) => Ok(page(STYLE, "text/css; charset=utf-8")),
        Some(("assets", "studio.js")) => Ok(page(SCRIPT, "text/javascript; charset=utf-8")),
        Some(("api", "status")) => Ok(status(state, studio)),
        Some(("render", file)) => render(state, file, query).await,
        Some(("api", rest)) if rest.starts_with("snippets/") => {
            snippets(state, req, &rest["snippets/".len()..], query)
        }
        Some(("api", rest)) if rest.starts_with("boxes/") => {
            boxes(state, &rest["boxes/".len()..], query).await
        }
        None if rest == "events" => Ok(events(studio)),
        None if !rest.is_empty() => Ok(page(PAGE, "text/html; charset=utf-8")),
        _ => Err(RequestError::NotFound(path.to_string())),
    })
}

/// A page or one of its files, with the CSP and no caching (the studio is for editing).
fn page(body: &'static str, content_type: &'static str) -> Response<Body> {
    let body = Bytes::from_static(body.as_bytes());
    let mut response = response::typed(StatusCode::OK, body, content_type, "no-store");
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    response
}

/// Every template in service, the last reload's problems and version, and whether URLs
/// are signed.
fn status(state: &State, studio: &Studio) -> Response<Body> {
    let set = state.engine().templates();
    let templates: Vec<serde_json::Value> = set
        .iter()
        .map(|t| {
            let mut described = t.manifest.describe(&t.name, &t.version());
            let examples: serde_json::Map<String, serde_json::Value> = t
                .manifest
                .examples()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.into()))
                .collect();
            described["examples"] = examples.into();
            described
        })
        .collect();
    let body = serde_json::json!({
        "status": studio.status(),
        "signing": state.signer().enabled(),
        "templates": templates,
    });
    response::json(StatusCode::OK, body.to_string().into_bytes(), "no-store")
}

/// `post.png` -> (`post`, PNG), as the endpoint reads it.
fn name_and_format(file: &str) -> Result<(&str, Format), RequestError> {
    Format::split_file(file).map_err(|ext| RequestError::UnknownFormat(ext.into()))
}

/// The image, unsigned and never cached by the browser, with how long it took
/// (`Server-Timing`) and whether the server's cache had it.
async fn render(
    state: &Arc<State>,
    file: &str,
    query: &str,
) -> Result<Response<Body>, RequestError> {
    let started = Instant::now();
    let (name, format) = name_and_format(file)?;
    let job = state.engine().prepare(name, format, query)?;
    let etag = job.key().etag();
    let (image, served) = state.image(job).await?;
    let mut response = response::image(&image, &etag, "no-store");
    let timing = format!(
        "render;dur={:.1};desc=\"{}\"",
        started.elapsed().as_secs_f64() * 1000.0,
        served.as_str()
    );
    response.headers_mut().insert(
        "server-timing",
        HeaderValue::from_str(&timing).expect("ASCII timing"),
    );
    Ok(response)
}

/// The snippets for the card `file?query`, checked as the endpoint checks it.
fn snippets(
    state: &State,
    req: &Request<hyper::body::Incoming>,
    file: &str,
    query: &str,
) -> Result<Response<Body>, RequestError> {
    let (name, format) = name_and_format(file)?;
    let job = state.engine().prepare(name, format, query)?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
        .map_err(|e| RequestError::param(format!("malformed query: {e}")))?;
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    let origin = match state.public_url() {
        Some(base) => base.trim_end_matches('/').to_string(),
        None => format!("http://{host}"),
    };
    let card = Card {
        origin: &origin,
        template: name,
        version: &job.template().version(),
        format,
        pairs: &pairs,
        size: job.output_size(),
    };
    let body = serde_json::to_vec(&card.snippets(state.signer())).expect("strings serialise");
    Ok(response::json(StatusCode::OK, body, "no-store"))
}

/// The boxes of the card's fitted text, in template units, with the canvas size.
async fn boxes(
    state: &Arc<State>,
    name: &str,
    query: &str,
) -> Result<Response<Body>, RequestError> {
    let engine = state.engine();
    let job = engine.prepare(name, Format::Svg, query)?;
    let (width, height) = job.output_size();
    let job = state.fetch_images(job).await?;
    let boxes = tokio::task::spawn_blocking(move || engine.text_boxes(&job))
        .await
        .map_err(|e| RequestError::Internal(format!("outline task failed: {e}")))??;
    let body = serde_json::json!({ "width": width, "height": height, "boxes": boxes });
    Ok(response::json(
        StatusCode::OK,
        body.to_string().into_bytes(),
        "no-store",
    ))
}

/// Server-sent events: `reload` with the new version after every reload, until the server
/// shuts down. The browser reconnects by itself if the stream ends.
fn events(studio: &Studio) -> Response<Body> {
    let frame = |text: String| Ok::<_, Infallible>(Frame::data(Bytes::from(text)));
    let hello = tokio_stream::once(frame("retry: 1000\n\n".to_string()));
    let reloads = BroadcastStream::new(studio.subscribe())
        .take_while(|notice| !matches!(notice, Ok(Notice::Closing)))
        .map(move |notice| {
            // A page that fell behind only needs to know that something changed.
            let version = match notice {
                Ok(Notice::Reload(version)) => version.to_string(),
                _ => "latest".to_string(),
            };
            frame(format!("event: reload\ndata: {version}\n\n"))
        });
    let stream: response::Stream = StreamBody::new(Box::pin(hello.chain(reloads)));
    let mut response = Response::new(Either::Right(stream));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
