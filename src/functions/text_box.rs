//! Text in a box as a whole `<text>` element: `text_box(...)` fits and draws in one call,
//! `{{ t | draw(...) }}` draws what `fit_text` returned. Every value is escaped here, so a
//! template needs neither a loop nor `| safe`.

use std::cell::RefCell;

use tera::{Kwargs, State, TeraResult, Value};

use super::args::{DRAW_ARGS, FIT_ARGS, known};
use crate::fonts::DEFAULT_FAMILY;
use crate::text::svg::escape_into;
use crate::text::{Direction, FitRequest, Fitted, TextMeasurer};

/// Most lines a fitted text lays out.
const MAX_FIT_LINES: usize = 50;

/// The box a fitted text was drawn in, in template units, for the studio's outline view.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TextBox {
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Width the text was fitted to.
    pub width: f64,
    /// The box's height, or the text block's when the box gives none.
    pub height: f64,
    /// The font size the text was drawn at (smaller than asked when it had to shrink).
    pub font_size: f32,
    /// Lines drawn.
    pub lines: usize,
    /// Whether the text was cut with an ellipsis.
    pub truncated: bool,
}

thread_local! {
    /// Boxes drawn on this thread while [`recording_boxes`] runs; `None` otherwise.
    static BOXES: RefCell<Option<Vec<TextBox>>> = const { RefCell::new(None) };
}

/// Runs `fill` (which fills a template on this thread) and returns what it returned with
/// the box of every text `text_box` and `draw` drew, in order.
pub fn recording_boxes<T>(fill: impl FnOnce() -> T) -> (T, Vec<TextBox>) {
    BOXES.with(|boxes| *boxes.borrow_mut() = Some(Vec::new()));
    let filled = fill();
    let boxes = BOXES.with(|boxes| boxes.borrow_mut().take().unwrap_or_default());
    (filled, boxes)
}

/// A `FitRequest` that owns its strings, so it can outlive the arguments it came from.
pub struct OwnedFit {
    text: String,
    family: String,
    request: FitRequest<'static>,
}

impl OwnedFit {
    pub fn borrowed(&self) -> FitRequest<'_> {
        FitRequest {
            text: &self.text,
            family: &self.family,
            ..self.request.clone()
        }
    }
}

/// The fitting request in a helper's arguments, and the preferred font size.
pub fn fit_request(helper: &str, kwargs: &Kwargs) -> TeraResult<OwnedFit> {
    let fail = |m: &str| tera::Error::message(format!("{helper}: {m}"));
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
        .unwrap_or_else(|| DEFAULT_FAMILY.to_string());
    let balance: bool = kwargs.get("balance")?.unwrap_or(false);
    let letter_spacing: f64 = kwargs.get("letter_spacing")?.unwrap_or(0.0);
    let direction = match kwargs.get::<String>("direction")?.as_deref() {
        None | Some("auto") => Direction::Auto,
        Some("ltr") => Direction::Ltr,
        Some("rtl") => Direction::Rtl,
        Some(other) => {
            return Err(fail(&format!(
                "direction: expected auto, ltr or rtl, got {other:?}"
            )));
        }
    };
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
        text: "",
        width: width as f32,
        max_lines: max_lines.unwrap_or(MAX_FIT_LINES).clamp(1, MAX_FIT_LINES),
        max_height: max_height.map(|h| h as f32),
        font_size: font_size as f32,
        min_font_size: min_font_size as f32,
        family: "",
        weight,
        line_height: line_height as f32,
        letter_spacing: letter_spacing as f32,
        balance,
        direction,
    };
    Ok(OwnedFit {
        text,
        family,
        request,
    })
}

/// `text_box(text=.., x=.., y=.., width=.., max_lines=.. | height=.., font_size=.., ...)`:
/// the whole `<text>` element of a fitted text, every value escaped (see [`draw`]).
pub fn text_box(measurer: &TextMeasurer, kwargs: &Kwargs) -> TeraResult<Value> {
    let takes: Vec<&str> = FIT_ARGS.iter().chain(DRAW_ARGS).copied().collect();
    known("text_box", kwargs, &takes)?;
    let request = fit_request("text_box", kwargs)?;
    let fitted = measurer.fit(&request.borrowed());
    drawn("text_box", &fitted, kwargs)
}

/// `{{ t | draw(x=.., y=.., fill=.., align=.., valign=..) }}`: `fit_text`'s result `t` as a
/// `<text>` element, for layouts that need `t.height` elsewhere.
pub fn draw(fitted: Value, kwargs: Kwargs, _: &State) -> TeraResult<Value> {
    known("draw", &kwargs, DRAW_ARGS)?;
    let fitted: Fitted = serde_json::to_value(&fitted)
        .and_then(serde_json::from_value)
        .map_err(|_| tera::Error::message("draw: expects the result of fit_text"))?;
    drawn("draw", &fitted, &kwargs)
}

/// The `<text>` element of `fitted` in the box at `x`, `y`: line `i`'s baseline is at
/// `y + font_size + i * line_height`; with a box height, `valign` moves the block down
/// (`middle`, `bottom`); `align` places each line (`start` is the right edge for
/// right-to-left text).
fn drawn(helper: &str, fitted: &Fitted, kwargs: &Kwargs) -> TeraResult<Value> {
    let fail = |m: String| tera::Error::message(format!("{helper}: {m}"));
    let x: f64 = kwargs.must_get("x")?;
    let y: f64 = kwargs.must_get("y")?;
    let fill: String = kwargs.get("fill")?.unwrap_or_else(|| "#000000".to_string());
    let opacity: Option<f64> = kwargs.get("opacity")?;
    let align = kwargs
        .get::<String>("align")?
        .unwrap_or_else(|| "start".into());
    let valign = kwargs
        .get::<String>("valign")?
        .unwrap_or_else(|| "top".into());
    let box_width = f64::from(fitted.box_width);
    let block = f64::from(fitted.height);
    let top = y + match (valign.as_str(), fitted.box_height.map(f64::from)) {
        ("top", _) | (_, None) => 0.0,
        ("middle", Some(h)) => (h - block) / 2.0,
        ("bottom", Some(h)) => h - block,
        (other, _) => {
            return Err(fail(format!(
                "valign: expected top, middle or bottom, got {other:?}"
            )));
        }
    };
    if !matches!(
        align.as_str(),
        "start" | "middle" | "end" | "left" | "right"
    ) {
        return Err(fail(format!(
            "align: expected start, middle, end, left or right, got {align:?}"
        )));
    }
    // Where a line of `width` starts: `start` and `end` follow the text's direction (`start`
    // is the right edge for right-to-left text); `left` and `right` do not.
    let line_x = |width: f64| {
        let free = box_width - width;
        x + match (align.as_str(), fitted.rtl) {
            ("start", false) | ("end", true) | ("left", _) => 0.0,
            ("middle", _) => free / 2.0,
            _ => free,
        }
    };
    BOXES.with(|boxes| {
        if let Some(boxes) = boxes.borrow_mut().as_mut() {
            boxes.push(TextBox {
                x,
                y,
                width: box_width,
                height: fitted.box_height.map_or(block, f64::from),
                font_size: fitted.font_size,
                lines: fitted.lines.len(),
                truncated: fitted.truncated,
            });
        }
    });
    let mut svg = String::with_capacity(256);
    svg.push_str("<text");
    attribute(&mut svg, "font-family", &fitted.font_family);
    attribute(&mut svg, "font-weight", &fitted.font_weight.to_string());
    attribute(&mut svg, "font-size", &number(fitted.font_size.into()));
    attribute(&mut svg, "fill", &fill);
    if fitted.letter_spacing != 0.0 {
        attribute(
            &mut svg,
            "letter-spacing",
            &number(fitted.letter_spacing.into()),
        );
    }
    if let Some(opacity) = opacity {
        attribute(&mut svg, "opacity", &number(opacity));
    }
    svg.push('>');
    lines_into(fitted, top, line_x, &mut svg);
    svg.push_str("</text>");
    Ok(Value::safe_string(&svg))
}

/// One `<tspan>` per run of every line, at its baseline.
fn lines_into(fitted: &Fitted, top: f64, line_x: impl Fn(f64) -> f64, svg: &mut String) {
    for (i, (runs, width)) in fitted.runs.iter().zip(&fitted.widths).enumerate() {
        let baseline = top + f64::from(fitted.font_size) + i as f64 * f64::from(fitted.line_height);
        let start = line_x(f64::from(*width));
        for run in runs {
            svg.push_str("<tspan");
            attribute(svg, "x", &number(start + f64::from(run.x)));
            attribute(svg, "y", &number(baseline));
            svg.push('>');
            escape_into(&run.text, svg);
            svg.push_str("</tspan>");
        }
    }
}

fn number(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn attribute(svg: &mut String, name: &str, value: &str) {
    svg.push(' ');
    svg.push_str(name);
    svg.push_str("=\"");
    escape_into(value, svg);
    svg.push('"');
}
