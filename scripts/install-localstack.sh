#!/usr/bin/env bash
# Installs LocalStack (the AWS KMS emulator the awskms tests start by themselves) into a
# Python venv, if it is not there yet. Idempotent: a venv that already imports localstack
# and boto3 is left alone.
#
#   KEYCHAIN_LOCALSTACK_VENV   where the venv goes (default: .venv-localstack)
#   KEYCHAIN_LOCALSTACK_BASE   the Python 3.13 to build it from (default: pyenv's 3.13, else
#                              python3.13 on PATH)
#
# The tests find the interpreter through KEYCHAIN_LOCALSTACK_PYTHON, which scripts/test.sh
# exports as "$KEYCHAIN_LOCALSTACK_VENV/bin/python".
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'install-localstack: %s\n' "$*" >&2; exit 1; }

venv="${KEYCHAIN_LOCALSTACK_VENV:-.venv-localstack}"

# Pinned: the versions the backend's tests and their documented emulator gaps were measured
# with. The upper bounds keep LocalStack's own dependencies on versions it works with.
packages=(
  'localstack-core[runtime]==2026.3.0'
  'cbor2<5.7'
  'pyopenssl<25'
  'cryptography<45'
  'service_identity<25'
  'joserfc<1.8'
)

if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import localstack, boto3' >/dev/null 2>&1; then
  log "LocalStack already installed in $venv"
  exit 0
fi

# LocalStack 2026.x needs Python 3.13 (3.11 does not work).
find_python() {
  if [ -n "${KEYCHAIN_LOCALSTACK_BASE:-}" ]; then
    echo "$KEYCHAIN_LOCALSTACK_BASE"
    return
  fi
  if command -v pyenv >/dev/null 2>&1; then
    local root
    root="$(pyenv root)"
    local candidate
    for candidate in "$root"/versions/3.13*/bin/python; do
      if [ -x "$candidate" ]; then
        echo "$candidate"
        return
      fi
    done
  fi
  if command -v python3.13 >/dev/null 2>&1; then
    command -v python3.13
    return
  fi
  return 1
}

python="$(find_python)" || die "LocalStack needs Python 3.13 and none was found: install it \
(for example 'pyenv install 3.13' or your distribution's python3.13 with venv), or point \
KEYCHAIN_LOCALSTACK_BASE at a Python 3.13 interpreter"

version="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
[ "$version" = "3.13" ] || die "$python is Python $version; LocalStack needs 3.13"

log "creating the LocalStack venv in $venv with $python"
rm -rf "$venv"
"$python" -m venv "$venv" || die "could not create a venv with $python (is the venv module installed?)"
"$venv/bin/pip" install -q --disable-pip-version-check "${packages[@]}" \
  || die "pip could not install LocalStack into $venv"
"$venv/bin/python" -c 'import localstack, boto3' \
  || die "LocalStack was installed but does not import"
log "LocalStack installed in $venv"
