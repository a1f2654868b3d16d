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

use crate::config::Limits;
use crate::error::LoadError;
use crate::manifest::{Manifest, ParamKind};
use crate::params::Value;
use crate::render;
use crate::text::{FitRequest, TextMeasurer};

/// Most lines `fit_text` will lay out.
const MAX_FIT_LINES: usize = 50;
/// Largest file `assets/` may hold.
const MAX_ASSET_BYTES: u64 = 5 * 1024 * 1024;
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
    pub background: Option<Arc<render::Background>>,
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

        let assets = Arc::new(load_assets(&dir.join("assets"))?);
        let mut tera = tera::Tera::new();
        tera.autoescape_on(vec![".svg"]);
        tera.register_filter("fixed", fixed);
        tera.register_function("qr", qr);
        let asset_urls = assets.clone();
        tera.register_function("asset", move |kwargs: tera::Kwargs, _: &tera::State| {
            let name: String = kwargs.must_get("name")?;
            asset_urls.urls.get(&name).cloned().ok_or_else(|| {
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
            hasher.update(assets.hash.as_bytes());
            let background = match &manifest.background {
                None => None,
                Some(asset) => {
                    let fail = |message: String| LoadError::Manifest {
                        path: toml_path.clone(),
                        message: format!("background: {message}"),
                    };
                    let url = assets.urls.get(asset).ok_or_else(|| {
                        fail(format!("no file {asset:?} in the templates' assets/"))
                    })?;
                    let background =
                        render::Background::new(url, manifest.width, manifest.height, options)
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
            set.check(
                template,
                &dir.join(format!("{}.svg", template.name)),
                options,
                limits,
            )?;
        }
        Ok(set)
    }

    /// The asset called `name` as a data URL, if `assets/` has it.
    pub fn asset_url(&self, name: &str) -> Option<&str> {
        self.assets.urls.get(name).map(String::as_str)
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

        for (name, spec) in &manifest.params {
            if let ParamKind::Image {
                fallback: Some(asset),
            } = &spec.kind
            {
                if self.asset_url(asset).is_none() {
                    return Err(fail(format!(
                        "params.{name}: fallback: no file {asset:?} in the templates' assets/"
                    )));
                }
            }
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
            .fill(template, &values, &BTreeMap::new())
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
        if template.background.is_some() && !unscaled_view_box(&svg, manifest) {
            return Err(fail(format!(
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

/// The files in `assets/`, as data URLs by file name, and a hash over all of them.
struct Assets {
    urls: BTreeMap<String, String>,
    hash: blake3::Hash,
}

/// Reads `dir` (if it exists): PNG, JPEG, WebP, GIF and SVG files of at most
/// [`MAX_ASSET_BYTES`], whose content must match their extension.
fn load_assets(dir: &Path) -> Result<Assets, LoadError> {
    let mut urls = BTreeMap::new();
    let mut hasher = blake3::Hasher::new();
    if !dir.is_dir() {
        return Ok(Assets {
            urls,
            hash: hasher.finalize(),
        });
    }
    let io = LoadError::io;
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        if path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    for path in paths {
        let fail = |message: String| LoadError::Manifest {
            path: path.clone(),
            message,
        };
        let size = std::fs::metadata(&path).map_err(io(&path))?.len();
        if size > MAX_ASSET_BYTES {
            return Err(fail(format!(
                "{size} bytes; assets may be at most {MAX_ASSET_BYTES}"
            )));
        }
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let mime = asset_mime(&ext, &bytes).ok_or_else(|| {
            fail("not a PNG, JPEG, WebP, GIF or SVG file matching its extension".to_string())
        })?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        hasher.update(&(name.len() as u64).to_le_bytes());
        hasher.update(name.as_bytes());
        hasher.update(&(bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
        urls.insert(name, render::data_url(mime, &bytes));
    }
    Ok(Assets {
        urls,
        hash: hasher.finalize(),
    })
}

/// The MIME type for an asset, if its bytes are what its extension says.
fn asset_mime(ext: &str, bytes: &[u8]) -> Option<&'static str> {
    let expected = match ext {
        "svg" => {
            let svg = std::str::from_utf8(bytes).is_ok_and(|t| t.contains("<svg"));
            return svg.then_some("image/svg+xml");
        }
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        _ => return None,
    };
    render::raster_mime(bytes).filter(|&mime| mime == expected)
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
