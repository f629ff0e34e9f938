//! `keychain jwt sign`, `keychain jwt verify` and `keychain jwks`, judged by PyJWT: tokens the
//! binary signs are accepted by PyJWT with the key `keychain pubkey` exports and with the set
//! `keychain jwks` prints (through `PyJWKSet`); forged, tampered and expired tokens are refused
//! by PyJWT and by `keychain jwt verify` (exit 1), malformed ones are invalid_input (exit 4).

use std::process::Command;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keychain_testkit::{python, run_with_stdin};
use serde_json::{Value, json};

use crate::support::{Cli, assert_one_error_line};

/// PyJWT as the judge, one interpreter for a batch of cases. A case has the token, the `alg`
/// to allow, the expected `aud`/`iss`, a `leeway`, and the key as `pem` (SPKI, as `keychain
/// pubkey` prints it) or `jwks` (the key is then picked from a `PyJWKSet` by the token's
/// `kid`).
const PYJWT_JUDGE: &str = r#"
import json, sys
import jwt
from jwt import PyJWKSet
out = []
for c in json.load(sys.stdin):
    try:
        if "jwks" in c:
            kid = jwt.get_unverified_header(c["token"])["kid"]
            key = PyJWKSet.from_dict(c["jwks"])[kid].key
        else:
            key = c["pem"]
        claims = jwt.decode(c["token"], key, algorithms=[c["alg"]],
                            audience=c.get("aud"), issuer=c.get("iss"),
                            leeway=c.get("leeway", 0),
                            options={"require": ["exp", "iat"]})
        out.append({"ok": True, "claims": claims})
    except Exception as e:
        out.append({"ok": False, "error": type(e).__name__ + ": " + str(e)})
print(json.dumps(out))
"#;

fn pyjwt(cases: &[Value]) -> Vec<Value> {
    let out = run_with_stdin(
        Command::new(python()).args(["-c", PYJWT_JUDGE]),
        &serde_json::to_vec(cases).unwrap(),
    );
    let verdicts: Vec<Value> = serde_json::from_slice(&out).unwrap_or_else(|e| {
        panic!("PyJWT printed no verdicts ({e}); run scripts/test.sh or set KEYCHAIN_TEST_PYTHON")
    });
    assert_eq!(verdicts.len(), cases.len(), "one verdict per case");
    verdicts
}

/// The decoded JSON of a token part.
fn part(token: &str, index: usize) -> Value {
    let text = token.split('.').nth(index).expect("a token part");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(text).expect("base64url")).expect("JSON")
}

/// The same header and signature over other claims: a forgery that only the signature check
/// catches (every part is well formed).
fn forge(token: &str, claims: &Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap());
    format!("{}.{payload}.{}", parts[0], parts[2])
}

/// The token with one signature byte changed (still well-formed base64url of the right size).
fn flip_signature(token: &str) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    let middle = sig.len() / 2;
    sig[middle] ^= 0x01;
    format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(sig))
}

/// Signs a token with `jwt sign` and returns it (one line on stdout, nothing else).
fn sign(cli: &Cli, key: &str, extra: &[&str]) -> String {
    let mut args = vec!["jwt", "sign", key];
    args.extend_from_slice(extra);
    let out = cli.ok(&args).text();
    assert_eq!(out.lines().count(), 1, "one line: {out:?}");
    let token = out.trim().to_string();
    assert_eq!(token.split('.').count(), 3, "a compact JWS: {token}");
    token
}

const ISS: &str = "https://issuer.example.test";

/// Every JOSE algorithm: keys of each spec sign with `jwt sign --algorithm`; PyJWT accepts the
/// tokens with the PEM public key and refuses a forged payload and a changed signature, which
/// `keychain jwt verify` also refuses with exit 1.
#[test]
fn tokens_are_accepted_by_pyjwt_for_every_algorithm() {
    let cli = Cli::new();
    for (name, spec) in [
        ("p256", "p256"),
        ("p384", "p384"),
        ("p521", "p521"),
        ("k1", "secp256k1"),
        ("rsa", "rsa-2048"),
        ("ed", "ed25519"),
    ] {
        cli.create(name, spec, &[]);
    }
    let cases = [
        ("p256", "ES256"),
        ("p384", "ES384"),
        ("p521", "ES512"),
        ("k1", "ES256K"),
        ("rsa", "RS256"),
        ("rsa", "RS384"),
        ("rsa", "RS512"),
        ("rsa", "PS256"),
        ("rsa", "PS384"),
        ("rsa", "PS512"),
        ("ed", "EdDSA"),
    ];
    let mut judged = Vec::new();
    let mut expect = Vec::new();
    for (name, alg) in cases {
        let pem = cli.pubkey_pem(name);
        let token = sign(
            &cli,
            name,
            &[
                "--claims",
                r#"{"role":"admin","n":1}"#,
                "--aud",
                "api",
                "--iss",
                ISS,
                "--sub",
                "user-1",
                "--exp",
                "15m",
                "--algorithm",
                alg,
            ],
        );
        let header = part(&token, 0);
        assert_eq!(header["alg"], *alg, "{alg}: header {header}");
        let jwk: Value =
            serde_json::from_slice(&cli.ok(["pubkey", name, "--format", "jwk"]).stdout).unwrap();
        assert_eq!(
            header["kid"], jwk["kid"],
            "{alg}: kid is the key's thumbprint"
        );
        let claims = part(&token, 1);
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            900,
            "{alg}: --exp 15m: {claims}"
        );

        // Our own verifier agrees, and prints the claims.
        let ok = cli.ok(["jwt", "verify", name, &token, "--aud", "api", "--iss", ISS]);
        let printed: Value = serde_json::from_slice(&ok.stdout).expect("claims JSON");
        assert_eq!(printed["role"], "admin", "{alg}: {printed}");
        assert_eq!(printed["sub"], "user-1");

        let mut forged_claims = claims.clone();
        forged_claims["role"] = json!("root");
        let forged = forge(&token, &forged_claims);
        let flipped = flip_signature(&token);
        for bad in [&forged, &flipped] {
            let r = cli.run(["jwt", "verify", name, bad, "--aud", "api", "--iss", ISS]);
            assert_eq!(
                r.code, 1,
                "{alg}: a tampered token must exit 1: {}",
                r.stderr
            );
            assert_eq!(
                r.text(),
                "invalid: the signature does not verify\n",
                "{alg}"
            );
        }

        for (token, ok) in [(token, true), (forged, false), (flipped, false)] {
            judged.push(json!({"token": token, "alg": alg, "pem": pem, "aud": "api", "iss": ISS}));
            expect.push((alg, ok));
        }
    }
    let verdicts = pyjwt(&judged);
    for ((alg, ok), verdict) in expect.iter().zip(&verdicts) {
        assert_eq!(verdict["ok"], *ok, "PyJWT on a {alg} token: {verdict}");
        if *ok {
            assert_eq!(verdict["claims"]["role"], "admin", "{alg}: {verdict}");
            assert_eq!(verdict["claims"]["sub"], "user-1", "{alg}: {verdict}");
        } else {
            let error = verdict["error"].as_str().unwrap_or_default();
            assert!(
                error.starts_with("InvalidSignatureError"),
                "{alg}: PyJWT refuses for the signature: {error}"
            );
        }
    }
}

/// Expired (`--exp=-1h`, and `--exp 1s` two seconds later) and not-yet-valid (`--nbf 1h`)
/// tokens exit 1 saying which; the leeway is honoured; PyJWT agrees on the expired ones.
#[test]
fn expired_and_not_yet_valid_tokens_exit_1() {
    let cli = Cli::new();
    cli.create("k", "p256", &[]);
    let pem = cli.pubkey_pem("k");

    let long_gone = sign(&cli, "k", &["--exp=-1h"]);
    let r = cli.run(["jwt", "verify", "k", &long_gone]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.text().starts_with("invalid: the token expired at "),
        "{}",
        r.text()
    );
    let r = cli.run(["--json", "jwt", "verify", "k", &long_gone]);
    assert_eq!(r.code, 1);
    let v: Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["reason"], "expired");

    // Five seconds: room for a loaded machine between signing and the first verify.
    let signed_at = std::time::Instant::now();
    let short = sign(&cli, "k", &["--exp", "5s"]);
    cli.ok(["jwt", "verify", "k", &short, "--leeway", "0"]);
    std::thread::sleep(Duration::from_millis(6100).saturating_sub(signed_at.elapsed()));
    let r = cli.run(["jwt", "verify", "k", &short, "--leeway", "0"]);
    assert_eq!(r.code, 1, "expired after 6 s: {}", r.stderr);
    assert!(r.text().contains("expired"), "{}", r.text());
    // Within the default 60 s leeway it still passes.
    cli.ok(["jwt", "verify", "k", &short]);

    let early = sign(&cli, "k", &["--nbf", "1h"]);
    let r = cli.run(["jwt", "verify", "k", &early]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.text()
            .starts_with("invalid: the token is not valid before "),
        "{}",
        r.text()
    );

    let verdicts = pyjwt(&[
        json!({"token": long_gone, "alg": "ES256", "pem": pem}),
        json!({"token": short, "alg": "ES256", "pem": pem}),
        json!({"token": sign(&cli, "k", &[]), "alg": "ES256", "pem": pem}),
    ]);
    for v in &verdicts[..2] {
        let error = v["error"].as_str().unwrap_or_default();
        assert!(
            error.starts_with("ExpiredSignatureError"),
            "PyJWT refuses an expired token: {v}"
        );
    }
    assert_eq!(
        verdicts[2]["ok"], true,
        "the default lifetime: {}",
        verdicts[2]
    );
}

/// Claims checks: a wrong or missing audience, a wrong issuer or subject, a token of another
/// key, and `alg: none` all exit 1 with the reason.
#[test]
fn claims_and_keys_that_do_not_match_exit_1() {
    let cli = Cli::new();
    cli.create("k", "p256", &[]);
    cli.create("other", "p256", &[]);
    let token = sign(&cli, "k", &["--aud", "api", "--aud", "web", "--iss", ISS]);
    assert_eq!(part(&token, 1)["aud"], json!(["api", "web"]));
    cli.ok(["jwt", "verify", "k", &token, "--aud", "web"]);
    let invalid = |args: &[&str], says: &str| {
        let mut all = vec!["jwt", "verify"];
        all.extend_from_slice(args);
        let r = cli.run(&all);
        assert_eq!(r.code, 1, "{all:?}: {}", r.stderr);
        assert!(r.text().contains(says), "{all:?}: {}", r.text());
    };
    invalid(&["k", &token], "audience");
    invalid(&["k", &token, "--aud", "mobile"], "audience");
    invalid(
        &["k", &token, "--aud", "api", "--iss", "https://evil"],
        "issuer",
    );
    invalid(
        &["k", &token, "--aud", "api", "--sub", "someone"],
        "subject",
    );
    invalid(&["other", &token, "--aud", "api"], "signature");
    invalid(
        &["k", &token, "--aud", "api", "--algorithm", "ES384"],
        "algorithm",
    );
    let unsecured = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        token.split('.').nth(1).unwrap()
    );
    // Two parts and an empty signature are not even a well-formed JWS; with a signature
    // appended it is, and `none` is refused as an algorithm.
    cli.fails(["jwt", "verify", "k", &unsecured], 4);
    invalid(&["k", &format!("{unsecured}AAAA"), "--aud", "api"], "none");

    // `jwt sign` always sets exp (an explicit null gets the default hour)…
    let defaulted = sign(&cli, "k", &["--claims", r#"{"exp": null}"#]);
    let claims = part(&defaulted, 1);
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 3600, "--exp defaults to 1h: {claims}");
    // …so a token without exp is made by hand, its ES256 signature by `keychain sign`.
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(br#"{"sub":"no-exp"}"#)
    );
    let input_file = cli.file("signing-input", input.as_bytes());
    let sig_file = cli.path("sig");
    cli.ok([
        "sign",
        "k",
        "--in",
        crate::support::arg(&input_file),
        "--encoding",
        "raw",
        "--out",
        crate::support::arg(&sig_file),
    ]);
    let no_exp = format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(std::fs::read(&sig_file).unwrap())
    );
    invalid(&["k", &no_exp], "no exp claim");
    let r = cli.ok(["jwt", "verify", "k", &no_exp, "--allow-no-exp"]);
    let printed: Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(printed, json!({"sub": "no-exp"}));
}

/// A token that is not a compact JWS, bad option values and keys that cannot sign JWTs fail
/// with one error line and their code.
#[test]
fn malformed_input_is_4_and_unfit_keys_are_5() {
    let cli = Cli::new();
    cli.create("k", "p256", &[]);
    cli.create("k1", "secp256k1", &[]);
    cli.create("mac", "hmac-256", &[]);
    let token = sign(&cli, "k", &[]);
    let parts: Vec<&str> = token.split('.').collect();
    for bad in [
        "not-a-token".to_string(),
        format!("{}.{}", parts[0], parts[1]),
        format!("{token}.extra"),
        format!("!!!.{}.{}", parts[1], parts[2]),
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode("[1]"),
            parts[1],
            parts[2]
        ),
    ] {
        let line = cli.fails(["jwt", "verify", "k", &bad], 4);
        assert!(line.contains("malformed"), "{line}");
    }
    let claims_file = cli.file("claims.json", br#"{"scope": "read", "sub": "file"}"#);
    let from_file = sign(
        &cli,
        "k",
        &[
            "--claims",
            &format!("@{}", crate::support::arg(&claims_file)),
        ],
    );
    assert_eq!(part(&from_file, 1)["scope"], "read");
    assert_eq!(part(&from_file, 1)["sub"], "file");
    let missing = cli.path("missing.json");
    cli.fails(
        [
            "jwt",
            "sign",
            "k",
            "--claims",
            &format!("@{}", crate::support::arg(&missing)),
        ],
        15,
    );
    cli.fails(["jwt", "sign", "k", "--claims", "[1]"], 4);
    cli.fails(["jwt", "sign", "k", "--claims", "{"], 4);
    cli.fails(["jwt", "sign", "k", "--claims", r#"{"exp":"soon"}"#], 4);
    cli.fails(["jwt", "sign", "k", "--exp", "1 hour"], 4);
    cli.fails(["jwt", "sign", "k", "--algorithm", "HS256"], 4);
    let line = cli.fails(["jwt", "sign", "k1", "--algorithm", "ES256"], 5);
    assert!(line.contains("ES256K"), "{line}");
    cli.fails(["jwt", "sign", "k", "--algorithm", "ES256K"], 5);
    cli.fails(["jwt", "sign", "k", "--algorithm", "ES384"], 5);
    cli.fails(["jwt", "sign", "mac"], 5);
    cli.fails(["jwt", "sign", "nope"], 3);
    cli.fails(["jwks", "nope"], 3);
    let r = cli.run(["jwt", "verify", "k"]);
    assert_one_error_line(&r, 2, "jwt verify without a token");
}

/// `keychain jwks` lists every key with kid, alg and use; PyJWT's `PyJWKSet` picks the key of
/// each token by kid and accepts it (and refuses a forgery). A disabled (rotated-out) key stays
/// in the set.
#[test]
fn jwks_is_usable_by_pyjwkset() {
    let cli = Cli::new();
    let keys = [
        ("current", "p256", "ES256"),
        ("previous", "rsa-2048", "RS256"),
        ("ed", "ed25519", "EdDSA"),
        ("k1", "secp256k1", "ES256K"),
    ];
    let mut tokens = Vec::new();
    for (name, spec, _) in keys {
        cli.create(name, spec, &[]);
        tokens.push(sign(
            &cli,
            name,
            &["--aud", "api", "--claims", r#"{"k":1}"#],
        ));
    }
    cli.ok(["key", "disable", "previous"]);
    let names: Vec<&str> = keys.iter().map(|k| k.0).collect();
    let mut args = vec!["jwks"];
    args.extend_from_slice(&names);
    let set: Value = serde_json::from_slice(&cli.ok(&args).stdout).expect("the JWKS is JSON");
    let jwks = set["keys"].as_array().expect("keys");
    assert_eq!(jwks.len(), keys.len(), "{set}");
    for ((name, _, alg), (jwk, token)) in keys.iter().zip(jwks.iter().zip(&tokens)) {
        assert_eq!(jwk["alg"], *alg, "{name}: {jwk}");
        assert_eq!(jwk["use"], "sig", "{name}: {jwk}");
        assert_eq!(
            jwk["kid"],
            part(token, 0)["kid"],
            "{name}: kid of its tokens"
        );
        assert!(jwk.get("d").is_none(), "no private member: {jwk}");
    }

    let out = cli.path("jwks.json");
    cli.ok({
        let mut a = args.clone();
        a.extend_from_slice(&["--out", crate::support::arg(&out)]);
        a
    });
    let written: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(written, set, "--out writes the same set");

    let mut cases = Vec::new();
    for ((_, _, alg), token) in keys.iter().zip(&tokens) {
        cases.push(json!({"token": token, "alg": alg, "jwks": set, "aud": "api"}));
        let forged = forge(
            token,
            &json!({"k": 2, "aud": "api", "exp": 4_000_000_000u64,
                                          "iat": 1_700_000_000u64}),
        );
        cases.push(json!({"token": forged, "alg": alg, "jwks": set, "aud": "api"}));
    }
    let verdicts = pyjwt(&cases);
    for (i, verdict) in verdicts.iter().enumerate() {
        let alg = keys[i / 2].2;
        if i % 2 == 0 {
            assert_eq!(verdict["ok"], true, "PyJWKSet + {alg}: {verdict}");
            assert_eq!(verdict["claims"]["k"], 1);
        } else {
            let error = verdict["error"].as_str().unwrap_or_default();
            assert!(
                error.starts_with("InvalidSignatureError"),
                "PyJWKSet + forged {alg}: {verdict}"
            );
        }
    }
}
