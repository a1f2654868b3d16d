//! The engine: templates, fonts and limits, and the one path from a request to image bytes.
//!
//! The server, the CLI, the tests and the benches all drive this type. It knows nothing of
//! HTTP or caching: [`Engine::prepare`] checks a request into a [`Job`] with its cache key
//! without rendering, [`Engine::render`] does the CPU work (call it off async threads):
//! fill (Tera) -> parse (usvg) -> rasterize (resvg) -> encode.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use prometheus_client::metrics::counter::Counter;

use crate::config::Limits;
use crate::encode;
use crate::error::{LoadError, RequestError, TooManyPixels};
use crate::format::Format;
use crate::functions::TextBox;
use crate::job::{Image, Job};
use crate::params::Params;
use crate::raster::{self, RasterError};
use crate::template::{Template, TemplateSet};
use crate::text::{self, TextMeasurer};

/// Where the engine finds its templates and fonts, and the limits it enforces.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Directory of `NAME.svg` + `NAME.toml` pairs.
    pub templates_dir: PathBuf,
    /// Directories of font files, each searched recursively, loaded in order (the order is
    /// the fallback order for characters a face lacks).
    pub font_dirs: Vec<PathBuf>,
    /// Also load the machine's fonts (after the bundled ones). Default: off.
    pub system_fonts: bool,
    /// Request and output limits.
    pub limits: Limits,
}

impl EngineConfig {
    /// The bundled `templates/` and `fonts/` below `root`, with default limits.
    pub fn bundled(root: &Path) -> EngineConfig {
        EngineConfig {
            templates_dir: root.join("templates"),
            font_dirs: vec![root.join("fonts")],
            system_fonts: false,
            limits: Limits::default(),
        }
    }
}

/// Templates, fonts and limits, shared by every render.
pub struct Engine {
    config: EngineConfig,
    options: usvg::Options<'static>,
    fallback: Arc<crate::fonts::Fallback>,
    measurer: Arc<TextMeasurer>,
    /// The fonts PDFs are drawn with, mirrored from `options` at the first PDF.
    pdf: std::sync::OnceLock<crate::pdf::PdfFonts>,
    /// Leading elements of filled templates, drawn once (see [`crate::found_backgrounds`]).
    found: crate::found_backgrounds::FoundBackgrounds,
    /// Pixmaps and buffers renders pass on to the next.
    scratch: crate::scratch::Scratch,
    set: RwLock<Arc<TemplateSet>>,
    renders: AtomicU64,
    missing_glyphs: Counter,
}

impl Engine {
    /// Loads fonts and templates; fails naming every problem's file.
    pub fn new(config: EngineConfig) -> Result<Engine, LoadError> {
        let (engine, mut problems) = Engine::new_lenient(config)?;
        match problems.len() {
            0 => Ok(engine),
            1 => Err(problems.remove(0)),
            _ => Err(LoadError::Several(problems)),
        }
    }

    /// Loads fonts and every template that passes its checks, with the problems of those
    /// that do not (left out). Fails only on fonts, assets or an unreadable directory.
    pub fn new_lenient(config: EngineConfig) -> Result<(Engine, Vec<LoadError>), LoadError> {
        let fontdb = crate::fonts::load(&config.font_dirs, config.system_fonts)?;
        let fallback = Arc::new(crate::fonts::Fallback::new(fontdb.clone()));
        let measurer = Arc::new(TextMeasurer::new(fontdb.clone(), fallback.clone()));
        let options = raster::usvg_options(fontdb, fallback.clone());
        let (set, problems) =
            TemplateSet::load_lenient(&config.templates_dir, &options, &measurer, &config.limits)?;
        let engine = Engine {
            config,
            options,
            fallback,
            measurer,
            pdf: std::sync::OnceLock::new(),
            found: Default::default(),
            scratch: Default::default(),
            set: RwLock::new(Arc::new(set)),
            renders: AtomicU64::new(0),
            missing_glyphs: Counter::default(),
        };
        Ok((engine, problems))
    }

    /// The directories and limits this engine was loaded with.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Takes over `old`'s counters, so that an engine reloaded in its place keeps counting
    /// into the same metrics.
    pub fn continue_counting_from(&mut self, old: &Engine) {
        self.missing_glyphs = old.missing_glyphs.clone();
        self.renders = AtomicU64::new(old.render_count());
        self.found.continue_counting_from(&old.found);
    }

    /// Reloads the templates from disk. On error the old set stays in service.
    pub fn reload(&self) -> Result<(), LoadError> {
        let set = TemplateSet::load(
            &self.config.templates_dir,
            &self.options,
            &self.measurer,
            &self.config.limits,
        )?;
        *self.set.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(set);
        Ok(())
    }

    /// The template set in service now.
    pub fn templates(&self) -> Arc<TemplateSet> {
        self.set.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The directory the templates are loaded from.
    pub fn templates_dir(&self) -> &std::path::Path {
        &self.config.templates_dir
    }

    /// The limits this engine enforces.
    pub fn limits(&self) -> &Limits {
        &self.config.limits
    }

    /// The shared usvg options (fonts, resolver).
    pub fn usvg_options(&self) -> &usvg::Options<'static> {
        &self.options
    }

    /// The text measurer behind `fit_text`, sharing the render fonts.
    pub fn text_measurer(&self) -> &TextMeasurer {
        &self.measurer
    }

    /// How many images this engine has rendered (cache hits never get here).
    pub fn render_count(&self) -> u64 {
        self.renders.load(Ordering::Relaxed)
    }

    /// How renders found their leading elements already drawn (see
    /// [`crate::found_backgrounds`]).
    pub fn found_backgrounds(&self) -> crate::cache::CacheStats {
        self.found.stats()
    }

    /// The found backgrounds' live counters (shared with `/metrics`).
    pub fn found_background_counters(&self) -> crate::cache::CacheCounters {
        self.found.counters()
    }

    /// Renders that drew a missing-glyph box (shared with `/metrics`).
    pub fn missing_glyphs(&self) -> Counter {
        self.missing_glyphs.clone()
    }

    /// Each template's text that no loaded font can draw, filled with its examples: the
    /// missing characters per template name, for `vellum templates --check`.
    pub fn glyph_report(&self) -> Vec<(String, Result<Vec<String>, RequestError>)> {
        let set = self.templates();
        set.iter()
            .map(|template| {
                let checked = template
                    .manifest
                    .example_values()
                    .map_err(|problems| RequestError::BadParam(problems.join("; ")))
                    .and_then(|values| {
                        let pairs = values
                            .iter()
                            .filter(|(name, _)| !template.is_image_param(name))
                            .map(|(k, v)| (k.clone(), v.canonical()))
                            .collect();
                        self.prepare_pairs(&template.name, Format::Png, pairs)
                    })
                    .and_then(|job| {
                        let tree = self
                            .parse_drawn(&self.fill(&job)?)
                            .map_err(|e| internal(&template.name, "parse", e))?;
                        Ok(raster::missing_glyphs(&tree))
                    });
                (template.name.clone(), checked)
            })
            .collect()
    }

    /// Parses filled SVG as renders draw it: text that needs several fonts placed as runs
    /// first (which usvg then draws right), within the node limit.
    pub fn parse_drawn(&self, svg: &str) -> Result<usvg::Tree, RasterError> {
        let placed = text::svg::place_runs(svg, &self.measurer);
        let svg = placed.as_deref().unwrap_or(svg);
        raster::parse(svg, &self.options, self.limits().max_svg_nodes)
    }

    /// Checks a URL query against the template's manifest and computes the cache key.
    pub fn prepare(&self, name: &str, format: Format, query: &str) -> Result<Job, RequestError> {
        let set = self.templates();
        let template = lookup(&set, name)?;
        let params = Params::from_query(&template.manifest, format, query, self.limits())?;
        self.job(set, template, params, format)
    }

    /// Checks `key=value` pairs (CLI arguments, data rows) like [`Engine::prepare`].
    pub fn prepare_pairs(
        &self,
        name: &str,
        format: Format,
        pairs: Vec<(String, String)>,
    ) -> Result<Job, RequestError> {
        let set = self.templates();
        let template = lookup(&set, name)?;
        let params = Params::from_pairs(&template.manifest, format, pairs, self.limits())?;
        self.job(set, template, params, format)
    }

    fn job(
        &self,
        set: Arc<TemplateSet>,
        template: Arc<Template>,
        params: Params,
        format: Format,
    ) -> Result<Job, RequestError> {
        if format.is_raster() {
            let (width, height) = params.scaled_size();
            let limit = self.limits().max_pixels;
            if width * height > limit {
                return Err(TooManyPixels {
                    width,
                    height,
                    limit,
                }
                .into());
            }
        }
        Ok(Job::new(set, template, params, format))
    }

    /// Fills the job's template: the SVG text, before parsing.
    pub fn fill(&self, job: &Job) -> Result<String, RequestError> {
        job.fill()
    }

    /// The box of every text `text_box` and `draw` drew in the job's card (the studio's
    /// outline view).
    pub fn text_boxes(&self, job: &Job) -> Result<Vec<TextBox>, RequestError> {
        let (filled, boxes) = crate::functions::recording_boxes(|| self.fill(job));
        filled.map(|_| boxes)
    }

    /// Renders a checked job to image bytes. CPU-bound: keep it off async threads.
    pub fn render(&self, job: &Job) -> Result<Image, RequestError> {
        let svg = self.fill(job)?;
        self.renders.fetch_add(1, Ordering::Relaxed);
        let template = job.template();
        let background = job.background();
        let bytes: Bytes = if job.format() == Format::Svg {
            match background {
                Some(background) => background.under_svg(&svg).into(),
                None => svg.into(),
            }
        } else if job.format() == Format::Pdf {
            let page = self.pdf_page_of(job, svg);
            self.pdf_document(&[(page, job.params().scale())])?.into()
        } else {
            let name = &template.name;
            let (scale, level) = (
                job.params().scale(),
                job.params().encode_options().png_compression,
            );
            let pixels = {
                let (width, height) = job.output_size();
                usize::try_from(width * height * 4).unwrap_or(usize::MAX)
            };
            // What is drawn first, already drawn: the template's background (at scale 1 as
            // loaded, at other scales once two cards asked for it), or else the filled SVG's
            // leading elements seen before, and then only the rest of the SVG is drawn.
            let mut rest = None;
            let mut under = match background {
                Some(background) if scale == 1.0 => Some(background.clone()),
                Some(background) => Some(
                    self.found
                        .at_scale(background, &svg, scale, level, pixels)
                        .unwrap_or_else(|| background.clone()),
                ),
                None => self
                    .found
                    .find(&svg, scale, level, pixels, |under| {
                        self.parse_drawn(under).ok()
                    })
                    .map(|(over, found)| {
                        rest = Some(over);
                        found
                    }),
            };
            let parse = |svg: &str| {
                self.parse_drawn(svg)
                    .map_err(|e| internal(name, "parse", e))
            };
            let mut tree = parse(rest.as_deref().unwrap_or(&svg))?;
            // A found background under a rest that would not give the pixels of one pass (see
            // `FoundBackgrounds::fits_under`) is not used.
            if let (Some(_), Some(found)) = (&rest, &under)
                && !self.found.fits_under(found, &tree, scale)
            {
                tree = parse(&svg)?;
                under = None;
            }
            job.warn_missing_glyphs(&tree, &self.missing_glyphs);
            let (width, height) = raster::output_size(&tree, scale);
            let reuse = self.scratch.canvas(width as u32, height as u32);
            let canvas = raster::rasterize_reusing(
                &tree,
                scale,
                self.limits().max_pixels,
                under.as_ref().map(|b| b.under()),
                reuse,
            )
            .map_err(|e| match e {
                RasterError::TooManyPixels(too_many) => RequestError::TooManyPixels(too_many),
                other => internal(name, "rasterize", other),
            })?;
            let mut buffers = self.scratch.buffers();
            let over = under.as_ref().map(|under| under.over(&canvas));
            let options = job.params().encode_options();
            let file =
                encode::encode_with(&canvas.pixmap, job.format(), options, over, &mut buffers)
                    .map_err(|e| internal(name, "encode", e))?;
            // An exact-size copy for the cache; the working memory goes to the next render.
            let bytes = Bytes::copy_from_slice(file);
            if let Some(under) = &under {
                self.found.reweigh(under, scale);
            }
            self.scratch.keep(canvas, buffers);
            bytes
        };
        Ok(Image {
            bytes,
            format: job.format(),
            fallback_used: job.fallback_used(),
        })
    }
}

impl Engine {
    /// A job's page for [`Engine::pdf_document`]: its filled SVG (over its background) with
    /// text placed as for a raster render.
    pub fn pdf_page(&self, job: &Job) -> Result<String, RequestError> {
        let svg = self.fill(job)?;
        self.renders.fetch_add(1, Ordering::Relaxed);
        Ok(self.pdf_page_of(job, svg))
    }

    fn pdf_page_of(&self, job: &Job, svg: String) -> String {
        let svg = match job.background() {
            Some(background) => background.under_svg(&svg),
            None => svg,
        };
        text::svg::place_runs(&svg, &self.measurer).unwrap_or(svg)
    }

    /// A PDF with a page per `(page, scale)`, in order; the fonts for PDFs are set up at the
    /// first one.
    pub fn pdf_document(&self, pages: &[(String, f32)]) -> Result<Vec<u8>, RequestError> {
        let fonts = self
            .pdf
            .get_or_init(|| crate::pdf::PdfFonts::new(&self.options.fontdb, self.fallback.clone()));
        let pages = pages.iter().map(|(svg, scale)| (svg.as_str(), *scale));
        fonts
            .write(pages, self.limits().max_svg_nodes)
            .map_err(|e| RequestError::Internal(format!("pdf: {e}")))
    }
}

fn lookup(set: &TemplateSet, name: &str) -> Result<Arc<Template>, RequestError> {
    set.get(name)
        .cloned()
        .ok_or_else(|| RequestError::UnknownTemplate(name.to_string()))
}

fn internal(template: &str, stage: &str, error: impl std::fmt::Display) -> RequestError {
    RequestError::Internal(format!("{template}: {stage}: {error}"))
}
