//! JWT / JWS with backend keys. Tokens are judged by PyJWT (with the exported PEM, the JWK and
//! the JWKS) and by the `jsonwebtoken` crate, not only by our own verifier; tampered, expired
//! and hostile tokens must be refused by every judge.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keychain::jwt::{self, Claims, JwtError, JwtSigner, Validation};
use keychain::{Curve, KeyParams, Keychain, SigningAlgorithm};
use keychain_testkit::{python, run_with_stdin, temp_software_backend};
use serde_json::{Value, json};

/// PyJWT as the judge: one interpreter for a batch of cases. Each case has a token, the
/// `alg` to allow, and the key as `pem`, `jwk` or `jwks` (the key is then picked by `kid`).
const PYJWT_JUDGE: &str = r#"
import json, sys
import jwt
from jwt import PyJWK, PyJWKSet
cases = json.load(sys.stdin)
out = []
for c in cases:
    try:
        if "jwk" in c:
            key = PyJWK(c["jwk"]).key
        elif "jwks" in c:
            kid = jwt.get_unverified_header(c["token"])["kid"]
            key = PyJWKSet.from_dict(c["jwks"])[kid].key
        else:
            key = c["pem"]
        claims = jwt.decode(c["token"], key=key, algorithms=[c["alg"]],
                            audience=c.get("aud"), issuer=c.get("iss"),
                            options={"require": ["exp"]})
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
    assert_eq!(verdicts.len(), cases.len());
    verdicts
}

async fn keychain() -> (tempfile::TempDir, Keychain) {
    let (dir, backend) = temp_software_backend().await;
    (dir, Keychain::new(backend))
}

/// Every JOSE algorithm with the key it needs.
fn algorithms() -> Vec<(&'static str, &'static str, KeyParams, SigningAlgorithm)> {
    use SigningAlgorithm::*;
    vec![
        ("ES256", "p256", KeyParams::ecdsa(Curve::P256), EcdsaSha256),
        ("ES384", "p384", KeyParams::ecdsa(Curve::P384), EcdsaSha384),
        ("ES512", "p521", KeyParams::ecdsa(Curve::P521), EcdsaSha512),
        (
            "ES256K",
            "k256",
            KeyParams::ecdsa(Curve::Secp256k1),
            EcdsaSha256,
        ),
        ("RS256", "rsa", KeyParams::rsa(2048), RsassaPkcs1V15Sha256),
        ("RS384", "rsa", KeyParams::rsa(2048), RsassaPkcs1V15Sha384),
        ("RS512", "rsa", KeyParams::rsa(2048), RsassaPkcs1V15Sha512),
        ("PS256", "rsa", KeyParams::rsa(2048), RsassaPssSha256),
        ("PS384", "rsa", KeyParams::rsa(2048), RsassaPssSha384),
        ("PS512", "rsa", KeyParams::rsa(2048), RsassaPssSha512),
        ("EdDSA", "ed", KeyParams::ed25519(), Ed25519Sha512),
    ]
}

async fn signers(kc: &Keychain) -> Vec<(&'static str, JwtSigner)> {
    let mut out = Vec::new();
    for (alg, name, params, algorithm) in algorithms() {
        if kc.describe(name).await.is_err() {
            kc.generate_key(name, &params).await.unwrap();
        }
        let signer = JwtSigner::from_key(kc, name, Some(algorithm))
            .await
            .unwrap();
        assert_eq!(signer.alg(), alg);
        out.push((alg, signer));
    }
    out
}

fn claims(alg: &str) -> Claims {
    Claims::new()
        .issuer("https://issuer.test")
        .subject(format!("subject-{alg}"))
        .audience("api.test")
        .expires_in(Duration::from_secs(600))
        .random_jwt_id()
        .claim("scope", "read write")
}

fn validation() -> Validation {
    Validation::new()
        .issuer("https://issuer.test")
        .audience("api.test")
}

/// Re-encodes one part of a token after changing its JSON.
fn edit_part(token: &str, index: usize, edit: impl FnOnce(&mut Value)) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    let mut v: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[index]).unwrap()).unwrap();
    edit(&mut v);
    parts[index] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&v).unwrap());
    parts.join(".")
}

fn flip_signature_bit(token: &str) -> String {
    let (rest, sig) = token.rsplit_once('.').unwrap();
    let mut sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
    let mid = sig.len() / 2;
    sig[mid] ^= 0x01;
    format!("{rest}.{}", URL_SAFE_NO_PAD.encode(sig))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyjwt_accepts_every_algorithm_and_refuses_tampering_like_we_do() {
    let (_dir, kc) = keychain().await;
    let signers = signers(&kc).await;
    let mut cases = Vec::new();
    // What each case must be: Ok, or refused (by us with this error, by PyJWT with this class).
    let mut expect: Vec<(String, Option<&str>)> = Vec::new();
    for (alg, signer) in &signers {
        let token = signer.sign(&claims(alg)).await.unwrap();
        let header = jwt::decode_header_unverified(&token).unwrap();
        assert_eq!(header["alg"], *alg);
        assert_eq!(header["typ"], "JWT");
        assert_eq!(header["kid"], signer.public_key().jwk_thumbprint());
        let ours = jwt::verify(&token, signer.public_key(), &validation()).unwrap();
        assert_eq!(ours.claims.sub, Some(format!("subject-{alg}")));

        let pem = signer.public_key().to_pem();
        let jwk = signer.jwk().unwrap();
        let judge = |token: &str, key: (&str, Value)| {
            json!({"token": token, "alg": alg, key.0: key.1, "aud": "api.test",
                   "iss": "https://issuer.test"})
        };
        // Accepted with the PEM and with the exported JWK.
        cases.push(judge(&token, ("pem", json!(pem))));
        expect.push((format!("{alg} via PEM"), None));
        cases.push(judge(&token, ("jwk", jwk.clone())));
        expect.push((format!("{alg} via JWK"), None));

        // Tampered header (typ changed, alg kept), payload (sub changed), signature (a bit).
        let bad_header = edit_part(&token, 0, |h| h["typ"] = json!("JOSE"));
        let bad_payload = edit_part(&token, 1, |p| p["sub"] = json!("admin"));
        let bad_signature = flip_signature_bit(&token);
        for (what, t) in [
            ("header", &bad_header),
            ("payload", &bad_payload),
            ("signature", &bad_signature),
        ] {
            assert_eq!(
                jwt::verify(t, signer.public_key(), &validation()).unwrap_err(),
                JwtError::BadSignature,
                "{alg}: tampered {what} accepted by us"
            );
            cases.push(judge(t, ("pem", json!(pem))));
            expect.push((
                format!("{alg} tampered {what}"),
                Some("InvalidSignatureError"),
            ));
        }

        // Expired two minutes ago: beyond both judges' leeway.
        let past = SystemTime::now() - Duration::from_secs(3600);
        let expired = signer
            .sign(
                &claims(alg)
                    .issued_at(past)
                    .expires_at(SystemTime::now() - Duration::from_secs(120)),
            )
            .await
            .unwrap();
        assert!(matches!(
            jwt::verify(&expired, signer.public_key(), &validation()),
            Err(JwtError::Expired(_))
        ));
        cases.push(judge(&expired, ("pem", json!(pem))));
        expect.push((format!("{alg} expired"), Some("ExpiredSignatureError")));
    }
    let verdicts = pyjwt(&cases);
    for ((what, refusal), verdict) in expect.iter().zip(&verdicts) {
        match refusal {
            None => {
                assert_eq!(verdict["ok"], true, "PyJWT refused {what}: {verdict}");
                assert_eq!(verdict["claims"]["scope"], "read write", "{what}");
            }
            Some(class) => {
                assert_eq!(verdict["ok"], false, "PyJWT accepted {what}");
                let error = verdict["error"].as_str().unwrap();
                assert!(error.starts_with(class), "{what}: PyJWT said {error}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jsonwebtoken_crate_accepts_what_it_supports() {
    // jsonwebtoken 12 has ES256, ES384, RS*, PS* and EdDSA (no ES512, no ES256K).
    let (_dir, kc) = keychain().await;
    let mut judged = 0;
    for (alg, signer) in signers(&kc).await {
        let Ok(algorithm) = alg.parse::<jsonwebtoken::Algorithm>() else {
            assert!(alg == "ES512" || alg == "ES256K", "{alg}");
            continue;
        };
        if alg == "ES512" || alg == "ES256K" {
            continue;
        }
        let token = signer.sign(&claims(alg)).await.unwrap();
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(signer.jwk().unwrap()).unwrap();
        let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
        let mut v = jsonwebtoken::Validation::new(algorithm);
        v.set_audience(&["api.test"]);
        v.set_issuer(&["https://issuer.test"]);
        let data = jsonwebtoken::decode::<Value>(&token, &key, &v)
            .unwrap_or_else(|e| panic!("jsonwebtoken refused our {alg} token: {e}"));
        assert_eq!(data.claims["sub"], format!("subject-{alg}"));
        assert_eq!(
            data.header.kid.as_deref(),
            Some(signer.kid()),
            "{alg} header kid"
        );
        for tampered in [
            flip_signature_bit(&token),
            edit_part(&token, 1, |p| p["sub"] = json!("admin")),
        ] {
            assert!(
                jsonwebtoken::decode::<Value>(&tampered, &key, &v).is_err(),
                "jsonwebtoken accepted a tampered {alg} token"
            );
        }
        judged += 1;
    }
    assert_eq!(judged, 9, "ES256, ES384, RS*, PS*, EdDSA");
}

#[tokio::test]
async fn tokens_made_by_jsonwebtoken_verify_with_us() {
    // The other direction: a token we did not make (EdDSA, from a key jsonwebtoken holds).
    use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
    let pair = Ed25519KeyPair::generate().unwrap();
    let pkcs8 = pair.to_pkcs8().unwrap();
    let encoding = jsonwebtoken::EncodingKey::from_ed_der(pkcs8.as_ref());
    let claims = json!({"sub": "x", "exp": keychain_now() + 600});
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA),
        &claims,
        &encoding,
    )
    .unwrap();
    let jwk = json!({"kty": "OKP", "crv": "Ed25519",
                     "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref())});
    let key = jwt::public_key_from_jwk(&jwk).unwrap();
    let ok = jwt::verify(&token, &key, &Validation::new()).unwrap();
    assert_eq!(ok.claims.sub.as_deref(), Some("x"));
    assert_eq!(ok.algorithm, SigningAlgorithm::Ed25519Sha512);
}

fn keychain_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn hostile_tokens_are_refused_without_panicking() {
    let (_dir, kc) = keychain().await;
    kc.generate_key("p256", &KeyParams::ecdsa(Curve::P256))
        .await
        .unwrap();
    kc.generate_key("k256", &KeyParams::ecdsa(Curve::Secp256k1))
        .await
        .unwrap();
    let signer = JwtSigner::from_key(&kc, "p256", None).await.unwrap();
    let k256 = JwtSigner::from_key(&kc, "k256", None).await.unwrap();
    let key = signer.public_key().clone();
    let v = Validation::new();
    let token = signer
        .sign(&Claims::new().expires_in(Duration::from_secs(60)))
        .await
        .unwrap();
    assert!(jwt::verify(&token, &key, &v).is_ok());
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
    let (_, payload, sig) = {
        let p: Vec<&str> = token.split('.').collect();
        (p[0].to_string(), p[1].to_string(), p[2].to_string())
    };

    // alg none, with and without a signature; alg NONE; HS256 keyed with the public key.
    for alg in ["none", "NONE", "None"] {
        for s in ["", "e30"] {
            let t = format!("{}.{payload}.{s}", b64(&json!({"alg": alg})));
            let err = jwt::verify(&t, &key, &v).unwrap_err();
            assert!(
                matches!(err, JwtError::Algorithm(_) | JwtError::Malformed(_)),
                "{alg}: {err}"
            );
        }
    }
    let hs = format!("{}.{payload}.{sig}", b64(&json!({"alg": "HS256"})));
    assert!(matches!(
        jwt::verify(&hs, &key, &v),
        Err(JwtError::Algorithm(_))
    ));
    // alg/key mismatches: ES256K header on a P-256 key and the other way round; RS256, EdDSA.
    for alg in ["ES256K", "ES384", "RS256", "PS256", "EdDSA", "ES512"] {
        let t = format!("{}.{payload}.{sig}", b64(&json!({"alg": alg})));
        assert!(
            matches!(jwt::verify(&t, &key, &v), Err(JwtError::Algorithm(_))),
            "{alg} accepted for a P-256 key"
        );
    }
    let k256_token = k256
        .sign(&Claims::new().expires_in(Duration::from_secs(60)))
        .await
        .unwrap();
    assert!(jwt::verify(&k256_token, k256.public_key(), &v).is_ok());
    assert!(matches!(
        jwt::verify(&k256_token, &key, &v),
        Err(JwtError::Algorithm(_))
    ));
    // An algorithm the validation does not allow.
    let only_rs = Validation::new().algorithms([SigningAlgorithm::RsassaPkcs1V15Sha256]);
    assert!(matches!(
        jwt::verify(&token, &key, &only_rs),
        Err(JwtError::Algorithm(_))
    ));
    // The classic DER bug: a DER ECDSA signature in a JWS is refused.
    let raw = URL_SAFE_NO_PAD.decode(&sig).unwrap();
    let der = keychain::signature::ecdsa_raw_to_der(&raw, Curve::P256).unwrap();
    let der_token = format!(
        "{}.{}",
        token.rsplit_once('.').unwrap().0,
        URL_SAFE_NO_PAD.encode(der)
    );
    assert_eq!(
        jwt::verify(&der_token, &key, &v).unwrap_err(),
        JwtError::BadSignature
    );
    // crit, duplicate members, non-object JSON, bad base64, padding, part counts, size.
    let crit = edit_part(&token, 0, |h| h["crit"] = json!(["b64"]));
    assert!(matches!(
        jwt::verify(&crit, &key, &v),
        Err(JwtError::Critical(_))
    ));
    let dup_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256","alg":"none"}"#);
    let dup = format!("{dup_header}.{payload}.{sig}");
    assert!(matches!(
        jwt::verify(&dup, &key, &v),
        Err(JwtError::Malformed(_))
    ));
    let not_object = format!("{}.{payload}.{sig}", URL_SAFE_NO_PAD.encode(b"[1,2]"));
    assert!(matches!(
        jwt::verify(&not_object, &key, &v),
        Err(JwtError::Malformed(_))
    ));
    let oversized = format!("{token}{}", "A".repeat(jwt::DEFAULT_MAX_TOKEN_LEN));
    assert!(matches!(
        jwt::verify(&oversized, &key, &v),
        Err(JwtError::TooLong { .. })
    ));
    for bad in [
        String::new(),
        ".".into(),
        "..".into(),
        "a.b".into(),
        format!("{token}.extra"),
        format!("{token}="),
        token.replace('.', ".="),
        format!("{}!{}", &token[..10], &token[11..]),
        "eyJhbGciOiJFUzI1NiJ9.\u{e9}.AAAA".into(),
    ] {
        assert!(jwt::verify(&bad, &key, &v).is_err(), "{bad:?} accepted");
    }
    // Every single-character change anywhere in the token is refused (base64url decoding
    // is strict, so even the non-significant trailing bits count), and nothing panics.
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
    for i in 0..token.len() {
        let mut bytes = token.clone().into_bytes();
        let original = bytes[i];
        bytes[i] = alphabet[(alphabet.iter().position(|&c| c == original).unwrap() + 7) % 65];
        let t = String::from_utf8(bytes).unwrap();
        assert!(
            jwt::verify(&t, &key, &v).is_err(),
            "changed byte {i} accepted"
        );
        assert!(
            jwt::verify(&token[..i], &key, &v).is_err(),
            "prefix {i} accepted"
        );
    }
}

#[tokio::test]
async fn claims_are_validated() {
    let (_dir, kc) = keychain().await;
    kc.generate_key("ed", &KeyParams::ed25519()).await.unwrap();
    let signer = JwtSigner::from_key(&kc, "ed", None).await.unwrap();
    let key = signer.public_key().clone();
    let now = SystemTime::now();
    let sign = |c: Claims| {
        let s = signer.clone();
        async move { s.sign(&c).await.unwrap() }
    };
    let base = || Claims::new().expires_in(Duration::from_secs(300));

    // A null date claim is malformed, not absent: `"exp": null` never means "no expiry".
    for claim in ["exp", "nbf", "iat"] {
        let mut payload = json!({"exp": keychain_now() + 300});
        payload[claim] = Value::Null;
        let t = signer
            .sign_jws(None, &serde_json::to_vec(&payload).unwrap())
            .await
            .unwrap();
        // Even when exp is not required, so the null cannot pass for a missing claim.
        let mut lenient = Validation::new();
        lenient.required.clear();
        let verdict = jwt::verify(&t, &key, &lenient);
        assert!(
            matches!(verdict, Err(JwtError::Malformed(_))),
            "{claim}: {verdict:?}"
        );
    }

    // exp: leeway tolerated, then refused; required by default.
    let t = sign(Claims::new().expires_at(now - Duration::from_secs(30))).await;
    assert!(jwt::verify(&t, &key, &Validation::new()).is_ok());
    assert!(matches!(
        jwt::verify(&t, &key, &Validation::new().leeway(Duration::ZERO)),
        Err(JwtError::Expired(_))
    ));
    let t = sign(Claims::new().subject("no exp")).await;
    assert_eq!(
        jwt::verify(&t, &key, &Validation::new()).unwrap_err(),
        JwtError::MissingClaim("exp".into())
    );
    // nbf and iat in the future.
    let t = sign(base().not_before(now + Duration::from_secs(600))).await;
    assert!(matches!(
        jwt::verify(&t, &key, &Validation::new()),
        Err(JwtError::NotYetValid(_))
    ));
    let t = sign(base().issued_at(now + Duration::from_secs(600))).await;
    assert!(matches!(
        jwt::verify(&t, &key, &Validation::new()),
        Err(JwtError::IssuedInFuture(_))
    ));
    // iss and aud.
    let t = sign(base().issuer("https://a.test").audiences(["x", "y"])).await;
    let ok = Validation::new().issuer("https://a.test").audience("y");
    assert!(jwt::verify(&t, &key, &ok).is_ok());
    let wrong_iss = Validation::new().issuer("https://b.test").audience("y");
    assert_eq!(
        jwt::verify(&t, &key, &wrong_iss).unwrap_err(),
        JwtError::Issuer
    );
    let wrong_aud = Validation::new().issuer("https://a.test").audience("z");
    assert_eq!(
        jwt::verify(&t, &key, &wrong_aud).unwrap_err(),
        JwtError::Audience
    );
    // A token with an audience is refused by a verifier that names none (RFC 7519 4.1.3).
    assert_eq!(
        jwt::verify(&t, &key, &Validation::new()).unwrap_err(),
        JwtError::Audience
    );
    let mut sub = Validation::new();
    sub.subject = Some("alice".into());
    let t = sign(base().subject("mallory")).await;
    assert_eq!(jwt::verify(&t, &key, &sub).unwrap_err(), JwtError::Subject);
    // Registered claims of the wrong type are refused.
    let t = signer.sign(&json!({"exp": "tomorrow"})).await.unwrap();
    assert!(matches!(
        jwt::verify(&t, &key, &Validation::new()),
        Err(JwtError::Malformed(_))
    ));
    // A fractional NumericDate is fine.
    let t = signer
        .sign(&json!({"exp": keychain_now() as f64 + 100.5}))
        .await
        .unwrap();
    assert!(jwt::verify(&t, &key, &Validation::new()).is_ok());
    // Claims that are not an object cannot be signed.
    assert!(signer.sign(&json!([1, 2])).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_rotation_with_two_keys_for_us_and_pyjwt() {
    let (_dir, kc) = keychain().await;
    kc.generate_key("jwt-2025", &KeyParams::rsa(2048))
        .await
        .unwrap();
    kc.generate_key("jwt-2026", &KeyParams::ecdsa(Curve::P256))
        .await
        .unwrap();
    kc.generate_key("unpublished", &KeyParams::ecdsa(Curve::P256))
        .await
        .unwrap();
    let old = JwtSigner::from_key(&kc, "jwt-2025", None).await.unwrap();
    let old_token = old.sign(&claims("RS256")).await.unwrap();
    // Rotated out: the old key no longer signs, but its tokens must still verify.
    kc.backend()
        .disable_key(&keychain::KeyRef::parse("jwt-2025").unwrap())
        .await
        .unwrap();
    kc.clear_cache();
    let err = JwtSigner::from_key(&kc, "jwt-2025", None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), keychain::ErrorKind::InvalidKeyState, "{err}");
    let jwks = jwt::jwks_for_keys(&kc, &["jwt-2025", "jwt-2026"], None)
        .await
        .unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0]["alg"], "RS256");
    assert_eq!(keys[1]["alg"], "ES256");
    for k in keys {
        assert_eq!(k["use"], "sig");
        assert!(k.get("d").is_none());
    }
    let new = JwtSigner::from_key(&kc, "jwt-2026", None).await.unwrap();
    let stray = JwtSigner::from_key(&kc, "unpublished", None).await.unwrap();
    let v = validation();
    let mut cases = Vec::new();
    let new_token = new.sign(&claims("ES256")).await.unwrap();
    for (token, alg) in [(old_token, "RS256"), (new_token, "ES256")] {
        let ok = jwt::verify_with_jwks(&token, &jwks, &v).unwrap();
        assert_eq!(ok.claims.sub, Some(format!("subject-{alg}")));
        cases.push(
            json!({"token": token, "alg": alg, "jwks": jwks, "aud": "api.test",
                          "iss": "https://issuer.test"}),
        );
    }
    let verdicts = pyjwt(&cases);
    assert!(
        verdicts.iter().all(|v| v["ok"] == true),
        "PyJWT: {verdicts:?}"
    );
    // A key outside the set, and a token whose kid points at the other key.
    let token = stray.sign(&claims("ES256")).await.unwrap();
    assert!(matches!(
        jwt::verify_with_jwks(&token, &jwks, &v),
        Err(JwtError::UnknownKey(Some(_)))
    ));
    let token = new
        .clone()
        .with_kid(old.kid())
        .sign(&claims("ES256"))
        .await
        .unwrap();
    assert!(jwt::verify_with_jwks(&token, &jwks, &v).is_err());
}

#[tokio::test]
async fn jwk_import_round_trips_every_key_type() {
    let (_dir, kc) = keychain().await;
    for (_, name, params, algorithm) in algorithms() {
        if kc.describe(name).await.is_err() {
            kc.generate_key(name, &params).await.unwrap();
        }
        let pk = kc.public_key(name).await.unwrap();
        let jwk = jwt::jwk(&pk, algorithm).unwrap();
        let back = jwt::public_key_from_jwk(&jwk).unwrap();
        assert_eq!(back.to_der(), pk.to_der(), "{name}");
        assert_eq!(back.jwk_thumbprint(), jwk["kid"]);
    }
    for bad in [
        json!({"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}),
        json!({"kty": "EC", "crv": "P-192", "x": "AAAA", "y": "AAAA"}),
        json!({"kty": "oct", "k": "c2VjcmV0"}),
        json!({"kty": "OKP", "crv": "Ed25519", "x": "AAAA", "d": "AAAA"}),
        json!({"kty": "RSA", "n": "!!", "e": "AQAB"}),
        json!("not an object"),
    ] {
        assert!(jwt::public_key_from_jwk(&bad).is_err(), "{bad}");
    }
}
