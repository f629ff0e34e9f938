"""A second Ed25519ph judge, libsodium (through ctypes): checks each signature as an RFC 8032
Ed25519ph signature of the given message, with libsodium's multi-part API
(crypto_sign_ed25519ph_init/update/final_verify), which hashes that message with SHA-512 itself.
For AWS KMS's meaning of ED25519_PH_SHA_512 the message is the 64-byte digest D.

Reads a JSON list of {"pk": base64 raw 32-byte public key, "message": base64, "sig": base64} on
stdin; prints a JSON list of booleans.
"""
import base64
import ctypes
import ctypes.util
import json
import sys


def load():
    name = ctypes.util.find_library("sodium") or "libsodium.so.23"
    sodium = ctypes.CDLL(name)
    if sodium.sodium_init() < 0:
        raise RuntimeError("sodium_init failed")
    return sodium


def verify(sodium, case):
    pk = base64.b64decode(case["pk"])
    message = base64.b64decode(case["message"])
    sig = base64.b64decode(case["sig"])
    if len(pk) != 32 or len(sig) != 64:
        return False
    state = ctypes.create_string_buffer(sodium.crypto_sign_ed25519ph_statebytes())
    sodium.crypto_sign_ed25519ph_init(state)
    sodium.crypto_sign_ed25519ph_update(state, message, ctypes.c_ulonglong(len(message)))
    return sodium.crypto_sign_ed25519ph_final_verify(state, sig, pk) == 0


def main():
    sodium = load()
    json.dump([verify(sodium, c) for c in json.load(sys.stdin)], sys.stdout)


if __name__ == "__main__":
    main()
