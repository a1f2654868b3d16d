//! Prometheus metrics for `/metrics`, in the OpenMetrics text format (prometheus-client).
//!
//! The cache keeps its own counters (they are prometheus-client atomics too), registered here
//! so one scrape shows everything; the handler records responses and render times.

use prometheus_client::encoding::text::encode as encode_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::cache::CacheCounters;
use crate::fetch::Fetcher;

/// Every metric the server exposes.
pub struct Metrics {
    registry: Registry,
    /// Responses by status code.
    pub responses: Family<Vec<(String, String)>, Counter>,
    /// The `200` member of `responses`, looked up once for the cache-hit fast path.
    ok: Counter,
    /// Seconds each render took (its count is the number of renders).
    pub render_seconds: Histogram,
    /// Renders running now.
    pub renders_in_flight: Gauge,
}

impl Metrics {
    /// Registers the server's metrics, the counters of the image cache, the found
    /// backgrounds, the glyph masks and the shrunk photos, and the fetcher's, if any.
    pub fn new(
        counters: CacheCounters,
        found: CacheCounters,
        missing_glyphs: Counter,
        fetcher: Option<&Fetcher>,
    ) -> Metrics {
        let mut registry = Registry::with_prefix("vellum");
        let responses = Family::<Vec<(String, String)>, Counter>::default();
        registry.register("responses", "Responses by status", responses.clone());
        // 1 ms to about 16 s.
        registry.register(
            "missing_glyphs",
            "Renders that drew a missing-glyph box: characters no loaded font has",
            missing_glyphs,
        );
        let render_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 15));
        registry.register(
            "render_seconds",
            "Time to render one image, from slot to encoded bytes",
            render_seconds.clone(),
        );
        let renders_in_flight = Gauge::default();
        registry.register(
            "renders_in_flight",
            "Renders running now",
            renders_in_flight.clone(),
        );
        register_cache(
            &mut registry,
            "cache",
            [
                "Cache look-ups that found the image",
                "Cache look-ups that did not",
                "Images evicted to stay within the budget",
                "Bytes the cache holds",
                "Images the cache holds",
            ],
            counters,
        );
        register_cache(
            &mut registry,
            "found_backgrounds",
            [
                "Renders that copied leading elements drawn before",
                "Renders whose leading elements, seen in another card, were not kept \
                 (drawn now, or not worth the room)",
                "Found backgrounds evicted to stay within their budget",
                "Bytes the found backgrounds hold",
                "Found backgrounds held",
            ],
            found,
        );
        register_cache(
            &mut registry,
            "glyph_masks",
            [
                "Glyphs drawn from a kept mask",
                "Glyphs whose mask was drawn (or that no mask can draw)",
                "Glyph masks evicted to stay within their budget",
                "Bytes the glyph masks hold",
                "Glyph masks held",
            ],
            crate::raster::glyph_mask_counters(),
        );
        register_cache(
            &mut registry,
            "shrunk_photos",
            [
                "Photos drawn from a kept shrunk copy",
                "Photos decoded and shrunk",
                "Shrunk photos evicted to stay within their budget",
                "Bytes the shrunk photos hold",
                "Shrunk photos held",
            ],
            crate::raster::shrunk_photo_counters(),
        );
        if let Some(fetcher) = fetcher {
            registry.register(
                "image_fetches",
                "Remote images fetched (cache hits excluded)",
                fetcher.fetches.clone(),
            );
            registry.register(
                "image_fetch_failures",
                "Remote image fetches that failed",
                fetcher.failures.clone(),
            );
        }
        let ok = responses
            .get_or_create(&vec![("status".to_string(), "200".to_string())])
            .clone();
        Metrics {
            registry,
            ok,
            responses,
            render_seconds,
            renders_in_flight,
        }
    }

    /// Marks a render as running until the returned guard drops (also when it panics).
    pub fn render_started(&self) -> InFlight<'_> {
        self.renders_in_flight.inc();
        InFlight(&self.renders_in_flight)
    }

    /// Counts one `200` without looking its counter up.
    pub fn count_ok(&self) {
        self.ok.inc();
    }

    /// Counts one response with `status`.
    pub fn count_response(&self, status: u16) {
        self.responses
            .get_or_create(&vec![("status".to_string(), status.to_string())])
            .inc();
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        encode_text(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

/// Registers a cache's hits, misses, evictions, bytes and entries as `{name}_hits` and so
/// on, with their help texts in that order.
fn register_cache(registry: &mut Registry, name: &str, help: [&str; 5], counters: CacheCounters) {
    let [hits, misses, evictions, bytes, entries] = help;
    registry.register(format!("{name}_hits"), hits, counters.hits);
    registry.register(format!("{name}_misses"), misses, counters.misses);
    registry.register(format!("{name}_evictions"), evictions, counters.evictions);
    registry.register(format!("{name}_bytes"), bytes, counters.bytes);
    registry.register(format!("{name}_entries"), entries, counters.entries);
}

/// Keeps a render counted in `renders_in_flight` while alive.
pub struct InFlight<'a>(&'a Gauge);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}
