//! The cache-hit fast path: image request targets (`/og/post.png?title=Hi&v=…`) served
//! before, each mapped to its image's cache key and the headers its answer carried, so that
//! a repeat is answered before any parsing, validation or canonicalisation.
//!
//! A target is remembered only after the full path (signature check, params, canonical key)
//! served it a `200`, so the fast path can never answer what the full path would refuse.
//! The image itself stays in the image cache, whose budget bounds memory; a target whose
//! image was evicted, or whose template set has since been reloaded, takes the full path.

use std::sync::{Arc, Mutex, Weak};

use hyper::HeaderMap;
use lru::LruCache;

use crate::job::CacheKey;
use crate::template::TemplateSet;

/// Most bytes of request targets and headers remembered.
pub const TARGETS_BUDGET: usize = 16 * 1024 * 1024;

/// Bookkeeping cost of one entry beyond its target (LRU links, key, header map).
const ENTRY_OVERHEAD: usize = 512;

/// What a remembered target is answered with.
#[derive(Clone)]
pub struct Answer {
    /// The image, in the image cache.
    pub key: CacheKey,
    /// Every header of the `200` it was served with, built once.
    pub headers: HeaderMap,
    /// The template set it was rendered from: once that is replaced, the target is stale.
    set: Weak<TemplateSet>,
}

impl Answer {
    /// The answer for the image named `key`, rendered from `set`, sent with `headers`.
    pub fn new(key: CacheKey, headers: HeaderMap, set: &Arc<TemplateSet>) -> Answer {
        Answer {
            key,
            headers,
            set: Arc::downgrade(set),
        }
    }
}

/// Request targets answered before, least recently used dropped first.
pub struct Targets {
    inner: Mutex<Inner>,
}

struct Inner {
    lru: LruCache<Box<str>, Answer>,
    bytes: usize,
}

impl Default for Targets {
    fn default() -> Targets {
        Targets {
            inner: Mutex::new(Inner {
                lru: LruCache::unbounded(),
                bytes: 0,
            }),
        }
    }
}

impl Targets {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The lock guards plain data; a panic elsewhere cannot leave it half-updated.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The answer remembered for `target`, if it was rendered from `current`.
    pub fn get(&self, target: &str, current: &Arc<TemplateSet>) -> Option<Answer> {
        let mut inner = self.lock();
        let answer = inner.lru.get(target)?;
        // The weak reference keeps the old set's allocation, so no other set can have its
        // address: equal pointers mean the same set.
        (answer.set.as_ptr() == Arc::as_ptr(current)).then(|| answer.clone())
    }

    /// Remembers `answer` for `target`, dropping the least recently used targets to stay
    /// within [`TARGETS_BUDGET`].
    pub fn insert(&self, target: &str, answer: Answer) {
        let added = cost(target, &answer);
        let mut inner = self.lock();
        if let Some(old) = inner.lru.put(target.into(), answer) {
            inner.bytes -= cost(target, &old);
        }
        inner.bytes += added;
        while inner.bytes > TARGETS_BUDGET {
            match inner.lru.pop_lru() {
                Some((target, old)) => inner.bytes -= cost(&target, &old),
                None => break,
            }
        }
    }

    /// Forgets every target (the engine was replaced).
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.lru.clear();
        inner.bytes = 0;
    }
}

fn cost(target: &str, answer: &Answer) -> usize {
    let headers: usize = answer
        .headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    target.len() + headers + ENTRY_OVERHEAD
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_stay_within_their_budget_and_follow_their_template_set() {
        let set = Arc::new(TemplateSet::empty());
        let targets = Targets::default();
        let long = "x".repeat(4096);
        let answer = || Answer::new(CacheKey::from_bytes([7; 16]), HeaderMap::new(), &set);
        for i in 0..10_000 {
            targets.insert(&format!("/og/t.png?title={long}{i}"), answer());
        }
        let held = targets.lock().bytes;
        assert!(held <= TARGETS_BUDGET, "{held}");
        assert!(
            targets
                .get(&format!("/og/t.png?title={long}9999"), &set)
                .is_some()
        );
        assert!(
            targets
                .get(&format!("/og/t.png?title={long}0"), &set)
                .is_none()
        );
        // Another template set (a reload) does not see the old answers.
        let reloaded = Arc::new(TemplateSet::empty());
        assert!(
            targets
                .get(&format!("/og/t.png?title={long}9999"), &reloaded)
                .is_none()
        );
    }
}
