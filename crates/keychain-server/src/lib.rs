//! # keychain-server
//!
//! An AWS KMS compatible server over the keys of a keychain backend: the KMS JSON 1.1
//! protocol (`POST /`, `X-Amz-Target: TrentService.<Operation>`,
//! `application/x-amz-json-1.1`) with every request's SigV4 signature verified, so the AWS
//! CLI, boto3, the AWS SDKs and keychain's own `awskms` backend work against it unchanged.
//!
//! The server holds no crypto policy of its own: every operation is a call on the
//! [`keychain::Backend`] it serves, and its answers and errors are that backend's, spelled
//! as KMS spells them.
//!
//! ```no_run
//! # async fn demo() -> keychain::Result<()> {
//! use keychain_server::{Server, ServerConfig};
//! let keychain = keychain::Keychain::open("software:/tmp/keystore").await?;
//! let server = Server::bind(ServerConfig::new("127.0.0.1:0".parse().unwrap(), keychain)).await?;
//! println!("listening on http://{}", server.local_addr());
//! server.serve(async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod arn;
mod auth;
mod credentials;
mod errors;
mod http;
mod metadata;
mod ops;
mod protocol;
mod wire;

use std::net::SocketAddr;
use std::path::PathBuf;

pub use crate::credentials::{Credential, Credentials};
pub use crate::http::Server;
pub use crate::protocol::KmsService;

/// How to run a [`Server`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// The keys served.
    pub keychain: keychain::Keychain,
    /// Who may call; [`Credentials::loopback_test`] (`test`/`test`, account
    /// `000000000000`) when `None`, accepted on a loopback address only.
    pub credentials: Option<Credentials>,
    /// A PEM certificate chain and private key for HTTPS; plain HTTP when `None`.
    pub tls: Option<TlsFiles>,
}

/// The PEM files of an HTTPS server.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

impl ServerConfig {
    /// A plain-HTTP server of `keychain` on `listen` with the test credentials.
    pub fn new(listen: SocketAddr, keychain: keychain::Keychain) -> Self {
        ServerConfig {
            listen,
            keychain,
            credentials: None,
            tls: None,
        }
    }

    /// Sets the accepted credentials.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Serves HTTPS with these PEM files.
    pub fn tls(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.tls = Some(TlsFiles {
            cert: cert.into(),
            key: key.into(),
        });
        self
    }
}
