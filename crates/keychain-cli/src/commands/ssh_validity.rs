//! The validity and serial number arguments of `keychain ssh cert`.

use std::time::{SystemTime, UNIX_EPOCH};

use keychain::{Error, Result};

/// How far back a relative validity starts, for clocks a little behind ours.
const BACKDATE_SECS: u64 = 60;

/// The latest time a certificate can carry (OpenSSH's times are signed 64-bit seconds).
const LATEST: u64 = i64::MAX as u64;

fn bad(text: &str) -> Error {
    Error::invalid_input(format!(
        "--validity {:?}: give +N[smhdw] (e.g. +1h, +30d) or FROM:TO, each Unix seconds, \
         YYYYMMDD or YYYYMMDDHHMMSS (UTC), with FROM before TO",
        crate::output::field(text)
    ))
}

/// The days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// One end of `FROM:TO`: Unix seconds, `YYYYMMDD` or `YYYYMMDDHHMMSS` in UTC.
fn parse_time(text: &str, whole: &str) -> Result<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(whole));
    }
    let field = |range: std::ops::Range<usize>| -> i64 { text[range].parse::<i64>().unwrap_or(-1) };
    let (date, hms) = match text.len() {
        8 => ((field(0..4), field(4..6), field(6..8)), (0, 0, 0)),
        14 => (
            (field(0..4), field(4..6), field(6..8)),
            (field(8..10), field(10..12), field(12..14)),
        ),
        _ => {
            return text
                .parse::<u64>()
                .ok()
                .filter(|&t| t <= LATEST)
                .ok_or_else(|| bad(whole));
        }
    };
    let ((y, m, d), (hh, mm, ss)) = (date, hms);
    let days_in_month = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => return Err(bad(whole)),
    };
    if y < 1970 || !(1..=days_in_month).contains(&d) || hh > 23 || mm > 59 || ss > 59 {
        return Err(bad(whole));
    }
    let secs = days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss;
    u64::try_from(secs).map_err(|_| bad(whole))
}

/// `--validity`: `(valid_after, valid_before)` in Unix seconds. `+N[smhdw]` runs from a
/// minute before `now` to N after it; `FROM:TO` is absolute.
pub fn parse_validity(text: &str, now: SystemTime) -> Result<(u64, u64)> {
    let now = now
        .duration_since(UNIX_EPOCH)
        .map_err(|_| Error::invalid_input("the clock is before 1970"))?
        .as_secs();
    if let Some(span) = text.strip_prefix('+') {
        // The CLI's one duration parser (`--exp 1h` and the like); a span must be positive.
        let secs = crate::parse::duration_secs(span, "--validity").map_err(|_| bad(text))?;
        let until = u64::try_from(secs)
            .ok()
            .filter(|&s| s > 0 && !span.starts_with(['-', '+']) && span.trim() == span)
            .and_then(|s| now.checked_add(s))
            .filter(|&t| t <= LATEST)
            .ok_or_else(|| bad(text))?;
        return Ok((now.saturating_sub(BACKDATE_SECS), until));
    }
    let (from, to) = text.split_once(':').ok_or_else(|| bad(text))?;
    let (from, to) = (parse_time(from, text)?, parse_time(to, text)?);
    if from >= to {
        return Err(bad(text));
    }
    Ok((from, to))
}

/// `--serial`: a decimal number that fits the certificate's 64 bits.
pub fn parse_serial(text: &str) -> Result<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid_input(format!(
            "--serial {:?} is not a decimal number",
            crate::output::field(text)
        )));
    }
    text.parse::<u64>().map_err(|_| {
        Error::invalid_input(format!(
            "--serial {} is out of range (0 to {})",
            crate::output::field(text),
            u64::MAX
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn relative_validities_start_a_minute_ago() {
        assert_eq!(parse_validity("+1h", at(10_000)).unwrap(), (9_940, 13_600));
        assert_eq!(parse_validity("+2w", at(0)).unwrap(), (0, 1_209_600));
        assert_eq!(parse_validity("+90", at(100)).unwrap(), (40, 190));
    }

    #[test]
    fn absolute_validities_are_utc() {
        assert_eq!(
            parse_validity("20240101:20240102", at(0)).unwrap(),
            (1_704_067_200, 1_704_153_600)
        );
        assert_eq!(
            parse_validity("20240229123000:1800000000", at(0)).unwrap(),
            (1_709_209_800, 1_800_000_000)
        );
    }

    #[test]
    fn bad_validities_are_refused() {
        for text in [
            "",
            "+",
            "+0h",
            "1h",
            "+1y",
            "+-1h",
            "+99999999999999999999w",
            "+1h ",
            "20240230:20250101",
            "20240101",
            "20250101:20240101",
            "20240101:20240101",
            "2024-01-01:2025-01-01",
            "x:y",
            ":",
            "1:",
            "99999999999999999999:1",
            "20241301:20250101",
            "19690101:19700102",
            "+١h",
        ] {
            let err = parse_validity(text, at(1_000_000)).unwrap_err();
            assert!(matches!(err, Error::InvalidInput { .. }), "{text}: {err}");
        }
    }

    #[test]
    fn serials_fit_64_bits() {
        assert_eq!(parse_serial("0").unwrap(), 0);
        assert_eq!(parse_serial("18446744073709551615").unwrap(), u64::MAX);
        for text in ["18446744073709551616", "-1", "", "0x10", "1e3", " 1"] {
            assert!(parse_serial(text).is_err(), "{text}");
        }
    }
}
