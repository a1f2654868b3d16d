//! URL signing: HMAC-SHA256 over the path and query, carried in a `sig` parameter.
//!
//! The signed message is the request path, then `?` and the query string exactly as sent
//! with the `sig` pair removed (nothing else is reordered or decoded), so any client can
//! sign with a few lines of code. An optional `exp` parameter (Unix seconds) inside the
//! signed part makes the URL expire. Several keys may be configured: the first signs, any
//! verifies, which lets keys rotate without breaking published URLs.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit, Mac};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The query key that carries the signature.
pub const SIG_KEY: &str = "sig";
/// The query key that carries an expiry time (Unix seconds).
pub const EXP_KEY: &str = "exp";

/// Why a request's signature was refused; `Display` is the public message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SignatureError {
    /// No `sig` parameter.
    #[error("missing signature: this server only serves signed URLs (add sig=...)")]
    Missing,
    /// `sig` is present but matches no configured key.
    #[error("bad signature")]
    Bad,
    /// The URL's `exp` time has passed.
    #[error("signature expired at {0} (unix time)")]
    Expired(u64),
    /// `exp` is not a whole number of seconds.
    #[error("exp: expected unix seconds, got {0:?}")]
    BadExpiry(String),
}

/// The configured signing keys; empty means signing is off.
#[derive(Clone, Default)]
pub struct Signer {
    keys: Vec<Vec<u8>>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({} keys)", self.keys.len())
    }
}

impl Signer {
    /// A signer over `keys`; the first one signs.
    pub fn new(keys: Vec<Vec<u8>>) -> Signer {
        Signer {
            keys: keys.into_iter().filter(|k| !k.is_empty()).collect(),
        }
    }

    /// Whether requests must be signed.
    pub fn enabled(&self) -> bool {
        !self.keys.is_empty()
    }

    /// Whether `candidate` is one of the keys (compared in constant time).
    pub fn holds_key(&self, candidate: &[u8]) -> bool {
        let probe = b"vellum bearer token";
        let tag = mac(candidate, probe).finalize().into_bytes();
        self.keys
            .iter()
            .any(|key| mac(key, probe).verify_slice(&tag).is_ok())
    }

    /// `path_and_query` with `&sig=...` (or `?sig=...`) appended, signed with the first key.
    /// Returns `None` when no key is configured.
    pub fn sign(&self, path_and_query: &str) -> Option<String> {
        let key = self.keys.first()?;
        let sig =
            URL_SAFE_NO_PAD.encode(mac(key, path_and_query.as_bytes()).finalize().into_bytes());
        let joiner = if path_and_query.contains('?') {
            '&'
        } else {
            '?'
        };
        Some(format!("{path_and_query}{joiner}{SIG_KEY}={sig}"))
    }

    /// Checks the signature of a request (path and raw query, without `?`) at time `now`
    /// (Unix seconds). Always passes when signing is off.
    pub fn verify(&self, path: &str, query: &str, now: u64) -> Result<(), SignatureError> {
        if !self.enabled() {
            return Ok(());
        }
        let mut sig = None;
        let mut rest = Vec::new();
        // Everything but the `sig` pair stays byte for byte as sent (empty pairs included),
        // which is exactly what `sign` and the README's snippets signed.
        for pair in query.split('&') {
            match pair.strip_prefix("sig=") {
                Some(value) if sig.is_none() => sig = Some(value),
                Some(_) => return Err(SignatureError::Bad), // two signatures: refuse
                None => rest.push(pair),
            }
        }
        let sig = sig.ok_or(SignatureError::Missing)?;
        let tag = URL_SAFE_NO_PAD
            .decode(sig)
            .map_err(|_| SignatureError::Bad)?;
        let message = if rest.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{}", rest.join("&"))
        };
        let valid = self
            .keys
            .iter()
            .any(|key| mac(key, message.as_bytes()).verify_slice(&tag).is_ok());
        if !valid {
            return Err(SignatureError::Bad);
        }
        if let Some(exp) = expiry(query) {
            let at: u64 = exp
                .parse()
                .map_err(|_| SignatureError::BadExpiry(exp.to_string()))?;
            if now > at {
                return Err(SignatureError::Expired(at));
            }
        }
        Ok(())
    }
}

/// The value of a query's expiry (`exp=`), if it has one: a signed URL with one is valid only
/// until then.
pub fn expiry(query: &str) -> Option<&str> {
    (query.split('&'))
        .filter_map(|pair| pair.split_once('='))
        .find_map(|(key, value)| (key == EXP_KEY).then_some(value))
}

/// Seconds since the Unix epoch, for [`Signer::verify`].
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn mac(key: &[u8], message: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(url: &str) -> (&str, &str) {
        url.split_once('?').unwrap_or((url, ""))
    }

    #[test]
    fn a_signed_url_verifies_and_any_change_breaks_it() {
        let signer = Signer::new(vec![b"secret".to_vec()]);
        let url = signer.sign("/og/post.png?title=Hi&theme=dark").unwrap();
        let (path, query) = split(&url);
        assert_eq!(signer.verify(path, query, 0), Ok(()));
        let tampered = url.replace("Hi", "Ho");
        let (path, query) = split(&tampered);
        assert_eq!(signer.verify(path, query, 0), Err(SignatureError::Bad));
        assert_eq!(
            signer.verify("/og/other.png", query, 0),
            Err(SignatureError::Bad)
        );
        assert_eq!(
            signer.verify("/og/post.png", "title=Hi", 0),
            Err(SignatureError::Missing)
        );
    }

    #[test]
    fn odd_but_valid_queries_verify_as_signed() {
        let signer = Signer::new(vec![b"secret".to_vec()]);
        for unsigned in [
            "/og/post.png?title=Hi&",
            "/og/post.png?",
            "/og/post.png?&&title=Hi",
            "/og/post.png",
        ] {
            let url = signer.sign(unsigned).unwrap();
            let (path, query) = split(&url);
            assert_eq!(signer.verify(path, query, 0), Ok(()), "{url}");
        }
        let (path, query) = split("/og/post.png?title=Hi&sig=x&");
        assert_eq!(signer.verify(path, query, 0), Err(SignatureError::Bad));
    }

    #[test]
    fn a_known_vector_matches_what_other_languages_compute() {
        // The README's JavaScript and Python snippets produce this value.
        let signer = Signer::new(vec![b"secret".to_vec()]);
        assert_eq!(
            signer.sign("/og/post.png?title=Hello").unwrap(),
            "/og/post.png?title=Hello&sig=ijDf6UOFSeE9DADWWmsdiY07xAWweZKI9hb5H2-l8-U"
        );
    }

    #[test]
    fn old_keys_still_verify_and_expiry_is_enforced() {
        let old = Signer::new(vec![b"old".to_vec()]);
        let rotated = Signer::new(vec![b"new".to_vec(), b"old".to_vec()]);
        let url = old.sign("/og/post?title=Hi&exp=1000").unwrap();
        let (path, query) = split(&url);
        assert_eq!(rotated.verify(path, query, 999), Ok(()));
        assert_eq!(
            rotated.verify(path, query, 1001),
            Err(SignatureError::Expired(1000))
        );
        let dropped = Signer::new(vec![b"new".to_vec()]);
        assert_eq!(dropped.verify(path, query, 0), Err(SignatureError::Bad));
    }

    #[test]
    fn signing_off_lets_everything_through() {
        assert_eq!(Signer::default().verify("/og/post", "title=Hi", 0), Ok(()));
        assert!(Signer::default().sign("/og/post").is_none());
    }
}
