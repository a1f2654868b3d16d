//! Shaping with harfrust on the shared font database's faces, as usvg shapes: advances in em
//! and the clusters a face has no glyph for. Per-face shaping data, and a face's plans for
//! each script and direction it shapes, are built once and kept.

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
    /// Plans made so far (by script, direction, language and instance): making one took as
    /// long as shaping a short text with it.
    plans: Mutex<Vec<Arc<harfrust::ShapePlan>>>,
}

/// Most plans kept per face (scripts and weights shaped); beyond that, plans are made per
/// call.
const PLANS_PER_FACE: usize = 64;

impl FaceShaper {
    /// The plan for shaping `buffer` (its properties set) with `hb` at `instance`.
    fn plan(
        &self,
        hb: &harfrust::Shaper,
        instance: Option<&harfrust::ShaperInstance>,
        buffer: &harfrust::UnicodeBuffer,
    ) -> Arc<harfrust::ShapePlan> {
        let direction = buffer.direction();
        // The buffer reports a script it has none of as UNKNOWN; its plan is made with none.
        let script = Some(buffer.script()).filter(|&s| s != harfrust::script::UNKNOWN);
        let language = buffer.language();
        let key = harfrust::ShapePlanKey::new(script, direction)
            .language(language.as_ref())
            .instance(instance);
        let mut plans = self.plans.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(plan) = plans.iter().find(|plan| key.matches(plan)) {
            return plan.clone();
        }
        let plan = Arc::new(harfrust::ShapePlan::new(
            hb,
            direction,
            script,
            language.as_ref(),
            &[],
        ));
        if plans.len() < PLANS_PER_FACE {
            plans.push(plan.clone());
        }
        plan
    }
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
        let plan = shaper.plan(&hb, instance.as_ref(), &buffer);
        let output = hb.shape(buffer, harfrust::ShapeOptions::new().plan(Some(&plan)));
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
            plans: Mutex::default(),
        });
        faces.insert(id, shaper.clone());
        Some(shaper)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `text`'s advance with `face` shaped as harfrust shapes it when given no plan.
    fn unplanned(db: &Database, face: ID, text: &str) -> f32 {
        let (data, index) = db
            .with_face_data(face, |data, index| (data.to_vec(), index))
            .unwrap();
        let font = harfrust::FontRef::from_index(&data, index).unwrap();
        let shaper_data = harfrust::ShaperData::new(&font);
        let hb = shaper_data.shaper(&font).build();
        let mut buffer = harfrust::UnicodeBuffer::new();
        buffer.push_str(text);
        buffer.guess_segment_properties();
        let output = hb.shape(buffer, harfrust::ShapeOptions::new());
        let upem = hb.units_per_em() as f32;
        let advances = output.glyph_positions().iter();
        advances.fold(0.0, |width, p| width + p.x_advance as f32 / upem)
    }

    #[test]
    fn kept_plans_shape_as_a_plan_made_per_call() {
        let fonts = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fonts");
        let db = crate::fonts::load(&[fonts], false).unwrap();
        let shapers = Shapers::new(db.clone());
        let face = |family: &str| {
            let query = fontdb::Query {
                families: &[fontdb::Family::Name(family)],
                ..Default::default()
            };
            db.query(&query).unwrap()
        };
        let cases = [
            ("Inter", "Office affine Tokyo, 1/2 AV"),
            ("Inter", "$129.90 - 20%"),
            ("Noto Sans Arabic", "مرحبا بالعالم"),
            ("Noto Sans Hebrew", "שלום עולם"),
            ("Noto Sans CJK JP", "日本語のテキスト"),
        ];
        // Twice over: the first call makes each plan, the second takes the kept one.
        for _ in 0..2 {
            for (family, text) in cases {
                let id = face(family);
                let (width, missing) = shapers.shape(id, text, 400);
                assert!(missing.is_empty(), "{family} {text}: {missing:?}");
                let expected = unplanned(&db, id, text);
                assert!(
                    width > 0.0 && width == expected,
                    "{family} {text}: {width} {expected}"
                );
            }
        }
        let kept = |family| {
            shapers
                .face_shaper(face(family))
                .unwrap()
                .plans
                .lock()
                .unwrap()
                .len()
        };
        assert_eq!(
            kept("Inter"),
            2,
            "Latin, and digits with no script of their own"
        );
    }
}
