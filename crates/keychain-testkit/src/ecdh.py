"""Independent judge of ECDH: Python `cryptography`.

Reads a JSON list of cases on stdin, prints a JSON list of answers.
  {"op": "agree", "pem": SPKI PEM of an EC public key}
      -> {"public_key": base64 DER SPKI, "secret": base64}: a fresh key pair of the judge's
         own on the same curve, and the ECDH secret of its private key and the given key.
  {"op": "agree_with_key_file", "key_file": PEM private key (encrypted PKCS#8),
   "password": text, "peer": base64 DER SPKI}
      -> {"secret": base64, "spki": base64 DER of the key file's public key}
  {"op": "public_key", "kind": "P-256" | "P-384" | "P-521" | "secp256k1" | "ed25519" | "rsa"}
      -> {"public_key": base64 DER SPKI} of a fresh key of that kind.
"""
import base64
import json
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

CURVES = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1, "P-521": ec.SECP521R1,
          "secp256k1": ec.SECP256K1}


def b64(data):
    return base64.b64encode(data).decode()


def spki(public):
    return public.public_bytes(serialization.Encoding.DER,
                               serialization.PublicFormat.SubjectPublicKeyInfo)


def answer(case):
    if case["op"] == "agree":
        theirs = serialization.load_pem_public_key(case["pem"].encode())
        assert isinstance(theirs, ec.EllipticCurvePublicKey), type(theirs)
        mine = ec.generate_private_key(theirs.curve)
        return {"public_key": b64(spki(mine.public_key())),
                "secret": b64(mine.exchange(ec.ECDH(), theirs))}
    if case["op"] == "agree_with_key_file":
        key = serialization.load_pem_private_key(case["key_file"].encode(),
                                                 password=case["password"].encode())
        assert isinstance(key, ec.EllipticCurvePrivateKey), type(key)
        peer = serialization.load_der_public_key(base64.b64decode(case["peer"]))
        return {"secret": b64(key.exchange(ec.ECDH(), peer)), "spki": b64(spki(key.public_key()))}
    if case["op"] == "public_key":
        kind = case["kind"]
        if kind in CURVES:
            key = ec.generate_private_key(CURVES[kind]())
        elif kind == "ed25519":
            key = ed25519.Ed25519PrivateKey.generate()
        elif kind == "rsa":
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            raise ValueError("unknown kind " + kind)
        return {"public_key": b64(spki(key.public_key()))}
    raise ValueError("unknown op " + case["op"])


json.dump([answer(c) for c in json.load(sys.stdin)], sys.stdout)
