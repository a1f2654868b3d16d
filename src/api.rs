//! `POST /render`: the JSON API, for tools built around hosted image APIs.
//!
//! Body: `{"template": "post", "format": "png", "params": {"title": "Hi"}}` (`format`
//! optional, PNG by default; `size`, `scale` and `quality` go in `params` as in a URL). The
//! answer is the image, or with `Accept: application/json` the image's GET URL (signed when
//! signing is on), width, height, format, and its URL at every size of the template. Same
//! checks and messages as `GET /og/...`.

use std::collections::BTreeMap;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::header;
use hyper::{Request, Response, StatusCode};

use crate::body::{BodyError, read_limited};
use crate::error::RequestError;
use crate::format::{self, Format};
use crate::response::{self, Body};
use crate::state::{Served, State};

/// The request body of `POST /render`.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a render request")]
pub(crate) struct RenderRequest {
    /// The template's name.
    template: String,
    /// `png` (the default), `jpg`/`jpeg`, `webp` or `svg`.
    #[serde(default)]
    format: Option<String>,
    /// The template's params, with `size`, `scale`, `quality` and `compression` as in a URL.
    #[serde(default)]
    params: Params,
}

/// Params as an object of values, or as the layered API's list of layer entries.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(
    untagged,
    expecting = "params as an object of values or a list of layers"
)]
enum Params {
    /// `{"title": "Hi", "scale": 2}`: strings, numbers or booleans.
    Object(serde_json::Map<String, serde_json::Value>),
    /// `[{"name": "title", "text": "Hi"}, ...]`, as in the layered API.
    Layers(Vec<serde_json::Value>),
}

impl Default for Params {
    fn default() -> Self {
        Params::Object(serde_json::Map::new())
    }
}

/// The `Accept: application/json` answer of `POST /render`.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub(crate) struct Rendered {
    /// The image's GET URL, with the template's version (and signed when signing is on).
    url: String,
    /// Width in pixels.
    width: u64,
    /// Height in pixels.
    height: u64,
    /// The format's extension.
    format: &'static str,
    /// The image's size in bytes.
    bytes: usize,
    /// The name of the canvas size drawn.
    size: String,
    /// Every size the template comes in, by name: the same image's URL at that size.
    sizes: BTreeMap<String, SizedUrl>,
}

/// One of a template's sizes in a JSON answer.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub(crate) struct SizedUrl {
    /// Width in pixels (times `scale`).
    width: u64,
    /// Height in pixels (times `scale`).
    height: u64,
    /// The image's GET URL at this size.
    url: String,
}

/// Answers `POST /render`, saying how the image was served when it got that far.
pub async fn respond(
    state: &Arc<State>,
    req: Request<Incoming>,
) -> Result<(Response<Body>, Served), RequestError> {
    let json = response::wants_json(req.headers());
    let (body, host) = read_json(state, req).await?;
    let request: RenderRequest = serde_json::from_slice(&body)
        .map_err(|e| RequestError::param(format!("invalid JSON body: {e}")))?;
    let format = json_format(request.format.as_deref())?;
    let engine = state.engine();
    let mut pairs = match request.params {
        Params::Object(map) => crate::params::json_pairs(map).map_err(RequestError::BadParam)?,
        Params::Layers(entries) => {
            let set = engine.templates();
            let template = set
                .get(&request.template)
                .ok_or_else(|| RequestError::UnknownTemplate(request.template.clone()))?;
            crate::entries::pairs(template, entries)?
        }
    };
    pairs.sort();
    let job = engine.prepare_pairs(&request.template, format, pairs.clone())?;
    let (width, height) = job.output_size();
    let etag = job.key().etag();
    let size = job.params().size().to_string();
    let sizes = size_urls(state, host.as_deref(), &job, &pairs);
    let (image, served) = state.image(job).await?;
    if !json {
        return Ok((
            response::image(&image, &etag, state.cache_control()),
            served,
        ));
    }
    let answer = Rendered {
        url: sizes[&size].url.clone(),
        width,
        height,
        format: format.extension(),
        bytes: image.bytes.len(),
        size,
        sizes,
    };
    let body = serde_json::to_vec(&answer).expect("plain fields serialise");
    Ok((response::json(StatusCode::OK, body, "no-store"), served))
}

/// The output format a JSON body's `format` field names; PNG when it has none.
pub fn json_format(format: Option<&str>) -> Result<Format, RequestError> {
    match format {
        None => Ok(Format::Png),
        Some(f) => Format::from_extension(f).ok_or_else(|| {
            RequestError::param(format!("format: expected {}, got {f:?}", format::EXPECTED))
        }),
    }
}

/// A JSON request's body and `Host`, after the checks every JSON route makes: the signing
/// key as bearer token when signing is on, `Content-Type: application/json`, the size limit.
pub async fn read_json(
    state: &State,
    req: Request<Incoming>,
) -> Result<(bytes::Bytes, Option<String>), RequestError> {
    authorize(state, &req)?;
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
    let limit = state.max_body_bytes();
    let (head, body) = req.into_parts();
    let body = read_limited(&head.headers, body, limit)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge => RequestError::BodyTooLarge(limit),
            BodyError::Read(e) => RequestError::param(format!("could not read the body: {e}")),
        })?;
    Ok((body, host))
}

/// The GET URL of `job`'s image made from the request's `pairs` (a URL's `key=value` pairs),
/// at each size of its template: `pairs` with `size` set to that size's name (left out for
/// the default size).
pub(crate) fn size_urls(
    state: &State,
    host: Option<&str>,
    job: &crate::job::Job,
    pairs: &[(String, String)],
) -> BTreeMap<String, SizedUrl> {
    let template = job.template();
    let version = template.version();
    let scale = match job.format() {
        Format::Svg => 1.0,
        _ => job.params().scale(),
    };
    let size_key = crate::manifest::SIZE_KEY;
    let mut sized = Vec::with_capacity(pairs.len() + 1);
    template
        .manifest
        .sizes
        .iter()
        .map(|(name, size)| {
            sized.clear();
            sized.extend(pairs.iter().filter(|(k, _)| k != size_key).cloned());
            if *name != template.manifest.default_size {
                sized.push((size_key.to_string(), name.clone()));
            }
            sized.sort();
            let (width, height) = size.scaled(scale);
            let url = image_url(state, host, &template.name, job.format(), &sized, &version);
            (name.clone(), SizedUrl { width, height, url })
        })
        .collect()
}

/// The GET URL of template `name`'s image as `format` with `pairs` as its query, for
/// template `version` (see [`url_for`]).
pub(crate) fn image_url(
    state: &State,
    host: Option<&str>,
    name: &str,
    format: Format,
    pairs: &[(String, String)],
    version: &str,
) -> String {
    let query = serde_urlencoded::to_string(pairs).expect("string pairs always serialise");
    let path = format!("/og/{name}.{}?{query}", format.extension());
    url_for(state, host, &path, version)
}

/// The full URL of `path` (`/og/...?...`) for template `version` (added as `v=`), signed
/// when signing is on: after `--public-url`, else `http://` and the request's `Host`.
pub fn url_for(state: &State, host: Option<&str>, path: &str, version: &str) -> String {
    let joiner = if path.contains('?') { '&' } else { '?' };
    let path = format!("{path}{joiner}{}={version}", crate::manifest::VERSION_KEY);
    let path = state.signer().sign(&path).unwrap_or(path);
    let origin = match (state.public_url(), host) {
        (Some(base), _) => base.trim_end_matches('/').to_string(),
        (None, Some(host)) => format!("http://{host}"),
        (None, None) => String::new(),
    };
    format!("{origin}{path}")
}

/// With signing on, anyone who may render arbitrary cards holds a signing key: POST asks
/// for one as a bearer token (it grants nothing a signed URL could not).
fn authorize(state: &State, req: &Request<Incoming>) -> Result<(), RequestError> {
    if !state.signer().enabled() {
        return Ok(());
    }
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match token {
        Some(token) if state.signer().holds_key(token.as_bytes()) => Ok(()),
        _ => Err(RequestError::Unauthorized),
    }
}
