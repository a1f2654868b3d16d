//! `vellum import`: a design exported as SVG becomes a template whose params are its layers.

use std::path::PathBuf;

use anyhow::Context as _;
use vellum::Engine;
use vellum::layers::import::inventory;

use crate::args::ImportArgs;

/// Lists the design's layers, writes `NAME.svg` (the design, unchanged) and `NAME.toml` (a
/// binding per layer) into the templates directory, and loads the result to prove it.
pub fn run(args: ImportArgs) -> anyhow::Result<()> {
    let valid = args
        .name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    anyhow::ensure!(
        valid && !args.name.is_empty(),
        "--name {:?}: use letters, digits, - and _",
        args.name
    );
    let svg = std::fs::read_to_string(&args.design)
        .with_context(|| format!("{}", args.design.display()))?;
    let dir = args
        .engine
        .templates
        .clone()
        .unwrap_or_else(|| PathBuf::from("templates"));
    std::fs::create_dir_all(&dir).with_context(|| format!("--templates {}", dir.display()))?;
    let (svg_path, toml_path) = (
        dir.join(format!("{}.svg", args.name)),
        dir.join(format!("{}.toml", args.name)),
    );
    for path in [&svg_path, &toml_path] {
        anyhow::ensure!(
            args.force || !path.exists(),
            "{} exists (--force replaces it)",
            path.display()
        );
    }
    let (mut config, _bundled) = args.engine.config()?;
    config.templates_dir = dir.clone();
    let (engine, _) = Engine::new_lenient(config.clone()).context("cannot load the fonts")?;
    let fonts = &engine.usvg_options().fontdb;
    let has_family = |family: &str| {
        fonts.faces().any(|f| {
            f.families
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(family))
        })
    };
    let found = inventory(&svg, has_family)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.design.display()))?;
    println!("layers in {}:", args.design.display());
    for layer in &found.layers {
        let default = layer
            .default
            .as_deref()
            .map(|d| format!(" = {d:?}"))
            .unwrap_or_default();
        println!(
            "  {:<6} {:?} -> {}{default}",
            layer.kind, layer.id, layer.param
        );
    }
    if found.layers.is_empty() {
        println!("  none: give text, shapes and images ids (layer names) in the design tool");
    }
    let description = format!(
        "Imported from {}",
        args.design
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
    );
    std::fs::write(&svg_path, &svg).with_context(|| format!("{}", svg_path.display()))?;
    std::fs::write(&toml_path, found.manifest(&description))
        .with_context(|| format!("{}", toml_path.display()))?;
    println!("wrote {} and {}", svg_path.display(), toml_path.display());
    if !found.unusable.is_empty() {
        println!("cannot use:");
        for reason in &found.unusable {
            println!("  {reason}");
        }
    }
    let (_, problems) = Engine::new_lenient(config).context("cannot load the templates")?;
    let mine: Vec<_> = problems
        .iter()
        .filter(|p| p.template_name() == Some(args.name.as_str()))
        .collect();
    anyhow::ensure!(mine.is_empty(), "the template does not load:\n{}", {
        mine.iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    });
    println!(
        "try it: vellum render {} -o {}.png --templates {}  (or vellum dev)",
        args.name,
        args.name,
        dir.display()
    );
    Ok(())
}
