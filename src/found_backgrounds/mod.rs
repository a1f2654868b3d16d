//! Backgrounds found, not declared: the elements of a filled template (a gradient, a frame,
//! decorative circles, fixed wording, a design's photo) that repeat from request to request,
//! drawn once and reused.
//!
//! A filled SVG's leading elements ([`split`]) each have a key, the hash of what they draw,
//! and a render takes those seen in another card before: an element that changes from card
//! to card (a title) is left to be drawn with the rest, and an element placed by the title's
//! height has one key per height. The elements taken are drawn together under the rest
//! ([`split::Split::under`]), keyed by what they draw, in a byte-bounded cache per scale,
//! their pixels copied under the rest and their PNG blocks and JPEG pieces into the file.
//! Elements taken from after one that changes are drawn before it: the render checks that
//! nothing the rest draws crosses them, and a background whose elements were crossed gives
//! way to one of the elements before the first change alone. So the pixels are those of a
//! render in one pass, and blocks and pieces are encoded as a file written without them
//! encodes them, so the files are the same too. A template's own background at a scale
//! other than 1 is kept here the same way.

mod split;

use std::sync::{Arc, Mutex};

use lru::LruCache;

use crate::background::Background;
use crate::cache::ByteCache;
use crate::raster;
use split::split;

/// Bytes of drawn backgrounds kept (a 1200x630 one is about 3.2 MiB, 13 MiB at scale 2;
/// its WebP bands add about 0.5 MiB at scale 1).
pub const FOUND_BACKGROUNDS_BUDGET: usize = 48 * 1024 * 1024;

/// Keys remembered as seen: each leading element's, and those of the elements drawn
/// together.
const SEEN_KEYS: usize = 4096;

/// Sightings after which every count is halved, so that what was asked for long ago gives
/// way to what is asked for now.
const HALVE_AFTER: usize = 8 * SEEN_KEYS;

/// What a drawn background is kept under: its markup's hash and the scale it is drawn at.
type Key = ([u8; 32], u32);

/// Backgrounds drawn when seen in a second card: found in filled templates, or a template's
/// own at a scale other than 1.
///
/// When the cache is full, a background is drawn only if it was seen in more renders than
/// those it would push out together (their counts halved now and then): with more
/// backgrounds in use than fit, a least-recently-used cache alone would draw every one again
/// before it is reused, which costs more than drawing each card in one pass.
pub struct FoundBackgrounds {
    seen: Mutex<Seen>,
    drawn: ByteCache<Key, Arc<Background>>,
}

/// Keys seen, with how often.
struct Seen {
    keys: LruCache<Key, Sighting>,
    /// Sightings since the counts were last halved.
    since_halved: usize,
}

/// How a key was seen.
#[derive(Clone, Copy)]
struct Sighting {
    /// The one card it was seen in (the hash of its filled SVG), or `None` once seen in two.
    only_in: Option<blake3::Hash>,
    /// Renders it was seen in.
    count: u32,
    /// Whether the rest of a card drawn over it crossed an element it took from after one
    /// that changes (for the key of elements drawn together).
    crossed: bool,
}

impl Seen {
    /// Records `key` seen in `card`.
    fn sight(&mut self, key: Key, card: blake3::Hash) -> Sighting {
        self.since_halved += 1;
        if self.since_halved >= HALVE_AFTER {
            self.since_halved = 0;
            for (_, sighting) in self.keys.iter_mut() {
                sighting.count /= 2;
            }
        }
        let sighting = self.keys.get_or_insert_mut(key, || Sighting {
            only_in: Some(card),
            count: 0,
            crossed: false,
        });
        if sighting.only_in != Some(card) {
            sighting.only_in = None;
        }
        sighting.count = sighting.count.saturating_add(1);
        *sighting
    }

    /// Renders `key` was seen in (0 if it is not remembered).
    fn count(&self, key: &Key) -> u32 {
        self.keys.peek(key).map_or(0, |s| s.count)
    }

    /// Whether a card's rest was drawn across elements `key` took from after a change (kept
    /// as recently used, so that it is remembered while cards would take it).
    fn crossed(&mut self, key: &Key) -> bool {
        self.keys.get(key).is_some_and(|s| s.crossed)
    }
}

impl Default for FoundBackgrounds {
    fn default() -> FoundBackgrounds {
        FoundBackgrounds::with_budget(FOUND_BACKGROUNDS_BUDGET)
    }
}

impl FoundBackgrounds {
    fn with_budget(budget: usize) -> FoundBackgrounds {
        let keys = LruCache::new(SEEN_KEYS.try_into().expect("SEEN_KEYS is not zero"));
        FoundBackgrounds {
            seen: Mutex::new(Seen {
                keys,
                since_halved: 0,
            }),
            drawn: ByteCache::new(budget),
        }
    }

    /// The drawn backgrounds' cache counters: a hit is a render that drew only its rest.
    pub fn stats(&self) -> crate::cache::CacheStats {
        self.drawn.stats()
    }

    /// The live counters behind [`FoundBackgrounds::stats`], for `/metrics`.
    pub fn counters(&self) -> crate::cache::CacheCounters {
        self.drawn.counters()
    }

    /// Counts on into `old`'s counters, which `/metrics` shows, when this replaces it.
    pub fn continue_counting_from(&mut self, old: &FoundBackgrounds) {
        self.drawn.continue_counting_into(old.counters());
    }

    /// `svg` without the leading elements seen in another card, and those drawn at `scale`
    /// (their PNG blocks as `level` compresses them): the elements seen in another card, and
    /// in at least half as many renders as the first (so elements that change from card to
    /// card, or take a few values, are left out), when the first is among them. Elements
    /// after one left out are taken only until a rest is drawn across them (see
    /// [`FoundBackgrounds::crossed`]). `pixels` is the bytes of the render's pixmap; `parse`
    /// reads the SVGs they are drawn from.
    pub fn find(
        &self,
        svg: &str,
        scale: f32,
        level: u8,
        pixels: usize,
        parse: impl Fn(&str) -> Option<usvg::Tree>,
    ) -> Option<(String, Arc<Background>)> {
        let split = split(svg)?;
        let scale_bits = scale.to_bits();
        let key_of = |chosen: &[usize]| (*split.key(chosen).as_bytes(), scale_bits);
        // The same card asked for again (in another format, say) shares nothing with others.
        let card = blake3::hash(svg.as_bytes());
        let mut seen = self.lock_seen();
        let sightings: Vec<Sighting> = (split.element_keys().iter())
            .map(|key| seen.sight((*key.as_bytes(), scale_bits), card))
            .collect();
        // Among them, only elements seen in at least half as many renders as the first: one
        // with a few values (a name's initial) would split the background into one per value,
        // each drawn and kept whole to spare a render one glyph.
        let first = u64::from(sightings[0].count);
        let mut chosen: Vec<usize> = (0..sightings.len())
            .filter(|&i| {
                sightings[i].only_in.is_none() && 2 * u64::from(sightings[i].count) >= first
            })
            .collect();
        if chosen.first() != Some(&0) {
            return None;
        }
        if !split::moved(&chosen).is_empty() && seen.crossed(&key_of(&chosen)) {
            let in_place = chosen.len() - split::moved(&chosen).len();
            chosen.truncate(in_place);
        }
        let key = key_of(&chosen);
        let count = seen.sight(key, card).count;
        drop(seen);
        let background = self.get(key, count, pixels, || {
            let moved = split::moved(&chosen);
            let moved_bounds = match moved {
                [] => None,
                moved => Some(parse(&split.under(moved))?.root().abs_layer_bounding_box()),
            };
            let tree = parse(&split.under(&chosen))?;
            let drawn = Background::drawn(tree, split.key(&chosen), scale, level).ok()?;
            Some(drawn.with_moved(moved_bounds))
        })?;
        Some((split.over(&chosen), background))
    }

    /// Whether `rest`, drawn over `found` (a background [`FoundBackgrounds::find`] gave at
    /// `scale`), gives the pixels of one pass. Not if `found` was drawn node by node and
    /// `rest` cannot be (one pass would draw them all in one go, see
    /// [`raster::draws_node_by_node`]), nor if `rest` crosses elements `found` took from
    /// after one that changes: then `found` is dropped (see [`FoundBackgrounds::crossed`]).
    pub fn fits_under(&self, found: &Background, rest: &usvg::Tree, scale: f32) -> bool {
        if !found.clear_of(rest, scale) {
            self.crossed(found, scale);
            return false;
        }
        !found.node_by_node_over() || raster::draws_node_by_node(rest)
    }

    /// Records that the rest of a card, drawn over `background` at `scale`, crossed elements
    /// it took from after one that changes: it is dropped, and the cards that would take it
    /// take the elements before the first change alone.
    fn crossed(&self, background: &Background, scale: f32) {
        let key = (*background.key().as_bytes(), scale.to_bits());
        if let Some(sighting) = self.lock_seen().keys.get_mut(&key) {
            sighting.crossed = true;
        }
        self.drawn.remove(&key);
    }

    /// A template's background drawn at `scale` (not 1, where it is drawn at load), when it
    /// was asked for at that scale by another card (`svg`, filled) before. `pixels` is the
    /// bytes of the render's pixmap.
    pub fn at_scale(
        &self,
        background: &Background,
        svg: &str,
        scale: f32,
        level: u8,
        pixels: usize,
    ) -> Option<Arc<Background>> {
        let key = (*background.key().as_bytes(), scale.to_bits());
        let sighting = self.lock_seen().sight(key, blake3::hash(svg.as_bytes()));
        if sighting.only_in.is_some() {
            return self.drawn.get(&key);
        }
        self.get(key, sighting.count, pixels, || {
            background.at_scale(scale, level).ok()
        })
    }

    /// Weighs `background`, drawn at `scale`, again if it is kept here: encoding a render
    /// over it may have added to what it holds (see [`crate::encode::Backdrop::bytes`]).
    pub fn reweigh(&self, background: &Background, scale: f32) {
        self.drawn
            .reweigh(&(*background.key().as_bytes(), scale.to_bits()));
    }

    /// The background kept under `key`, or drawn now if, seen in `count` renders, it is worth
    /// its room (about `pixels` bytes), or none.
    fn get(
        &self,
        key: Key,
        count: u32,
        pixels: usize,
        draw: impl FnOnce() -> Option<Background>,
    ) -> Option<Arc<Background>> {
        if let Some(background) = self.drawn.get(&key) {
            return Some(background);
        }
        if !self.worth_room(count, pixels) {
            return None;
        }
        let background = Arc::new(draw()?);
        self.drawn.insert(key, background.clone());
        Some(background)
    }

    /// Whether a background seen in `count` renders, about `pixels` bytes, was seen in more
    /// renders than the backgrounds it would push out.
    fn worth_room(&self, count: u32, pixels: usize) -> bool {
        let Some(pushed_out) = self.drawn.would_evict(pixels) else {
            return false;
        };
        let seen = self.lock_seen();
        let lost: u64 = pushed_out
            .iter()
            .map(|key| u64::from(seen.count(key)))
            .sum();
        u64::from(count) > lost
    }

    fn lock_seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CARD: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" width="100" height="50">
  <defs><linearGradient id="bg"><stop offset="0" stop-color="#000"/></linearGradient></defs>
  <rect width="100" height="50" fill="url(#bg)"/>
  <circle cx="90" cy="10" r="20" fill="#38bdf8"/>
  <text x="5" y="30">Title</text>
  <rect x="5" y="40" width="90" height="2"/>
  <clipPath id="c"><circle cx="5" cy="5" r="5"/></clipPath>
</svg>"##;

    /// [`CARD`] with another title.
    fn card(title: &str) -> String {
        CARD.replace("Title", title)
    }

    /// [`CARD`]'s pixmap bytes at scale 1.
    const PIXELS: usize = 100 * 50 * 4;

    /// What [`FoundBackgrounds::find`] parses the drawn SVG with.
    fn parse(svg: &str) -> Option<usvg::Tree> {
        crate::raster::parse(svg, &usvg::Options::default(), 1000).ok()
    }

    /// What `rest` draws, parsed.
    fn tree(rest: &str) -> usvg::Tree {
        parse(rest).expect("the rest parses")
    }

    #[test]
    fn the_elements_seen_before_are_drawn_under() {
        let found = FoundBackgrounds::default();
        assert!(
            found.find(&card("One"), 1.0, 2, PIXELS, parse).is_none(),
            "first sighting"
        );
        // The title changes: every other element is drawn under, the rule after it too, and
        // a title that stays clear of the rule draws as it would in one pass.
        for title in ["Two", "Three"] {
            let (over, under) = found.find(&card(title), 1.0, 2, PIXELS, parse).unwrap();
            assert!(over.contains(title) && !over.contains("y=\"40\""), "{over}");
            assert!(!over.contains("<circle cx=\"90\""), "{over}");
            assert!(under.clear_of(&tree(&over), 1.0));
        }
        assert_eq!(found.stats().hits, 1);
        // At another scale, they are drawn again at their own second sighting.
        assert!(
            found
                .find(&card("Four"), 2.0, 2, 4 * PIXELS, parse)
                .is_none()
        );
        assert!(
            found
                .find(&card("Five"), 2.0, 2, 4 * PIXELS, parse)
                .is_some()
        );
    }

    #[test]
    fn a_rest_drawn_across_moved_elements_leaves_them_to_the_rest_from_then_on() {
        // The title as a bar (the tests' usvg has no fonts): `width` wide, its top at `y`.
        let bar = |width: u32, y: u32| {
            let bar = format!("<rect x=\"5\" y=\"{y}\" width=\"{width}\" height=\"8\"/>");
            CARD.replace("<text x=\"5\" y=\"30\">Title</text>", &bar)
        };
        let found = FoundBackgrounds::default();
        found.find(&bar(10, 22), 1.0, 2, PIXELS, parse);
        // A bar on the rule (y 40 to 42): the background that holds the rule is not clear of it.
        let (over, under) = found.find(&bar(20, 36), 1.0, 2, PIXELS, parse).unwrap();
        assert!(!over.contains("y=\"40\""), "{over}");
        let rest = tree(&over);
        assert!(!under.clear_of(&rest, 1.0));
        // Clear when 2 device pixels away from it (each side rounded out, then grown by one),
        // at scale 1 and scale 3.
        let clear = |y: u32, scale: f32| {
            let over = split(&bar(20, y)).unwrap().over(&[0, 1, 3]);
            under.clear_of(&tree(&over), scale)
        };
        assert!(clear(30, 1.0) && !clear(31, 1.0));
        assert!(clear(31, 3.0) && !clear(32, 3.0));
        assert_eq!(found.stats().entries, 1);
        assert!(!found.fits_under(&under, &rest, 1.0));
        assert_eq!(found.stats().entries, 0, "dropped");
        // From then on the rule is drawn with the rest, over the elements before the bar.
        for width in [30, 40] {
            let (over, under) = found.find(&bar(width, 22), 1.0, 2, PIXELS, parse).unwrap();
            assert!(over.contains("y=\"40\"") && over.contains("<rect x=\"5\" y=\"22\""));
            assert!(under.clear_of(&tree(&over), 1.0), "nothing moved");
        }
    }

    #[test]
    fn an_element_with_a_few_values_is_not_drawn_under() {
        // The circle takes one of four colours, by the title's initial.
        let card = |title: &str| {
            let color = ["#a00", "#0a0", "#00a", "#aa0"][usize::from(title.as_bytes()[0] % 4)];
            card(title).replace("#38bdf8", color)
        };
        let found = FoundBackgrounds::default();
        let titles = ["A1", "B2", "C3", "D4", "A5", "B6", "C7", "D8"];
        let overs: Vec<Option<String>> = (titles.iter())
            .map(|t| {
                found
                    .find(&card(t), 1.0, 2, PIXELS, parse)
                    .map(|(over, _)| over)
            })
            .collect();
        // "A5" shares its circle with "A1" alone: the rectangle before it, which every card
        // shares, is what is drawn under.
        for over in overs.iter().skip(1) {
            let over = over.as_ref().expect("drawn under from the second card on");
            assert!(over.contains("<circle cx=\"90\""), "{over}");
        }
        assert_eq!(found.stats().entries, 1);
    }

    #[test]
    fn the_same_card_asked_for_again_draws_nothing_under() {
        let found = FoundBackgrounds::default();
        // One card in PNG, JPEG and WebP: its elements are seen in one card only.
        for _ in 0..3 {
            assert!(found.find(&card("One"), 1.0, 2, PIXELS, parse).is_none());
        }
        assert_eq!(found.stats().misses, 0, "nothing drawn under");
        // A second card shares the shapes before the title, and so does that card again.
        for _ in 0..2 {
            let (over, _) = found.find(&card("Two"), 1.0, 2, PIXELS, parse).unwrap();
            assert!(
                over.contains("Two") && !over.contains("<circle cx=\"90\""),
                "{over}"
            );
        }
        assert_eq!(found.stats().hits, 1);
    }

    #[test]
    fn a_full_cache_draws_a_background_only_if_it_was_seen_more_than_those_it_pushes_out() {
        // Cards whose backgrounds differ in their gradient's colour.
        let card = |color: &str, title: &str| card(title).replace("#000", color);
        let one = FoundBackgrounds::default();
        one.find(&card("#111111", "a"), 1.0, 2, PIXELS, parse);
        one.find(&card("#111111", "b"), 1.0, 2, PIXELS, parse)
            .unwrap();
        // Room for two, each about `weight` (at this size, encoder tables outweigh pixels).
        let weight = one.stats().bytes;
        let found = FoundBackgrounds::with_budget(2 * weight + weight / 2);
        let mut titles = (0..).map(|n| n.to_string());
        let mut show = |color: &str| {
            let title = titles.next().unwrap();
            found
                .find(&card(color, &title), 1.0, 2, weight, parse)
                .is_some()
        };
        for color in ["#111111", "#222222"] {
            assert!(!show(color) && show(color), "drawn at its second card");
        }
        assert_eq!(found.stats().entries, 2);
        // A third, seen as often as those it would push out: not drawn, and nothing goes.
        assert!(!show("#333333") && !show("#333333"));
        assert_eq!((found.stats().entries, found.stats().evictions), (2, 0));
        // Seen more often than the least recently used one: drawn in its place.
        assert!(show("#333333"), "seen in 3 cards, against 2");
        assert_eq!((found.stats().entries, found.stats().evictions), (2, 1));
        assert!(show("#222222"), "kept");
    }
}
