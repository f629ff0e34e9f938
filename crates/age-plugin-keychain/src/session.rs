//! The backends a plugin run talks to, opened once per backend URI, and the async runtime
//! their calls run on (the age plugin protocol is synchronous).

use std::collections::HashMap;
use std::sync::Arc;

use age_core::secrecy::ExposeSecret;
use keychain::software::{OpenMode, PASSWORD_ENV, SoftwareBackend, SoftwareConfig};
use keychain::{BackendUri, Error, Keychain, Result, Secret};

/// Asks the user for the keystore password through age (the plugin protocol's
/// `request-secret`): `Ok(None)` when age cannot ask.
pub type PasswordPrompt<'a> = dyn FnMut(&str) -> std::io::Result<Option<Secret>> + 'a;

/// The password prompt of a plugin run, through age.
pub fn ask_age<E>(
    callbacks: &mut impl age_plugin::Callbacks<E>,
    message: &str,
) -> std::io::Result<Option<Secret>> {
    Ok(callbacks
        .request_secret(message)?
        .ok()
        .map(|s| Secret::new(s.expose_secret().as_bytes().to_vec())))
}

/// The opened backends, by backend URI.
pub struct Session {
    runtime: tokio::runtime::Runtime,
    backends: HashMap<String, Arc<Keychain>>,
}

impl Session {
    /// A session with no backend open yet.
    pub fn new() -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(Session {
            runtime,
            backends: HashMap::new(),
        })
    }

    /// Runs a backend call to its end.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// The backend `uri` names, opened on first use. A software keystore's password comes
    /// from `KEYCHAIN_PASSWORD`, else from `prompt`.
    pub fn backend(&mut self, uri: &str, prompt: &mut PasswordPrompt<'_>) -> Result<Arc<Keychain>> {
        if let Some(keychain) = self.backends.get(uri) {
            return Ok(keychain.clone());
        }
        let parsed = BackendUri::parse(uri)?;
        let keychain = match parsed {
            BackendUri::Software { path } => {
                let mut config = SoftwareConfig::from_parsed(path)?.mode(OpenMode::Open);
                if std::env::var_os(PASSWORD_ENV).is_none() {
                    let message = format!(
                        "Password of the keychain keystore {}:",
                        config.path.display()
                    );
                    let password = prompt(&message)
                        .map_err(|e| Error::io("asking age for the keystore password", e))?
                        .ok_or_else(|| {
                            Error::invalid_input(format!(
                                "the software keystore {} needs a password: set {PASSWORD_ENV} \
                                 or run age on a terminal to be asked",
                                config.path.display()
                            ))
                        })?;
                    config.password = Some(password);
                }
                Keychain::new(self.block_on(SoftwareBackend::open(config))?)
            }
            other => self.block_on(Keychain::open_parsed(other, OpenMode::Open))?,
        };
        let keychain = Arc::new(keychain);
        self.backends.insert(uri.to_string(), keychain.clone());
        Ok(keychain)
    }

    /// Releases every backend.
    pub fn close(&mut self) {
        for (_, keychain) in self.backends.drain() {
            // A failure to release is not the user's concern once the work is done.
            let _ = self.runtime.block_on(keychain.close());
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.close();
    }
}
