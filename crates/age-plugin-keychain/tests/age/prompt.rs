//! The keystore password asked through age: without `KEYCHAIN_PASSWORD`, the plugin sends
//! the protocol's `request-secret` and age prompts on its terminal. age runs on a
//! pseudo-terminal driven by Python's `pty`, which answers the prompt it sees.

use keychain::KeyParams;
use keychain_testkit::{PASSWORD, python};
use serde_json::Value;

use crate::support::{Setup, assert_ok, encrypt, path_with, pattern, plugin_dir, run};

/// Runs `age ARGS` on a pseudo-terminal; when `prompt` appears, types `answer` and Enter.
/// Returns age's exit code, whether the prompt was seen, and everything it showed.
const DRIVER: &str = r#"
import json, os, pty, select, sys, termios, time
prompt, answer, argv = sys.argv[1].encode(), sys.argv[2], sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
shown, sent, deadline = b"", False, time.time() + 120
while time.time() < deadline:
    ready, _, _ = select.select([fd], [], [], 0.5)
    if fd in ready:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        shown += data
        if not sent and prompt in shown:
            # Type once age has turned echo off (as a person would, later): the terminal's
            # own state says whether what is typed would show.
            until = time.time() + 5
            while termios.tcgetattr(fd)[3] & termios.ECHO and time.time() < until:
                time.sleep(0.01)
            os.write(fd, (answer + "\n").encode())
            sent = True
_, status = os.waitpid(pid, 0)
print(json.dumps({"code": os.waitstatus_to_exitcode(status), "prompted": sent,
                  "prompts": shown.count(prompt), "shown": shown.decode(errors="replace")}))
"#;

fn on_a_terminal(setup: &Setup, answer: &str, args: &[&str]) -> Value {
    let out = run(std::process::Command::new(python())
        .current_dir(setup.dir.path())
        .env("PATH", path_with(&plugin_dir()))
        .env_remove("KEYCHAIN_PASSWORD")
        .env_remove("KEYCHAIN_BACKEND")
        .args([
            "-c",
            DRIVER,
            "Password of the keychain keystore",
            answer,
            "age",
        ])
        .args(args));
    assert_ok(&out, "the pty driver");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("the driver printed no JSON ({e})"))
}

#[tokio::test]
async fn age_asks_for_the_keystore_password() {
    let setup = Setup::new();
    let (recipient, identity) = setup.key("asked", &KeyParams::symmetric()).await;
    let input = setup.path("in");
    std::fs::write(&input, pattern(300)).unwrap_or_else(|e| panic!("{e}"));
    let sealed = setup.path("in.age");
    assert_ok(&encrypt(&setup, &[&recipient], &input, &sealed), "age -e");
    let identity = identity.display().to_string();
    let sealed = sealed.display().to_string();

    let opened = setup.path("in.out");
    let result = on_a_terminal(
        &setup,
        PASSWORD,
        &[
            "-d",
            "-i",
            &identity,
            "-o",
            &opened.display().to_string(),
            &sealed,
        ],
    );
    assert_eq!(result["prompted"], true, "{result}");
    assert_eq!(result["code"], 0, "{result}");
    assert_eq!(std::fs::read(&opened).unwrap_or_default(), pattern(300));
    // The password typed is not echoed.
    assert!(
        !result["shown"].as_str().unwrap_or("").contains(PASSWORD),
        "{result}"
    );

    let refused = setup.path("in.refused");
    let result = on_a_terminal(
        &setup,
        "not the password",
        &[
            "-d",
            "-i",
            &identity,
            "-o",
            &refused.display().to_string(),
            &sealed,
        ],
    );
    assert_eq!(result["prompted"], true, "{result}");
    assert_ne!(result["code"], 0, "{result}");
    let shown = result["shown"].as_str().unwrap_or("").to_lowercase();
    assert!(shown.contains("password"), "{result}");
    assert!(!shown.contains("panic"), "{result}");
    assert!(!refused.exists());
}

#[tokio::test]
async fn a_declined_prompt_is_one_clear_line_and_asked_once() {
    let setup = Setup::new();
    // Two keys of the same keystore, and one file wrapped to both: the keystore's password
    // is asked once, whichever stanza is tried first.
    let (first, first_identity) = setup.key("first", &KeyParams::symmetric()).await;
    let (second, second_identity) = setup.key("second", &KeyParams::symmetric()).await;
    let identities = setup.path("both.identity");
    let both = [first_identity, second_identity]
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap_or_default())
        .collect::<String>();
    std::fs::write(&identities, both).unwrap_or_else(|e| panic!("{e}"));
    let input = setup.path("in");
    std::fs::write(&input, pattern(10)).unwrap_or_else(|e| panic!("{e}"));
    let sealed = setup.path("in.age");
    assert_ok(
        &encrypt(&setup, &[&first, &second], &input, &sealed),
        "age -e",
    );

    // Enter without a password. (age 1.1.1 keeps reading after a Ctrl-D at its prompt, so
    // an empty answer is how a person declines it on a terminal; without a terminal age
    // cannot ask, which `software::a_wrong_or_missing_password_is_a_clear_error` checks.)
    let out = setup.path("in.declined");
    let result = on_a_terminal(
        &setup,
        "",
        &[
            "-d",
            "-i",
            &identities.display().to_string(),
            "-o",
            &out.display().to_string(),
            &sealed.display().to_string(),
        ],
    );
    assert_eq!(result["prompted"], true, "{result}");
    assert_eq!(result["prompts"], 1, "asked once: {result}");
    assert_ne!(result["code"], 0, "{result}");
    let shown = result["shown"].as_str().unwrap_or("");
    let ours: Vec<&str> = shown
        .lines()
        .filter(|l| l.contains("keychain plugin"))
        .collect();
    assert_eq!(ours.len(), 1, "one line from the plugin: {result}");
    assert!(
        ours[0].contains("no password for the keychain keystore")
            && ours[0].contains("KEYCHAIN_PASSWORD_FILE or KEYCHAIN_PASSWORD")
            && !ours[0].contains("invalid input"),
        "says what happened and how else to give it: {result}"
    );
    assert!(!shown.to_lowercase().contains("panic"), "{result}");
    assert!(!out.exists());
}
