//! PDF output: filled SVG drawn as vector graphics by krilla-svg, a page per card, fonts
//! embedded and subset with a ToUnicode map (text stays selectable and searchable), colour
//! emoji kept in colour.
//!
//! krilla-svg draws usvg 0.47's tree while the rasteriser uses a newer usvg, so the SVG is
//! parsed again here with that version, over a mirror of the shared font database: the same
//! font bytes (shared, not copied), the same faces in the same order, the same generic
//! families and the same fallback choice ([`Fallback`]), so a PDF uses the faces the PNG
//! uses. As in [`crate::raster`], nothing is read from files or the network.

use std::collections::HashMap;
use std::sync::Arc;

use krilla::geom::Size;
use krilla::page::PageSettings;
use krilla_svg::{SurfaceExt, SvgSettings};
use usvg_pdf::fontdb as mirror_db;

use crate::fonts::Fallback;

/// CSS pixels to PDF points: a template's 96-per-inch units printed at their size.
const POINTS_PER_PIXEL: f32 = 0.75;

/// Why a PDF could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// The filled SVG did not parse.
    #[error("svg parse failed: {0}")]
    Parse(String),
    /// krilla could not draw or write the document.
    #[error("pdf writing failed: {0}")]
    Write(String),
}

/// The usvg 0.47 options PDFs are parsed with, over the mirrored fonts.
pub struct PdfFonts {
    options: usvg_pdf::Options<'static>,
}

impl PdfFonts {
    /// Mirrors `shared` (faces in its order, sources shared) and its fallback choice.
    pub fn new(shared: &fontdb::Database, fallback: Arc<Fallback>) -> PdfFonts {
        // Each source once, in the shared order; the same face is the same source and index
        // in both databases.
        let mut mirror = mirror_db::Database::new();
        let mut loaded = std::collections::HashSet::new();
        let mut by_origin: HashMap<(String, u32), fontdb::ID> = HashMap::new();
        for face in shared.faces() {
            let (key, source) = mirror_source(&face.source);
            if loaded.insert(key.clone()) {
                mirror.load_font_source(source);
            }
            by_origin.insert((key, face.index), face.id);
        }
        let mut to_shared = HashMap::new();
        let mut from_shared = HashMap::new();
        for face in mirror.faces() {
            let key = (source_key(&face.source), face.index);
            if let Some(&id) = by_origin.get(&key) {
                to_shared.insert(face.id, id);
                from_shared.insert(id, face.id);
            }
        }
        let generic = |family| shared.family_name(&family).to_string();
        mirror.set_sans_serif_family(generic(fontdb::Family::SansSerif));
        mirror.set_serif_family(generic(fontdb::Family::Serif));
        mirror.set_monospace_family(generic(fontdb::Family::Monospace));
        mirror.set_cursive_family(generic(fontdb::Family::Cursive));
        mirror.set_fantasy_family(generic(fontdb::Family::Fantasy));
        let select_fallback =
            move |c: char, tried: &[mirror_db::ID], _: &mut Arc<mirror_db::Database>| {
                let tried: Vec<fontdb::ID> = tried
                    .iter()
                    .filter_map(|id| to_shared.get(id))
                    .copied()
                    .collect();
                let chosen = fallback.select(c, &tried)?;
                from_shared.get(&chosen).copied()
            };
        let options = usvg_pdf::Options {
            resources_dir: None,
            font_family: crate::fonts::DEFAULT_FAMILY.to_string(),
            fontdb: Arc::new(mirror),
            font_resolver: usvg_pdf::FontResolver {
                select_font: usvg_pdf::FontResolver::default_font_selector(),
                select_fallback: Box::new(select_fallback),
            },
            image_href_resolver: usvg_pdf::ImageHrefResolver {
                resolve_data: usvg_pdf::ImageHrefResolver::default_data_resolver(),
                resolve_string: Box::new(|_href, _opts| None),
            },
            ..usvg_pdf::Options::default()
        };
        PdfFonts { options }
    }

    /// A PDF with a page per `(svg, scale)`, each page the SVG's size times its scale, in
    /// points.
    pub fn write<'a>(
        &self,
        pages: impl IntoIterator<Item = (&'a str, f32)>,
        max_nodes: u32,
    ) -> Result<Vec<u8>, PdfError> {
        let mut document = krilla::Document::new();
        for (svg, scale) in pages {
            let tree = self.parse(svg, max_nodes)?;
            let side = |v: f32| v * POINTS_PER_PIXEL * scale;
            let size = Size::from_wh(side(tree.size().width()), side(tree.size().height()))
                .ok_or_else(|| PdfError::Write("empty page".into()))?;
            let mut page = document.start_page_with(PageSettings::new(size));
            let mut surface = page.surface();
            let drawn = surface.draw_svg(&tree, size, SvgSettings::default());
            surface.finish();
            page.finish();
            drawn.ok_or_else(|| PdfError::Write("the SVG could not be drawn".into()))?;
        }
        document
            .finish()
            .map_err(|e| PdfError::Write(format!("{e:?}")))
    }

    fn parse(&self, svg: &str, max_nodes: u32) -> Result<usvg_pdf::Tree, PdfError> {
        let xml_options = usvg_pdf::roxmltree::ParsingOptions {
            allow_dtd: false,
            nodes_limit: max_nodes,
            ..usvg_pdf::roxmltree::ParsingOptions::default()
        };
        let doc = usvg_pdf::roxmltree::Document::parse_with_options(svg, xml_options)
            .map_err(|e| PdfError::Parse(e.to_string()))?;
        usvg_pdf::Tree::from_xmltree(&doc, &self.options)
            .map_err(|e| PdfError::Parse(e.to_string()))
    }
}

/// A font source as the mirror loads it, with a key naming it (the same bytes or file).
fn mirror_source(source: &fontdb::Source) -> (String, mirror_db::Source) {
    match source {
        fontdb::Source::Binary(data) => (
            format!("{:p}", Arc::as_ptr(data)),
            mirror_db::Source::Binary(data.clone()),
        ),
        fontdb::Source::File(path) | fontdb::Source::SharedFile(path, _) => (
            path.display().to_string(),
            mirror_db::Source::File(path.clone()),
        ),
    }
}

/// The key [`mirror_source`] gives the source the mirror loaded.
fn source_key(source: &mirror_db::Source) -> String {
    match source {
        mirror_db::Source::Binary(data) => format!("{:p}", Arc::as_ptr(data)),
        mirror_db::Source::File(path) | mirror_db::Source::SharedFile(path, _) => {
            path.display().to_string()
        }
    }
}
