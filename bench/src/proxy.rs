//! A loopback TCP forwarder that adds a fixed delay to every request, so an emulator on the
//! same machine answers like a service across a network. The first bytes a client sends after
//! the previous response began (that is, each new HTTP request on a kept-alive connection) wait
//! `delay` before they are forwarded; everything else passes through at once. It runs on its
//! own thread and runtime, so the clients being measured do not schedule it.

use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::{Opts, Res};

/// A running proxy; it lives as long as the process.
#[derive(Debug, Clone)]
pub struct DelayProxy {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    new_request: Arc<AtomicBool>,
    delay: Option<Duration>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        match delay {
            // Client to server: delay the first bytes of each request.
            Some(d) => {
                if new_request.swap(false, Ordering::SeqCst) {
                    tokio::time::sleep(d).await;
                }
            }
            // Server to client: a response has begun, so the client's next bytes are a new
            // request.
            None => new_request.store(true, Ordering::SeqCst),
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

async fn serve(listener: TcpListener, upstream: SocketAddr, delay: Duration) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect(upstream).await else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (cr, cw) = client.into_split();
            let (sr, sw) = server.into_split();
            let new_request = Arc::new(AtomicBool::new(true));
            tokio::spawn(pipe(cr, sw, new_request.clone(), Some(delay)));
            tokio::spawn(pipe(sr, cw, new_request, None));
        });
    }
}

/// Starts a proxy on a free loopback port in front of `upstream`.
pub fn start(upstream: SocketAddr, delay: Duration) -> Res<DelayProxy> {
    let listener = StdListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    listener.set_nonblocking(true)?;
    let port = listener.local_addr()?.port();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("delay-proxy".into())
        .spawn(move || {
            rt.block_on(async move {
                match TcpListener::from_std(listener) {
                    Ok(l) => serve(l, upstream, delay).await,
                    Err(e) => eprintln!("delay proxy: {e}"),
                }
            });
        })?;
    Ok(DelayProxy {
        endpoint: format!("http://127.0.0.1:{port}"),
    })
}

/// `keychain-bench proxy --upstream HOST:PORT --delay-ms D [--listen PORT]`: runs the proxy
/// in the foreground, for trying it by hand.
pub fn run_standalone(opts: &Opts) -> Res<()> {
    let upstream: SocketAddr = opts
        .str("upstream")
        .ok_or("--upstream HOST:PORT is required")?
        .parse()?;
    let delay = Duration::from_millis(opts.get("delay-ms", 20)?);
    let port: u16 = opts.get("listen", 0)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
        eprintln!(
            "delay proxy on {} -> {upstream}, {delay:?} per request",
            listener.local_addr()?
        );
        serve(listener, upstream, delay).await;
        Ok(())
    })
}
