//! One parameter's type ([`ParamKind`]) and the checks that turn raw text into a [`Value`].
//!
//! Request values, CLI arguments, data rows and manifest defaults all pass through
//! [`ParamKind::check`], so they obey the same rules and fail with the same words: the
//! parameter's name, what is allowed, and what was received.

use serde::Serialize;
use unicode_segmentation::UnicodeSegmentation;

/// Longest image URL accepted.
const MAX_URL_BYTES: usize = 2048;
/// Code points a text value may hold per character of its `max_chars`: enough for the
/// longest emoji sequences (a family with skin tones is 11), not for a pile of combining marks.
const CODE_POINTS_PER_CHAR: usize = 12;
/// How much of a bad value an error message quotes.
const QUOTE_CHARS: usize = 40;

/// A checked, normalised parameter value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    /// Text, enum and colour values (colours normalised to `#rrggbb`).
    Text(String),
    /// A finite number.
    Number(f64),
    /// A boolean.
    Bool(bool),
}

impl Value {
    /// The value as it appears in canonical query strings.
    pub fn canonical(&self) -> String {
        match self {
            Value::Text(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
        }
    }

    /// The value as Tera sees it: whole numbers become integers so `{{ n }}` prints `48`.
    pub fn to_tera(&self) -> tera::Value {
        match self {
            Value::Text(s) => tera::Value::from(s.as_str()),
            Value::Number(n) if n.fract() == 0.0 && n.abs() < 9e15 => tera::Value::from(*n as i64),
            Value::Number(n) => tera::Value::from(*n),
            Value::Bool(b) => tera::Value::from(*b),
        }
    }
}

/// The type of a parameter with its limits.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ParamKind {
    /// Free text, at most `max_chars` characters; newlines are forced line breaks (`\r\n`
    /// counts as one), a tab is a space, other control characters are refused.
    Text {
        /// Longest accepted value, in characters as a reader counts them (extended grapheme
        /// clusters: `🇯🇵` and `👩‍👩‍👧‍👦` are one each).
        max_chars: usize,
    },
    /// A hex colour, `#rgb` or `#rrggbb` (the `#` optional in requests).
    Color,
    /// A finite number within `[min, max]`.
    Number {
        /// Smallest accepted value.
        min: f64,
        /// Largest accepted value.
        max: f64,
    },
    /// One of a fixed list of strings.
    Enum {
        /// The accepted values.
        values: Vec<String>,
    },
    /// `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`).
    Bool,
    /// A PNG, JPEG, WebP or GIF image, embedded: an http(s) URL fetched from an allow-listed
    /// host, or a path read from an image directory (`--image-dir`); empty means none.
    Image {
        /// An asset drawn instead when the fetch fails (the card is then served with a short
        /// max-age); without one, a failed fetch is an error.
        #[serde(skip_serializing_if = "Option::is_none")]
        fallback: Option<String>,
    },
}

impl ParamKind {
    /// Checks one raw value of the parameter `name`. The error text starts with the name.
    pub fn check(&self, name: &str, raw: &str) -> Result<Value, String> {
        match self {
            ParamKind::Text { max_chars } => {
                // Characters as a reader counts them: a flag or an emoji family is one.
                let chars = raw.graphemes(true).count();
                if chars > *max_chars {
                    return Err(format!(
                        "{name}: at most {max_chars} characters, got {chars}"
                    ));
                }
                let code_points = raw.chars().count();
                let most = max_chars.saturating_mul(CODE_POINTS_PER_CHAR);
                if code_points > most {
                    return Err(format!(
                        "{name}: at most {most} code points, got {code_points}"
                    ));
                }
                if let Some(c) = raw.chars().find(|&c| !is_xml_char(c)) {
                    return Err(format!(
                        "{name}: contains the control character U+{:04X}, which SVG cannot hold",
                        c as u32
                    ));
                }
                // Newlines are forced line breaks; a tab is a space; other controls are refused.
                let text = raw.replace("\r\n", "\n").replace('\t', " ");
                if let Some(c) = text.chars().find(|&c| c != '\n' && c.is_control()) {
                    return Err(format!(
                        "{name}: contains the control character U+{:04X}; text may hold newlines \
                         (forced line breaks), not other control characters",
                        c as u32
                    ));
                }
                Ok(Value::Text(text))
            }
            ParamKind::Color => parse_color(raw).map(Value::Text).ok_or_else(|| {
                format!(
                    "{name}: expected a hex colour like #1e40af or 1e40af, got {}",
                    quote(raw)
                )
            }),
            ParamKind::Number { min, max } => match raw.trim().parse::<f64>() {
                Ok(n) if n.is_finite() && n >= *min && n <= *max => Ok(Value::Number(n)),
                _ => Err(format!(
                    "{name}: expected a number from {min} to {max}, got {}",
                    quote(raw)
                )),
            },
            ParamKind::Enum { values } => match values.iter().find(|v| *v == raw) {
                Some(v) => Ok(Value::Text(v.clone())),
                None => Err(format!(
                    "{name}: expected one of {}, got {}",
                    values.join(", "),
                    quote(raw)
                )),
            },
            ParamKind::Image { .. } => {
                let ok = raw.is_empty()
                    || (raw.len() <= MAX_URL_BYTES
                        && match url::Url::parse(raw) {
                            Ok(url) => matches!(url.scheme(), "http" | "https"),
                            // No scheme: a path in an image directory, checked when read.
                            Err(_) => !raw.chars().any(char::is_control),
                        });
                if ok {
                    Ok(Value::Text(raw.to_string()))
                } else {
                    Err(format!(
                        "{name}: expected an http(s) URL or an image path of at most \
                         {MAX_URL_BYTES} bytes, got {}",
                        quote(raw)
                    ))
                }
            }
            ParamKind::Bool => match raw.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(Value::Bool(true)),
                "false" | "0" | "no" | "off" => Ok(Value::Bool(false)),
                _ => Err(format!(
                    "{name}: expected true or false, got {}",
                    quote(raw)
                )),
            },
        }
    }

    /// Whether an empty value is a value (text, an absent image) rather than "not given"
    /// (an empty form field for a number, colour, enum or bool).
    pub fn takes_empty(&self) -> bool {
        matches!(self, ParamKind::Text { .. } | ParamKind::Image { .. })
    }

    /// The value an optional parameter without a declared default takes, where one is
    /// obvious: empty text, `false`, the first enum value. Colours and numbers must say.
    pub fn zero_value(&self) -> Option<Value> {
        match self {
            ParamKind::Text { .. } | ParamKind::Image { .. } => Some(Value::Text(String::new())),
            ParamKind::Enum { values } => values.first().map(|v| Value::Text(v.clone())),
            ParamKind::Bool => Some(Value::Bool(false)),
            ParamKind::Color | ParamKind::Number { .. } => None,
        }
    }
}

impl std::fmt::Display for ParamKind {
    /// A short description for listings: `text, max 90 chars`, `dark|light`, `number 0..100`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamKind::Text { max_chars } => write!(f, "text, max {max_chars} chars"),
            ParamKind::Color => f.write_str("color"),
            ParamKind::Number { min, max } => write!(f, "number {min}..{max}"),
            ParamKind::Enum { values } => f.write_str(&values.join("|")),
            ParamKind::Bool => f.write_str("bool"),
            ParamKind::Image { .. } => f.write_str("image URL or path"),
        }
    }
}

/// `#rgb`, `#rrggbb`, with or without `#`, any case -> `#rrggbb`.
fn parse_color(raw: &str) -> Option<String> {
    let hex = raw.strip_prefix('#').unwrap_or(raw);
    if !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let hex = hex.to_ascii_lowercase();
    match hex.len() {
        3 => Some(
            hex.chars()
                .flat_map(|c| [c, c])
                .fold(String::from("#"), |mut s, c| {
                    s.push(c);
                    s
                }),
        ),
        6 => Some(format!("#{hex}")),
        _ => None,
    }
}

/// Characters XML 1.0 allows in a document.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Quotes a received value for an error message, cut to a readable length.
pub fn quote(raw: &str) -> String {
    if raw.chars().count() <= QUOTE_CHARS {
        format!("{raw:?}")
    } else {
        let cut: String = raw.chars().take(QUOTE_CHARS).collect();
        format!("{cut:?}...")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(max_chars: usize, raw: &str) -> Result<Value, String> {
        ParamKind::Text { max_chars }.check("name", raw)
    }

    #[test]
    fn max_chars_counts_what_a_reader_sees() {
        let families = "👨‍👩‍👧‍👦".repeat(17);
        assert_eq!(families.chars().count(), 119);
        assert!(
            text(20, &families).is_ok(),
            "17 family emoji are 17 characters"
        );
        assert!(text(5, "🇯🇵🇩🇪🇧🇷🇺🇦🇫🇷").is_ok());
        assert_eq!(
            text(5, "🇯🇵🇩🇪🇧🇷🇺🇦🇫🇷🇮🇹").unwrap_err(),
            "name: at most 5 characters, got 6"
        );
        assert_eq!(
            text(2, "e\u{301}e\u{301}e\u{301}").unwrap_err(),
            "name: at most 2 characters, got 3",
            "a letter with a combining accent is one character"
        );
    }

    #[test]
    fn a_pile_of_combining_marks_is_refused() {
        let zalgo = format!("a{}", "\u{301}".repeat(30));
        assert_eq!(
            text(2, &zalgo).unwrap_err(),
            "name: at most 24 code points, got 31"
        );
    }
}
