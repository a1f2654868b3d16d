//! `POST /render`: the JSON API for tools built around hosted image APIs.
//!
//! Body: `{"template": "post", "format": "png", "params": {"title": "Hi"}}` (`format`
//! optional, PNG by default; `scale` and `quality` go in `params` as in a URL). The answer is
//! the image, or with `Accept: application/json` the image's GET URL (signed when signing is
//! on), width, height and format. Same checks and messages as `GET /og/...`.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};

use crate::encode::Format;
use crate::error::RequestError;
use crate::handler::{Body, Outcome, State};

/// The request body.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, expecting = "a render request")]
struct RenderRequest {
    template: String,
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    params: serde_json::Map<String, serde_json::Value>,
}

/// The `Accept: application/json` answer.
#[derive(serde::Serialize)]
struct Rendered {
    url: String,
    width: u64,
    height: u64,
    format: &'static str,
    bytes: usize,
}

/// Whether the client asked for JSON (answers and errors) rather than the image.
pub fn wants_json(req: &Request<Incoming>) -> bool {
    req.headers()
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/json"))
}

/// Answers `POST /render`.
pub async fn render(
    state: &Arc<State>,
    req: Request<Incoming>,
    outcome: &mut Outcome,
) -> Result<Response<Body>, RequestError> {
    authorize(state, &req)?;
    let json = wants_json(&req);
    let media_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if media_type.as_deref() != Some("application/json") {
        return Err(RequestError::MediaType);
    }
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = read_body(state.max_body_bytes, req).await?;
    let request: RenderRequest = serde_json::from_slice(&body)
        .map_err(|e| RequestError::param(format!("invalid JSON body: {e}")))?;
    let format = match request.format.as_deref() {
        None => Format::Png,
        Some(f) => Format::from_extension(f).ok_or_else(|| {
            RequestError::param(format!("format: expected png, jpg, webp or svg, got {f:?}"))
        })?,
    };
    let mut pairs = crate::params::json_pairs(request.params).map_err(RequestError::BadParam)?;
    pairs.sort();
    let job = state
        .engine
        .prepare_pairs(&request.template, format, pairs.clone())?;
    let (width, height) = job.output_size();
    let etag = job.key.etag();
    let (image, hit) = crate::handler::cached_or_rendered(state, job).await?;
    outcome.cache = if hit { "hit" } else { "miss" };
    if !json {
        let mut response = Response::new(Body::new(image.bytes.clone()));
        crate::handler::set_image_headers(state, &mut response, &etag, Some(&image));
        return Ok(response);
    }
    let path = format!(
        "/og/{}.{}?{}",
        request.template,
        format.extension(),
        serde_urlencoded::to_string(&pairs).expect("string pairs always serialise")
    );
    let path = state.signer.sign(&path).unwrap_or(path);
    let origin = match (&state.public_url, host) {
        (Some(base), _) => base.trim_end_matches('/').to_string(),
        (None, Some(host)) => format!("http://{host}"),
        (None, None) => String::new(),
    };
    let answer = Rendered {
        url: format!("{origin}{path}"),
        width,
        height,
        format: format.extension(),
        bytes: image.bytes.len(),
    };
    let mut response = Response::new(Full::new(Bytes::from(
        serde_json::to_vec(&answer).expect("plain fields serialise"),
    )));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// With signing on, anyone who may render arbitrary cards holds a signing key: POST asks
/// for one as a bearer token (it grants nothing a signed URL could not).
fn authorize(state: &State, req: &Request<Incoming>) -> Result<(), RequestError> {
    if !state.signer.enabled() {
        return Ok(());
    }
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match token {
        Some(token) if state.signer.holds_key(token.as_bytes()) => Ok(()),
        _ => Err(RequestError::Unauthorized),
    }
}

/// Reads the body, refusing a declared or actual length over `limit` with 413.
async fn read_body(limit: usize, req: Request<Incoming>) -> Result<Bytes, RequestError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(RequestError::BodyTooLarge(limit));
    }
    match Limited::new(req.into_body(), limit).collect().await {
        Ok(body) => Ok(body.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            Err(RequestError::BodyTooLarge(limit))
        }
        Err(e) => Err(RequestError::param(format!("could not read the body: {e}"))),
    }
}

/// An error as JSON, for clients that asked for JSON.
pub fn json_error(status: StatusCode, message: &str) -> Response<Body> {
    let body = serde_json::json!({ "error": message, "status": status.as_u16() });
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}
