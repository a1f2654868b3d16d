//! `vellum health`: asks a server's `/healthz`, for container health checks.

use std::process::ExitCode;

use crate::args::HealthArgs;

/// Exit codes: 0 the server answered `/healthz` with `200 ok`, 1 it did not (said why).
pub fn run(args: HealthArgs) -> ExitCode {
    use http_body_util::{BodyExt as _, Empty};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let url = format!("http://{}/healthz", args.addr);
    let ask = async {
        let client = Client::builder(TokioExecutor::new()).build_http::<Empty<bytes::Bytes>>();
        let response = client.get(url.parse()?).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        anyhow::ensure!(
            status == hyper::StatusCode::OK && body.as_ref() == b"ok\n",
            "answered {status}"
        );
        anyhow::Ok(())
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("vellum: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let timeout = std::time::Duration::from_secs(args.timeout_secs);
    match runtime.block_on(async { tokio::time::timeout(timeout, ask).await }) {
        Ok(Ok(())) => {
            println!("{url}: ok");
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            eprintln!("vellum: {url}: {e:#}");
            ExitCode::from(1)
        }
        Err(_) => {
            eprintln!("vellum: {url}: no answer within {} s", args.timeout_secs);
            ExitCode::from(1)
        }
    }
}
