"""SigV4 attacks on a KMS endpoint: requests signed by botocore's signer
(`botocore.auth.SigV4Auth`), then damaged in one way each, sent with a valid ListKeys body.

For each attack it records the HTTP status and the error type (`__type`) and compares them with
what AWS KMS answers (the AWS signing documentation and KMS's common errors; every
authentication error of the JSON protocol is an HTTP 400 with the type in `__type`; HTTP 403 is
accepted too, as other AWS endpoints answer some of them with it).

    python sigv4_attacks.py --endpoint-url URL [--access-key test --secret-key test]
        [--gap ATTACK=STATUS/TYPE ...]   a known gap: what the endpoint answers instead
        [--account ID]                   also check a created key's ARN names the account
        [--refuse-test-credentials]      test/test must be refused (a credentials file is used)

Prints a JSON report; exits 1 when an attack is not refused as KMS refuses it (and is not a
known gap), or a known gap answers otherwise than recorded.
"""
import argparse
import datetime
import json
import sys

from kms_raw import send, signed, utc_now

TARGET = "ListKeys"
BODY = {"Limit": 1}


def attacks(endpoint, access, secret, region, refuse_test=False):
    """(name, the damaged request, the error types KMS answers with)."""
    def good(**kw):
        options = {"access_key": access, "secret_key": secret, "region": region}
        options.update(kw)
        return signed(endpoint, TARGET, BODY, **options)

    def without(header, request):
        url, headers, data = request
        return url, {k: v for k, v in headers.items() if k.lower() != header.lower()}, data

    def tamper_body(request):
        url, headers, data = request
        return url, headers, data.replace(b'"Limit": 1', b'"Limit": 2')

    def tamper_target(request):
        url, headers, data = request
        headers = dict(headers, **{"X-Amz-Target": "TrentService.CreateKey"})
        return url, headers, b"{}"

    def alter_scope_region(request):
        url, headers, data = request
        auth = headers["Authorization"]
        other = "eu-west-1" if region != "eu-west-1" else "us-east-1"
        headers = dict(headers, Authorization=auth.replace(f"/{region}/", f"/{other}/"))
        return url, headers, data

    def garble_authorization(request):
        url, headers, data = request
        auth = headers["Authorization"]
        headers = dict(headers, Authorization=auth.split(", SignedHeaders=")[0])
        return url, headers, data

    def bad_signature_hex(request):
        url, headers, data = request
        auth = headers["Authorization"]
        headers = dict(headers, Authorization=auth[:-4] + ("0000" if auth[-4:] != "0000"
                                                           else "1111"))
        return url, headers, data

    now = utc_now()
    invalid = ["InvalidSignatureException"]
    extra = []
    if refuse_test and access != "test":
        # A server given a credentials file serves its keys only, not LocalStack's test/test.
        extra.append(("default-test-credentials", good(access_key="test", secret_key="test"),
                      ["UnrecognizedClientException"]))
    return extra + [
        ("control/valid-signature", good(), None),
        ("wrong-secret", good(secret_key=secret + "-wrong"), invalid),
        ("unknown-access-key", good(access_key="AKIAUNKNOWNKEY000000"),
         ["UnrecognizedClientException"]),
        ("signature-bytes-changed", bad_signature_hex(good()), invalid),
        ("scope-region-altered", alter_scope_region(good()), invalid),
        ("scope-other-region", good(region="eu-west-1" if region != "eu-west-1"
                                    else "us-east-1"), invalid),
        ("scope-invalid-region", good(region="nowhere-1"), invalid),
        ("scope-other-service", good(service="s3"), invalid),
        ("stale-date-16-min", good(when=now - datetime.timedelta(minutes=16)), invalid),
        ("future-date-16-min", good(when=now + datetime.timedelta(minutes=16)), invalid),
        ("tampered-body", tamper_body(good()), invalid),
        ("tampered-target", tamper_target(good()), invalid),
        ("missing-authorization", without("Authorization", good()),
         ["MissingAuthenticationTokenException"]),
        ("missing-x-amz-date", without("X-Amz-Date", good()),
         ["IncompleteSignatureException"]),
        ("authorization-without-signed-headers", garble_authorization(good()),
         ["IncompleteSignatureException"]),
    ]


def created_in_account(args):
    """A signed CreateKey: its ARN names the access key's account and the scope's region."""
    url, headers, data = signed(args.endpoint_url, "CreateKey", {}, access_key=args.access_key,
                                secret_key=args.secret_key, region=args.region)
    answer = send(url, headers, data)
    arn = ((answer.get("body") or {}).get("KeyMetadata") or {}).get("Arn", "") \
        if isinstance(answer.get("body"), dict) else ""
    want = f"arn:aws:kms:{args.region}:{args.account}:key/"
    record = {"attack": "control/create-key-in-account", "status": answer["status"],
              "type": answer["type"], "kms": f"200, an ARN starting {want}", "arn": arn}
    record["outcome"] = "ok" if answer["status"] == 200 and arn.startswith(want) else "failed"
    if record["outcome"] == "failed":
        record["error"] = f"answered {answer['status']}/{answer['type']} with ARN {arn!r}"
    return record


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--endpoint-url", required=True)
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--access-key", default="test")
    p.add_argument("--secret-key", default="test")
    p.add_argument("--gap", action="append", default=[], metavar="ATTACK=STATUS/TYPE")
    p.add_argument("--account", help="the account of the access key: a signed CreateKey must "
                   "answer an ARN in it and the region of the scope")
    p.add_argument("--refuse-test-credentials", action="store_true",
                   help="test/test must be an unknown access key (a credentials file is used)")
    args = p.parse_args()
    gaps = dict(g.split("=", 1) for g in args.gap)
    results, failed = [], []
    if args.account:
        results.append(created_in_account(args))
        if results[-1]["outcome"] == "failed":
            failed.append(results[-1])
    for name, request, kms_types in attacks(args.endpoint_url, args.access_key,
                                            args.secret_key, args.region,
                                            args.refuse_test_credentials):
        answer = send(*request)
        answer.pop("body", None)
        if kms_types is None:
            refused_as_kms = answer["status"] == 200
        else:
            refused_as_kms = answer["status"] in (400, 403) and answer["type"] in kms_types
        got = f"{answer['status']}/{answer['type']}"
        record = {"attack": name, "status": answer["status"], "type": answer["type"],
                  "kms": "200" if kms_types is None else f"400/{'|'.join(kms_types)}"}
        if name in gaps:
            record["outcome"] = "gap" if got == gaps[name] and not refused_as_kms else "failed"
            if record["outcome"] == "failed":
                record["error"] = f"the known gap ({gaps[name]}) changed: answered {got}"
        else:
            record["outcome"] = "ok" if refused_as_kms else "failed"
            if not refused_as_kms:
                record["error"] = f"answered {got}, KMS answers {record['kms']}"
        if record["outcome"] == "failed":
            failed.append(record)
        results.append(record)
    for g in gaps:
        if g not in {r["attack"] for r in results}:
            failed.append({"attack": g, "error": "the known gap names no attack"})
    json.dump({"endpoint": args.endpoint_url, "attacks": results, "failed": len(failed)},
              sys.stdout, indent=1)
    sys.stdout.write("\n")
    for r in failed:
        print(f"FAILED {r['attack']}: {r['error']}", file=sys.stderr)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
