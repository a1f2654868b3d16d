//! The layered-image API, as hosted image services have it: a design's layers changed by
//! name. `POST /templates/{name}/images` with
//! `{"format": "jpeg", "metadata": ..., "params": [{"name": "title", "text": "Hi"}, ...]}`
//! renders the card and answers `{id, templateId, imageUrl, thumbnailUrl,
//! retinaThumbnailUrl, fileName, metadata, width, height, sizes}` (`"size": "square"` picks
//! one of the template's sizes); `POST /render` takes the same
//! list as its `params`.
//! The entries are read by [`crate::entries`].

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use crate::error::RequestError;
use crate::response::{self, Body};
use crate::state::{Served, State};

/// Widest thumbnail, in pixels (its retina version is twice that).
const THUMBNAIL_WIDTH: f64 = 400.0;

/// The request body of `POST /templates/{name}/images`.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, expecting = "an image request")]
pub(crate) struct ImageRequest {
    /// `png` (the default), `jpg`/`jpeg`, `webp` or `svg`.
    #[serde(default)]
    format: Option<String>,
    /// One of the template's sizes; its default size when left out.
    #[serde(default)]
    size: Option<String>,
    /// Anything; echoed in the answer.
    #[serde(default)]
    metadata: serde_json::Value,
    /// Layer entries: `{"name": "title", "text": "Hi"}`, with `text`, `imageUrl`,
    /// `backgroundColor`, `color` or `visible`.
    #[serde(default)]
    params: Vec<serde_json::Value>,
}

/// The answer, with the field names hosted image APIs use.
#[derive(serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ImageAnswer {
    /// Stable for the same image.
    id: String,
    /// The template's name.
    template_id: String,
    /// The image's GET URL.
    image_url: String,
    /// The image at most 400 px wide.
    thumbnail_url: String,
    /// The thumbnail at twice its size.
    retina_thumbnail_url: String,
    /// `{id}.{format}`.
    file_name: String,
    /// The request's `metadata`.
    metadata: serde_json::Value,
    /// Width in pixels.
    width: u64,
    /// Height in pixels.
    height: u64,
    /// Every size the template comes in, by name: the same image's URL at that size.
    sizes: std::collections::BTreeMap<String, crate::api::SizedUrl>,
}

/// Whether `path` is `/templates/{name}/images`.
pub fn is_route(path: &str) -> bool {
    path.starts_with("/templates/") && path.ends_with("/images")
}

/// Answers `POST /templates/{name}/images`.
pub async fn respond(
    state: &Arc<State>,
    name: &str,
    req: Request<Incoming>,
) -> Result<(Response<Body>, Served), RequestError> {
    let (body, host) = crate::api::read_json(state, req).await?;
    let request: ImageRequest = serde_json::from_slice(&body)
        .map_err(|e| RequestError::param(format!("invalid JSON body: {e}")))?;
    let format = crate::api::json_format(request.format.as_deref())?;
    let engine = state.engine();
    let set = engine.templates();
    let template = set
        .get(name)
        .ok_or_else(|| RequestError::UnknownTemplate(name.to_string()))?;
    let mut pairs = crate::entries::pairs(template, request.params)?;
    pairs.extend(
        request
            .size
            .map(|size| (crate::manifest::SIZE_KEY.to_string(), size)),
    );
    pairs.sort();
    let job = engine.prepare_pairs(name, format, pairs.clone())?;
    let (width, height) = job.output_size();
    let id = job.key().etag()[1..11].to_string();
    let version = job.template().version();
    let canvas_width = job.params().canvas().0;
    let sizes = crate::api::size_urls(state, host.as_deref(), &job, &pairs);
    let (_, served) = state.image(job).await?;
    let ext = format.extension();
    let url = |scale: Option<f64>| {
        let mut query = pairs.clone();
        if let Some(scale) = scale {
            query.retain(|(k, _)| k != "scale");
            query.push(("scale".into(), format!("{scale:.2}")));
        }
        crate::api::image_url(state, host.as_deref(), name, format, &query, &version)
    };
    // Whole hundredths, rounded down, so the thumbnail is never wider than promised.
    let thumbnail = (THUMBNAIL_WIDTH / f64::from(canvas_width) * 100.0).floor() / 100.0;
    let thumbnail = thumbnail.clamp(0.1, 1.0);
    let answer = ImageAnswer {
        id: id.clone(),
        template_id: name.to_string(),
        image_url: url(None),
        thumbnail_url: url(Some(thumbnail)),
        retina_thumbnail_url: url(Some(thumbnail * 2.0)),
        file_name: format!("{id}.{ext}"),
        metadata: request.metadata,
        width,
        height,
        sizes,
    };
    let body = serde_json::to_vec(&answer).expect("plain fields serialise");
    Ok((response::json(StatusCode::OK, body, "no-store"), served))
}
