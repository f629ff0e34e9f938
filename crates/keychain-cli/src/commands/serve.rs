//! `keychain serve`: the backend's keys over the AWS KMS API. The server is
//! `keychain-server`; this parses the options, prints the one ready line and waits for a
//! signal to stop.

use std::io::Write;
use std::net::SocketAddr;

use keychain::{Error, Result};
use keychain_server::{Credentials, Server, ServerConfig};

use super::{Context, Outcome};
use crate::cli::ServeArgs;

/// Runs `keychain serve` until SIGINT or SIGTERM.
pub async fn run(ctx: &Context, args: ServeArgs) -> Result<Outcome> {
    let listen: SocketAddr = args.listen.parse().map_err(|_| {
        Error::invalid_input(format!(
            "--listen {:?} is not IP:PORT (for example 127.0.0.1:8080)",
            args.listen
        ))
    })?;
    let mut config = ServerConfig::new(listen, ctx.keychain.clone());
    if let Some(path) = &args.credentials {
        config = config.credentials(Credentials::from_file(path)?);
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        config = config.tls(cert, key);
    }
    let server = Server::bind(config).await?;
    let scheme = if server.is_tls() { "https" } else { "http" };
    let stop = stop_signal()?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on {scheme}://{}", server.local_addr())
            .and_then(|()| stdout.flush())
            .map_err(|e| Error::io("writing the ready line", e))?;
    }
    server.serve(stop).await?;
    Ok(Outcome::Success)
}

/// A future that completes on the first SIGINT or SIGTERM (installed before the server says
/// it is ready, so no signal is missed).
fn stop_signal() -> Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut int = signal(SignalKind::interrupt())
            .map_err(|e| Error::io("installing the SIGINT handler", e))?;
        let mut term = signal(SignalKind::terminate())
            .map_err(|e| Error::io("installing the SIGTERM handler", e))?;
        Ok(async move {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
