//! The filters and functions templates may call beyond Tera's own: `text_box`, `fit_text` and
//! `draw` (text in a box, see [`crate::text`]), `first_grapheme` and `initials` (badges), `fixed`
//! (numbers), `asset` (files from `assets/`) and `qr` (QR codes).
//!
//! Their arguments are strict: [`check_calls`] reads a template's source at load and refuses
//! an argument a helper does not take, naming it, its line, and the argument it looks like.

mod args;
mod text_box;

use std::sync::Arc;

use tera::{Kwargs, State, TeraResult, Value};
use unicode_segmentation::UnicodeSegmentation;

use crate::assets::Assets;
use crate::text::TextMeasurer;
use args::{FIT_ARGS, known};
use text_box::{draw, fit_request, text_box};

pub use args::{check_calls, closest, first_use};
pub use text_box::{TextBox, recording_boxes};

/// Most bytes `qr` encodes (a version 40 code at the lowest error correction holds 2953).
const MAX_QR_BYTES: usize = 1000;

/// Registers every helper on `tera`.
pub fn register(tera: &mut tera::Tera, assets: Arc<Assets>, measurer: Arc<TextMeasurer>) {
    tera.register_filter("fixed", fixed);
    tera.register_filter("first_grapheme", first_grapheme);
    tera.register_filter("initials", initials);
    tera.register_filter("draw", draw);
    tera.register_function("qr", qr);
    tera.register_function("asset", move |kwargs: Kwargs, _: &State| {
        known("asset", &kwargs, &["name"])?;
        let name: String = kwargs.must_get("name")?;
        assets.url(&name).map(str::to_string).ok_or_else(|| {
            tera::Error::message(format!("asset: no file {name:?} in the templates' assets/"))
        })
    });
    let fit_measurer = measurer.clone();
    tera.register_function("fit_text", move |kwargs: Kwargs, _: &State| {
        known("fit_text", &kwargs, FIT_ARGS)?;
        let request = fit_request("fit_text", &kwargs)?;
        let fitted = fit_measurer.fit(&request.borrowed());
        Ok(Value::from_serializable(&fitted))
    });
    tera.register_function("text_box", move |kwargs: Kwargs, _: &State| {
        text_box(&measurer, &kwargs)
    });
}

/// `{{ price | fixed(digits=2) }}`: a number with exactly `digits` decimals (0 to 6).
fn fixed(value: f64, kwargs: Kwargs, _: &State) -> TeraResult<String> {
    known("fixed", &kwargs, &["digits"])?;
    let digits = kwargs.get::<usize>("digits")?.unwrap_or(2).min(6);
    Ok(format!("{value:.digits$}"))
}

/// `{{ author | first_grapheme }}`: the first character as a reader sees it (a whole flag or
/// emoji sequence), for a badge.
fn first_grapheme(value: &str, kwargs: Kwargs, _: &State) -> TeraResult<String> {
    known("first_grapheme", &kwargs, &[])?;
    Ok(value
        .trim_start()
        .graphemes(true)
        .next()
        .unwrap_or("")
        .to_string())
}

/// `{{ name | initials(count=2) }}`: the first character of each of the first `count` words.
fn initials(value: &str, kwargs: Kwargs, _: &State) -> TeraResult<String> {
    known("initials", &kwargs, &["count"])?;
    let count = kwargs.get::<usize>("count")?.unwrap_or(2).clamp(1, 10);
    Ok(value
        .split_whitespace()
        .take(count)
        .filter_map(|word| word.graphemes(true).next())
        .collect())
}

thread_local! {
    /// Why a function call on this thread failed on a value it was given (see
    /// [`value_error`]); Tera keeps only an error's text, so the kind travels here.
    static VALUE_ERROR: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Fails a call for a value it cannot draw (a text too long for a QR code): the request's
/// mistake, answered with a 400, unlike an error in the template itself.
fn value_error(message: String) -> tera::Error {
    VALUE_ERROR.with(|e| *e.borrow_mut() = Some(message.clone()));
    tera::Error::message(message)
}

/// Why the last fill on this thread failed on a value, if it did; clears it.
pub(crate) fn take_value_error() -> Option<String> {
    VALUE_ERROR.with(|e| e.borrow_mut().take())
}

/// `qr(text=..)`: a QR code (medium error correction) as `{path, size}`: `path` is SVG path
/// data drawing the dark modules on a `size` x `size` grid of 1-unit squares, without the
/// quiet zone; scale it with a transform and leave a 4-module margin around it.
fn qr(kwargs: Kwargs, _: &State) -> TeraResult<Value> {
    known("qr", &kwargs, &["text"])?;
    let text: String = kwargs.must_get("text")?;
    if text.len() > MAX_QR_BYTES {
        return Err(value_error(format!(
            "a value is too long for the card's QR code: at most {MAX_QR_BYTES} bytes as UTF-8, \
             got {}",
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
    Ok(Value::from_serializable(
        &serde_json::json!({ "path": path, "size": size }),
    ))
}
