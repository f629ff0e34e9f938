//! `--json` output against its documented schema, `docs/cli-json.schema.json`: a scenario
//! calls every command with `--json` (successes, "invalid" verdicts and failures) and Python
//! `jsonschema` (Draft 2020-12), not keychain, judges each object against its command's
//! schema. The schema file and the command line must name the same commands: every leaf of
//! `keychain --help`, followed recursively, has an entry, and no entry names a command that
//! does not exist.

use std::collections::BTreeSet;
use std::process::Command;

use keychain_testkit::{python, run_with_stdin};
use serde_json::{Value, json};

use crate::support::{Cli, Run, arg};

/// The schema file, from the repository's root.
const SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../docs/cli-json.schema.json"
);

/// Python `jsonschema` as the judge. Input: the schema file's path and the outputs captured,
/// each with the command whose schema it must match (`null` for the error object). Output: a
/// list of problems, empty when every output matches.
///
/// Each command's schema is validated with the file's `$defs` beside it, so its `$ref`s
/// resolve. Two probes show the schema is strict for each output: one with an extra member
/// must be refused (`additionalProperties: false`), and so must the output without any one of
/// its members (every member it always has is `required`).
const JUDGE: &str = r#"
import copy, json, sys
from jsonschema import Draft202012Validator
request = json.load(sys.stdin)
with open(request["schema"]) as f:
    root = json.load(f)
problems = []
Draft202012Validator.check_schema(root)
def schema_of(command):
    sub = root["error"] if command is None else root["commands"][command]
    wrapped = dict(sub)
    wrapped["$defs"] = root["$defs"]
    Draft202012Validator.check_schema(wrapped)
    return Draft202012Validator(wrapped)
for case in request["cases"]:
    name = case["command"] if case["command"] is not None else "error object"
    output = case["output"]
    if case["command"] is not None and root["commands"].get(case["command"], 0) is None:
        problems.append(f"{name}: printed JSON but the schema file says it prints none")
        continue
    validator = schema_of(case["command"])
    for e in validator.iter_errors(output):
        path = "/".join(str(p) for p in e.absolute_path)
        problems.append(f"{name}: at /{path}: {e.message}")
    if not isinstance(output, dict):
        problems.append(f"{name}: not a JSON object: {output!r}")
        continue
    extra = copy.deepcopy(output)
    extra["unexpected_member"] = 1
    if validator.is_valid(extra):
        problems.append(f"{name}: the schema accepts an unknown member")
    for member in output:
        fewer = {k: v for k, v in output.items() if k != member}
        if validator.is_valid(fewer):
            problems.append(f"{name}: the schema accepts the output without {member!r}")
print(json.dumps(problems))
"#;

/// Outputs captured from the binary, with the schema each must match.
struct Captured {
    cli: Cli,
    cases: Vec<Value>,
    /// The commands that printed JSON at least once.
    covered: BTreeSet<String>,
}

impl Captured {
    fn new(cli: Cli) -> Self {
        Captured {
            cli,
            cases: Vec::new(),
            covered: BTreeSet::new(),
        }
    }

    /// Runs `keychain --json COMMAND ARGS…` expecting exit `code`, and keeps what it printed
    /// (one JSON object on one line) to be judged against COMMAND's schema — or against the
    /// error object's, for a failure (exit 3 and above), whose `exit_code` must be the code.
    fn run_as(&mut self, run: Run, command: &str, code: i32) -> Value {
        assert_eq!(
            run.code,
            code,
            "keychain --json {command}: stderr {}\nstdout {}",
            run.stderr,
            run.text()
        );
        let text = run.text();
        assert_eq!(
            text.lines().count(),
            1,
            "keychain --json {command} prints one line: {text}"
        );
        let value: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("keychain --json {command} printed no JSON ({e}): {text}"));
        if code >= 3 {
            assert_eq!(value["error"]["exit_code"], code, "{value}");
            self.cases.push(json!({"command": null, "output": value}));
        } else {
            self.covered.insert(command.to_string());
            self.cases
                .push(json!({"command": command, "output": value.clone()}));
        }
        value
    }

    /// `keychain --json COMMAND ARGS…` on the test keystore.
    fn run(&mut self, command: &str, args: &[&str], code: i32) -> Value {
        let mut all = vec!["--json"];
        all.extend(command.split(' '));
        all.extend_from_slice(args);
        let run = self.cli.run(&all);
        self.run_as(run, command, code)
    }

    fn ok(&mut self, command: &str, args: &[&str]) -> Value {
        self.run(command, args, 0)
    }

    /// Has Python `jsonschema` judge every output captured; panics listing each mismatch.
    fn judge(&self) {
        let problems = judge(&self.cases);
        assert!(
            problems.is_empty(),
            "--json output does not match docs/cli-json.schema.json:\n{}",
            problems.join("\n")
        );
    }
}

/// What Python `jsonschema` finds wrong with `cases` (`{"command", "output"}` objects).
fn judge(cases: &[Value]) -> Vec<String> {
    let present = Command::new(python())
        .args(["-c", "from jsonschema import Draft202012Validator"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        present,
        "Python jsonschema is missing from {}: run scripts/test.sh or set KEYCHAIN_TEST_PYTHON",
        python().display()
    );
    let request = json!({"schema": SCHEMA, "cases": cases});
    let out = run_with_stdin(
        Command::new(python()).args(["-c", JUDGE]),
        &serde_json::to_vec(&request).unwrap(),
    );
    serde_json::from_slice(&out)
        .unwrap_or_else(|e| panic!("Python jsonschema printed no verdict ({e})"))
}

/// The schema file.
fn schema() -> Value {
    let text = std::fs::read_to_string(SCHEMA).expect("docs/cli-json.schema.json");
    serde_json::from_str(&text).expect("the schema file is JSON")
}

/// The commands the schema file describes: those that print JSON, and those that do not.
fn schema_commands() -> (BTreeSet<String>, BTreeSet<String>) {
    let schema = schema();
    let commands = schema["commands"].as_object().expect("commands");
    let mut with = BTreeSet::new();
    let mut without = BTreeSet::new();
    for (name, entry) in commands {
        if entry.is_null() {
            without.insert(name.clone());
        } else {
            with.insert(name.clone());
        }
    }
    (with, without)
}

/// The subcommands `keychain PATH… --help` lists (empty for a leaf).
fn subcommands(path: &[String]) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_keychain"))
        .args(path)
        .arg("--help")
        .output()
        .expect("running keychain --help");
    assert!(out.status.success(), "keychain {path:?} --help failed");
    let help = String::from_utf8(out.stdout).expect("help is UTF-8");
    let Some(start) = help.find("\nCommands:\n") else {
        return Vec::new();
    };
    help[start + "\nCommands:\n".len()..]
        .lines()
        .take_while(|l| !l.trim().is_empty())
        // A command's line starts at two spaces; a wrapped description is indented further.
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// Every leaf command of the command line, as `key rotation status`; clap's `help` (at every
/// level) counts as the one command `help`.
fn leaf_commands() -> BTreeSet<String> {
    let mut leaves = BTreeSet::new();
    let mut pending = vec![Vec::<String>::new()];
    while let Some(path) = pending.pop() {
        for name in subcommands(&path) {
            let mut child = path.clone();
            child.push(name.clone());
            if name == "help" {
                leaves.insert("help".to_string());
            } else if subcommands(&child).is_empty() {
                leaves.insert(child.join(" "));
            } else {
                pending.push(child);
            }
        }
    }
    leaves
}

/// The schema file names exactly the commands that exist: a new command needs its entry (a
/// schema, or `null` with the reason it prints no JSON), and a removed one loses it.
#[test]
fn json_schema_names_every_command() {
    let leaves = leaf_commands();
    for expected in ["key rotation status", "key alias list", "cert crl", "help"] {
        assert!(
            leaves.contains(expected),
            "the --help walk found {expected}: {leaves:?}"
        );
    }
    let (with, without) = schema_commands();
    let described: BTreeSet<String> = with.union(&without).cloned().collect();
    let missing: Vec<&String> = leaves.difference(&described).collect();
    assert!(
        missing.is_empty(),
        "commands with no entry in docs/cli-json.schema.json: {missing:?}"
    );
    let unknown: Vec<&String> = described
        .difference(&leaves)
        // `migrate` exists in builds with the aws feature only.
        .filter(|c| cfg!(feature = "aws") || c.as_str() != "migrate")
        .collect();
    assert!(
        unknown.is_empty(),
        "docs/cli-json.schema.json describes commands that do not exist: {unknown:?}"
    );
    let schema = schema();
    let reasons = schema["no_json"].as_object().expect("no_json");
    let reasoned: BTreeSet<String> = reasons.keys().cloned().collect();
    assert_eq!(
        reasoned, without,
        "each command without JSON (null) says why in no_json, and only those"
    );
}

/// A key's id from its `key create` output.
fn key_id(v: &Value) -> String {
    v["key_id"].as_str().expect("key_id").to_string()
}

/// Every command that prints JSON, against the software keystore, judged by Python
/// `jsonschema`; failures print the error object, and commands without JSON print none.
#[test]
fn json_schema_every_command_matches() {
    let mut c = Captured::new(Cli::new());
    let msg = c.cli.file("msg", b"the message\n");
    let other = c.cli.file("other", b"another message\n");
    let (msg, other) = (arg(&msg).to_string(), arg(&other).to_string());
    let path = |c: &Captured, name: &str| arg(&c.cli.path(name)).to_string();

    // Keys, and what manages them.
    c.ok(
        "key create",
        &[
            "ec",
            "--spec",
            "p256",
            "--tag",
            "team=a",
            "--description",
            "d",
        ],
    );
    c.ok("key create", &["ec2", "--spec", "p256"]);
    c.ok("key create", &["rsa", "--spec", "rsa-2048"]);
    c.ok(
        "key create",
        &["rsaenc", "--spec", "rsa-2048", "--usage", "ENCRYPT_DECRYPT"],
    );
    c.ok("key create", &["aes", "--spec", "aes-256"]);
    c.ok("key create", &["hmac", "--spec", "hmac-256"]);
    let ed = key_id(&c.ok("key create", &["ed", "--spec", "ed25519"]));
    c.ok("key create", &["mldsa", "--spec", "ml-dsa-44"]);
    let listed = c.ok("key list", &[]);
    assert_eq!(listed["keys"].as_array().map(Vec::len), Some(8), "{listed}");
    c.ok("key list", &["--limit", "1"]);
    c.ok("key show", &["ec"]);
    c.ok("key show", &[&ed]);
    c.ok("key tag", &["ec", "x=1", "y=2"]);
    c.ok("key untag", &["ec", "x"]);
    c.ok("key rotation enable", &["aes", "--period-days", "90"]);
    let status = c.ok("key rotation status", &["aes"]);
    assert_eq!(status["enabled"], true, "{status}");
    c.ok("key rotation disable", &["aes"]);
    c.ok("key rotate", &["aes"]);
    let materials = c.ok("key rotation list", &["aes"]);
    assert_eq!(
        materials["materials"][1]["rotation_type"], "ON_DEMAND",
        "{materials}"
    );
    c.ok("key alias create", &["second", "ec"]);
    c.ok("key alias update", &["alias/second", "ec2"]);
    c.ok("key alias list", &[]);
    c.ok("key alias list", &["ec2"]);
    c.ok("key alias delete", &["second"]);
    c.ok("key disable", &["ed"]);
    c.ok("key enable", &["ed"]);
    let deleting = c.ok("key delete", &["ed", "--pending-days", "7"]);
    assert_eq!(deleting["state"], "PendingDeletion", "{deleting}");
    c.ok("key cancel-deletion", &["ed"]);
    c.ok("key enable", &["ed"]);

    // Public keys, signatures, bundles.
    c.ok("pubkey", &["ec"]);
    c.ok(
        "pubkey",
        &["rsa", "--format", "jwk", "--out", &path(&c, "rsa.jwk")],
    );
    c.ok(
        "pubkey",
        &["ed", "--format", "der", "--out", &path(&c, "ed.der")],
    );
    c.ok("pubkey", &["mldsa"]);
    c.ok("sign", &["ec", "--in", &msg]);
    let sig = path(&c, "ec.sig");
    c.ok(
        "sign",
        &["ec", "--in", &msg, "--out", &sig, "--encoding", "raw"],
    );
    let digest = "00".repeat(32);
    c.ok("sign", &["ec", "--digest", &digest]);
    let bundle = path(&c, "bundle.json");
    let rsa_sig = path(&c, "rsa.sig");
    c.ok(
        "sign",
        &["rsa", "--in", &msg, "--bundle", &bundle, "--out", &rsa_sig],
    );
    c.ok("sign", &["ed", "--in", "-"]);
    let valid = c.ok("verify", &["ec", "--in", &msg, "--signature", &sig]);
    assert_eq!(valid["valid"], true, "{valid}");
    let invalid = c.run("verify", &["ec", "--in", &other, "--signature", &sig], 1);
    assert_eq!(invalid["valid"], false, "{invalid}");
    let rsa_pem = c.cli.file("rsa.pem", c.cli.pubkey_pem("rsa").as_bytes());
    c.ok(
        "verify-bundle",
        &[&bundle, "--in", &msg, "--public-key", arg(&rsa_pem)],
    );
    c.ok("verify-bundle", &[&bundle, "--in", &msg]);
    c.run("verify-bundle", &[&bundle, "--in", &other], 1);

    // Encryption: envelope and direct, symmetric and RSA.
    let (env, direct, rsa_ct) = (path(&c, "env"), path(&c, "direct"), path(&c, "rsa.ct"));
    let plain = path(&c, "plain");
    let sealed = c.ok(
        "encrypt",
        &["aes", "--in", &msg, "--out", &env, "--context", "a=b"],
    );
    let direct_sealed = c.ok(
        "encrypt",
        &["aes", "--direct", "--in", &msg, "--out", &direct],
    );
    assert_eq!(
        sealed["bytes"], direct_sealed["bytes"],
        "bytes counts the plaintext in both formats"
    );
    c.ok("encrypt", &["rsaenc", "--in", &msg, "--out", &rsa_ct]);
    c.ok(
        "decrypt",
        &["--in", &env, "--out", &plain, "--context", "a=b"],
    );
    let opened = c.ok("decrypt", &["--in", &direct, "--out", &plain]);
    assert_eq!(opened["key_id"], Value::Null, "{opened}");
    let opened = c.ok(
        "decrypt",
        &["--in", &rsa_ct, "--out", &plain, "--key", "rsaenc"],
    );
    assert!(opened["key_id"].is_string(), "{opened}");

    // ML-KEM.
    c.ok("key create", &["kem", "--spec", "ML_KEM_768"]);
    let kem_ct = path(&c, "kem.ct");
    let kem_secret = path(&c, "kem.secret");
    let kem_back = path(&c, "kem.back");
    c.ok(
        "kem encapsulate",
        &[
            "kem",
            "--ciphertext-out",
            &kem_ct,
            "--secret-out",
            &kem_secret,
        ],
    );
    c.ok(
        "kem decapsulate",
        &["kem", "--in", &kem_ct, "--out", &kem_back],
    );

    // ECDH, with a peer key of the test kit's own (DER SPKI).
    c.ok(
        "key create",
        &[
            "ecdh",
            "--spec",
            "ECC_NIST_P384",
            "--usage",
            "key-agreement",
        ],
    );
    let peer = keychain_testkit::python_ecdh_batch(&[json!({"op": "public_key", "kind": "P-384"})]);
    let peer = c.cli.file(
        "peer.der",
        &keychain_testkit::b64_field(&peer[0], "public_key"),
    );
    let ecdh_secret = path(&c, "ecdh.secret");
    c.ok(
        "derive-shared-secret",
        &[
            "ecdh",
            "--peer-public-key",
            arg(&peer),
            "--out",
            &ecdh_secret,
        ],
    );

    // SSH.
    c.ok("ssh pubkey", &["ec"]);
    c.ok(
        "sign",
        &[
            "ec",
            "--in",
            &msg,
            "--format",
            "sshsig",
            "--namespace",
            "file",
        ],
    );
    let user_key = path(&c, "user.pub");
    let user_line = c.ok("ssh pubkey", &["ec2", "--out", &user_key]);
    assert!(user_line["public_key"].is_string(), "{user_line}");
    let cert = path(&c, "user-cert.pub");
    c.ok(
        "ssh cert",
        &[
            "ec",
            "--public-key",
            &user_key,
            "--identity",
            "alice",
            "--principal",
            "alice",
            "--validity",
            "+1h",
            "--out",
            &cert,
        ],
    );

    // age strings.
    c.ok("age recipient", &["aes"]);
    let identity = path(&c, "age.identity");
    c.ok("age identity", &["aes", "--out", &identity]);

    // MACs.
    let mac = path(&c, "mac");
    c.ok("mac", &["hmac", "--in", &msg]);
    c.ok("mac", &["hmac", "--in", &msg, "--out", &mac]);
    c.ok("verify-mac", &["hmac", "--in", &msg, "--mac", &mac]);
    c.run("verify-mac", &["hmac", "--in", &other, "--mac", &mac], 1);

    // JWTs and key sets.
    let signed = c.ok("jwt sign", &["ec", "--aud", "api", "--iss", "me"]);
    let token = signed["token"].as_str().expect("token").to_string();
    c.ok("jwt sign", &["ed", "--claims", r#"{"k":[1,2]}"#]);
    c.ok("jwt verify", &["ec", &token, "--aud", "api"]);
    let refused = c.run("jwt verify", &["ec", &token], 1);
    assert_eq!(refused["reason"], "audience", "{refused}");
    c.ok("jwks", &["ec", "ed", "rsa"]);
    c.ok("jwks", &["ec", "--out", &path(&c, "jwks.json")]);

    // X.509.
    let (ca, csr) = (path(&c, "ca.pem"), path(&c, "csr.pem"));
    c.ok("cert ca", &["ec", "--subject", "CN=Root", "--out", &ca]);
    c.ok("cert ca", &["rsa", "--subject", "CN=Other Root"]);
    c.ok(
        "cert csr",
        &[
            "rsa",
            "--subject",
            "CN=leaf",
            "--san",
            "a.example",
            "--out",
            &csr,
        ],
    );
    c.ok("cert csr", &["ed", "--subject", "CN=ed"]);
    c.ok("cert issue", &["ec", "--csr", &csr, "--ca-cert", &ca]);
    c.ok(
        "cert issue",
        &[
            "ec",
            "--key",
            "ed",
            "--subject",
            "CN=Sub",
            "--ca",
            "--ca-cert",
            &ca,
        ],
    );
    c.ok("cert crl", &["ec", "--ca-cert", &ca, "--revoke", "0A:1B"]);
    c.ok(
        "cert crl",
        &["ec", "--ca-cert", &ca, "--out", &path(&c, "crl")],
    );

    // A keystore of its own, created and given a new password.
    let store = format!("software:{}", path(&c, "store"));
    c.ok("keystore init", &["--backend", &store]);
    let new_password = c.cli.file("new-password", b"another test password\n");
    c.ok(
        "keystore passwd",
        &[
            "--backend",
            &store,
            "--new-password-file",
            arg(&new_password),
        ],
    );

    // Failures: the error object, whose exit_code is the process's.
    let failed = c.run("key show", &["missing"], 3);
    assert_eq!(failed["error"]["kind"], "not_found", "{failed}");
    c.run("key create", &["bad", "--spec", "rsa-1"], 4);
    c.run("sign", &["hmac", "--in", &msg], 5);
    c.run("key disable", &["ec"], 0);
    c.run("sign", &["ec", "--in", &msg], 6);
    c.run("keystore init", &["--backend", &store], 9);
    c.run(
        "decrypt",
        &["--in", &env, "--out", &plain, "--context", "a=c"],
        11,
    );
    let mut wrong = c.cli.command();
    wrong.env("KEYCHAIN_PASSWORD", "not the password");
    let run = c.cli.run_with(wrong, ["--json", "key", "list"]);
    let failed = c.run_as(run, "key list", 7);
    assert_eq!(failed["error"]["kind"], "wrong_password", "{failed}");

    // A malformed command line is refused before any JSON.
    let run = c.cli.run(["--json", "key", "create"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stdout.is_empty(),
        "no JSON for a usage error: {}",
        run.text()
    );

    // The commands without JSON print no JSON object even with --json.
    let (with, without) = schema_commands();
    for command in &without {
        // A server and an agent run until stopped: their startup lines are checked by their
        // own tests (tests/cli/serve.rs, tests/cli/ssh/).
        if command == "serve" || command == "ssh-agent" {
            continue;
        }
        let mut all = vec!["--json"];
        all.extend(command.split(' '));
        if command == "completion" {
            all.push("bash");
        }
        let run = c.cli.ok(&all);
        assert!(!run.stdout.is_empty(), "{command} prints something");
        assert!(
            serde_json::from_slice::<Value>(&run.stdout).is_err(),
            "{command} prints JSON: the schema file says it prints none"
        );
    }

    // Every command with a schema ran (`migrate` in the AWS test).
    let not_run: Vec<&String> = with
        .iter()
        .filter(|w| !c.covered.contains(*w) && w.as_str() != "migrate")
        .collect();
    assert!(
        not_run.is_empty(),
        "commands the scenario never ran: {not_run:?}"
    );
    c.judge();
}

/// The judge itself refuses a wrong output: a key object without `spec` and one with an
/// unknown member (so a passing judgement means something).
#[test]
fn json_schema_judge_refuses_a_wrong_output() {
    let mut c = Captured::new(Cli::new());
    let key = c.ok("key create", &["k", "--spec", "p256"]);
    let mut without = key.clone();
    without.as_object_mut().unwrap().remove("spec");
    let mut extra = key.clone();
    extra["spec_name"] = json!("P-256");
    for wrong in [without, extra] {
        let problems = judge(&[json!({"command": "key show", "output": wrong})]);
        assert!(!problems.is_empty(), "the judge accepted {wrong}");
    }
    c.judge();
}

/// AWS KMS (LocalStack): key objects with ARNs, a KMS error, and `migrate`'s report.
#[cfg(feature = "aws")]
#[test]
fn json_schema_aws_and_migrate() {
    use crate::awskms::Aws;
    use keychain_testkit::conformance::unique_prefix;

    let aws = Aws::new();
    let prefix = unique_prefix("cli-json");
    let mut c = Captured::new(Cli::new());
    let kms_key = format!("{prefix}-kms");
    let run = aws.run(&["--json", "key", "create", &kms_key, "--spec", "p256"]);
    c.run_as(run, "key create", 0);
    let run = aws.run(&["--json", "key", "show", &kms_key]);
    let shown = c.run_as(run, "key show", 0);
    assert!(shown["arn"].is_string(), "{shown}");
    let run = aws.run(&["--json", "key", "show", &format!("{prefix}-missing")]);
    c.run_as(run, "key show", 3);

    let name = format!("{prefix}-moved");
    aws.cli.create(&name, "p256", &[]);
    let run = aws.migrate(&name, &["--json"]);
    let report = c.run_as(run, "migrate", 0);
    assert_eq!(report["method"], "imported", "{report}");
    let run = aws.migrate(&name, &["--json"]);
    c.run_as(run, "migrate", 9);
    c.judge();
}
