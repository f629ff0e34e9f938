//! Hostile ML-KEM stanzas, rewritten byte by byte in files age sealed: a changed byte in the
//! KEM ciphertext, in the sealed file key and in its tag; bodies one byte short, one byte
//! long, without the sealed key and past the size limit; an ML-KEM-512 stanza handed to an
//! ML-KEM-768 identity; and another key's stanza relabelled for ours (a wrong identity) or
//! for a symmetric key's.
//! Each fails with one line from the plugin, writes nothing, and panics nowhere.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use keychain::{CreateKeyRequest, KeyParams, KeySpec};

use crate::support::{Setup, assert_ok, assert_refused, decrypt, encrypt, pattern};

/// An age file cut into its header's stanzas (arguments, body) and everything from the MAC
/// line on, so that a stanza can be rewritten and the file written back.
struct AgeFile {
    stanzas: Vec<(Vec<String>, Vec<u8>)>,
    rest: Vec<u8>,
}

impl AgeFile {
    fn read(path: &Path) -> Self {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{e}"));
        let end = bytes
            .windows(4)
            .position(|w| w == b"\n---")
            .unwrap_or_else(|| panic!("no header end in {}", path.display()));
        let header = String::from_utf8_lossy(&bytes[..end]).to_string();
        let mut stanzas = Vec::new();
        let mut lines = header.lines().skip(1);
        while let Some(line) = lines.next() {
            let args = line
                .strip_prefix("-> ")
                .unwrap_or_else(|| panic!("not a stanza line: {line}"))
                .split(' ')
                .map(str::to_string)
                .collect();
            let mut body = String::new();
            for l in lines.by_ref() {
                body.push_str(l);
                if l.len() < 64 {
                    break;
                }
            }
            let body = STANDARD_NO_PAD
                .decode(body)
                .unwrap_or_else(|e| panic!("stanza body: {e}"));
            stanzas.push((args, body));
        }
        AgeFile {
            stanzas,
            rest: bytes[end + 1..].to_vec(),
        }
    }

    /// The file as age writes one: bodies in lines of 64 base64 characters, the last one
    /// shorter (empty when the body fills whole lines).
    fn write(&self, path: &Path) {
        let mut out = b"age-encryption.org/v1\n".to_vec();
        for (args, body) in &self.stanzas {
            out.extend_from_slice(format!("-> {}\n", args.join(" ")).as_bytes());
            let encoded = STANDARD_NO_PAD.encode(body);
            let mut chunks = encoded.as_bytes().chunks(64).peekable();
            while let Some(chunk) = chunks.next() {
                out.extend_from_slice(chunk);
                out.push(b'\n');
                if chunks.peek().is_none() && chunk.len() == 64 {
                    out.push(b'\n');
                }
            }
            if encoded.is_empty() {
                out.push(b'\n');
            }
        }
        out.extend_from_slice(&self.rest);
        std::fs::write(path, out).unwrap_or_else(|e| panic!("{e}"));
    }

    /// Our one stanza (the files here have no other).
    fn ours(&mut self) -> &mut (Vec<String>, Vec<u8>) {
        assert_eq!(self.stanzas.len(), 1, "{:?}", self.stanzas);
        assert_eq!(self.stanzas[0].0[0], "keychain", "{:?}", self.stanzas);
        &mut self.stanzas[0]
    }
}

/// Makes ML-KEM key `name` of `spec` and seals a file to it: the identity file and the
/// sealed file.
async fn sealed_to(setup: &Setup, name: &str, spec: KeySpec) -> (PathBuf, PathBuf) {
    let (recipient, identity) = setup
        .create(name, &CreateKeyRequest::new(spec).name(name))
        .await;
    let input = setup.path(name);
    std::fs::write(&input, pattern(1000)).unwrap_or_else(|e| panic!("{e}"));
    let sealed = setup.path(&format!("{name}.age"));
    assert_ok(&encrypt(setup, &[&recipient], &input, &sealed), "age -e");
    assert_ok(
        &decrypt(
            setup,
            &identity,
            &sealed,
            &setup.path(&format!("{name}.out")),
        ),
        "age -d of the untouched file",
    );
    (identity, sealed)
}

/// age refused `file` with `identity`: besides age's "report" line, exactly one line, the
/// plugin's, saying `expected`; no panic and no output written.
fn assert_one_plugin_line(setup: &Setup, identity: &Path, file: &Path, expected: &str) {
    let out = file.with_extension("out");
    let result = decrypt(setup, identity, file, &out);
    assert_refused(&result, &out, &[expected]);
    let stderr = String::from_utf8_lossy(&result.stderr);
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("age: report "))
        .collect();
    assert_eq!(lines.len(), 1, "{}: {stderr}", file.display());

    assert!(
        lines[0].starts_with("age: error: keychain plugin: "),
        "{}: {stderr}",
        file.display()
    );
}

/// Changes the byte at `at`, counted from the body's end when negative.
fn flip(body: &mut [u8], at: isize) {
    let i = if at < 0 {
        body.len() - at.unsigned_abs()
    } else {
        at as usize
    };
    body[i] ^= 0x01;
}

const NOT_OURS: &str = "does not open with this key";

/// A change to a stanza body.
type Change = fn(&mut Vec<u8>);

#[tokio::test]
async fn changed_bytes_anywhere_in_the_body_fail_the_tag() {
    let setup = Setup::new();
    let (identity, sealed) = sealed_to(&setup, "kem", KeySpec::MlKem768).await;
    // The ML-KEM-768 ciphertext is 1088 bytes; the 16-byte sealed file key and its 16-byte
    // tag follow.
    for (what, at) in [
        ("ciphertext-first", 0isize),
        ("ciphertext-last", 1087),
        ("sealed-key", 1088),
        ("tag-first", -16),
        ("tag-last", -1),
    ] {
        let mut file = AgeFile::read(&sealed);
        flip(&mut file.ours().1, at);
        let path = setup.path(&format!("{what}.age"));
        file.write(&path);
        assert_one_plugin_line(&setup, &identity, &path, NOT_OURS);
    }
}

#[tokio::test]
async fn bodies_of_the_wrong_length_are_refused() {
    let setup = Setup::new();
    let (identity, sealed) = sealed_to(&setup, "kem", KeySpec::MlKem768).await;
    let resize: [(&str, Change, &str); 5] = [
        (
            "one-short",
            |b| b.truncate(b.len() - 1),
            "ML-KEM stanza's body",
        ),
        ("one-long", |b| b.push(0), "ML-KEM stanza's body"),
        // The ciphertext alone: no sealed file key after it.
        (
            "no-sealed-key",
            |b| b.truncate(1088),
            "ML-KEM stanza's body",
        ),
        ("one-byte", |b| b.truncate(1), "ML-KEM stanza's body"),
        // Past the size any stanza of ours may have: refused as a malformed stanza.
        ("oversized", |b| b.resize(4096, 7), "2048"),
    ];
    for (what, change, expected) in resize {
        let mut file = AgeFile::read(&sealed);
        change(&mut file.ours().1);
        let path = setup.path(&format!("{what}.age"));
        file.write(&path);
        assert_one_plugin_line(&setup, &identity, &path, expected);
    }
}

#[tokio::test]
async fn a_512_stanza_for_a_768_identity_is_refused() {
    let setup = Setup::new();
    let (identity, sealed) = sealed_to(&setup, "kem768", KeySpec::MlKem768).await;
    let (_, small) = sealed_to(&setup, "kem512", KeySpec::MlKem512).await;
    // The ML-KEM-512 stanza, its key tag swapped for the 768 key's so our identity tries it:
    // its 768-byte ciphertext is a valid ML-KEM length, but not the 768 key's.
    let tag = AgeFile::read(&sealed).ours().0[2].clone();
    let mut file = AgeFile::read(&small);
    file.ours().0[2] = tag;
    assert_eq!(file.ours().1.len(), 768 + 32);
    let path = setup.path("512-for-768.age");
    file.write(&path);
    assert_one_plugin_line(&setup, &identity, &path, "1088");
}

#[tokio::test]
async fn another_keys_stanza_relabelled_for_ours_does_not_open() {
    let setup = Setup::new();
    let (identity, sealed) = sealed_to(&setup, "mine", KeySpec::MlKem768).await;
    let (their_identity, theirs) = sealed_to(&setup, "theirs", KeySpec::MlKem768).await;
    // As written, the other key's file matches none of our identity's stanzas: age's own
    // message, and the plugin never calls the backend.
    let out = setup.path("theirs.mine.out");
    assert_refused(
        &decrypt(&setup, &identity, &theirs, &out),
        &out,
        &["no identity matched"],
    );
    // Relabelled with our key tag, it reaches our key: the decapsulation gives another
    // secret and the derivation names another key, so the tag check refuses it.
    let tag = AgeFile::read(&sealed).ours().0[2].clone();
    let mut file = AgeFile::read(&theirs);
    file.ours().0[2] = tag;
    let path = setup.path("theirs-relabelled.age");
    file.write(&path);
    assert_one_plugin_line(&setup, &identity, &path, NOT_OURS);
    // Relabelled for a symmetric key's identity: that key does not decapsulate.
    let (sym_recipient, sym_identity) = setup.key("sym", &KeyParams::symmetric()).await;
    let sym_sealed = setup.path("sym.age");
    assert_ok(
        &encrypt(&setup, &[&sym_recipient], &setup.path("mine"), &sym_sealed),
        "age -e",
    );
    let mut file = AgeFile::read(&theirs);
    file.ours().0[2] = AgeFile::read(&sym_sealed).ours().0[2].clone();
    let path = setup.path("theirs-for-sym.age");
    file.write(&path);
    assert_one_plugin_line(&setup, &sym_identity, &path, "ML-KEM");
    // The rewriting itself is faithful: the untouched file written back opens.
    let mut same = AgeFile::read(&theirs);
    let _ = same.ours();
    let copy = setup.path("theirs-copy.age");
    same.write(&copy);
    assert_ok(
        &decrypt(
            &setup,
            &their_identity,
            &copy,
            &setup.path("theirs-copy.out"),
        ),
        "age -d of the file written back",
    );
}
