//! Greedy line breaking of text already cut into break opportunities (UAX 14) and measured
//! in em, so that every candidate font size only re-adds widths.

/// A piece of text between two break opportunities, measured in em.
pub(super) struct Segment<'a> {
    pub(super) text: &'a str,
    /// Advance including trailing spaces.
    pub(super) full: f32,
    /// Advance without trailing spaces (what counts at a line's end).
    pub(super) trimmed: f32,
    /// A mandatory break (newline) follows.
    pub(super) hard_break: bool,
}

/// Greedy wrapping of measured segments into lines no wider than `width_em`; a segment
/// wider than a whole line is broken between graphemes (`split` measures them).
pub(super) fn wrap<'a>(
    segments: &[Segment<'a>],
    width_em: f32,
    split: impl Fn(&'a str) -> Vec<(&'a str, f32)>,
) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut used = 0.0; // advance of `line`, trailing spaces included
    for segment in segments {
        if !line.is_empty() && used + segment.trimmed > width_em {
            lines.push(line.trim_end().to_string());
            line.clear();
            used = 0.0;
        }
        if line.is_empty() && segment.trimmed > width_em {
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
            used += segment.full;
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
    lines
}
