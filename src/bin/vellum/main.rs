//! The `vellum` command: serve templates over HTTP, render one image or a batch, list
//! templates, sign URLs. Flags are in [`args`]; the work is the library's.

mod args;
mod bundled;
mod dev;
mod health;
mod import;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use vellum::job::BlockingFetcher;
use vellum::server::Server;
use vellum::{Engine, Format};

use args::{BatchArgs, Cli, Command, EngineArgs, RenderArgs, ServeArgs, SignArgs};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // usvg warns on every font fallback, which bundled fonts make routine.
    let default_level = if matches!(cli.command, Command::Serve(_) | Command::Dev(_)) {
        "info,usvg=error"
    } else {
        "warn,usvg=error"
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default_level.into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        Command::Dev(args) => dev::run(args),
        Command::Render(args) => return render(args),
        Command::Batch(args) => return batch(args),
        Command::Templates(args) if args.check => return check_templates(args.engine),
        Command::Templates(args) => list_templates(args.engine),
        Command::Sign(args) => sign(args),
        Command::Import(args) => import::run(args),
        Command::Health(args) => return health::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vellum: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Makes glibc serve allocations of 64 KiB and more (cached images, encoder state) with their
/// own mappings, which go back to the system when freed. With the default, the evictions of
/// a full cache leave holes in the heap and RSS after 10,000 distinct cards grew to about
/// 170 MiB over the cache budget; with this, about 70 MiB, for ~8% more CPU per render
/// (benches/http/run.sh).
fn return_freed_images_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 * 1024);
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    return_freed_images_to_the_system();
    let (engine, _bundled) = args.engine.engine()?;
    let engine = Arc::new(engine);
    let config = args.server_config()?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let server = Server::bind(args.addr, engine.clone(), config)
            .await
            .with_context(|| format!("cannot listen on {}", args.addr))?;
        let templates: Vec<String> = engine.templates().iter().map(|t| t.name.clone()).collect();
        tracing::info!(addr = %server.local_addr()?, templates = templates.join(","), "serving");
        #[cfg(unix)]
        tokio::spawn(reload_on_sighup(engine));
        server.run(vellum::server::shutdown_signal()).await;
        Ok(())
    })
}

/// Reloads templates on SIGHUP; a broken edit is logged and the old set keeps serving.
#[cfg(unix)]
async fn reload_on_sighup(engine: Arc<Engine>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP; reloads disabled");
        return;
    };
    while hangups.recv().await.is_some() {
        match engine.reload() {
            Ok(()) => tracing::info!("templates reloaded"),
            Err(e) => tracing::error!(error = %e, "reload failed; keeping the previous templates"),
        }
    }
}

/// Exit codes: 0 written, 1 the request was rejected or failed, 2 setup or I/O problems.
fn render(args: RenderArgs) -> ExitCode {
    let loaded = args.engine.engine().and_then(|(engine, bundled)| {
        let sources = args.images.sources()?;
        Ok((engine, bundled, sources))
    });
    let (engine, _bundled, sources) = match loaded {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("vellum: {e:#}");
            return ExitCode::from(2);
        }
    };
    let to_stdout = args.output.as_os_str() == "-";
    let format = if to_stdout {
        Format::Png
    } else {
        let ext = args
            .output
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("png");
        match Format::from_extension(ext) {
            Some(format) => format,
            None => {
                eprintln!(
                    "vellum: {}: unknown format {ext:?} (expected {})",
                    args.output.display(),
                    vellum::format::EXPECTED
                );
                return ExitCode::from(2);
            }
        }
    };
    let mut pairs = Vec::new();
    for param in &args.params {
        match param.split_once('=') {
            Some((k, v)) => pairs.push((k.to_string(), v.to_string())),
            None => {
                eprintln!("vellum: {param:?}: expected key=value");
                return ExitCode::from(2);
            }
        }
    }
    let fetcher = BlockingFetcher::new(sources);
    let fetched = engine
        .prepare_pairs(&args.template, format, pairs)
        .and_then(|job| fetcher.fetch_images(job));
    let image = match fetched.and_then(|job| engine.render(&job)) {
        Ok(image) => image,
        Err(e) => {
            eprintln!("vellum: {}: {e}", args.template);
            if let vellum::RequestError::Internal(detail) = &e {
                eprintln!("vellum: detail: {detail}");
            }
            return ExitCode::from(1);
        }
    };
    let written = if to_stdout {
        use std::io::Write;
        std::io::stdout().write_all(&image.bytes)
    } else {
        std::fs::write(&args.output, &image.bytes)
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vellum: {}: {e}", args.output.display());
            ExitCode::from(2)
        }
    }
}

/// Exit codes: 0 every row written or skipped, 1 some rows failed, 2 setup or I/O problems
/// (a full disk among them).
fn batch(args: BatchArgs) -> ExitCode {
    match run_batch(args) {
        Ok(summary) if summary.stopped > 0 => ExitCode::from(2),
        Ok(summary) if summary.failed == 0 => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            eprintln!("vellum: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run_batch(args: BatchArgs) -> anyhow::Result<vellum::batch::Summary> {
    use vellum::batch::{self, BatchOptions, NamePattern, Progress};
    let format = match args.pdf {
        Some(_) => Some("pdf"),
        None => args.format.as_deref(),
    };
    let (names, format) = NamePattern::with_format(&args.name, format)?;
    let (engine, _bundled) = args.engine.engine()?;
    anyhow::ensure!(
        engine.templates().get(&args.template).is_some(),
        "unknown template {:?}",
        args.template
    );
    let rows = batch::read_rows(&args.data)?;
    let data_name = args.data.display().to_string();
    let unused = batch::unused_columns(&engine, &args.template, &rows);
    if !unused.is_empty() {
        eprintln!(
            "{data_name}: not params of {}, used for file names only: {}",
            args.template,
            unused.join(", ")
        );
    }
    let mut options = Vec::new();
    options.extend(
        args.size
            .map(|v| (vellum::manifest::SIZE_KEY.to_string(), v)),
    );
    options.extend(args.scale.map(|v| ("scale".to_string(), v)));
    options.extend(args.quality.map(|v| ("quality".to_string(), v)));
    if args.lossless {
        options.push(("lossless".to_string(), "true".to_string()));
    }
    let options = BatchOptions {
        template: args.template,
        format,
        options,
        out_dir: args.output.clone(),
        names,
        resume: args.resume,
        jobs: args
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        shard: args.shard.unwrap_or(batch::Shard::ALL),
    };
    let in_shard = (0..rows.len()).filter(|&i| options.shard.holds(i)).count();
    let progress = Progress::new(in_shard, data_name);
    let started = std::time::Instant::now();
    let fetcher = BlockingFetcher::new(args.images.sources()?);
    let on_done = |r: &batch::RowReport| progress.row_done(r);
    let reports = match &args.pdf {
        Some(book) => batch::run_book(&engine, &fetcher, rows, &options, book, &on_done),
        None => batch::run(&engine, &fetcher, rows, &options, &on_done),
    }
    .with_context(|| format!("{}", args.output.display()))?;
    progress.finish();
    let summary = batch::Summary::of(&reports, started.elapsed());
    let report = args
        .manifest
        .unwrap_or_else(|| args.output.join("manifest.csv"));
    let written = batch::write_report(&report, &reports);
    println!("{summary}");
    if summary.stopped > 0 {
        // One message for the whole run: every image written is whole, the rest wait.
        eprintln!(
            "vellum: {}: the disk is full; stopped with {} rows not written (every file written \
             is whole). Free some space and run the same command with --resume to finish.",
            args.output.display(),
            summary.stopped
        );
        if let Err(e) = written {
            eprintln!(
                "vellum: {}: the report could not be written either: {e}",
                report.display()
            );
        }
        return Ok(summary);
    }
    written.with_context(|| format!("{}", report.display()))?;
    Ok(summary)
}

fn list_templates(args: EngineArgs) -> anyhow::Result<()> {
    let (engine, _bundled) = args.engine()?;
    for template in engine.templates().iter() {
        let m = &template.manifest;
        let sizes: Vec<String> = m
            .sizes
            .iter()
            .map(|(name, size)| match m.sizes.len() {
                1 => format!("{}x{}", size.width, size.height),
                _ => format!("{name} {}x{}", size.width, size.height),
            })
            .collect();
        println!(
            "{} ({}): {}",
            template.name,
            sizes.join(", "),
            m.description
        );
        for (name, spec) in &m.params {
            let kind = spec.kind.to_string();
            let need = match &spec.default {
                Some(default) => format!("default {:?}", default.canonical()),
                None => "required".to_string(),
            };
            println!("  {name:<12} {kind:<28} {need}");
        }
    }
    Ok(())
}

/// Exit codes: 0 every character has a glyph, 1 some do not, 2 setup problems.
fn check_templates(args: EngineArgs) -> ExitCode {
    let (engine, _bundled) = match args.engine() {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("vellum: {e:#}");
            return ExitCode::from(2);
        }
    };
    let mut clean = true;
    for (name, report) in engine.glyph_report() {
        match report {
            Ok(missing) if missing.is_empty() => println!("{name}: every character has a glyph"),
            Ok(missing) => {
                clean = false;
                let shown: Vec<String> = missing
                    .iter()
                    .map(|m| format!("{m:?} ({})", vellum::raster::code_points(m)))
                    .collect();
                println!("{name}: no loaded font draws {}", shown.join(", "));
            }
            Err(e) => {
                clean = false;
                println!("{name}: cannot be checked: {e}");
            }
        }
    }
    if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// An image URL's `path` with its template's current version added as `v=`, so that caches
/// may keep the image for good (kept as it is when it names one already, or is no image URL).
fn with_version(args: &SignArgs, path: String) -> anyhow::Result<String> {
    let (route, query) = path.split_once('?').unwrap_or((&path, ""));
    let Some(file) = route.strip_prefix("/og/") else {
        return Ok(path);
    };
    if query.split('&').any(|pair| pair.starts_with("v=")) {
        return Ok(path);
    }
    let (name, _) = Format::split_file(file)
        .map_err(|ext| anyhow::anyhow!("{path:?}: unknown format {ext:?}"))?;
    let (engine, _bundled) = args.engine.engine()?;
    let template = engine.templates().get(name).cloned();
    let template = template.with_context(|| format!("{path:?}: no template called {name:?}"))?;
    let joiner = match (path.contains('?'), query.is_empty()) {
        (false, _) => "?",
        (true, true) => "",
        (true, false) => "&",
    };
    Ok(format!("{path}{joiner}v={}", template.version()))
}

fn sign(args: SignArgs) -> anyhow::Result<()> {
    let signer = args.signing.signer();
    // Only the path and query are signed; an origin in front is kept as given.
    let (origin, path) = match url::Url::parse(&args.url) {
        Ok(url) if url.has_host() => {
            let origin = &url[..url::Position::BeforePath];
            let path = &url[url::Position::BeforePath..];
            (origin.to_string(), path.to_string())
        }
        _ => (String::new(), args.url.clone()),
    };
    anyhow::ensure!(
        path.starts_with('/'),
        "{:?}: expected a path like /og/post.png?title=Hi",
        args.url
    );
    let path = with_version(&args, path)?;
    let signed = signer
        .sign(&path)
        .context("no signing key: pass --signing-key or set VELLUM_SIGNING_KEYS")?;
    println!("{origin}{signed}");
    Ok(())
}
