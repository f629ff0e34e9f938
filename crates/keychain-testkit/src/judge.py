"""Independent judge of signatures: Python `cryptography` (OpenSSL-backed, but not our code).

Reads a JSON list of cases on stdin, prints a JSON list of booleans (valid or not).
Each case: {"pem": SPKI PEM, "alg": KMS signing algorithm, "sig": base64,
            "message": base64 (raw message) | "digest": base64 (precomputed digest)}
"""
import base64
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, utils

HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}


def verify(case):
    key = serialization.load_pem_public_key(case["pem"].encode())
    alg = case["alg"]
    sig = base64.b64decode(case["sig"])
    if "digest" in case:
        data = base64.b64decode(case["digest"])
    else:
        data = base64.b64decode(case["message"])
    try:
        if alg == "ED25519_SHA_512":
            assert isinstance(key, ed25519.Ed25519PublicKey)
            key.verify(sig, data)
            return True
        h = HASHES[alg[-3:]]()
        prehashed = "digest" in case
        chosen = utils.Prehashed(h) if prehashed else h
        if alg.startswith("RSASSA_PSS"):
            key.verify(sig, data, padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), chosen)
        elif alg.startswith("RSASSA_PKCS1_V1_5"):
            key.verify(sig, data, padding.PKCS1v15(), chosen)
        elif alg.startswith("ECDSA"):
            key.verify(sig, data, ec.ECDSA(chosen))
        else:
            raise ValueError("unknown algorithm " + alg)
        return True
    except InvalidSignature:
        return False


def main():
    cases = json.load(sys.stdin)
    json.dump([verify(c) for c in cases], sys.stdout)


if __name__ == "__main__":
    main()
