//! The HTTP server: binds, accepts connections with hyper, and shuts down gracefully.
//!
//! Request handling lives in [`crate::handler`] (routes) over [`crate::state`] (cache and
//! render slots); this file is only sockets and lifecycle. Settings are [`ServerConfig`].

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::engine::Engine;
use crate::handler;
use crate::state::State;

pub use crate::config::ServerConfig;

/// A bound, not yet running server.
pub struct Server {
    listener: TcpListener,
    state: Arc<State>,
    config: ServerConfig,
}

impl Server {
    /// Binds `addr` (use port 0 for an ephemeral port).
    pub async fn bind(
        addr: SocketAddr,
        engine: Arc<Engine>,
        config: ServerConfig,
    ) -> std::io::Result<Server> {
        let listener = TcpListener::bind(addr).await?;
        let state = Arc::new(State::new(engine, &config));
        Ok(Server {
            listener,
            state,
            config,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The shared state (engine, cache, counters), for reloads and tests.
    pub fn state(&self) -> Arc<State> {
        self.state.clone()
    }

    /// Serves until `shutdown` completes, then lets open requests finish (up to the grace
    /// period).
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.config.header_read_timeout);
        builder.http2().timer(TokioTimer::new());
        let graceful = GracefulShutdown::new();
        let connections = Arc::new(Semaphore::new(self.config.max_connections.max(1)));
        tokio::pin!(shutdown);
        loop {
            // At the connection limit, stop accepting until one closes (clients queue in the
            // kernel's backlog rather than being refused).
            let slot = tokio::select! {
                slot = connections.clone().acquire_owned() => slot,
                () = &mut shutdown => break,
            };
            let Ok(slot) = slot else { break };
            tokio::select! {
                accepted = self.listener.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(conn) => conn,
                        Err(e) => {
                            // Out of file descriptors and the like: back off, keep serving.
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let state = self.state.clone();
                    let service = service_fn(move |req| handler::handle(state.clone(), req));
                    let conn = builder.serve_connection(TokioIo::new(stream), service).into_owned();
                    let conn = graceful.watch(conn);
                    tokio::spawn(async move {
                        if let Err(e) = conn.await {
                            tracing::debug!(%peer, error = %e, "connection ended with an error");
                        }
                        drop(slot);
                    });
                }
                () = &mut shutdown => break,
            }
        }
        drop(self.listener);
        if let Some(studio) = self.state.studio() {
            studio.close();
        }
        if tokio::time::timeout(self.config.shutdown_grace, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("shutdown grace period over; dropping open connections");
        }
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
