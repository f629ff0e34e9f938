"""Independent RSA-OAEP encryption: Python `cryptography`, not our code.

Reads a JSON list of cases on stdin, prints a JSON list of base64 ciphertexts.
Each case: {"pem": SPKI PEM, "alg": "RSAES_OAEP_SHA_1" | "RSAES_OAEP_SHA_256",
            "plaintext": base64}
OAEP uses MGF1 with the same hash and an empty label, as AWS KMS does.
"""
import base64
import json
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

HASHES = {"RSAES_OAEP_SHA_1": hashes.SHA1, "RSAES_OAEP_SHA_256": hashes.SHA256}


def encrypt(case):
    key = serialization.load_pem_public_key(case["pem"].encode())
    assert isinstance(key, rsa.RSAPublicKey), "OAEP needs an RSA public key"
    h = HASHES[case["alg"]]
    oaep = padding.OAEP(mgf=padding.MGF1(algorithm=h()), algorithm=h(), label=None)
    ciphertext = key.encrypt(base64.b64decode(case["plaintext"]), oaep)
    return base64.b64encode(ciphertext).decode()


def main():
    cases = json.load(sys.stdin)
    json.dump([encrypt(c) for c in cases], sys.stdout)


if __name__ == "__main__":
    main()
