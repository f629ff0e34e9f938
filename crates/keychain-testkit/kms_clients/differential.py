"""Differential runner: the same scripted KMS requests, good and bad, sent to one or two
endpoints (LocalStack and `keychain serve`). Each request is SigV4-signed by botocore's signer,
so only the intended fault differs between a good and a bad request.

For every case it records each endpoint's HTTP status and error type (`__type`), and for a good
answer the set of its fields (top level and one level into an object); it compares each
endpoint with what the KMS API reference documents for the case (`expect`; for a success: no
field the operation's answer does not have), and the two endpoints with each other.

    python differential.py --endpoint NAME=URL [--endpoint NAME=URL]
        [--deviation NAME:CASE ...]   an endpoint's known deviation from the API reference

Prints a JSON report (the cases, the deviations, the disagreements between the endpoints) and
the disagreements on stderr. Exits 1 when an endpoint deviates from the API reference in a
case not given with --deviation, or when a given deviation is gone.
"""
import argparse
import base64
import json
import sys
import uuid

import boto3
import botocore.exceptions
import botocore.session
from botocore.config import Config
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kms_raw import send, signed

MESSAGE = b"differential"
CONTEXT = {"purpose": "differential"}
GRANTEE = "arn:aws:iam::000000000000:role/differential"
POLICY = {"Version": "2012-10-17", "Id": "differential", "Statement": [{
    "Sid": "Enable IAM User Permissions", "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::000000000000:root"}, "Action": "kms:*",
    "Resource": "*"}]}


def fixtures(endpoint, region):
    """The keys every case refers to, created on `endpoint` through boto3."""
    kms = boto3.client("kms", endpoint_url=endpoint, region_name=region,
                       aws_access_key_id="test", aws_secret_access_key="test",
                       config=Config(retries={"max_attempts": 1}))
    sym = kms.create_key()["KeyMetadata"]["KeyId"]
    sign = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=sym, Plaintext=b"x", EncryptionContext=CONTEXT)["CiphertextBlob"]
    sig = kms.sign(KeyId=sign, Message=MESSAGE, MessageType="RAW",
                   SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    agree, agree_off = (kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT")
                        ["KeyMetadata"]["KeyId"] for _ in range(2))
    kms.disable_key(KeyId=agree_off)
    ext = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    peer = lambda curve: b64(ec.generate_private_key(curve()).public_key().public_bytes(  # noqa: E731
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
    return {"sym": sym, "sign": sign, "ext": ext, "blob": b64(blob), "sig": b64(sig),
            "agree": agree, "agree_off": agree_off, "peer": peer(ec.SECP256R1),
            "peer_p384": peer(ec.SECP384R1),
            "bad_sig": b64(sig[:-1] + bytes([sig[-1] ^ 1])), "msg": b64(MESSAGE),
            "b64": b64, "alias": f"alias/diff-{uuid.uuid4().hex[:10]}",
            "aws_alias": f"alias/aws/diff-{uuid.uuid4().hex[:10]}"}


def ok():
    """What the reference documents for a good request: HTTP 200, no error."""
    return (200, None)


def err(kind):
    """A documented refusal: HTTP 400 with `kind` in `__type`."""
    return (400, kind)


# (name, target, body(fixtures), what the API reference documents, extra options)
# Bodies are dicts (JSON) or bytes (sent as is). Options: content_type.
CASES = [
    # Good requests: 200 and the documented fields.
    ("good/CreateKey", "CreateKey", lambda f: {"Description": "diff"}, ok()),
    ("good/DescribeKey", "DescribeKey", lambda f: {"KeyId": f["sym"]}, ok()),
    ("good/ListKeys", "ListKeys", lambda f: {"Limit": 1000}, ok()),
    ("good/Encrypt", "Encrypt", lambda f: {"KeyId": f["sym"], "Plaintext": f["msg"],
                                           "EncryptionContext": CONTEXT}, ok()),
    ("good/Decrypt", "Decrypt", lambda f: {"CiphertextBlob": f["blob"],
                                           "EncryptionContext": CONTEXT}, ok()),
    ("good/Encrypt-4096", "Encrypt", lambda f: {"KeyId": f["sym"],
                                                "Plaintext": f["b64"](bytes(4096))}, ok()),
    ("good/GenerateDataKey", "GenerateDataKey", lambda f: {"KeyId": f["sym"],
                                                           "KeySpec": "AES_256"}, ok()),
    ("good/GenerateDataKeyWithoutPlaintext", "GenerateDataKeyWithoutPlaintext",
     lambda f: {"KeyId": f["sym"], "KeySpec": "AES_256"}, ok()),
    ("good/Sign", "Sign", lambda f: {"KeyId": f["sign"], "Message": f["msg"],
                                     "SigningAlgorithm": "ECDSA_SHA_256"}, ok()),
    ("good/Verify", "Verify", lambda f: {"KeyId": f["sign"], "Message": f["msg"],
                                         "Signature": f["sig"],
                                         "SigningAlgorithm": "ECDSA_SHA_256"}, ok()),
    ("good/GetPublicKey", "GetPublicKey", lambda f: {"KeyId": f["sign"]}, ok()),
    ("good/GenerateRandom", "GenerateRandom", lambda f: {"NumberOfBytes": 16}, ok()),
    ("good/GetKeyRotationStatus", "GetKeyRotationStatus", lambda f: {"KeyId": f["sym"]}, ok()),
    ("good/CreateAlias", "CreateAlias", lambda f: {"AliasName": f["alias"],
                                                   "TargetKeyId": f["sym"]}, ok()),
    ("good/ListAliases", "ListAliases", lambda f: {"KeyId": f["sym"]}, ok()),
    ("good/ListResourceTags", "ListResourceTags", lambda f: {"KeyId": f["sym"]}, ok()),
    ("good/GetKeyPolicy", "GetKeyPolicy", lambda f: {"KeyId": f["sym"],
                                                     "PolicyName": "default"}, ok()),
    ("good/PutKeyPolicy", "PutKeyPolicy", lambda f: {
        "KeyId": f["sign"], "PolicyName": "default", "Policy": json.dumps(POLICY)}, ok()),
    ("good/ListKeyPolicies", "ListKeyPolicies", lambda f: {"KeyId": f["sym"]}, ok()),
    ("good/CreateGrant", "CreateGrant", lambda f: {
        "KeyId": f["sym"], "GranteePrincipal": GRANTEE, "RetiringPrincipal": GRANTEE,
        "Operations": ["Encrypt", "Decrypt"]}, ok()),
    ("good/ListGrants", "ListGrants", lambda f: {"KeyId": f["sym"]}, ok()),
    ("good/ListRetirableGrants", "ListRetirableGrants", lambda f: {
        "RetiringPrincipal": GRANTEE}, ok()),
    ("good/GetParametersForImport", "GetParametersForImport", lambda f: {
        "KeyId": f["ext"], "WrappingAlgorithm": "RSAES_OAEP_SHA_256",
        "WrappingKeySpec": "RSA_2048"}, ok()),
    # Bad requests, each with KMS's documented error.
    ("bad/unknown-key-id", "DescribeKey", lambda f: {"KeyId": str(uuid.uuid4())},
     err("NotFoundException")),
    ("bad/unknown-key-arn", "Encrypt", lambda f: {
        "KeyId": f"arn:aws:kms:us-east-1:000000000000:key/{uuid.uuid4()}",
        "Plaintext": f["msg"]}, err("NotFoundException")),
    ("bad/malformed-key-id", "DescribeKey", lambda f: {"KeyId": "not a key id"},
     err("NotFoundException")),
    ("bad/unknown-alias", "DescribeKey", lambda f: {"KeyId": "alias/no-such-alias-anywhere"},
     err("NotFoundException")),
    ("bad/PendingWindowInDays-6", "ScheduleKeyDeletion", lambda f: {
        "KeyId": f["sym"], "PendingWindowInDays": 6}, err("ValidationException")),
    ("bad/PendingWindowInDays-31", "ScheduleKeyDeletion", lambda f: {
        "KeyId": f["sym"], "PendingWindowInDays": 31}, err("ValidationException")),
    ("bad/plaintext-4097", "Encrypt", lambda f: {"KeyId": f["sym"],
                                                 "Plaintext": f["b64"](bytes(4097))},
     err("ValidationException")),
    ("bad/plaintext-empty", "Encrypt", lambda f: {"KeyId": f["sym"], "Plaintext": ""},
     err("ValidationException")),
    ("bad/wrong-encryption-context", "Decrypt", lambda f: {
        "CiphertextBlob": f["blob"], "EncryptionContext": {"purpose": "other"}},
     err("InvalidCiphertextException")),
    ("bad/garbage-ciphertext", "Decrypt", lambda f: {"CiphertextBlob": f["b64"](bytes(64))},
     err("InvalidCiphertextException")),
    ("bad/sign-with-encrypt-key", "Sign", lambda f: {
        "KeyId": f["sym"], "Message": f["msg"], "SigningAlgorithm": "ECDSA_SHA_256"},
     err("InvalidKeyUsageException")),
    ("bad/encrypt-with-sign-key", "Encrypt", lambda f: {"KeyId": f["sign"],
                                                        "Plaintext": f["msg"]},
     err("InvalidKeyUsageException")),
    ("bad/verify-wrong-signature", "Verify", lambda f: {
        "KeyId": f["sign"], "Message": f["msg"], "Signature": f["bad_sig"],
        "SigningAlgorithm": "ECDSA_SHA_256"}, err("KMSInvalidSignatureException")),
    ("bad/sign-algorithm-of-another-spec", "Sign", lambda f: {
        "KeyId": f["sign"], "Message": f["msg"], "SigningAlgorithm": "RSASSA_PSS_SHA_256"},
     err("InvalidKeyUsageException")),
    ("bad/enum-SigningAlgorithm", "Sign", lambda f: {
        "KeyId": f["sign"], "Message": f["msg"], "SigningAlgorithm": "ECDSA_SHA_1024"},
     err("ValidationException")),
    ("bad/enum-KeySpec", "CreateKey", lambda f: {"KeySpec": "RSA_1024"},
     err("ValidationException")),
    ("bad/enum-KeyUsage", "CreateKey", lambda f: {"KeyUsage": "SIGN_EVERYTHING"},
     err("ValidationException")),
    ("bad/enum-MessageType", "Sign", lambda f: {
        "KeyId": f["sign"], "Message": f["msg"], "SigningAlgorithm": "ECDSA_SHA_256",
        "MessageType": "HASHED"}, err("ValidationException")),
    ("bad/digest-of-wrong-length", "Sign", lambda f: {
        "KeyId": f["sign"], "Message": f["msg"], "SigningAlgorithm": "ECDSA_SHA_256",
        "MessageType": "DIGEST"}, err("ValidationException")),
    ("bad/missing-Plaintext", "Encrypt", lambda f: {"KeyId": f["sym"]},
     err("ValidationException")),
    ("bad/missing-KeyId", "Sign", lambda f: {"Message": f["msg"],
                                             "SigningAlgorithm": "ECDSA_SHA_256"},
     err("ValidationException")),
    ("bad/GenerateRandom-0", "GenerateRandom", lambda f: {"NumberOfBytes": 0},
     err("ValidationException")),
    ("bad/GenerateRandom-1025", "GenerateRandom", lambda f: {"NumberOfBytes": 1025},
     err("ValidationException")),
    ("bad/alias-without-prefix", "CreateAlias", lambda f: {"AliasName": "no-prefix",
                                                           "TargetKeyId": f["sym"]},
     err("ValidationException")),
    ("bad/alias-reserved-aws", "CreateAlias", lambda f: {"AliasName": f["aws_alias"],
                                                         "TargetKeyId": f["sym"]},
     err("NotAuthorizedException")),
    ("bad/alias-exists", "CreateAlias", lambda f: {"AliasName": f["alias"],
                                                   "TargetKeyId": f["sym"]},
     err("AlreadyExistsException")),
    ("bad/Plaintext-not-base64", "Encrypt", lambda f: {"KeyId": f["sym"],
                                                       "Plaintext": "@@not base64@@"},
     err("SerializationException")),
    ("bad/field-of-wrong-type", "GenerateRandom", lambda f: {"NumberOfBytes": "sixteen"},
     err("SerializationException")),
    ("bad/malformed-json", "DescribeKey", lambda f: b'{"KeyId": ', err("SerializationException")),
    ("bad/json-array", "DescribeKey", lambda f: b'[1, 2]', err("SerializationException")),
    ("bad/unknown-target", "DoSomethingElse", lambda f: {}, err("UnknownOperationException")),
    # PutKeyPolicy: "If the key policy exceeds the length constraint, KMS returns a
    # LimitExceededException"; a document that is not a policy: MalformedPolicyDocumentException.
    ("bad/policy-not-json", "PutKeyPolicy", lambda f: {
        "KeyId": f["sym"], "PolicyName": "default", "Policy": "not a policy"},
     err("MalformedPolicyDocumentException")),
    ("bad/policy-over-32-KiB", "PutKeyPolicy", lambda f: {
        "KeyId": f["sym"], "PolicyName": "default",
        "Policy": json.dumps(dict(POLICY, Id="x" * 33000))}, err("LimitExceededException")),
    ("bad/enum-grant-Operations", "CreateGrant", lambda f: {
        "KeyId": f["sym"], "GranteePrincipal": GRANTEE, "Operations": ["Fly"]},
     err("ValidationException")),
    ("bad/ListGrants-Limit-101", "ListGrants", lambda f: {"KeyId": f["sym"], "Limit": 101},
     err("ValidationException")),
    ("bad/revoke-unknown-grant", "RevokeGrant", lambda f: {"KeyId": f["sym"],
                                                           "GrantId": "0" * 64},
     err("InvalidGrantIdException")),
    ("bad/retire-garbage-token", "RetireGrant", lambda f: {"GrantToken": "garbage"},
     err("InvalidGrantTokenException")),
    ("bad/enum-WrappingAlgorithm", "GetParametersForImport", lambda f: {
        "KeyId": f["ext"], "WrappingAlgorithm": "RSA_PLAIN", "WrappingKeySpec": "RSA_2048"},
     err("ValidationException")),
    ("bad/import-into-key-not-external", "GetParametersForImport", lambda f: {
        "KeyId": f["sym"], "WrappingAlgorithm": "RSAES_OAEP_SHA_256",
        "WrappingKeySpec": "RSA_2048"}, err("UnsupportedOperationException")),
    ("bad/import-token-unknown", "ImportKeyMaterial", lambda f: {
        "KeyId": f["ext"], "ImportToken": f["b64"](bytes(32)),
        "EncryptedKeyMaterial": f["b64"](bytes(256)),
        "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}, err("InvalidImportTokenException")),
    # Not documented for KMS: compared between the endpoints only.
    ("bad/wrong-content-type", "DescribeKey", lambda f: {"KeyId": f["sym"]}, None,
     {"content_type": "text/plain"}),
    ("bad/custom-key-store", "CreateCustomKeyStore", lambda f: {"CustomKeyStoreName": "x"},
     None),
    ("good/DeriveSharedSecret", "DeriveSharedSecret", lambda f: {
        "KeyId": f["agree"], "KeyAgreementAlgorithm": "ECDH", "PublicKey": f["peer"]}, ok()),
    ("bad/derive-with-sign-key", "DeriveSharedSecret", lambda f: {
        "KeyId": f["sign"], "KeyAgreementAlgorithm": "ECDH", "PublicKey": f["peer"]},
     err("InvalidKeyUsageException")),
    ("bad/derive-with-disabled-key", "DeriveSharedSecret", lambda f: {
        "KeyId": f["agree_off"], "KeyAgreementAlgorithm": "ECDH", "PublicKey": f["peer"]},
     err("DisabledException")),
    ("bad/enum-KeyAgreementAlgorithm", "DeriveSharedSecret", lambda f: {
        "KeyId": f["agree"], "KeyAgreementAlgorithm": "ECDHE", "PublicKey": f["peer"]},
     err("ValidationException")),
    # "the AWS CLI Base64-encodes the public key a second time, resulting in a
    # ValidationException": a PublicKey that is no DER SPKI.
    ("bad/derive-public-key-base64-twice", "DeriveSharedSecret", lambda f: {
        "KeyId": f["agree"], "KeyAgreementAlgorithm": "ECDH",
        "PublicKey": f["b64"](f["peer"].encode())}, err("ValidationException")),
    # "both key pairs must be on the same elliptic curve"; the reference names no error type.
    ("bad/derive-peer-on-another-curve", "DeriveSharedSecret", lambda f: {
        "KeyId": f["agree"], "KeyAgreementAlgorithm": "ECDH", "PublicKey": f["peer_p384"]},
     None),
    # UpdateAlias: "the new target KMS key must be the same type as the current target KMS key
    # (both symmetric or both asymmetric or both HMAC) and they must have the same key usage";
    # the reference names no error type for it.
    ("bad/update-alias-to-another-key-type", "UpdateAlias",
     lambda f: {"AliasName": f["alias"], "TargetKeyId": f["sign"]}, None),
    # "The only valid name is default", with no error type named.
    ("bad/policy-name-other", "GetKeyPolicy", lambda f: {"KeyId": f["sym"],
                                                         "PolicyName": "other"}, None),
    # "You cannot create a grant for a symmetric encryption KMS key that allows the Sign
    # operation", with no error type named.
    ("bad/grant-operation-of-another-key-type", "CreateGrant", lambda f: {
        "KeyId": f["sym"], "GranteePrincipal": GRANTEE, "Operations": ["Sign"]}, None),
]


def run_case(endpoint, region, case, f):
    name, target, body, _expect = case[:4]
    extra = case[4] if len(case) > 4 else {}
    url, headers, data = signed(endpoint, target, body(f), region=region, **extra)
    return send(url, headers, data)


MODEL = botocore.session.get_session().get_service_model("kms")


def documented_fields(target):
    """The fields KMS's API model gives the answer of `target` (botocore's copy of it)."""
    try:
        shape = MODEL.operation_model(target).output_shape
    except botocore.exceptions.OperationNotFoundError:
        return None
    return sorted(shape.members) if shape is not None else []


def matches(answer, expect, target):
    """Whether an answer is what the API reference documents: the status and error type, and
    for a success no field the operation's answer does not have."""
    status, kind = expect
    if status == 200:
        return (answer["status"] == 200 and answer["type"] is None
                and not answer.get("undocumented_fields"))
    return answer["status"] == status and answer["type"] == kind


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--endpoint", action="append", required=True, metavar="NAME=URL")
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--deviation", action="append", default=[], metavar="NAME:CASE")
    args = p.parse_args()
    endpoints = [e.split("=", 1) for e in args.endpoint]
    known = set(args.deviation)
    fx = {name: fixtures(url, args.region) for name, url in endpoints}
    cases, deviations, disagreements = [], [], []
    for case in CASES:
        name, expect = case[0], case[3]
        record = {"case": name, "expect": None if expect is None else
                  {"status": expect[0], "type": expect[1]}}
        for ep, url in endpoints:
            answer = run_case(url, args.region, case, fx[ep])
            if answer["status"] == 200:
                answer.pop("body", None)
                documented = documented_fields(case[1]) or []
                top = {f for f in answer["fields"] or [] if "." not in f}
                answer["undocumented_fields"] = sorted(top - set(documented))
                answer["absent_documented_fields"] = sorted(set(documented) - top)
            record[ep] = answer
            if expect is not None and not matches(answer, expect, case[1]):
                deviations.append(f"{ep}:{name}")
        if len(endpoints) == 2:
            a, b = (record[ep] for ep, _ in endpoints)
            same = (a["status"], a["type"]) == (b["status"], b["type"])
            if same and a["status"] == 200:
                same = a["fields"] == b["fields"]
            record["agree"] = same
            if not same:
                disagreements.append(name)
        cases.append(record)
    unexpected = sorted(set(deviations) - known)
    gone = sorted(known - set(deviations))
    report = {"endpoints": dict(endpoints), "cases": cases, "deviations": deviations,
              "unexpected_deviations": unexpected, "known_deviations_gone": gone,
              "disagreements": disagreements}
    json.dump(report, sys.stdout, indent=1)
    sys.stdout.write("\n")
    for name in disagreements:
        rec = next(c for c in cases if c["case"] == name)
        sides = "; ".join(f"{ep}: {rec[ep]['status']} {rec[ep]['type'] or rec[ep]['fields']}"
                          for ep, _ in endpoints)
        print(f"DISAGREE {name}: {sides}", file=sys.stderr)
    for d in unexpected:
        print(f"DEVIATES from the API reference: {d}", file=sys.stderr)
    for d in gone:
        print(f"KNOWN DEVIATION GONE: {d}", file=sys.stderr)
    sys.exit(1 if unexpected or gone else 0)


if __name__ == "__main__":
    main()
