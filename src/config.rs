//! Settings with their documented defaults: the limits every render obeys ([`Limits`], for
//! the engine, CLI and server alike) and the server's own ([`ServerConfig`]).
//!
//! The command line's flags take their defaults from here, so each default is written once.

use std::sync::Arc;
use std::time::Duration;

/// Bounds on request size and output size, shared by the server and the CLI.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Longest accepted query string, in bytes. Default: 8192.
    pub max_query_bytes: usize,
    /// Most key/value pairs in one query string. Default: 32.
    pub max_params: usize,
    /// Longest text value when a manifest sets no `max_chars`. Default: 500 characters.
    pub default_max_chars: usize,
    /// Largest output image, in pixels (width x height after `scale`). Default: 16,000,000.
    pub max_pixels: u64,
    /// Largest accepted `scale`. Default: 4.
    pub max_scale: f32,
    /// Most XML nodes in a filled template. Default: 100,000.
    pub max_svg_nodes: u32,
    /// PNG compression level when a request gives no `compression`: 1 (fastest, largest)
    /// to 9. Default: 2.
    pub png_compression: u8,
    /// Highest `compression` a request may ask for (level 9 costs ~20x level 2). Default: 6.
    pub max_png_compression: u8,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_query_bytes: 8192,
            max_params: 32,
            default_max_chars: 500,
            max_pixels: 16_000_000,
            max_scale: 4.0,
            max_svg_nodes: 100_000,
            png_compression: crate::encode::DEFAULT_PNG_COMPRESSION,
            max_png_compression: 6,
        }
    }
}

/// Server settings; the engine's own limits are [`Limits`].
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Cache budget in bytes: rendered images, and out of it everything else kept between
    /// requests (see `state::image_cache_bytes`). Default: 256 MiB.
    pub cache_bytes: usize,
    /// Renders running at once. Default: the number of cores.
    pub max_renders: usize,
    /// How long a request waits for a render slot before it gets 503. Default: 10 s.
    pub render_wait: Duration,
    /// How long a client may take to send its request headers. Default: 10 s.
    pub header_read_timeout: Duration,
    /// Longest time one request may take before it is answered 503. Default: 30 s.
    pub request_deadline: Duration,
    /// Most connections open at once; further clients wait in the listen backlog.
    /// Default: 1024.
    pub max_connections: usize,
    /// `max-age` for images whose URL names the current template version (`v=`), served
    /// `immutable`, in seconds. Default: 31536000 (a year).
    pub max_age: u64,
    /// `max-age` for images whose URL names no version, in seconds: how long an edit may
    /// take to reach caches. Default: 86400 (a day).
    pub unversioned_max_age: u64,
    /// `stale-while-revalidate` for those, in seconds: how long a cache may keep serving the
    /// old image while it asks for the new one. Default: 86400.
    pub stale_while_revalidate: u64,
    /// How long shutdown waits for open requests. Default: 10 s.
    pub shutdown_grace: Duration,
    /// URL signing keys; with any set, unsigned image requests get 403. Default: none.
    pub signer: crate::signing::Signer,
    /// Where `image` params may come from. Default: nowhere (remote and local images off).
    pub images: crate::fetch::ImageSources,
    /// Largest `POST /render` body. Default: 64 KiB.
    pub max_body_bytes: usize,
    /// Origin the JSON answers of `POST /render` put in front of image URLs
    /// (`https://img.example.com`). Default: none, `http://` + the request's `Host`.
    pub public_url: Option<String>,
    /// The template studio `vellum dev` serves beside the endpoint. Default: none.
    pub studio: Option<Arc<crate::studio::Studio>>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            cache_bytes: 256 * 1024 * 1024,
            max_renders: std::thread::available_parallelism().map_or(2, |n| n.get()),
            render_wait: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            request_deadline: Duration::from_secs(30),
            max_connections: 1024,
            max_age: 31_536_000,
            unversioned_max_age: 86_400,
            stale_while_revalidate: 86_400,
            shutdown_grace: Duration::from_secs(10),
            signer: crate::signing::Signer::default(),
            images: crate::fetch::ImageSources::default(),
            max_body_bytes: 64 * 1024,
            public_url: None,
            studio: None,
        }
    }
}
