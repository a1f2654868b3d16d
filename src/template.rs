//! A template set: every `NAME.svg` + `NAME.toml` pair in a directory, compiled with Tera.
//!
//! Loading checks everything it can before a request arrives: the manifest, the Tera syntax,
//! that the SVG only uses declared params, and that the template filled with its examples
//! parses to the size its manifest declares. A set that fails any check is not loaded.
//!
//! Functions templates may call: `fit_text` (see [`crate::text`]), `asset(name=..)` (a file
//! from `assets/`, read once here, as a data URL) and `qr(text=..)` (QR code path data).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use crate::assets::{self, Assets};
use crate::background::Background;
use crate::config::Limits;
use crate::error::LoadError;
use crate::manifest::Manifest;
use crate::raster;
use crate::text::{FitRequest, TextMeasurer};
use crate::value::{ParamKind, Value};

/// Most lines `fit_text` will lay out.
const MAX_FIT_LINES: usize = 50;
/// Most bytes `qr` encodes (a version 40 code at the lowest error correction holds 2953).
const MAX_QR_BYTES: usize = 1000;

/// One loaded template.
#[derive(Debug)]
pub struct Template {
    /// The name requests use (`post` for `templates/post.svg`).
    pub name: String,
    /// The checked manifest.
    pub manifest: Manifest,
    /// Hash of the SVG and manifest bytes: part of every cache key and ETag.
    pub content_hash: blake3::Hash,
    /// The manifest's `background`, drawn once at load.
    pub background: Option<Arc<Background>>,
}

impl Template {
    /// Output width and height in whole pixels at `scale`.
    pub fn scaled_size(&self, scale: f32) -> (u64, u64) {
        let side = |v: u32| (v as f32 * scale).ceil() as u64;
        (side(self.manifest.width), side(self.manifest.height))
    }
}

/// Every template in a directory, compiled once.
pub struct TemplateSet {
    tera: tera::Tera,
    templates: BTreeMap<String, Arc<Template>>,
    assets: Arc<Assets>,
}

impl TemplateSet {
    /// Loads and checks every template in `dir`, using `options` to test-parse each one.
    pub fn load(
        dir: &Path,
        options: &usvg::Options,
        measurer: &Arc<TextMeasurer>,
        limits: &Limits,
    ) -> Result<TemplateSet, LoadError> {
        let io = LoadError::io;
        let mut manifests = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io(dir))? {
            let path = entry.map_err(io(dir))?.path();
            if path.extension().is_some_and(|e| e == "toml") {
                manifests.push(path);
            }
        }
        manifests.sort();

        let assets = Arc::new(assets::load(&dir.join("assets"))?);
        let mut tera = tera::Tera::new();
        tera.autoescape_on(vec![".svg"]);
        tera.register_filter("fixed", fixed);
        tera.register_function("qr", qr);
        let asset_urls = assets.clone();
        tera.register_function("asset", move |kwargs: tera::Kwargs, _: &tera::State| {
            let name: String = kwargs.must_get("name")?;
            asset_urls.url(&name).map(str::to_string).ok_or_else(|| {
                tera::Error::message(format!("asset: no file {name:?} in the templates' assets/"))
            })
        });
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
            // Any template may embed any asset, so every asset is part of every hash.
            hasher.update(assets.hash().as_bytes());
            let background = match &manifest.background {
                None => None,
                Some(asset) => {
                    let fail = |message: String| LoadError::Manifest {
                        path: toml_path.clone(),
                        message: format!("background: {message}"),
                    };
                    let url = assets.url(asset).ok_or_else(|| {
                        fail(format!("no file {asset:?} in the templates' assets/"))
                    })?;
                    let background = Background::new(url, manifest.width, manifest.height, options)
                        .map_err(|e| fail(e.to_string()))?;
                    Some(Arc::new(background))
                }
            };
            let template = Template {
                name: name.clone(),
                manifest,
                content_hash: hasher.finalize(),
                background,
            };
            templates.insert(name, Arc::new(template));
        }
        let set = TemplateSet {
            tera,
            templates,
            assets,
        };
        for template in set.templates.values() {
            set.check(template, dir, options, limits)?;
        }
        Ok(set)
    }

    /// The asset called `name` as a data URL, if `assets/` has it.
    pub fn asset_url(&self, name: &str) -> Option<&str> {
        self.assets.url(name)
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
    /// Image params take their value from `images` (name to data URL), empty when absent.
    pub fn fill(
        &self,
        template: &Template,
        values: &BTreeMap<String, Value>,
        images: &BTreeMap<String, String>,
    ) -> Result<String, tera::Error> {
        let mut context = tera::Context::new();
        for (key, value) in values {
            let value = match template.manifest.params.get(key).map(|p| &p.kind) {
                Some(ParamKind::Image { .. }) => {
                    tera::Value::from(images.get(key).map_or("", String::as_str))
                }
                _ => value.to_tera(),
            };
            context.insert_value(key.clone(), value);
        }
        self.tera.render(&tera_name(&template.name), &context)
    }

    /// Checks that the SVG only uses declared params and that, filled with each param's
    /// example (or default), it parses to the manifest's size. Problems with examples and
    /// fallbacks are the manifest's; the others are the SVG's.
    fn check(
        &self,
        template: &Template,
        dir: &Path,
        options: &usvg::Options,
        limits: &Limits,
    ) -> Result<(), LoadError> {
        let svg_error = |message: String| LoadError::Template {
            path: dir.join(format!("{}.svg", template.name)),
            message,
        };
        let manifest_error = |message: String| LoadError::Manifest {
            path: dir.join(format!("{}.toml", template.name)),
            message,
        };
        let manifest = &template.manifest;
        let used = self
            .tera
            .get_template_variables(&tera_name(&template.name))
            .map_err(|e| svg_error(e.to_string()))?;
        let mut undeclared: Vec<&str> = used
            .into_iter()
            .filter(|v| !manifest.params.contains_key(*v))
            .collect();
        undeclared.sort();
        if !undeclared.is_empty() {
            return Err(svg_error(format!(
                "uses {}, not declared in {}.toml",
                undeclared.join(", "),
                template.name
            )));
        }

        for (name, spec) in &manifest.params {
            if let ParamKind::Image {
                fallback: Some(asset),
            } = &spec.kind
            {
                if self.asset_url(asset).is_none() {
                    return Err(manifest_error(format!(
                        "params.{name}: fallback: no file {asset:?} in the templates' assets/"
                    )));
                }
            }
        }
        let values = manifest.example_values().map_err(manifest_error)?;
        let svg = self
            .fill(template, &values, &BTreeMap::new())
            .map_err(|e| svg_error(e.to_string()))?;
        let tree = raster::parse(&svg, options, limits.max_svg_nodes)
            .map_err(|e| svg_error(format!("filled with its examples: {e}")))?;
        let size = raster::output_size(&tree, 1.0);
        if size != (u64::from(manifest.width), u64::from(manifest.height)) {
            return Err(svg_error(format!(
                "renders at {}x{}, but its manifest says {}x{}",
                size.0, size.1, manifest.width, manifest.height
            )));
        }
        if template.background.is_some() && !unscaled_view_box(&svg, manifest) {
            return Err(svg_error(format!(
                "has a background, so its viewBox must be 0 0 {} {} (or none)",
                manifest.width, manifest.height
            )));
        }
        Ok(())
    }
}

/// Whether the root `<svg>` has no `viewBox`, or `0 0 width height`: user units are pixels,
/// so a background drawn over the canvas lines up with what the template draws.
fn unscaled_view_box(svg: &str, manifest: &Manifest) -> bool {
    let Ok(doc) = roxmltree::Document::parse(svg) else {
        return false;
    };
    let Some(view_box) = doc.root_element().attribute("viewBox") else {
        return true;
    };
    let numbers: Vec<f64> = view_box
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect();
    numbers
        == [
            0.0,
            0.0,
            f64::from(manifest.width),
            f64::from(manifest.height),
        ]
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

/// `qr(text=..)`: a QR code (medium error correction) as `{path, size}`: `path` is SVG path
/// data drawing the dark modules on a `size` x `size` grid of 1-unit squares, without the
/// quiet zone; scale it with a transform and leave a 4-module margin around it.
fn qr(kwargs: tera::Kwargs, _: &tera::State) -> tera::TeraResult<tera::Value> {
    let text: String = kwargs.must_get("text")?;
    if text.len() > MAX_QR_BYTES {
        return Err(tera::Error::message(format!(
            "qr: at most {MAX_QR_BYTES} bytes, got {}",
            text.len()
        )));
    }
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| tera::Error::message(format!("qr: {e}")))?;
    let size = code.width();
    let mut path = String::new();
    for (i, color) in code.to_colors().into_iter().enumerate() {
        if color == qrcode::Color::Dark {
            path.push_str(&format!("M{} {}h1v1h-1z", i % size, i / size));
        }
    }
    Ok(tera::Value::from_serializable(
        &serde_json::json!({ "path": path, "size": size }),
    ))
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
