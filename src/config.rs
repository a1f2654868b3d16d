//! Limits every render obeys, each with a documented default.
//!
//! These are the engine's limits; server-only settings (address, cache size, timeouts) live
//! in [`crate::server::ServerConfig`].

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
            png_compression: 2,
            max_png_compression: 6,
        }
    }
}
