//! A template set: every `NAME.svg` + `NAME.toml` pair in a directory, compiled with Tera.
//!
//! Loading checks everything it can before a request arrives: the manifest, the Tera syntax,
//! that the SVG only uses declared params, and that the template filled with its examples
//! parses to the size its manifest declares. A set that fails any check is not loaded.
//!
//! The filters and functions templates may call are [`crate::functions`].

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use crate::assets::{self, Assets};
use crate::background::Background;
use crate::config::Limits;
use crate::error::LoadError;
use crate::functions;
use crate::manifest::{Manifest, Size};
use crate::raster;
use crate::text::TextMeasurer;
use crate::value::{ParamKind, Value};

mod images;
mod report;

use report::{filled_error, source_error};

/// One loaded template.
#[derive(Debug)]
pub struct Template {
    /// The name requests use (`post` for `templates/post.svg`).
    pub name: String,
    /// The checked manifest.
    pub manifest: Manifest,
    /// Hash of the SVG and manifest bytes: part of every cache key and ETag.
    pub content_hash: blake3::Hash,
    /// Each size's background (the size's own or the manifest's), drawn once at load.
    backgrounds: BTreeMap<String, Arc<Background>>,
}

impl Template {
    /// Whether `param` is an `image` param (its value is a URL, drawn as a fetched image).
    pub fn is_image_param(&self, param: &str) -> bool {
        matches!(
            self.manifest.params.get(param).map(|p| &p.kind),
            Some(ParamKind::Image { .. })
        )
    }

    /// The template's version as URLs carry it (`v=`): the start of its content hash, so any
    /// edit to its SVG, manifest or assets gives a new one.
    pub fn version(&self) -> String {
        self.content_hash.to_hex()[..10].to_string()
    }

    /// The background drawn under size `size`, if the manifest declares one.
    pub fn background(&self, size: &str) -> Option<&Arc<Background>> {
        self.backgrounds.get(size)
    }
}

/// Every template in a directory, compiled once.
pub struct TemplateSet {
    tera: tera::Tera,
    templates: BTreeMap<String, Arc<Template>>,
    assets: Arc<Assets>,
    markers: images::Markers,
}

impl TemplateSet {
    /// Loads and checks every template in `dir`, using `options` to test-parse each one.
    /// Any problem fails the whole set, with every problem reported.
    pub fn load(
        dir: &Path,
        options: &usvg::Options,
        measurer: &Arc<TextMeasurer>,
        limits: &Limits,
    ) -> Result<TemplateSet, LoadError> {
        let (set, mut problems) = TemplateSet::load_lenient(dir, options, measurer, limits)?;
        match problems.len() {
            0 => Ok(set),
            1 => Err(problems.remove(0)),
            _ => Err(LoadError::Several(problems)),
        }
    }

    /// Loads every template in `dir` that passes its checks, and the problems of those that
    /// do not (left out of the set). Fails only when the directory or its assets cannot be
    /// read: what `vellum dev` runs, so that one broken template hides no other.
    pub fn load_lenient(
        dir: &Path,
        options: &usvg::Options,
        measurer: &Arc<TextMeasurer>,
        limits: &Limits,
    ) -> Result<(TemplateSet, Vec<LoadError>), LoadError> {
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
        functions::register(&mut tera, assets.clone(), measurer.clone());
        let mut templates = BTreeMap::new();
        // Every template is loaded and checked, so that one run reports every mistake.
        let mut problems = Vec::new();
        for toml_path in manifests {
            match load_one(&toml_path, &mut tera, &assets, options, limits) {
                Ok(template) => {
                    templates.insert(template.name.clone(), Arc::new(template));
                }
                Err(problem) => problems.push(problem),
            }
        }
        let mut set = TemplateSet {
            tera,
            templates,
            assets,
            markers: images::Markers::new(),
        };
        let mut broken = Vec::new();
        for template in set.templates.values() {
            if let Err(problem) = set.check(template, dir, options, limits) {
                broken.push(template.name.clone());
                problems.push(problem);
            }
        }
        for name in broken {
            set.templates.remove(&name);
        }
        Ok((set, problems))
    }

    /// A set with no templates and no assets.
    #[cfg(test)]
    pub(crate) fn empty() -> TemplateSet {
        TemplateSet {
            tera: tera::Tera::new(),
            templates: BTreeMap::new(),
            assets: Arc::new(assets::load(Path::new("")).expect("no directory, no assets")),
            markers: images::Markers::new(),
        }
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

    /// Fills `template` at size `size` with checked values; every value is XML-escaped
    /// unless the template says otherwise. Besides its params the template sees the canvas
    /// `width`, `height` and `size` name.
    /// Image params take their value from `images` (name to data URL), empty when absent;
    /// the URLs are put in after Tera has filled the template (see [`images`]).
    pub fn fill(
        &self,
        template: &Template,
        size: &str,
        values: &BTreeMap<String, Value>,
        images: &BTreeMap<String, String>,
    ) -> Result<String, tera::Error> {
        let mut context = tera::Context::new();
        let canvas = template
            .manifest
            .sizes
            .get(size)
            .ok_or_else(|| tera::Error::message(format!("no size {size:?}")))?;
        context.insert("width", &canvas.width);
        context.insert("height", &canvas.height);
        context.insert("size", size);
        let mut urls = Vec::new();
        for (key, value) in values {
            let value = match template.manifest.params.get(key).map(|p| &p.kind) {
                Some(ParamKind::Image { .. }) => match images.get(key).filter(|u| !u.is_empty()) {
                    Some(url) => {
                        urls.push(url.as_str());
                        tera::Value::from(self.markers.marker(urls.len() - 1))
                    }
                    None => tera::Value::from(""),
                },
                _ => value.to_tera(),
            };
            context.insert_value(key.clone(), value);
        }
        let filled = self.tera.render(&tera_name(&template.name), &context)?;
        Ok(self.markers.put_images(filled, &urls))
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
            .filter(|v| !crate::manifest::CANVAS_VARIABLES.contains(v))
            .collect();
        undeclared.sort();
        if !undeclared.is_empty() {
            // Where each is used, and the param it was likely meant to be.
            let source = std::fs::read_to_string(dir.join(format!("{}.svg", template.name)))
                .unwrap_or_default();
            let named: Vec<String> = undeclared
                .iter()
                .map(|name| {
                    let line = functions::first_use(&source, name).map(|l| format!("line {l}"));
                    let like = functions::closest(name, manifest.params.keys().map(String::as_str))
                        .map(|like| format!("did you mean {like}?"));
                    match [line, like].into_iter().flatten().collect::<Vec<_>>() {
                        notes if notes.is_empty() => name.to_string(),
                        notes => format!("{name} ({})", notes.join(", ")),
                    }
                })
                .collect();
            return Err(svg_error(format!(
                "uses {}, not declared in {}.toml",
                named.join(", "),
                template.name
            )));
        }

        for (name, spec) in &manifest.params {
            if let ParamKind::Image {
                fallback: Some(asset),
            } = &spec.kind
                && self.asset_url(asset).is_none()
            {
                return Err(manifest_error(format!(
                    "params.{name}: fallback: no file {asset:?} in the templates' assets/"
                )));
            }
        }
        let values = manifest.example_values().map_err(|problems| {
            let path = dir.join(format!("{}.toml", template.name));
            manifest_error(problems.join(&format!("\n{}: ", path.display())))
        })?;
        // Each size is filled and parsed: a template that lays itself out wrong at one of
        // them fails here, naming the size.
        for (size, canvas) in &manifest.sizes {
            let at_size = |message: String| match manifest.sizes.len() {
                1 => message,
                _ => format!("at size {size}: {message}"),
            };
            let svg = self
                .fill(template, size, &values, &BTreeMap::new())
                .map_err(|e| svg_error(at_size(e.to_string())))?;
            // An error in the template's markup is told at its own line; one only the
            // filled SVG has, with the filled line and the size.
            let tree = raster::parse(&svg, options, limits.max_svg_nodes).map_err(|e| {
                let source = std::fs::read_to_string(dir.join(format!("{}.svg", template.name)));
                match source_error(source.as_deref().unwrap_or("")) {
                    Some(message) => svg_error(message),
                    None => svg_error(at_size(filled_error(&svg, &e))),
                }
            })?;
            let drawn = raster::output_size(&tree, 1.0);
            if drawn != (u64::from(canvas.width), u64::from(canvas.height)) {
                return Err(svg_error(at_size(format!(
                    "renders at {}x{}, but its manifest says {}x{}",
                    drawn.0, drawn.1, canvas.width, canvas.height
                ))));
            }
            if template.background(size).is_some() && !unscaled_view_box(&svg, canvas) {
                return Err(svg_error(at_size(format!(
                    "has a background, so its viewBox must be 0 0 {} {} (or none)",
                    canvas.width, canvas.height
                ))));
            }
        }
        Ok(())
    }
}

/// Reads, parses and compiles one template (its manifest at `toml_path`, its SVG beside it)
/// into `tera`; the checks that need the whole set come after, in [`TemplateSet::check`].
fn load_one(
    toml_path: &Path,
    tera: &mut tera::Tera,
    assets: &Assets,
    options: &usvg::Options,
    limits: &Limits,
) -> Result<Template, LoadError> {
    let io = LoadError::io;
    let name = file_stem(toml_path);
    let svg_path = toml_path.with_extension("svg");
    let toml_text = std::fs::read_to_string(toml_path).map_err(io(toml_path))?;
    let svg_text = std::fs::read_to_string(&svg_path).map_err(io(&svg_path))?;
    let manifest = Manifest::parse(&toml_text, toml_path, limits.default_max_chars)?;
    let svg_error = |message: String| LoadError::Template {
        path: svg_path.clone(),
        message,
    };
    // Layer bindings (and a plain export's literal text) become Tera here.
    let tera_source = crate::layers::bind(&svg_text, &manifest).map_err(|message| match message
        .starts_with("params.")
    {
        true => LoadError::Manifest {
            path: toml_path.to_path_buf(),
            message,
        },
        false => svg_error(message),
    })?;
    if manifest.tera {
        functions::check_calls(&svg_text).map_err(svg_error)?;
    }
    tera.add_raw_template(&tera_name(&name), &tera_source)
        .map_err(|e| svg_error(e.to_string()))?;
    let mut hasher = blake3::Hasher::new();
    for part in [name.as_bytes(), svg_text.as_bytes(), toml_text.as_bytes()] {
        hasher.update(&(part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    // Any template may embed any asset, so every asset is part of every hash.
    hasher.update(assets.hash().as_bytes());
    let mut backgrounds = BTreeMap::new();
    for (size, canvas) in &manifest.sizes {
        let (field, asset) = match (&canvas.background, &manifest.background) {
            (Some(asset), _) => (format!("sizes.{size}.background"), asset),
            (None, Some(asset)) => ("background".to_string(), asset),
            (None, None) => continue,
        };
        let fail = |message: String| LoadError::Manifest {
            path: toml_path.to_path_buf(),
            message: format!("{field}: {message}"),
        };
        let url = assets
            .url(asset)
            .ok_or_else(|| fail(format!("no file {asset:?} in the templates' assets/")))?;
        let background = Background::new(url, canvas.width, canvas.height, options)
            .map_err(|e| fail(e.to_string()))?;
        backgrounds.insert(size.clone(), Arc::new(background));
    }
    Ok(Template {
        name,
        manifest,
        content_hash: hasher.finalize(),
        backgrounds,
    })
}

/// Whether the root `<svg>` has no `viewBox`, or `0 0 width height`: user units are pixels,
/// so a background drawn over the canvas lines up with what the template draws.
fn unscaled_view_box(svg: &str, canvas: &Size) -> bool {
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
    numbers == [0.0, 0.0, f64::from(canvas.width), f64::from(canvas.height)]
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
