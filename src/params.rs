//! Request parameters: raw `key=value` pairs checked against a manifest into [`Params`].
//!
//! Everything a request can say passes through here once, so every error names the
//! parameter, what is allowed and what was received, and the canonical form that the cache
//! key hashes is built in one place. The canvas size (`size`) and output options (`scale`,
//! `quality`, `compression`) are among the [`RESERVED_KEYS`], which a manifest may not
//! declare as params.

use std::collections::BTreeMap;

use crate::config::Limits;
use crate::encode::{DEFAULT_JPEG_QUALITY, DEFAULT_WEBP_QUALITY, EncodeOptions};
use crate::error::RequestError;
use crate::format::Format;
use crate::manifest::{Manifest, RESERVED_KEYS, SIZE_KEY};
use crate::value::{Value, quote};

/// Smallest accepted `scale`.
pub const MIN_SCALE: f32 = 0.1;

/// A request's values and output options, checked against one manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// Every declared parameter with its value (defaults filled), in name order.
    values: BTreeMap<String, Value>,
    /// The name of the canvas size drawn (one of the manifest's sizes).
    size: String,
    /// That size's width and height in pixels at `scale=1`.
    canvas: (u32, u32),
    /// Output size multiplier.
    scale: f32,
    /// JPEG or lossy WebP quality, 1 to 100 (only meaningful for `.jpg` and `.webp`).
    quality: u8,
    /// Lossless WebP instead of lossy (only meaningful for `.webp`).
    lossless: bool,
    /// PNG compression level, 1 to 9 (only meaningful for `.png`).
    compression: u8,
    /// The template version the URL was made for (`v=`): not part of the canonical form.
    version: Option<String>,
}

impl Params {
    /// Parses a URL query string (without the `?`) and checks it.
    pub fn from_query(
        manifest: &Manifest,
        format: Format,
        query: &str,
        limits: &Limits,
    ) -> Result<Params, RequestError> {
        if query.len() > limits.max_query_bytes {
            return Err(RequestError::QueryTooLong {
                len: query.len(),
                limit: limits.max_query_bytes,
            });
        }
        check_utf8(query)?;
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
            .map_err(|e| RequestError::param(format!("malformed query string: {e}")))?;
        Params::from_pairs(manifest, format, pairs, limits)
    }

    /// Checks already-split `key=value` pairs (the CLI's arguments, a CSV row).
    pub fn from_pairs(
        manifest: &Manifest,
        format: Format,
        pairs: Vec<(String, String)>,
        limits: &Limits,
    ) -> Result<Params, RequestError> {
        if pairs.len() > limits.max_params {
            return Err(RequestError::param(format!(
                "too many parameters: at most {}, got {}",
                limits.max_params,
                pairs.len()
            )));
        }
        let mut given: BTreeMap<String, String> = BTreeMap::new();
        for (key, value) in pairs {
            if given.contains_key(&key) {
                return Err(RequestError::param(format!(
                    "duplicate parameter {}: give it once",
                    quote(&key)
                )));
            }
            if !RESERVED_KEYS.contains(&key.as_str()) && !manifest.params.contains_key(&key) {
                let known: Vec<&str> = manifest.params.keys().map(String::as_str).collect();
                return Err(RequestError::param(format!(
                    "unknown parameter {}; this template takes: {}",
                    quote(&key),
                    known.join(", ")
                )));
            }
            given.insert(key, value);
        }

        given.remove(crate::signing::SIG_KEY);
        given.remove(crate::signing::EXP_KEY);
        // Which version of the template the URL was made for: decides caching, never pixels.
        let version = given.remove(crate::manifest::VERSION_KEY);
        let size = given
            .remove(SIZE_KEY)
            .filter(|raw| !raw.is_empty())
            .unwrap_or_else(|| manifest.default_size.clone());
        let canvas = manifest.size(&size).map_err(RequestError::BadParam)?;
        let canvas = (canvas.width, canvas.height);
        let scale = match given.remove("scale") {
            Some(raw) => parse_scale(&raw, limits.max_scale)?,
            None => 1.0,
        };
        let quality = match given.remove("quality") {
            Some(_) if !matches!(format, Format::Jpeg | Format::Webp) => {
                return Err(RequestError::param(
                    "quality: only applies to .jpg and .webp output".to_string(),
                ));
            }
            Some(raw) => Some(parse_quality(&raw)?),
            None => None,
        };
        let lossless = match given.remove("lossless") {
            Some(_) if format != Format::Webp => {
                return Err(RequestError::param(
                    "lossless: only applies to .webp output".to_string(),
                ));
            }
            Some(raw) => match crate::value::ParamKind::Bool
                .check("lossless", &raw)
                .map_err(RequestError::BadParam)?
            {
                Value::Bool(lossless) => lossless,
                _ => unreachable!("a bool param checks into a bool"),
            },
            None => false,
        };
        if lossless && quality.is_some() {
            return Err(RequestError::param(
                "quality: lossless WebP has no quality; give one or the other".to_string(),
            ));
        }
        let quality = match (quality, format) {
            (Some(quality), _) => quality,
            (None, Format::Webp) => DEFAULT_WEBP_QUALITY,
            (None, _) => DEFAULT_JPEG_QUALITY,
        };
        let compression = match given.remove("compression") {
            Some(_) if format != Format::Png => {
                return Err(RequestError::param(
                    "compression: only applies to .png output".to_string(),
                ));
            }
            Some(raw) => parse_compression(&raw, limits.max_png_compression)?,
            None => limits.png_compression,
        };

        let mut values = BTreeMap::new();
        for (name, spec) in &manifest.params {
            // An empty non-text value (an empty form field) means "not given".
            let raw = given
                .remove(name)
                .filter(|v| !v.is_empty() || spec.kind.takes_empty());
            let value = match (raw, &spec.default) {
                (Some(raw), _) if spec.required && raw.is_empty() => {
                    return Err(RequestError::param(format!(
                        "{name}: required, got an empty value"
                    )));
                }
                (Some(raw), _) => spec
                    .kind
                    .check(name, &raw)
                    .map_err(RequestError::BadParam)?,
                (None, Some(default)) => default.clone(),
                (None, None) => {
                    return Err(RequestError::param(format!(
                        "missing required parameter {}",
                        quote(name)
                    )));
                }
            };
            values.insert(name.clone(), value);
        }
        Ok(Params {
            values,
            size,
            canvas,
            scale,
            quality,
            lossless,
            compression,
            version,
        })
    }

    /// The template version the request's URL was made for (`v=`), if it names one.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// Every declared parameter with its value (defaults filled), in name order.
    pub fn values(&self) -> &BTreeMap<String, Value> {
        &self.values
    }

    /// The name of the canvas size drawn.
    pub fn size(&self) -> &str {
        &self.size
    }

    /// The canvas's width and height in pixels at `scale=1`.
    pub fn canvas(&self) -> (u32, u32) {
        self.canvas
    }

    /// Output width and height in whole pixels: the canvas times `scale`.
    pub fn scaled_size(&self) -> (u64, u64) {
        crate::manifest::scaled_canvas(self.canvas, self.scale)
    }

    /// Output size multiplier.
    pub fn scale(&self) -> f32 {
        self.scale
    }

    /// The encoder settings these params ask for.
    pub fn encode_options(&self) -> EncodeOptions {
        EncodeOptions {
            jpeg_quality: self.quality,
            png_compression: self.compression,
            webp_quality: (!self.lossless).then_some(self.quality),
        }
    }

    /// The canonical query string: every param in name order, then the size and the output
    /// options. Two requests that mean the same image have the same canonical form.
    pub fn canonical(&self, format: Format) -> String {
        let mut pairs: Vec<(&str, String)> = self
            .values
            .iter()
            .map(|(k, v)| (k.as_str(), v.canonical()))
            .collect();
        pairs.push((SIZE_KEY, self.size.clone()));
        pairs.push(("scale", self.scale.to_string()));
        match format {
            Format::Jpeg => pairs.push(("quality", self.quality.to_string())),
            Format::Png => pairs.push(("compression", self.compression.to_string())),
            Format::Webp if self.lossless => pairs.push(("lossless", "true".to_string())),
            Format::Webp => pairs.push(("quality", self.quality.to_string())),
            Format::Svg | Format::Pdf => {}
        }
        serde_urlencoded::to_string(pairs).expect("string pairs always serialise")
    }
}

/// A JSON object's members as `key=value` pairs: strings, numbers and booleans; `null`
/// leaves the param to its default.
pub fn json_pairs(
    object: serde_json::Map<String, serde_json::Value>,
) -> Result<Vec<(String, String)>, String> {
    use serde_json::Value;
    let mut pairs = Vec::with_capacity(object.len());
    for (key, value) in object {
        let text = match value {
            Value::Null => continue,
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Array(_) | Value::Object(_) => {
                return Err(format!("{key}: expected a string, number or boolean"));
            }
        };
        pairs.push((key, text));
    }
    Ok(pairs)
}

/// Refuses percent-escapes that decode to invalid UTF-8, which form decoding would otherwise
/// turn silently into U+FFFD.
fn check_utf8(query: &str) -> Result<(), RequestError> {
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        for part in [key, value] {
            let bytes: Vec<u8> = percent_encoding::percent_decode_str(part).collect();
            if std::str::from_utf8(&bytes).is_err() {
                let name = percent_encoding::percent_decode_str(key).decode_utf8_lossy();
                return Err(RequestError::param(format!(
                    "malformed query string: {} is not valid UTF-8 once decoded",
                    quote(if part == key { part } else { &name })
                )));
            }
        }
    }
    Ok(())
}

fn parse_scale(raw: &str, max_scale: f32) -> Result<f32, RequestError> {
    match raw.trim().parse::<f32>() {
        Ok(s) if (MIN_SCALE..=max_scale).contains(&s) => Ok(s),
        _ => Err(RequestError::param(format!(
            "scale: expected a number from {MIN_SCALE} to {max_scale}, got {}",
            quote(raw)
        ))),
    }
}

fn parse_quality(raw: &str) -> Result<u8, RequestError> {
    match raw.trim().parse::<u8>() {
        Ok(q @ 1..=100) => Ok(q),
        _ => Err(RequestError::param(format!(
            "quality: expected a whole number from 1 to 100, got {}",
            quote(raw)
        ))),
    }
}

fn parse_compression(raw: &str, max: u8) -> Result<u8, RequestError> {
    match raw.trim().parse::<u8>() {
        Ok(level) if (1..=max).contains(&level) => Ok(level),
        _ => Err(RequestError::param(format!(
            "compression: expected a whole number from 1 to {max}, got {}",
            quote(raw)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn manifest() -> Manifest {
        let text = r##"
            width = 100
            height = 50
            [params.title]
            type = "text"
            required = true
            max_chars = 10
            [params.theme]
            type = "enum"
            values = ["dark", "light"]
            [params.color]
            type = "color"
            default = "#0EA5E9"
            [params.count]
            type = "number"
            min = 1
            max = 10
            default = 5
            [params.badge]
            type = "bool"
        "##;
        Manifest::parse(text, Path::new("t.toml"), 500).unwrap()
    }

    fn check(query: &str) -> Result<Params, String> {
        Params::from_query(&manifest(), Format::Png, query, &Limits::default())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn fills_defaults_and_normalises() {
        let p = check("title=Hi&color=ABC&count=2.50&badge=on").unwrap();
        assert_eq!(p.values["theme"], Value::Text("dark".into()));
        assert_eq!(p.values["color"], Value::Text("#aabbcc".into()));
        assert_eq!(p.values["count"], Value::Number(2.5));
        assert_eq!(p.values["badge"], Value::Bool(true));
        assert_eq!(p.scale, 1.0);
    }

    #[test]
    fn canonical_form_ignores_order_and_spelled_out_defaults() {
        let a = check("title=Hi&theme=light").unwrap();
        let b = check("theme=light&title=Hi&color=%230ea5e9&count=5.0").unwrap();
        assert_eq!(a.canonical(Format::Png), b.canonical(Format::Png));
        assert_ne!(
            a.canonical(Format::Png),
            check("title=Hi").unwrap().canonical(Format::Png)
        );
    }

    #[test]
    fn errors_name_the_parameter_the_rule_and_the_value() {
        let cases = [
            (
                "title=Hi&nope=1",
                r#"unknown parameter "nope"; this template takes: badge, color, count, theme, title"#,
            ),
            (
                "title=a&title=b",
                r#"duplicate parameter "title": give it once"#,
            ),
            ("", r#"missing required parameter "title""#),
            ("title=abcdefghijk", "title: at most 10 characters, got 11"),
            (
                "title=a&theme=blue",
                r#"theme: expected one of dark, light, got "blue""#,
            ),
            (
                "title=a&count=11",
                r#"count: expected a number from 1 to 10, got "11""#,
            ),
            (
                "title=a&count=NaN",
                r#"count: expected a number from 1 to 10, got "NaN""#,
            ),
            (
                "title=a&color=reddish",
                r#"color: expected a colour (#1e40af, rgb(30 64 175), hsl(224 71% 40%) or a CSS name), got "reddish""#,
            ),
            (
                "title=a&badge=maybe",
                r#"badge: expected true or false, got "maybe""#,
            ),
            (
                "title=%01",
                "title: contains the control character U+0001, which SVG cannot hold",
            ),
            (
                "title=a&size=wide",
                r#"size: expected one of default, got "wide""#,
            ),
            (
                "title=a&scale=9",
                r#"scale: expected a number from 0.1 to 4, got "9""#,
            ),
            (
                "title=a&quality=50",
                "quality: only applies to .jpg and .webp output",
            ),
            (
                "title=%C3%28",
                r#"malformed query string: "title" is not valid UTF-8 once decoded"#,
            ),
            (
                "%FF=1",
                r#"malformed query string: "%FF" is not valid UTF-8 once decoded"#,
            ),
        ];
        for (query, expected) in cases {
            assert_eq!(check(query).unwrap_err(), expected, "{query}");
        }
    }

    #[test]
    fn text_rules_are_as_documented() {
        assert_eq!(
            check("title=").unwrap_err(),
            "title: required, got an empty value"
        );
        let text = |query: &str| check(query).map(|p| p.values["title"].clone());
        assert_eq!(
            text("title=a%09b"),
            Ok(Value::Text("a b".into())),
            "a tab is a space"
        );
        assert_eq!(
            text("title=a%0D%0Ab"),
            Ok(Value::Text("a\nb".into())),
            "CRLF is one forced break"
        );
        assert_eq!(text("title=a%0Ab"), Ok(Value::Text("a\nb".into())));
        for (query, code) in [
            ("title=a%0Db", "000D"),
            ("title=a%C2%85", "0085"),
            ("title=%7F", "007F"),
        ] {
            assert_eq!(
                check(query).unwrap_err(),
                format!(
                    "title: contains the control character U+{code}; text may hold newlines \
                     (forced line breaks), not other control characters"
                ),
                "{query}"
            );
        }
    }

    #[test]
    fn long_values_are_quoted_short() {
        let long = "x".repeat(100);
        let err = check(&format!("title=a&theme={long}")).unwrap_err();
        assert!(
            err.ends_with(&format!("got \"{}\"...", "x".repeat(40))),
            "{err}"
        );
    }

    const SIZED: &str = r#"
        default_size = "og"
        [sizes.og]
        width = 1200
        height = 630
        [sizes.square]
        width = 1080
        height = 1080
        [params.title]
        type = "text"
        required = true
    "#;

    #[test]
    fn a_size_is_picked_by_name_and_the_default_is_one_canonical_form() {
        let manifest = Manifest::parse(SIZED, Path::new("t.toml"), 500).unwrap();
        let check = |query: &str| {
            Params::from_query(&manifest, Format::Png, query, &Limits::default())
                .map_err(|e| e.to_string())
        };
        let square = check("title=a&size=square&scale=2").unwrap();
        assert_eq!(square.size(), "square");
        assert_eq!(square.canvas(), (1080, 1080));
        assert_eq!(square.scaled_size(), (2160, 2160));
        let default = check("title=a").unwrap();
        assert_eq!((default.size(), default.canvas()), ("og", (1200, 630)));
        for same in ["title=a&size=og", "size=&title=a"] {
            let same = check(same).unwrap();
            assert_eq!(same.canonical(Format::Png), default.canonical(Format::Png));
        }
        assert_ne!(
            square.canonical(Format::Png),
            default.canonical(Format::Png)
        );
        assert_eq!(
            check("title=a&size=story").unwrap_err(),
            r#"size: expected one of og, square, got "story""#
        );
    }

    #[test]
    fn sizes_are_declared_one_way_with_a_named_default() {
        let error = |text: &str| {
            Manifest::parse(text, Path::new("x.toml"), 500)
                .unwrap_err()
                .to_string()
        };
        let two = "[sizes.og]\nwidth = 1\nheight = 1\n[sizes.sq]\nwidth = 2\nheight = 2\n";
        assert_eq!(
            error(two),
            "x.toml: default_size: name the size drawn when a request gives none (og, sq)"
        );
        assert_eq!(
            error(&format!("default_size = \"tall\"\n{two}")),
            r#"x.toml: default_size: "tall" is not among the sizes (og, sq)"#
        );
        assert_eq!(
            error(&format!("width = 5\nheight = 5\n{two}")),
            "x.toml: width and height go in each [sizes.NAME] table when a manifest declares sizes"
        );
        assert_eq!(
            error("[sizes.og]\nwidth = 0\nheight = 1\n"),
            "x.toml: sizes.og.width: must be between 1 and 10000, got 0"
        );
        assert_eq!(
            error("[sizes.Og]\nwidth = 1\nheight = 1\n"),
            "x.toml: sizes.Og: size names are lowercase letters, digits, _ and -, starting with a letter"
        );
        assert_eq!(
            error("width = 1\nheight = 1\n[params.height]\ntype = \"number\"\n"),
            r#"x.toml: params.height: "height" is the canvas's own variable (every template sees width, height, size)"#
        );
        let one = Manifest::parse("[sizes.og]\nwidth = 3\nheight = 2\n", Path::new("x"), 1);
        let one = one.unwrap();
        assert_eq!(
            (one.default_size.as_str(), one.width, one.height),
            ("og", 3, 2)
        );
    }

    #[test]
    fn manifest_defaults_are_checked_like_requests() {
        let bad = "width = 1\nheight = 1\n[params.c]\ntype = \"color\"\ndefault = \"bluish\"\n";
        let err = Manifest::parse(bad, Path::new("x.toml"), 500).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"x.toml: params.c: default: c: expected a colour (#1e40af, rgb(30 64 175), hsl(224 71% 40%) or a CSS name), got "bluish""#
        );
    }
}
