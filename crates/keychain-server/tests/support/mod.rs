//! A `keychain serve` in this process, over a fresh software keystore, on a free loopback
//! port; and clients of it that are not ours (aws-sdk-kms) and ours (the awskms backend).

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use keychain::Keychain;
use keychain::awskms::{AwsKmsBackend, AwsKmsConfig};
use keychain::software::SoftwareBackend;
use keychain_server::{Server, ServerConfig};
use tokio::sync::oneshot;

/// The region the tests sign for.
pub const REGION: &str = "us-east-1";

/// A running server; stopped (and its keystore removed) when dropped.
pub struct Served {
    pub addr: SocketAddr,
    pub keystore: std::path::PathBuf,
    pub keychain: Keychain,
    stop: Option<oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Served {
    /// `http://ADDR`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// An aws-sdk-kms client signing as `access_key`/`secret` for `region`.
    pub fn sdk_as(&self, access_key: &str, secret: &str, region: &str) -> aws_sdk_kms::Client {
        let config = aws_sdk_kms::Config::builder()
            .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
            .region(aws_sdk_kms::config::Region::new(region.to_string()))
            .endpoint_url(self.endpoint())
            .credentials_provider(aws_sdk_kms::config::Credentials::new(
                access_key, secret, None, None, "test",
            ))
            .retry_config(aws_sdk_kms::config::retry::RetryConfig::disabled())
            .build();
        aws_sdk_kms::Client::from_conf(config)
    }

    /// An aws-sdk-kms client with the test credentials.
    pub fn sdk(&self) -> aws_sdk_kms::Client {
        self.sdk_as("test", "test", REGION)
    }

    /// Stops the server (its keystore stays until `self` is dropped).
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Our AWS KMS backend, on this server.
    pub async fn awskms(&self) -> AwsKmsBackend {
        let config = AwsKmsConfig::new()
            .region(REGION)
            .endpoint(self.endpoint())
            .static_credentials("test", "test", None)
            .initial_backoff(Duration::from_millis(20));
        AwsKmsBackend::new(config)
            .await
            .unwrap_or_else(|e| panic!("connecting to keychain serve at {}: {e}", self.addr))
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts a server over a new software keystore.
pub async fn serve() -> Served {
    serve_with(|c| c).await
}

/// Starts a server over a new software keystore, its configuration adjusted by `adjust`.
pub async fn serve_with(adjust: impl FnOnce(ServerConfig) -> ServerConfig) -> Served {
    let (dir, config) = keychain_testkit::temp_keystore();
    start(config, dir, adjust).await
}

/// Opens the keystore of `config` and serves it; `dir` is removed when the server is dropped.
async fn start(
    config: keychain::software::SoftwareConfig,
    dir: tempfile::TempDir,
    adjust: impl FnOnce(ServerConfig) -> ServerConfig,
) -> Served {
    let keystore = config.path.clone();
    let backend = SoftwareBackend::open(config)
        .await
        .unwrap_or_else(|e| panic!("opening a test keystore: {e}"));
    let keychain = Keychain::new(backend);
    let listen: SocketAddr = ([127, 0, 0, 1], 0).into();
    let server = Server::bind(adjust(ServerConfig::new(listen, keychain.clone())))
        .await
        .unwrap_or_else(|e| panic!("binding the server: {e}"));
    let addr = server.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(server.serve(async move {
        let _ = stopped.await;
    }));
    Served {
        addr,
        keystore,
        keychain,
        stop: Some(stop),
        _dir: dir,
    }
}

/// Starts a server over the existing keystore at `keystore` (as a restart over the same
/// directory would): nothing of an earlier server's memory carries over.
pub async fn serve_existing(keystore: &std::path::Path) -> Served {
    let config = keychain::software::SoftwareConfig::new(keystore)
        .password(keychain_testkit::PASSWORD)
        .kdf_iterations(keychain_testkit::ITERATIONS);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    start(config, dir, |c| c).await
}
