"""Independent judge of signatures: Python `cryptography` (OpenSSL-backed, but not our code;
its own ML-DSA since version 47), and PyCryptodome for Ed25519ph, which `cryptography` does
not implement (in AWS KMS's meaning: see `verify_ed25519ph`).

Reads a JSON list of cases on stdin, prints a JSON list of booleans (valid or not).
Each case: {"pem": SPKI PEM, "alg": KMS signing algorithm, "sig": base64,
            "message": base64 (raw message) | "digest": base64 (precomputed digest)
            | "path": a file holding the raw message}
"""
import base64
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, padding, utils

MLDSA_KEYS = (mldsa.MLDSA44PublicKey, mldsa.MLDSA65PublicKey, mldsa.MLDSA87PublicKey)

HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}


def verify(case):
    key = serialization.load_pem_public_key(case["pem"].encode())
    alg = case["alg"]
    sig = base64.b64decode(case["sig"])
    if "digest" in case:
        data = base64.b64decode(case["digest"])
    else:
        data = message_of(case)
    if alg == "ED25519_PH_SHA_512":
        return verify_ed25519ph(case, sig)
    try:
        if alg == "ED25519_SHA_512":
            assert isinstance(key, ed25519.Ed25519PublicKey)
            key.verify(sig, data)
            return True
        if alg == "ML_DSA_SHAKE_256":
            # Pure ML-DSA over the message, empty context (what KMS and keychain sign).
            if "digest" in case:
                raise ValueError("the ML-DSA judge needs the message, not a digest")
            assert isinstance(key, MLDSA_KEYS), type(key)
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


def message_of(case):
    if "path" in case:
        with open(case["path"], "rb") as f:
            return f.read()
    return base64.b64decode(case["message"])


def verify_ed25519ph(case, sig):
    """RFC 8032 HashEdDSA in AWS KMS's meaning of ED25519_PH_SHA_512: the 64-byte SHA-512
    digest D of the message is the Ed25519ph message, hashed again (prehash SHA-512(D)). A
    case with a digest gives D; a case with a message m stands for D = SHA-512(m)."""
    from Crypto.Hash import SHA512
    from Crypto.PublicKey import ECC
    from Crypto.Signature import eddsa

    if "digest" in case:
        d = base64.b64decode(case["digest"])
    else:
        d = SHA512.new(message_of(case)).digest()
    verifier = eddsa.new(ECC.import_key(case["pem"]), "rfc8032")
    try:
        verifier.verify(SHA512.new(d), sig)
        return True
    except ValueError:
        return False


def main():
    cases = json.load(sys.stdin)
    json.dump([verify(c) for c in cases], sys.stdout)


if __name__ == "__main__":
    main()
