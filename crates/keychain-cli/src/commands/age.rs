//! `keychain age recipient` and `keychain age identity`: the strings age takes for a key,
//! encoded by the plugin crate (one encoding for the plugin and the command line).

use age_plugin_keychain::{identity_for, recipient_for};
use keychain::Result;
use serde_json::json;

use super::{Context, Outcome};
use crate::cli::AgeCommand;
use crate::files::{self, Mode};

/// `keychain age …`.
pub async fn run(ctx: &Context, command: AgeCommand) -> Result<Outcome> {
    let (kind, args, line) = match command {
        AgeCommand::Recipient(args) => {
            let line = recipient_for(&ctx.keychain, &ctx.backend, &args.name)
                .await?
                .encode()?;
            ("recipient", args, line)
        }
        AgeCommand::Identity(args) => {
            let line = identity_for(&ctx.keychain, &ctx.backend, &args.name)
                .await?
                .encode()?;
            ("identity", args, line)
        }
    };
    if let Some(out) = &args.out {
        files::write(out, format!("{line}\n").as_bytes(), Mode::Private)?;
    }
    if ctx.out.is_json() {
        ctx.out.json_value(&json!({
            "name": args.name,
            kind: line,
            "out": args.out.as_ref().map(|p| p.display().to_string()),
        }))?;
    } else if args.out.is_none() {
        ctx.out.text(&line)?;
    }
    Ok(Outcome::Success)
}
