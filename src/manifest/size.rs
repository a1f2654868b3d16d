//! A template's canvas sizes: one (`width`, `height`) or several named ones
//! (`[sizes.square]`), one of them the default.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The query key that picks one of a template's sizes.
pub const SIZE_KEY: &str = "size";

/// The name of the one size of a manifest that declares no `[sizes]`.
pub const DEFAULT_SIZE: &str = "default";

/// Largest canvas side a manifest may declare, in pixels.
const MAX_CANVAS_SIDE: u32 = 10_000;

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
        scaled_canvas((self.width, self.height), scale)
    }
}

/// A `(width, height)` canvas's output size in whole pixels at `scale`.
pub fn scaled_canvas((width, height): (u32, u32), scale: f32) -> (u64, u64) {
    let side = |v: u32| (v as f32 * scale).ceil() as u64;
    (side(width), side(height))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSize {
    width: u32,
    height: u32,
    background: Option<String>,
}

/// The sizes a manifest declares and the default's name: `width` and `height` alone make
/// one size called [`DEFAULT_SIZE`]; `[sizes.NAME]` tables make several, and then
/// `default_size` names the default (needed only when there are two or more).
pub(super) fn check_sizes(
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
