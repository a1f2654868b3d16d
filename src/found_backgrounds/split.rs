//! A filled SVG's leading elements, read from its markup: which of them a background may
//! hold, the keys that show whether each repeats from card to card, and the SVGs of a chosen
//! few (drawn under) and of the rest (drawn over them).

use std::collections::HashSet;
use std::ops::Range;

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

/// A filled SVG's leading drawn elements, to draw some of them first, under the rest
/// ([`Split::under`]), and the rest without them ([`Split::over`]). Elements are chosen by
/// their places among the leading elements, in order.
pub struct Split<'a> {
    svg: &'a str,
    /// Where the root element's content starts.
    head: usize,
    /// Every root-level definition.
    definitions: Vec<Range<usize>>,
    /// The leading drawn elements, in order.
    leading: Vec<Range<usize>>,
    /// The hash of the root element and every definition, which every key starts from.
    base: blake3::Hasher,
    /// `element_keys[i]` is the hash of leading element `i` at its place, with the root
    /// element and every definition: the same from card to card while it draws the same.
    element_keys: Vec<blake3::Hash>,
}

/// Finds `svg`'s leading elements, if it starts with any: shapes, text and groups of them
/// that nothing refers to (by `#id`) and that refer only to root-level definitions. An SVG
/// whose style sheet may select elements by their order is not split.
pub fn split(svg: &str) -> Option<Split<'_>> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        ..roxmltree::ParsingOptions::default()
    };
    let doc = roxmltree::Document::parse_with_options(svg, options).ok()?;
    let root = doc.root_element();
    if GROUPING.iter().any(|a| root.has_attribute(*a)) || selects_by_order(&doc) {
        return None;
    }
    let children: Vec<roxmltree::Node> = root.children().filter(|n| n.is_element()).collect();
    let is_definition = |n: &roxmltree::Node| DEFINITIONS.contains(&n.tag_name().name());
    let defined: Vec<&str> = children
        .iter()
        .filter(|n| is_definition(n))
        .flat_map(|n| n.descendants().filter_map(|d| d.attribute("id")))
        .collect();
    let referenced: HashSet<&str> = (doc.descendants())
        .flat_map(|n| n.attributes())
        .flat_map(|a| references(&a))
        .chain(style_references(&doc))
        .collect();
    let leading: Vec<Range<usize>> = (children.iter())
        .filter(|n| !is_definition(n))
        .take_while(|n| is_plain_shape(n, &defined, &referenced))
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
    let mut base = blake3::Hasher::new();
    for part in std::iter::once(0..head).chain(definitions.iter().cloned()) {
        hash_part(&mut base, &svg[part]);
    }
    let element_keys = (leading.iter().enumerate())
        .map(|(i, range)| {
            let mut hasher = base.clone();
            hasher.update(&(i as u64).to_le_bytes());
            hash_part(&mut hasher, &svg[range.clone()]);
            hasher.finalize()
        })
        .collect();
    Some(Split {
        svg,
        head,
        definitions,
        leading,
        base,
        element_keys,
    })
}

/// Adds one piece of markup to a key, its length first (so pieces cannot run together).
fn hash_part(hasher: &mut blake3::Hasher, part: &str) {
    hasher.update(&(part.len() as u64).to_le_bytes());
    hasher.update(part.as_bytes());
}

impl Split<'_> {
    /// Each leading element's key, in order.
    pub fn element_keys(&self) -> &[blake3::Hash] {
        &self.element_keys
    }

    /// The key of the `chosen` leading elements drawn together: the hash of what they draw
    /// (their markup, the root element and every definition).
    pub fn key(&self, chosen: &[usize]) -> blake3::Hash {
        let mut hasher = self.base.clone();
        for &i in chosen {
            hash_part(&mut hasher, &self.svg[self.leading[i].clone()]);
        }
        hasher.finalize()
    }

    /// An SVG of the `chosen` leading elements, with the root element and every root-level
    /// definition, in document order.
    pub fn under(&self, chosen: &[usize]) -> String {
        let mut parts: Vec<&Range<usize>> = (self.definitions.iter())
            .chain(chosen.iter().map(|&i| &self.leading[i]))
            .collect();
        parts.sort_by_key(|range| range.start);
        let mut under = String::from(&self.svg[..self.head]);
        for range in parts {
            under.push_str(&self.svg[range.clone()]);
        }
        under.push_str("</svg>");
        under
    }

    /// The SVG without the `chosen` leading elements.
    pub fn over(&self, chosen: &[usize]) -> String {
        let mut over = String::with_capacity(self.svg.len());
        let mut from = 0;
        for range in chosen.iter().map(|&i| &self.leading[i]) {
            over.push_str(&self.svg[from..range.start]);
            from = range.end;
        }
        over.push_str(&self.svg[from..]);
        over
    }
}

/// Of `chosen` leading elements (in order), those after the first element not chosen: drawn
/// under the rest, they are drawn before elements the SVG draws before them.
pub fn moved(chosen: &[usize]) -> &[usize] {
    let in_place = chosen.iter().enumerate().take_while(|(at, i)| at == *i);
    &chosen[in_place.count()..]
}

/// Whether `node` is a shape, text, an image given as a `data:` URL (an asset: its bytes are
/// part of the key) or a group of them, none of which is `referenced` by id (as by a
/// `<use>`), whose own references are all among `defined`.
fn is_plain_shape(node: &roxmltree::Node, defined: &[&str], referenced: &HashSet<&str>) -> bool {
    let inline_image = |d: &roxmltree::Node| {
        d.has_tag_name("image")
            && (d.attributes()).any(|a| a.name() == "href" && a.value().starts_with("data:"))
    };
    node.descendants().filter(|d| d.is_element()).all(|d| {
        (SHAPES.contains(&d.tag_name().name()) || inline_image(&d))
            && !d.attribute("id").is_some_and(|id| referenced.contains(id))
            && d.attributes()
                .all(|a| references(&a).all(|id| defined.contains(&id)))
    })
}

/// The ids an attribute refers to: `url(#id)` in any value, `#id` in an `href` (none in a
/// `data:` URL, whose references are the embedded image's own).
fn references<'a>(
    attribute: &roxmltree::Attribute<'a, '_>,
) -> impl Iterator<Item = &'a str> + use<'a> {
    let value = attribute.value();
    let value = if value.starts_with("data:") {
        ""
    } else {
        value
    };
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

/// Every `#name` in `doc`'s style sheets, taken as a reference to the element with that id
/// (a selector or a `url(#name)`; a colour such as #fff only costs an element named "fff"
/// its place in a background).
fn style_references<'a>(doc: &'a roxmltree::Document) -> impl Iterator<Item = &'a str> {
    let name = |rest: &'a str| {
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(rest.len());
        &rest[..end]
    };
    (doc.descendants())
        .filter(|n| n.has_tag_name("style"))
        .filter_map(|n| n.text())
        .flat_map(move |css| css.split('#').skip(1).map(name))
}

/// Whether a style sheet in `doc` may select elements by their order among their siblings
/// (`:first-child`, `+`, `~`), which taking some of them out would change.
fn selects_by_order(doc: &roxmltree::Document) -> bool {
    (doc.descendants())
        .filter(|n| n.has_tag_name("style"))
        .filter_map(|n| n.text())
        .any(|css| css.contains("first-child") || css.contains('+') || css.contains('~'))
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
    fn chosen_elements_go_under_with_every_definition() {
        let split = split(CARD).unwrap();
        assert_eq!(split.element_keys().len(), 4, "rect, circle, text, rect");
        let (under, over) = (split.under(&[0, 1]), split.over(&[0, 1]));
        assert!(under.contains("<rect width=\"100\"") && under.contains("<circle cx=\"90\""));
        assert!(under.contains("linearGradient") && under.contains("clipPath"));
        assert!(!under.contains("<text") && !under.contains("y=\"40\""));
        assert!(under.ends_with("</svg>"));
        assert!(!over.contains("<circle cx=\"90\"") && !over.contains("url(#bg)"));
        assert!(over.contains("<text") && over.contains("linearGradient"));
        roxmltree::Document::parse(&under).unwrap();
        roxmltree::Document::parse(&over).unwrap();
        // Past the title: the last rectangle goes under, the title alone stays over.
        let (under, over) = (split.under(&[0, 1, 3]), split.over(&[0, 1, 3]));
        assert!(under.contains("y=\"40\"") && !under.contains("<text"));
        assert!(!over.contains("y=\"40\"") && over.contains("<text"));
        roxmltree::Document::parse(&over).unwrap();
    }

    #[test]
    fn keys_cover_exactly_what_they_draw() {
        let split = split(CARD).unwrap();
        let other = CARD.replace("Title", "Other");
        let other = super::split(&other).unwrap();
        let (a, b) = (split.element_keys(), other.element_keys());
        assert!(a[0] == b[0] && a[1] == b[1] && a[3] == b[3]);
        assert_ne!(a[2], b[2], "the title");
        assert_eq!(split.key(&[0, 1, 3]), other.key(&[0, 1, 3]));
        assert_ne!(split.key(&[0, 1, 2]), other.key(&[0, 1, 2]));
        assert_ne!(split.key(&[0, 1]), split.key(&[0, 1, 3]));
        // The same markup at two places has two keys (each is seen once per card).
        let twice = CARD.replace(
            "<text",
            "<circle cx=\"90\" cy=\"10\" r=\"20\" fill=\"#38bdf8\"/><text",
        );
        let twice = super::split(&twice).unwrap();
        assert_ne!(twice.element_keys()[1], twice.element_keys()[2]);
    }

    #[test]
    fn moved_elements_are_those_after_one_left_over() {
        assert_eq!(moved(&[0, 1, 2]), &[] as &[usize]);
        assert_eq!(moved(&[0, 1, 3, 4]), &[3, 4]);
        assert_eq!(moved(&[0, 2]), &[2]);
        assert_eq!(moved(&[]), &[] as &[usize]);
    }

    #[test]
    fn nothing_is_split_that_could_draw_differently() {
        let leading = |svg: &str| split(svg).map(|s| s.element_keys().len());
        // The root groups everything.
        let grouped = CARD.replace("height=\"50\">", "height=\"50\" opacity=\"0.5\">");
        assert_eq!(leading(&grouped), None);
        // A shape another element refers to (a <use>), or one that refers to something that
        // is not a root-level definition, ends the leading elements; an id alone does not.
        let named = CARD.replace("<circle cx=\"90\"", "<circle id=\"dot\" cx=\"90\"");
        assert_eq!(leading(&named), Some(4));
        let used = named.replace("</svg>", "<use href=\"#dot\" x=\"1\"/></svg>");
        assert_eq!(leading(&used), Some(1));
        let styled_by_id = named.replace("<defs>", "<style>#dot { fill: red }</style><defs>");
        assert_eq!(leading(&styled_by_id), Some(1));
        let referring = CARD.replace("fill=\"#38bdf8\"", "fill=\"url(#elsewhere)\"");
        assert_eq!(leading(&referring), Some(1));
        // An image is drawn under only when its bytes are in the markup.
        let image = |href: &str| {
            let rect = "<rect width=\"100\" height=\"50\" fill=\"url(#bg)\"/>";
            let image = format!("<image href=\"{href}\" width=\"9\" height=\"9\"/>");
            CARD.replace(rect, &format!("{rect}{image}"))
        };
        let inline = image("data:image/png;base64,AAAA");
        assert!(split(&inline).unwrap().under(&[0, 1]).contains("<image"));
        assert_eq!(leading(&image("logo.png")), Some(1));
        // A style sheet that selects by order among siblings.
        let styled = |css: &str| CARD.replace("<defs>", &format!("<style>{css}</style><defs>"));
        assert_eq!(leading(&styled("rect { fill: red }")), Some(4));
        for css in [
            "rect:first-child { fill: red }",
            "rect + text { fill: red }",
        ] {
            assert_eq!(leading(&styled(css)), None, "{css}");
        }
    }
}
