//! An LRU bounded by bytes ([`ByteCache`]: rendered images, fetched remote images) and
//! single-flight work per key ([`Flights`]).
//!
//! Both are generic over what they hold, so that this module knows nothing of the engine.
//! Entries should share their bytes (`Bytes`), so that a hit copies nothing. An entry larger
//! than the whole budget is not stored. An entry that grows after it is stored (a background
//! that keeps encoder data made at first use) is weighed again with [`ByteCache::reweigh`].

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use lru::LruCache;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::OnceCell;

/// Bookkeeping cost of one entry beyond its bytes (key, LRU links, value header).
const ENTRY_OVERHEAD: usize = 128;

/// Counters for `/metrics` and tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct CacheStats {
    /// Lookups that found an image.
    pub hits: u64,
    /// Lookups that did not.
    pub misses: u64,
    /// Entries dropped to stay within the budget.
    pub evictions: u64,
    /// Bytes held now, overhead included.
    pub bytes: usize,
    /// Entries held now.
    pub entries: usize,
}

/// The cache's live counters, shared with [`crate::metrics`].
#[derive(Clone, Default)]
pub struct CacheCounters {
    /// Look-ups that found an image.
    pub hits: Counter,
    /// Look-ups that did not.
    pub misses: Counter,
    /// Entries dropped to stay within the budget.
    pub evictions: Counter,
    /// Bytes held, overhead included.
    pub bytes: Gauge,
    /// Entries held.
    pub entries: Gauge,
}

/// A value the cache can weigh by the bytes it holds.
pub trait Weigh {
    /// The bytes this value keeps alive.
    fn bytes(&self) -> usize;
}

impl Weigh for bytes::Bytes {
    fn bytes(&self) -> usize {
        self.len()
    }
}

/// A byte-bounded LRU.
pub struct ByteCache<K, V> {
    budget: usize,
    inner: Mutex<Inner<K, V>>,
    counters: CacheCounters,
}

struct Inner<K, V> {
    /// Each value with its cost when last weighed, which is what leaves `bytes` with it.
    lru: LruCache<K, (V, usize)>,
    bytes: usize,
}

fn cost(value: &impl Weigh) -> usize {
    value.bytes() + ENTRY_OVERHEAD
}

impl<K: std::hash::Hash + Eq, V: Weigh + Clone> ByteCache<K, V> {
    /// An empty cache that holds at most `budget` bytes.
    pub fn new(budget: usize) -> ByteCache<K, V> {
        ByteCache {
            budget,
            inner: Mutex::new(Inner {
                lru: LruCache::unbounded(),
                bytes: 0,
            }),
            counters: CacheCounters::default(),
        }
    }

    /// The live counters (clones share the same values).
    pub fn counters(&self) -> CacheCounters {
        self.counters.clone()
    }

    /// Counts from now on into `counters` (another cache's, which this one replaces), its
    /// bytes and entries set to this cache's.
    pub fn continue_counting_into(&mut self, counters: CacheCounters) {
        let inner = self.lock();
        counters.bytes.set(inner.bytes as i64);
        counters.entries.set(inner.lru.len() as i64);
        drop(inner);
        self.counters = counters;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<K, V>> {
        // The lock guards plain data; a panic elsewhere cannot leave it half-updated.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The value for `key`, marking it recently used.
    pub fn get(&self, key: &K) -> Option<V> {
        let found = self.lock().lru.get(key).map(|(value, _)| value.clone());
        let counter = if found.is_some() {
            &self.counters.hits
        } else {
            &self.counters.misses
        };
        counter.inc();
        found
    }

    /// Stores a value, evicting the least recently used ones to stay within the budget.
    pub fn insert(&self, key: K, value: V) {
        let size = cost(&value);
        if size > self.budget {
            return;
        }
        let mut inner = self.lock();
        if let Some((_, old)) = inner.lru.put(key, (value, size)) {
            inner.bytes -= old;
        }
        inner.bytes += size;
        self.shrink(&mut inner);
    }

    /// The keys of the values that storing a value of `bytes` would evict, least recently
    /// used first, or `None` if such a value would not be stored at all.
    pub fn would_evict(&self, bytes: usize) -> Option<Vec<K>>
    where
        K: Clone,
    {
        let size = bytes + ENTRY_OVERHEAD;
        if size > self.budget {
            return None;
        }
        let inner = self.lock();
        let mut free = self.budget.saturating_sub(inner.bytes);
        let mut evicted = Vec::new();
        for (key, (_, cost)) in inner.lru.iter().rev() {
            if free >= size {
                break;
            }
            free += cost;
            evicted.push(key.clone());
        }
        Some(evicted)
    }

    /// Weighs `key`'s value again (it may hold more than when it was stored), marking it
    /// recently used, and evicts the least recently used values to stay within the budget.
    pub fn reweigh(&self, key: &K) {
        let Some(value) = self.lock().lru.peek(key).map(|(value, _)| value.clone()) else {
            return;
        };
        // Weighed without the cache's lock: weighing may wait on the value's own locks (a
        // background's encoder data being made), and every lookup needs the cache's. A value
        // stored under `key` in between takes this weight until it is weighed again; the
        // count stays the sum of the weights recorded.
        let new = cost(&value);
        let mut inner = self.lock();
        let Some((_, size)) = inner.lru.get_mut(key) else {
            return;
        };
        let old = std::mem::replace(size, new);
        inner.bytes = inner.bytes - old + new;
        self.shrink(&mut inner);
    }

    /// Evicts the least recently used values until the rest fit the budget.
    fn shrink(&self, inner: &mut Inner<K, V>) {
        while inner.bytes > self.budget {
            let Some((_, (_, size))) = inner.lru.pop_lru() else {
                break;
            };
            inner.bytes -= size;
            self.counters.evictions.inc();
        }
        self.counters.bytes.set(inner.bytes as i64);
        self.counters.entries.set(inner.lru.len() as i64);
    }

    /// Drops `key`'s value, if held (counted as neither hit nor eviction).
    pub fn remove(&self, key: &K) {
        let mut inner = self.lock();
        if let Some((_, size)) = inner.lru.pop(key) {
            inner.bytes -= size;
        }
        self.counters.bytes.set(inner.bytes as i64);
        self.counters.entries.set(inner.lru.len() as i64);
    }

    /// Drops every value (counted as neither hit nor eviction).
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.lru.clear();
        inner.bytes = 0;
        self.counters.bytes.set(0);
        self.counters.entries.set(0);
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> CacheStats {
        let inner = self.lock();
        CacheStats {
            hits: self.counters.hits.get(),
            misses: self.counters.misses.get(),
            evictions: self.counters.evictions.get(),
            bytes: inner.bytes,
            entries: inner.lru.len(),
        }
    }
}

type Flight<T> = Arc<OnceCell<T>>;

/// Work in progress, by key: concurrent misses for one key share one piece of work.
pub struct Flights<K, T> {
    running: Mutex<HashMap<K, Flight<T>>>,
}

impl<K, T> Default for Flights<K, T> {
    fn default() -> Self {
        Flights {
            running: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: std::hash::Hash + Eq + Clone, T: Clone> Flights<K, T> {
    /// Runs `work` for `key` unless work for it is already running, in which case this waits
    /// for that one and returns its result.
    pub async fn run<F>(&self, key: K, work: F) -> T
    where
        F: Future<Output = T>,
    {
        let flight = self
            .lock()
            .entry(key.clone())
            .or_insert_with(|| Arc::new(OnceCell::new()))
            .clone();
        let result = flight.get_or_init(|| work).await.clone();
        let mut running = self.lock();
        if running.get(&key).is_some_and(|f| Arc::ptr_eq(f, &flight)) {
            running.remove(&key);
        }
        result
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Flight<T>>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::sync::atomic::{AtomicU64, Ordering};

    type ImageCache = ByteCache<u8, Bytes>;

    fn key(n: u8) -> u8 {
        n
    }

    fn image(len: usize) -> Bytes {
        Bytes::from(vec![0u8; len])
    }

    #[test]
    fn stays_within_its_byte_budget_evicting_least_recently_used() {
        let cache = ImageCache::new(3 * (1000 + ENTRY_OVERHEAD));
        for n in 0..3 {
            cache.insert(key(n), image(1000));
        }
        assert!(cache.get(&key(0)).is_some()); // 0 is now the most recent
        cache.insert(key(3), image(1000));
        let stats = cache.stats();
        assert_eq!(stats.entries, 3);
        assert_eq!(stats.evictions, 1);
        assert!(stats.bytes <= 3 * (1000 + ENTRY_OVERHEAD));
        assert!(
            cache.get(&key(1)).is_none(),
            "the least recently used entry goes first"
        );
        assert!(cache.get(&key(0)).is_some());
    }

    #[test]
    fn says_what_storing_a_value_would_evict() {
        let cache = ImageCache::new(3 * (100 + ENTRY_OVERHEAD));
        for n in 0..3 {
            cache.insert(key(n), image(100));
        }
        assert_eq!(cache.would_evict(0), Some(vec![key(0)]));
        cache.get(&key(0));
        assert_eq!(cache.would_evict(100), Some(vec![key(1)]));
        assert_eq!(cache.would_evict(101), Some(vec![key(1), key(2)]));
        let whole = 3 * (100 + ENTRY_OVERHEAD);
        assert_eq!(cache.would_evict(whole), None, "larger than the budget");
        // Asking evicts nothing.
        assert_eq!(cache.stats().entries, 3);
        cache.insert(key(3), image(101));
        assert_eq!(cache.would_evict(0), Some(vec![]), "room left");
        assert_eq!(cache.would_evict(200), Some(vec![key(0)]));
        assert_eq!(cache.stats().entries, 2);
    }

    #[test]
    fn a_cache_in_another_s_place_counts_into_its_counters() {
        let old = ImageCache::new(1000);
        old.insert(key(1), image(100));
        old.get(&key(1));
        let shown = old.counters();
        let mut new = ImageCache::new(1000);
        new.continue_counting_into(old.counters());
        assert_eq!(
            (shown.bytes.get(), shown.entries.get()),
            (0, 0),
            "the new one's"
        );
        new.insert(key(2), image(50));
        new.get(&key(2));
        new.get(&key(3));
        assert_eq!((shown.hits.get(), shown.misses.get()), (2, 1));
        assert_eq!(shown.bytes.get(), (50 + ENTRY_OVERHEAD) as i64);
    }

    #[test]
    fn an_image_larger_than_the_budget_is_not_stored() {
        let cache = ImageCache::new(500);
        cache.insert(key(1), image(1000));
        assert_eq!(cache.stats().entries, 0);
        assert_eq!(cache.stats().bytes, 0);
    }

    /// A value whose bytes grow after it is stored, as a background's do.
    #[derive(Clone)]
    struct Growing(Arc<std::sync::atomic::AtomicUsize>);

    impl Weigh for Growing {
        fn bytes(&self) -> usize {
            self.0.load(Ordering::SeqCst)
        }
    }

    fn growing(len: usize) -> Growing {
        Growing(Arc::new(len.into()))
    }

    #[test]
    fn a_value_that_grows_is_weighed_again_and_the_budget_holds() {
        let cache = ByteCache::<u8, Growing>::new(3 * (1000 + ENTRY_OVERHEAD));
        let values: Vec<Growing> = (0..3).map(|_| growing(1000)).collect();
        for (n, value) in values.iter().enumerate() {
            cache.insert(key(n as u8), value.clone());
        }
        // Grown but not weighed again: the count stays what was added, and evicting it
        // later takes away exactly that (no underflow, no drift).
        values[0].0.store(1500, Ordering::SeqCst);
        assert_eq!(cache.stats().bytes, 3 * (1000 + ENTRY_OVERHEAD));
        cache.reweigh(&key(0));
        let stats = cache.stats();
        assert_eq!(
            stats.entries, 2,
            "the least recently used other value made room"
        );
        assert_eq!(stats.bytes, 1500 + 1000 + 2 * ENTRY_OVERHEAD);
        assert!(cache.get(&key(0)).is_some(), "the grown value stays");
        assert!(cache.get(&key(1)).is_none());
        cache.reweigh(&key(9)); // not held: nothing happens
        for n in [0, 2] {
            cache.insert(key(n), growing(10));
        }
        assert_eq!(cache.stats().bytes, 2 * (10 + ENTRY_OVERHEAD));
        // Grown past the whole budget: it goes too.
        let huge = growing(10);
        cache.insert(key(5), huge.clone());
        huge.0.store(10_000, Ordering::SeqCst);
        cache.reweigh(&key(5));
        assert_eq!(cache.stats().entries, 0);
        assert_eq!(cache.stats().bytes, 0);
    }

    #[tokio::test]
    async fn concurrent_runs_for_one_key_render_once() {
        let flights = Arc::new(Flights::<u8, Bytes>::default());
        let calls = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (flights, calls) = (flights.clone(), calls.clone());
            tasks.push(tokio::spawn(async move {
                flights
                    .run(key(7), async {
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        image(10)
                    })
                    .await
            }));
        }
        for task in tasks {
            assert_eq!(task.await.unwrap().len(), 10);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(flights.lock().is_empty(), "finished flights are forgotten");
    }
}
