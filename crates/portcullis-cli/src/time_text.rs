//! Times and durations as people write and read them: `7d`, `2026-11-23 11:10 UTC`.

use portcullis::Timestamp;

/// Parses a duration: a whole number with a unit `s`, `m`, `h`, `d` or `w` (`7d`, `12h`),
/// or a bare number of seconds. Used as a clap value parser.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let bad = || format!("invalid duration {text:?}: use a number with s, m, h, d or w (e.g. 7d)");
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(bad()),
    };
    n.checked_mul(scale)
        .ok_or_else(|| format!("duration {text:?} is too long"))
}

/// Parses a key lifetime (`--ttl`): a duration of at least one second. Zero is a usage
/// error, as in the core ([`portcullis::IssueError::ZeroTtl`]): the key would be expired
/// when issued, and "never expires" is spelled by leaving `--ttl` out.
pub fn parse_ttl(text: &str) -> Result<u64, String> {
    match parse_duration(text)? {
        0 => Err(format!(
            "a lifetime of {:?} would issue a key that is already expired: use at least 1s, \
             or leave --ttl out for a key that never expires",
            text.trim()
        )),
        secs => Ok(secs),
    }
}

/// A duration for people: the largest exact unit (`7d`, `36h`, `90s`).
pub fn format_duration(secs: u64) -> String {
    for (unit, scale) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if secs >= scale && secs.is_multiple_of(scale) {
            return format!("{}{unit}", secs / scale);
        }
    }
    format!("{secs}s")
}

/// A timestamp as `YYYY-MM-DD HH:MM UTC`.
pub fn format_time(t: Timestamp) -> String {
    let secs = t.secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rest / 3_600,
        rest % 3_600 / 60
    )
}

/// An optional timestamp, `-` when absent.
pub fn format_opt(t: Option<Timestamp>) -> String {
    t.map_or_else(|| "-".to_owned(), format_time)
}

/// How long ago `then` was at `now`, for people: `just now`, `3 min ago`, `1 hour ago`,
/// `2 days ago`; `never` for `None`; a time after `now` (a `--now` in the past) as the time.
pub fn format_ago(then: Option<Timestamp>, now: Timestamp) -> String {
    let Some(then) = then else {
        return "never".to_owned();
    };
    if then > now {
        return format_time(then);
    }
    let secs = now.since(then);
    let plural = |n: u64, unit: &str| format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" });
    match secs {
        0..60 => "just now".to_owned(),
        60..3_600 => format!("{} min ago", secs / 60),
        3_600..86_400 => plural(secs / 3_600, "hour"),
        _ => plural(secs / 86_400, "day"),
    }
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("7d"), Ok(604_800));
        assert_eq!(parse_duration("12h"), Ok(43_200));
        assert_eq!(parse_duration("90"), Ok(90));
        assert_eq!(parse_duration("2w"), Ok(1_209_600));
        assert!(parse_duration("7 days").is_err());
        assert!(parse_duration("d").is_err());
        assert!(parse_duration("-1d").is_err());
        assert!(parse_duration("99999999999999999999w").is_err());
    }

    #[test]
    fn a_ttl_of_zero_is_refused_in_any_unit_and_one_second_is_accepted() {
        for zero in ["0", "0s", "0d", " 0w "] {
            let message = parse_ttl(zero).expect_err(zero);
            assert!(message.contains("already expired"), "{message}");
        }
        assert_eq!(parse_ttl("1"), Ok(1));
        assert_eq!(parse_ttl("90d"), Ok(7_776_000));
        assert!(parse_ttl("7 days").is_err());
    }

    #[test]
    fn says_how_long_ago() {
        let now = Timestamp(1_800_000_000);
        assert_eq!(format_ago(None, now), "never");
        assert_eq!(format_ago(Some(now), now), "just now");
        assert_eq!(format_ago(Some(Timestamp(now.0 - 59)), now), "just now");
        assert_eq!(format_ago(Some(Timestamp(now.0 - 180)), now), "3 min ago");
        assert_eq!(
            format_ago(Some(Timestamp(now.0 - 3_600)), now),
            "1 hour ago"
        );
        assert_eq!(
            format_ago(Some(Timestamp(now.0 - 7_300)), now),
            "2 hours ago"
        );
        assert_eq!(
            format_ago(Some(Timestamp(now.0 - 86_400)), now),
            "1 day ago"
        );
        assert_eq!(
            format_ago(Some(Timestamp(now.0 - 2 * 86_400 - 5)), now),
            "2 days ago"
        );
        assert_eq!(format_ago(Some(now.plus(60)), now), "2027-01-15 08:01 UTC");
    }

    #[test]
    fn formats_durations_and_times() {
        assert_eq!(format_duration(604_800), "7d");
        assert_eq!(format_duration(129_600), "36h");
        assert_eq!(format_duration(61), "61s");
        assert_eq!(format_time(Timestamp(0)), "1970-01-01 00:00 UTC");
        assert_eq!(
            format_time(Timestamp(1_800_000_000)),
            "2027-01-15 08:00 UTC"
        );
        assert_eq!(format_time(Timestamp(951_782_400)), "2000-02-29 00:00 UTC");
    }
}
