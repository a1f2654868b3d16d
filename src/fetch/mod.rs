//! Remote images for `image` parameters: which URLs may be fetched ([`policy`]) and the
//! client that fetches them ([`client`]).
//!
//! Nothing here knows of templates or jobs; the engine asks for URLs and embeds what comes
//! back (see [`crate::job::Job::fetch_images`]).

mod client;
mod policy;

pub use client::{FetchError, FetchLimits, Fetched, Fetcher};
pub use policy::{AllowList, UrlError, check_ip, check_url};
