//! Key management through the CLI: states, deletion, aliases, tags, rotation, listing.

use std::fs;

use serde_json::Value;

use crate::support::{Cli, arg};

fn ids(list: &Value) -> Vec<String> {
    list["keys"]
        .as_array()
        .expect("keys array")
        .iter()
        .map(|k| k["key_id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn states_disable_enable_delete_cancel() {
    let cli = Cli::new();
    let id = cli.create("api", "ECC_NIST_P256", &["--description", "the API signer"]);
    let msg = cli.file("msg", b"payload");
    let sign = || cli.run(["sign", "api", "--in", arg(&msg)]);

    let list = cli.json(["key", "list"]);
    assert!(ids(&list).contains(&id), "{list}");
    let key = list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key_id"] == id.as_str())
        .unwrap();
    assert_eq!(key["alias"], "alias/api");
    assert_eq!(key["description"], "the API signer");
    assert_eq!(key["state"], "Enabled");

    let v = cli.json(["key", "disable", "api"]);
    assert_eq!(v["state"], "Disabled");
    assert_eq!(sign().code, 6);
    let v = cli.json(["key", "enable", "api"]);
    assert_eq!(v["state"], "Enabled");
    assert_eq!(sign().code, 0);

    let v = cli.json(["key", "delete", "api", "--pending-days", "7"]);
    assert_eq!(v["state"], "PendingDeletion");
    let show = cli.json(["key", "show", "api"]);
    assert_eq!(show["state"], "PendingDeletion");
    let when = show["deletion_date"].as_str().expect("deletion date");
    assert!(when.ends_with('Z') && when.len() == 20, "RFC 3339: {when}");
    let human = cli.ok(["key", "show", "api"]).text();
    assert!(human.contains("PendingDeletion"), "{human}");
    assert_eq!(sign().code, 6);

    let v = cli.json(["key", "cancel-deletion", "api"]);
    assert_eq!(v["state"], "Disabled");
    assert_eq!(v["deletion_date"], Value::Null);
    assert_eq!(sign().code, 6);
    cli.ok(["key", "enable", "api"]);
    assert_eq!(sign().code, 0);
}

#[test]
fn aliases_create_list_update_delete() {
    let cli = Cli::new();
    let a = cli.create("a", "p256", &[]);
    let b = cli.create("b", "p256", &[]);
    let msg = cli.file("msg", b"m");

    let v = cli.json(["key", "alias", "create", "current", "a"]);
    assert_eq!(v["alias"], "alias/current");
    assert_eq!(v["key_id"], a.as_str());
    cli.fails(["key", "alias", "create", "current", "b"], 9);

    let all = cli.json(["key", "alias", "list"]);
    let pairs: Vec<(String, String)> = all["aliases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["alias"].as_str().unwrap().to_string(),
                x["key_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        pairs.contains(&("alias/current".into(), a.clone())),
        "{all}"
    );
    assert!(pairs.contains(&("alias/b".into(), b.clone())), "{all}");
    let of_b = cli.json(["key", "alias", "list", "b"]);
    assert_eq!(of_b["aliases"].as_array().unwrap().len(), 1, "{of_b}");

    // The alias names the key for every command.
    let sig = cli.path("sig");
    cli.ok([
        "sign",
        "alias/current",
        "--in",
        arg(&msg),
        "--out",
        arg(&sig),
    ]);
    cli.ok(["verify", "a", "--in", arg(&msg), "--signature", arg(&sig)]);

    let v = cli.json(["key", "alias", "update", "current", "b"]);
    assert_eq!(v["key_id"], b.as_str());
    assert_eq!(cli.json(["key", "show", "current"])["key_id"], b.as_str());

    cli.ok(["key", "alias", "delete", "current"]);
    cli.fails(["key", "show", "current"], 3);
    cli.fails(["key", "alias", "delete", "current"], 3);
    // The keys stay.
    assert_eq!(cli.json(["key", "show", "a"])["key_id"], a.as_str());
}

#[test]
fn tags_and_untags_show_in_json() {
    let cli = Cli::new();
    cli.create("k", "ed25519", &["--tag", "team=payments"]);
    let v = cli.json(["key", "show", "k"]);
    assert_eq!(v["tags"]["team"], "payments");

    cli.ok(["key", "tag", "k", "env=prod", "owner=ops=oncall"]);
    let v = cli.json(["key", "show", "k"]);
    assert_eq!(v["tags"]["env"], "prod");
    assert_eq!(v["tags"]["owner"], "ops=oncall", "values may contain '='");

    cli.ok(["key", "untag", "k", "team", "owner"]);
    let v = cli.json(["key", "show", "k"]);
    assert_eq!(
        v["tags"],
        serde_json::json!({"env": "prod"}),
        "only env is left"
    );
    cli.fails(["key", "tag", "k", "broken"], 4);
}

#[test]
fn rotation_keeps_old_ciphertexts_readable() {
    let cli = Cli::new();
    cli.create("data", "SYMMETRIC_DEFAULT", &[]);
    let pt = cli.file("pt", b"before rotation");
    let old_ct = cli.path("old.ct");
    cli.ok(["encrypt", "data", "--in", arg(&pt), "--out", arg(&old_ct)]);

    let v = cli.json(["key", "rotate", "data"]);
    assert_eq!(v["versions"], 2);

    let out = cli.path("out");
    cli.ok(["decrypt", "--in", arg(&old_ct), "--out", arg(&out)]);
    assert_eq!(fs::read(&out).unwrap(), b"before rotation");
    let new_ct = cli.path("new.ct");
    cli.ok(["encrypt", "data", "--in", arg(&pt), "--out", arg(&new_ct)]);
    assert_ne!(fs::read(&new_ct).unwrap(), fs::read(&old_ct).unwrap());
    cli.ok(["decrypt", "--in", arg(&new_ct), "--out", arg(&out)]);
    assert_eq!(fs::read(&out).unwrap(), b"before rotation");

    // The materials: the first, then the on-demand rotation's, which is current.
    let human = cli.ok(["key", "rotation", "list", "data"]).text();
    let lines: Vec<&str> = human.lines().collect();
    assert_eq!(lines.len(), 2, "{human}");
    assert!(
        lines[0].starts_with("v1  ") && lines[0].ends_with("  first material"),
        "{human}"
    );
    assert!(
        lines[1].starts_with("v2  ")
            && lines[1].contains("rotated on demand ")
            && lines[1].ends_with("  current"),
        "{human}"
    );

    // Asymmetric keys do not rotate: unsupported (10).
    cli.create("sig", "p256", &[]);
    cli.fails(["key", "rotate", "sig"], 10);
    cli.fails(["key", "rotation", "list", "sig"], 10);
}

#[test]
fn automatic_rotation_enable_status_disable() {
    let cli = Cli::new();
    cli.create("data", "aes-256", &[]);
    let v = cli.json(["key", "rotation", "status", "data"]);
    assert_eq!(v["enabled"], false);

    let v = cli.json(["key", "rotation", "enable", "data", "--period-days", "90"]);
    assert_eq!(v["enabled"], true);
    assert_eq!(v["period_days"], 90);
    assert!(v["next_rotation"].as_str().is_some(), "{v}");
    let v = cli.json(["key", "rotation", "status", "data"]);
    assert_eq!(v["enabled"], true);
    let human = cli.ok(["key", "rotation", "status", "data"]).text();
    assert!(
        human.contains("enabled") && human.contains("90 days"),
        "{human}"
    );

    cli.fails(
        ["key", "rotation", "enable", "data", "--period-days", "30"],
        4,
    );

    let v = cli.json(["key", "rotation", "disable", "data"]);
    assert_eq!(v["enabled"], false);
    assert_eq!(
        cli.json(["key", "rotation", "status", "data"])["enabled"],
        false
    );
}

#[test]
fn list_walks_every_page_and_honours_limit() {
    let cli = Cli::new();
    let mut created: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|n| cli.create(n, "p256", &[]))
        .collect();
    created.sort();

    let mut all = ids(&cli.json(["key", "list", "--page-size", "1"]));
    all.sort();
    assert_eq!(all, created, "pages of one key are all walked");

    let two = ids(&cli.json(["key", "list", "--limit", "2"]));
    assert_eq!(two.len(), 2);

    let human = cli.ok(["key", "list"]).text();
    assert_eq!(human.lines().count(), 3, "{human}");
    for n in ["alias/a", "alias/b", "alias/c"] {
        assert!(human.contains(n), "{human}");
    }

    cli.fails(["key", "list", "--page-size", "0"], 4);
}
