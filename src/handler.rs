//! HTTP request handling: routing, the image route, and the small read-only routes.
//!
//! | route | answer |
//! |---|---|
//! | `GET`/`HEAD /og/{name}[.png\|.jpg\|.webp\|.svg]` | the image (PNG without an extension) |
//! | `POST /render` | the image (or its URL as JSON) for a JSON body; see [`crate::api`] |
//! | `POST /templates/{name}/images` | the layered API's JSON answer; see [`crate::layered`] |
//! | `GET /templates` | JSON: every template and its params |
//! | `GET /healthz` | `ok`, never queued behind renders |
//! | `GET /metrics` | Prometheus text |
//! | `GET /openapi.json` | this API as OpenAPI 3.1, built from the code and the manifests |

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use crate::error::RequestError;
use crate::format::Format;
use crate::response::{self, Body};
use crate::state::{Served, State};

/// Answers one request; never fails (errors become 4xx/5xx responses).
pub async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    if let Some(response) = known_hit(&state, &req) {
        return Ok(response);
    }
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    // JSON errors for clients that ask for JSON, and always for the layered API (whose
    // answers are JSON); one line of text for everyone else (an <img>, curl).
    let json = response::wants_json(req.headers()) || crate::layered::is_route(&path);
    let answer = tokio::time::timeout(state.request_deadline(), route(&state, req)).await;
    let (mut response, served) = match answer {
        Ok(Ok((response, served))) => (response, served),
        Ok(Err(e)) => (error(&state, &e, json), None),
        Err(_) => (error(&state, &RequestError::Deadline, json), None),
    };
    if method == Method::HEAD {
        *response.body_mut() = response::empty();
    }
    let status = response.status().as_u16();
    state.metrics().count_response(status);
    tracing::info!(
        %method,
        path,
        status,
        cache = served.map_or("", Served::as_str),
        ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    Ok(response)
}

/// The answer to a `GET` or `HEAD` of an image target served before whose image is still
/// cached: looked up by the exact target, before any parsing (see [`crate::hits`]). Logged
/// at debug level only.
fn known_hit(state: &State, req: &Request<Incoming>) -> Option<Response<Body>> {
    let head = match *req.method() {
        Method::GET => false,
        Method::HEAD => true,
        _ => return None,
    };
    let target = req.uri().path_and_query()?.as_str();
    // Revalidations take the full path, which answers 304 before any work anyway.
    if !target.starts_with("/og/") || req.headers().contains_key(header::IF_NONE_MATCH) {
        return None;
    }
    let answer = state.targets().get(target, &state.engine().templates())?;
    let image = state.cache.get(&answer.key)?;
    let body = if head {
        response::empty()
    } else {
        response::full(image.bytes)
    };
    let mut response = Response::new(body);
    *response.headers_mut() = answer.headers;
    state.metrics().count_ok();
    tracing::debug!(target, "known hit");
    Some(response)
}

/// The response, and how the cache served it for image routes.
type Answer = Result<(Response<Body>, Option<Served>), RequestError>;

async fn route(state: &Arc<State>, req: Request<Incoming>) -> Answer {
    if let Some(studio) = state.studio()
        && let Some(answer) = crate::studio::routes::route(state, studio, &req).await
    {
        return answer.map(|response| (response, None));
    }
    let path = req.uri().path();
    let is_read = matches!(*req.method(), Method::GET | Method::HEAD);
    let plain = |response| Ok((response, None));
    let not_allowed = |allow| Err(RequestError::MethodNotAllowed(allow));
    match path {
        "/render" if req.method() != Method::POST => not_allowed("POST"),
        "/render" => {
            let (response, served) = crate::api::respond(state, req).await?;
            Ok((response, Some(served)))
        }
        _ if crate::layered::is_route(path) => {
            if req.method() != Method::POST {
                return not_allowed("POST");
            }
            let name = path["/templates/".len()..path.len() - "/images".len()].to_string();
            let (response, served) = crate::layered::respond(state, &name, req).await?;
            Ok((response, Some(served)))
        }
        "/healthz" | "/templates" | "/metrics" | "/openapi.json" if !is_read => {
            not_allowed("GET, HEAD")
        }
        "/healthz" => plain(response::text(StatusCode::OK, "ok\n")),
        "/templates" => plain(templates_json(state)),
        "/metrics" => plain(metrics(state)),
        "/openapi.json" => plain(openapi_json(state)),
        _ => match path.strip_prefix("/og/") {
            Some(_) if !is_read => not_allowed("GET, HEAD"),
            Some(file) => {
                let query = req.uri().query().unwrap_or("");
                state
                    .signer()
                    .verify(path, query, crate::signing::unix_now())?;
                let (response, served) = image(state, path, file, query, req.headers()).await?;
                Ok((response, Some(served)))
            }
            None => Err(RequestError::NotFound(path.to_string())),
        },
    }
}

async fn image(
    state: &Arc<State>,
    path: &str,
    file: &str,
    query: &str,
    headers: &hyper::HeaderMap,
) -> Result<(Response<Body>, Served), RequestError> {
    let (name, format) =
        Format::split_file(file).map_err(|ext| RequestError::UnknownFormat(ext.into()))?;
    let job = state.engine().prepare(name, format, query)?;
    // A URL made for the current template version may be kept for good; one made for an
    // older version is sent to the current one; one with no version is kept briefly.
    let current = job.template().version();
    let cache_control = match job.params().version() {
        Some(version) if version == current => state.cache_control(),
        Some(_) => {
            let location = with_version(state, path, query, &current);
            return Ok((response::redirect(&location), Served::Redirected));
        }
        None => state.unversioned_cache_control(),
    };
    let etag = job.key().etag();
    if if_none_match(headers, &etag) {
        let response = response::not_modified(&etag, cache_control);
        return Ok((response, Served::Revalidated));
    }
    let (key, set) = (job.key(), job.template_set().clone());
    let (image, served) = state.image(job).await?;
    let response = response::image(&image, &etag, cache_control);
    // A target with an expiry is checked every time; a card drawn with a fallback image is
    // not the real one.
    if crate::signing::expiry(query).is_none() && !image.fallback_used {
        let target = match query {
            "" => path.to_string(),
            query => format!("{path}?{query}"),
        };
        let answer = crate::hits::Answer::new(key, response.headers().clone(), &set);
        state.targets().insert(&target, answer);
    }
    Ok((response, served))
}

/// `path?query` with its `v` set to `version` and signed again when signing is on; every
/// other pair stays as sent.
fn with_version(state: &State, path: &str, query: &str, version: &str) -> String {
    let pairs: Vec<String> = query
        .split('&')
        .filter(|pair| !pair.is_empty() && !pair.starts_with("sig="))
        .map(|pair| match pair.starts_with("v=") {
            true => format!("v={version}"),
            false => pair.to_string(),
        })
        .collect();
    let target = format!("{path}?{}", pairs.join("&"));
    state.signer().sign(&target).unwrap_or(target)
}

/// `error` as a response; internal errors get a request id for the log.
fn error(state: &State, error: &RequestError, json: bool) -> Response<Body> {
    response::error(error, json, state.studio().is_some(), || state.request_id())
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

fn templates_json(state: &State) -> Response<Body> {
    let set = state.engine().templates();
    let list: Vec<serde_json::Value> = set
        .iter()
        .map(|t| t.manifest.describe(&t.name, &t.version()))
        .collect();
    let body = serde_json::to_vec_pretty(&serde_json::json!({ "templates": list }))
        .expect("manifests serialise to JSON");
    response::json(StatusCode::OK, body, "no-cache")
}

fn openapi_json(state: &State) -> Response<Body> {
    let document = crate::openapi::document(&state.engine());
    let body = serde_json::to_vec_pretty(&document).expect("the document serialises");
    response::json(StatusCode::OK, body, "no-cache")
}

fn metrics(state: &State) -> Response<Body> {
    let mut response = response::text(StatusCode::OK, &state.metrics().encode());
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}
