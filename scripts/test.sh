#!/usr/bin/env bash
# Runs every keychain test on a fresh machine. It installs and starts what the tests need by
# itself: OpenSSL and a Python venv with `cryptography`, `PyJWT` and `pycryptodome` (the judges of
# signatures, tokens and certificates) and LocalStack (the AWS KMS emulator, started by the
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

# OpenSSH (ssh-keygen, ssh-add, ssh, sshd) and git judge the SSH keys, signatures,
# certificates and agent; the tests start their own sshd on a loopback port.
if ! command -v ssh-keygen >/dev/null 2>&1 || ! command -v ssh-add >/dev/null 2>&1 \
  || ! [ -x /usr/sbin/sshd ] || ! command -v git >/dev/null 2>&1; then
  log "installing openssh-client, openssh-server and git"
  apt-get update -qq && apt-get install -y -qq openssh-client openssh-server git >/dev/null
fi

venv="${KEYCHAIN_TEST_VENV:-.venv-test}"
# The judge needs ML-DSA in `cryptography` (added in 47.0): an older venv is upgraded.
if ! "$venv/bin/python" -c 'import cryptography, jwt, Crypto
from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA44PublicKey, MLDSA65PublicKey, MLDSA87PublicKey' \
  >/dev/null 2>&1; then
  log "creating the Python judge venv in $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check 'cryptography>=47' 'PyJWT>=2.8' \
    'pycryptodome>=3.20'
fi
KEYCHAIN_TEST_PYTHON="$(cd "$venv/bin" && pwd)/python"
export KEYCHAIN_TEST_PYTHON

if [ -x scripts/install-localstack.sh ]; then
  log "installing LocalStack (if missing)"
  scripts/install-localstack.sh
  KEYCHAIN_LOCALSTACK_PYTHON="$(cd "${KEYCHAIN_LOCALSTACK_VENV:-.venv-localstack}/bin" && pwd)/python"
  export KEYCHAIN_LOCALSTACK_PYTHON
fi

log "running the tests"
cargo test --workspace --all-features "$@"
