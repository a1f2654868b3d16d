//! The `vellum` command: serve templates over HTTP, render one image, or list templates.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use vellum::fetch::{AllowList, FetchLimits, Fetcher};
use vellum::server::{Server, ServerConfig};
use vellum::signing::Signer;
use vellum::{Engine, EngineConfig, Format, Limits};

#[derive(Parser)]
#[command(
    version,
    about = "Render SVG templates to images, from a URL or the command line"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve templates over HTTP: GET /og/NAME.png?param=value
    Serve(ServeArgs),
    /// Render one image: vellum render post title="Hello" -o card.png
    Render(RenderArgs),
    /// Render one image per row of a CSV or JSON Lines file:
    /// vellum batch product data.csv -o out --name "{sku}.png"
    Batch(BatchArgs),
    /// List the templates and their parameters.
    Templates(EngineArgs),
    /// Print a signed URL: vellum sign '/og/post.png?title=Hi' (key from --signing-key)
    Sign(SignArgs),
}

#[derive(Args)]
struct SigningArgs {
    /// URL signing key; repeat (or comma-separate in the env var) to rotate: the first signs,
    /// any verifies. With a key set, unsigned image URLs get 403.
    #[arg(
        long = "signing-key",
        env = "VELLUM_SIGNING_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    keys: Vec<String>,
}

impl SigningArgs {
    fn signer(&self) -> Signer {
        Signer::new(self.keys.iter().map(|k| k.as_bytes().to_vec()).collect())
    }
}

#[derive(Args)]
struct ImageArgs {
    /// Host that `image` params may be fetched from: example.com, example.com:8080 or
    /// *.example.com (subdomains). Repeat or comma-separate. None: remote images are off.
    #[arg(
        long = "allow-image-host",
        env = "VELLUM_ALLOW_IMAGE_HOSTS",
        value_delimiter = ','
    )]
    hosts: Vec<String>,
}

impl ImageArgs {
    fn fetcher(&self) -> Option<Arc<Fetcher>> {
        (!self.hosts.is_empty()).then(|| {
            let allow = AllowList::new(self.hosts.iter().cloned());
            Arc::new(Fetcher::new(allow, FetchLimits::default(), None))
        })
    }
}

#[derive(Args)]
struct SignArgs {
    #[command(flatten)]
    signing: SigningArgs,
    /// Path and query to sign, e.g. /og/post.png?title=Hi (a full http(s) URL also works).
    url: String,
}

#[derive(Args)]
struct EngineArgs {
    /// Directory of NAME.svg + NAME.toml templates.
    #[arg(long, env = "VELLUM_TEMPLATES", default_value = "templates")]
    templates: PathBuf,
    /// Directory of fonts (.ttf, .otf, .ttc), searched recursively.
    #[arg(long, env = "VELLUM_FONTS", default_value = "fonts")]
    fonts: PathBuf,
    /// Also load the machine's fonts, after the bundled ones.
    #[arg(long, env = "VELLUM_SYSTEM_FONTS")]
    system_fonts: bool,
    /// Largest output image in pixels (width x height after scale).
    #[arg(long, env = "VELLUM_MAX_PIXELS", default_value_t = Limits::default().max_pixels)]
    max_pixels: u64,
    /// Longest query string in bytes (longer gets 414).
    #[arg(long, env = "VELLUM_MAX_QUERY_BYTES", default_value_t = Limits::default().max_query_bytes)]
    max_query_bytes: usize,
    /// Most parameters in one request.
    #[arg(long, env = "VELLUM_MAX_PARAMS", default_value_t = Limits::default().max_params)]
    max_params: usize,
    /// PNG compression level when a request gives no `compression`: 1 (fastest, largest) to
    /// 9 (slowest, smallest).
    #[arg(
        long,
        env = "VELLUM_PNG_COMPRESSION",
        default_value_t = Limits::default().png_compression,
        value_parser = clap::value_parser!(u8).range(1..=9)
    )]
    png_compression: u8,
    /// Highest `compression` a request may ask for.
    #[arg(
        long,
        env = "VELLUM_MAX_PNG_COMPRESSION",
        default_value_t = Limits::default().max_png_compression,
        value_parser = clap::value_parser!(u8).range(1..=9)
    )]
    max_png_compression: u8,
}

impl EngineArgs {
    fn engine(&self) -> anyhow::Result<Engine> {
        let config = EngineConfig {
            templates_dir: self.templates.clone(),
            fonts_dir: self.fonts.clone(),
            system_fonts: self.system_fonts,
            limits: Limits {
                max_pixels: self.max_pixels,
                max_query_bytes: self.max_query_bytes,
                max_params: self.max_params,
                png_compression: self.png_compression,
                max_png_compression: self.max_png_compression,
                ..Limits::default()
            },
        };
        Engine::new(config).context("cannot load templates and fonts")
    }
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    engine: EngineArgs,
    /// Address to listen on.
    #[arg(long, env = "VELLUM_ADDR", default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
    /// Cache budget in MiB.
    #[arg(long, env = "VELLUM_CACHE_MB", default_value_t = 256)]
    cache_mb: usize,
    /// Renders running at once [default: number of cores].
    #[arg(long, env = "VELLUM_MAX_RENDERS")]
    max_renders: Option<usize>,
    /// Seconds a request waits for a render slot before it gets 503.
    #[arg(long, env = "VELLUM_RENDER_WAIT_SECS", default_value_t = 10)]
    render_wait_secs: u64,
    /// Seconds a client may take to send its request headers.
    #[arg(long, env = "VELLUM_HEADER_READ_TIMEOUT_SECS", default_value_t = 10)]
    header_read_timeout_secs: u64,
    /// Seconds one request may take before it is answered 503.
    #[arg(long, env = "VELLUM_REQUEST_DEADLINE_SECS", default_value_t = 30)]
    request_deadline_secs: u64,
    /// Most connections open at once (more wait to be accepted).
    #[arg(long, env = "VELLUM_MAX_CONNECTIONS", default_value_t = 1024)]
    max_connections: usize,
    /// Cache-Control max-age for images, in seconds.
    #[arg(long, env = "VELLUM_MAX_AGE", default_value_t = 31_536_000)]
    max_age: u64,
    /// Largest POST /render body in bytes (larger gets 413).
    #[arg(long, env = "VELLUM_MAX_BODY_BYTES", default_value_t = 64 * 1024)]
    max_body_bytes: usize,
    /// Origin put in front of the image URLs POST /render returns, e.g.
    /// https://img.example.com [default: http:// and the request's Host].
    #[arg(long, env = "VELLUM_PUBLIC_URL")]
    public_url: Option<String>,
    #[command(flatten)]
    signing: SigningArgs,
    #[command(flatten)]
    images: ImageArgs,
}

#[derive(Args)]
struct RenderArgs {
    #[command(flatten)]
    engine: EngineArgs,
    #[command(flatten)]
    images: ImageArgs,
    /// Template name.
    template: String,
    /// Parameters as key=value (also scale=2, quality=80 for .jpg).
    params: Vec<String>,
    /// Output file; its extension picks the format (png, jpg, webp, svg). `-` writes PNG to stdout.
    #[arg(short, long)]
    output: PathBuf,
}

#[derive(Args)]
struct BatchArgs {
    #[command(flatten)]
    engine: EngineArgs,
    #[command(flatten)]
    images: ImageArgs,
    /// Template name.
    template: String,
    /// Rows: .csv (header row = param names; empty cells take the default) or .jsonl.
    data: PathBuf,
    /// Output directory (created if missing).
    #[arg(short, long)]
    output: PathBuf,
    /// File name pattern: {column} is a row's value (made file-safe), {row} its number.
    /// Its extension picks the format unless --format is given; without one, the format's
    /// extension is added.
    #[arg(long, default_value = "{row}")]
    name: String,
    /// Output format: png, jpg, webp or svg [default: from --name, else png].
    #[arg(long)]
    format: Option<String>,
    /// Output scale for every row, as the URL's scale (0.1 to 4).
    #[arg(long)]
    scale: Option<String>,
    /// JPEG quality for every row (1 to 100).
    #[arg(long)]
    quality: Option<String>,
    /// Skip rows whose output file exists and is newer than the template.
    #[arg(long)]
    resume: bool,
    /// Render threads [default: number of cores].
    #[arg(short, long)]
    jobs: Option<usize>,
    /// Where to write the manifest of the run (.csv, or .json) [default: OUTPUT/manifest.csv].
    #[arg(long)]
    manifest: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // usvg warns on every font fallback, which bundled fonts make routine.
    let default_level = if matches!(cli.command, Command::Serve(_)) {
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
        Command::Render(args) => return render(args),
        Command::Batch(args) => return batch(args),
        Command::Templates(args) => list_templates(args),
        Command::Sign(args) => sign(args),
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
    let engine = Arc::new(args.engine.engine()?);
    let defaults = ServerConfig::default();
    let config = ServerConfig {
        cache_bytes: args.cache_mb.saturating_mul(1024 * 1024),
        max_renders: args.max_renders.unwrap_or(defaults.max_renders),
        render_wait: std::time::Duration::from_secs(args.render_wait_secs),
        header_read_timeout: std::time::Duration::from_secs(args.header_read_timeout_secs),
        request_deadline: std::time::Duration::from_secs(args.request_deadline_secs),
        max_connections: args.max_connections,
        max_age: args.max_age,
        signer: args.signing.signer(),
        fetcher: args.images.fetcher(),
        max_body_bytes: args.max_body_bytes,
        public_url: args.public_url,
        ..defaults
    };
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
    let engine = match args.engine.engine() {
        Ok(engine) => engine,
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
                    "vellum: {}: unknown format {ext:?} (expected png, jpg, webp or svg)",
                    args.output.display()
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
    let fetched = engine
        .prepare_pairs(&args.template, format, pairs)
        .and_then(|job| fetch_for_cli(args.images.fetcher(), job));
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

/// Exit codes: 0 every row written or skipped, 1 some rows failed, 2 setup or I/O problems.
fn batch(args: BatchArgs) -> ExitCode {
    match run_batch(args) {
        Ok(summary) if summary.failed == 0 => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            eprintln!("vellum: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run_batch(args: BatchArgs) -> anyhow::Result<vellum::batch::Summary> {
    use vellum::batch::{self, BatchOptions, NamePattern, Status};
    let names = NamePattern::parse(&args.name)?;
    let format = match (args.format.as_deref(), names.extension()) {
        (Some(f), _) | (None, Some(f)) => Format::from_extension(f)
            .with_context(|| format!("unknown format {f:?} (expected png, jpg, webp or svg)"))?,
        (None, None) => Format::Png,
    };
    let names = match names.extension() {
        Some(ext) => {
            anyhow::ensure!(
                Format::from_extension(ext) == Some(format),
                "--name {:?} ends in .{ext} but the format is {}",
                args.name,
                format.extension()
            );
            names
        }
        None => NamePattern::parse(&format!("{}.{}", args.name, format.extension()))?,
    };
    let engine = args.engine.engine()?;
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
    options.extend(args.scale.map(|v| ("scale".to_string(), v)));
    options.extend(args.quality.map(|v| ("quality".to_string(), v)));
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
    };
    let bar = indicatif::ProgressBar::new(rows.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} rows  {per_sec}  ETA {eta}")
            .expect("a valid progress template"),
    );
    let on_done = |outcome: &batch::Outcome| {
        if let Status::Failed(reason) = &outcome.status {
            bar.suspend(|| eprintln!("{data_name}:{}: {reason}", outcome.line));
        }
        bar.inc(1);
    };
    let started = std::time::Instant::now();
    let fetcher = args.images.fetcher();
    let outcomes = batch::run(&engine, fetcher.as_deref(), rows, &options, &on_done)
        .with_context(|| format!("{}", args.output.display()))?;
    bar.finish_and_clear();
    let summary = batch::Summary::of(&outcomes, started.elapsed());
    let manifest = args
        .manifest
        .unwrap_or_else(|| args.output.join("manifest.csv"));
    batch::write_manifest(&manifest, &outcomes)
        .with_context(|| format!("{}", manifest.display()))?;
    println!("{summary}");
    Ok(summary)
}

fn list_templates(args: EngineArgs) -> anyhow::Result<()> {
    let engine = args.engine()?;
    for template in engine.templates().iter() {
        let m = &template.manifest;
        println!(
            "{} ({}x{}): {}",
            template.name, m.width, m.height, m.description
        );
        for (name, spec) in &m.params {
            use vellum::manifest::ParamKind;
            let kind = match &spec.kind {
                ParamKind::Text { max_chars } => format!("text, max {max_chars} chars"),
                ParamKind::Color => "color".to_string(),
                ParamKind::Number { min, max } => format!("number {min}..{max}"),
                ParamKind::Enum { values } => values.join("|"),
                ParamKind::Bool => "bool".to_string(),
                ParamKind::Image { .. } => "image URL".to_string(),
            };
            let need = match &spec.default {
                Some(default) => format!("default {:?}", default.canonical()),
                None => "required".to_string(),
            };
            println!("  {name:<12} {kind:<28} {need}");
        }
    }
    Ok(())
}

fn sign(args: SignArgs) -> anyhow::Result<()> {
    let signer = args.signing.signer();
    // Only the path and query are signed; an origin in front is kept as given.
    let (origin, path) = match args.url.find("://") {
        Some(scheme_end) => {
            let start = args.url[scheme_end + 3..]
                .find('/')
                .map_or(args.url.len(), |i| scheme_end + 3 + i);
            args.url.split_at(start)
        }
        None => ("", args.url.as_str()),
    };
    anyhow::ensure!(
        path.starts_with('/'),
        "{:?}: expected a path like /og/post.png?title=Hi",
        args.url
    );
    let signed = signer
        .sign(path)
        .context("no signing key: pass --signing-key or set VELLUM_SIGNING_KEYS")?;
    println!("{origin}{signed}");
    Ok(())
}

/// Fetches a job's remote images on a small runtime (most renders have none).
fn fetch_for_cli(
    fetcher: Option<Arc<Fetcher>>,
    job: vellum::Job,
) -> Result<vellum::Job, vellum::RequestError> {
    if job.image_urls().is_empty() {
        return Ok(job);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| vellum::RequestError::Internal(format!("runtime: {e}")))?;
    runtime.block_on(vellum::fetch::fetch_images(fetcher.as_deref(), job))
}
