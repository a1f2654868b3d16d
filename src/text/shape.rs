//! Shaping with harfrust on the shared font database's faces, as usvg shapes: advances in em
//! and the clusters a face has no glyph for. Per-face shaping data is built once and kept.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use fontdb::{Database, ID};

/// Shaping data for one face, kept alive with its font bytes.
struct FaceShaper {
    data: Arc<dyn AsRef<[u8]> + Send + Sync>,
    index: u32,
    shaper_data: harfrust::ShaperData,
    /// Has variation axes: shaped at the requested weight.
    variable: bool,
}

/// Shapes text with any face of one font database.
pub(super) struct Shapers {
    db: Arc<Database>,
    faces: Mutex<HashMap<ID, Arc<FaceShaper>>>,
}

impl Shapers {
    /// Shapers for the faces of `db`, built as they are first used.
    pub(super) fn new(db: Arc<Database>) -> Shapers {
        Shapers {
            db,
            faces: Mutex::new(HashMap::new()),
        }
    }

    /// Shapes `text` with one face (a variable one at `weight` on its `wght` axis): the
    /// advance (em) of found glyphs, and the clusters whose glyph is missing (glyph id 0).
    pub(super) fn shape(&self, face: ID, text: &str, weight: u16) -> (f32, Vec<String>) {
        let Some(shaper) = self.face_shaper(face) else {
            return (0.0, Vec::new());
        };
        let Ok(font) = harfrust::FontRef::from_index((*shaper.data).as_ref(), shaper.index) else {
            return (0.0, Vec::new());
        };
        let instance = shaper.variable.then(|| {
            let wght = harfrust::Variation {
                tag: harfrust::Tag::new(b"wght"),
                value: f32::from(weight),
            };
            harfrust::ShaperInstance::from_variations(&font, [wght])
        });
        let hb = shaper
            .shaper_data
            .shaper(&font)
            .instance(instance.as_ref())
            .build();
        let mut buffer = harfrust::UnicodeBuffer::new();
        buffer.push_str(text);
        buffer.guess_segment_properties();
        let output = hb.shape(buffer, harfrust::ShapeOptions::new());
        let upem = hb.units_per_em().max(1) as f32;
        let infos = output.glyph_infos();
        let mut width = 0.0;
        let mut missing = Vec::new();
        let mut clusters: Vec<usize> = infos.iter().map(|i| i.cluster as usize).collect();
        clusters.sort_unstable();
        clusters.dedup();
        for (info, pos) in infos.iter().zip(output.glyph_positions()) {
            if info.glyph_id == 0 {
                let start = info.cluster as usize;
                let end = clusters
                    .iter()
                    .find(|&&c| c > start)
                    .copied()
                    .unwrap_or(text.len());
                missing.push(text[start..end].to_string());
            } else {
                width += pos.x_advance as f32 / upem;
            }
        }
        missing.dedup();
        (width, missing)
    }

    fn face_shaper(&self, id: ID) -> Option<Arc<FaceShaper>> {
        let mut faces = self.faces.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = faces.get(&id) {
            return Some(found.clone());
        }
        let face = self.db.face(id)?;
        let data = match &face.source {
            fontdb::Source::Binary(data) => data.clone(),
            _ => return None,
        };
        let font = harfrust::FontRef::from_index((*data).as_ref(), face.index).ok()?;
        let shaper_data = harfrust::ShaperData::new(&font);
        let variable =
            ttf_parser::Face::parse((*data).as_ref(), face.index).is_ok_and(|f| f.is_variable());
        let shaper = Arc::new(FaceShaper {
            data: data.clone(),
            index: face.index,
            shaper_data,
            variable,
        });
        faces.insert(id, shaper.clone());
        Some(shaper)
    }
}
