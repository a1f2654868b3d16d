//! Backgrounds found, not declared: the leading shapes of a filled template (a gradient, a
//! frame, decorative circles) that repeat from request to request, drawn once and reused.
//!
//! A filled SVG is split into what is drawn first ([`Split::under`]: its leading shapes with
//! every root-level definition they may use) and the rest ([`Split::over`]: the SVG without
//! them). The under part is keyed by a hash of its own markup, so it is reused exactly when
//! it would be drawn the same: a shape that depends on no parameter, or only on the theme or
//! a colour, repeats; one placed by the title's height has one entry per height. A key is
//! drawn the second time it is seen (most markup seen once is never seen again), kept in a
//! byte-bounded cache per scale, its pixels copied under the rest and its PNG blocks into the
//! file. The pixels are those of a render in one pass, and blocks are compressed as a PNG
//! written without them compresses them, so the files are the same too. A template's own
//! background at a scale other than 1 is kept here the same way.

use std::sync::{Arc, Mutex};

use lru::LruCache;

use crate::background::Background;
use crate::cache::ByteCache;
use crate::raster;

/// Bytes of drawn backgrounds kept (a 1200x630 one is about 3.2 MiB, 13 MiB at scale 2).
pub const FOUND_BACKGROUNDS_BUDGET: usize = 48 * 1024 * 1024;

/// Under-part keys remembered as seen once.
const SEEN_KEYS: usize = 4096;

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

/// Elements a found background may hold: shapes and groups of them (and images whose data
/// is in the markup, see [`is_plain_shape`]).
const SHAPES: &[&str] = &[
    "rect", "circle", "ellipse", "line", "polyline", "polygon", "path", "g",
];

/// Root attributes that make the whole drawing one group (its opacity, filter, mask, clip or
/// style apply to everything at once), which a split would change.
const GROUPING: &[&str] = &["opacity", "filter", "mask", "clip-path", "style"];

/// A filled SVG split into what is drawn first and the rest.
pub struct Split {
    /// Hash of [`Split::under`]: what the drawn background is keyed by.
    pub key: blake3::Hash,
    /// An SVG of the leading shapes, with the root element and every root-level definition.
    pub under: String,
    /// The SVG without the leading shapes.
    pub over: String,
}

/// Splits `svg` after its leading shapes, if it starts with any: shapes and groups of
/// shapes without ids (nothing can `<use>` them) that refer only to root-level definitions.
pub fn split(svg: &str) -> Option<Split> {
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
    let mut leading = Vec::new();
    for child in &children {
        if is_definition(child) {
            continue;
        }
        if !is_plain_shape(child, &defined) {
            break;
        }
        leading.push(child.range());
    }
    if leading.is_empty() {
        return None;
    }
    let head = &svg[..root.first_child()?.range().start];
    let mut under = String::from(head);
    for child in &children {
        if is_definition(child) || leading.contains(&child.range()) {
            under.push_str(&svg[child.range()]);
        }
    }
    under.push_str("</svg>");
    let mut over = String::with_capacity(svg.len());
    let mut from = 0;
    for range in &leading {
        over.push_str(&svg[from..range.start]);
        from = range.end;
    }
    over.push_str(&svg[from..]);
    Some(Split {
        key: blake3::hash(under.as_bytes()),
        under,
        over,
    })
}

/// Whether `node` is a shape, an image given as a `data:` URL (an asset: its bytes are part
/// of the key) or a group of them, with no id, whose references are all among `defined`.
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

/// Backgrounds drawn at their second sighting: found in filled templates, or a template's
/// own at a scale other than 1.
pub struct FoundBackgrounds {
    seen: Mutex<LruCache<Key, ()>>,
    drawn: ByteCache<Key, Arc<Background>>,
}

impl Default for FoundBackgrounds {
    fn default() -> FoundBackgrounds {
        let seen = LruCache::new(SEEN_KEYS.try_into().expect("SEEN_KEYS is not zero"));
        FoundBackgrounds {
            seen: Mutex::new(seen),
            drawn: ByteCache::new(FOUND_BACKGROUNDS_BUDGET),
        }
    }
}

impl FoundBackgrounds {
    /// The drawn backgrounds' cache counters: a hit is a render that drew only its rest.
    pub fn stats(&self) -> crate::cache::CacheStats {
        self.drawn.stats()
    }

    /// `svg` without its leading shapes, and those drawn at `scale` (their PNG blocks as
    /// `level` compresses them), when they were seen before.
    pub fn find(
        &self,
        svg: &str,
        scale: f32,
        level: u8,
        options: &usvg::Options,
        max_nodes: u32,
    ) -> Option<(String, Arc<Background>)> {
        let split = split(svg)?;
        let key = (*split.key.as_bytes(), scale.to_bits());
        let background = self.get(key, || {
            let tree = raster::parse(&split.under, options, max_nodes).ok()?;
            Background::drawn(tree, split.key, scale, level).ok()
        })?;
        Some((split.over, background))
    }

    /// A template's background drawn at `scale` (not 1, where it is drawn at load), when it
    /// was asked for at that scale before.
    pub fn at_scale(
        &self,
        background: &Background,
        scale: f32,
        level: u8,
    ) -> Option<Arc<Background>> {
        let key = (*background.key().as_bytes(), scale.to_bits());
        self.get(key, || background.at_scale(scale, level).ok())
    }

    /// The background kept under `key`: from the cache, drawn now if this is its second
    /// sighting, or none (first sighting, or it cannot be drawn).
    fn get(&self, key: Key, draw: impl FnOnce() -> Option<Background>) -> Option<Arc<Background>> {
        if let Some(background) = self.drawn.get(&key) {
            return Some(background);
        }
        let first_sighting = self
            .seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .put(key, ())
            .is_none();
        if first_sighting {
            return None;
        }
        let background = Arc::new(draw()?);
        self.drawn.insert(key, background.clone());
        Some(background)
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
    fn the_leading_shapes_go_under_with_every_definition() {
        let split = split(CARD).unwrap();
        assert!(split.under.contains("<rect width=\"100\""));
        assert!(split.under.contains("<circle cx=\"90\""));
        assert!(split.under.contains("linearGradient") && split.under.contains("clipPath"));
        assert!(!split.under.contains("<text") && !split.under.contains("y=\"40\""));
        assert!(split.under.ends_with("</svg>"));
        assert!(!split.over.contains("<circle cx=\"90\"") && !split.over.contains("url(#bg)"));
        assert!(split.over.contains("<text") && split.over.contains("linearGradient"));
        roxmltree::Document::parse(&split.under).unwrap();
        roxmltree::Document::parse(&split.over).unwrap();
    }

    #[test]
    fn nothing_is_split_that_could_draw_differently() {
        let cases = [
            // Text first.
            CARD.replace(
                "<rect width=\"100\" height=\"50\" fill=\"url(#bg)\"/>",
                "<text>x</text>",
            ),
            // The root groups everything.
            CARD.replace("height=\"50\">", "height=\"50\" opacity=\"0.5\">"),
        ];
        for svg in &cases {
            let found = split(svg).map(|s| s.under);
            assert!(
                found.is_none() || !found.unwrap().contains("<rect width"),
                "{svg}"
            );
        }
        // A shape with an id (another element may <use> it) or a reference to something
        // that is not a root-level definition ends the leading shapes.
        let with_id = CARD.replace("<circle cx=\"90\"", "<circle id=\"dot\" cx=\"90\"");
        assert!(!split(&with_id).unwrap().under.contains("dot"));
        let referring = CARD.replace("fill=\"#38bdf8\"", "fill=\"url(#elsewhere)\"");
        // An image is drawn under only when its bytes are in the markup.
        let image = |href: &str| {
            format!(
                "<rect width=\"100\" height=\"50\" fill=\"url(#bg)\"/>\n  <image href=\"{href}\" width=\"9\" height=\"9\"/>"
            )
        };
        let inline = CARD.replace(
            "<rect width=\"100\" height=\"50\" fill=\"url(#bg)\"/>",
            &image("data:image/png;base64,AAAA"),
        );
        assert!(split(&inline).unwrap().under.contains("<image"));
        let linked = CARD.replace(
            "<rect width=\"100\" height=\"50\" fill=\"url(#bg)\"/>",
            &image("logo.png"),
        );
        assert!(!split(&linked).unwrap().under.contains("<image"));
        assert!(!split(&referring).unwrap().under.contains("elsewhere"));
    }
}
