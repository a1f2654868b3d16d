//! One manifest param as written (`[params.NAME]`), checked into a [`ParamSpec`].

use serde::{Deserialize, Serialize};

use crate::value::{ParamKind, Value};

/// Query keys that are not template values, so no manifest may declare them: the canvas
/// size and output options (`size`, `scale`, `quality`, `compression`), the template version
/// a URL was made for (`v`), and the URL signature with its expiry (checked by
/// [`crate::signing`]). Only the size and output options are part of the canonical form.
pub const RESERVED_KEYS: &[&str] = &[
    "size",
    "scale",
    "quality",
    "lossless",
    "compression",
    "v",
    "sig",
    "exp",
];

/// The query key that names the template version a URL was made for.
pub const VERSION_KEY: &str = "v";

/// Variables every template sees besides its params: the canvas `width` and `height` in
/// pixels and the name of the `size` being drawn. No param may take these names.
pub const CANVAS_VARIABLES: &[&str] = &["width", "height", "size"];

/// Whether a param may not be called `name`: a reserved query key or a canvas variable.
pub fn is_reserved_name(name: &str) -> bool {
    RESERVED_KEYS.contains(&name) || CANVAS_VARIABLES.contains(&name)
}

/// One declared parameter.
#[derive(Debug, Clone, Serialize)]
pub struct ParamSpec {
    /// Its type and type-specific limits.
    #[serde(flatten)]
    pub kind: ParamKind,
    /// Whether a request must give it.
    pub required: bool,
    /// Used when a request leaves it out (never set for required params).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// A sample value for docs and previews.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub example: Option<String>,
    /// What the parameter means.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The element of the SVG this param changes, by id (see [`crate::layers`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<Layer>,
}

/// A param bound to an element of the SVG ("a layer", as design tools call them).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Layer {
    /// The element's `id`, as the design tool wrote it (spaces, brackets and dots included).
    pub id: String,
    /// For text: the box to fit into, in canvas units; without one, from the text's own
    /// position up to the canvas edge.
    #[serde(rename = "box", skip_serializing_if = "Option::is_none")]
    pub area: Option<Area>,
    /// For text: most lines; without it, as many as the design's text has.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_lines: Option<usize>,
    /// For text: smallest font size it may shrink to; without it, half the design's size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_font_size: Option<f64>,
}

/// A rectangle in canvas units.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Area {
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Width.
    pub width: f64,
    /// Height.
    pub height: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawParam {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    required: bool,
    default: Option<toml::Value>,
    example: Option<String>,
    description: Option<String>,
    max_chars: Option<usize>,
    fallback: Option<String>,
    min: Option<f64>,
    max: Option<f64>,
    values: Option<Vec<String>>,
    layer: Option<String>,
    #[serde(rename = "box")]
    area: Option<Area>,
    max_lines: Option<usize>,
    min_font_size: Option<f64>,
}

pub(super) fn check_param(
    name: &str,
    raw: RawParam,
    default_max_chars: usize,
) -> Result<ParamSpec, String> {
    let valid_name = name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid_name {
        return Err("names must be lowercase letters, digits and _, starting with a letter".into());
    }
    if RESERVED_KEYS.contains(&name) {
        return Err(format!(
            "{name:?} is reserved for output options ({})",
            RESERVED_KEYS.join(", ")
        ));
    }
    if CANVAS_VARIABLES.contains(&name) {
        return Err(format!(
            "{name:?} is the canvas's own variable (every template sees {})",
            CANVAS_VARIABLES.join(", ")
        ));
    }
    let kind = match raw.kind.as_str() {
        "text" => ParamKind::Text {
            max_chars: raw.max_chars.unwrap_or(default_max_chars),
        },
        "color" => ParamKind::Color,
        "number" => {
            let (min, max) = (raw.min.unwrap_or(-1e9), raw.max.unwrap_or(1e9));
            if !(min.is_finite() && max.is_finite() && min <= max) {
                return Err(format!("min ({min}) must be <= max ({max})"));
            }
            ParamKind::Number { min, max }
        }
        "enum" => {
            let values = raw.values.clone().unwrap_or_default();
            if values.is_empty() {
                return Err("values: an enum needs at least one value".into());
            }
            ParamKind::Enum { values }
        }
        "bool" => ParamKind::Bool,
        "image" => ParamKind::Image {
            fallback: raw.fallback.clone(),
        },
        other => {
            return Err(format!(
                "type: expected one of text, color, number, enum, bool, image, got {other:?}"
            ));
        }
    };
    // Fields that belong to another type are mistakes, not silently ignored.
    let misplaced = [
        ("max_chars", raw.max_chars.is_some(), "text"),
        ("min", raw.min.is_some(), "number"),
        ("max", raw.max.is_some(), "number"),
        ("values", raw.values.is_some(), "enum"),
        ("fallback", raw.fallback.is_some(), "image"),
        ("box", raw.area.is_some(), "text"),
        ("max_lines", raw.max_lines.is_some(), "text"),
        ("min_font_size", raw.min_font_size.is_some(), "text"),
    ];
    for (field, present, owner) in misplaced {
        if present && raw.kind != owner {
            return Err(format!("{field}: only allowed for type = {owner:?}"));
        }
    }
    let layout = raw.area.is_some() || raw.max_lines.is_some() || raw.min_font_size.is_some();
    if layout && raw.layer.is_none() {
        return Err("box, max_lines and min_font_size belong to a layer binding: add layer".into());
    }
    if matches!(kind, ParamKind::Number { .. } | ParamKind::Enum { .. }) && raw.layer.is_some() {
        return Err(format!(
            "layer: a {} param cannot be bound to a layer (text, color, image and bool can)",
            raw.kind
        ));
    }
    if raw.area.is_some_and(|a| !(a.width > 0.0 && a.height > 0.0)) {
        return Err("box: width and height must be positive".into());
    }
    if raw.required && raw.default.is_some() {
        return Err("a required parameter cannot have a default".into());
    }
    let mut spec = ParamSpec {
        kind,
        required: raw.required,
        default: None,
        example: raw.example,
        description: raw.description,
        layer: raw.layer.map(|id| Layer {
            id,
            area: raw.area,
            max_lines: raw.max_lines,
            min_font_size: raw.min_font_size,
        }),
    };
    if let Some(default) = raw.default {
        let text = match default {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => return Err(format!("default: expected a plain value, got {other}")),
        };
        let value = spec
            .kind
            .check(name, &text)
            .map_err(|e| format!("default: {e}"))?;
        spec.default = Some(value);
    } else if !spec.required {
        let value = spec.kind.zero_value().ok_or_else(|| {
            format!(
                "default: an optional {} parameter needs a default",
                raw.kind
            )
        })?;
        spec.default = Some(value);
    }
    Ok(spec)
}
