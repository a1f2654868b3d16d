//! HTTP responses every route shares: image headers, plain-text and JSON bodies, and the one
//! function that turns a [`RequestError`] into a response.
//!
//! Successful images carry a strong `ETag`, the configured `Cache-Control`, `Content-Type`,
//! `Content-Length` and `nosniff`; every error carries `Cache-Control: no-store`, so neither
//! browsers nor CDNs keep it.

use std::convert::Infallible;
use std::pin::Pin;

use bytes::Bytes;
use http_body_util::{Either, Full, StreamBody};
use hyper::body::Frame;
use hyper::header::{self, HeaderValue};
use hyper::{HeaderMap, Response, StatusCode};

use crate::error::RequestError;
use crate::format::Format;
use crate::job::Image;

/// The response body type: whole bytes, or a stream (the studio's server-sent events).
pub type Body = Either<Full<Bytes>, Stream>;

/// A body sent as it is produced.
pub type Stream =
    StreamBody<Pin<Box<dyn tokio_stream::Stream<Item = Result<Frame<Bytes>, Infallible>> + Send>>>;

/// A body of `bytes`.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Either::Left(Full::new(bytes.into()))
}

/// An empty body (`HEAD`, `304`).
pub fn empty() -> Body {
    Either::Left(Full::default())
}

/// `Cache-Control` for a card drawn with a fallback image.
const FALLBACK_CACHE_CONTROL: &str = "public, max-age=60";

/// `Cache-Control` for a redirect from an old template version to the current one.
const REDIRECT_CACHE_CONTROL: &str = "public, max-age=60";

/// CSP for `.svg` output: nothing may load or run, even when opened directly.
const SVG_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; sandbox";

/// Whether the client asked for JSON (answers and errors) rather than an image or text.
pub fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/json"))
}

/// `image` as the body, with its headers (see [`image_headers`]).
pub fn image(image: &Image, etag: &str, cache_control: &str) -> Response<Body> {
    let mut response = Response::new(full(image.bytes.clone()));
    image_headers(&mut response, etag, Some(image), cache_control);
    response
}

/// `304 Not Modified` for a client that holds the image named `etag`.
pub fn not_modified(etag: &str, cache_control: &str) -> Response<Body> {
    let mut response = Response::new(empty());
    *response.status_mut() = StatusCode::NOT_MODIFIED;
    image_headers(&mut response, etag, None, cache_control);
    response
}

/// The headers of an image response (`image` is `None` for a 304, which has no body).
fn image_headers(
    response: &mut Response<Body>,
    etag: &str,
    image: Option<&Image>,
    cache_control: &str,
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
        headers.insert(header::ETAG, ascii(etag));
        headers.insert(header::CACHE_CONTROL, ascii(cache_control));
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

fn ascii(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).expect("etags and cache-control values are ASCII")
}

/// A JSON error's body.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub(crate) struct ErrorBody {
    /// What was wrong, in one line (it may be reworded between versions).
    error: String,
    /// The HTTP status.
    status: u16,
    /// A stable name for the kind of error, for clients that branch on it.
    code: &'static str,
}

/// `error` as one line of text, or as `{"error", "status", "code"}` when `json`. An internal
/// error's detail goes to the log under `request_id()`, and only the id to the client, unless
/// `show_detail` (`vellum dev`, where the template author is the client).
pub fn error(
    error: &RequestError,
    as_json: bool,
    show_detail: bool,
    request_id: impl FnOnce() -> u64,
) -> Response<Body> {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let message = match error {
        RequestError::Internal(detail) => {
            let id = request_id();
            tracing::error!(request_id = id, detail, "internal error");
            match show_detail {
                true => format!("internal error (request id {id}): {detail}"),
                false => format!("internal error (request id {id})"),
            }
        }
        other => other.to_string(),
    };
    let mut response = if as_json {
        let body = ErrorBody {
            error: message,
            status: status.as_u16(),
            code: error.code(),
        };
        let body = serde_json::to_vec(&body).expect("plain fields serialise");
        json(status, body, "no-store")
    } else {
        text(status, &format!("{message}\n"))
    };
    let headers = response.headers_mut();
    if matches!(error, RequestError::Busy | RequestError::Deadline) {
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    if matches!(error, RequestError::Unauthorized) {
        headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    if let RequestError::MethodNotAllowed(allow) = error {
        headers.insert(header::ALLOW, HeaderValue::from_static(allow));
    }
    response
}

/// A plain-text response that caches must not store.
pub fn text(status: StatusCode, body: &str) -> Response<Body> {
    let body = Bytes::copy_from_slice(body.as_bytes());
    typed(status, body, "text/plain; charset=utf-8", "no-store")
}

/// A JSON response (`body` already serialised) with `cache_control`.
pub fn json(status: StatusCode, body: Vec<u8>, cache_control: &'static str) -> Response<Body> {
    typed(status, body.into(), "application/json", cache_control)
}

/// `body` with its `Content-Type`, `Cache-Control` and `nosniff`: what every non-image
/// answer carries.
pub fn typed(
    status: StatusCode,
    body: Bytes,
    content_type: &'static str,
    cache_control: &'static str,
) -> Response<Body> {
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// `302` to `location`, the same image under the current template version; caches may keep
/// the redirect for a minute.
pub fn redirect(location: &str) -> Response<Body> {
    let mut response = Response::new(empty());
    *response.status_mut() = StatusCode::FOUND;
    let headers = response.headers_mut();
    headers.insert(
        header::LOCATION,
        HeaderValue::from_str(location).expect("a URL built from a valid request target"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(REDIRECT_CACHE_CONTROL),
    );
    response
}
