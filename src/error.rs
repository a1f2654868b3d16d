//! Error types: what went wrong while loading templates, and what went wrong with a request.
//!
//! [`RequestError`] carries the HTTP status, a stable machine-readable code and the one-line
//! public message in one place each, so the server, the CLI and the tests all report the same.
//! [`LoadError`] names the file that is wrong: a manifest problem points at the `.toml`, an
//! SVG problem at the `.svg`, an asset problem at the asset.

use std::path::{Path, PathBuf};

use crate::fetch::FetchError;

/// A template set that cannot be loaded: the server refuses to start, the CLI exits 2.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file could not be read.
    #[error("{path}: {error}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the OS said (in the message, not as a source, so that it is said once).
        error: std::io::Error,
    },
    /// A manifest (`NAME.toml`) is malformed, or names an example, default or asset that
    /// does not hold.
    #[error("{path}: {message}")]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// Which field is wrong and why.
        message: String,
    },
    /// An SVG template does not compile, uses undeclared params, or does not render to the
    /// size its manifest declares.
    #[error("{path}: {message}")]
    Template {
        /// The SVG file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A file in `assets/` is too large or not the image its extension says.
    #[error("{path}: {message}")]
    Asset {
        /// The asset file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A font file that does not load (not a font, or a face that does not parse).
    #[error("{path}: {message}")]
    Font {
        /// The font file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// Several of the above, each on its own line: loading reports every broken template.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Several(Vec<LoadError>),
    /// The fonts directory holds no usable font.
    #[error("{path}: no fonts found (expected .ttf, .otf, .ttc, .woff or .woff2 files)")]
    NoFonts {
        /// The fonts directory.
        path: PathBuf,
    },
}

impl LoadError {
    /// Wraps an I/O error with the path it happened at, for `map_err`.
    pub fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LoadError + use<> {
        let path = path.to_path_buf();
        move |error| LoadError::Io { path, error }
    }

    /// The template a problem belongs to (`post` for `post.svg` or `post.toml`), when it
    /// names one template's own file rather than an asset, a font or a directory.
    pub fn template_name(&self) -> Option<&str> {
        let path = match self {
            LoadError::Io { path, .. }
            | LoadError::Manifest { path, .. }
            | LoadError::Template { path, .. } => path,
            _ => return None,
        };
        let is_template_file = path.extension().is_some_and(|e| e == "svg" || e == "toml");
        let in_assets = path
            .parent()
            .and_then(Path::file_name)
            .is_some_and(|d| d == "assets");
        match is_template_file && !in_assets {
            true => path.file_stem().and_then(|s| s.to_str()),
            false => None,
        }
    }
}

/// An output larger than the pixel budget: refused before any pixel is allocated.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("output too large: {width}x{height} pixels exceeds the budget of {limit} pixels")]
pub struct TooManyPixels {
    /// Output width in pixels.
    pub width: u64,
    /// Output height in pixels.
    pub height: u64,
    /// The budget.
    pub limit: u64,
}

/// Why one render request failed. `status()` maps it to HTTP; `Display` is the public message.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RequestError {
    /// No template with that name.
    #[error("unknown template: {0:?}")]
    UnknownTemplate(String),
    /// The path asked for an output format we do not produce.
    #[error("unknown format: {0:?} (expected {expected})", expected = crate::format::EXPECTED)]
    UnknownFormat(String),
    /// A parameter is missing, unknown, repeated or out of range; the text names it.
    #[error("{0}")]
    BadParam(String),
    /// The query string is longer than the limit.
    #[error("query string too long: {len} bytes (limit {limit})")]
    QueryTooLong {
        /// Bytes received.
        len: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The output would exceed the pixel budget.
    #[error(transparent)]
    TooManyPixels(#[from] TooManyPixels),
    /// An image param names a URL, but this server fetches no remote images.
    #[error("{0}: remote images are off on this server (it has no --allow-image-host)")]
    ImagesOff(String),
    /// An image param names a path, but this server reads no local images.
    #[error("{0}: local images are off (no --image-dir given)")]
    LocalImagesOff(String),
    /// An image param's URL could not be fetched or is not allowed.
    #[error("{param}: {error}")]
    Image {
        /// The image param.
        param: String,
        /// What went wrong.
        error: FetchError,
    },
    /// An image param's path is refused, missing or not a usable image.
    #[error("{param}: {error}")]
    LocalImage {
        /// The image param.
        param: String,
        /// What went wrong.
        error: crate::fetch::LocalError,
    },
    /// Signing is on and the request's signature is missing, wrong or expired.
    #[error("{0}")]
    Signature(#[from] crate::signing::SignatureError),
    /// A `POST /render` body that is not declared as JSON.
    #[error("expected a JSON body (Content-Type: application/json)")]
    MediaType,
    /// A request body over the limit.
    #[error("request body too large: at most {0} bytes")]
    BodyTooLarge(usize),
    /// Signing is on and a `POST /render` carries no signing key as its bearer token.
    #[error("this server signs its URLs: POST /render needs Authorization: Bearer <signing key>")]
    Unauthorized,
    /// Every render slot stayed busy past the wait deadline.
    #[error("server busy, try again shortly")]
    Busy,
    /// The request took longer than the request deadline.
    #[error("request took too long, try again shortly")]
    Deadline,
    /// No route at this path.
    #[error("not found: {0}")]
    NotFound(String),
    /// The route exists but not for this method; the methods it takes, as for `Allow`.
    #[error("method not allowed: use {}", .0.replace(", ", " or "))]
    MethodNotAllowed(&'static str),
    /// A bug or an unexpected failure; details go to the log, never to the client.
    #[error("internal error")]
    Internal(String),
}

/// Every [`RequestError::code`], for clients and the OpenAPI document.
pub const CODES: &[&str] = &[
    "unknown_template",
    "unknown_format",
    "bad_param",
    "query_too_long",
    "too_many_pixels",
    "images_off",
    "image_refused",
    "image_timeout",
    "image_failed",
    "bad_signature",
    "unsupported_media_type",
    "body_too_large",
    "unauthorized",
    "busy",
    "deadline",
    "not_found",
    "method_not_allowed",
    "internal",
];

impl RequestError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            RequestError::UnknownTemplate(_)
            | RequestError::UnknownFormat(_)
            | RequestError::NotFound(_) => 404,
            RequestError::BadParam(_)
            | RequestError::TooManyPixels(_)
            | RequestError::ImagesOff(_)
            | RequestError::LocalImagesOff(_)
            | RequestError::LocalImage { .. } => 400,
            RequestError::Image { error, .. } => match error {
                FetchError::Url(_) => 400,
                FetchError::Timeout(_) => 504,
                _ => 502,
            },
            RequestError::QueryTooLong { .. } => 414,
            RequestError::MediaType => 415,
            RequestError::BodyTooLarge(_) => 413,
            RequestError::Unauthorized => 401,
            RequestError::Signature(_) => 403,
            RequestError::Busy | RequestError::Deadline => 503,
            RequestError::MethodNotAllowed(_) => 405,
            RequestError::Internal(_) => 500,
        }
    }

    /// A stable, machine-readable name for the kind of error (`bad_param`, `busy`, ...), for
    /// JSON clients that branch on it; the message may be reworded, the code is not.
    pub fn code(&self) -> &'static str {
        match self {
            RequestError::UnknownTemplate(_) => "unknown_template",
            RequestError::UnknownFormat(_) => "unknown_format",
            RequestError::BadParam(_) => "bad_param",
            RequestError::QueryTooLong { .. } => "query_too_long",
            RequestError::TooManyPixels(_) => "too_many_pixels",
            RequestError::ImagesOff(_) | RequestError::LocalImagesOff(_) => "images_off",
            RequestError::Image { error, .. } => match error {
                FetchError::Url(_) => "image_refused",
                FetchError::Timeout(_) => "image_timeout",
                _ => "image_failed",
            },
            RequestError::LocalImage { error, .. } if error.is_refusal() => "image_refused",
            RequestError::LocalImage { .. } => "image_failed",
            RequestError::Signature(_) => "bad_signature",
            RequestError::MediaType => "unsupported_media_type",
            RequestError::BodyTooLarge(_) => "body_too_large",
            RequestError::Unauthorized => "unauthorized",
            RequestError::Busy => "busy",
            RequestError::Deadline => "deadline",
            RequestError::NotFound(_) => "not_found",
            RequestError::MethodNotAllowed(_) => "method_not_allowed",
            RequestError::Internal(_) => "internal",
        }
    }

    /// Shorthand for a parameter error with a formatted message.
    pub fn param(message: impl Into<String>) -> Self {
        RequestError::BadParam(message.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch::UrlError;

    #[test]
    fn every_kind_of_request_error_has_its_own_stable_code() {
        let errors = [
            RequestError::UnknownTemplate("x".into()),
            RequestError::UnknownFormat("gif".into()),
            RequestError::param("title: too long"),
            RequestError::QueryTooLong { len: 9, limit: 8 },
            RequestError::TooManyPixels(TooManyPixels {
                width: 1,
                height: 2,
                limit: 1,
            }),
            RequestError::ImagesOff("photo".into()),
            RequestError::Image {
                param: "photo".into(),
                error: FetchError::Url(UrlError::Malformed),
            },
            RequestError::Image {
                param: "photo".into(),
                error: FetchError::Timeout(10),
            },
            RequestError::Image {
                param: "photo".into(),
                error: FetchError::Status(404),
            },
            RequestError::Signature(crate::signing::SignatureError::Bad),
            RequestError::MediaType,
            RequestError::BodyTooLarge(10),
            RequestError::Unauthorized,
            RequestError::Busy,
            RequestError::Deadline,
            RequestError::NotFound("/nope".into()),
            RequestError::MethodNotAllowed("GET, HEAD"),
            RequestError::Internal("detail".into()),
        ];
        let codes: Vec<&str> = errors.iter().map(RequestError::code).collect();
        assert_eq!(
            codes, CODES,
            "one error of each kind, in the order of CODES"
        );
        let statuses: Vec<u16> = errors.iter().map(RequestError::status).collect();
        assert_eq!(
            statuses,
            [
                404, 404, 400, 414, 400, 400, 400, 504, 502, 403, 415, 413, 401, 503, 503, 404,
                405, 500
            ]
        );
        assert_eq!(
            errors[4].to_string(),
            "output too large: 1x2 pixels exceeds the budget of 1 pixels"
        );
        assert_eq!(
            errors[16].to_string(),
            "method not allowed: use GET or HEAD"
        );
    }
}
