//! A template set: every `NAME.svg` + `NAME.toml` pair in a directory, compiled with Tera.
//!
//! Loading checks everything it can before a request arrives: the manifest, the Tera syntax,
//! that the SVG only uses declared params, and that the template filled with its examples
//! parses to the size its manifest declares. A set that fails any check is not loaded.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use crate::config::Limits;
use crate::error::LoadError;
use crate::manifest::Manifest;
use crate::params::Value;
use crate::render;
use crate::text::{FitRequest, TextMeasurer};

/// Most lines `fit_text` will lay out.
const MAX_FIT_LINES: usize = 50;

/// One loaded template.
#[derive(Debug)]
pub struct Template {
    /// The name requests use (`post` for `templates/post.svg`).
    pub name: String,
    /// The checked manifest.
    pub manifest: Manifest,
    /// Hash of the SVG and manifest bytes: part of every cache key and ETag.
    pub content_hash: blake3::Hash,
}

/// Every template in a directory, compiled once.
pub struct TemplateSet {
    tera: tera::Tera,
    templates: BTreeMap<String, Arc<Template>>,
}

impl TemplateSet {
    /// Loads and checks every template in `dir`, using `options` to test-parse each one.
    pub fn load(
        dir: &Path,
        options: &usvg::Options,
        measurer: &Arc<TextMeasurer>,
        limits: &Limits,
    ) -> Result<TemplateSet, LoadError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| LoadError::Io { path, source }
        };
        let mut manifests = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io(dir))? {
            let path = entry.map_err(io(dir))?.path();
            if path.extension().is_some_and(|e| e == "toml") {
                manifests.push(path);
            }
        }
        manifests.sort();

        let mut tera = tera::Tera::new();
        tera.autoescape_on(vec![".svg"]);
        tera.register_filter("fixed", fixed);
        let measurer = measurer.clone();
        tera.register_function("fit_text", move |kwargs: tera::Kwargs, _: &tera::State| {
            fit_text(&measurer, &kwargs)
        });
        let mut templates = BTreeMap::new();
        for toml_path in manifests {
            let name = file_stem(&toml_path);
            let svg_path = toml_path.with_extension("svg");
            let toml_text = std::fs::read_to_string(&toml_path).map_err(io(&toml_path))?;
            let svg_text = std::fs::read_to_string(&svg_path).map_err(io(&svg_path))?;
            let manifest = Manifest::parse(&toml_text, &toml_path, limits.default_max_chars)?;
            tera.add_raw_template(&tera_name(&name), &svg_text)
                .map_err(|e| LoadError::Template {
                    path: svg_path.clone(),
                    message: e.to_string(),
                })?;
            let mut hasher = blake3::Hasher::new();
            for part in [name.as_bytes(), svg_text.as_bytes(), toml_text.as_bytes()] {
                hasher.update(&(part.len() as u64).to_le_bytes());
                hasher.update(part);
            }
            let template = Template {
                name: name.clone(),
                manifest,
                content_hash: hasher.finalize(),
            };
            templates.insert(name, Arc::new(template));
        }
        let set = TemplateSet { tera, templates };
        for template in set.templates.values() {
            set.check(
                template,
                &dir.join(format!("{}.svg", template.name)),
                options,
                limits,
            )?;
        }
        Ok(set)
    }

    /// The template called `name`, if loaded.
    pub fn get(&self, name: &str) -> Option<&Arc<Template>> {
        self.templates.get(name)
    }

    /// Every template, in name order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Template>> {
        self.templates.values()
    }

    /// Fills `template` with checked values; every value is XML-escaped unless the template
    /// says otherwise.
    pub fn fill(
        &self,
        template: &Template,
        values: &BTreeMap<String, Value>,
    ) -> Result<String, tera::Error> {
        let mut context = tera::Context::new();
        for (key, value) in values {
            context.insert_value(key.clone(), value.to_tera());
        }
        self.tera.render(&tera_name(&template.name), &context)
    }

    /// Checks that the SVG only uses declared params and that, filled with each param's
    /// example (or default), it parses to the manifest's size.
    fn check(
        &self,
        template: &Template,
        svg_path: &Path,
        options: &usvg::Options,
        limits: &Limits,
    ) -> Result<(), LoadError> {
        let fail = |message: String| LoadError::Manifest {
            path: svg_path.to_path_buf(),
            message,
        };
        let manifest = &template.manifest;
        let used = self
            .tera
            .get_template_variables(&tera_name(&template.name))
            .map_err(|e| fail(e.to_string()))?;
        let mut undeclared: Vec<&str> = used
            .into_iter()
            .filter(|v| !manifest.params.contains_key(*v))
            .collect();
        undeclared.sort();
        if !undeclared.is_empty() {
            return Err(fail(format!(
                "uses {}, not declared in {}.toml",
                undeclared.join(", "),
                template.name
            )));
        }

        let mut values = BTreeMap::new();
        for (name, spec) in &manifest.params {
            let value = match (&spec.example, &spec.default) {
                (Some(example), _) => crate::params::parse_value(name, spec, example)
                    .map_err(|e| fail(format!("example: {e}")))?,
                (None, Some(default)) => default.clone(),
                (None, None) => {
                    return Err(fail(format!(
                        "params.{name}: a required parameter needs an example"
                    )));
                }
            };
            values.insert(name.clone(), value);
        }
        let svg = self
            .fill(template, &values)
            .map_err(|e| fail(e.to_string()))?;
        let tree = render::parse(&svg, options, limits.max_svg_nodes)
            .map_err(|e| fail(format!("filled with its examples: {e}")))?;
        let size = render::output_size(&tree, 1.0);
        if size != (u64::from(manifest.width), u64::from(manifest.height)) {
            return Err(fail(format!(
                "renders at {}x{}, but its manifest says {}x{}",
                size.0, size.1, manifest.width, manifest.height
            )));
        }
        Ok(())
    }
}

/// `{{ price | fixed(digits=2) }}`: a number with exactly `digits` decimals (0 to 6).
fn fixed(value: f64, kwargs: tera::Kwargs, _: &tera::State) -> tera::TeraResult<String> {
    let digits = kwargs.get::<usize>("digits")?.unwrap_or(2).min(6);
    Ok(format!("{value:.digits$}"))
}

/// `fit_text(text=..., width=..., max_lines=... | height=..., font_size=..., ...)`: see
/// [`TextMeasurer::fit`]. Returns `{lines, font_size, line_height, height, truncated}`.
fn fit_text(measurer: &TextMeasurer, kwargs: &tera::Kwargs) -> tera::TeraResult<tera::Value> {
    let fail = |m: &str| tera::Error::message(format!("fit_text: {m}"));
    let text: String = kwargs.must_get("text")?;
    let width: f64 = kwargs.must_get("width")?;
    let font_size: f64 = kwargs.must_get("font_size")?;
    let min_font_size: f64 = kwargs.get("min_font_size")?.unwrap_or(font_size);
    let max_lines: Option<usize> = kwargs.get("max_lines")?;
    let max_height: Option<f64> = kwargs.get("height")?;
    let line_height: f64 = kwargs.get("line_height")?.unwrap_or(1.2);
    let weight: u16 = kwargs.get("font_weight")?.unwrap_or(400);
    let family: String = kwargs
        .get("font_family")?
        .unwrap_or_else(|| crate::fonts::DEFAULT_FAMILY.to_string());
    if !(width > 0.0 && font_size > 0.0 && min_font_size > 0.0) {
        return Err(fail("width, font_size and min_font_size must be positive"));
    }
    if !(0.5..=3.0).contains(&line_height) {
        return Err(fail("line_height must be between 0.5 and 3"));
    }
    if max_lines.is_none() && max_height.is_none() {
        return Err(fail("give max_lines or height"));
    }
    let request = FitRequest {
        text: &text,
        width: width as f32,
        max_lines: max_lines.unwrap_or(MAX_FIT_LINES).clamp(1, MAX_FIT_LINES),
        max_height: max_height.map(|h| h as f32),
        font_size: font_size as f32,
        min_font_size: min_font_size as f32,
        family: &family,
        weight,
        line_height: line_height as f32,
    };
    Ok(tera::Value::from_serializable(&measurer.fit(&request)))
}

fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The Tera name ends in `.svg` so Tera's autoescaping applies to it.
fn tera_name(name: &str) -> String {
    format!("{name}.svg")
}
