//! HTTP request handling: routing, the cache-then-render path, and response headers.
//!
//! | route | answer |
//! |---|---|
//! | `GET`/`HEAD /og/{name}[.png\|.jpg\|.webp\|.svg]` | the image (PNG without an extension) |
//! | `POST /render` | the image (or its URL as JSON) for a JSON body; see [`crate::post`] |
//! | `GET /templates` | JSON: every template and its params |
//! | `GET /healthz` | `ok`, never queued behind renders |
//! | `GET /metrics` | Prometheus text |

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::cache::{Flights, ImageCache};
use crate::encode::Format;
use crate::engine::{Engine, Image, Job};
use crate::error::RequestError;
use crate::metrics::Metrics;
use crate::server::ServerConfig;

/// The response body type.
pub type Body = Full<Bytes>;

/// `Cache-Control` for a card drawn with a fallback image.
const FALLBACK_CACHE_CONTROL: &str = "public, max-age=60";

/// CSP for `.svg` output: nothing may load or run, even when opened directly.
const SVG_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; sandbox";

/// Everything a request handler shares: the engine, the cache and the counters.
pub struct State {
    /// The engine (templates, fonts, limits).
    pub engine: Arc<Engine>,
    /// Finished images.
    pub cache: ImageCache,
    flights: Flights,
    render_slots: Arc<Semaphore>,
    render_wait: Duration,
    request_deadline: Duration,
    pub(crate) signer: crate::signing::Signer,
    fetcher: Option<Arc<crate::fetch::Fetcher>>,
    pub(crate) max_body_bytes: usize,
    pub(crate) public_url: Option<String>,
    cache_control: String,
    metrics: Metrics,
    next_request_id: AtomicU64,
}

impl State {
    /// Fresh state for `engine` under `config`.
    pub fn new(engine: Arc<Engine>, config: &ServerConfig) -> State {
        let cache = ImageCache::new(config.cache_bytes);
        State {
            engine,
            metrics: Metrics::new(&cache, config.fetcher.as_deref()),
            cache,
            flights: Flights::default(),
            render_slots: Arc::new(Semaphore::new(config.max_renders.max(1))),
            render_wait: config.render_wait,
            request_deadline: config.request_deadline,
            signer: config.signer.clone(),
            fetcher: config.fetcher.clone(),
            max_body_bytes: config.max_body_bytes,
            public_url: config.public_url.clone(),
            cache_control: format!("public, max-age={}, immutable", config.max_age),
            next_request_id: AtomicU64::new(1),
        }
    }
}

/// Answers one request; never fails (errors become 4xx/5xx responses).
pub async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let mut outcome = Outcome::default();
    let deadline = state.request_deadline;
    let mut response = match tokio::time::timeout(deadline, route(&state, req, &mut outcome)).await
    {
        Ok(response) => response,
        Err(_) => error_response(&state, &RequestError::Deadline),
    };
    if method == Method::HEAD {
        *response.body_mut() = Body::default();
    }
    let status = response.status().as_u16();
    state.metrics.count_response(status);
    tracing::info!(
        %method,
        path,
        status,
        cache = outcome.cache,
        ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    Ok(response)
}

/// What the log line reports beyond method, path and status.
#[derive(Default)]
pub struct Outcome {
    /// `hit`, `miss` or `revalidated` for image requests.
    pub cache: &'static str,
}

async fn route(
    state: &Arc<State>,
    req: Request<Incoming>,
    outcome: &mut Outcome,
) -> Response<Body> {
    let path = req.uri().path();
    let is_read = matches!(*req.method(), Method::GET | Method::HEAD);
    match path {
        "/render" if req.method() != Method::POST => {
            let mut response = text(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed: use POST\n",
            );
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            response
        }
        "/render" => {
            let json = crate::post::wants_json(&req);
            match crate::post::render(state, req, outcome).await {
                Ok(response) => response,
                Err(e) => error_response_as(state, &e, json),
            }
        }
        "/healthz" | "/templates" | "/metrics" if !is_read => method_not_allowed(),
        "/healthz" => text(StatusCode::OK, "ok\n"),
        "/templates" => templates_json(state),
        "/metrics" => metrics(state),
        _ => match path.strip_prefix("/og/") {
            Some(_) if !is_read => method_not_allowed(),
            Some(file) => {
                let query = req.uri().query().unwrap_or("");
                let signed = state
                    .signer
                    .verify(path, query, crate::signing::unix_now())
                    .map_err(RequestError::from);
                let answer = match signed {
                    Ok(()) => image(state, file, query, req.headers(), outcome).await,
                    Err(e) => Err(e),
                };
                match answer {
                    Ok(response) => response,
                    Err(e) => error_response(state, &e),
                }
            }
            None => text(StatusCode::NOT_FOUND, &format!("not found: {path}\n")),
        },
    }
}

async fn image(
    state: &Arc<State>,
    file: &str,
    query: &str,
    headers: &hyper::HeaderMap,
    outcome: &mut Outcome,
) -> Result<Response<Body>, RequestError> {
    // Only a plain alphanumeric suffix is an extension; anything else is part of the name.
    let extension = file
        .rsplit_once('.')
        .filter(|(_, ext)| !ext.is_empty() && ext.chars().all(|c| c.is_ascii_alphanumeric()));
    let (name, format) = match extension {
        Some((name, ext)) => (
            name,
            Format::from_extension(ext).ok_or_else(|| RequestError::UnknownFormat(ext.into()))?,
        ),
        None => (file, Format::Png),
    };
    let job = state.engine.prepare(name, format, query)?;
    let etag = job.key.etag();
    if if_none_match(headers, &etag) {
        outcome.cache = "revalidated";
        let mut response = Response::new(Body::default());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        set_image_headers(state, &mut response, &etag, None);
        return Ok(response);
    }
    let (image, hit) = cached_or_rendered(state, job).await?;
    outcome.cache = if hit { "hit" } else { "miss" };
    let mut response = Response::new(Body::new(image.bytes.clone()));
    set_image_headers(state, &mut response, &etag, Some(&image));
    Ok(response)
}

/// The image for `job` from the cache, or rendered once however many requests want it.
pub(crate) async fn cached_or_rendered(
    state: &Arc<State>,
    job: Job,
) -> Result<(Image, bool), RequestError> {
    if let Some(image) = state.cache.get(&job.key) {
        return Ok((image, true));
    }
    let key = job.key;
    let render = async {
        let job = crate::fetch::fetch_images(state.fetcher.as_deref(), job).await?;
        let permit = tokio::time::timeout(
            state.render_wait,
            state.render_slots.clone().acquire_owned(),
        )
        .await
        .map_err(|_| RequestError::Busy)?
        .map_err(|_| RequestError::Internal("render slots closed".into()))?;
        let engine = state.engine.clone();
        let rendered = isolated(state, permit, move || engine.render(&job)).await;
        if let Ok(image) = &rendered {
            if !image.fallback_used {
                state.cache.insert(key, image.clone());
            }
        }
        rendered
    };
    state
        .flights
        .run(key, render)
        .await
        .map(|image| (image, false))
}

/// Runs `render` on the blocking pool, holding `permit` until the CPU work is done (even if
/// the client has gone). A panic inside becomes an internal error and the server carries on.
async fn isolated<F>(
    state: &Arc<State>,
    permit: OwnedSemaphorePermit,
    render: F,
) -> Result<Image, RequestError>
where
    F: FnOnce() -> Result<Image, RequestError> + Send + 'static,
{
    let state = state.clone();
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let _in_flight = state.metrics.render_started();
        let started = Instant::now();
        let rendered = render();
        let seconds = started.elapsed().as_secs_f64();
        state.metrics.render_seconds.observe(seconds);
        rendered
    })
    .await
    .unwrap_or_else(|e| Err(RequestError::Internal(format!("render task failed: {e}"))))
}

/// Whether an `If-None-Match` header matches `etag` (weak comparison, as RFC 9110 asks).
fn if_none_match(headers: &hyper::HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim())
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag)
}

pub(crate) fn set_image_headers(
    state: &State,
    response: &mut Response<Body>,
    etag: &str,
    image: Option<&Image>,
) {
    let headers = response.headers_mut();
    if image.is_some_and(|image| image.fallback_used) {
        // A stand-in for an image that could not be fetched: let caches retry soon, and
        // claim no identity with the real card.
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(FALLBACK_CACHE_CONTROL),
        );
    } else {
        headers.insert(header::ETAG, header_value(etag));
        headers.insert(header::CACHE_CONTROL, header_value(&state.cache_control));
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Some(image) = image {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(image.format.content_type()),
        );
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(image.bytes.len()));
        if image.format == Format::Svg {
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(SVG_CSP),
            );
        }
    }
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).expect("etags and cache-control values are ASCII")
}

fn error_response(state: &State, error: &RequestError) -> Response<Body> {
    error_response_as(state, error, false)
}

/// An error as one line of text, or as `{"error": ..., "status": ...}` when `json`.
fn error_response_as(state: &State, error: &RequestError, json: bool) -> Response<Body> {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let message = match error {
        RequestError::Internal(detail) => {
            let id = state.next_request_id.fetch_add(1, Ordering::Relaxed);
            tracing::error!(request_id = id, detail, "internal error");
            format!("internal error (request id {id})")
        }
        other => other.to_string(),
    };
    let mut response = if json {
        crate::post::json_error(status, &message)
    } else {
        text(status, &format!("{message}\n"))
    };
    if matches!(error, RequestError::Busy | RequestError::Deadline) {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    if matches!(error, RequestError::Unauthorized) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// A plain-text response that caches must not store.
fn text(status: StatusCode, body: &str) -> Response<Body> {
    let mut response = Response::new(Body::new(Bytes::copy_from_slice(body.as_bytes())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

fn method_not_allowed() -> Response<Body> {
    let mut response = text(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed: use GET or HEAD\n",
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    response
}

fn templates_json(state: &State) -> Response<Body> {
    let set = state.engine.templates();
    let list: Vec<serde_json::Value> = set
        .iter()
        .map(|t| {
            let example: Vec<(&str, &str)> = t
                .manifest
                .params
                .iter()
                .filter_map(|(k, spec)| spec.example.as_deref().map(|e| (k.as_str(), e)))
                .collect();
            let query = serde_urlencoded::to_string(example).unwrap_or_default();
            serde_json::json!({
                "name": t.name,
                "description": t.manifest.description,
                "width": t.manifest.width,
                "height": t.manifest.height,
                "params": t.manifest.params,
                "example_url": format!("/og/{}.png?{query}", t.name),
            })
        })
        .collect();
    let body = serde_json::to_vec_pretty(&serde_json::json!({ "templates": list }))
        .expect("manifests serialise to JSON");
    let mut response = Response::new(Body::new(Bytes::from(body)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn metrics(state: &State) -> Response<Body> {
    let mut response = text(StatusCode::OK, &state.metrics.render());
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> Arc<State> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let engine = Engine::new(crate::EngineConfig::bundled(root)).expect("bundled templates");
        let config = ServerConfig {
            max_renders: 1,
            ..ServerConfig::default()
        };
        Arc::new(State::new(Arc::new(engine), &config))
    }

    #[tokio::test]
    async fn a_panicking_render_is_an_internal_error_and_frees_its_slot() {
        let state = state();
        let permit = state.render_slots.clone().acquire_owned().await.unwrap();
        let result = isolated(&state, permit, || panic!("a bug in a render")).await;
        let Err(error) = result else {
            panic!("a panic became a result")
        };
        assert!(matches!(error, RequestError::Internal(_)), "{error:?}");
        let response = error_response(&state, &error);
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = http_body_util::BodyExt::collect(response.into_body()).await;
        assert_eq!(
            body.unwrap().to_bytes(),
            "internal error (request id 1)\n",
            "the detail stays in the log"
        );
        assert_eq!(state.metrics.renders_in_flight.get(), 0);
        // The only render slot is free again and the next render works.
        let permit = state
            .render_slots
            .clone()
            .try_acquire_owned()
            .expect("slot freed");
        let engine = state.engine.clone();
        let job = engine
            .prepare("post", Format::Png, "title=After%20the%20panic")
            .unwrap();
        let image = isolated(&state, permit, move || engine.render(&job)).await;
        assert_eq!(image.unwrap().format, Format::Png);
    }
}
