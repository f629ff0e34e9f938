//! `keychain key …`: creating, listing, showing and managing keys (state, rotation, tags).
//! Every command that changes a key prints the key as it is afterwards.

use keychain::{CreateKeyRequest, Error, KeyInfo, KeySpec, KeyUsage, PageRequest, Result};
use serde_json::{Value, json};

use super::{Context, Outcome, alias};
use crate::cli::{
    CreateArgs, DeleteArgs, KeyCommand, ListArgs, RotationCommand, RotationEnableArgs, TagArgs,
    UntagArgs,
};
use crate::output::{field, key_details, key_json, key_row, primary_alias, rfc3339, state_name};
use crate::parse;

/// Runs a `key` subcommand.
pub async fn run(ctx: &Context, cmd: KeyCommand) -> Result<Outcome> {
    match cmd {
        KeyCommand::Create(args) => create(ctx, args).await,
        KeyCommand::List(args) => list(ctx, args).await,
        KeyCommand::Show(k) => show(ctx, &k.name).await,
        KeyCommand::Delete(args) => delete(ctx, args).await,
        KeyCommand::CancelDeletion(k) => {
            let key = ctx.key_ref(&k.name)?;
            ctx.keychain.backend().cancel_key_deletion(&key).await?;
            changed(ctx, &k.name, "deletion cancelled; enable the key to use it").await
        }
        KeyCommand::Enable(k) => {
            let key = ctx.key_ref(&k.name)?;
            ctx.keychain.backend().enable_key(&key).await?;
            changed(ctx, &k.name, "enabled").await
        }
        KeyCommand::Disable(k) => {
            let key = ctx.key_ref(&k.name)?;
            ctx.keychain.backend().disable_key(&key).await?;
            changed(ctx, &k.name, "disabled").await
        }
        KeyCommand::Rotate(k) => {
            let key = ctx.key_ref(&k.name)?;
            ctx.keychain.backend().rotate_key(&key).await?;
            changed(ctx, &k.name, "rotated").await
        }
        KeyCommand::Rotation(cmd) => rotation(ctx, cmd).await,
        KeyCommand::Tag(args) => tag(ctx, args).await,
        KeyCommand::Untag(args) => untag(ctx, args).await,
        KeyCommand::Alias(cmd) => alias::run(ctx, cmd).await,
    }
}

async fn create(ctx: &Context, args: CreateArgs) -> Result<Outcome> {
    let spec: KeySpec = args.spec.parse()?;
    let mut request = CreateKeyRequest::new(spec).name(&args.name);
    if let Some(usage) = &args.usage {
        request = request.usage(usage.parse::<KeyUsage>()?);
    }
    if let Some(description) = args.description {
        request = request.description(description);
    }
    for (k, v) in parse::pairs(&args.tags, "tag")? {
        request = request.tag(k, v);
    }
    let info = ctx.keychain.create_key(&request).await?;
    let human = format!(
        "key id: {}\nalias:  {}\nspec:   {}\nusage:  {}",
        info.key_id,
        primary_alias(&info).unwrap_or_else(|| "-".into()),
        info.spec,
        info.usage
    );
    ctx.out.emit(&human, &key_json(&info))?;
    Ok(Outcome::Success)
}

async fn list(ctx: &Context, args: ListArgs) -> Result<Outcome> {
    let page_size = args.page_size.or(args.limit.map(|l| l.clamp(1, 1000)));
    let wanted = args.limit.map(|l| l as usize);
    let mut keys: Vec<KeyInfo> = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        if wanted.is_some_and(|w| keys.len() >= w) {
            break;
        }
        let request = PageRequest {
            limit: page_size,
            marker: marker.clone(),
        };
        let page = ctx.keychain.backend().list_keys(&request).await?;
        keys.extend(page.items);
        match page.next_marker {
            None => break,
            Some(next) if marker.as_ref() == Some(&next) => {
                return Err(Error::invalid_input(format!(
                    "the backend returned the same page marker {next:?} twice; stopping"
                )));
            }
            Some(next) => marker = Some(next),
        }
    }
    if let Some(w) = wanted {
        keys.truncate(w);
    }
    let human: String = keys.iter().map(|k| key_row(k) + "\n").collect();
    let value = json!({ "keys": keys.iter().map(key_json).collect::<Vec<Value>>() });
    ctx.out.emit(&human, &value)?;
    Ok(Outcome::Success)
}

async fn show(ctx: &Context, name: &str) -> Result<Outcome> {
    let info = ctx.keychain.describe(name).await?;
    ctx.out.emit(&key_details(&info), &key_json(&info))?;
    Ok(Outcome::Success)
}

/// Prints a key after a change: one line for people, the key object in JSON.
async fn changed(ctx: &Context, name: &str, what: &str) -> Result<Outcome> {
    let info = ctx.keychain.describe(name).await?;
    let mut human = format!(
        "{} ({}): {what}; state {}",
        field(&info.display_name()),
        field(&info.key_id),
        state_name(info.state)
    );
    if let Some(when) = info.deletion_date {
        human.push_str(&format!(", deletion on {}", rfc3339(when)));
    }
    if info.versions > 1 {
        human.push_str(&format!(", {} key versions", info.versions));
    }
    ctx.out.emit(&human, &key_json(&info))?;
    Ok(Outcome::Success)
}

async fn delete(ctx: &Context, args: DeleteArgs) -> Result<Outcome> {
    let key = ctx.key_ref(&args.name)?;
    if args.now {
        let keychain::BackendUri::Pkcs11(uri) = &ctx.backend else {
            return Err(keychain::Error::invalid_input(
                "--now is for PKCS#11 tokens, which have no deletion window; this backend \
                 deletes after --pending-days (7 to 30)",
            ));
        };
        let info = ctx.keychain.describe(&args.name).await?;
        keychain::pkcs11::Pkcs11Backend::open(uri.clone())
            .await?
            .destroy_key(&key)
            .await?;
        // The JSON is the key as it was (the schema's key object); the line says it is gone.
        let json = key_json(&info);
        let human = format!(
            "{} ({}): destroyed",
            field(&info.display_name()),
            field(&info.key_id)
        );
        ctx.out.emit(&human, &json)?;
        return Ok(Outcome::Success);
    }
    let schedule = ctx
        .keychain
        .backend()
        .schedule_key_deletion(&key, args.pending_days)
        .await?;
    // No date: a multi-Region primary waits for its replicas to be deleted first.
    let what = if schedule.deletion_date.is_some() {
        "deletion scheduled"
    } else {
        "deletion scheduled once its replicas are deleted (no date yet)"
    };
    changed(ctx, &args.name, what).await
}

async fn rotation(ctx: &Context, cmd: RotationCommand) -> Result<Outcome> {
    let backend = ctx.keychain.backend();
    let name = match cmd {
        RotationCommand::Enable(RotationEnableArgs { name, period_days }) => {
            backend
                .enable_key_rotation(&ctx.key_ref(&name)?, period_days)
                .await?;
            name
        }
        RotationCommand::Disable(k) => {
            backend.disable_key_rotation(&ctx.key_ref(&k.name)?).await?;
            k.name
        }
        RotationCommand::Status(k) => k.name,
        RotationCommand::List(k) => return rotation_list(ctx, &k.name).await,
    };
    let key = ctx.key_ref(&name)?;
    let status = backend.key_rotation_status(&key).await?;
    let info = ctx.keychain.describe(&name).await?;
    let human = if status.enabled {
        let mut s = String::from("automatic rotation: enabled");
        if let Some(days) = status.period_days {
            s.push_str(&format!(", every {days} days"));
        }
        if let Some(next) = status.next_rotation {
            s.push_str(&format!(", next {}", rfc3339(next)));
        }
        s
    } else {
        "automatic rotation: disabled".to_string()
    };
    let value = json!({
        "key_id": info.key_id,
        "enabled": status.enabled,
        "period_days": status.period_days,
        "next_rotation": status.next_rotation.map(rfc3339),
    });
    ctx.out.emit(&human, &value)?;
    Ok(Outcome::Success)
}

/// `key rotation list`: one line per key material, oldest first.
async fn rotation_list(ctx: &Context, name: &str) -> Result<Outcome> {
    let key = ctx.key_ref(name)?;
    let materials = ctx.keychain.backend().list_key_materials(&key).await?;
    let info = ctx.keychain.describe(name).await?;
    let mut human = String::new();
    for m in &materials {
        let made = match (m.rotation_date, m.rotation_type) {
            (None, None) if m.version == 1 => "first material".to_string(),
            (date, kind) => format!(
                "rotated {} ({})",
                kind.map_or("how unknown", |k| match k {
                    keychain::RotationType::Automatic => "automatic",
                    keychain::RotationType::OnDemand => "on demand",
                }),
                date.map_or_else(|| "date unknown".to_string(), rfc3339)
            ),
        };
        let current = if m.current { "  current" } else { "" };
        if !human.is_empty() {
            human.push('\n');
        }
        human.push_str(&format!(
            "v{}  {}  {made}{current}",
            m.version, m.material_id
        ));
    }
    let value = json!({
        "key_id": info.key_id,
        "materials": materials.iter().map(|m| json!({
            "version": m.version,
            "material_id": m.material_id,
            "current": m.current,
            "rotation_date": m.rotation_date.map(rfc3339),
            "rotation_type": m.rotation_type.map(|k| k.as_str()),
        })).collect::<Vec<_>>(),
    });
    ctx.out.emit(&human, &value)?;
    Ok(Outcome::Success)
}

async fn tag(ctx: &Context, args: TagArgs) -> Result<Outcome> {
    let tags = parse::pairs(&args.tags, "tag")?;
    let key = ctx.key_ref(&args.name)?;
    ctx.keychain.backend().tag_key(&key, &tags).await?;
    print_tags(ctx, &args.name).await
}

async fn untag(ctx: &Context, args: UntagArgs) -> Result<Outcome> {
    let key = ctx.key_ref(&args.name)?;
    ctx.keychain.backend().untag_key(&key, &args.keys).await?;
    print_tags(ctx, &args.name).await
}

async fn print_tags(ctx: &Context, name: &str) -> Result<Outcome> {
    let info = ctx.keychain.describe(name).await?;
    let tags: Vec<String> = info
        .tags
        .iter()
        .map(|(k, v)| format!("{}={}", field(k), field(v)))
        .collect();
    let human = format!(
        "{} tags: {}",
        field(&info.display_name()),
        if tags.is_empty() {
            "(none)".to_string()
        } else {
            tags.join(", ")
        }
    );
    ctx.out.emit(&human, &key_json(&info))?;
    Ok(Outcome::Success)
}
