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
    /// A colour: hex (`#rgb`, `#rgba`, `#rrggbb`, `#rrggbbaa`, the `#` optional), `rgb()`,
    /// `rgba()`, `hsl()`, `hsla()` or a CSS name; normalised to `#rrggbb` or `#rrggbbaa`.
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
                    "{name}: expected a colour (#1e40af, rgb(30 64 175), hsl(224 71% 40%) or a \
                     CSS name), got {}",
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
/// A colour as designers and APIs write it (`#1e40af`, `1e40af`, `#fff`, `#1e40af80`,
/// `rgb(30 64 175)`, `rgba(30,64,175,.5)`, `hsl(224 71% 40%)`, `navy`), normalised to
/// lower-case `#rrggbb`, or `#rrggbbaa` when it is not opaque, so that every spelling of one
/// colour is one cache key.
fn parse_color(raw: &str) -> Option<String> {
    // CSS colour names and functions are case-insensitive.
    let raw = raw.trim().to_ascii_lowercase();
    let raw = raw.as_str();
    let bare_hex = matches!(raw.len(), 3 | 4 | 6 | 8) && raw.chars().all(|c| c.is_ascii_hexdigit());
    let color: svgtypes::Color = match bare_hex {
        true => format!("#{raw}").parse().ok()?,
        false => raw.parse().ok()?,
    };
    let mut hex = format!("#{:02x}{:02x}{:02x}", color.red, color.green, color.blue);
    if color.alpha != 255 {
        hex.push_str(&format!("{:02x}", color.alpha));
    }
    Some(hex)
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
    fn every_spelling_of_a_colour_is_one_value() {
        let color = |raw: &str| match ParamKind::Color.check("c", raw) {
            Ok(Value::Text(hex)) => hex,
            other => panic!("{raw}: {other:?}"),
        };
        for raw in [
            "#67b0c5",
            "67B0C5",
            "rgb(103,176,197)",
            "rgb(103 176 197)",
            "rgba(103, 176, 197, 1)",
        ] {
            assert_eq!(color(raw), "#67b0c5", "{raw}");
        }
        assert_eq!(color("hsl(0 100% 50%)"), "#ff0000");
        assert_eq!(color("hsla(240, 100%, 50%, 0.5)"), "#0000ff80");
        assert_eq!(color("navy"), "#000080");
        assert_eq!(color("DarkSlateGray"), "#2f4f4f");
        assert_eq!(color("#fff"), "#ffffff");
        assert_eq!(color("fff8"), "#ffffff88");
        assert_eq!(color("rgba(0,0,0,0.5)"), "#00000080");
        assert_eq!(color("#11223344"), "#11223344");
        for bad in ["bluish", "#12345", "rgb(1,2)", "", "url(#p)"] {
            assert!(ParamKind::Color.check("c", bad).is_err(), "{bad}");
        }
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
