//! Where a key reference led on the token, remembered so that a sign (or decrypt, MAC…)
//! does not look the key up again before every call.
//!
//! Finding a key costs `C_FindObjects` by label or id and a `C_GetAttributeValue` of a dozen
//! attributes; on SoftHSM that is three to four times the `C_Sign` it precedes (a private
//! object's attributes are stored encrypted; even one attribute read costs about as much as
//! an ECDSA signature). PKCS#11 gives a token object one handle in every session of an
//! application as long as the object exists, so the handle and the attributes we check are
//! kept per reference and used as they are:
//!
//! - every write through a backend of this process on the token (create, import, destroy)
//!   drops all of them at once, for every backend on that token (the cache belongs to the
//!   module and slot, not to one backend);
//! - a call that fails on a remembered lookup looks the key up again: when the reference now
//!   leads elsewhere (another object, or none: the key was destroyed or replaced by another
//!   process) the call is made once more on what the lookup found (or the key is not
//!   found), else the error stands;
//! - an entry older than [`MAX_AGE`] is not used: the next call looks the key up again, so
//!   what another process or tool changed without destroying the object (a label moved, a
//!   usage flag, a second key under the name) is seen within that time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cryptoki::session::Session;

use super::keys::{self, Found};
use super::session::{CallResult, lock};
use crate::key_ref::KeyRef;

/// How long a remembered lookup is used before the key is looked up again.
pub(crate) const MAX_AGE: Duration = Duration::from_secs(1);

/// A lookup and when it was made.
struct Entry {
    found: Arc<Found>,
    at: Instant,
}

#[derive(Default)]
struct State {
    entries: HashMap<KeyRef, Entry>,
    /// Counts the writes: a lookup that started before one is not remembered after it.
    generation: u64,
}

/// The lookups of one token (one slot of one module), shared by every backend of the
/// process on it.
#[derive(Default)]
pub(crate) struct Handles {
    state: Mutex<State>,
}

impl Handles {
    /// The remembered lookup of `key`, if young enough.
    fn remembered(&self, key: &KeyRef) -> Option<Arc<Found>> {
        let state = lock(&self.state);
        let entry = state.entries.get(key)?;
        (entry.at.elapsed() < MAX_AGE).then(|| entry.found.clone())
    }

    /// Looks `key` up on the token and remembers the result, unless a write happened while
    /// it was being looked up (then the result may already be stale for the next caller).
    fn look_up(&self, session: &Session, key: &KeyRef) -> CallResult<Arc<Found>> {
        let generation = lock(&self.state).generation;
        let found = Arc::new(keys::find(session, key)?);
        let mut state = lock(&self.state);
        if state.generation == generation {
            state.entries.insert(
                key.clone(),
                Entry {
                    found: found.clone(),
                    at: Instant::now(),
                },
            );
        }
        Ok(found)
    }

    /// What `key` leads to: remembered, or looked up now. The flag says it was remembered.
    pub(crate) fn resolve(
        &self,
        session: &Session,
        key: &KeyRef,
    ) -> CallResult<(Arc<Found>, bool)> {
        match self.remembered(key) {
            Some(found) => Ok((found, true)),
            None => Ok((self.look_up(session, key)?, false)),
        }
    }

    /// Runs `call` on the key `key` leads to. When it fails on a remembered lookup (a module
    /// error such as `CKR_KEY_HANDLE_INVALID`, or one of ours such as a public key object
    /// that is no longer there), the key is looked up again; if it now leads to another
    /// object, `call` runs once more on that one; if it leads nowhere, that is the answer;
    /// else the first error stands. Never is a call made on an object the latest lookup did
    /// not find for `key`.
    pub(crate) fn with_key<T>(
        &self,
        session: &Session,
        key: &KeyRef,
        call: impl Fn(&Found) -> CallResult<T>,
    ) -> CallResult<T> {
        let (found, remembered) = self.resolve(session, key)?;
        match call(&found) {
            Err(first) if remembered => {
                self.forget(key);
                let fresh = self.look_up(session, key)?;
                if same_object(&fresh, &found) {
                    return Err(first);
                }
                tracing::debug!(%key, "a remembered PKCS#11 handle was stale; looked again");
                call(&fresh)
            }
            outcome => outcome,
        }
    }

    /// Forgets the lookup of one reference.
    fn forget(&self, key: &KeyRef) {
        lock(&self.state).entries.remove(key);
    }

    /// Forgets every lookup: a key was created, imported or destroyed, so any reference may
    /// now lead elsewhere or nowhere.
    pub(crate) fn clear(&self) {
        let mut state = lock(&self.state);
        state.entries.clear();
        state.generation = state.generation.wrapping_add(1);
    }
}

impl std::fmt::Debug for Handles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let len = lock(&self.state).entries.len();
        f.debug_struct("Handles").field("entries", &len).finish()
    }
}

/// Whether two lookups found the same object as the same key.
fn same_object(a: &Found, b: &Found) -> bool {
    a.handle == b.handle
        && a.id == b.id
        && a.label == b.label
        && a.info == b.info
        && a.sensitive == b.sensitive
        && a.extractable == b.extractable
}
