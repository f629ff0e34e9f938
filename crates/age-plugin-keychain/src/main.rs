//! `age-plugin-keychain`: started by age (or rage, sops, …) with `--age-plugin=STATE_MACHINE`
//! for `age1keychain1…` recipients and `AGE-PLUGIN-KEYCHAIN-1…` identities.

#![forbid(unsafe_code)]

use std::process::ExitCode;

const USAGE: &str = "\
age-plugin-keychain: an age plugin for keychain keys (software keystore or AWS KMS).

age runs this program itself. Make a recipient and an identity with
    keychain age recipient NAME     (prints age1keychain1...)
    keychain age identity NAME      (prints AGE-PLUGIN-KEYCHAIN-1...)
then encrypt with `age -r age1keychain1... -o FILE.age FILE` and decrypt with
`age -d -i IDENTITY_FILE FILE.age`. See docs/AGE.md.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let state_machine = match args.as_slice() {
        [one] => one.strip_prefix("--age-plugin=").map(str::to_string),
        [flag, value] if flag == "--age-plugin" => Some(value.clone()),
        [] => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => None,
    };
    let Some(state_machine) = state_machine else {
        if args.iter().any(|a| a == "--help" || a == "-h") {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        eprintln!(
            "age-plugin-keychain: expected --age-plugin=recipient-v1 or identity-v1 (run by age)"
        );
        return ExitCode::from(2);
    };
    match age_plugin_keychain::run(&state_machine) {
        Ok(()) => ExitCode::SUCCESS,
        // age hangs up as soon as it has what it needs, an error included, without answering
        // the plugin's last message: nothing is left to report, so this is a normal end.
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::UnexpectedEof
            ) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("age-plugin-keychain: {e}");
            ExitCode::from(1)
        }
    }
}
