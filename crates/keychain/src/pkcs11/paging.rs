//! Pages of `list_keys` over a token's keys.
//!
//! A token has no stable unique key for its objects: keys made by other tools may share a
//! `CKA_ID` (twins made with one `--id`) or have none at all, and object handles are only
//! valid in one process. So the listing is sorted by everything we show of a key (id, name,
//! spec, usage) and a marker names the last key of a page by those fields *and* its
//! position among the keys that show the same fields. Keys that show the same fields cannot
//! be told apart by the caller either, so counting them is enough for every key to be
//! listed exactly once across pages.
//!
//! The marker is opaque text: the five parts hex-encoded and joined by `.`.

use std::cmp::Ordering;

use crate::key::{KeyInfo, Page};
use crate::{Error, Result};

/// What orders the listing: the fields of a key as the caller sees them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SortKey {
    id: String,
    name: String,
    spec: String,
    usage: String,
}

impl SortKey {
    fn of(info: &KeyInfo) -> SortKey {
        SortKey {
            id: info.key_id.clone(),
            name: info.name.clone().unwrap_or_default(),
            spec: info.spec.to_string(),
            usage: info.usage.to_string(),
        }
    }
}

/// A parsed marker: the last key of the previous page and how many keys before it in the
/// listing show the same fields.
struct Marker {
    key: SortKey,
    ordinal: usize,
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<String> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let bytes = (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

impl Marker {
    fn encode(&self) -> String {
        format!(
            "{}.{}.{}.{}.{}",
            hex(&self.key.id),
            hex(&self.key.name),
            hex(&self.key.spec),
            hex(&self.key.usage),
            self.ordinal
        )
    }

    fn parse(marker: &str) -> Result<Marker> {
        let bad = || {
            Error::invalid_input(
                "the page marker is not one this backend gave (pass next_marker unchanged)",
            )
        };
        let parts: Vec<&str> = marker.split('.').collect();
        let [id, name, spec, usage, ordinal] = parts.as_slice() else {
            return Err(bad());
        };
        let ordinal = (ordinal.len() <= 10 && ordinal.bytes().all(|b| b.is_ascii_digit()))
            .then(|| ordinal.parse::<usize>().ok())
            .flatten()
            .ok_or_else(bad)?;
        Ok(Marker {
            key: SortKey {
                id: unhex(id).ok_or_else(bad)?,
                name: unhex(name).ok_or_else(bad)?,
                spec: unhex(spec).ok_or_else(bad)?,
                usage: unhex(usage).ok_or_else(bad)?,
            },
            ordinal,
        })
    }
}

/// One page of `all` (in any order): at most `limit` keys after `marker`.
pub(crate) fn page(
    mut all: Vec<KeyInfo>,
    marker: Option<&str>,
    limit: usize,
) -> Result<Page<KeyInfo>> {
    let mut keyed: Vec<(SortKey, KeyInfo)> = all.drain(..).map(|k| (SortKey::of(&k), k)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    let start = match marker {
        None => 0,
        Some(m) => {
            let m = Marker::parse(m)?;
            let before = keyed.partition_point(|(k, _)| *k < m.key);
            let equal = keyed[before..]
                .iter()
                .take_while(|(k, _)| k.cmp(&m.key) == Ordering::Equal)
                .count();
            // Past the marker's own key: the keys equal to it up to and including its
            // position. If some of them went away meanwhile, we stop at the group's end.
            before + equal.min(m.ordinal.saturating_add(1))
        }
    };
    let end = start.saturating_add(limit).min(keyed.len());
    let next_marker = if end < keyed.len() && end > start {
        let last = &keyed[end - 1].0;
        let first_equal = keyed[..end].partition_point(|(k, _)| k < last);
        Some(
            Marker {
                key: last.clone(),
                ordinal: end - 1 - first_equal,
            }
            .encode(),
        )
    } else {
        None
    };
    let items = keyed
        .drain(start.min(end)..end)
        .map(|(_, info)| info)
        .collect();
    Ok(Page { items, next_marker })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{KeySpec, KeyUsage};

    fn key(id: &str, name: Option<&str>) -> KeyInfo {
        let mut k = KeyInfo::new(id, KeySpec::EccNistP256, KeyUsage::SignVerify);
        k.name = name.map(str::to_string);
        k
    }

    fn walk(all: &[KeyInfo], limit: usize) -> Vec<(String, Option<String>)> {
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        for _ in 0..1000 {
            let p = page(all.to_vec(), marker.as_deref(), limit).unwrap_or_else(|e| panic!("{e}"));
            out.extend(p.items.into_iter().map(|k| (k.key_id, k.name)));
            match p.next_marker {
                Some(m) => marker = Some(m),
                None => return out,
            }
        }
        panic!("the listing never ends")
    }

    #[test]
    fn shared_and_empty_ids_are_each_listed_once() {
        let all = vec![
            key("0c0c", Some("twin-a")),
            key("", Some("no-id-1")),
            key("0c0c", Some("twin-b")),
            key("", None),
            key("", None),
            key("0c0c", Some("twin-a")),
            key("", Some("no-id-2")),
            key("01", Some("one")),
        ];
        let mut expected: Vec<_> = all
            .iter()
            .map(|k| (k.key_id.clone(), k.name.clone()))
            .collect();
        expected.sort();
        for limit in 1..=9 {
            let mut got = walk(&all, limit);
            got.sort();
            assert_eq!(got, expected, "pages of {limit}");
        }
    }

    #[test]
    fn a_bad_marker_is_refused() {
        for m in [
            "",
            "0c0c",
            "zz.00.00.00.0",
            "00.00.00.00.x",
            "00.00.00.00.1.2",
        ] {
            assert!(page(vec![key("01", None)], Some(m), 2).is_err(), "{m:?}");
        }
    }
}
