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

/// Why a listed key is not served by default, or `None` when OpenSSH can use it: an enabled
/// signing key of a type OpenSSH has (Ed25519, ECDSA on the NIST curves, RSA).
fn not_servable(info: &KeyInfo) -> Option<String> {
    if info.usage != KeyUsage::SignVerify {
        return Some(format!("a {} key, not a signing key", info.usage));
    }
    if info.state != KeyState::Enabled {
        return Some(format!("its state is {}", info.state));
    }
    match info.spec.family() {
        KeyFamily::Ed25519 | KeyFamily::Rsa(_) => None,
        KeyFamily::Ec(curve) if curve != keychain::Curve::Secp256k1 => None,
        _ => Some(format!("OpenSSH has no key type for {}", info.spec)),
    }
}

/// A key the agent serves: the agent's entry and the OpenSSH line of the startup output.
type Served = (ServedKey, String);

/// A key left out of the default set, and why.
#[derive(Debug)]
struct Skipped {
    name: String,
    why: String,
}

/// The agent's entry for key `name`, with its OpenSSH line.
async fn served_key(ctx: &Context, name: String) -> Result<Served> {
    let public_key = ctx.keychain.public_key(&name).await?;
    // The same line `keychain ssh pubkey NAME` prints, so a name it refuses is refused.
    let line = openssh_public_key(&public_key, &name)?;
    Ok((
        ServedKey {
            key_data: ssh_key_data(&public_key)?,
            name,
        },
        line,
    ))
}

/// Every key of the backend, listed page by page.
async fn every_key(ctx: &Context) -> Result<Vec<KeyInfo>> {
    let mut keys = Vec::new();
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
        keys.extend(page.items);
        match page.next_marker {
            Some(next) if Some(&next) != marker.as_ref() => marker = Some(next),
            _ => break,
        }
    }
    Ok(keys)
}

/// The keys to serve. Named keys must all be usable: the first that is not is the error.
/// Without names, every key of the backend OpenSSH can use is served and the others are
/// returned with the reason each was left out, after a warning line each (one key in a bad
/// state or of another type does not keep the agent from serving the rest); none usable at
/// all is an error.
async fn served_keys(ctx: &Context, names: &[String]) -> Result<(Vec<Served>, Vec<Skipped>)> {
    if !names.is_empty() {
        let mut keys = Vec::with_capacity(names.len());
        for name in names {
            keys.push(served_key(ctx, name.clone()).await?);
        }
        return Ok((keys, Vec::new()));
    }
    let mut keys = Vec::new();
    let mut skipped = Vec::new();
    for info in every_key(ctx).await? {
        let name = info.name.clone().unwrap_or_else(|| info.key_id.clone());
        if let Some(why) = not_servable(&info) {
            skipped.push(Skipped { name, why });
            continue;
        }
        match served_key(ctx, name.clone()).await {
            Ok(key) => keys.push(key),
            Err(e) => skipped.push(Skipped {
                name,
                why: e.to_string(),
            }),
        }
    }
    warn_skipped(&skipped);
    if keys.is_empty() {
        return Err(Error::NotFound {
            key: format!(
                "an enabled signing key OpenSSH can use (Ed25519, ECDSA P-256/384/521, RSA) \
                 in the backend: nothing to serve ({} key(s) skipped)",
                skipped.len()
            ),
        });
    }
    Ok((keys, skipped))
}

/// One warning line on stderr per key left out of the default set.
fn warn_skipped(skipped: &[Skipped]) {
    for s in skipped {
        eprintln!(
            "keychain: warning: ssh-agent: not serving key {}: {}",
            crate::output::field(&s.name),
            crate::output::field(&s.why)
        );
    }
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
    let (keys, skipped) = served_keys(ctx, &args.keys).await?;
    prepare_socket(&args.socket)?;
    let shown = args.socket.display().to_string();
    let listener = tokio::net::UnixListener::bind(&args.socket)
        .map_err(|e| Error::io(format!("listening on {shown}"), e))?;
    temps::remove_on_signal(&args.socket);
    let result = serve(ctx, &args.socket, listener, keys, &skipped).await;
    let _ = fs::remove_file(&args.socket);
    temps::forget(&args.socket);
    result
}

/// Sets the socket's mode, announces it and serves until the listener fails.
async fn serve(
    ctx: &Context,
    socket: &Path,
    listener: tokio::net::UnixListener,
    keys: Vec<Served>,
    skipped: &[Skipped],
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
            "skipped": skipped
                .iter()
                .map(|s| json!({ "name": s.name, "reason": s.why }))
                .collect::<Vec<_>>(),
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
