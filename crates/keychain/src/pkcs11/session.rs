//! The token: its module loaded once per process, its slot found by label, serial or id, a
//! pool of sessions, and the one login every session of the process shares.
//!
//! PKCS#11 keeps the login state per application and token, not per session: after one
//! `C_Login` every session of the process is logged in. So the module and the login live in a
//! process-wide registry (a second backend on the same token reuses them; `C_Initialize`
//! twice, or `C_Finalize` while another backend still runs, would break the first). A second
//! backend that brings another PIN logs the token out and in again with its own, so a wrong
//! PIN is always refused, even when the token is already logged in.
//!
//! Sessions are taken from a pool for one call and given back; a call that finds its session
//! gone (`CKR_SESSION_HANDLE_INVALID`, `CKR_SESSION_CLOSED`, `CKR_DEVICE_REMOVED`,
//! `CKR_TOKEN_NOT_PRESENT`, or a login lost to another backend) drops the pool, logs in again
//! and repeats the call once on a new session.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::session::{Session, SessionState, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use zeroize::Zeroizing;

use super::errors::{ckr_name, login_lost, map, session_lost};
use super::handles::Handles;
use super::uri::Pkcs11Uri;
use crate::{Error, Result};

/// Idle sessions kept open per backend; more are closed when given back.
const MAX_IDLE_SESSIONS: usize = 32;

/// What a call on a session can fail with: the module's error, or one of ours (a key that
/// is not there, an input refused before the module saw it).
pub(crate) enum Failure {
    Module(CkError),
    Keychain(Error),
}

impl From<CkError> for Failure {
    fn from(e: CkError) -> Self {
        Failure::Module(e)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Keychain(e)
    }
}

/// A call's result on a session.
pub(crate) type CallResult<T> = std::result::Result<T, Failure>;

/// A module loaded and initialised once per process, and the PIN its tokens are logged in
/// with (per slot).
struct Module {
    context: Pkcs11,
    logins: Mutex<HashMap<u64, Zeroizing<String>>>,
    /// Held while a key is created: checking that a name is free and creating the key under
    /// it is one step for every backend of the process on this module (PKCS#11 has no
    /// unique constraint on `CKA_LABEL`).
    creating: Mutex<()>,
    /// The key lookups remembered per slot (see `handles`), shared by every backend of the
    /// process on that token: a write through one drops them for all.
    handles: Mutex<HashMap<u64, Arc<Handles>>>,
}

/// Locks a mutex; a poisoned one still holds consistent data here (no lock is held across
/// a step that can leave it half-done), so its guard is taken.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The module at `path`, loaded and initialised on first use.
fn module(path: &Path) -> Result<Arc<Module>> {
    static MODULES: OnceLock<Mutex<HashMap<PathBuf, Arc<Module>>>> = OnceLock::new();
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| {
        Error::invalid_input(format!(
            "the PKCS#11 module-path {shown} cannot be read: {e}"
        ))
    })?;
    if !meta.is_file() {
        return Err(Error::invalid_input(format!(
            "the PKCS#11 module-path {shown} is not a file"
        )));
    }
    let canonical = std::fs::canonicalize(path)
        .map_err(|e| Error::io(format!("resolving the PKCS#11 module-path {shown}"), e))?;
    let mut modules = lock(MODULES.get_or_init(Default::default));
    if let Some(m) = modules.get(&canonical) {
        return Ok(m.clone());
    }
    let context = Pkcs11::new(&canonical).map_err(|e| {
        Error::invalid_input(format!(
            "{shown} is not a PKCS#11 module (it could not be loaded as one: {})",
            one_line(&e.to_string())
        ))
    })?;
    match context.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => {
            return Err(map("C_Initialize", None, e).with_note(&format!("module {shown}")));
        }
    }
    let module = Arc::new(Module {
        context,
        logins: Mutex::new(HashMap::new()),
        creating: Mutex::new(()),
        handles: Mutex::new(HashMap::new()),
    });
    modules.insert(canonical, module.clone());
    Ok(module)
}

/// Whether a session runs as the logged-in user (a failed query counts as not).
fn logged_in(session: &Session) -> bool {
    session.get_session_info().is_ok_and(|info| {
        matches!(
            info.session_state(),
            SessionState::RoUser | SessionState::RwUser
        )
    })
}

/// An error text on one line (a loader's message may span several).
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// One token, reached through its module: the slot, the PIN and the session pool.
pub(crate) struct Token {
    module: Arc<Module>,
    slot: Slot,
    label: String,
    pin: Zeroizing<String>,
    idle: Mutex<Vec<Session>>,
    handles: Arc<Handles>,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("slot", &self.slot.id())
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

impl Token {
    /// Loads the module, finds the token and logs in (so a wrong PIN fails here).
    pub(crate) fn open(uri: &Pkcs11Uri) -> Result<Token> {
        let path = uri.module_path.as_deref().ok_or_else(|| {
            Error::invalid_input(
                "the pkcs11 backend URI needs module-path=PATH (the PKCS#11 library, for \
                 SoftHSM /usr/lib/softhsm/libsofthsm2.so)",
            )
        })?;
        let module = module(path)?;
        let pin = uri.pin.read()?;
        let slots = module
            .context
            .get_slots_with_token()
            .map_err(|e| map("C_GetSlotList", None, e))?;
        let mut seen = Vec::new();
        let mut fitting = Vec::new();
        for slot in slots {
            let info = module
                .context
                .get_token_info(slot)
                .map_err(|e| map("C_GetTokenInfo", None, e))?;
            let label = info.label().trim_end().to_string();
            let serial = info.serial_number().trim_end().to_string();
            let fits = uri.token.as_deref().is_none_or(|t| t == label)
                && uri.serial.as_deref().is_none_or(|s| s == serial)
                && uri.slot_id.is_none_or(|id| id == slot.id());
            if !info.token_initialized() {
                continue;
            }
            let shown = format!("{label:?} (slot {}, serial {serial})", slot.id());
            if fits {
                fitting.push((slot, label, shown));
            } else {
                seen.push(shown);
            }
        }
        // Two tokens answering to the URI (two with one label, say) are refused: taking the
        // first would put keys on whichever token the module lists first.
        if fitting.len() > 1 {
            let all = fitting
                .iter()
                .map(|(_, _, shown)| shown.as_str())
                .collect::<Vec<_>>()
                .join(" and ");
            return Err(Error::invalid_input(format!(
                "{} PKCS#11 tokens answer to the backend URI: {all}; name one with slot-id= \
                 or serial=",
                fitting.len()
            )));
        }
        let found = fitting.pop().map(|(slot, label, _)| (slot, label));
        let Some((slot, label)) = found else {
            let wanted = [
                uri.token.as_deref().map(|t| format!("label {t:?}")),
                uri.serial.as_deref().map(|s| format!("serial {s:?}")),
                uri.slot_id.map(|s| format!("slot-id {s}")),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ");
            let tokens = if seen.is_empty() {
                "none".to_string()
            } else {
                seen.join("; ")
            };
            return Err(Error::invalid_input(format!(
                "no initialised PKCS#11 token with {wanted} (the module has: {tokens})"
            )));
        };
        let handles = lock(&module.handles).entry(slot.id()).or_default().clone();
        let token = Token {
            module,
            slot,
            label,
            pin,
            idle: Mutex::new(Vec::new()),
            handles,
        };
        let session = token.open_session()?;
        token.give_back(session);
        Ok(token)
    }

    /// The token's label.
    pub(crate) fn label(&self) -> &str {
        &self.label
    }

    /// The key lookups remembered for this token.
    pub(crate) fn handles(&self) -> &Arc<Handles> {
        &self.handles
    }

    /// Opens a read-write session and makes sure the token is logged in with our PIN.
    fn open_session(&self) -> Result<Session> {
        let session = self
            .module
            .context
            .open_rw_session(self.slot)
            .map_err(|e| map("C_OpenSession", None, e))?;
        let mut logins = lock(&self.module.logins);
        let slot = self.slot.id();
        match logins.get(&slot) {
            Some(pin) if **pin == *self.pin => return Ok(session),
            Some(_) => {
                // Another backend of this process logged in with another PIN: ours must be
                // checked, not assumed.
                let _ = session.logout();
                logins.remove(&slot);
            }
            None => {}
        }
        let auth = AuthPin::new(self.pin.as_str().into());
        match session.login(UserType::User, Some(&auth)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {
                logins.insert(slot, self.pin.clone());
                Ok(session)
            }
            Err(e) => Err(match map("C_Login", None, e) {
                Error::WrongPassword { .. } => Error::WrongPassword {
                    keystore: format!("PKCS#11 token {:?} (wrong user PIN)", self.label),
                },
                other => other,
            }),
        }
    }

    fn give_back(&self, session: Session) {
        let mut idle = lock(&self.idle);
        if idle.len() < MAX_IDLE_SESSIONS {
            idle.push(session);
        }
    }

    /// Runs `call` on a pooled session (a blocking call: run it off the async executor).
    /// `operation` and `key` name the call in errors. A lost session or login is replaced and
    /// the call repeated once.
    pub(crate) fn run<T>(
        &self,
        operation: &str,
        key: Option<&str>,
        call: impl Fn(&Session) -> CallResult<T>,
    ) -> Result<T> {
        let mut retried = false;
        loop {
            let pooled = if self.logged_in_with_our_pin() {
                lock(&self.idle).pop()
            } else {
                // Another backend of this process logged in with another PIN (or out): the
                // pooled sessions run under its login, not ours.
                lock(&self.idle).clear();
                None
            };
            let session = match pooled {
                Some(s) => s,
                None => self.open_session()?,
            };
            let outcome = call(&session);
            let lost = match &outcome {
                // A module error on a session that lost its login may come from the logout
                // alone (SoftHSM fails C_Sign with CKR_GENERAL_ERROR when a logout lands
                // between finding the key and signing): ask the session before believing it.
                Err(Failure::Module(e)) => session_lost(e) || !logged_in(&session),
                // A logged-out session sees no private objects: a key that is "not found"
                // may only be hidden.
                Err(Failure::Keychain(Error::NotFound { .. })) => !logged_in(&session),
                _ => false,
            };
            if lost && !retried {
                tracing::debug!(
                    operation,
                    "PKCS#11 session or login lost; opening a new one"
                );
                retried = true;
                drop(session);
                lock(&self.idle).clear();
                lock(&self.module.logins).remove(&self.slot.id());
                continue;
            }
            return match outcome {
                Ok(v) => {
                    self.give_back(session);
                    Ok(v)
                }
                Err(Failure::Module(e)) => {
                    if !lost {
                        self.give_back(session);
                        return Err(map(operation, key, e));
                    }
                    // Lost again on the repeat: a login raced away twice, or a device that
                    // comes and goes. Either way, trying again later may work.
                    let code = match &e {
                        CkError::Pkcs11(rv, _) => Some(ckr_name(*rv)),
                        _ => None,
                    };
                    let mapped = map(operation, key, e);
                    Err(match code {
                        Some(code) if !mapped.is_retryable() => login_lost(operation, &code),
                        _ => mapped,
                    })
                }
                Err(Failure::Keychain(e)) => {
                    if !lost {
                        self.give_back(session);
                        return Err(e);
                    }
                    // A key "not found" by a session whose login was lost again on the
                    // repeat: hidden, not gone.
                    Err(login_lost(operation, "CKR_USER_NOT_LOGGED_IN"))
                }
            };
        }
    }

    /// [`Token::run`] while no other backend of the process creates a key on this module:
    /// for a call that checks that a name is free and then creates a key under it.
    pub(crate) fn run_creating<T>(
        &self,
        operation: &str,
        key: Option<&str>,
        call: impl Fn(&Session) -> CallResult<T>,
    ) -> Result<T> {
        let _creating = lock(&self.module.creating);
        self.run(operation, key, call)
    }

    fn logged_in_with_our_pin(&self) -> bool {
        lock(&self.module.logins)
            .get(&self.slot.id())
            .is_some_and(|pin| **pin == *self.pin)
    }

    /// Closes every idle session (the module stays loaded for other backends).
    pub(crate) fn close(&self) {
        lock(&self.idle).clear();
    }
}
