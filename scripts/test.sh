#!/usr/bin/env bash
# Runs every keychain test on a fresh machine. It installs and starts what the tests need by
# itself: OpenSSL and a Python venv with `cryptography`, `PyJWT` and `pycryptodome` (the judges of
# signatures, tokens and certificates) and `boto3` and `awscli` (KMS clients that are not ours,
# see crates/keychain-testkit/kms_clients) and LocalStack (the AWS KMS emulator, started by the
# tests themselves on a free loopback port). Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*" >&2; }

if ! command -v openssl >/dev/null 2>&1; then
  log "installing openssl"
  apt-get update -qq && apt-get install -y -qq openssl >/dev/null
fi

venv="${KEYCHAIN_TEST_VENV:-.venv-test}"
# The judge needs ML-DSA and ML-KEM in `cryptography` (recent releases): an older venv is
# upgraded. A venv without boto3 or the AWS CLI (v1, whose `aws` lands next to the venv's
# python) gets them.
if ! "$venv/bin/python" -c 'import cryptography, jwt, Crypto, boto3, awscli
from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA44PublicKey, MLDSA65PublicKey, MLDSA87PublicKey
from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PublicKey' \
  >/dev/null 2>&1 || [ ! -x "$venv/bin/aws" ]; then
  log "creating the Python judge venv in $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade --disable-pip-version-check 'cryptography>=47' 'PyJWT>=2.8' \
    'pycryptodome>=3.20' 'boto3>=1.40' 'awscli>=1.40'
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
