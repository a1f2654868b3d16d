//! Backgrounds found, not declared: the leading elements of a filled template (a gradient,
//! a frame, decorative circles, fixed wording) that repeat from request to request, drawn
//! once and reused.
//!
//! A filled SVG is split after some of its leading elements into what is drawn first
//! ([`Split::under`]: those elements with every root-level definition they may use) and the
//! rest ([`Split::over`]: the SVG without them). Each count of leading elements has a key,
//! the hash of exactly what they draw, and a render takes the most of them seen together
//! before: an element that changes from card to card (a title) ends what is reused, and an
//! element placed by the title's height has one entry per height. A key is drawn when it is
//! seen in a second card (most markup seen in one card is never seen again, and the same card
//! asked for again in another format shares nothing), kept in a byte-bounded cache
//! per scale, its pixels copied under the rest and its PNG blocks and JPEG pieces into the
//! file. The pixels are those of a render in one pass, and blocks and pieces are encoded as a
//! file written without them encodes them, so the files are the same too. A template's own
//! background at a scale other than 1 is kept here the same way.

use std::ops::Range;
use std::sync::{Arc, Mutex};

use lru::LruCache;

use crate::background::Background;
use crate::cache::ByteCache;

/// Bytes of drawn backgrounds kept (a 1200x630 one is about 3.2 MiB, 13 MiB at scale 2;
/// its WebP bands add about 0.5 MiB at scale 1).
pub const FOUND_BACKGROUNDS_BUDGET: usize = 48 * 1024 * 1024;

/// Under-part keys remembered as seen.
const SEEN_KEYS: usize = 4096;

/// Sightings after which every count is halved, so that what was asked for long ago gives
/// way to what is asked for now.
const HALVE_AFTER: usize = 8 * SEEN_KEYS;

/// Root-level elements that draw nothing themselves and that drawn elements refer to: kept on
/// both sides of the split.
const DEFINITIONS: &[&str] = &[
    "defs",
    "linearGradient",
    "radialGradient",
    "pattern",
    "clipPath",
    "mask",
    "filter",
    "marker",
    "symbol",
    "style",
    "title",
    "desc",
    "metadata",
];

/// Elements a found background may hold: shapes, text and groups of them (and images whose
/// data is in the markup, see [`is_plain_shape`]).
const SHAPES: &[&str] = &[
    "rect", "circle", "ellipse", "line", "polyline", "polygon", "path", "g", "text", "tspan",
];

/// Root attributes that make the whole drawing one group (its opacity, filter, mask, clip or
/// style apply to everything at once), which a split would change.
const GROUPING: &[&str] = &["opacity", "filter", "mask", "clip-path", "style"];

/// Leading elements considered for a background, at most.
const MAX_LEADING: usize = 64;

/// A filled SVG's leading drawn elements, to split it after the first `k` of them: what is
/// drawn first ([`Split::under`]) and the rest ([`Split::over`]).
pub struct Split<'a> {
    svg: &'a str,
    /// Where the root element's content starts.
    head: usize,
    /// Every root-level definition.
    definitions: Vec<Range<usize>>,
    /// The leading drawn elements, in order.
    leading: Vec<Range<usize>>,
    /// `keys[k - 1]` is the hash of what the first `k` leading elements draw (their markup,
    /// the root element and every definition).
    keys: Vec<blake3::Hash>,
}

/// Finds `svg`'s leading elements, if it starts with any: shapes, text and groups of them
/// without ids (nothing can `<use>` them) that refer only to root-level definitions.
pub fn split(svg: &str) -> Option<Split<'_>> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        ..roxmltree::ParsingOptions::default()
    };
    let doc = roxmltree::Document::parse_with_options(svg, options).ok()?;
    let root = doc.root_element();
    if GROUPING.iter().any(|a| root.has_attribute(*a)) {
        return None;
    }
    let children: Vec<roxmltree::Node> = root.children().filter(|n| n.is_element()).collect();
    let is_definition = |n: &roxmltree::Node| DEFINITIONS.contains(&n.tag_name().name());
    let defined: Vec<&str> = children
        .iter()
        .filter(|n| is_definition(n))
        .flat_map(|n| n.descendants().filter_map(|d| d.attribute("id")))
        .collect();
    let leading: Vec<Range<usize>> = (children.iter())
        .filter(|n| !is_definition(n))
        .take_while(|n| is_plain_shape(n, &defined))
        .take(MAX_LEADING)
        .map(|n| n.range())
        .collect();
    if leading.is_empty() {
        return None;
    }
    let head = root.first_child()?.range().start;
    let definitions: Vec<Range<usize>> = (children.iter())
        .filter(|n| is_definition(n))
        .map(|n| n.range())
        .collect();
    let mut hasher = blake3::Hasher::new();
    for part in std::iter::once(0..head).chain(definitions.iter().cloned()) {
        hash_part(&mut hasher, &svg[part]);
    }
    let keys = (leading.iter())
        .map(|range| {
            hash_part(&mut hasher, &svg[range.clone()]);
            hasher.finalize()
        })
        .collect();
    Some(Split {
        svg,
        head,
        definitions,
        leading,
        keys,
    })
}

/// Adds one piece of markup to a key, its length first (so pieces cannot run together).
fn hash_part(hasher: &mut blake3::Hasher, part: &str) {
    hasher.update(&(part.len() as u64).to_le_bytes());
    hasher.update(part.as_bytes());
}

impl Split<'_> {
    /// The keys of the first 1, 2, ... leading elements.
    pub fn keys(&self) -> &[blake3::Hash] {
        &self.keys
    }

    /// An SVG of the first `k` leading elements, with the root element and every root-level
    /// definition, in document order.
    pub fn under(&self, k: usize) -> String {
        let mut parts: Vec<&Range<usize>> =
            self.definitions.iter().chain(&self.leading[..k]).collect();
        parts.sort_by_key(|range| range.start);
        let mut under = String::from(&self.svg[..self.head]);
        for range in parts {
            under.push_str(&self.svg[range.clone()]);
        }
        under.push_str("</svg>");
        under
    }

    /// The SVG without its first `k` leading elements.
    pub fn over(&self, k: usize) -> String {
        let mut over = String::with_capacity(self.svg.len());
        let mut from = 0;
        for range in &self.leading[..k] {
            over.push_str(&self.svg[from..range.start]);
            from = range.end;
        }
        over.push_str(&self.svg[from..]);
        over
    }
}

/// Whether `node` is a shape, text, an image given as a `data:` URL (an asset: its bytes are
/// part of the key) or a group of them, with no id, whose references are all among `defined`.
fn is_plain_shape(node: &roxmltree::Node, defined: &[&str]) -> bool {
    let inline_image = |d: &roxmltree::Node| {
        d.has_tag_name("image")
            && (d.attributes()).any(|a| a.name() == "href" && a.value().starts_with("data:"))
    };
    node.descendants().filter(|d| d.is_element()).all(|d| {
        (SHAPES.contains(&d.tag_name().name()) || inline_image(&d))
            && !d.has_attribute("id")
            && d.attributes()
                .all(|a| references(&a).all(|id| defined.contains(&id)))
    })
}

/// The ids an attribute refers to: `url(#id)` in any value, `#id` in an `href`.
fn references<'a>(attribute: &roxmltree::Attribute<'a, '_>) -> impl Iterator<Item = &'a str> {
    let value = attribute.value();
    let href = match attribute.name() {
        "href" => value.strip_prefix('#'),
        _ => None,
    };
    let urls = value
        .split("url(#")
        .skip(1)
        .filter_map(|rest| rest.split(')').next());
    href.into_iter().chain(urls).map(str::trim)
}

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

    /// `svg` without its leading elements, and those drawn at `scale` (their PNG blocks as
    /// `level` compresses them), when they were seen in another card: the most leading
    /// elements seen in another card together, and in at least half as many renders as the
    /// first (so elements that change from card to card, or take a few values, and all after
    /// them, are left out). `pixels` is the bytes of the render's pixmap;
    /// `parse` reads the SVG they are drawn from.
    pub fn find(
        &self,
        svg: &str,
        scale: f32,
        level: u8,
        pixels: usize,
        parse: impl FnOnce(&str) -> Option<usvg::Tree>,
    ) -> Option<(String, Arc<Background>)> {
        let split = split(svg)?;
        let keys = split.keys();
        let scale_bits = scale.to_bits();
        // The same card asked for again (in another format, say) shares nothing with others.
        let card = blake3::hash(svg.as_bytes());
        let sightings: Vec<Sighting> = {
            let mut seen = self.lock_seen();
            (keys.iter())
                .map(|key| seen.sight((*key.as_bytes(), scale_bits), card))
                .collect()
        };
        // Among them, only elements seen in at least half as many renders as the first: one
        // with a few values (a name's initial) would split the background into one per value,
        // each drawn and kept whole to spare a render one glyph.
        let first = sightings[0].count;
        let k = (sightings.iter())
            .rposition(|s| s.only_in.is_none() && 2 * u64::from(s.count) >= u64::from(first))?
            + 1;
        let key = (*keys[k - 1].as_bytes(), scale_bits);
        let background = self.get(key, sightings[k - 1], pixels, || {
            Background::drawn(parse(&split.under(k))?, keys[k - 1], scale, level).ok()
        })?;
        Some((split.over(k), background))
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
        self.get(key, sighting, pixels, || {
            background.at_scale(scale, level).ok()
        })
    }

    /// Weighs `background`, drawn at `scale`, again if it is kept here: encoding a render
    /// over it may have added to what it holds (see [`crate::encode::Backdrop::bytes`]).
    pub fn reweigh(&self, background: &Background, scale: f32) {
        self.drawn
            .reweigh(&(*background.key().as_bytes(), scale.to_bits()));
    }

    /// The background kept under `key`, or drawn now if it was seen in two cards and is worth
    /// its room (about `pixels` bytes), or none.
    fn get(
        &self,
        key: Key,
        sighting: Sighting,
        pixels: usize,
        draw: impl FnOnce() -> Option<Background>,
    ) -> Option<Arc<Background>> {
        if let Some(background) = self.drawn.get(&key) {
            return Some(background);
        }
        if sighting.only_in.is_some() || !self.worth_room(sighting, pixels) {
            return None;
        }
        let background = Arc::new(draw()?);
        self.drawn.insert(key, background.clone());
        Some(background)
    }

    /// Whether a background seen as `sighting`, about `pixels` bytes, was seen in more renders
    /// than the backgrounds it would push out.
    fn worth_room(&self, sighting: Sighting, pixels: usize) -> bool {
        let Some(pushed_out) = self.drawn.would_evict(pixels) else {
            return false;
        };
        let seen = self.lock_seen();
        let lost: u64 = pushed_out
            .iter()
            .map(|key| u64::from(seen.count(key)))
            .sum();
        u64::from(sighting.count) > lost
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

    #[test]
    fn the_leading_elements_go_under_with_every_definition() {
        let split = split(CARD).unwrap();
        assert_eq!(split.keys().len(), 4, "rect, circle, text, rect");
        let (under, over) = (split.under(2), split.over(2));
        assert!(under.contains("<rect width=\"100\"") && under.contains("<circle cx=\"90\""));
        assert!(under.contains("linearGradient") && under.contains("clipPath"));
        assert!(!under.contains("<text") && !under.contains("y=\"40\""));
        assert!(under.ends_with("</svg>"));
        assert!(!over.contains("<circle cx=\"90\"") && !over.contains("url(#bg)"));
        assert!(over.contains("<text") && over.contains("linearGradient"));
        assert!(split.under(3).contains("<text"));
        roxmltree::Document::parse(&under).unwrap();
        roxmltree::Document::parse(&over).unwrap();
        // A key covers exactly the elements before it.
        let other = CARD.replace("Title", "Other");
        let other = super::split(&other).unwrap();
        assert_eq!(other.keys()[..2], split.keys()[..2]);
        assert_ne!(other.keys()[2], split.keys()[2]);
    }

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

    #[test]
    fn the_most_leading_elements_seen_before_are_drawn_under() {
        let found = FoundBackgrounds::default();
        assert!(
            found.find(&card("One"), 1.0, 2, PIXELS, parse).is_none(),
            "first sighting"
        );
        // The title changes: the shapes before it are drawn, the title and all after it not.
        for title in ["Two", "Three"] {
            let (over, _) = found.find(&card(title), 1.0, 2, PIXELS, parse).unwrap();
            assert!(over.contains(title) && over.contains("y=\"40\""), "{over}");
            assert!(!over.contains("<circle cx=\"90\""), "{over}");
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

    #[test]
    fn nothing_is_split_that_could_draw_differently() {
        // The root groups everything.
        let grouped = CARD.replace("height=\"50\">", "height=\"50\" opacity=\"0.5\">");
        assert!(split(&grouped).is_none());
        // A shape with an id (another element may <use> it) or a reference to something
        // that is not a root-level definition ends the leading elements.
        let with_id = CARD.replace("<circle cx=\"90\"", "<circle id=\"dot\" cx=\"90\"");
        assert_eq!(split(&with_id).unwrap().keys().len(), 1);
        let referring = CARD.replace("fill=\"#38bdf8\"", "fill=\"url(#elsewhere)\"");
        assert_eq!(split(&referring).unwrap().keys().len(), 1);
        // An image is drawn under only when its bytes are in the markup.
        let image = |href: &str| {
            let rect = "<rect width=\"100\" height=\"50\" fill=\"url(#bg)\"/>";
            let image = format!("<image href=\"{href}\" width=\"9\" height=\"9\"/>");
            CARD.replace(rect, &format!("{rect}{image}"))
        };
        let inline = image("data:image/png;base64,AAAA");
        assert!(split(&inline).unwrap().under(2).contains("<image"));
        assert_eq!(split(&image("logo.png")).unwrap().keys().len(), 1);
    }
}
