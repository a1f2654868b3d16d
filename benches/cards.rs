//! Every kind of card, rendered in-process with a new title every time (so found backgrounds
//! and kept glyph masks are used as a server uses them), reported as ratios to card A's
//! render measured in the same run (absolute times drift on a shared machine; ratios do
//! not). The same kinds as `benches/http/kinds.sh`, without HTTP, plus product cards with a
//! new 1200 px JPEG photo each time (eight made here, more than the shrunk-photo cache
//! keeps).
//!
//! Run: `cargo bench --bench cards`. After criterion's own output, a table prints each
//! kind's mean as a share of card A's.

mod estimates;

use std::cell::Cell;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use criterion::Criterion;
use vellum::encode::{EncodeOptions, encode};
use vellum::fetch::{ImageDirs, ImageSources};
use vellum::job::BlockingFetcher;
use vellum::{Engine, EngineConfig, Format};

const GROUP: &str = "cards";
const BASELINE: &str = "card-a.png";
/// Distinct photos the product cards cycle through.
const PHOTOS: usize = 8;

/// Each kind: its name, template, format and query before the title (`{photo}` a photo's
/// number).
const KINDS: &[(&str, &str, Format, &str)] = &[
    (BASELINE, "card-a", Format::Png, "title="),
    (
        "post.png",
        "post",
        Format::Png,
        "author=Ada%20Lovelace&subtitle=Engineering%20blog&title=",
    ),
    (
        "product.png",
        "product",
        Format::Png,
        "price=129.9&old_price=159&badge=-20%25&name=",
    ),
    (
        "certificate.png",
        "certificate",
        Format::Png,
        "achievement=Advanced%20Compiler%20Construction&recipient=",
    ),
    (
        "card-a.png scale 2",
        "card-a",
        Format::Png,
        "scale=2&title=",
    ),
    (
        "post.jpg",
        "post",
        Format::Jpeg,
        "author=Ada%20Lovelace&subtitle=Engineering%20blog&title=",
    ),
    (
        "post.webp",
        "post",
        Format::Webp,
        "author=Ada%20Lovelace&subtitle=Engineering%20blog&title=",
    ),
    ("travel.png", "travel", Format::Png, "title="),
    (
        "product.jpg, a new photo",
        "product",
        Format::Jpeg,
        "price=89&photo=p{photo}.jpg&name=",
    ),
];

/// Writes [`PHOTOS`] distinct 1200 x 1200 JPEGs (smooth colour with fine grain, about the
/// size of a product photo) into a directory under `target/`, and returns it.
fn photos() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-photos");
    std::fs::create_dir_all(&dir).expect("target/ is writable");
    let side = 1200usize;
    for n in 0..PHOTOS {
        let path = dir.join(format!("p{n}.jpg"));
        if path.exists() {
            continue;
        }
        let mut seed = 0x9E37_79B9_u32.wrapping_mul(n as u32 + 1);
        let mut pixmap = tiny_skia::Pixmap::new(side as u32, side as u32).expect("a size");
        for (i, pixel) in pixmap.pixels_mut().iter_mut().enumerate() {
            let (x, y) = (i % side, i / side);
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let grain = (seed % 24) as usize;
            let wave = ((x + y * (n + 1)) / 7) % 64;
            *pixel = tiny_skia::ColorU8::from_rgba(
                ((x * 200 / side + grain + n * 20) % 256) as u8,
                ((y * 180 / side + wave) % 256) as u8,
                ((x + y) * 100 / side + grain) as u8,
                255,
            )
            .premultiply();
        }
        let jpeg = encode(&pixmap, Format::Jpeg, EncodeOptions::default()).expect("it encodes");
        std::fs::write(&path, jpeg).expect("target/ is writable");
    }
    dir
}

fn cards(c: &mut Criterion, engine: &Engine, fetcher: &BlockingFetcher) {
    let mut group = c.benchmark_group(GROUP);
    for &(name, template, format, query) in KINDS {
        let n = Cell::new(0usize);
        let job = || {
            n.set(n.get() + 1);
            let photo = (n.get() % PHOTOS).to_string();
            let query = format!(
                "{}How%20we%20render%20card%20{}",
                query.replace("{photo}", &photo),
                n.get()
            );
            let job = engine
                .prepare(template, format, &query)
                .expect("the query is valid");
            fetcher.fetch_images(job).expect("the photo reads")
        };
        // Two cards first, so that found backgrounds are drawn before the timing starts.
        for _ in 0..2 {
            engine.render(&job()).expect("the card renders");
        }
        group.bench_function(name, |b| {
            b.iter_batched(
                &job,
                |job| engine.render(black_box(&job)).unwrap(),
                criterion::BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

fn report() {
    let Some(baseline) = estimates::mean_ns(GROUP, BASELINE) else {
        println!("(no estimates found under target/criterion; ratios skipped)");
        return;
    };
    println!("\nrender means as a share of `{BASELINE}` in this run:");
    for &(name, ..) in KINDS {
        if let Some(ns) = estimates::mean_ns(GROUP, name) {
            println!("  {name:<28} {:>8.3} ms {:>8.2}x", ns / 1e6, ns / baseline);
        }
    }
    if let (Some(png), Some(jpg), Some(webp)) = (
        estimates::mean_ns(GROUP, "post.png"),
        estimates::mean_ns(GROUP, "post.jpg"),
        estimates::mean_ns(GROUP, "post.webp"),
    ) {
        println!(
            "  post.jpg {:.2}x and post.webp {:.2}x post.png",
            jpg / png,
            webp / png
        );
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let engine = Engine::new(EngineConfig::bundled(root)).expect("bundled templates load");
    let dirs = ImageDirs::new(&[photos()], 16 << 20, 8192).expect("the photo directory exists");
    let fetcher = BlockingFetcher::new(ImageSources {
        remote: None,
        local: Some(Arc::new(dirs)),
    });
    let mut criterion = Criterion::default().configure_from_args();
    cards(&mut criterion, &engine, &fetcher);
    criterion.final_summary();
    report();
}
