//! What every request handler shares ([`State`]) and the path from a checked job to its image:
//! the cache, then one render per key however many requests want it, bounded by render slots
//! and run on the blocking pool.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::cache::{ByteCache, Flights};
use crate::config::ServerConfig;
use crate::engine::Engine;
use crate::error::RequestError;
use crate::fetch::ImageSources;
use crate::job::{CacheKey, Image, Job};
use crate::metrics::Metrics;
use crate::signing::Signer;
use crate::studio::Studio;

/// The cache of finished images.
pub type ImageCache = ByteCache<CacheKey, Image>;

/// How an image request was served, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// From the cache.
    Hit,
    /// Rendered (or waited for a render of the same image).
    Miss,
    /// `304 Not Modified`: the client had it.
    Revalidated,
    /// Redirected to the URL of the current template version.
    Redirected,
}

impl Served {
    /// The word the log line uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Served::Hit => "hit",
            Served::Miss => "miss",
            Served::Revalidated => "revalidated",
            Served::Redirected => "redirected",
        }
    }
}

/// Everything a request handler shares: the engine, the cache, the settings and the counters.
pub struct State {
    /// The engine (templates, fonts, limits); `vellum dev` replaces it on a reload.
    engine: RwLock<Arc<Engine>>,
    /// Finished images.
    pub cache: ImageCache,
    /// Image request targets served before, for the cache-hit fast path.
    targets: crate::hits::Targets,
    flights: Flights<CacheKey, Result<Image, RequestError>>,
    render_slots: Arc<Semaphore>,
    render_wait: Duration,
    request_deadline: Duration,
    signer: Signer,
    images: ImageSources,
    max_body_bytes: usize,
    public_url: Option<String>,
    cache_control: String,
    unversioned_cache_control: String,
    metrics: Metrics,
    next_request_id: AtomicU64,
    studio: Option<Arc<Studio>>,
}

/// The part of `config`'s cache budget left for rendered images: the budget less what else is
/// kept between requests (found backgrounds, the hit path's targets, glyph masks, shrunk
/// photos, buffers to decode photos into and the render scratch), and at least half of it.
pub fn image_cache_bytes(config: &ServerConfig) -> usize {
    let others = crate::found_backgrounds::FOUND_BACKGROUNDS_BUDGET
        + crate::hits::TARGETS_BUDGET
        + crate::raster::MASKS_BUDGET
        + crate::raster::SHRUNK_BUDGET
        + crate::raster::DECODED_BUDGET
        + crate::scratch::SCRATCH_BUDGET;
    (config.cache_bytes.saturating_sub(others)).max(config.cache_bytes / 2)
}

impl State {
    /// Fresh state for `engine` under `config`.
    pub fn new(engine: Arc<Engine>, config: &ServerConfig) -> State {
        let cache = ImageCache::new(image_cache_bytes(config));
        State {
            metrics: Metrics::new(
                cache.counters(),
                engine.found_background_counters(),
                engine.missing_glyphs(),
                config.images.remote.as_deref(),
            ),
            engine: RwLock::new(engine),
            cache,
            targets: crate::hits::Targets::default(),
            flights: Flights::default(),
            render_slots: Arc::new(Semaphore::new(config.max_renders.max(1))),
            render_wait: config.render_wait,
            request_deadline: config.request_deadline,
            signer: config.signer.clone(),
            images: config.images.clone(),
            max_body_bytes: config.max_body_bytes,
            public_url: config.public_url.clone(),
            cache_control: format!("public, max-age={}, immutable", config.max_age),
            unversioned_cache_control: format!(
                "public, max-age={}, stale-while-revalidate={}",
                config.unversioned_max_age, config.stale_while_revalidate
            ),
            next_request_id: AtomicU64::new(1),
            studio: config.studio.clone(),
        }
    }

    /// The engine in service now.
    pub fn engine(&self) -> Arc<Engine> {
        self.engine
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Puts `engine` in service (fonts and templates reloaded) and empties the cache, whose
    /// keys do not cover fonts. Requests already under way finish with the old engine.
    pub fn replace_engine(&self, mut engine: Engine) {
        let mut current = self.engine.write().unwrap_or_else(|e| e.into_inner());
        engine.continue_counting_from(&current);
        *current = Arc::new(engine);
        self.cache.clear();
        self.targets.clear();
    }

    /// Request targets served before (see [`crate::hits`]).
    pub(crate) fn targets(&self) -> &crate::hits::Targets {
        &self.targets
    }

    /// `job` with its images fetched or read, as a render needs them.
    pub async fn fetch_images(&self, job: Job) -> Result<Job, RequestError> {
        job.fetch_images(&self.images).await
    }

    /// The template studio, when this server is `vellum dev`.
    pub fn studio(&self) -> Option<&Arc<Studio>> {
        self.studio.as_ref()
    }

    /// The URL signer (disabled when no key is configured).
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// The server's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Longest time one request may take.
    pub fn request_deadline(&self) -> Duration {
        self.request_deadline
    }

    /// Largest `POST /render` body, in bytes.
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// The origin that JSON answers put in front of image URLs, if configured.
    pub fn public_url(&self) -> Option<&str> {
        self.public_url.as_deref()
    }

    /// `Cache-Control` for images whose URL names the current template version.
    pub fn cache_control(&self) -> &str {
        &self.cache_control
    }

    /// `Cache-Control` for images whose URL names no version: short, revalidated by ETag.
    pub fn unversioned_cache_control(&self) -> &str {
        &self.unversioned_cache_control
    }

    /// A new id for an internal error, to find its detail in the log.
    pub fn request_id(&self) -> u64 {
        self.next_request_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The image for `job` from the cache, or rendered once however many requests want it.
    pub async fn image(self: &Arc<Self>, job: Job) -> Result<(Image, Served), RequestError> {
        if let Some(image) = self.cache.get(&job.key()) {
            return Ok((image, Served::Hit));
        }
        let key = job.key();
        let render = async {
            let job = job.fetch_images(&self.images).await?;
            let permit =
                tokio::time::timeout(self.render_wait, self.render_slots.clone().acquire_owned())
                    .await
                    .map_err(|_| RequestError::Busy)?
                    .map_err(|_| RequestError::Internal("render slots closed".into()))?;
            let engine = self.engine();
            let rendered = self.isolated(permit, move || engine.render(&job)).await;
            if let Ok(image) = &rendered
                && !image.fallback_used
            {
                self.cache.insert(key, image.clone());
            }
            rendered
        };
        self.flights
            .run(key, render)
            .await
            .map(|image| (image, Served::Miss))
    }

    /// Runs `render` on the blocking pool, holding `permit` until the CPU work is done (even
    /// if the client has gone). A panic inside becomes an internal error and the server
    /// carries on.
    async fn isolated<F>(
        self: &Arc<Self>,
        permit: OwnedSemaphorePermit,
        render: F,
    ) -> Result<Image, RequestError>
    where
        F: FnOnce() -> Result<Image, RequestError> + Send + 'static,
    {
        let state = self.clone();
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Format;
    use hyper::StatusCode;

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
        let result = state.isolated(permit, || panic!("a bug in a render")).await;
        let Err(error) = result else {
            panic!("a panic became a result")
        };
        assert!(matches!(error, RequestError::Internal(_)), "{error:?}");
        let response = crate::response::error(&error, false, false, || state.request_id());
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
        let engine = state.engine();
        let job = engine
            .prepare("post", Format::Png, "title=After%20the%20panic")
            .unwrap();
        let image = state.isolated(permit, move || engine.render(&job)).await;
        assert_eq!(image.unwrap().format, Format::Png);
    }
}
