//! Greedy line breaking of text already cut into break opportunities (UAX 14) and measured
//! in em, so that every candidate font size only re-adds widths.

/// A piece of text between two break opportunities, measured in em.
pub(super) struct Segment<'a> {
    pub(super) text: &'a str,
    /// Advance including trailing spaces.
    pub(super) full: f32,
    /// Advance without trailing spaces (what counts at a line's end).
    pub(super) trimmed: f32,
    /// Graphemes that take letter spacing, trailing spaces included.
    pub(super) spaced: usize,
    /// A mandatory break (newline) follows.
    pub(super) hard_break: bool,
}

impl Segment<'_> {
    /// The advance with `spacing_em` after every spaced grapheme, with and without trailing
    /// spaces (each trailing space is one spaced grapheme).
    fn widths(&self, spacing_em: f32) -> (f32, f32) {
        let trailing = self.text.len() - self.text.trim_end().len();
        let full = self.full + spacing_em * self.spaced as f32;
        let trimmed = self.trimmed + spacing_em * self.spaced.saturating_sub(trailing) as f32;
        (full, trimmed)
    }
}

/// Greedy wrapping of measured segments into lines no wider than `width_em`, with
/// `spacing_em` of letter spacing; a segment wider than a whole line is broken between
/// graphemes (`split` measures them, spacing included). Also says whether a word had to be
/// broken so (a smaller size may spare it).
pub(super) fn wrap<'a>(
    segments: &[Segment<'a>],
    width_em: f32,
    spacing_em: f32,
    split: impl Fn(&'a str) -> Vec<(&'a str, f32)>,
) -> (Vec<String>, bool) {
    let mut broke_word = false;
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut used = 0.0; // advance of `line`, trailing spaces included
    for segment in segments {
        let (full, trimmed) = segment.widths(spacing_em);
        if !line.is_empty() && used + trimmed > width_em {
            lines.push(line.trim_end().to_string());
            line.clear();
            used = 0.0;
        }
        if line.is_empty() && trimmed > width_em {
            broke_word = true;
            for (grapheme, advance) in split(segment.text) {
                if !line.is_empty() && used + advance > width_em && !grapheme.trim().is_empty() {
                    lines.push(line.trim_end().to_string());
                    line.clear();
                    used = 0.0;
                }
                line.push_str(grapheme);
                used += advance;
            }
        } else {
            line.push_str(segment.text);
            used += full;
        }
        if segment.hard_break {
            lines.push(line.trim_end().to_string());
            line.clear();
            used = 0.0;
        }
    }
    if !line.trim().is_empty() {
        lines.push(line.trim_end().to_string());
    }
    (lines, broke_word)
}

/// The narrowest wrap of `segments` that keeps the line count of `lines` (wrapped at
/// `width_em`): lines of even length. Found by bisecting the width to 1% of an em.
pub(super) fn balanced<'a>(
    segments: &[Segment<'a>],
    width_em: f32,
    spacing_em: f32,
    lines: Vec<String>,
    split: impl Fn(&'a str) -> Vec<(&'a str, f32)> + Copy,
) -> Vec<String> {
    let count = lines.len();
    let (mut narrow, mut wide) = (0.0, width_em);
    let mut best = lines;
    while wide - narrow > 0.01 {
        let mid = (narrow + wide) / 2.0;
        let (candidate, broke_word) = wrap(segments, mid, spacing_em, split);
        if candidate.len() <= count && !broke_word {
            wide = mid;
            best = candidate;
        } else {
            narrow = mid;
        }
    }
    best
}
