//! vellum: SVG templates with typed parameters, rendered to images from a URL or the command line.
//!
//! The [`Engine`] loads templates (`NAME.svg` with Tera placeholders and a `NAME.toml`
//! manifest) and fonts once, checks every request against the manifest into a [`Job`] and
//! renders it with usvg/resvg. The [`server`] module puts it behind HTTP with a byte-bounded
//! cache; [`batch`] renders a CSV or JSON Lines file of rows. `ARCHITECTURE.md` maps the
//! modules and the rules between them.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod api;
mod assets;
pub mod background;
pub mod batch;
mod body;
pub mod cache;
pub mod config;
pub mod encode;
pub mod engine;
mod entries;
pub mod error;
pub mod fetch;
mod fonts;
pub mod format;
mod found_backgrounds;
mod functions;
mod handler;
mod hits;
pub mod job;
mod layered;
pub mod layers;
pub mod manifest;
pub mod media;
mod metrics;
mod openapi;
pub mod params;
pub mod pdf;
pub mod raster;
mod response;
mod scratch;
pub mod server;
pub mod signing;
pub mod state;
pub mod studio;
pub mod template;
pub mod text;
pub mod value;

pub use config::{Limits, ServerConfig};
pub use engine::{Engine, EngineConfig};
pub use error::{LoadError, RequestError};
pub use format::Format;
pub use functions::TextBox;
pub use job::{CacheKey, Image, Job};
