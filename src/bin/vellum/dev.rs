//! `vellum dev`: the endpoint plus the template studio, reloading on every save.

use std::sync::Arc;

use anyhow::Context as _;
use vellum::Engine;
use vellum::server::Server;
use vellum::studio::Studio;

use crate::args::ServeArgs;

/// Loads what loads (a broken template is shown in the studio, not fatal), serves the studio
/// and watches the template and font directories until SIGINT or SIGTERM.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let (config, _bundled) = args.engine.config()?;
    let mut watched = vec![config.templates_dir.clone()];
    watched.extend(config.font_dirs.iter().cloned());
    let (engine, problems) =
        Engine::new_lenient(config).context("cannot load templates and fonts")?;
    for problem in &problems {
        tracing::warn!(problem = %problem, "template left out until it is fixed");
    }
    let mut server_config = args.server_config()?;
    server_config.studio = Some(Arc::new(Studio::new(problems)));
    if !args.addr.ip().is_loopback() {
        tracing::warn!(
            addr = %args.addr,
            "the studio is reachable from the network: it renders unsigned, shows errors in \
             full and signs URLs for anyone who asks; bind it to 127.0.0.1 unless you mean it"
        );
    }
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let server = Server::bind(args.addr, Arc::new(engine), server_config)
            .await
            .with_context(|| format!("cannot listen on {}", args.addr))?;
        let addr = server.local_addr()?;
        let _watcher = vellum::studio::watch::watch(server.state(), &watched)
            .context("cannot watch the template and font directories")?;
        tracing::info!("studio at http://{addr}/ (watching templates and fonts)");
        server.run(vellum::server::shutdown_signal()).await;
        Ok(())
    })
}
