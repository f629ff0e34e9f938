"""A scripted KMS session through the AWS CLI (pip `awscli`, version 1, a client that is not
ours) against any KMS endpoint; every signature is checked by the `openssl` command.

Steps: create-key (RSA_2048 and ECC_NIST_P256 signing keys, ECC_NIST_EDWARDS25519 when given
in --specs, a symmetric key), get-public-key, sign (RAW and DIGEST) with the message from
fileb://, `openssl` verifies each signature, verify through the CLI, encrypt and decrypt with
fileb:// and an encryption context, list-keys, create/list/update/delete-alias, an HMAC key
imported from `openssl rand` material wrapped by `openssl pkeyutl` (its MAC judged by
`openssl dgst -hmac`), and the key's default policy.

    python session_awscli.py --endpoint-url http://127.0.0.1:4566 [--specs ...] [--gap STEP=TEXT]

The `aws` command is the one next to this Python interpreter (the venv's). Prints a JSON
report; exits 1 when a step failed.
"""
import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import uuid

from kms_steps import Session, StepFailed, check, options

AWS = os.path.join(os.path.dirname(sys.executable), "aws")
UNIQUE = uuid.uuid4().hex[:10]


class Cli:
    """Runs `aws kms ...` against one endpoint with static credentials and no config files."""

    def __init__(self, args, workdir):
        self.endpoint = args.endpoint_url
        self.workdir = workdir
        self.env = dict(os.environ, AWS_ACCESS_KEY_ID=args.access_key,
                        AWS_SECRET_ACCESS_KEY=args.secret_key, AWS_DEFAULT_REGION=args.region,
                        AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
                        AWS_MAX_ATTEMPTS="1", AWS_PAGER="")
        self.env.pop("AWS_SESSION_TOKEN", None)
        self.env.pop("AWS_PROFILE", None)

    def __call__(self, *argv):
        """The parsed JSON output of `aws kms ARGV`; raises StepFailed with stderr on failure."""
        cmd = [sys.executable, AWS, "--endpoint-url", self.endpoint, "--output", "json", "kms",
               *argv]
        out = subprocess.run(cmd, env=self.env, cwd=self.workdir, capture_output=True,
                             text=True, timeout=120)
        if out.returncode != 0:
            raise StepFailed(f"aws kms {' '.join(argv)} exited {out.returncode}: "
                             f"{out.stderr.strip()}")
        return json.loads(out.stdout) if out.stdout.strip() else {}

    def path(self, name):
        return os.path.join(self.workdir, name)

    def write(self, name, data):
        with open(self.path(name), "wb") as f:
            f.write(data)
        return "fileb://" + name


def openssl(*argv, workdir):
    """Runs openssl; returns (ok, output)."""
    out = subprocess.run(["openssl", *argv], cwd=workdir, capture_output=True, text=True)
    return out.returncode == 0, (out.stdout + out.stderr).strip()


def openssl_verifies(workdir, pem, algorithm, message_type, message_file, sig_file):
    """`openssl` judges one signature: dgst -verify (PSS options for PSS), pkeyutl -verify
    for a DIGEST and for Ed25519."""
    if algorithm == "ED25519_SHA_512":
        argv = ["pkeyutl", "-verify", "-pubin", "-inkey", pem, "-rawin", "-in", message_file,
                "-sigfile", sig_file]
    elif message_type == "DIGEST":
        argv = ["pkeyutl", "-verify", "-pubin", "-inkey", pem, "-in", message_file,
                "-sigfile", sig_file, "-pkeyopt", "digest:sha" + algorithm[-3:]]
        if algorithm.startswith("RSASSA_PSS"):
            argv += ["-pkeyopt", "rsa_padding_mode:pss", "-pkeyopt", "rsa_pss_saltlen:digest"]
    else:
        argv = ["dgst", "-sha" + algorithm[-3:], "-verify", pem, "-signature", sig_file]
        if algorithm.startswith("RSASSA_PSS"):
            argv += ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"]
        argv.append(message_file)
    ok, text = openssl(*argv, workdir=workdir)
    if ok and ("Verified OK" in text or "Signature Verified Successfully" in text):
        return True
    if "Verification fail" in text or "Signature Verification Failure" in text:
        return False
    raise StepFailed(f"openssl could not judge: {text}")


def signing(s, aws, spec, algorithms):
    tag = spec.lower()
    key = s.run(f"create-key/{spec}", lambda: aws(
        "create-key", "--key-spec", spec, "--key-usage", "SIGN_VERIFY")["KeyMetadata"])
    if key is None:
        return None

    def public_key():
        der = base64.b64decode(aws("get-public-key", "--key-id", key["KeyId"])["PublicKey"])
        with open(aws.path(f"{tag}.der"), "wb") as f:
            f.write(der)
        ok, text = openssl("pkey", "-pubin", "-inform", "DER", "-in", f"{tag}.der", "-out",
                           f"{tag}.pem", workdir=aws.workdir)
        check(ok, f"openssl cannot read the public key: {text}")
    if s.run(f"get-public-key/{spec}", public_key) is None and not os.path.exists(
            aws.path(f"{tag}.pem")):
        return key["KeyId"]
    message = b"signed through the AWS CLI\n" + os.urandom(16)
    msg = aws.write(f"{tag}.msg", message)
    for algorithm, mtype in algorithms:
        step = f"sign/{spec}/{algorithm}/{mtype}"

        def sign(algorithm=algorithm, mtype=mtype, step=step):
            name = step.replace("/", "_")
            if mtype == "DIGEST":
                data = aws.write(name + ".digest",
                                 hashlib.new("sha" + algorithm[-3:], message).digest())
            else:
                data = msg
            sig = base64.b64decode(aws("sign", "--key-id", key["KeyId"], "--message", data,
                                       "--message-type", mtype, "--signing-algorithm",
                                       algorithm)["Signature"])
            sig_file = aws.write(name + ".sig", sig)
            check(openssl_verifies(aws.workdir, f"{tag}.pem", algorithm, mtype,
                                   data[len("fileb://"):], sig_file[len("fileb://"):]),
                  "openssl refuses the signature")
            v = aws("verify", "--key-id", key["KeyId"], "--message", data, "--message-type",
                    mtype, "--signing-algorithm", algorithm, "--signature", sig_file)
            check(v.get("SignatureValid") is True, f"verify answered {v}")
        s.run(step, sign)
    return key["KeyId"]


def imported_hmac(s, aws):
    """An HMAC_256 key of material `openssl rand` made, wrapped by `openssl pkeyutl` (RSA-OAEP
    SHA-256) for the endpoint's wrapping key; its MAC must equal `openssl dgst -hmac`'s."""
    key = s.run("import/create-key/HMAC_256", lambda: aws(
        "create-key", "--key-spec", "HMAC_256", "--key-usage", "GENERATE_VERIFY_MAC",
        "--origin", "EXTERNAL")["KeyMetadata"])
    if key is None:
        return

    def do_import():
        ok, text = openssl("rand", "-out", "hmac.key", "32", workdir=aws.workdir)
        check(ok, f"openssl rand: {text}")
        params = aws("get-parameters-for-import", "--key-id", key["KeyId"],
                     "--wrapping-algorithm", "RSAES_OAEP_SHA_256",
                     "--wrapping-key-spec", "RSA_2048")
        aws.write("wrapping.der", base64.b64decode(params["PublicKey"]))
        token = aws.write("token.bin", base64.b64decode(params["ImportToken"]))
        ok, text = openssl("pkeyutl", "-encrypt", "-pubin", "-keyform", "DER", "-inkey",
                           "wrapping.der", "-in", "hmac.key", "-out", "wrapped.bin",
                           "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256",
                           "-pkeyopt", "rsa_mgf1_md:sha256", workdir=aws.workdir)
        check(ok, f"openssl pkeyutl -encrypt: {text}")
        aws("import-key-material", "--key-id", key["KeyId"], "--import-token", token,
            "--encrypted-key-material", "fileb://wrapped.bin",
            "--expiration-model", "KEY_MATERIAL_DOES_NOT_EXPIRE")
        message = aws.write("mac.msg", b"MACed through the AWS CLI\n" + os.urandom(16))
        mac = base64.b64decode(aws("generate-mac", "--key-id", key["KeyId"], "--message",
                                   message, "--mac-algorithm", "HMAC_SHA_256")["Mac"])
        with open(aws.path("hmac.key"), "rb") as f:
            hexkey = f.read().hex()
        ok, text = openssl("dgst", "-sha256", "-mac", "HMAC", "-macopt", f"hexkey:{hexkey}",
                           "-r", "mac.msg", workdir=aws.workdir)
        check(ok, f"openssl dgst -hmac: {text}")
        check(text.split()[0] == mac.hex(),
              f"the MAC is not openssl's HMAC-SHA-256 under the imported key: {text}")
    s.run("import/HMAC_256/openssl-wrapped", do_import)

    def policy():
        doc = json.loads(aws("get-key-policy", "--key-id", key["KeyId"],
                             "--policy-name", "default")["Policy"])
        check(doc["Statement"] and doc["Version"] == "2012-10-17", f"{doc}")
        names = aws("list-key-policies", "--key-id", key["KeyId"])["PolicyNames"]
        check(names == ["default"], f"{names}")
    s.run("key-policy/default", policy)


def main():
    args = options(__doc__.splitlines()[0]).parse_args()
    specs = [x for x in args.specs.split(",") if x]
    s = Session(args.endpoint_url, args.gap)
    with tempfile.TemporaryDirectory(prefix="kms-awscli-") as workdir:
        aws = Cli(args, workdir)
        created = []
        rsa = [(a, t) for a in ("RSASSA_PSS_SHA_256", "RSASSA_PKCS1_V1_5_SHA_256",
                                "RSASSA_PSS_SHA_512") for t in ("RAW", "DIGEST")]
        plan = [("RSA_2048", rsa), ("ECC_NIST_P256", [("ECDSA_SHA_256", "RAW"),
                                                      ("ECDSA_SHA_256", "DIGEST")])]
        if "ECC_NIST_EDWARDS25519" in specs:
            plan.append(("ECC_NIST_EDWARDS25519", [("ED25519_SHA_512", "RAW")]))
        for spec, algorithms in plan:
            key_id = signing(s, aws, spec, algorithms)
            if key_id:
                created.append(key_id)

        key = s.run("create-key/SYMMETRIC_DEFAULT", lambda: aws(
            "create-key", "--description", "aws cli session")["KeyMetadata"])
        name = f"alias/clients-cli-{UNIQUE}"
        if key is not None:
            created.append(key["KeyId"])
            s.run("create-alias", lambda: aws("create-alias", "--alias-name", name,
                                              "--target-key-id", key["KeyId"]))
            plaintext = os.urandom(200)
            pt = aws.write("plain.bin", plaintext)

            def encrypt():
                r = aws("encrypt", "--key-id", name, "--plaintext", pt,
                        "--encryption-context", "purpose=cli,tenant=a")
                check(r["KeyId"] == key["Arn"], f"encrypted under {r['KeyId']}")
                aws.write("cipher.bin", base64.b64decode(r["CiphertextBlob"]))
                return True
            if s.run("encrypt/alias/context", encrypt):
                def decrypt():
                    r = aws("decrypt", "--ciphertext-blob", "fileb://cipher.bin",
                            "--encryption-context", "purpose=cli,tenant=a")
                    check(base64.b64decode(r["Plaintext"]) == plaintext, "another plaintext")
                    check(r["KeyId"] == key["Arn"], f"decrypted by {r['KeyId']}")
                s.run("decrypt/context", decrypt)

                def wrong_context():
                    try:
                        aws("decrypt", "--ciphertext-blob", "fileb://cipher.bin",
                            "--encryption-context", "purpose=other")
                    except StepFailed as e:
                        check("InvalidCiphertextException" in str(e), str(e))
                        return True
                    raise StepFailed("decrypt with the wrong context succeeded")
                s.run("decrypt/wrong-context", wrong_context)

            def aliases_listed():
                found = [a for a in aws("list-aliases", "--key-id", key["KeyId"])["Aliases"]
                         if a["AliasName"] == name]
                check(len(found) == 1 and found[0]["TargetKeyId"] == key["KeyId"], f"{found}")
            s.run("list-aliases", aliases_listed)
            # UpdateAlias: "The current and new KMS key must be the same type (both symmetric
            # or both asymmetric or both HMAC), and they must have the same key usage."
            second = s.run("create-key/SYMMETRIC_DEFAULT/second", lambda: aws(
                "create-key")["KeyMetadata"]["KeyId"])
            if second is not None:
                created.append(second)
                s.run("update-alias", lambda: aws("update-alias", "--alias-name", name,
                                                  "--target-key-id", second))

                def updated():
                    d = aws("describe-key", "--key-id", name)["KeyMetadata"]
                    check(d["KeyId"] == second, f"the alias names {d['KeyId']}")
                s.run("describe-key/updated-alias", updated)
            s.run("delete-alias", lambda: aws("delete-alias", "--alias-name", name))

            def gone():
                every = [a["AliasName"] for a in aws("list-aliases")["Aliases"]]
                check(name not in every, "the deleted alias is still listed")
            s.run("list-aliases/after-delete", gone)

        imported_hmac(s, aws)

        def listed():
            ids = {k["KeyId"] for k in aws("list-keys")["Keys"]}
            check(all(k in ids for k in created), "list-keys misses a created key")
        s.run("list-keys", listed)
    s.finish({"client": "awscli", "specs": specs})


if __name__ == "__main__":
    main()
