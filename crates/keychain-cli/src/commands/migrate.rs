//! `keychain migrate`: a software key moved to AWS KMS or a PKCS#11 token under its name,
//! with proof. The work is `keychain::migrate`; this opens the two backends and prints the
//! report.

use keychain::awskms::{AwsKmsBackend, config_from_parsed};
use keychain::migrate::{Destination, MigrateOptions, MigrationMethod, MigrationReport, migrate};
use keychain::pkcs11::Pkcs11Backend;
use keychain::software::{OpenMode, SoftwareBackend};
use keychain::{Backend, BackendUri, Error, Result};
use serde_json::json;

use super::Outcome;
use crate::cli::MigrateArgs;
use crate::output::{Output, key_json};
use crate::password;

/// Runs `keychain migrate`.
pub async fn run(
    out: &Output,
    passwords: &password::Source,
    aws: &super::AwsOptions,
    args: MigrateArgs,
) -> Result<Outcome> {
    // Both URIs go through the library's one parser: every component is checked, and the
    // scheme decides which side they may be on.
    let Some(from_config) = super::software_config(&args.from, passwords, OpenMode::Open)? else {
        return Err(Error::invalid_input(
            "--from: migrate moves keys out of a software keystore (software:PATH)",
        ));
    };
    let to_uri = match aws.apply(&args.to)? {
        to @ (BackendUri::AwsKms(_) | BackendUri::Pkcs11(_)) => to,
        _ => {
            return Err(Error::invalid_input(
                "--to: migrate moves keys into AWS KMS (awskms, awskms://HOST:PORT/?region=R, \
                 awskms:?endpoint=URL&region=R) or onto a PKCS#11 token \
                 (pkcs11:token=LABEL?module-path=PATH)",
            ));
        }
    };
    let from = SoftwareBackend::open(from_config).await?;
    let (to, place): (Box<dyn Destination>, &str) = match to_uri {
        BackendUri::Pkcs11(p) => (Box::new(Pkcs11Backend::open(p).await?), "the PKCS#11 token"),
        BackendUri::AwsKms(a) => (
            Box::new(AwsKmsBackend::new(config_from_parsed(a)?).await?),
            "AWS KMS",
        ),
        _ => return Err(Error::invalid_input("--to: not a migration destination")),
    };
    let to = to.as_ref();
    let mut options = MigrateOptions::new().generate(args.generate);
    if let Some(d) = args.description {
        options = options.description(d);
    }
    let result = migrate(&from, to, &args.name, &options).await;
    // Release both backends whatever happened; the migration's own error is the one to report.
    let closed = (from.close().await, to.close().await);
    let report = result?;
    closed.0?;
    closed.1?;
    out.emit(&human(&report, place), &report_json(&report))?;
    Ok(Outcome::Success)
}

fn report_json(r: &MigrationReport) -> serde_json::Value {
    json!({
        "name": r.name,
        "alias": format!("alias/{}", r.name),
        "method": r.method.as_str(),
        "source": key_json(&r.source),
        "destination": key_json(&r.destination),
        "proofs": r.proofs.iter().map(|p| json!({"check": p.check, "detail": p.detail})).collect::<Vec<_>>(),
        "notes": r.notes,
        "follow_up": r.follow_up,
    })
}

fn human(r: &MigrationReport, place: &str) -> String {
    let d = &r.destination;
    let how = match r.method {
        MigrationMethod::Imported => {
            format!("the material of software key {} imported", r.source.key_id)
        }
        MigrationMethod::Generated => format!(
            "a NEW key generated in {place} (generate-and-switch) to replace software key {}",
            r.source.key_id
        ),
    };
    let mut s = format!(
        "migrated alias/{} to {place}: key {} ({}, {}), {how}\n",
        r.name, d.key_id, d.spec, d.usage
    );
    s.push_str("proven:\n");
    for p in &r.proofs {
        s.push_str(&format!("  ok  {}\n", p.detail));
    }
    for n in &r.notes {
        s.push_str(&format!("note: {n}\n"));
    }
    if !r.follow_up.is_empty() {
        s.push_str("to do:\n");
        for f in &r.follow_up {
            s.push_str(&format!("  - {f}\n"));
        }
    }
    s
}
