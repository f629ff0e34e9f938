//! An SSH agent (draft-miller-ssh-agent, through `ssh-agent-lib`) whose keys stay in the
//! backend: it lists their public keys and has the backend sign what clients ask. It holds no
//! private key, so adding, removing and locking are answered with `SSH_AGENT_FAILURE`, as
//! the protocol answers requests an agent cannot carry out.
//!
//! Messages are `ssh-agent-lib`'s types; the framing (a 32-bit length, then the message) is
//! read here so that a length over [`MAX_MESSAGE`] ends the connection before any of it is
//! buffered, as OpenSSH's agent does, and a message that does not parse is answered with
//! `SSH_AGENT_FAILURE` without ending it.

use std::sync::Arc;

use ssh_agent_lib::agent::Session;
use ssh_agent_lib::error::AgentError;
use ssh_agent_lib::proto::{
    AddIdentity, AddIdentityConstrained, AddSmartcardKeyConstrained, Extension, Identity,
    PublicCredential, RemoveIdentity, SignRequest, SmartcardKey,
};
use ssh_agent_lib::proto::{Request, Response};
use ssh_encoding::{Decode, Encode};
use ssh_key::Signature;
use ssh_key::public::KeyData;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

use super::{RsaHash, sign_ssh};
use crate::{Error, Keychain, Result};

/// `SSH_AGENT_RSA_SHA2_256`: the client asks for an `rsa-sha2-256` signature.
const RSA_SHA2_256: u32 = 2;
/// `SSH_AGENT_RSA_SHA2_512`: the client asks for an `rsa-sha2-512` signature.
const RSA_SHA2_512: u32 = 4;

/// The longest agent message read (OpenSSH's agent has the same limit): a longer one ends
/// its connection.
pub const MAX_MESSAGE: usize = 256 * 1024;

/// A backend key the agent serves: its reference and its OpenSSH public key.
#[derive(Debug, Clone)]
pub struct ServedKey {
    /// The key's name (or any reference the keychain takes); the comment `ssh-add -L` shows.
    pub name: String,
    /// Its OpenSSH public key.
    pub key_data: KeyData,
}

/// The agent: a keychain and the keys it serves. Each client connection gets a clone.
#[derive(Debug, Clone)]
pub struct Agent {
    keychain: Keychain,
    keys: Arc<Vec<ServedKey>>,
}

/// A request the agent refuses: logged, answered with `SSH_AGENT_FAILURE`.
fn refuse(why: impl std::fmt::Display) -> AgentError {
    tracing::warn!("ssh-agent: {why}");
    AgentError::Failure
}

impl Agent {
    /// An agent serving `keys` from `keychain`.
    pub fn new(keychain: Keychain, keys: Vec<ServedKey>) -> Self {
        Agent {
            keychain,
            keys: Arc::new(keys),
        }
    }

    /// The keys served.
    pub fn keys(&self) -> &[ServedKey] {
        &self.keys
    }

    /// Serves clients connecting to `listener` until the listener fails; every connection
    /// is handled on its own task, so clients are not serialised.
    pub async fn serve(self, listener: UnixListener) -> Result<()> {
        loop {
            let (stream, _) = listener
                .accept()
                .await
                .map_err(|e| Error::io("accepting an SSH agent client", e))?;
            let mut session = self.clone();
            tokio::spawn(async move {
                if let Err(e) = session.serve_connection(stream).await {
                    tracing::debug!("ssh-agent: connection ended: {e}");
                }
            });
        }
    }

    /// Answers one client's messages, in order, until it disconnects.
    async fn serve_connection(&mut self, stream: UnixStream) -> std::io::Result<()> {
        let (mut reader, mut writer) = stream.into_split();
        loop {
            let mut length = [0u8; 4];
            match reader.read_exact(&mut length).await {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(e) => return Err(e),
            }
            let length = u32::from_be_bytes(length) as usize;
            if length > MAX_MESSAGE {
                tracing::warn!("ssh-agent: a {length}-byte message, over the limit; closing");
                return Ok(());
            }
            let mut message = vec![0u8; length];
            reader.read_exact(&mut message).await?;
            let answer = self.answer(&message).await;
            let mut frame = Vec::with_capacity(answer.len() + 4);
            frame.extend_from_slice(&(answer.len() as u32).to_be_bytes());
            frame.extend_from_slice(&answer);
            writer.write_all(&frame).await?;
        }
    }

    /// The answer to one agent message (without its length prefix): the response of the
    /// request it holds, or `SSH_AGENT_FAILURE` when it does not parse or cannot be carried
    /// out. Never fails: the connection goes on.
    pub async fn answer(&mut self, message: &[u8]) -> Vec<u8> {
        let response = match Request::decode(&mut &message[..]) {
            Ok(request) => self.handle(request).await.unwrap_or(Response::Failure),
            Err(e) => {
                tracing::warn!("ssh-agent: a malformed message: {e}");
                Response::Failure
            }
        };
        let mut encoded = Vec::new();
        match response.encode(&mut encoded) {
            Ok(()) => encoded,
            Err(e) => {
                tracing::warn!("ssh-agent: an answer that does not encode: {e}");
                // SSH_AGENT_FAILURE.
                vec![5]
            }
        }
    }

    /// Signs one request: only for a served key, only with SHA-2 for RSA.
    async fn sign_request(
        &self,
        request: &SignRequest,
    ) -> std::result::Result<Signature, AgentError> {
        let key_data = request.credential.key_data();
        let served = self
            .keys
            .iter()
            .find(|k| &k.key_data == key_data)
            .ok_or_else(|| refuse("a signature was asked for a key this agent does not serve"))?;
        let rsa = if request.flags & RSA_SHA2_512 != 0 {
            RsaHash::Sha512
        } else if request.flags & RSA_SHA2_256 != 0 {
            RsaHash::Sha256
        } else if matches!(key_data, KeyData::Rsa(_)) {
            return Err(refuse(format!(
                "key {}: a SHA-1 `ssh-rsa` signature was asked for; backend keys sign only \
                 rsa-sha2-256 and rsa-sha2-512",
                served.name
            )));
        } else {
            RsaHash::Sha512
        };
        sign_ssh(
            &self.keychain,
            &served.name,
            &served.key_data,
            &request.data,
            rsa,
        )
        .await
        .map_err(|e| refuse(format!("key {}: {e}", served.name)))
    }
}

#[ssh_agent_lib::async_trait]
impl Session for Agent {
    async fn request_identities(&mut self) -> std::result::Result<Vec<Identity>, AgentError> {
        Ok(self
            .keys
            .iter()
            .map(|k| Identity {
                credential: PublicCredential::Key(k.key_data.clone()),
                comment: k.name.clone(),
            })
            .collect())
    }

    async fn sign(&mut self, request: SignRequest) -> std::result::Result<Signature, AgentError> {
        self.sign_request(&request).await
    }

    async fn add_identity(&mut self, _: AddIdentity) -> std::result::Result<(), AgentError> {
        Err(refuse("adding a key: this agent serves backend keys only"))
    }

    async fn add_identity_constrained(
        &mut self,
        _: AddIdentityConstrained,
    ) -> std::result::Result<(), AgentError> {
        Err(refuse("adding a key: this agent serves backend keys only"))
    }

    async fn remove_identity(&mut self, _: RemoveIdentity) -> std::result::Result<(), AgentError> {
        Err(refuse(
            "removing a key: this agent serves backend keys only",
        ))
    }

    async fn remove_all_identities(&mut self) -> std::result::Result<(), AgentError> {
        Err(refuse("removing keys: this agent serves backend keys only"))
    }

    async fn add_smartcard_key(&mut self, _: SmartcardKey) -> std::result::Result<(), AgentError> {
        Err(refuse(
            "adding a smartcard key: this agent serves backend keys only",
        ))
    }

    async fn add_smartcard_key_constrained(
        &mut self,
        _: AddSmartcardKeyConstrained,
    ) -> std::result::Result<(), AgentError> {
        Err(refuse(
            "adding a smartcard key: this agent serves backend keys only",
        ))
    }

    async fn remove_smartcard_key(
        &mut self,
        _: SmartcardKey,
    ) -> std::result::Result<(), AgentError> {
        Err(refuse(
            "removing a smartcard key: this agent serves backend keys only",
        ))
    }

    async fn lock(&mut self, _: String) -> std::result::Result<(), AgentError> {
        Err(refuse("locking: this agent holds no keys to lock"))
    }

    async fn unlock(&mut self, _: String) -> std::result::Result<(), AgentError> {
        Err(refuse("unlocking: this agent holds no keys to lock"))
    }

    async fn extension(
        &mut self,
        extension: Extension,
    ) -> std::result::Result<Option<Extension>, AgentError> {
        // `session-bind@openssh.com` and others: unsupported extensions fail, and OpenSSH's
        // client carries on without them.
        tracing::debug!("ssh-agent: extension {} not supported", extension.name);
        Err(AgentError::Failure)
    }
}
