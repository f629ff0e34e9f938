//! The backends a plugin run talks to, opened once per backend URI, and the async runtime
//! their calls run on (the age plugin protocol is synchronous).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use age_core::secrecy::ExposeSecret;
use keychain::software::{
    OpenMode, PASSWORD_ENV, PASSWORD_FILE_ENV, SoftwareBackend, SoftwareConfig,
    password_from_env_file,
};
use keychain::{BackendUri, Error, Keychain, Result, Secret, is_control_or_invisible};

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

/// An error as the plugin reports it to age, which prints it after `keychain plugin:`: the
/// error's message without the `invalid input:` kind prefix (age's user gets what is
/// wrong, not our error taxonomy), as one line.
pub fn plugin_message(e: &Error) -> String {
    match e {
        Error::InvalidInput { message } => one_line(message),
        other => one_line(&other.to_string()),
    }
}

/// `message` as one printable line. age prints a plugin's message as it gets it, and some
/// messages span lines (the AWS SDK lists every credential provider it tried, one a line)
/// or carry text from elsewhere (a server's error message): line breaks and other runs of
/// whitespace become one space, and control or invisible characters are shown escaped
/// (`\u{1b}`) so nothing reaches the terminal raw.
fn one_line(message: &str) -> String {
    let mut line = String::with_capacity(message.len());
    for word in message.split_whitespace() {
        if !line.is_empty() {
            line.push(' ');
        }
        for c in word.chars() {
            if is_control_or_invisible(c) {
                line.extend(c.escape_unicode());
            } else {
                line.push(c);
            }
        }
    }
    line
}

/// The opened backends, by backend URI.
pub struct Session {
    runtime: tokio::runtime::Runtime,
    backends: HashMap<String, Arc<Keychain>>,
    /// Keystores whose password prompt got no answer in this run.
    declined: Vec<PathBuf>,
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
            declined: Vec::new(),
        })
    }

    /// Runs a backend call to its end.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// The backend `uri` names, opened on first use. A software keystore's password comes,
    /// as for the CLI, from the first line of the file `KEYCHAIN_PASSWORD_FILE` names, else
    /// from `KEYCHAIN_PASSWORD`, else from `prompt`. A prompt that got no password is not
    /// asked again in the same run.
    pub fn backend(&mut self, uri: &str, prompt: &mut PasswordPrompt<'_>) -> Result<Arc<Keychain>> {
        if let Some(keychain) = self.backends.get(uri) {
            return Ok(keychain.clone());
        }
        let parsed = BackendUri::parse(uri)?;
        let keychain = match parsed {
            BackendUri::Software { path } => {
                let mut config = SoftwareConfig::from_parsed(path)?.mode(OpenMode::Open);
                if let Some(password) = password_from_env_file()? {
                    config.password = Some(password);
                } else if std::env::var_os(PASSWORD_ENV).is_none() {
                    config.password = Some(self.ask(&config.path, prompt)?);
                }
                // Unwrapping draws randomness (AES-GCM nonces, RSA blinding): seed the
                // generator while the keystore's key derivation runs.
                keychain::warm_up_random();
                Keychain::new(self.block_on(SoftwareBackend::open(config))?)
            }
            other => self.block_on(Keychain::open_parsed(other, OpenMode::Open))?,
        };
        let keychain = Arc::new(keychain);
        self.backends.insert(uri.to_string(), keychain.clone());
        Ok(keychain)
    }

    /// The password of the keystore at `path`, asked through age. No answer (the user
    /// declined the prompt, gave an empty one, or age has no terminal to ask on) is one
    /// error line saying how else to give it, and the keystore is not asked for again.
    fn ask(&mut self, path: &Path, prompt: &mut PasswordPrompt<'_>) -> Result<Secret> {
        let declined = || {
            Error::invalid_input(format!(
                "no password for the keychain keystore {}: the prompt got none (declined, \
                 empty, or no terminal to ask on); set {PASSWORD_FILE_ENV} or {PASSWORD_ENV} \
                 to give it without a prompt",
                path.display()
            ))
        };
        if self.declined.iter().any(|p| p == path) {
            return Err(declined());
        }
        let message = format!("Password of the keychain keystore {}:", path.display());
        match prompt(&message).map_err(|e| Error::io("asking age for the keystore password", e))? {
            Some(password) if !password.expose().is_empty() => Ok(password),
            _ => {
                self.declined.push(path.to_path_buf());
                Err(declined())
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_messages_are_one_printable_line() {
        let e = Error::invalid_input(
            "no credentials found in chain. Attempted:\n  Environment: not set\r\n\tProfile: none\n",
        );
        assert_eq!(
            plugin_message(&e),
            "no credentials found in chain. Attempted: Environment: not set Profile: none"
        );
        let e = Error::crypto("a server said \u{1b}[2J and \u{202e}this");
        let line = plugin_message(&e);
        assert!(!line.chars().any(is_control_or_invisible), "{line:?}");
        assert!(
            line.contains("\\u{1b}[2J") && line.contains("\\u{202e}this"),
            "{line}"
        );
    }
}
