"""Raw KMS JSON 1.1 requests, SigV4-signed by botocore's own signer (`botocore.auth.SigV4Auth`),
so a test can damage exactly one thing (the body, a header, the date, the scope) and send it.
"""
import contextlib
import datetime
import json
from urllib.parse import urlsplit

import botocore.auth
import urllib3
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

CONTENT_TYPE = "application/x-amz-json-1.1"
HTTP = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=5, read=60))


@contextlib.contextmanager
def signing_time(when):
    """Makes botocore's signer use `when` (a UTC datetime) as the current time."""
    saved = botocore.auth.get_current_datetime
    botocore.auth.get_current_datetime = lambda: when
    try:
        yield
    finally:
        botocore.auth.get_current_datetime = saved


def signed(endpoint, target, body, *, access_key="test", secret_key="test", region="us-east-1",
           service="kms", content_type=CONTENT_TYPE, when=None):
    """A signed request: (url, headers dict, body bytes). `body` is a dict (sent as JSON) or
    bytes (sent as is). `target` is the operation (TrentService.<target>)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": content_type, "X-Amz-Target": f"TrentService.{target}"}
    request = AWSRequest(method="POST", url=endpoint.rstrip("/") + "/", data=data,
                         headers=headers)
    signer = botocore.auth.SigV4Auth(Credentials(access_key, secret_key), service, region)
    if when is None:
        signer.add_auth(request)
    else:
        with signing_time(when):
            signer.add_auth(request)
    return request.url, dict(request.headers.items()), data


def send(url, headers, data):
    """POSTs; returns {"status", "type", "fields", "body"}: the KMS error type (the part after
    '#' of __type) or None, and for a JSON object answer its set of fields: the top-level
    ones and one level into an object (KeyMetadata.KeyState)."""
    host = urlsplit(url).netloc
    headers = {k: v for k, v in headers.items() if k.lower() != "host"}
    headers["Host"] = host
    r = HTTP.request("POST", url, body=data, headers=headers)
    text = r.data.decode("utf-8", "replace")
    answer = {"status": r.status, "type": None, "fields": None}
    try:
        parsed = json.loads(text) if text.strip() else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        # The top-level fields, and one level into an object (KeyMetadata.KeyState).
        fields = set(parsed)
        for name, value in parsed.items():
            if isinstance(value, dict) and name != "EncryptionContext":
                fields.update(f"{name}.{sub}" for sub in value)
        answer["fields"] = sorted(fields)
        kind = parsed.get("__type") or parsed.get("code")
        if kind:
            answer["type"] = str(kind).split("#")[-1]
        answer["body"] = parsed
    else:
        answer["body"] = text[:300]
    if answer["type"] is None and r.headers.get("x-amzn-ErrorType"):
        answer["type"] = r.headers["x-amzn-ErrorType"].split(":")[0]
    return answer


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
