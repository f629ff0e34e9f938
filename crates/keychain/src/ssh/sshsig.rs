//! SSHSIG file signatures (OpenSSH's `PROTOCOL.sshsig`, what `ssh-keygen -Y sign` writes and
//! `ssh-keygen -Y verify` and git check), made by a backend key over a message streamed once
//! through SHA-512, in constant memory.

use ssh_encoding::{Encode, LineEnding};
use ssh_key::{HashAlg, SshSig};

use super::{RsaHash, sign_ssh, ssh_error, ssh_key_data};
use crate::{Error, Hash, Keychain, MessageSource, Result};

/// The message hash SSHSIG signatures are made with (as `ssh-keygen` does).
pub const SSHSIG_HASH: &str = "sha512";

/// The six bytes every SSHSIG signed-data blob starts with, so that a file signature can
/// never pass for an SSH authentication signature.
const MAGIC: &[u8] = b"SSHSIG";

/// The blob the key signs: `"SSHSIG" ‖ string namespace ‖ string reserved ‖
/// string hash_algorithm ‖ string H(message)`.
fn signed_data(namespace: &str, digest: &[u8]) -> Result<Vec<u8>> {
    let mut blob = MAGIC.to_vec();
    let encoded: std::result::Result<(), ssh_encoding::Error> = (|| {
        namespace.encode(&mut blob)?;
        [0u8; 0][..].encode(&mut blob)?;
        SSHSIG_HASH.encode(&mut blob)?;
        digest.encode(&mut blob)
    })();
    encoded.map_err(|e| ssh_error("encoding the SSHSIG signed data", e))?;
    Ok(blob)
}

/// Signs `message` with the backend key `key` as an armored SSHSIG (`-----BEGIN SSH
/// SIGNATURE-----`) in `namespace` (`git`, `file`, an e-mail domain…). The message is read
/// once, through SHA-512; RSA keys sign with `rsa-sha2-512`, as `ssh-keygen` does.
pub async fn sign_sshsig(
    keychain: &Keychain,
    key: &str,
    namespace: &str,
    message: &mut MessageSource<'_>,
) -> Result<String> {
    if namespace.is_empty() || namespace.chars().any(crate::is_control_or_invisible) {
        return Err(Error::invalid_input(
            "an SSHSIG namespace is a non-empty text without control characters (e.g. `git` \
             or `file`)",
        ));
    }
    let key_data = ssh_key_data(&keychain.public_key(key).await?)?;
    let digest = message.digest(Hash::Sha512)?;
    let data = signed_data(namespace, &digest)?;
    let signature = sign_ssh(keychain, key, &key_data, &data, RsaHash::Sha512).await?;
    SshSig::new(key_data, namespace, HashAlg::Sha512, signature)
        .and_then(|sig| sig.to_pem(LineEnding::LF))
        .map_err(|e| ssh_error("encoding the SSHSIG signature", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signed_data_is_what_ssh_key_computes_for_the_same_message() {
        let message = b"a message";
        let ours = signed_data("file", &Hash::Sha512.digest(message)).unwrap();
        let theirs = SshSig::signed_data("file", HashAlg::Sha512, message).unwrap();
        assert_eq!(ours, theirs);
    }
}
