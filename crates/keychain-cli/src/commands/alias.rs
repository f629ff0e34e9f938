//! `keychain key alias …`: aliases are extra names for keys.

use keychain::{AliasInfo, Result};
use serde_json::{Value, json};

use super::{Context, Outcome};
use crate::cli::AliasCommand;
use crate::output::field;

/// `alias/NAME` for NAME or `alias/NAME`.
fn full(alias: &str) -> String {
    if alias.starts_with("alias/") {
        alias.to_string()
    } else {
        format!("alias/{alias}")
    }
}

/// Runs an `alias` subcommand.
pub async fn run(ctx: &Context, cmd: AliasCommand) -> Result<Outcome> {
    let backend = ctx.keychain.backend();
    match cmd {
        AliasCommand::Create(a) => {
            backend
                .create_alias(&a.alias, &ctx.key_ref(&a.name)?)
                .await?;
            pointed(ctx, &a.alias, &a.name).await?;
        }
        AliasCommand::Update(a) => {
            backend
                .update_alias(&a.alias, &ctx.key_ref(&a.name)?)
                .await?;
            pointed(ctx, &a.alias, &a.name).await?;
        }
        AliasCommand::Delete(a) => {
            backend.delete_alias(&a.alias).await?;
            let alias = full(&a.alias);
            ctx.out.emit(
                &format!("{alias}: deleted"),
                &json!({ "alias": alias, "deleted": true }),
            )?;
        }
        AliasCommand::List(args) => {
            let key = args.name.as_deref().map(|n| ctx.key_ref(n)).transpose()?;
            let aliases = backend.list_aliases(key.as_ref()).await?;
            let human: String = aliases
                .iter()
                .map(|a| {
                    format!(
                        "{}  {}\n",
                        field(&a.alias),
                        field(a.key_id.as_deref().unwrap_or("-"))
                    )
                })
                .collect();
            let value =
                json!({ "aliases": aliases.iter().map(alias_json).collect::<Vec<Value>>() });
            ctx.out.emit(&human, &value)?;
        }
    }
    Ok(Outcome::Success)
}

fn alias_json(a: &AliasInfo) -> Value {
    json!({ "alias": a.alias, "key_id": a.key_id })
}

/// Prints where an alias points after it was created or updated.
async fn pointed(ctx: &Context, alias: &str, name: &str) -> Result<()> {
    let info = ctx.keychain.describe(name).await?;
    let alias = full(alias);
    ctx.out.emit(
        &format!("{alias} -> {}", info.key_id),
        &json!({ "alias": alias, "key_id": info.key_id }),
    )
}
