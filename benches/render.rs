//! Render-stage benchmarks for `card-a` (the peer benchmark's card), reported as ratios to a
//! full cold render measured in the same run (absolute times drift on a shared machine;
//! ratios do not).
//!
//! Run: `cargo bench --bench render`. After criterion's own output, a table prints each
//! stage's mean as a fraction of the `cold render (png)` baseline, the PNG compression
//! levels with their sizes (each level compressing the whole image, and the default path that
//! copies the background's compressed rows where the card left them untouched), and `fit_text` (run on every cache miss) as a fraction of the
//! rasterize stage.

mod estimates;

use std::hint::black_box;
use std::path::Path;

use criterion::Criterion;
use vellum::background::Background;
use vellum::encode::EncodeOptions;
use vellum::state::ImageCache;
use vellum::text::{Direction, FitRequest};
use vellum::{Engine, EngineConfig, Format, encode, raster};

const GROUP: &str = "card-a";
const BASELINE: &str = "cold render (png)";
const FIT_TEXT: &str = "fit_text (long title)";
const RASTERIZE: &str = "rasterize (resvg)";
/// PNG levels over the background, as card-a renders them: untouched rows copied from the
/// background's compressed rows (levels 3+ also try the whole image with filters).
const BACKDROP_LEVELS: [u8; 5] = [1, 2, 4, 6, 9];
const QUERY: &str = "title=How%20we%20rendered%20a%20million%20social%20cards%20without%20a\
                     %20browser%2C%20and%20what%20it%20cost%20us";
/// PNG compression levels shown in the report (2 is the default).
const PNG_LEVELS: [u8; 5] = [1, 2, 3, 4, 6];

fn png_name(level: u8) -> String {
    format!("encode png level {level}")
}

fn backdrop_name(level: u8) -> String {
    format!("encode png level {level} over the background")
}

fn stages(c: &mut Criterion, engine: &Engine) {
    let job = engine.prepare(GROUP, Format::Png, QUERY).unwrap();
    let svg = engine.fill(&job).unwrap();
    let options = engine.usvg_options();
    let limits = engine.limits();
    let tree = raster::parse(&svg, options, limits.max_svg_nodes).unwrap();
    let background = job.background().map(|b| &**b);
    let under = background.map(Background::under);
    let canvas = raster::rasterize_reusing(&tree, 1.0, limits.max_pixels, under, None).unwrap();
    let over = || background.map(|b| b.over(&canvas));
    let pixmap = &canvas.pixmap;
    let cache = ImageCache::new(64 << 20);
    cache.insert(job.key(), engine.render(&job).unwrap());

    let mut group = c.benchmark_group(GROUP);
    group.bench_function(BASELINE, |b| {
        b.iter(|| engine.render(black_box(&job)).unwrap())
    });
    group.bench_function("validate + cache key", |b| {
        b.iter(|| {
            engine
                .prepare(GROUP, Format::Png, black_box(QUERY))
                .unwrap()
        })
    });
    group.bench_function("cache hit (validate + lookup)", |b| {
        b.iter(|| {
            let job = engine
                .prepare(GROUP, Format::Png, black_box(QUERY))
                .unwrap();
            cache.get(&job.key()).unwrap()
        })
    });
    group.bench_function("fill (tera)", |b| {
        b.iter(|| engine.fill(black_box(&job)).unwrap())
    });
    let long_title = "How we rendered a million social cards without a browser, and what it cost \
                      us: measured wrapping, shrink-to-fit and an ellipsis for titles that never end";
    let fit = FitRequest {
        text: long_title,
        width: 1040.0,
        max_lines: 3,
        max_height: None,
        font_size: 64.0,
        min_font_size: 40.0,
        family: "Inter",
        weight: 800,
        line_height: 1.15,
        letter_spacing: 0.0,
        balance: false,
        direction: Direction::Auto,
    };
    group.bench_function(FIT_TEXT, |b| {
        b.iter(|| engine.text_measurer().fit(black_box(&fit)))
    });
    group.bench_function("parse (usvg + text layout)", |b| {
        b.iter(|| raster::parse(black_box(&svg), options, limits.max_svg_nodes).unwrap())
    });
    let under = background.map(Background::under);
    group.bench_function(RASTERIZE, |b| {
        b.iter(|| raster::rasterize(black_box(&tree), 1.0, limits.max_pixels, under).unwrap())
    });
    for level in PNG_LEVELS {
        let options = EncodeOptions::png(level);
        group.bench_function(png_name(level), |b| {
            b.iter(|| encode::encode(black_box(pixmap), Format::Png, options).unwrap())
        });
    }
    let mut buffers = encode::Buffers::default();
    for level in BACKDROP_LEVELS {
        let options = EncodeOptions::png(level);
        group.bench_function(backdrop_name(level), |b| {
            b.iter(|| {
                let pixmap = black_box(pixmap);
                let file = encode::encode_with(pixmap, Format::Png, options, over(), &mut buffers);
                file.unwrap().len()
            })
        });
    }
    group.bench_function("encode png (tiny-skia encode_png)", |b| {
        b.iter(|| black_box(pixmap).encode_png().unwrap())
    });
    for (name, format, options) in other_encoders() {
        group.bench_function(name, |b| {
            b.iter(|| encode::encode(black_box(pixmap), format, options).unwrap())
        });
    }
    group.finish();
}

/// JPEG and WebP encoders, as requests choose them (`quality`, `lossless`).
fn other_encoders() -> Vec<(String, Format, EncodeOptions)> {
    let webp = |quality| EncodeOptions {
        webp_quality: quality,
        ..EncodeOptions::default()
    };
    let mut encoders = vec![
        (
            "encode jpg q85".to_string(),
            Format::Jpeg,
            EncodeOptions::default(),
        ),
        (
            "encode webp (lossless)".to_string(),
            Format::Webp,
            webp(None),
        ),
    ];
    for quality in [75, 80, 90] {
        encoders.push((
            format!("encode webp q{quality}"),
            Format::Webp,
            webp(Some(quality)),
        ));
    }
    encoders
}

/// File size of every encoder: PNG at each level, tiny-skia's, JPEG and WebP.
fn encoder_sizes(engine: &Engine) -> Vec<(String, usize)> {
    let job = engine.prepare(GROUP, Format::Png, QUERY).unwrap();
    let svg = engine.fill(&job).unwrap();
    let tree = raster::parse(&svg, engine.usvg_options(), 100_000).unwrap();
    let background = job.background().map(|b| &**b);
    let under = background.map(Background::under);
    let canvas = raster::rasterize_reusing(&tree, 1.0, u64::MAX, under, None).unwrap();
    let over = || background.map(|b| b.over(&canvas));
    let pixmap = &canvas.pixmap;
    let mut sizes: Vec<(String, usize)> = PNG_LEVELS
        .iter()
        .map(|&level| {
            let options = EncodeOptions::png(level);
            let bytes = encode::encode(pixmap, Format::Png, options).unwrap();
            (png_name(level), bytes.len())
        })
        .collect();
    let mut buffers = encode::Buffers::default();
    for level in BACKDROP_LEVELS {
        let options = EncodeOptions::png(level);
        let file = encode::encode_with(pixmap, Format::Png, options, over(), &mut buffers);
        sizes.push((backdrop_name(level), file.unwrap().len()));
    }
    sizes.push((
        "encode png (tiny-skia encode_png)".into(),
        pixmap.encode_png().unwrap().len(),
    ));
    for (name, format, options) in other_encoders() {
        sizes.push((name, encode::encode(pixmap, format, options).unwrap().len()));
    }
    sizes
}

fn report(sizes: &[(String, usize)]) {
    let Some(baseline) = estimates::mean_ns(GROUP, BASELINE) else {
        println!("(no estimates found under target/criterion; ratios skipped)");
        return;
    };
    println!("\nstage means as a share of `{BASELINE}` in this run:");
    for name in [
        "validate + cache key",
        "cache hit (validate + lookup)",
        "fill (tera)",
        FIT_TEXT,
        "parse (usvg + text layout)",
        RASTERIZE,
    ] {
        if let Some(ns) = estimates::mean_ns(GROUP, name) {
            println!("  {name:<36} {:>8.4}x", ns / baseline);
        }
    }
    println!("\nencoders: time as a share of `{BASELINE}`, and file size:");
    for (name, size) in sizes {
        if let Some(ns) = estimates::mean_ns(GROUP, name) {
            println!("  {name:<36} {:>8.4}x {:>8} bytes", ns / baseline, size);
        }
    }
    if let (Some(fit), Some(raster)) = (
        estimates::mean_ns(GROUP, FIT_TEXT),
        estimates::mean_ns(GROUP, RASTERIZE),
    ) {
        println!("\n`{FIT_TEXT}` / `{RASTERIZE}`: {:.4}x", fit / raster);
    }
}

fn main() {
    let engine = Engine::new(EngineConfig::bundled(Path::new(env!("CARGO_MANIFEST_DIR"))))
        .expect("bundled templates load");
    let mut criterion = Criterion::default().configure_from_args();
    stages(&mut criterion, &engine);
    criterion.final_summary();
    report(&encoder_sizes(&engine));
}
