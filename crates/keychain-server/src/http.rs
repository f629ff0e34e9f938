//! The listener: plain HTTP or HTTPS (rustls), one task per connection, and a clean stop that
//! lets requests in flight finish.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use keychain::{Error, Result};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

use crate::credentials::Credentials;
use crate::protocol::KmsService;
use crate::{ServerConfig, TlsFiles};

/// How long requests in flight may take to finish after a stop is asked for.
const DRAIN: Duration = Duration::from_secs(10);
/// How long a client may take to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// A bound KMS server: [`Server::bind`], then [`Server::serve`].
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    tls: Option<TlsAcceptor>,
    service: KmsService,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Binds the listening socket. Without configured credentials (the `test`/`test`
    /// default) a non-loopback address is refused; TLS files are read and checked now.
    pub async fn bind(config: ServerConfig) -> Result<Server> {
        let credentials = match config.credentials {
            Some(c) => c,
            None => Credentials::loopback_test(),
        };
        if credentials.is_test_only() && !config.listen.ip().is_loopback() {
            return Err(Error::invalid_input(format!(
                "refusing to serve the test credentials on {}, which is not a loopback \
                 address: pass --credentials FILE",
                config.listen.ip()
            )));
        }
        let tls = config.tls.as_ref().map(tls_acceptor).transpose()?;
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| Error::io(format!("listening on {}", config.listen), e))?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| Error::io("reading the bound address", e))?;
        Ok(Server {
            listener,
            local_addr,
            tls,
            service: KmsService::new(&config.keychain, credentials),
        })
    }

    /// The address actually bound (the free port chosen for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Whether the server speaks HTTPS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Serves until `shutdown` completes, then stops accepting, lets requests in flight finish
    /// (for up to 10 seconds) and returns.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> Result<()> {
        let graceful = GracefulShutdown::new();
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                () = &mut shutdown => break,
                accepted = self.listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // A transient failure (too many open files, a reset before accept):
                        // keep serving the others.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            let kms = self.service.clone();
            let service = service_fn(move |request| {
                let kms = kms.clone();
                async move { Ok::<_, std::convert::Infallible>(kms.handle(request).await) }
            });
            let mut builder = http1::Builder::new();
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT);
            match &self.tls {
                None => {
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    let conn = graceful.watch(conn);
                    tokio::spawn(async move {
                        if let Err(e) = conn.await {
                            tracing::debug!(%peer, error = %e, "connection ended");
                        }
                    });
                }
                Some(acceptor) => {
                    let acceptor = acceptor.clone();
                    let watcher = graceful.watcher();
                    tokio::spawn(async move {
                        // A client that never finishes its handshake does not keep the task.
                        let stream =
                            match tokio::time::timeout(HEADER_TIMEOUT, acceptor.accept(stream))
                                .await
                            {
                                Ok(Ok(s)) => s,
                                Ok(Err(e)) => {
                                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                                    return;
                                }
                                Err(_) => {
                                    tracing::debug!(%peer, "TLS handshake timed out");
                                    return;
                                }
                            };
                        let conn = builder.serve_connection(TokioIo::new(stream), service);
                        if let Err(e) = watcher.watch(conn).await {
                            tracing::debug!(%peer, error = %e, "connection ended");
                        }
                    });
                }
            }
        }
        drop(self.listener);
        if tokio::time::timeout(DRAIN, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("requests still running after {DRAIN:?}; stopping anyway");
        }
        Ok(())
    }
}

/// A TLS acceptor for the PEM certificate chain and key.
fn tls_acceptor(files: &TlsFiles) -> Result<TlsAcceptor> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|it| it.collect::<std::result::Result<_, _>>())
        .map_err(|e| {
            Error::invalid_input(format!("TLS certificate {}: {e}", files.cert.display()))
        })?;
    if certs.is_empty() {
        return Err(Error::invalid_input(format!(
            "TLS certificate {}: no CERTIFICATE block",
            files.cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| Error::invalid_input(format!("TLS key {}: {e}", files.key.display())))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(certs, key))
        .map_err(|e| {
            Error::invalid_input(format!(
                "TLS certificate {} and key {}: {e}",
                files.cert.display(),
                files.key.display()
            ))
        })?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
