//! Property test over query strings into the whole check, fill, parse, rasterise and encode
//! path: whatever arrives, the answer is an image in the asked format or a 4xx error, never
//! a panic and never an internal error. `tests/corpus/queries.txt` keeps inputs worth
//! replaying on every run; a longer search: `PROPTEST_CASES=20000 cargo test --release fuzz`.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use vellum::fetch::ImageSources;
use vellum::job::BlockingFetcher;
use vellum::{Engine, Format, RequestError};

use crate::support;

fn engine() -> &'static Engine {
    static ENGINE: std::sync::OnceLock<Engine> = std::sync::OnceLock::new();
    ENGINE.get_or_init(support::bundled_engine)
}

/// Keys a request to `template` might use: mostly its own, sometimes reserved ones or junk.
fn key(template: &str) -> BoxedStrategy<String> {
    let mut own: Vec<String> = engine()
        .templates()
        .get(template)
        .map(|t| t.manifest.params.keys().cloned().collect())
        .unwrap_or_default();
    own.push("title".into());
    prop_oneof![
        8 => prop::sample::select(own),
        1 => prop::sample::select(vec!["scale", "quality", "sig", "exp"]).prop_map(str::to_string),
        1 => "[a-z_]{0,12}",
        1 => any::<String>(),
    ]
    .boxed()
}

/// Values: plausible ones, markup, control characters, huge numbers and any Unicode.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => "[ -~]{0,40}",
        1 => prop::sample::select(vec![
            "dark", "light", "0", "-1", "1e308", "NaN", "inf", "0.1", "4", "4.01", "#fff",
            "fff", "zzzzzz", "</text><script>", "\u{202e}evil", "\u{0}", "\u{1f600}",
        ])
        .prop_map(str::to_string),
        2 => any::<String>(),
        1 => prop::collection::vec(any::<char>(), 0..300).prop_map(|c| c.into_iter().collect()),
    ]
}

fn query(template: &'static str) -> BoxedStrategy<String> {
    // Mostly distinct keys with required params filled from their examples, so that many
    // requests get through validation and exercise fill, parse and rasterise.
    let pairs =
        prop::collection::btree_map(key(template), value(), 0..6).prop_map(move |mut map| {
            if let Some(t) = engine().templates().get(template) {
                for (name, spec) in &t.manifest.params {
                    if let (true, Some(example)) = (spec.required, &spec.example) {
                        map.entry(name.clone()).or_insert_with(|| example.clone());
                    }
                }
            }
            serde_urlencoded::to_string(map).unwrap()
        });
    prop_oneof![
        6 => pairs,
        1 => prop::collection::vec((key(template), value()), 0..8)
            .prop_map(|pairs| serde_urlencoded::to_string(pairs).unwrap()),
        1 => "[ -~]{0,200}", // raw, possibly malformed percent-encoding
    ]
    .boxed()
}

/// A template name (sometimes an unknown one) with a query for it.
fn request() -> impl Strategy<Value = (&'static str, String)> {
    prop::sample::select(vec!["post", "product", "certificate", "nope"])
        .prop_flat_map(|template| (Just(template), query(template)))
}

/// Renders `template?query` as `format`: fine if it is an image in that format or a 4xx.
fn check(template: &str, format: Format, query: &str) -> Result<(), String> {
    let engine = engine();
    // Render small: the property is about the path, not the pixels.
    let query = if query.contains("scale=") {
        query.to_string()
    } else {
        format!("{query}&scale=0.1")
    };
    // As a server with no image sources: an image param is refused before the render.
    let images = BlockingFetcher::new(ImageSources::default());
    match engine
        .prepare(template, format, &query)
        .and_then(|job| images.fetch_images(job))
        .and_then(|job| engine.render(&job))
    {
        Ok(image) if image.format == format => Ok(()),
        Ok(image) => Err(format!("asked for {format:?}, got {:?}", image.format)),
        Err(RequestError::Internal(detail)) => Err(format!("internal error: {detail}")),
        Err(e) if (400..500).contains(&e.status()) => Ok(()),
        Err(e) => Err(format!("status {}: {e}", e.status())),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn any_query_renders_or_gets_a_client_error(
        (template, query) in request(),
        format in prop::sample::select(vec![Format::Png, Format::Jpeg, Format::Webp, Format::Svg]),
    ) {
        if let Err(problem) = check(template, format, &query) {
            prop_assert!(false, "{template}?{query}: {problem}");
        }
    }
}

#[test]
fn the_kept_corpus_renders_or_gets_client_errors() {
    let corpus = std::fs::read_to_string(support::root().join("tests/corpus/queries.txt")).unwrap();
    let mut replayed = 0;
    for (n, line) in corpus.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let [template, ext, query] = fields[..] else {
            panic!("queries.txt:{}: want template<TAB>format<TAB>query", n + 1)
        };
        let format = Format::from_extension(ext).expect("a known format");
        if let Err(problem) = check(template, format, query) {
            panic!("queries.txt:{}: {template}?{query}: {problem}", n + 1);
        }
        replayed += 1;
    }
    assert!(replayed >= 30, "only {replayed} corpus entries");
}

#[test]
fn the_generator_reaches_the_renderer() {
    // Without this, a generator that only produced rejected queries would pass unnoticed.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut rendered = 0;
    for _ in 0..100 {
        let (template, query) = request().new_tree(&mut runner).unwrap().current();
        let query = format!("{query}&scale=0.1");
        if engine()
            .prepare(template, Format::Svg, &query)
            .and_then(|job| engine().render(&job))
            .is_ok()
        {
            rendered += 1;
        }
    }
    assert!(
        rendered >= 10,
        "only {rendered} of 100 generated requests rendered"
    );
}
