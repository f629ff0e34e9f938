"""Makes RFC 8032 Ed25519ph signatures with PyCryptodome, for keychain to verify: each input X
is signed as the Ed25519ph message (prehash SHA-512(X)), with a fresh key. For a 64-byte
SHA-512 digest D this is AWS KMS's ED25519_PH_SHA_512 over D with MessageType=DIGEST.

Reads a JSON list of base64 inputs on stdin; prints a JSON list of {"pem": SPKI PEM of the
public key, "sig": base64 signature}.
"""
import base64
import json
import sys

from Crypto.Hash import SHA512
from Crypto.PublicKey import ECC
from Crypto.Signature import eddsa


def sign(x):
    key = ECC.generate(curve="Ed25519")
    sig = eddsa.new(key, "rfc8032").sign(SHA512.new(x))
    return {"pem": key.public_key().export_key(format="PEM"), "sig": base64.b64encode(sig).decode()}


def main():
    inputs = [base64.b64decode(x) for x in json.load(sys.stdin)]
    json.dump([sign(x) for x in inputs], sys.stdout)


if __name__ == "__main__":
    main()
