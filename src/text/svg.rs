//! Every `<text>` of a filled template drawn right, however the template wrote it: a text
//! chunk that needs more than one font (emoji beside Latin, Arabic or CJK beside Latin) is
//! laid out here as runs of one font and direction, each in its own positioned `<tspan>`, just
//! as `fit_text`'s runs are.
//!
//! usvg shapes a whole chunk with each of its fonts and gives up (drawing .notdef boxes or
//! nothing) when two fonts shape it into different numbers of glyphs: emoji sequences, flags,
//! Arabic ligatures. A chunk of one font never hits that, so after this pass neither
//! `<tspan>{{ line }}</tspan>` nor a plain `{{ value }}` can. `text-anchor` is honoured for the
//! whole chunk: the runs are placed from its measured width.
//!
//! Only what can be read exactly is rewritten: font properties from attributes and `style=""`
//! (not from `<style>` sheets), chunks that start at one `x`, and no `dx`, `dy`, `rotate`,
//! `textLength`, `textPath` or `xml:space="preserve"`. Anything else is left as written.

use std::fmt::Write as _;
use std::ops::Range;

use roxmltree::Node;

use super::TextMeasurer;

/// usvg's font size when none is given.
const DEFAULT_FONT_SIZE: f32 = 12.0;

/// Attributes whose positioning this pass cannot reproduce: a text element holding any of them
/// is left alone.
const UNSUPPORTED: [&str; 6] = [
    "dx",
    "dy",
    "rotate",
    "textLength",
    "lengthAdjust",
    "direction",
];

/// `svg` with every text chunk that needs several fonts split into positioned runs; `None`
/// when nothing needed it (or the document is not one this pass reads).
pub fn place_runs(svg: &str, measurer: &TextMeasurer) -> Option<String> {
    // Text in ASCII alone shapes to one glyph per character in any font, so usvg's fallback
    // copes with it.
    if svg.is_ascii() {
        return None;
    }
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        ..roxmltree::ParsingOptions::default()
    };
    let doc = roxmltree::Document::parse_with_options(svg, options).ok()?;
    if doc.descendants().any(|n| n.has_tag_name("style")) {
        return None;
    }
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();
    for text in doc.descendants().filter(|n| n.has_tag_name("text")) {
        let Some(chunks) = chunks(text) else {
            continue;
        };
        for chunk in chunks {
            if needs_runs(&chunk, measurer) {
                edits.extend(placed(&chunk, measurer));
            }
        }
    }
    if edits.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(svg.len() + edits.len() * 64);
    let mut at = 0;
    for (range, replacement) in edits {
        out.push_str(&svg[at..range.start]);
        out.push_str(&replacement);
        at = range.end;
    }
    out.push_str(&svg[at..]);
    Some(out)
}

/// Where text goes relative to a chunk's `x`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Anchor {
    Start,
    Middle,
    End,
}

/// The font properties a piece of text is measured with.
#[derive(Debug, Clone, PartialEq)]
struct Style {
    families: String,
    weight: u16,
    size: f32,
    letter_spacing: f32,
}

/// One text node: where it is in the source, its text as SVG collapses white space, and its
/// style.
struct Piece {
    range: Range<usize>,
    text: String,
    style: Style,
}

/// A run of text that starts at one absolute `x`.
struct Chunk {
    x: f32,
    anchor: Anchor,
    pieces: Vec<Piece>,
}

/// The chunks of a `<text>` element, or `None` when it uses something this pass does not
/// reproduce.
fn chunks(text: Node) -> Option<Vec<Chunk>> {
    let mut chunks = vec![Chunk {
        x: single_number(text.attribute("x"))?.unwrap_or(0.0),
        anchor: anchor(text)?,
        pieces: Vec::new(),
    }];
    let mut space_before = true; // SVG drops a text element's leading space
    for node in text.descendants() {
        if node.is_element() {
            if node != text && !node.has_tag_name("tspan") {
                return None;
            }
            let preserve = node.attribute(("http://www.w3.org/XML/1998/namespace", "space"));
            if UNSUPPORTED.iter().any(|a| node.has_attribute(*a)) || preserve == Some("preserve") {
                return None;
            }
            if node != text {
                match (single_number(node.attribute("x"))?, node.has_attribute("y")) {
                    (Some(x), _) => chunks.push(Chunk {
                        x,
                        anchor: anchor(node)?,
                        pieces: Vec::new(),
                    }),
                    // A new line without a new x starts where the pen is: not read here.
                    (None, true) => return None,
                    (None, false) => {}
                }
            }
        } else if node.is_text() {
            let parent = node.parent_element()?;
            let piece = Piece {
                range: node.range(),
                text: collapse(node.text().unwrap_or(""), &mut space_before),
                style: style(parent)?,
            };
            chunks.last_mut()?.pieces.push(piece);
        }
    }
    // ... and its trailing space.
    if let Some(last) = chunks
        .iter_mut()
        .rev()
        .flat_map(|c| c.pieces.iter_mut().rev())
        .find(|p| !p.text.is_empty())
        && last.text.ends_with(' ')
    {
        last.text.pop();
    }
    Some(chunks)
}

/// White space as SVG's default `xml:space` treats it: newlines dropped, tabs as spaces, runs
/// of spaces as one, also across text nodes (`space_before` carries that state).
fn collapse(text: &str, space_before: &mut bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\r' => {}
            ' ' | '\t' => {
                if !*space_before {
                    out.push(' ');
                    *space_before = true;
                }
            }
            c => {
                out.push(c);
                *space_before = false;
            }
        }
    }
    out
}

/// Whether the chunk's text needs more than one font face: then usvg may fail to draw it.
fn needs_runs(chunk: &Chunk, measurer: &TextMeasurer) -> bool {
    let mut faces = Vec::new();
    for piece in &chunk.pieces {
        measurer.faces_in(
            &piece.text,
            &piece.style.families,
            piece.style.weight,
            &mut faces,
        );
        if faces.len() > 1 {
            return true;
        }
    }
    false
}

/// The chunk's text nodes replaced by runs placed from the chunk's `x` and anchor.
fn placed(chunk: &Chunk, measurer: &TextMeasurer) -> Vec<(Range<usize>, String)> {
    let mut pen = 0.0;
    let mut laid = Vec::with_capacity(chunk.pieces.len());
    for piece in &chunk.pieces {
        let style = &piece.style;
        let (runs, width) = measurer.line_runs(
            &piece.text,
            &style.families,
            style.weight,
            style.size,
            style.letter_spacing,
        );
        laid.push((pen, runs));
        pen += width;
    }
    // usvg adds no spacing after a chunk's last character.
    if let Some(last) = chunk.pieces.iter().rev().find(|p| !p.text.is_empty()) {
        pen -= last.style.letter_spacing;
    }
    let start = chunk.x
        - match chunk.anchor {
            Anchor::Start => 0.0,
            Anchor::Middle => pen / 2.0,
            Anchor::End => pen,
        };
    chunk
        .pieces
        .iter()
        .zip(laid)
        .map(|(piece, (offset, runs))| {
            let mut tspans = String::new();
            for run in runs {
                let x = start + offset + run.x;
                let _ = write!(tspans, "<tspan x=\"{x:.2}\" text-anchor=\"start\">");
                escape_into(&run.text, &mut tspans);
                tspans.push_str("</tspan>");
            }
            (piece.range.clone(), tspans)
        })
        .collect()
}

/// XML-escapes text for element content and double-quoted attributes.
pub(crate) fn escape_into(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// `x="12.5"` as a number; `Ok(None)` when absent; `None` for a list or anything else.
fn single_number(value: Option<&str>) -> Option<Option<f32>> {
    match value {
        None => Some(None),
        Some(v) => length(v).map(Some),
    }
}

/// A length in user units or px (`pt` converted); `None` for other units.
fn length(value: &str) -> Option<f32> {
    let value = value.trim();
    let (number, scale) = match value {
        v if v.ends_with("px") => (&v[..v.len() - 2], 1.0),
        v if v.ends_with("pt") => (&v[..v.len() - 2], 4.0 / 3.0),
        v => (v, 1.0),
    };
    number
        .trim()
        .parse::<f32>()
        .ok()
        .filter(|n| n.is_finite())
        .map(|n| n * scale)
}

fn anchor(node: Node) -> Option<Anchor> {
    match property(node, "text-anchor") {
        None | Some("start") => Some(Anchor::Start),
        Some("middle") => Some(Anchor::Middle),
        Some("end") => Some(Anchor::End),
        Some(_) => None,
    }
}

/// The style `node`'s own text is drawn in, or `None` when a value is one this pass does not
/// read (relative weights, `em` sizes).
fn style(node: Node) -> Option<Style> {
    let weight = match property(node, "font-weight") {
        None | Some("normal") => 400,
        Some("bold") => 700,
        Some(w) => w.parse::<u16>().ok().filter(|w| (1..=1000).contains(w))?,
    };
    let size = match property(node, "font-size") {
        None => DEFAULT_FONT_SIZE,
        Some(s) => length(s)?,
    };
    let letter_spacing = match property(node, "letter-spacing") {
        None | Some("normal") => 0.0,
        Some(s) => length(s)?,
    };
    Some(Style {
        families: property(node, "font-family").unwrap_or("").to_string(),
        weight,
        size,
        letter_spacing,
    })
}

/// An inherited property of `node`: from the nearest element, itself included, that sets it
/// in `style=""` or as an attribute (`inherit` looks further up).
fn property<'a>(node: Node<'a, 'a>, name: &str) -> Option<&'a str> {
    for element in node.ancestors().filter(Node::is_element) {
        let declared = element
            .attribute("style")
            .and_then(|style| declaration(style, name))
            .or_else(|| element.attribute(name))
            .map(str::trim);
        match declared {
            Some("inherit") | None => continue,
            Some(value) => return Some(value),
        }
    }
    None
}

/// The value of `name` in a `style` attribute's declarations.
fn declaration<'a>(style: &'a str, name: &str) -> Option<&'a str> {
    style.split(';').rev().find_map(|declaration| {
        let (key, value) = declaration.split_once(':')?;
        (key.trim() == name).then_some(value.trim())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measurer() -> &'static TextMeasurer {
        super::super::tests::measurer()
    }

    #[test]
    fn text_of_one_font_is_left_as_written() {
        let ascii = r#"<svg xmlns="http://www.w3.org/2000/svg"><text x="5">Hello</text></svg>"#;
        assert_eq!(place_runs(ascii, measurer()), None);
        let accents =
            r#"<svg xmlns="http://www.w3.org/2000/svg"><text x="5">Zürich, Łódź</text></svg>"#;
        assert_eq!(place_runs(accents, measurer()), None);
        let emoji_only = r#"<svg xmlns="http://www.w3.org/2000/svg"><text x="5">👩‍👩‍👧‍👦</text></svg>"#;
        assert_eq!(place_runs(emoji_only, measurer()), None);
    }

    #[test]
    fn a_chunk_of_several_fonts_becomes_positioned_runs() {
        let svg = r#"<svg xmlns="http://www.w3.org/2000/svg"><text x="100" y="50" font-size="40">Ada &amp; 👩‍👩‍👧‍👦 ok</text></svg>"#;
        let out = place_runs(svg, measurer()).expect("rewritten");
        let doc = roxmltree::Document::parse(&out).unwrap();
        let runs: Vec<(f32, String)> = doc
            .descendants()
            .filter(|n| n.has_tag_name("tspan"))
            .map(|n| {
                let x = n.attribute("x").unwrap().parse().unwrap();
                (x, n.text().unwrap().to_string())
            })
            .collect();
        let texts: Vec<&str> = runs.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(texts, ["Ada &", "👩‍👩‍👧‍👦", "ok"]);
        assert_eq!(runs[0].0, 100.0, "a start-anchored chunk starts at its x");
        assert!(runs[0].0 < runs[1].0 && runs[1].0 < runs[2].0, "{runs:?}");
    }

    #[test]
    fn anchors_place_the_whole_chunk() {
        let at = |anchor: &str| {
            let svg = format!(
                r#"<svg xmlns="http://www.w3.org/2000/svg"><g style="font-size: 30px; text-anchor: {anchor}"><text x="600">Hi 🇯🇵</text></g></svg>"#
            );
            let out = place_runs(&svg, measurer()).expect("rewritten");
            let doc = roxmltree::Document::parse(&out).unwrap();
            let first = doc.descendants().find(|n| n.has_tag_name("tspan")).unwrap();
            first.attribute("x").unwrap().parse::<f32>().unwrap()
        };
        let (start, middle, end) = (at("start"), at("middle"), at("end"));
        assert_eq!(start, 600.0);
        let width = start - end;
        assert!(width > 40.0, "the chunk is measured: {width}");
        assert!(
            (start - middle - width / 2.0).abs() < 0.02,
            "{start} {middle} {end}"
        );
    }

    #[test]
    fn what_cannot_be_read_exactly_is_left_alone() {
        for svg in [
            r#"<svg xmlns="http://www.w3.org/2000/svg"><style>text{font-size:40px}</style><text>Hi 👋</text></svg>"#,
            r#"<svg xmlns="http://www.w3.org/2000/svg"><text dx="3">Hi 👋</text></svg>"#,
            r#"<svg xmlns="http://www.w3.org/2000/svg"><text x="1 2 3">Hi 👋</text></svg>"#,
            r#"<svg xmlns="http://www.w3.org/2000/svg"><text font-size="2em">Hi 👋</text></svg>"#,
            r#"<svg xmlns="http://www.w3.org/2000/svg"><text><tspan y="40">Hi 👋</tspan></text></svg>"#,
        ] {
            assert_eq!(place_runs(svg, measurer()), None, "{svg}");
        }
    }
}
