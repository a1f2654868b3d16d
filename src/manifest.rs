//! Template manifests (`NAME.toml`): the canvas size and the typed parameters a template takes.
//!
//! A manifest is parsed once into [`Manifest`], which cannot hold an invalid spec: every
//! default already passed the same checks a request value passes ([`ParamKind::check`]).
//! Checking a whole request against a manifest is [`crate::params`]'s job.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::LoadError;
use crate::value::{ParamKind, Value};

/// Query keys that are not template values, so no manifest may declare them: the output
/// options (`scale`, `quality`, `compression`), the template version a URL was made for
/// (`v`), and the URL signature with its expiry (checked by [`crate::signing`]). Only the
/// output options are part of the canonical form.
pub const RESERVED_KEYS: &[&str] = &[
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

/// Largest canvas side a manifest may declare, in pixels.
const MAX_CANVAS_SIDE: u32 = 10_000;

/// A checked template manifest.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    /// One line saying what the template is for.
    pub description: String,
    /// Canvas width in pixels at `scale=1`.
    pub width: u32,
    /// Canvas height in pixels at `scale=1`.
    pub height: u32,
    /// An asset drawn under the template at its full canvas size: the parts of a card that
    /// no parameter changes (a gradient, a frame, a logo), rasterised once when templates load.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub background: Option<String>,
    /// The parameters, by name, in name order.
    pub params: BTreeMap<String, ParamSpec>,
    /// Whether the SVG is a Tera template (the default); `false` for a plain export from a
    /// design tool, whose `{{` and `{%` are text and whose params are all layer bindings.
    #[serde(skip)]
    pub tera: bool,
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

/// The manifest as written, before checking.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    #[serde(default)]
    description: String,
    width: u32,
    height: u32,
    background: Option<String>,
    #[serde(default)]
    params: BTreeMap<String, RawParam>,
    #[serde(default = "yes")]
    tera: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParam {
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

impl Manifest {
    /// Parses and checks manifest text; `path` only names the file in errors.
    /// `default_max_chars` applies to text params that set no `max_chars`.
    pub fn parse(text: &str, path: &Path, default_max_chars: usize) -> Result<Manifest, LoadError> {
        let fail = |message: String| LoadError::Manifest {
            path: path.to_path_buf(),
            message,
        };
        let raw: RawManifest = toml::from_str(text).map_err(|e| fail(e.message().to_string()))?;
        for (field, side) in [("width", raw.width), ("height", raw.height)] {
            if side == 0 || side > MAX_CANVAS_SIDE {
                return Err(fail(format!(
                    "{field}: must be between 1 and {MAX_CANVAS_SIDE}, got {side}"
                )));
            }
        }
        let mut params = BTreeMap::new();
        // Every param is checked, so that one run reports every mistake.
        let mut problems = Vec::new();
        for (name, raw_param) in raw.params {
            match check_param(&name, raw_param, default_max_chars) {
                Ok(spec) => {
                    params.insert(name, spec);
                }
                Err(m) => problems.push(format!("params.{name}: {m}")),
            }
        }
        if !problems.is_empty() {
            return Err(fail(problems.join(&format!("\n{}: ", path.display()))));
        }
        Ok(Manifest {
            description: raw.description,
            width: raw.width,
            height: raw.height,
            background: raw.background,
            params,
            tera: raw.tera,
        })
    }
}

impl Manifest {
    /// The example value of every param that declares one, as (param, value).
    pub fn examples(&self) -> Vec<(&str, &str)> {
        self.params
            .iter()
            .filter_map(|(k, spec)| spec.example.as_deref().map(|e| (k.as_str(), e)))
            .collect()
    }

    /// The template `name` at `version` as `GET /templates` lists it: name, version,
    /// description, size, params and a URL filled with the examples.
    pub fn describe(&self, name: &str, version: &str) -> serde_json::Value {
        let mut pairs = self.examples();
        pairs.push((VERSION_KEY, version));
        let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
        serde_json::json!({
            "name": name,
            "version": version,
            "description": self.description,
            "width": self.width,
            "height": self.height,
            "params": self.params,
            "example_url": format!("/og/{name}.png?{query}"),
        })
    }

    /// Every param's example (or else its default) as a checked value: what templates are
    /// test-filled with at load, and what previews show; or every param that has none.
    pub fn example_values(&self) -> Result<BTreeMap<String, Value>, Vec<String>> {
        let mut values = BTreeMap::new();
        let mut problems = Vec::new();
        for (name, spec) in &self.params {
            let value = match (&spec.example, &spec.default) {
                (Some(example), _) => spec
                    .kind
                    .check(name, example)
                    .map_err(|e| format!("example: {e}")),
                (None, Some(default)) => Ok(default.clone()),
                (None, None) => Err(format!(
                    "params.{name}: a required parameter needs an example"
                )),
            };
            match value {
                Ok(value) => {
                    values.insert(name.clone(), value);
                }
                Err(problem) => problems.push(problem),
            }
        }
        if problems.is_empty() {
            Ok(values)
        } else {
            Err(problems)
        }
    }
}

fn check_param(name: &str, raw: RawParam, default_max_chars: usize) -> Result<ParamSpec, String> {
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
