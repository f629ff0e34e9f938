"""Shared pieces of the KMS client sessions: endpoint options, a step recorder with known gaps,
and the outside judges (Python `cryptography`, PyCryptodome) of what a KMS endpoint returns.

A session is a list of named steps. Each step either passes, fails (an unexpected error or a
judge's "no"), or is a known gap of the endpoint (given with --gap STEP=TEXT: the step must fail
and its error must contain TEXT; a gap step that passes is a failure too, so a fixed emulator
gets its gap removed). The report is JSON on stdout; the exit status is 1 when any step failed.
"""
import argparse
import json
import sys
import time
import traceback

from botocore.exceptions import ClientError
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, padding, rsa, utils

HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}

# What KMS documents for each key spec: usage -> algorithms (DescribeKey, GetPublicKey).
RSA_SIGNING = [
    "RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512",
    "RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512",
]
SIGNING = {
    "RSA_2048": RSA_SIGNING, "RSA_3072": RSA_SIGNING, "RSA_4096": RSA_SIGNING,
    "ECC_NIST_P256": ["ECDSA_SHA_256"], "ECC_NIST_P384": ["ECDSA_SHA_384"],
    "ECC_NIST_P521": ["ECDSA_SHA_512"], "ECC_SECG_P256K1": ["ECDSA_SHA_256"],
    "ECC_NIST_EDWARDS25519": ["ED25519_SHA_512", "ED25519_PH_SHA_512"],
    "ML_DSA_44": ["ML_DSA_SHAKE_256"], "ML_DSA_65": ["ML_DSA_SHAKE_256"],
    "ML_DSA_87": ["ML_DSA_SHAKE_256"],
}
RSA_ENCRYPTION = ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]
HMAC = {"HMAC_224": "HMAC_SHA_224", "HMAC_256": "HMAC_SHA_256", "HMAC_384": "HMAC_SHA_384",
        "HMAC_512": "HMAC_SHA_512"}
ML_KEM = ["ML_KEM_512", "ML_KEM_768", "ML_KEM_1024"]
ECDH_SPECS = ["ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521"]
CURVES = {"ECC_NIST_P256": ec.SECP256R1, "ECC_NIST_P384": ec.SECP384R1,
          "ECC_NIST_P521": ec.SECP521R1, "ECC_SECG_P256K1": ec.SECP256K1}


def options(description):
    """The command line every session takes."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--endpoint-url", required=True)
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--access-key", default="test")
    p.add_argument("--secret-key", default="test")
    p.add_argument("--specs", default="", help="comma-separated KeySpecs the endpoint supports")
    p.add_argument("--gap", action="append", default=[], metavar="STEP=TEXT",
                   help="a known gap: STEP must fail with an error containing TEXT")
    return p


class StepFailed(Exception):
    """A judge said no, or an answer had the wrong shape."""


def check(condition, what):
    """Raises StepFailed(what) unless condition holds."""
    if not condition:
        raise StepFailed(what)


def error_code(e):
    """The KMS error type of a botocore ClientError."""
    return e.response.get("Error", {}).get("Code", "")


class Session:
    """Runs and records steps."""

    def __init__(self, endpoint, gaps):
        self.endpoint = endpoint
        self.gaps = {}
        for g in gaps:
            step, sep, text = g.partition("=")
            if not sep:
                raise SystemExit(f"--gap {g!r}: expected STEP=TEXT")
            self.gaps[step] = text
        self.steps = []

    def run(self, step, fn):
        """Runs fn() as the step named `step`; returns its result, or None when it failed."""
        result, error = None, None
        started = time.monotonic()
        try:
            result = fn()
        except ClientError as e:
            error = f"{error_code(e)}: {e}"
        except StepFailed as e:
            error = f"judge: {e}"
        except Exception as e:  # noqa: BLE001 - any crash of a step is that step's failure
            error = f"{type(e).__name__}: {e} @ {traceback.format_exc(limit=-2).strip()}"
        gap = self.gaps.get(step)
        if gap is None:
            outcome = "ok" if error is None else "failed"
        elif error is None:
            outcome, error = "failed", f"the known gap ({gap}) is gone: the step passed"
        elif gap in error:
            outcome = "gap"
        else:
            outcome, error = "failed", f"failed elsewhere than its known gap ({gap}): {error}"
        record = {"step": step, "outcome": outcome,
                  "ms": round((time.monotonic() - started) * 1000)}
        if error is not None:
            record["error"] = error
        self.steps.append(record)
        return result if outcome == "ok" else None

    def expect_error(self, step, code, fn):
        """A step that must be refused with the KMS error `code`."""
        def refused():
            try:
                fn()
            except ClientError as e:
                check(error_code(e) == code, f"expected {code}, got {error_code(e)}: {e}")
                return code
            raise StepFailed(f"expected {code}, the request succeeded")
        return self.run(step, refused)

    def finish(self, extra=None):
        """Prints the report; exits 1 when a step failed or a known gap named no step."""
        names = {s["step"] for s in self.steps}
        for step, text in self.gaps.items():
            if step not in names:
                self.steps.append({"step": step, "outcome": "failed",
                                   "error": f"the known gap ({text}) names no step of the session"})
        failed = [s for s in self.steps if s["outcome"] == "failed"]
        report = {"endpoint": self.endpoint, "steps": self.steps,
                  "ok": sum(s["outcome"] == "ok" for s in self.steps),
                  "gaps": sum(s["outcome"] == "gap" for s in self.steps),
                  "failed": len(failed)}
        if extra:
            report.update(extra)
        json.dump(report, sys.stdout, indent=1)
        sys.stdout.write("\n")
        for s in failed:
            print(f"FAILED {s['step']}: {s['error']}", file=sys.stderr)
        sys.exit(1 if failed else 0)


def verify_signature(public_der, algorithm, data, message_type, signature):
    """The outside judge of one KMS signature. `data` is what was sent as Message. Returns True
    or False; raises for an algorithm it does not know."""
    if algorithm == "ED25519_PH_SHA_512":
        # KMS's Ed25519ph over a DIGEST D: RFC 8032 HashEdDSA of D, so KMS hashes D once more.
        from Crypto.Hash import SHA512
        from Crypto.PublicKey import ECC
        from Crypto.Signature import eddsa
        check(message_type == "DIGEST", "ED25519_PH_SHA_512 is DIGEST only")
        verifier = eddsa.new(ECC.import_key(public_der), "rfc8032")
        try:
            verifier.verify(SHA512.new(data), signature)
            return True
        except ValueError:
            return False
    key = serialization.load_der_public_key(public_der)
    try:
        if algorithm == "ED25519_SHA_512":
            check(isinstance(key, ed25519.Ed25519PublicKey), f"an Ed25519 key, got {type(key)}")
            key.verify(signature, data)
        elif algorithm == "ML_DSA_SHAKE_256":
            check(isinstance(key, (mldsa.MLDSA44PublicKey, mldsa.MLDSA65PublicKey,
                                   mldsa.MLDSA87PublicKey)), f"an ML-DSA key, got {type(key)}")
            if message_type == "EXTERNAL_MU":
                key.verify_mu(signature, data)
            else:
                key.verify(signature, data)
        else:
            h = HASHES[algorithm[-3:]]()
            chosen = utils.Prehashed(h) if message_type == "DIGEST" else h
            if algorithm.startswith("RSASSA_PSS"):
                key.verify(signature, data,
                           padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), chosen)
            elif algorithm.startswith("RSASSA_PKCS1_V1_5"):
                key.verify(signature, data, padding.PKCS1v15(), chosen)
            elif algorithm.startswith("ECDSA"):
                key.verify(signature, data, ec.ECDSA(chosen))
            else:
                raise ValueError("no judge for " + algorithm)
        return True
    except InvalidSignature:
        return False


def oaep(algorithm):
    """The OAEP padding of a KMS RSAES algorithm (MGF1 with the same hash, empty label)."""
    h = hashes.SHA1() if algorithm.endswith("SHA_1") else hashes.SHA256()
    return padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=None)


def private_matches_public(private_der, public_der):
    """Whether a PKCS#8 private key's public half is the SPKI public key (data key pairs)."""
    private = serialization.load_der_private_key(private_der, password=None)
    mine = private.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
    return mine == public_der


def rsa_key_bits(public_der):
    """The modulus size of an RSA SPKI key."""
    key = serialization.load_der_public_key(public_der)
    check(isinstance(key, rsa.RSAPublicKey), f"an RSA key, got {type(key)}")
    return key.key_size
