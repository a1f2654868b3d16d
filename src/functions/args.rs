//! Strict helper arguments: every call in a template's source is read at load, and an
//! argument a helper does not take is refused with its line and the argument it looks like;
//! the helpers check again at render time.

use tera::{Kwargs, TeraResult};

/// The arguments `fit_text` takes: what to fit and into what.
pub const FIT_ARGS: &[&str] = &[
    "text",
    "width",
    "max_lines",
    "height",
    "font_size",
    "min_font_size",
    "font_family",
    "font_weight",
    "line_height",
    "letter_spacing",
    "balance",
    "direction",
];

/// Where a fitted text goes and how it is drawn: `draw`'s arguments, and `text_box`'s beside
/// `fit_text`'s.
pub const DRAW_ARGS: &[&str] = &["x", "y", "fill", "align", "valign", "opacity"];

/// Every helper with the arguments it takes, for [`check_calls`].
const HELPERS: &[(&str, &[&str])] = &[
    ("fit_text", FIT_ARGS),
    ("text_box", &[]),
    ("draw", DRAW_ARGS),
    ("fixed", &["digits"]),
    ("initials", &["count"]),
    ("asset", &["name"]),
    ("qr", &["text"]),
];

/// Checks every helper call in a template's source: each argument must be one the helper
/// takes. The error names the line, the helper, the argument and its likely intent.
pub fn check_calls(source: &str) -> Result<(), String> {
    for (offset, code) in tera_code(source) {
        check_code(code).map_err(|(at, message)| {
            let line = source[..offset + at].matches('\n').count() + 1;
            format!("line {line}: {message}")
        })?;
    }
    Ok(())
}

/// The line of the first Tera code in `source` that names `variable` as a whole word.
pub fn first_use(source: &str, variable: &str) -> Option<usize> {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    tera_code(source).into_iter().find_map(|(offset, code)| {
        code.match_indices(variable).find_map(|(at, _)| {
            let before = code[..at].chars().next_back();
            let after = code[at + variable.len()..].chars().next();
            let whole = !before.is_some_and(is_word) && !after.is_some_and(is_word);
            whole.then(|| source[..offset + at].matches('\n').count() + 1)
        })
    })
}

/// The candidate `name` was most likely meant as: within two edits (or a quarter of its
/// length), nearest first.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(name, c), c))
        .filter(|(distance, c)| *distance <= 2.max(c.len() / 4))
        .min()
        .map(|(_, c)| c)
}

/// The Tera code in a template: what is between `{{ }}` and between `{% %}`, with its offset.
fn tera_code(source: &str) -> Vec<(usize, &str)> {
    let mut code = Vec::new();
    let mut from = 0;
    while let Some(open) = source[from..].find(['{']) {
        let at = from + open;
        let close = match source.get(at..at + 2) {
            Some("{{") => "}}",
            Some("{%") => "%}",
            _ => {
                from = at + 1;
                continue;
            }
        };
        let end = source[at + 2..]
            .find(close)
            .map_or(source.len(), |e| at + 2 + e);
        code.push((at + 2, &source[at + 2..end]));
        from = end;
    }
    code
}

/// Checks the helper calls in one piece of Tera code: `Err((offset, message))`.
fn check_code(code: &str) -> Result<(), (usize, String)> {
    for &(helper, args) in HELPERS {
        let takes: Vec<&str> = if helper == "text_box" {
            FIT_ARGS.iter().chain(DRAW_ARGS).copied().collect()
        } else {
            args.to_vec()
        };
        let mut from = 0;
        while let Some(found) = code[from..].find(helper) {
            let at = from + found;
            from = at + helper.len();
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let Some(call) = code[from..].trim_start().strip_prefix('(') else {
                continue;
            };
            for name in argument_names(call) {
                if !takes.contains(&name) {
                    return Err((at, unknown(helper, name, &takes)));
                }
            }
        }
    }
    Ok(())
}

/// The names of `name=value` arguments of a call whose text starts after its `(`.
fn argument_names<'a>(call: &'a str) -> Vec<&'a str> {
    let mut names = Vec::new();
    let (mut depth, mut quote, mut start) = (0, None, 0);
    let mut take = |piece: &'a str| {
        if let Some((name, _)) = piece.split_once('=') {
            let name = name.trim();
            if !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                names.push(name);
            }
        }
    };
    for (i, c) in call.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'' | '`') => quote = Some(c),
            (None, '(' | '[' | '{') => depth += 1,
            (None, ')') if depth == 0 => {
                take(&call[start..i]);
                break;
            }
            (None, ')' | ']' | '}') => depth -= 1,
            (None, ',') if depth == 0 => {
                take(&call[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    names
}

/// Refuses arguments `helper` does not take, at render time (the load check reads the
/// source; this catches what reaches a helper some other way).
pub fn known(helper: &str, kwargs: &Kwargs, takes: &[&str]) -> TeraResult<()> {
    for (key, _) in kwargs.iter() {
        let key = key.as_str().unwrap_or_default();
        if !takes.contains(&key) {
            return Err(tera::Error::message(unknown(helper, key, takes)));
        }
    }
    Ok(())
}

fn unknown(helper: &str, name: &str, takes: &[&str]) -> String {
    match closest(name, takes.iter().copied()) {
        Some(like) => format!("{helper}: unknown argument {name} (did you mean {like}?)"),
        None => format!(
            "{helper}: unknown argument {name}; it takes {}",
            takes.join(", ")
        ),
    }
}
