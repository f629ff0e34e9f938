"""Writes an age file to an age-plugin-keychain ML-KEM recipient from docs/AGE.md and the
age v1 format alone, with Python `cryptography` (its own ML-KEM, HKDF, HMAC and
ChaCha20-Poly1305): the plugin's code makes none of it.

argv: public key DER file, key reference, plaintext file, output file.
"""
import base64
import hashlib
import os
import sys

from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

spki, key_ref, plaintext_path, out_path = sys.argv[1:5]
public_key = serialization.load_der_public_key(open(spki, "rb").read())
plaintext = open(plaintext_path, "rb").read()


def hkdf(ikm, salt, info):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


def b64(data):
    return base64.b64encode(data).decode().rstrip("=")


file_key = os.urandom(16)
shared_secret, ciphertext = public_key.encapsulate()
wrap_key = hkdf(shared_secret, ciphertext,
                b"age-plugin-keychain/mlkem/v1\x00" + key_ref.encode())
sealed = ChaCha20Poly1305(wrap_key).encrypt(b"\x00" * 12, file_key, None)
tag = b64(hashlib.sha256(key_ref.encode()).digest()[:4])

body = b64(ciphertext + sealed)
lines = [body[i:i + 64] for i in range(0, len(body), 64)]
if len(lines[-1]) == 64:
    lines.append("")
header = "age-encryption.org/v1\n"
header += f"-> keychain mlkem-hkdf-sha256-chacha20poly1305 {tag}\n"
header += "\n".join(lines) + "\n---"
mac = hmac.HMAC(hkdf(file_key, b"", b"header"), hashes.SHA256())
mac.update(header.encode())
header += " " + b64(mac.finalize()) + "\n"

nonce = os.urandom(16)
payload_key = ChaCha20Poly1305(hkdf(file_key, nonce, b"payload"))
chunks = [plaintext[i:i + 65536] for i in range(0, len(plaintext), 65536)] or [b""]
payload = b""
for counter, chunk in enumerate(chunks):
    last = b"\x01" if counter == len(chunks) - 1 else b"\x00"
    payload += payload_key.encrypt(counter.to_bytes(11, "big") + last, chunk, None)
open(out_path, "wb").write(header.encode() + nonce + payload)
