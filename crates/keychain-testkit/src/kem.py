"""Independent judge of ML-KEM: Python `cryptography` (ML-KEM-768 and ML-KEM-1024; it has no
ML-KEM-512).

Reads a JSON list of cases on stdin, prints a JSON list of answers.
  {"op": "encapsulate", "pem": SPKI PEM}
      -> {"ciphertext": base64, "secret": base64}: a fresh secret encapsulated to the key.
  {"op": "decapsulate", "key_file": PEM private key (encrypted PKCS#8), "password": text,
   "ciphertext": base64}
      -> {"secret": base64, "spki": base64 DER of the key's public key,
          "pkcs8": base64 of the key as cryptography writes an unencrypted PKCS#8}
"""
import base64
import json
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import mlkem

PUBLIC = (mlkem.MLKEM768PublicKey, mlkem.MLKEM1024PublicKey)
PRIVATE = (mlkem.MLKEM768PrivateKey, mlkem.MLKEM1024PrivateKey)


def b64(data):
    return base64.b64encode(data).decode()


def answer(case):
    if case["op"] == "encapsulate":
        key = serialization.load_pem_public_key(case["pem"].encode())
        assert isinstance(key, PUBLIC), type(key)
        secret, ciphertext = key.encapsulate()
        return {"ciphertext": b64(ciphertext), "secret": b64(secret)}
    if case["op"] == "decapsulate":
        key = serialization.load_pem_private_key(
            case["key_file"].encode(), password=case["password"].encode()
        )
        assert isinstance(key, PRIVATE), type(key)
        spki = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        pkcs8 = key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        secret = key.decapsulate(base64.b64decode(case["ciphertext"]))
        return {"secret": b64(secret), "spki": b64(spki), "pkcs8": b64(pkcs8)}
    raise ValueError("unknown op " + case["op"])


json.dump([answer(c) for c in json.load(sys.stdin)], sys.stdout)
