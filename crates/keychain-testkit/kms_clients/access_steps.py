"""The boto3 session's steps for who may use a key: key policies (GetKeyPolicy, PutKeyPolicy,
ListKeyPolicies) and grants (CreateGrant, ListGrants, RetireGrant, RevokeGrant,
ListRetirableGrants), judged against the KMS API reference: the default key policy's
statement, the one policy name `default`, the 32 KiB policy quota, grant ids and tokens,
KMS's pagination (Limit, Marker, NextMarker, Truncated) and its errors.
"""
import json

from kms_steps import check

# A key policy as a user writes one: the account's root may do everything.
POLICY = {
    "Version": "2012-10-17",
    "Id": "judged-policy",
    "Statement": [{
        "Sid": "Enable IAM User Permissions", "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::{account}:root"},
        "Action": "kms:*", "Resource": "*",
    }],
}


def policy_for(account):
    text = json.dumps(POLICY, indent=2)
    return text.replace("{account}", account)


def policies(s, kms):
    """Key policies of a new symmetric key."""
    created = s.run("policy/create-key", lambda: kms.create_key()["KeyMetadata"])
    if not created:
        return
    key_id, account = created["KeyId"], created["AWSAccountId"]

    def default():
        answer = kms.get_key_policy(KeyId=key_id, PolicyName="default")
        check(answer.get("PolicyName", "default") == "default", f"{answer}")
        doc = json.loads(answer["Policy"])
        statements = doc["Statement"]
        check(doc["Version"] == "2012-10-17", f"version {doc}")
        root = [x for x in statements if x.get("Principal") == {
            "AWS": f"arn:aws:iam::{account}:root"}]
        check(root and root[0]["Effect"] == "Allow" and root[0]["Action"] == "kms:*"
              and root[0]["Resource"] == "*",
              f"the default key policy does not give the account root kms:*: {doc}")
    s.run("policy/default", default)

    def names():
        answer = kms.list_key_policies(KeyId=key_id)
        check(answer["PolicyNames"] == ["default"] and answer["Truncated"] is False,
              f"{answer}")
    s.run("policy/list", names)

    mine = policy_for(account)

    def put_then_get():
        kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=mine)
        got = kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
        check(json.loads(got) == json.loads(mine), f"GetKeyPolicy answered {got}")
    s.run("policy/put-get", put_then_get)

    def at_creation():
        other = kms.create_key(Policy=mine, Description="policy at creation")
        got = kms.get_key_policy(KeyId=other["KeyMetadata"]["KeyId"],
                                 PolicyName="default")["Policy"]
        check(json.loads(got) == json.loads(mine), f"GetKeyPolicy answered {got}")
    s.run("policy/at-creation", at_creation)

    s.expect_error("policy/malformed", "MalformedPolicyDocumentException",
                   lambda: kms.put_key_policy(KeyId=key_id, PolicyName="default",
                                              Policy="this is not a policy"))
    big = json.dumps({"Version": "2012-10-17", "Id": "x" * 33000, "Statement": []})
    s.expect_error("policy/over-32-KiB", "LimitExceededException",
                   lambda: kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=big))
    s.expect_error("policy/unknown-key", "NotFoundException",
                   lambda: kms.get_key_policy(KeyId="00000000-0000-0000-0000-000000000000",
                                              PolicyName="default"))


def grants(s, kms):
    """Grants on a new symmetric key: create, list in pages, retire, revoke."""
    created = s.run("grants/create-key", lambda: kms.create_key()["KeyMetadata"])
    if not created:
        return
    key_id, account = created["KeyId"], created["AWSAccountId"]
    grantee = f"arn:aws:iam::{account}:role/judged-grantee"
    retiring = f"arn:aws:iam::{account}:role/judged-retiring"
    made = {}

    def create():
        for n in range(3):
            answer = kms.create_grant(
                KeyId=key_id, GranteePrincipal=grantee, RetiringPrincipal=retiring,
                Operations=["Encrypt", "Decrypt"], Name=f"judged-{n}",
                Constraints={"EncryptionContextSubset": {"tenant": "a"}})
            check(answer["GrantId"] and answer["GrantToken"], f"{answer}")
            made[answer["GrantId"]] = answer["GrantToken"]
        check(len(made) == 3, f"three grants, not {len(made)}")
    s.run("grants/create", create)

    def same_name_same_grant():
        again = kms.create_grant(
            KeyId=key_id, GranteePrincipal=grantee, RetiringPrincipal=retiring,
            Operations=["Encrypt", "Decrypt"], Name="judged-0",
            Constraints={"EncryptionContextSubset": {"tenant": "a"}})
        check(again["GrantId"] in made, "a repeated CreateGrant with the same Name and "
              "parameters made a new grant")
    s.run("grants/create-again-same-name", same_name_same_grant)

    def listed_in_pages():
        seen, marker, pages = [], None, 0
        while True:
            kwargs = {"KeyId": key_id, "Limit": 2}
            if marker:
                kwargs["Marker"] = marker
            page = kms.list_grants(**kwargs)
            pages += 1
            seen.extend(page["Grants"])
            if not page.get("Truncated"):
                break
            marker = page["NextMarker"]
        check(pages == 2, f"3 grants in pages of 2 took {pages} pages")
        check(sorted(g["GrantId"] for g in seen) == sorted(made), f"listed {seen}")
        for g in seen:
            check(set(g["Operations"]) == {"Encrypt", "Decrypt"}, f"{g}")
            check(g["GranteePrincipal"] == grantee and g["RetiringPrincipal"] == retiring,
                  f"{g}")
            check(g["KeyId"].endswith(key_id), f"{g}")
            check(g["Constraints"] == {"EncryptionContextSubset": {"tenant": "a"}}, f"{g}")
    s.run("grants/list-paged", listed_in_pages)

    def retirable():
        listed = kms.list_retirable_grants(RetiringPrincipal=retiring, Limit=100)["Grants"]
        ids = {g["GrantId"] for g in listed}
        check(set(made) <= ids, f"ListRetirableGrants misses some of {sorted(made)}: {ids}")
    s.run("grants/list-retirable", retirable)

    ids = sorted(made)

    def retire_by_token():
        kms.retire_grant(GrantToken=made[ids[0]])
        left = {g["GrantId"] for g in kms.list_grants(KeyId=key_id)["Grants"]}
        check(ids[0] not in left and len(left) == 2, f"after RetireGrant: {left}")
    s.run("grants/retire-by-token", retire_by_token)

    def retire_by_id():
        kms.retire_grant(KeyId=key_id, GrantId=ids[1])
        left = {g["GrantId"] for g in kms.list_grants(KeyId=key_id)["Grants"]}
        check(left == {ids[2]}, f"after RetireGrant: {left}")
    s.run("grants/retire-by-key-and-id", retire_by_id)

    def revoke():
        kms.revoke_grant(KeyId=key_id, GrantId=ids[2])
        left = kms.list_grants(KeyId=key_id)["Grants"]
        check(left == [], f"after RevokeGrant: {left}")
    s.run("grants/revoke", revoke)

    s.expect_error("grants/revoke-unknown", "InvalidGrantIdException",
                   lambda: kms.revoke_grant(KeyId=key_id, GrantId="0" * 64))
    s.expect_error("grants/operation-of-another-key-type", "ValidationException",
                   lambda: kms.create_grant(KeyId=key_id, GranteePrincipal=grantee,
                                            Operations=["Sign"]))
    s.expect_error("grants/retire-without-token-or-id", "ValidationException",
                   lambda: kms.retire_grant(KeyId=key_id))
