//! Images for `image` parameters: which URLs may be fetched ([`policy`]), the client that
//! fetches them ([`client`]), and the operator's image directories ([`local`]).
//!
//! Nothing here knows of templates or jobs; the engine asks for images and embeds what comes
//! back (see [`crate::job::Job::fetch_images`]).

mod client;
mod local;
mod policy;

use std::sync::Arc;

pub use client::{FetchError, FetchLimits, Fetched, Fetcher};
pub use local::{ImageDirs, LocalError};
pub use policy::{AllowList, UrlError, check_ip, check_url};

/// Where `image` params may come from: allow-listed hosts, image directories, both, or
/// neither (the default: an image param may only be empty).
#[derive(Debug, Clone, Default)]
pub struct ImageSources {
    /// Fetches http(s) URLs; `None` turns remote images off.
    pub remote: Option<Arc<Fetcher>>,
    /// Reads paths; `None` turns local images off.
    pub local: Option<Arc<ImageDirs>>,
}
