//! Values crossing a boundary are checked where they enter (issue 9, item 12): backend URIs,
//! certificate subjects and SANs, JWT numbers, non-UTF-8 passwords, and what the CLI prints of
//! keystore contents (control characters are escaped, so no output line can be forged).

use crate::support::*;

const SECRET: &str = "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY";

/// Every component of a backend URI is checked before anything connects: ports, regions,
/// repeated and unknown attributes, credentials (never echoed), control characters, empty
/// components. Each is one line and exit 4.
#[test]
fn malformed_backend_uris_are_4_and_never_echo_a_secret() {
    let cli = Cli::new();
    for (uri, says) in [
        (
            format!("awskms://AKIAIOSFODNN7EXAMPLE:{SECRET}@127.0.0.1:1/?region=us-east-1"),
            "credentials",
        ),
        (
            format!(
                "awskms:?endpoint=http://AKIAIOSFODNN7EXAMPLE:{SECRET}@127.0.0.1:1&region=us-east-1"
            ),
            "credentials",
        ),
        (
            format!("awskms:?region=us-east-1&secret_access_key={SECRET}"),
            "credentials",
        ),
        ("awskms://127.0.0.1:0/?region=us-east-1".into(), "port"),
        ("awskms://127.0.0.1:65536/?region=us-east-1".into(), "port"),
        (
            "awskms://127.0.0.1:99999999/?region=us-east-1".into(),
            "port",
        ),
        ("awskms://127.0.0.1:1/?region=Not_A_Region".into(), "region"),
        (
            "awskms://127.0.0.1:1/?region=us-east-1&region=us-west-2".into(),
            "twice",
        ),
        (
            "awskms://127.0.0.1:1/?region=us-east-1&colour=blue".into(),
            "known: region, endpoint, profile",
        ),
        ("awskms://127.0.0.1:1/?region=".into(), "empty"),
        (
            "awskms://127.0.0.1:1/?region=us-east-1%1b".into(),
            "control",
        ),
        (
            "awskms://127.0.0.1:1/\u{1b}[2J?region=us-east-1".into(),
            "control",
        ),
    ] {
        let line = cli.fails(["--backend", &uri, "key", "list"], 4);
        assert!(line.contains(says), "{uri}: {line}");
        assert!(
            !line.contains(SECRET),
            "{uri}: the secret is echoed: {line}"
        );
        assert!(!line.contains("AKIAIOSFODNN7EXAMPLE"), "{uri}: {line}");
        assert!(!line.contains('\u{1b}'), "{uri}: {line:?}");
    }
    let mut cmd = cli.command();
    cmd.env("KEYCHAIN_BACKEND", "software:/tmp/ks\rforged");
    let run = cli.run_with(cmd, ["key", "list"]);
    assert_one_error_line(&run, 4, "a control character in software:PATH");
    assert!(!run.stderr.contains('\r'), "{:?}", run.stderr);
}

/// A description or tag holding an ESC sequence, a CR and a newline is printed escaped by
/// `key show`, `key tag` and in error lines: nothing clears the screen, returns the cursor or
/// starts a forged line. JSON output keeps the exact value (escaped by JSON itself).
#[test]
fn keystore_text_is_escaped_on_the_terminal() {
    let cli = Cli::new();
    let hostile = "x\u{1b}[2J\rforged: yes\nstate: Enabled\u{7}\u{202e}";
    cli.ok([
        "key",
        "create",
        "app",
        "--spec",
        "p256",
        "--description",
        hostile,
        "--tag",
        &format!("team={hostile}"),
    ]);
    let shown = cli.ok(["key", "show", "app"]).text();
    for text in [
        shown.clone(),
        cli.ok(["key", "tag", "app", "other=1"]).text(),
    ] {
        assert!(!text.contains('\u{1b}'), "{text:?}");
        assert!(!text.contains('\r'), "{text:?}");
        assert!(!text.contains('\u{7}'), "{text:?}");
        assert!(!text.contains('\u{202e}'), "{text:?}");
        assert!(
            !text.lines().any(|l| l.starts_with("state: Enabled")),
            "{text}"
        );
        assert!(
            text.contains(r"x\x1b[2J\rforged: yes\nstate: Enabled\x07\u{202e}"),
            "{text}"
        );
    }
    assert_eq!(
        shown.lines().filter(|l| l.starts_with("state:")).count(),
        1,
        "{shown}"
    );
    let v = cli.json(["key", "show", "app"]);
    assert_eq!(v["description"], hostile);
    assert_eq!(v["tags"]["team"], hostile);
}

/// `jwt sign` refuses numbers it would round (a date of 1e300, 2^64, a fraction of a second,
/// integers beyond 2^53 - 1 that JSON readers round) and lifetimes past the clock's range,
/// each with one line and exit 4, instead of signing a different value than was asked for.
/// The largest exact integer is signed unchanged.
#[test]
fn jwt_numbers_that_would_be_rounded_are_4() {
    use base64::Engine;
    let cli = Cli::new();
    cli.create("k", "p256", &[]);
    for claims in [
        r#"{"exp": 1e300}"#,
        r#"{"exp": 18446744073709551616}"#,
        r#"{"exp": 4102444800.5}"#,
        r#"{"nbf": 9007199254740993}"#,
        r#"{"iat": 1.5}"#,
        r#"{"count": 9007199254740993}"#,
        r#"{"count": 18446744073709551617}"#,
        r#"{"nested": [1, {"n": -1e20}]}"#,
    ] {
        let line = cli.fails(["jwt", "sign", "k", "--claims", claims], 4);
        assert!(line.contains("--claims"), "{claims}: {line}");
    }
    for exp in [
        "99999999999999d",
        "9999999999999999999s",
        "-99999999999999d",
    ] {
        let line = cli.fails(["jwt", "sign", "k", "--exp", exp], 4);
        assert!(line.contains("--exp"), "{exp}: {line}");
    }
    let token = cli
        .ok([
            "jwt",
            "sign",
            "k",
            "--claims",
            r#"{"count": 9007199254740991, "ratio": 0.25, "exp": 4102444800}"#,
        ])
        .text();
    let payload = token.trim().split('.').nth(1).expect("a payload");
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    let text = String::from_utf8(payload).expect("UTF-8");
    for exact in [
        r#""count":9007199254740991"#,
        r#""ratio":0.25"#,
        r#""exp":4102444800"#,
    ] {
        assert!(text.contains(exact), "{exact} in {text}");
    }
}

/// A `KEYCHAIN_PASSWORD` that is not UTF-8 (Latin-1 `café`, stray bytes) is used as its raw
/// bytes, as OpenSSL reads a password: keys are created and used with it, OpenSSL opens the
/// key file with `-passin file:` holding the same bytes, and the UTF-8 spelling of the "same"
/// text is a wrong password (7).
#[cfg(unix)]
#[test]
fn a_password_that_is_not_utf8_is_used_as_its_bytes() {
    use std::os::unix::ffi::OsStrExt;
    use std::process::Command;
    let raw: &[u8] = b"caf\xe9 \xff\xfe password";
    let cli = Cli::new();
    let with = |password: &[u8]| {
        let mut cmd = cli.command();
        cmd.env("KEYCHAIN_PASSWORD", std::ffi::OsStr::from_bytes(password));
        cmd
    };
    let run = cli.run_with(
        with(raw),
        ["--json", "key", "create", "k", "--spec", "p256"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let id = serde_json::from_slice::<serde_json::Value>(&run.stdout).unwrap()["key_id"]
        .as_str()
        .unwrap()
        .to_string();
    let ours = cli.run_with(with(raw), ["pubkey", "k"]);
    assert_eq!(ours.code, 0, "{}", ours.stderr);
    let pw = cli.file("pw", raw);
    let stored = cli.keystore().join("keys").join(&id).join("v1.pem");
    let from_openssl = run_tool(
        Command::new("openssl")
            .args(["pkey", "-pubout", "-in"])
            .arg(&stored)
            .arg("-passin")
            .arg(format!("file:{}", arg(&pw))),
    );
    assert_eq!(
        ours.stdout, from_openssl,
        "OpenSSL reads the key with the raw bytes"
    );
    let wrong = cli.run_with(
        with("caf\u{e9} \u{ff}\u{fe} password".as_bytes()),
        ["pubkey", "k"],
    );
    assert_one_error_line(&wrong, 7, "the UTF-8 spelling of a Latin-1 password");
}

/// Certificate subjects and SANs are held to RFC 5280 (CN, O, OU at most 64 characters, C two
/// letters, no empty or control-character values; DNS labels of at most 63 bytes and 253 in
/// all, emails of at most 255 bytes) in `cert ca`, `cert csr`, `cert issue` and for the subject
/// of a CSR made by OpenSSL; each refusal is exit 4. A certificate at the limits is produced
/// and OpenSSL reads back exactly the subject and SANs asked for.
#[test]
fn certificate_subjects_and_sans_keep_rfc5280_limits() {
    use std::process::Command;
    let cli = Cli::new();
    cli.create("root", "p256", &[]);
    cli.create("leaf", "p256", &[]);
    let root = cli.path("root.pem");
    let cn64 = "c".repeat(64);
    let subject = format!("CN={cn64},O={},OU={},C=US", "o".repeat(64), "u".repeat(64));
    cli.ok([
        "cert",
        "ca",
        "root",
        "--subject",
        &subject,
        "--out",
        arg(&root),
    ]);
    let shown = run_tool(
        Command::new("openssl")
            .args(["x509", "-noout", "-subject", "-nameopt", "RFC2253", "-in"])
            .arg(&root),
    );
    assert_eq!(
        String::from_utf8_lossy(&shown).trim(),
        format!("subject={subject}")
    );
    let bad_subjects = [
        format!("CN={}", "c".repeat(65)),
        format!("CN=x,O={}", "o".repeat(65)),
        format!("CN=x,OU={}", "u".repeat(65)),
        "CN=x,C=USA".to_string(),
        "CN=x,C=1".to_string(),
        "CN=".to_string(),
        "CN=x,O=".to_string(),
        "CN=a\u{1b}[2Jb".to_string(),
        "CN=a\rb".to_string(),
    ];
    for bad in &bad_subjects {
        cli.fails(["cert", "ca", "leaf", "--subject", bad], 4);
        cli.fails(["cert", "csr", "leaf", "--subject", bad], 4);
        let line = cli.fails(
            [
                "cert",
                "issue",
                "root",
                "--key",
                "leaf",
                "--subject",
                bad,
                "--ca-cert",
                arg(&root),
            ],
            4,
        );
        assert!(!line.contains('\u{1b}') && !line.contains('\r'), "{line:?}");
    }
    let label63 = "l".repeat(63);
    let dns253 = format!("{label63}.{label63}.{label63}.{}", "d".repeat(61));
    let email255 = format!("{}@example.com", "e".repeat(255 - "@example.com".len()));
    for bad_san in [
        format!("{}.example.com", "l".repeat(64)),
        format!("{dns253}x"),
        "dns:-leading.example.com".to_string(),
        format!("email:e{email255}"),
        "email:a\u{1b}b@example.com".to_string(),
        "uri:https://x/\u{7}".to_string(),
        "ip:1.2.3.4.5".to_string(),
        "ip:::g".to_string(),
    ] {
        cli.fails(
            [
                "cert",
                "issue",
                "root",
                "--key",
                "leaf",
                "--subject",
                "CN=leaf",
                "--san",
                &bad_san,
                "--ca-cert",
                arg(&root),
            ],
            4,
        );
    }
    let leaf = cli.path("leaf.pem");
    cli.ok([
        "cert",
        "issue",
        "root",
        "--key",
        "leaf",
        "--subject",
        "CN=leaf",
        "--san",
        &dns253,
        "--san",
        &format!("email:{email255}"),
        "--san",
        "ip:2001:db8::1",
        "--san",
        "ip:192.0.2.7",
        "--ca-cert",
        arg(&root),
        "--out",
        arg(&leaf),
    ]);
    let text = String::from_utf8(run_tool(
        Command::new("openssl")
            .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
            .arg(&leaf),
    ))
    .unwrap();
    for expected in [
        format!("DNS:{dns253}"),
        format!("email:{email255}"),
        "IP Address:2001:DB8:0:0:0:0:0:1".to_string(),
        "IP Address:192.0.2.7".to_string(),
    ] {
        assert!(text.contains(&expected), "{expected} in {text}");
    }
    // A CSR made by OpenSSL with an ESC sequence in its CN is refused when issuing.
    let (key, csr) = (cli.path("c.key"), cli.path("c.csr"));
    run_tool(
        Command::new("openssl")
            .args([
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
            ])
            .args(["-nodes", "-utf8", "-subj", "/CN=a\u{1b}[2Jb", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&csr),
    );
    let line = cli.fails(
        [
            "cert",
            "issue",
            "root",
            "--csr",
            arg(&csr),
            "--ca-cert",
            arg(&root),
        ],
        4,
    );
    assert!(line.contains("control character"), "{line}");
}
