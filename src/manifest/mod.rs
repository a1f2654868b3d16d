//! Template manifests (`NAME.toml`): the canvas size and the typed parameters a template takes.
//!
//! A manifest is parsed once into [`Manifest`], which cannot hold an invalid spec: every
//! default already passed the same checks a request value passes ([`crate::value::ParamKind::check`]).
//! A manifest gives one canvas size (`width`, `height`) or several named ones
//! (`[sizes.square]`), one of them the default.
//! Checking a whole request against a manifest is [`crate::params`]'s job.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::LoadError;
use crate::value::Value;

mod param;
mod size;

pub use param::{
    Area, CANVAS_VARIABLES, Layer, ParamSpec, RESERVED_KEYS, VERSION_KEY, is_reserved_name,
};
use param::{RawParam, check_param};

pub use size::{DEFAULT_SIZE, SIZE_KEY, Size, scaled_canvas};
use size::{RawSize, check_sizes};

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

fn yes() -> bool {
    true
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
