//! vellum: SVG templates with typed parameters, rendered to images from a URL or the command line.
//!
//! The [`Engine`] loads templates (`NAME.svg` with Tera placeholders and a `NAME.toml`
//! manifest) and fonts once, checks every request against the manifest and renders it with
//! usvg/resvg. The [`server`] module puts it behind HTTP with a byte-bounded cache; [`batch`]
//! renders a CSV or JSON Lines file of rows.
#![warn(missing_docs)]

pub mod batch;
pub mod cache;
pub mod config;
pub mod encode;
pub mod engine;
pub mod error;
pub mod fetch;
pub mod fonts;
pub mod handler;
pub mod manifest;
pub mod metrics;
pub mod params;
pub mod post;
pub mod render;
pub mod server;
pub mod signing;
pub mod template;
pub mod text;

pub use config::Limits;
pub use encode::Format;
pub use engine::{CacheKey, Engine, EngineConfig, Image, Job};
pub use error::{LoadError, RequestError};
