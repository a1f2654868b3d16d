//! Changing a template's source in place: edits at byte ranges the XML parser reported,
//! with everything between them kept (or, for a plain export, made literal for Tera).

use std::ops::Range;

/// One change to the source: `text` in place of `range` (an insertion when it is empty).
pub struct Edit {
    /// The bytes replaced.
    pub range: Range<usize>,
    /// What goes there.
    pub text: String,
}

/// `text` as Tera that outputs it unchanged.
pub fn literal(text: &str) -> String {
    if text.is_empty() {
        return String::new();
    }
    // Only `{% endraw %}` ends a raw block; one in the text is split around.
    let parts: Vec<&str> = text.split("endraw").collect();
    let mut out = String::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push_str("{{ \"endraw\" }}");
        }
        if !part.is_empty() {
            out.push_str("{% raw %}");
            out.push_str(part);
            out.push_str("{% endraw %}");
        }
    }
    out
}

/// `source` with `edits` applied; between them, with `tera` off, everything made literal.
pub fn apply(source: &str, mut edits: Vec<Edit>, tera: bool) -> Result<String, String> {
    // Insertions before a replacement at the same place; then left to right.
    edits.sort_by_key(|e| (e.range.start, e.range.end));
    let mut out = String::with_capacity(source.len() + 256);
    let mut at = 0;
    for edit in edits {
        if edit.range.start < at {
            return Err("two layer bindings change the same part of the SVG".into());
        }
        let between = &source[at..edit.range.start];
        match tera {
            true => out.push_str(between),
            false => out.push_str(&literal(between)),
        }
        out.push_str(&edit.text);
        at = edit.range.end;
    }
    match tera {
        true => out.push_str(&source[at..]),
        false => out.push_str(&literal(&source[at..])),
    }
    Ok(out)
}

/// `source` with every Tera tag (`{{ }}`, `{% %}`, `{# #}`) replaced by spaces, newlines
/// kept, so that positions in it are positions in the template.
pub fn blank_tera(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(open) = rest.find('{') {
        let close = match rest.get(open..open + 2) {
            Some("{{") => "}}",
            Some("{%") => "%}",
            Some("{#") => "#}",
            _ => {
                out.push_str(&rest[..=open]);
                rest = &rest[open + 1..];
                continue;
            }
        };
        out.push_str(&rest[..open]);
        let end = rest[open + 2..]
            .find(close)
            .map_or(rest.len(), |e| open + 2 + e + 2);
        // A space per byte, so that byte positions stay too.
        for c in rest[open..end].chars() {
            match c {
                '\n' => out.push('\n'),
                c => out.extend(std::iter::repeat_n(' ', c.len_utf8())),
            }
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}
