//! Reading an HTTP body under a byte limit, for request bodies (`POST /render`) and fetched
//! images alike: a declared `Content-Length` over the limit is refused before anything is
//! read, and a body that grows past the limit (whatever it declared) is cut off there.

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};

/// Why a body could not be read whole.
#[derive(Debug)]
pub enum BodyError {
    /// Longer than the limit, declared or actual.
    TooLarge,
    /// The stream failed; the error as the body reported it.
    Read(Box<dyn std::error::Error + Send + Sync>),
}

/// Reads `body` (sent with `headers`) whole, if it holds at most `limit` bytes.
pub async fn read_limited<B>(
    headers: &hyper::HeaderMap,
    body: B,
    limit: usize,
) -> Result<Bytes, BodyError>
where
    B: hyper::body::Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let declared = headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(BodyError::TooLarge),
        Err(e) => Err(BodyError::Read(e)),
    }
}
