//! A checked request ([`Job`]) with the key that names its output ([`CacheKey`]), and the
//! finished [`Image`].
//!
//! A job's fields are private: its key is computed from its template, params and format when
//! it is made, so the two cannot drift apart. Images (fetched from allow-listed hosts or read
//! from image directories) are put into a job here ([`Job::fetch_images`]) before the engine
//! renders it.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use crate::error::RequestError;
use crate::fetch::{FetchError, Fetched, ImageSources};
use crate::format::Format;
use crate::params::Params;
use crate::template::{Template, TemplateSet};
use crate::value::{ParamKind, Value};

/// Identifies one output image: template content, canonical params, format and scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheKey([u8; 16]);

impl CacheKey {
    /// The key of `template` rendered with `params` as `format`.
    fn of(template: &Template, params: &Params, format: Format) -> CacheKey {
        let mut hasher = blake3::Hasher::new();
        hasher.update(template.content_hash.as_bytes());
        hasher.update(format.extension().as_bytes());
        hasher.update(b"?");
        hasher.update(params.canonical(format).as_bytes());
        let mut key = [0u8; 16];
        key.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
        CacheKey(key)
    }

    /// A key with these bytes.
    #[cfg(test)]
    pub(crate) fn from_bytes(bytes: [u8; 16]) -> CacheKey {
        CacheKey(bytes)
    }

    /// The strong ETag for this image, quotes included.
    pub fn etag(&self) -> String {
        let mut tag = String::with_capacity(34);
        tag.push('"');
        for byte in self.0 {
            tag.push_str(&format!("{byte:02x}"));
        }
        tag.push('"');
        tag
    }
}

/// A checked request, ready to render.
pub struct Job {
    /// The template set the job was checked against (a reload does not disturb it).
    set: Arc<TemplateSet>,
    template: Arc<Template>,
    params: Params,
    format: Format,
    key: CacheKey,
    /// Fetched images for the job's image params, by param name, as data URLs.
    images: BTreeMap<String, String>,
    /// Whether a failed fetch was replaced by the param's fallback asset.
    fallback_used: bool,
}

impl Job {
    /// A job for `template` (from `set`) with checked `params`, keyed by all three.
    pub(crate) fn new(
        set: Arc<TemplateSet>,
        template: Arc<Template>,
        params: Params,
        format: Format,
    ) -> Job {
        let key = CacheKey::of(&template, &params, format);
        Job {
            set,
            template,
            params,
            format,
            key,
            images: BTreeMap::new(),
            fallback_used: false,
        }
    }

    /// The template set the job was checked against.
    pub fn template_set(&self) -> &Arc<TemplateSet> {
        &self.set
    }

    /// The template to fill.
    pub fn template(&self) -> &Arc<Template> {
        &self.template
    }

    /// The checked values and output options.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The output format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Cache key and ETag source.
    pub fn key(&self) -> CacheKey {
        self.key
    }

    /// Width and height of the output in pixels (the size's canvas times `scale`; an SVG
    /// declares the canvas size itself).
    pub fn output_size(&self) -> (u64, u64) {
        match self.format {
            Format::Svg => {
                let (width, height) = self.params.canvas();
                (u64::from(width), u64::from(height))
            }
            _ => self.params.scaled_size(),
        }
    }

    /// The background drawn under the job's size, if its template declares one.
    pub fn background(&self) -> Option<&std::sync::Arc<crate::background::Background>> {
        self.template.background(self.params.size())
    }

    /// The image params that name an image (a URL or a path), as (param, value): what
    /// [`Job::fetch_images`] fetches or reads.
    pub fn image_values(&self) -> Vec<(String, String)> {
        self.params
            .values()
            .iter()
            .filter(|(name, _)| self.template.is_image_param(name))
            .filter_map(|(name, value)| match value {
                Value::Text(url) if !url.is_empty() => Some((name.clone(), url.clone())),
                _ => None,
            })
            .collect()
    }

    /// Fetches the job's image URLs and reads its image paths from `sources`. A fetch that
    /// failed upstream draws the param's fallback asset if it declares one; a URL that may not
    /// be fetched and any local file that cannot be used never do (they are the caller's
    /// mistake). A job that names a kind of image `sources` does not serve is refused.
    pub async fn fetch_images(mut self, sources: &ImageSources) -> Result<Job, RequestError> {
        for (param, value) in self.image_values() {
            let (refused, error) = match get_image(sources, &param, &value).await {
                Ok(image) => {
                    self.images.insert(param, image.data_url());
                    continue;
                }
                Err(failure) => failure,
            };
            match self.fallback_url(&param) {
                Some(fallback) if !refused => {
                    tracing::warn!(%param, %value, %error, "image failed; drawing the fallback");
                    self.fallback_used = true;
                    self.images.insert(param, fallback);
                }
                _ => return Err(error),
            }
        }
        Ok(self)
    }

    /// Whether a failed fetch was replaced by a fallback asset (serve briefly, never cache).
    pub fn fallback_used(&self) -> bool {
        self.fallback_used
    }

    /// The filled SVG text; every image param must have been fetched. A value a template
    /// function cannot draw is the request's mistake; any other failure is the template's.
    pub(crate) fn fill(&self) -> Result<String, RequestError> {
        let internal = |message: String| {
            RequestError::Internal(format!("{}: fill: {message}", self.template.name))
        };
        if let Some((name, _)) = self
            .image_values()
            .into_iter()
            .find(|(name, _)| !self.images.contains_key(name))
        {
            return Err(internal(format!("image {name} was not fetched")));
        }
        crate::functions::take_value_error();
        let filled = self.set.fill(
            &self.template,
            self.params.size(),
            self.params.values(),
            &self.images,
        );
        filled.map_err(|e| match crate::functions::take_value_error() {
            Some(message) => RequestError::BadParam(message),
            None => {
                // Tera's own message names the template; its causes name the expression.
                let causes = std::iter::successors(std::error::Error::source(&e), |e| e.source());
                internal(
                    std::iter::once(e.to_string())
                        .chain(causes.map(|c| c.to_string()))
                        .collect::<Vec<_>>()
                        .join(": "),
                )
            }
        })
    }

    /// Logs (and counts on `counter`) a render of this job that drew .notdef boxes, naming
    /// the params whose values hold the characters no font has.
    pub(crate) fn warn_missing_glyphs(
        &self,
        tree: &usvg::Tree,
        counter: &prometheus_client::metrics::counter::Counter,
    ) {
        let missing = crate::raster::missing_glyphs(tree);
        if missing.is_empty() {
            return;
        }
        counter.inc();
        let params: Vec<&str> = self
            .params
            .values()
            .iter()
            .filter(|(_, value)| match value {
                Value::Text(text) => missing.iter().any(|m| text.contains(m.as_str())),
                _ => false,
            })
            .map(|(name, _)| name.as_str())
            .collect();
        let code_points: Vec<String> = missing
            .iter()
            .map(|m| crate::raster::code_points(m))
            .collect();
        tracing::warn!(
            template = %self.template.name,
            params = %params.join(","),
            code_points = %code_points.join(", "),
            "drew missing-glyph boxes: no loaded font has these characters"
        );
    }

    /// The fallback asset of image param `param`, as a data URL, if it declares one.
    fn fallback_url(&self, param: &str) -> Option<String> {
        match self.template.manifest.params.get(param).map(|p| &p.kind) {
            Some(ParamKind::Image {
                fallback: Some(asset),
            }) => self.set.asset_url(asset).map(str::to_string),
            _ => None,
        }
    }
}

/// The image `value` of `param` from `sources`; an error comes with whether it was a
/// refusal (a URL or path that may not be used, never replaced by a fallback).
async fn get_image(
    sources: &ImageSources,
    param: &str,
    value: &str,
) -> Result<Fetched, (bool, RequestError)> {
    let param = param.to_string();
    if crate::media::is_url(value) {
        let Some(fetcher) = &sources.remote else {
            return Err((true, RequestError::ImagesOff(param)));
        };
        fetcher.fetch(value).await.map_err(|error| {
            let refused = matches!(error, FetchError::Url(_));
            (refused, RequestError::Image { param, error })
        })
    } else {
        let Some(dirs) = sources.local.clone() else {
            return Err((true, RequestError::LocalImagesOff(param)));
        };
        // Reading a file blocks: off the async workers.
        let path = value.to_string();
        let read = tokio::task::spawn_blocking(move || dirs.read(&path))
            .await
            .map_err(|e| {
                (
                    true,
                    RequestError::Internal(format!("image read panicked: {e}")),
                )
            })?;
        // A local file is the caller's own input: a wrong one is reported, never replaced.
        read.map_err(|error| (true, RequestError::LocalImage { param, error }))
    }
}

/// Fetches jobs' images from synchronous code (the CLI, batch threads) on one small runtime,
/// started the first time a job names an image and shared by every caller after that.
pub struct BlockingFetcher {
    sources: ImageSources,
    runtime: OnceLock<Result<tokio::runtime::Runtime, String>>,
}

impl BlockingFetcher {
    /// Fetches and reads from `sources`.
    pub fn new(sources: ImageSources) -> BlockingFetcher {
        BlockingFetcher {
            sources,
            runtime: OnceLock::new(),
        }
    }

    /// [`Job::fetch_images`], blocking this thread until it is done.
    pub fn fetch_images(&self, job: Job) -> Result<Job, RequestError> {
        if job.image_values().is_empty() {
            return Ok(job);
        }
        let runtime = self.runtime.get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        });
        let runtime = runtime
            .as_ref()
            .map_err(|e| RequestError::Internal(format!("cannot start the fetch runtime: {e}")))?;
        runtime.block_on(job.fetch_images(&self.sources))
    }
}

/// A finished image.
#[derive(Debug, Clone)]
pub struct Image {
    /// The encoded file.
    pub bytes: Bytes,
    /// Its format.
    pub format: Format,
    /// Drawn with a fallback for an image that could not be fetched: serve it briefly, never
    /// cache it for long.
    pub fallback_used: bool,
}

impl crate::cache::Weigh for Image {
    fn bytes(&self) -> usize {
        self.bytes.len()
    }
}
