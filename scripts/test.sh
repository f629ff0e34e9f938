#!/usr/bin/env bash
# Runs every keychain test on a fresh machine. It installs and starts what the tests need by
# itself: OpenSSL, libsodium, man/groff and a Python venv with `cryptography`, `PyJWT` and
# `pycryptodome` (the judges of signatures, tokens and certificates) and `jsonschema` (the judge
# of `--json` output), and LocalStack (the AWS KMS emulator, started by the
# tests themselves on a free loopback port). Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*" >&2; }

if ! command -v openssl >/dev/null 2>&1; then
  log "installing openssl"
  apt-get update -qq && apt-get install -y -qq openssl >/dev/null
fi
# `man` (with groff) renders `keychain man` in the tests.
if ! command -v man >/dev/null 2>&1 || ! command -v groff >/dev/null 2>&1; then
  log "installing man-db and groff"
  apt-get update -qq && apt-get install -y -qq man-db groff-base >/dev/null
fi

# libsodium: a second judge of Ed25519ph signatures (through Python's ctypes).
if ! ldconfig -p 2>/dev/null | grep -q 'libsodium\.so'; then
  log "installing libsodium"
  apt-get update -qq && apt-get install -y -qq libsodium23 >/dev/null
fi

# Debian's age (the Go reference implementation) judges the age plugin; /usr/bin/time
# measures the plugin's peak memory.
if ! command -v age >/dev/null 2>&1 || ! command -v age-keygen >/dev/null 2>&1 \
  || [ ! -x /usr/bin/time ]; then
  log "installing age and time"
  apt-get update -qq && apt-get install -y -qq age time >/dev/null
fi

# rage (the Rust age, from crates.io; in none of the other package sources here) is the
# second client the age plugin is judged by. A debug build: the tests encrypt small files.
if ! command -v rage >/dev/null 2>&1 && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/rage" ]; then
  log "installing rage 0.12.1 from crates.io"
  rage_target="$(mktemp -d)"
  CARGO_TARGET_DIR="$rage_target" cargo install --quiet --locked --debug rage@0.12.1
  rm -rf "$rage_target"
fi

# OpenSSH (ssh-keygen, ssh-add, ssh, sshd) and git judge the SSH keys, signatures,
# certificates and agent; the tests start their own sshd on a loopback port.
if ! command -v ssh-keygen >/dev/null 2>&1 || ! command -v ssh-add >/dev/null 2>&1 \
  || ! [ -x /usr/sbin/sshd ] || ! command -v git >/dev/null 2>&1; then
  log "installing openssh-client, openssh-server and git"
  apt-get update -qq && apt-get install -y -qq openssh-client openssh-server git >/dev/null
fi

venv="${KEYCHAIN_TEST_VENV:-.venv-test}"
# The judges need ML-DSA and ML-KEM in `cryptography` (ML-DSA came in 47.0), Draft 2020-12 in
# `jsonschema` (with `referencing`, 4.18), boto3 and the AWS CLI (v1, whose `aws` lands next to
# the venv's python): a venv that lacks any of them is upgraded in place.
if ! "$venv/bin/python" -c 'import cryptography, jwt, Crypto, referencing, boto3, awscli
from jsonschema import Draft202012Validator
from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA44PublicKey, MLDSA65PublicKey, MLDSA87PublicKey
from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PublicKey, MLKEM1024PublicKey' \
  >/dev/null 2>&1 || [ ! -x "$venv/bin/aws" ]; then
  log "creating the Python judge venv in $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade --disable-pip-version-check 'cryptography>=47' 'PyJWT>=2.8' \
    'pycryptodome>=3.20' 'jsonschema>=4.18' 'boto3>=1.40' 'awscli>=1.40'
fi
KEYCHAIN_TEST_PYTHON="$(cd "$venv/bin" && pwd)/python"
export KEYCHAIN_TEST_PYTHON

if [ -x scripts/install-localstack.sh ]; then
  log "installing LocalStack (if missing)"
  scripts/install-localstack.sh
  KEYCHAIN_LOCALSTACK_PYTHON="$(cd "${KEYCHAIN_LOCALSTACK_VENV:-.venv-localstack}/bin" && pwd)/python"
  export KEYCHAIN_LOCALSTACK_PYTHON
fi

# SoftHSM2 runs the PKCS#11 backend's conformance suite (the tests initialise their own token
# through SOFTHSM2_CONF); OpenSC's pkcs11-tool judges the objects we create.
if [ ! -e /usr/lib/softhsm/libsofthsm2.so ] || ! command -v softhsm2-util >/dev/null 2>&1 \
  || ! command -v pkcs11-tool >/dev/null 2>&1; then
  log "installing softhsm2 and opensc"
  apt-get update -qq && apt-get install -y -qq softhsm2 opensc >/dev/null
fi

log "running the tests"
cargo test --workspace --all-features "$@"
