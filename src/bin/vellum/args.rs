//! The command line: every subcommand's flags (clap), with defaults taken from the library's
//! settings ([`Limits`], [`ServerConfig`]) so that each default is written once.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use vellum::fetch::{AllowList, FetchLimits, Fetcher, ImageDirs, ImageSources};
use vellum::signing::Signer;
use vellum::{Engine, EngineConfig, Limits, ServerConfig};

use crate::bundled::Unpacked;

#[derive(Parser)]
#[command(
    version,
    about = "Render SVG templates to images, from a URL or the command line"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Serve templates over HTTP: GET /og/NAME.png?param=value
    Serve(ServeArgs),
    /// Serve the endpoint and the template studio (http://127.0.0.1:3000/): live previews
    /// from a form, hot reload on every save, copy-ready snippets
    Dev(ServeArgs),
    /// Render one image: vellum render post title="Hello" -o card.png
    Render(RenderArgs),
    /// Render one image per row of a CSV or JSON Lines file:
    /// vellum batch product data.csv -o out --name "{sku}.png"
    Batch(BatchArgs),
    /// List the templates and their parameters; --check reports text no font can draw.
    Templates(TemplatesArgs),
    /// Print a signed URL: vellum sign '/og/post.png?title=Hi' (key from --signing-key)
    Sign(SignArgs),
    /// Exit 0 when a server answers /healthz (for container health checks):
    /// vellum health --addr 127.0.0.1:3000
    Health(HealthArgs),
    /// Turn a design exported as SVG into a template bound by its layers:
    /// vellum import design.svg --name promo
    Import(ImportArgs),
}

#[derive(Args)]
pub struct SigningArgs {
    /// URL signing key; repeat (or comma-separate in the env var) to rotate: the first signs,
    /// any verifies. With a key set, unsigned image URLs get 403.
    #[arg(
        long = "signing-key",
        env = "VELLUM_SIGNING_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub keys: Vec<String>,
}

impl SigningArgs {
    /// The URL signer for these keys (disabled when there are none).
    pub fn signer(&self) -> Signer {
        Signer::new(self.keys.iter().map(|k| k.as_bytes().to_vec()).collect())
    }
}

#[derive(Args)]
pub struct ImageArgs {
    /// Host that `image` params may be fetched from: example.com, example.com:8080 or
    /// *.example.com (subdomains). Repeat or comma-separate. None: remote images are off.
    #[arg(
        long = "allow-image-host",
        env = "VELLUM_ALLOW_IMAGE_HOSTS",
        value_delimiter = ','
    )]
    pub hosts: Vec<String>,
    /// Directory that `image` params may name files in, as a path relative to it
    /// (photos/sku-1.jpg) or an absolute path inside it; ".." and symbolic links out of it
    /// are refused. Repeat or comma-separate. None: local images are off.
    #[arg(long = "image-dir", env = "VELLUM_IMAGE_DIRS", value_delimiter = ',')]
    pub dirs: Vec<PathBuf>,
}

impl ImageArgs {
    /// Where image params may come from: a fetcher for the allowed hosts and a reader for
    /// the image directories, each off when none are given.
    pub fn sources(&self) -> anyhow::Result<ImageSources> {
        let limits = FetchLimits::default();
        let local = match self.dirs.is_empty() {
            true => None,
            false => Some(Arc::new(ImageDirs::new(
                &self.dirs,
                limits.max_bytes,
                limits.max_side,
            )?)),
        };
        let remote = (!self.hosts.is_empty()).then(|| {
            let allow = AllowList::new(self.hosts.iter().cloned());
            Arc::new(Fetcher::new(allow, limits, None))
        });
        Ok(ImageSources { remote, local })
    }
}

#[derive(Args)]
pub struct TemplatesArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Fill each template with its examples and report characters no loaded font can draw
    /// (exit 1 if there are any).
    #[arg(long)]
    pub check: bool,
}

#[derive(Args)]
pub struct HealthArgs {
    /// Address of the server to ask.
    #[arg(long, env = "VELLUM_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 3)]
    pub timeout_secs: u64,
}

#[derive(Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
    /// The design, exported as SVG (Figma, Penpot, Inkscape, Illustrator).
    pub design: PathBuf,
    /// Template name: writes NAME.svg and NAME.toml into the templates directory.
    #[arg(long)]
    pub name: String,
    /// Replace NAME.svg and NAME.toml if they exist.
    #[arg(long)]
    pub force: bool,
}

#[derive(Args)]
pub struct SignArgs {
    #[command(flatten)]
    pub signing: SigningArgs,
    /// The templates (to add the template's version, v=, to an image URL without one).
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Path and query to sign, e.g. /og/post.png?title=Hi (a full http(s) URL also works).
    pub url: String,
}

#[derive(Args)]
pub struct EngineArgs {
    /// Directory of NAME.svg + NAME.toml templates [default: ./templates if it exists, else
    /// the templates bundled in the binary].
    #[arg(long, env = "VELLUM_TEMPLATES")]
    pub templates: Option<PathBuf>,
    /// Directory of fonts (.ttf, .otf, .ttc, .woff, .woff2), searched recursively, that
    /// replaces the default fonts [default: ./fonts if it exists, else the fonts bundled in
    /// the binary].
    #[arg(long, env = "VELLUM_FONTS")]
    pub fonts: Option<PathBuf>,
    /// Directory of more fonts, loaded after the default (or --fonts) ones: your brand's
    /// families, with the bundled emoji and script coverage kept. Repeat or comma-separate.
    #[arg(long = "add-fonts", env = "VELLUM_ADD_FONTS", value_delimiter = ',')]
    pub add_fonts: Vec<PathBuf>,
    /// Also load the machine's fonts, after the bundled ones.
    #[arg(long, env = "VELLUM_SYSTEM_FONTS")]
    pub system_fonts: bool,
    /// Largest output image in pixels (width x height after scale).
    #[arg(long, env = "VELLUM_MAX_PIXELS", default_value_t = Limits::default().max_pixels)]
    pub max_pixels: u64,
    /// Longest query string in bytes (longer gets 414).
    #[arg(long, env = "VELLUM_MAX_QUERY_BYTES", default_value_t = Limits::default().max_query_bytes)]
    pub max_query_bytes: usize,
    /// Most parameters in one request.
    #[arg(long, env = "VELLUM_MAX_PARAMS", default_value_t = Limits::default().max_params)]
    pub max_params: usize,
    /// PNG compression level when a request gives no `compression`: 1 (fastest, largest) to
    /// 9 (slowest, smallest).
    #[arg(
        long,
        env = "VELLUM_PNG_COMPRESSION",
        default_value_t = Limits::default().png_compression,
        value_parser = clap::value_parser!(u8).range(1..=9)
    )]
    pub png_compression: u8,
    /// Highest `compression` a request may ask for.
    #[arg(
        long,
        env = "VELLUM_MAX_PNG_COMPRESSION",
        default_value_t = Limits::default().max_png_compression,
        value_parser = clap::value_parser!(u8).range(1..=9)
    )]
    pub max_png_compression: u8,
}

impl EngineArgs {
    /// Loads the engine these flags describe; fails with the file that is wrong. The bundled
    /// files, when they are used, stay unpacked while the returned guard lives.
    pub fn engine(&self) -> anyhow::Result<(Engine, Option<Unpacked>)> {
        let (config, bundled) = self.config()?;
        let engine = Engine::new(config).context("cannot load templates and fonts")?;
        Ok((engine, bundled))
    }

    /// The directories and limits these flags describe (see [`EngineArgs::engine`]).
    pub fn config(&self) -> anyhow::Result<(EngineConfig, Option<Unpacked>)> {
        let mut bundled = None;
        let mut pick = |given: &Option<PathBuf>, flag: &str, local: &str| match given {
            Some(dir) => {
                anyhow::ensure!(dir.is_dir(), "{flag} {}: no such directory", dir.display());
                Ok(dir.clone())
            }
            None if Path::new(local).is_dir() => Ok(PathBuf::from(local)),
            None => {
                if bundled.is_none() {
                    bundled = Some(Unpacked::new().context("cannot unpack the bundled files")?);
                }
                let unpacked = bundled.as_ref().expect("just unpacked");
                Ok(if local == "templates" {
                    unpacked.templates()
                } else {
                    unpacked.fonts()
                })
            }
        };
        let templates = pick(&self.templates, "--templates", "templates")?;
        let mut font_dirs = vec![pick(&self.fonts, "--fonts", "fonts")?];
        for dir in &self.add_fonts {
            anyhow::ensure!(
                dir.is_dir(),
                "--add-fonts {}: no such directory",
                dir.display()
            );
            font_dirs.push(dir.clone());
        }
        let config = EngineConfig {
            templates_dir: templates,
            font_dirs,
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
        Ok((config, bundled))
    }
}

#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Address to listen on.
    #[arg(long, env = "VELLUM_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    /// Cache budget in MiB: everything kept between requests. Rendered images, and found
    /// backgrounds, request targets, glyph masks, shrunk photos, buffers photos are decoded
    /// into and the render scratch (108 MiB of it, at most half).
    #[arg(long, env = "VELLUM_CACHE_MB", default_value_t = ServerConfig::default().cache_bytes >> 20)]
    pub cache_mb: usize,
    /// Renders running at once [default: number of cores].
    #[arg(long, env = "VELLUM_MAX_RENDERS")]
    pub max_renders: Option<usize>,
    /// Seconds a request waits for a render slot before it gets 503.
    #[arg(long, env = "VELLUM_RENDER_WAIT_SECS", default_value_t = ServerConfig::default().render_wait.as_secs())]
    pub render_wait_secs: u64,
    /// Seconds a client may take to send its request headers.
    #[arg(long, env = "VELLUM_HEADER_READ_TIMEOUT_SECS", default_value_t = ServerConfig::default().header_read_timeout.as_secs())]
    pub header_read_timeout_secs: u64,
    /// Seconds one request may take before it is answered 503.
    #[arg(long, env = "VELLUM_REQUEST_DEADLINE_SECS", default_value_t = ServerConfig::default().request_deadline.as_secs())]
    pub request_deadline_secs: u64,
    /// Most connections open at once (more wait to be accepted).
    #[arg(long, env = "VELLUM_MAX_CONNECTIONS", default_value_t = ServerConfig::default().max_connections)]
    pub max_connections: usize,
    /// Cache-Control max-age, in seconds, for images whose URL names the current template
    /// version (v=), served immutable.
    #[arg(long, env = "VELLUM_MAX_AGE", default_value_t = ServerConfig::default().max_age)]
    pub max_age: u64,
    /// Cache-Control max-age, in seconds, for images whose URL names no template version:
    /// how long an edit may take to reach caches.
    #[arg(long, env = "VELLUM_UNVERSIONED_MAX_AGE", default_value_t = ServerConfig::default().unversioned_max_age)]
    pub unversioned_max_age: u64,
    /// stale-while-revalidate, in seconds, for images whose URL names no template version.
    #[arg(long, env = "VELLUM_STALE_WHILE_REVALIDATE", default_value_t = ServerConfig::default().stale_while_revalidate)]
    pub stale_while_revalidate: u64,
    /// Largest POST /render body in bytes (larger gets 413).
    #[arg(long, env = "VELLUM_MAX_BODY_BYTES", default_value_t = ServerConfig::default().max_body_bytes)]
    pub max_body_bytes: usize,
    /// Origin put in front of the image URLs POST /render returns, e.g.
    /// https://img.example.com [default: http:// and the request's Host].
    #[arg(long, env = "VELLUM_PUBLIC_URL")]
    pub public_url: Option<String>,
    #[command(flatten)]
    pub signing: SigningArgs,
    #[command(flatten)]
    pub images: ImageArgs,
}

#[derive(Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub images: ImageArgs,
    /// Template name.
    pub template: String,
    /// Parameters as key=value (also size=square, scale=2, quality=80 for .jpg).
    pub params: Vec<String>,
    /// Output file; its extension picks the format (png, jpg, webp, svg). `-` writes PNG to stdout.
    #[arg(short, long)]
    pub output: PathBuf,
}

#[derive(Args)]
pub struct BatchArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub images: ImageArgs,
    /// Template name.
    pub template: String,
    /// Rows: .csv (header row = param names; empty cells take the default) or .jsonl.
    pub data: PathBuf,
    /// Output directory (created if missing).
    #[arg(short, long)]
    pub output: PathBuf,
    /// File name pattern: {column} is a row's value (made file-safe), {row} its number.
    /// Its extension picks the format unless --format is given; without one, the format's
    /// extension is added.
    #[arg(long, default_value = "{row}")]
    pub name: String,
    /// Output format: png, jpg, webp, svg or pdf [default: from --name, else png].
    #[arg(long)]
    pub format: Option<String>,
    /// The template's size for every row, by name (rows may instead have a `size` column)
    /// [default: the template's default size].
    #[arg(long)]
    pub size: Option<String>,
    /// Output scale for every row, as the URL's scale (0.1 to 4).
    #[arg(long)]
    pub scale: Option<String>,
    /// JPEG or lossy WebP quality for every row (1 to 100).
    #[arg(long)]
    pub quality: Option<String>,
    /// Lossless WebP for every row.
    #[arg(long, conflicts_with = "quality")]
    pub lossless: bool,
    /// Skip rows whose output file exists and is newer than the template.
    #[arg(long, conflicts_with = "pdf")]
    pub resume: bool,
    /// Write every row as a page of one PDF, this file under OUTPUT, in row order, instead
    /// of a file per row.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["name", "format", "quality", "lossless"])]
    pub pdf: Option<PathBuf>,
    /// Render only share K of N (1-based): row i goes to share i mod N, so N machines split
    /// one data file with no coordinator; their reports together list every row once.
    #[arg(long, value_name = "K/N", value_parser = vellum::batch::Shard::parse)]
    pub shard: Option<vellum::batch::Shard>,
    /// Render threads [default: number of cores].
    #[arg(short, long)]
    pub jobs: Option<usize>,
    /// Where to write the run's report, a line per row (.csv, or .json) [default:
    /// OUTPUT/manifest.csv].
    #[arg(long)]
    pub manifest: Option<PathBuf>,
}

impl ServeArgs {
    /// The server's settings from these flags; fails on an image directory that is missing.
    pub fn server_config(&self) -> anyhow::Result<ServerConfig> {
        let defaults = ServerConfig::default();
        Ok(ServerConfig {
            cache_bytes: self.cache_mb.saturating_mul(1024 * 1024),
            max_renders: self.max_renders.unwrap_or(defaults.max_renders),
            render_wait: std::time::Duration::from_secs(self.render_wait_secs),
            header_read_timeout: std::time::Duration::from_secs(self.header_read_timeout_secs),
            request_deadline: std::time::Duration::from_secs(self.request_deadline_secs),
            max_connections: self.max_connections,
            max_age: self.max_age,
            unversioned_max_age: self.unversioned_max_age,
            stale_while_revalidate: self.stale_while_revalidate,
            signer: self.signing.signer(),
            images: self.images.sources()?,
            max_body_bytes: self.max_body_bytes,
            public_url: self.public_url.clone(),
            ..defaults
        })
    }
}
