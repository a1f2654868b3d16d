//! Template manifests (`NAME.toml`): the canvas size and the typed parameters a template takes.
//!
//! A manifest is parsed once into [`Manifest`], which cannot hold an invalid spec: every
//! default already passed the same checks a request value passes ([`ParamKind::check`]).
//! A manifest gives one canvas size (`width`, `height`) or several named ones
//! (`[sizes.square]`), one of them the default.
//! Checking a whole request against a manifest is [`crate::params`]'s job.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::LoadError;
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

/// The query key that picks one of a template's sizes.
pub const SIZE_KEY: &str = "size";

/// Variables every template sees besides its params: the canvas `width` and `height` in
/// pixels and the name of the `size` being drawn. No param may take these names.
pub const CANVAS_VARIABLES: &[&str] = &["width", "height", "size"];

/// The name of the one size of a manifest that declares no `[sizes]`.
pub const DEFAULT_SIZE: &str = "default";

/// Whether a param may not be called `name`: a reserved query key or a canvas variable.
pub fn is_reserved_name(name: &str) -> bool {
    RESERVED_KEYS.contains(&name) || CANVAS_VARIABLES.contains(&name)
}

/// Largest canvas side a manifest may declare, in pixels.
const MAX_CANVAS_SIDE: u32 = 10_000;

/// A checked template manifest.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    /// One line saying what the template is for.
    pub description: String,
    /// The default size's canvas width in pixels at `scale=1`.
    pub width: u32,
    /// The default size's canvas height in pixels at `scale=1`.
    pub height: u32,
    /// Every size the template can be drawn at, by name, the default among them.
    pub sizes: BTreeMap<String, Size>,
    /// The size drawn when a request names none.
    pub default_size: String,
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

/// One of a template's canvas sizes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Size {
    /// Canvas width in pixels at `scale=1`.
    pub width: u32,
    /// Canvas height in pixels at `scale=1`.
    pub height: u32,
    /// The asset drawn under this size's canvas, when it is not the manifest's `background`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub background: Option<String>,
}

impl Size {
    /// Output width and height in whole pixels at `scale`.
    pub fn scaled(&self, scale: f32) -> (u64, u64) {
        let side = |v: u32| (v as f32 * scale).ceil() as u64;
        (side(self.width), side(self.height))
    }
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
    width: Option<u32>,
    height: Option<u32>,
    sizes: Option<BTreeMap<String, RawSize>>,
    default_size: Option<String>,
    background: Option<String>,
    #[serde(default)]
    params: BTreeMap<String, RawParam>,
    #[serde(default = "yes")]
    tera: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSize {
    width: u32,
    height: u32,
    background: Option<String>,
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
        let (sizes, default_size) =
            check_sizes(raw.width, raw.height, raw.sizes, raw.default_size).map_err(fail)?;
        let default = &sizes[&default_size];
        let (width, height) = (default.width, default.height);
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
            width,
            height,
            sizes,
            default_size,
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
    /// description, default size, params, a URL filled with the examples, and every size
    /// with its own example URL.
    pub fn describe(&self, name: &str, version: &str) -> serde_json::Value {
        let example_url = |size: Option<&str>| {
            let mut pairs = self.examples();
            pairs.extend(size.map(|size| (SIZE_KEY, size)));
            pairs.push((VERSION_KEY, version));
            let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
            format!("/og/{name}.png?{query}")
        };
        let sizes: serde_json::Map<String, serde_json::Value> = self
            .sizes
            .iter()
            .map(|(size, canvas)| {
                let answer = serde_json::json!({
                    "width": canvas.width,
                    "height": canvas.height,
                    "example_url": example_url(Some(size)),
                });
                (size.clone(), answer)
            })
            .collect();
        serde_json::json!({
            "name": name,
            "version": version,
            "description": self.description,
            "width": self.width,
            "height": self.height,
            "default_size": self.default_size,
            "sizes": sizes,
            "params": self.params,
            "example_url": example_url(None),
        })
    }

    /// The size called `name`, or a request error listing the sizes there are.
    pub fn size(&self, name: &str) -> Result<&Size, String> {
        self.sizes.get(name).ok_or_else(|| {
            let names: Vec<&str> = self.sizes.keys().map(String::as_str).collect();
            format!(
                "size: expected one of {}, got {}",
                names.join(", "),
                crate::value::quote(name)
            )
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

/// The sizes a manifest declares and the default's name: `width` and `height` alone make
/// one size called [`DEFAULT_SIZE`]; `[sizes.NAME]` tables make several, and then
/// `default_size` names the default (needed only when there are two or more).
fn check_sizes(
    width: Option<u32>,
    height: Option<u32>,
    raw: Option<BTreeMap<String, RawSize>>,
    default_size: Option<String>,
) -> Result<(BTreeMap<String, Size>, String), String> {
    let side = |field: String, side: u32| match side {
        1..=MAX_CANVAS_SIDE => Ok(side),
        _ => Err(format!(
            "{field}: must be between 1 and {MAX_CANVAS_SIDE}, got {side}"
        )),
    };
    let Some(raw) = raw else {
        if default_size.is_some() {
            return Err("default_size: names one of [sizes], and this manifest has none".into());
        }
        let (Some(width), Some(height)) = (width, height) else {
            let missing = if width.is_none() { "width" } else { "height" };
            return Err(format!(
                "missing field `{missing}`: give the canvas size (width and height), or \
                 named sizes as [sizes.NAME] tables"
            ));
        };
        let size = Size {
            width: side("width".into(), width)?,
            height: side("height".into(), height)?,
            background: None,
        };
        return Ok((
            BTreeMap::from([(DEFAULT_SIZE.to_string(), size)]),
            DEFAULT_SIZE.into(),
        ));
    };
    if width.is_some() || height.is_some() {
        return Err(
            "width and height go in each [sizes.NAME] table when a manifest declares sizes".into(),
        );
    }
    let mut sizes = BTreeMap::new();
    for (name, size) in raw {
        let valid_name = name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if !valid_name {
            return Err(format!(
                "sizes.{name}: size names are lowercase letters, digits, _ and -, starting with \
                 a letter"
            ));
        }
        let size = Size {
            width: side(format!("sizes.{name}.width"), size.width)?,
            height: side(format!("sizes.{name}.height"), size.height)?,
            background: size.background,
        };
        sizes.insert(name, size);
    }
    let names = || sizes.keys().cloned().collect::<Vec<_>>().join(", ");
    let default_size = match (default_size, sizes.len()) {
        (_, 0) => return Err("sizes: declare at least one size".into()),
        (Some(name), _) if sizes.contains_key(&name) => name,
        (Some(name), _) => {
            return Err(format!(
                "default_size: {name:?} is not among the sizes ({})",
                names()
            ));
        }
        (None, 1) => sizes.keys().next().cloned().unwrap_or_default(),
        (None, _) => {
            return Err(format!(
                "default_size: name the size drawn when a request gives none ({})",
                names()
            ));
        }
    };
    Ok((sizes, default_size))
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
