//! `keychain ssh-agent`: the socket (made 0600 in a private directory, never over a user's
//! file), the keys served, the startup line, and serving until a signal.
//!
//! SIGINT and SIGTERM are handled by the process-wide watch (`temps`): the socket is
//! registered there, so it is removed before the process exits with 128 + the signal.

use std::fs;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use keychain::ssh::{Agent, ServedKey, openssh_public_key, ssh_key_data};
use keychain::{Error, KeyFamily, KeyInfo, KeyState, KeyUsage, PageRequest, Result};
use serde_json::json;

use super::{Context, Outcome};
use crate::cli::SshAgentArgs;
use crate::temps;

/// Whether OpenSSH has a key type for this key: Ed25519, ECDSA on the NIST curves, RSA.
fn ssh_capable(info: &KeyInfo) -> bool {
    info.usage == KeyUsage::SignVerify
        && info.state == KeyState::Enabled
        && match info.spec.family() {
            KeyFamily::Ed25519 | KeyFamily::Rsa(_) => true,
            KeyFamily::Ec(curve) => curve != keychain::Curve::Secp256k1,
            _ => false,
        }
}

/// The keys to serve, with their OpenSSH lines: those named, or every enabled SSH-capable
/// signing key.
async fn served_keys(ctx: &Context, names: &[String]) -> Result<Vec<(ServedKey, String)>> {
    let mut names = names.to_vec();
    if names.is_empty() {
        let mut marker = None;
        loop {
            let page = ctx
                .keychain
                .backend()
                .list_keys(&PageRequest {
                    limit: None,
                    marker: marker.clone(),
                })
                .await?;
            names.extend(
                page.items
                    .iter()
                    .filter(|info| ssh_capable(info))
                    .map(|info| info.name.clone().unwrap_or_else(|| info.key_id.clone())),
            );
            match page.next_marker {
                Some(next) if Some(&next) != marker.as_ref() => marker = Some(next),
                _ => break,
            }
        }
    }
    let mut keys = Vec::with_capacity(names.len());
    for name in names {
        let public_key = ctx.keychain.public_key(&name).await?;
        // The same line `keychain ssh pubkey NAME` prints, so a name it refuses is refused.
        let line = openssh_public_key(&public_key, &name)?;
        keys.push((
            ServedKey {
                key_data: ssh_key_data(&public_key)?,
                name,
            },
            line,
        ));
    }
    Ok(keys)
}

/// Makes sure `path` can become the agent's socket: its directory exists (made 0700) and is
/// closed to other users, and nothing is at `path` but a stale socket (removed). Any other
/// file there is refused and left alone.
fn prepare_socket(path: &Path) -> Result<()> {
    let shown = path.display().to_string();
    if shown.chars().any(keychain::is_control_or_invisible) {
        return Err(Error::invalid_input(
            "the --socket path may not hold control characters",
        ));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    match fs::metadata(&dir) {
        Err(e) if e.kind() == ErrorKind::NotFound => fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?,
        Err(e) => return Err(Error::io(format!("reading {}", dir.display()), e)),
        Ok(m) if !m.is_dir() => {
            return Err(Error::invalid_input(format!(
                "{} is not a directory",
                dir.display()
            )));
        }
        Ok(m) if m.permissions().mode() & 0o077 != 0 => {
            return Err(Error::invalid_input(format!(
                "the socket's directory {} is open to other users (mode {:o}); put the socket \
                 in a directory only you can enter (0700)",
                dir.display(),
                m.permissions().mode() & 0o777
            )));
        }
        Ok(_) => {}
    }
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(format!("reading {shown}"), e)),
        Ok(m) if m.file_type().is_socket() => match std::os::unix::net::UnixStream::connect(path) {
            Ok(_) => Err(Error::AlreadyExists {
                what: format!("an agent listening on {shown}"),
            }),
            // Nobody listens: a socket left by an agent that was killed outright.
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => fs::remove_file(path)
                .map_err(|e| Error::io(format!("removing the stale socket {shown}"), e)),
            Err(e) => Err(Error::io(format!("checking the socket {shown}"), e)),
        },
        Ok(_) => Err(Error::AlreadyExists {
            what: format!("{shown}, which is not a socket (left alone)"),
        }),
    }
}

/// The `SSH_AUTH_SOCK=…; export SSH_AUTH_SOCK;` line for a shell to eval, the path quoted
/// when it holds anything but plain characters.
fn env_line(path: &Path) -> String {
    let text = path.display().to_string();
    let plain = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+,:@%".contains(c));
    let value = if plain {
        text
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    };
    format!("SSH_AUTH_SOCK={value}; export SSH_AUTH_SOCK;")
}

/// `keychain ssh-agent`.
pub async fn agent(ctx: &Context, mut args: SshAgentArgs) -> Result<Outcome> {
    // SSH_AUTH_SOCK must not depend on the directory its user runs in.
    args.socket = std::path::absolute(&args.socket)
        .map_err(|e| Error::io(format!("resolving {}", args.socket.display()), e))?;
    let keys = served_keys(ctx, &args.keys).await?;
    prepare_socket(&args.socket)?;
    let shown = args.socket.display().to_string();
    let listener = tokio::net::UnixListener::bind(&args.socket)
        .map_err(|e| Error::io(format!("listening on {shown}"), e))?;
    temps::remove_on_signal(&args.socket);
    let result = serve(ctx, &args.socket, listener, keys).await;
    let _ = fs::remove_file(&args.socket);
    temps::forget(&args.socket);
    result
}

/// Sets the socket's mode, announces it and serves until the listener fails.
async fn serve(
    ctx: &Context,
    socket: &Path,
    listener: tokio::net::UnixListener,
    keys: Vec<(ServedKey, String)>,
) -> Result<Outcome> {
    fs::set_permissions(socket, fs::Permissions::from_mode(0o600))
        .map_err(|e| Error::io(format!("setting the mode of {}", socket.display()), e))?;
    let served: Vec<_> = keys
        .iter()
        .map(|(k, line)| json!({ "name": k.name, "public_key": line }))
        .collect();
    let agent = Agent::new(
        ctx.keychain.clone(),
        keys.into_iter().map(|(k, _)| k).collect(),
    );
    if ctx.out.is_json() {
        ctx.out.json_value(&json!({
            "socket": socket.display().to_string(),
            "pid": std::process::id(),
            "keys": served,
        }))?;
    } else {
        ctx.out.bytes(
            format!(
                "{}\necho Agent pid {};\n",
                env_line(socket),
                std::process::id()
            )
            .as_bytes(),
        )?;
    }
    let _ = std::io::stdout().flush();
    tracing::info!(
        "ssh-agent: serving {} key(s) on {}",
        agent.keys().len(),
        socket.display()
    );
    if agent.keys().is_empty() {
        eprintln!("keychain: warning: no SSH-capable signing keys to serve");
    }
    agent.serve(listener).await?;
    Ok(Outcome::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_env_line_quotes_what_a_shell_would_split() {
        assert_eq!(
            env_line(Path::new("/run/user/1/agent.sock")),
            "SSH_AUTH_SOCK=/run/user/1/agent.sock; export SSH_AUTH_SOCK;"
        );
        assert_eq!(
            env_line(Path::new("/tmp/a b'c;")),
            r"SSH_AUTH_SOCK='/tmp/a b'\''c;'; export SSH_AUTH_SOCK;"
        );
    }
}
