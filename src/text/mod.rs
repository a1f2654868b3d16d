//! Text fitting: wrap, shrink and ellipsise a string into a box, measured with the same fonts
//! and shaping (harfrust on fontdb faces) that usvg uses to draw it.
//!
//! SVG has no line wrapping, so templates call [`TextMeasurer::fit`] through the Tera
//! function `fit_text(...)` and emit one `<tspan x=..>` per returned run: each line is split
//! into runs of one direction and one font, placed by us. usvg's own fallback gives up on a
//! text chunk when the fallback font shapes a different number of glyphs (emoji sequences,
//! Arabic ligatures); a chunk that needs only one font never hits that. Fonts without hinting
//! or variation axes scale linearly, so every piece of text is shaped once, in em units, and
//! each candidate size only re-adds widths.

use std::sync::Arc;

use fontdb::{Database, ID};

use unicode_segmentation::UnicodeSegmentation;

use crate::fonts::Fallback;
use script::spaced;
use shape::Shapers;
use wrap::{Segment, balanced, wrap};

pub use fitted::{Direction, FitRequest, Fitted, Run};

mod fitted;
mod script;
mod shape;
pub mod svg;
mod wrap;

/// The ellipsis appended to truncated text.
const ELLIPSIS: &str = "…";

/// The face a text asks for, and the weight it asks for (a variable face takes it as its
/// `wght`, as usvg draws it).
#[derive(Debug, Clone, Copy)]
struct Primary {
    face: ID,
    weight: u16,
}

/// Shapes text with the shared font database; caches per-face shaping data.
pub struct TextMeasurer {
    db: Arc<Database>,
    shapers: Shapers,
    /// The renderer's fallback chooser, so measuring picks the face rendering will.
    fallback: Arc<Fallback>,
}

impl TextMeasurer {
    /// A measurer over `db` and its fallback chooser (the ones usvg renders with).
    pub fn new(db: Arc<Database>, fallback: Arc<Fallback>) -> TextMeasurer {
        TextMeasurer {
            shapers: Shapers::new(db.clone()),
            db,
            fallback,
        }
    }

    /// Wraps at Unicode line-break opportunities, shrinking the size in 1 px steps down to
    /// `min_font_size` until the text fits without breaking inside a word, and only then
    /// breaks words or truncates with an ellipsis. When
    /// forced line breaks alone exceed `max_lines`, shrinking cannot help: the text is cut
    /// at its full size.
    pub fn fit(&self, req: &FitRequest) -> Fitted {
        let primary = self.primary_face(req.family, req.weight);
        let segments = self.segments(req.text, primary);
        let forced_lines = 1 + segments.iter().filter(|s| s.hard_break).count();
        let min = if forced_lines > req.max_lines.max(1) {
            req.font_size
        } else {
            req.min_font_size.min(req.font_size).max(1.0)
        };
        let mut size = req.font_size.max(min);
        loop {
            let max_lines = lines_allowed(req, size);
            let (width_em, spacing_em) = (req.width / size, req.letter_spacing / size);
            let split = |s| self.graphemes(s, primary, spacing_em);
            let (mut lines, broke_word) = wrap(&segments, width_em, spacing_em, split);
            // Breaking inside a word is the last resort, after shrinking.
            if (lines.len() <= max_lines && !broke_word) || size <= min {
                if req.balance && (2..=max_lines).contains(&lines.len()) {
                    lines = balanced(&segments, width_em, spacing_em, lines, split);
                }
                return self.finish(req, primary, lines, size, max_lines);
            }
            size = (size - 1.0).max(min);
        }
    }

    /// Width of `text` in px at `font_size`, as usvg would lay it out on one line.
    pub fn measure(&self, text: &str, family: &str, weight: u16, font_size: f32) -> f32 {
        let primary = self.primary_face(family, weight);
        self.advance(text, primary) * font_size
    }

    fn finish(
        &self,
        req: &FitRequest,
        primary: Option<Primary>,
        mut lines: Vec<String>,
        size: f32,
        max_lines: usize,
    ) -> Fitted {
        let truncated = lines.len() > max_lines;
        if truncated {
            lines.truncate(max_lines);
            if let Some(last) = lines.last_mut() {
                let spacing_em = req.letter_spacing / size;
                *last = self.ellipsise(last, req.width / size, spacing_em, primary);
            }
        }
        let line_height = size * req.line_height;
        let rtl = req.direction.is_rtl(req.text);
        let (runs, widths) = lines
            .iter()
            .map(|line| self.runs(line, primary, size, req.letter_spacing, rtl))
            .unzip();
        Fitted {
            height: lines.len() as f32 * line_height,
            lines,
            font_size: size,
            line_height,
            truncated,
            runs,
            widths,
            rtl,
            font_family: req.family.to_string(),
            font_weight: req.weight,
            letter_spacing: req.letter_spacing,
            box_width: req.width,
            box_height: req.max_height,
        }
    }

    /// Splits a line into runs of one bidi level and one font, in visual order, placed
    /// left to right; returns them with the line's width. `spacing` (px) follows every
    /// grapheme of a script that takes letter spacing, as usvg adds it; `rtl` is the
    /// paragraph's base direction.
    fn runs(
        &self,
        line: &str,
        primary: Option<Primary>,
        size: f32,
        spacing: f32,
        rtl: bool,
    ) -> (Vec<Run>, f32) {
        let Some(primary) = primary else {
            return (Vec::new(), 0.0);
        };
        if line.is_empty() {
            return (Vec::new(), 0.0);
        }
        let base = if rtl {
            unicode_bidi::Level::rtl()
        } else {
            unicode_bidi::Level::ltr()
        };
        let bidi = unicode_bidi::BidiInfo::new(line, Some(base));
        let paragraph = &bidi.paragraphs[0];
        let (levels, level_runs) = bidi.visual_runs(paragraph, paragraph.range.clone());
        let mut runs = Vec::new();
        let mut x = 0.0;
        for range in level_runs {
            let mut pieces = self.font_pieces(&line[range.clone()], primary.face);
            if levels[range.start].is_rtl() {
                pieces.reverse();
            }
            for (text, face) in pieces {
                // Runs carry no edge spaces: SVG would collapse them, and x already places
                // the run exactly.
                let trimmed = text.trim();
                let width = |s: &str| {
                    self.shapers.shape(face, s, primary.weight).0 * size
                        + spacing * spaced(s) as f32
                };
                if !trimmed.is_empty() {
                    let lead = &text[..text.len() - text.trim_start().len()];
                    runs.push(Run {
                        text: trimmed.to_string(),
                        x: x + width(lead),
                    });
                }
                x += width(text);
            }
        }
        (runs, x)
    }

    /// Consecutive graphemes drawn with the same face, in logical order. White space is
    /// measured with the primary face where it has it (an emoji font's space is as wide as
    /// an emoji), so it joins primary-face text and stands alone between fallback runs.
    fn font_pieces<'a>(&self, text: &'a str, primary: ID) -> Vec<(&'a str, ID)> {
        let mut pieces: Vec<(usize, usize, ID)> = Vec::new();
        for (start, grapheme) in text.grapheme_indices(true) {
            let end = start + grapheme.len();
            let face = self.face_for(grapheme, primary);
            match pieces.last_mut() {
                Some(last) if last.2 == face => last.1 = end,
                _ => pieces.push((start, end, face)),
            }
        }
        pieces
            .into_iter()
            .map(|(start, end, face)| (&text[start..end], face))
            .collect()
    }

    /// The face that draws `grapheme`: the primary one if it has every character, else the
    /// renderer's fallback for the first character it lacks.
    fn face_for(&self, grapheme: &str, primary: ID) -> ID {
        // Joiners and variation selectors are drawn by whichever face takes the cluster.
        let ignorable = |c: char| matches!(c, '\u{200d}' | '\u{fe0e}' | '\u{fe0f}');
        match grapheme
            .chars()
            .find(|&c| !ignorable(c) && !self.fallback.has_char(primary, c))
        {
            None => primary,
            Some(c) => self.fallback.select(c, &[primary]).unwrap_or(primary),
        }
    }

    /// `line` cut at a grapheme boundary so that it plus an ellipsis fits `width_em`.
    fn ellipsise(
        &self,
        line: &str,
        width_em: f32,
        spacing_em: f32,
        primary: Option<Primary>,
    ) -> String {
        let mut cut = line.trim_end().to_string();
        loop {
            let candidate = format!("{cut}{ELLIPSIS}");
            let width = self.advance(&candidate, primary) + spacing_em * spaced(&candidate) as f32;
            if cut.is_empty() || width <= width_em {
                return candidate;
            }
            let end = cut.grapheme_indices(true).next_back().map_or(0, |(i, _)| i);
            cut.truncate(end);
            let trimmed = cut.trim_end().len();
            cut.truncate(trimmed);
        }
    }

    fn segments<'a>(&self, text: &'a str, primary: Option<Primary>) -> Vec<Segment<'a>> {
        let mut segments = Vec::new();
        let mut start = 0;
        for (end, opportunity) in unicode_linebreak::linebreaks(text) {
            let piece = &text[start..end];
            start = end;
            let hard_break = opportunity == unicode_linebreak::BreakOpportunity::Mandatory
                && piece.ends_with(['\n', '\r', '\u{2028}', '\u{2029}', '\u{b}', '\u{c}']);
            let visible = piece.trim_end_matches(['\n', '\r', '\u{2028}', '\u{2029}']);
            let trimmed_text = visible.trim_end();
            segments.push(Segment {
                text: visible,
                full: self.advance(visible, primary),
                trimmed: self.advance(trimmed_text, primary),
                spaced: spaced(visible),
                hard_break,
            });
        }
        segments
    }

    /// Graphemes of an over-long segment with their widths in em (letter spacing included),
    /// for breaking inside it.
    fn graphemes<'a>(
        &self,
        text: &'a str,
        primary: Option<Primary>,
        spacing_em: f32,
    ) -> Vec<(&'a str, f32)> {
        text.graphemes(true)
            .map(|g| (g, self.advance(g, primary) + spacing_em * spaced(g) as f32))
            .collect()
    }

    /// The face usvg picks for a CSS `font-family` list at `weight`: the first family that
    /// exists, else the default family (an empty list means the default family).
    fn primary_face(&self, families: &str, weight: u16) -> Option<Primary> {
        let mut list: Vec<fontdb::Family> = families
            .split(',')
            .map(|f| f.trim().trim_matches(['"', '\'']).trim())
            .filter(|f| !f.is_empty())
            .map(|f| match f {
                "serif" => fontdb::Family::Serif,
                "sans-serif" => fontdb::Family::SansSerif,
                "monospace" => fontdb::Family::Monospace,
                "cursive" => fontdb::Family::Cursive,
                "fantasy" => fontdb::Family::Fantasy,
                name => fontdb::Family::Name(name),
            })
            .collect();
        if list.is_empty() {
            list.push(fontdb::Family::Name(crate::fonts::DEFAULT_FAMILY));
        }
        // usvg's own last resort, which the font database maps to the default family.
        list.push(fontdb::Family::Serif);
        let face = self.db.query(&fontdb::Query {
            families: &list,
            weight: fontdb::Weight(weight),
            stretch: fontdb::Stretch::Normal,
            style: fontdb::Style::Normal,
        })?;
        Some(Primary { face, weight })
    }

    /// Adds to `faces` every face that drawing `text` in `families` at `weight` uses (white
    /// space aside: any face draws it).
    pub(crate) fn faces_in(&self, text: &str, families: &str, weight: u16, faces: &mut Vec<ID>) {
        let Some(primary) = self.primary_face(families, weight) else {
            return;
        };
        for grapheme in text.graphemes(true) {
            if grapheme.trim().is_empty() {
                continue;
            }
            let face = self.face_for(grapheme, primary.face);
            if !faces.contains(&face) {
                faces.push(face);
            }
        }
    }

    /// One line's runs (visual order, each of one direction and one face) and its width, in
    /// px at `size`, for text in `families` at `weight`.
    pub(crate) fn line_runs(
        &self,
        line: &str,
        families: &str,
        weight: u16,
        size: f32,
        spacing: f32,
    ) -> (Vec<Run>, f32) {
        self.runs(
            line,
            self.primary_face(families, weight),
            size,
            spacing,
            false,
        )
    }

    /// Advance of `text` in em, each piece measured with the face that will draw it.
    fn advance(&self, text: &str, primary: Option<Primary>) -> f32 {
        let Some(primary) = primary else {
            return 0.0;
        };
        self.font_pieces(text, primary.face)
            .into_iter()
            .map(|(piece, face)| self.shapers.shape(face, piece, primary.weight).0)
            .sum()
    }
}

fn lines_allowed(req: &FitRequest, size: f32) -> usize {
    let by_height = req.max_height.map_or(usize::MAX, |h| {
        (h / (size * req.line_height)).floor().max(1.0) as usize
    });
    req.max_lines.max(1).min(by_height)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::sync::OnceLock;

    pub(super) fn measurer() -> &'static TextMeasurer {
        static MEASURER: OnceLock<TextMeasurer> = OnceLock::new();
        MEASURER.get_or_init(|| {
            let fonts = Path::new(env!("CARGO_MANIFEST_DIR")).join("fonts");
            let db = crate::fonts::load(&[fonts], false).unwrap();
            TextMeasurer::new(db.clone(), Arc::new(Fallback::new(db)))
        })
    }

    fn title(text: &str) -> FitRequest<'_> {
        FitRequest {
            text,
            width: 1040.0,
            max_lines: 3,
            max_height: None,
            font_size: 64.0,
            min_font_size: 40.0,
            family: "Inter",
            weight: 800,
            line_height: 1.2,
            letter_spacing: 0.0,
            balance: false,
            direction: Direction::Auto,
        }
    }

    fn widest(fitted: &Fitted, req: &FitRequest) -> f32 {
        fitted
            .lines
            .iter()
            .map(|l| measurer().measure(l, req.family, req.weight, fitted.font_size))
            .fold(0.0, f32::max)
    }

    #[test]
    fn a_short_title_stays_one_line_at_full_size() {
        let req = title("Hello, world");
        let fitted = measurer().fit(&req);
        assert_eq!(fitted.lines, ["Hello, world"]);
        assert_eq!(fitted.font_size, 64.0);
        assert_eq!(fitted.line_height, 64.0 * 1.2);
        assert_eq!(fitted.height, 64.0 * 1.2);
        assert!(!fitted.truncated);
    }

    #[test]
    fn a_long_title_wraps_at_word_boundaries_within_the_width() {
        let text = "How we rendered a million social cards without a browser, and what it cost us";
        let req = title(text);
        let fitted = measurer().fit(&req);
        assert!(
            fitted.lines.len() > 1 && fitted.lines.len() <= 3,
            "{fitted:?}"
        );
        assert_eq!(fitted.lines.join(" "), text, "no word lost or split");
        assert!(widest(&fitted, &req) <= req.width);
        assert!(!fitted.truncated);
    }

    #[test]
    fn a_very_long_title_shrinks_to_the_minimum_then_ends_with_an_ellipsis() {
        let text = "word ".repeat(200);
        let req = title(&text);
        let fitted = measurer().fit(&req);
        assert_eq!(fitted.font_size, 40.0);
        assert_eq!(fitted.lines.len(), 3);
        assert!(fitted.truncated);
        assert!(fitted.lines[2].ends_with('…'), "{:?}", fitted.lines[2]);
        assert!(widest(&fitted, &req) <= req.width);
    }

    #[test]
    fn a_title_that_fits_only_smaller_is_shrunk_not_cut() {
        // Four lines at 64 px, three at some size between 40 and 64.
        let text = "Measured wrapping, shrink to fit and an ellipsis only when nothing else \
                    works: the three steps every card title goes through";
        let req = title(text);
        let fitted = measurer().fit(&req);
        assert!(
            fitted.font_size < 64.0 && fitted.font_size >= 40.0,
            "{fitted:?}"
        );
        assert!(!fitted.truncated);
        assert_eq!(fitted.lines.join(" "), text);
    }

    #[test]
    fn a_300_character_word_is_broken_inside_and_still_fits() {
        let word = "x".repeat(300);
        let mut req = title(&word);
        req.max_lines = 20;
        let fitted = measurer().fit(&req);
        assert!(fitted.lines.len() > 1);
        assert_eq!(fitted.lines.concat(), word);
        assert!(widest(&fitted, &req) <= req.width);
    }

    #[test]
    fn cjk_wraps_between_characters() {
        let text = "我们如何在不使用浏览器的情况下渲染一百万张社交卡片并且保持速度";
        let mut req = title(text);
        req.min_font_size = 64.0;
        let fitted = measurer().fit(&req);
        assert!(fitted.lines.len() >= 2, "{fitted:?}");
        assert_eq!(
            fitted.lines.concat(),
            text,
            "broken between characters, none lost"
        );
        assert!(widest(&fitted, &req) <= req.width);
        // Full lines are nearly full: no word boundaries were needed to break.
        let first = measurer().measure(&fitted.lines[0], "Inter", 800, fitted.font_size);
        assert!(first > req.width - 2.0 * fitted.font_size, "{first}");
    }

    #[test]
    fn runs_split_by_font_and_direction_and_tile_the_line() {
        let req = title("Hi 🚀 שלום");
        let fitted = measurer().fit(&req);
        let runs = &fitted.runs[0];
        let texts: Vec<&str> = runs.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(texts, ["Hi", "🚀", "שלום"]);
        assert!(runs.windows(2).all(|w| w[0].x < w[1].x), "{runs:?}");
        assert_eq!(runs[0].x, 0.0);
        assert!(fitted.widths[0] > runs[2].x);
    }

    #[test]
    fn right_to_left_words_are_ordered_right_to_left_inside_a_left_to_right_line() {
        let fitted = measurer().fit(&title("Hi שלום עולם world"));
        let texts: Vec<&str> = fitted.runs[0].iter().map(|r| r.text.as_str()).collect();
        // Visual order: the Hebrew phrase reads right to left, so its second word is leftmost.
        assert_eq!(texts, ["Hi", "עולם", "שלום", "world"]);
        assert!(fitted.runs[0].windows(2).all(|w| w[0].x < w[1].x));
    }

    #[test]
    fn newlines_force_breaks_and_empty_text_has_no_lines() {
        let fitted = measurer().fit(&title("One\nTwo"));
        assert_eq!(fitted.lines, ["One", "Two"]);
        let empty = measurer().fit(&title(""));
        assert!(empty.lines.is_empty());
        assert_eq!(empty.height, 0.0);
    }

    #[test]
    fn forced_breaks_beyond_the_line_limit_are_cut_at_full_size() {
        let fitted = measurer().fit(&title("One\nTwo\nThree\nFour\nFive"));
        assert_eq!(fitted.font_size, 64.0, "shrinking cannot help: not tried");
        assert!(fitted.truncated);
        assert_eq!(fitted.lines.len(), 3);
        assert_eq!(&fitted.lines[..2], ["One", "Two"]);
        assert!(fitted.lines[2].starts_with("Three") && fitted.lines[2].ends_with('…'));
    }

    #[test]
    fn balanced_lines_leave_no_orphan() {
        let text = "How we render a million social cards";
        let greedy = measurer().fit(&title(text));
        assert_eq!(greedy.lines, ["How we render a million social", "cards"]);
        let mut req = title(text);
        req.balance = true;
        let balanced = measurer().fit(&req);
        assert_eq!(balanced.lines, ["How we render a", "million social cards"]);
        assert_eq!(balanced.font_size, greedy.font_size);
        let (a, b) = (balanced.widths[0], balanced.widths[1]);
        assert!((a - b).abs() < a.max(b) * 0.25, "even lines: {a} and {b}");
    }

    #[test]
    fn a_word_is_broken_only_after_shrinking_fails() {
        let mut req = title("Supercalifragilisticexpialidocious");
        req.width = 900.0; // too narrow at 64 px, wide enough at 57
        req.max_lines = 2;
        let fitted = measurer().fit(&req);
        assert_eq!(fitted.lines.len(), 1, "{:?}", fitted.lines);
        assert!(fitted.font_size < 64.0 && fitted.font_size >= 40.0);
    }

    #[test]
    fn right_to_left_paragraphs_keep_punctuation_on_their_side() {
        // "Hello!" in Arabic: with a right-to-left base the "!" ends the line on the left.
        let mut req = title("مرحبا!");
        let rtl = measurer().fit(&req);
        assert!(rtl.rtl, "auto finds the first strong character");
        let bang = |f: &Fitted| f.runs[0].iter().find(|r| r.text == "!").map(|r| r.x);
        assert_eq!(bang(&rtl), Some(0.0), "{:?}", rtl.runs);
        req.direction = Direction::Ltr;
        let ltr = measurer().fit(&req);
        assert!(!ltr.rtl);
        assert!(bang(&ltr).is_some_and(|x| x > 0.0), "{:?}", ltr.runs);
    }

    #[test]
    fn a_height_limit_caps_the_lines() {
        let text = "word ".repeat(200);
        let mut req = title(&text);
        req.max_lines = 10;
        req.max_height = Some(100.0); // two lines of 40 px * 1.2
        let fitted = measurer().fit(&req);
        assert_eq!(fitted.lines.len(), 2);
        assert!(fitted.height <= 100.0);
    }

    #[test]
    fn measured_widths_match_what_usvg_draws() {
        let db = measurer().db.clone();
        let options = crate::raster::usvg_options(db, measurer().fallback.clone());
        for text in ["Hello, world", "AVATAR Wave Typography", "0123456789 €$£"] {
            let svg = format!(
                r#"<svg xmlns="http://www.w3.org/2000/svg" width="2000" height="100"><text x="0" y="80" font-family="Inter" font-weight="800" font-size="64">{text}</text></svg>"#
            );
            let tree = crate::raster::parse(&svg, &options, 1000).unwrap();
            let drawn = tree.root().bounding_box().width();
            let measured = measurer().measure(text, "Inter", 800, 64.0);
            // Ink box vs advance: they differ only by the side bearings of the end glyphs.
            assert!(
                (drawn - measured).abs() < 0.1 * 64.0,
                "{text}: drawn {drawn}, measured {measured}"
            );
        }
    }
}
