//! RFC 3339 timestamps as Kubernetes writes them (UTC, whole seconds), and
//! parsed as Go's `time.Parse(time.RFC3339, …)` accepts them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `2026-11-23T06:08:23Z` (times before 1970 read as the epoch).
pub fn rfc3339(t: SystemTime) -> String {
    rfc3339_unix(t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs() as i64)
}

/// `2026-11-23T06:08:23Z` for a time in seconds since the epoch; any date from year
/// 0 to 9999 prints as itself (Go's zero time is `0001-01-01T00:00:00Z`).
pub fn rfc3339_unix(secs: i64) -> String {
    let (days, secs_of_day) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", secs_of_day / 3600, secs_of_day / 60 % 60, secs_of_day % 60)
}

pub fn now() -> String {
    rfc3339(SystemTime::now())
}

/// Seconds since the epoch, now.
pub fn unix_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Nanoseconds since the epoch, now.
pub fn unix_nanos() -> i128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i128).unwrap_or(0)
}

/// Days since 1970-01-01 → (year, month, day), after Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Parses a Go duration as Flux and External Secrets specs write them: `1h30m`,
/// `15s`, `500ms`, `0`, `1.5h` (units ns, us, µs, ms, s, m, h; no sign).
pub fn parse_go_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("time: invalid duration {s:?}");
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = s;
    let mut total = 0f64;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(|| format!("time: missing unit in duration {s:?}"))?;
        let number: f64 = rest[..number_len].parse().map_err(|_| bad())?;
        rest = &rest[number_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => return Err(format!("time: missing unit in duration {s:?}")),
            unit => return Err(format!("time: unknown unit {unit:?} in duration {s:?}")),
        };
        rest = &rest[unit_len..];
        total += number * seconds_per_unit;
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

/// Parses an RFC 3339 timestamp to seconds since the epoch (fractional seconds are
/// dropped, i.e. rounded down). Accepts exactly what [`parse_rfc3339_nanos`] accepts.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    i64::try_from(parse_rfc3339_nanos(s)?.div_euclid(NANOS_PER_SECOND)).ok()
}

/// Parses an RFC 3339 timestamp as Go's `time.Parse(time.RFC3339, s)` accepts it, to
/// nanoseconds since the epoch: `YYYY-MM-DDTHH:MM:SS`, optional fractional seconds
/// (`.` or `,`, digits past the ninth ignored), then `Z` or `±HH:MM`. Dates and times
/// out of range (`02-30`, `24:00:00`, a leap second) are rejected, as Go rejects them.
pub fn parse_rfc3339_nanos(s: &str) -> Option<i128> {
    let b = s.as_bytes();
    let number = |at: usize, len: usize| -> Option<i64> {
        let digits = b.get(at..at + len)?;
        digits.iter().try_fold(0i64, |n, &d| d.is_ascii_digit().then(|| n * 10 + i64::from(d - b'0')))
    };
    let expect = |at: usize, c: u8| b.get(at) == Some(&c);
    if !(expect(4, b'-') && expect(7, b'-') && expect(10, b'T') && expect(13, b':') && expect(16, b':')) {
        return None;
    }
    let (year, month, day) = (number(0, 4)?, number(5, 2)?, number(8, 2)?);
    let (hour, minute, second) = (number(11, 2)?, number(14, 2)?, number(17, 2)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }

    let mut at = 19;
    let mut nanos: i128 = 0;
    if matches!(b.get(at), Some(b'.' | b',')) {
        at += 1;
        let start = at;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        if at == start {
            return None;
        }
        let digits = &b[start..at.min(start + 9)];
        let value = digits.iter().fold(0i128, |n, &d| n * 10 + i128::from(d - b'0'));
        nanos = value * 10i128.pow(9 - digits.len() as u32);
    }

    let offset_secs = match b.get(at)? {
        b'Z' if b.len() == at + 1 => 0,
        sign @ (b'+' | b'-') if b.len() == at + 6 && expect(at + 3, b':') => {
            let (h, m) = (number(at + 1, 2)?, number(at + 4, 2)?);
            if h > 23 || m > 59 {
                return None;
            }
            let offset = h * 3600 + m * 60;
            if *sign == b'-' { -offset } else { offset }
        }
        _ => return None,
    };

    // month and day are checked above, so the casts cannot truncate.
    let days = days_from_civil(year, month as u32, day as u32);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    Some(i128::from(secs) * NANOS_PER_SECOND + nanos)
}

const NANOS_PER_SECOND: i128 = 1_000_000_000;

fn days_in_month(year: i64, month: i64) -> i64 {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A UTC instant's calendar fields.
pub struct Calendar {
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    /// 0 is Sunday.
    pub weekday: u32,
}

pub fn calendar(secs: i64) -> Calendar {
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (_, month, day) = civil_from_days(days);
    // 1970-01-01 was a Thursday.
    let weekday = (days + 4).rem_euclid(7) as u32;
    Calendar { month, day, hour: (of_day / 3600) as u32, minute: (of_day / 60 % 60) as u32, weekday }
}

#[cfg(test)]
mod tests {
    #[test]
    fn go_durations_parse_as_go_parses_them() {
        assert_eq!(parse_go_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("15s"), Ok(Duration::from_secs(15)));
        assert_eq!(parse_go_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_go_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("0"), Ok(Duration::ZERO));
        assert!(parse_go_duration("").is_err());
        assert!(parse_go_duration("10").unwrap_err().contains("missing unit"));
        assert!(parse_go_duration("5d").unwrap_err().contains("unknown unit \"d\""));
        assert!(parse_go_duration("-5s").is_err());
        assert!(parse_go_duration("1..2s").is_err());
    }

    use super::*;

    #[test]
    fn formats_and_parses_the_same_instant() {
        let t = UNIX_EPOCH + Duration::from_secs(1_795_414_103);
        let s = rfc3339(t);
        assert_eq!(s, "2026-11-23T06:08:23Z");
        assert_eq!(parse_rfc3339(&s), Some(1_795_414_103));
        assert_eq!(parse_rfc3339("2026-11-23T07:08:23.5+01:00"), Some(1_795_414_103));
        assert_eq!(parse_rfc3339("not a time"), None);
        assert_eq!(parse_rfc3339("2026-13-23T07:08:23Z"), None);
    }

    #[test]
    fn rfc3339_parses_like_go() {
        const NANOS: i128 = NANOS_PER_SECOND;
        assert_eq!(parse_rfc3339_nanos("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339_nanos("2024-02-29T23:59:59.5Z"), Some(1_709_251_199 * NANOS + 500_000_000));
        assert_eq!(parse_rfc3339_nanos("2024-03-01T01:00:00+01:00"), parse_rfc3339_nanos("2024-03-01T00:00:00Z"));
        assert_eq!(parse_rfc3339_nanos("2024-03-01T00:00:00-02:30"), parse_rfc3339_nanos("2024-03-01T02:30:00Z"));
        assert_eq!(parse_rfc3339_nanos("2024-03-01T00:00:00.1234567891Z"), Some(1_709_251_200 * NANOS + 123_456_789));
        assert_eq!(parse_rfc3339_nanos("2024-03-01T00:00:00,25Z"), Some(1_709_251_200 * NANOS + 250_000_000));
        assert_eq!(parse_rfc3339_nanos("1969-12-31T23:59:59Z"), Some(-NANOS));
        // Seconds round down, before 1970 too.
        assert_eq!(parse_rfc3339("2024-02-29T23:59:59.999Z"), Some(1_709_251_199));
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59.5Z"), Some(-1));
        for bad in [
            "",
            "2024-02-30T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-01-01t00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:60Z",
            "2024-01-01T00:00:00",
            "2024-01-01T00:00:00z",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00Z ",
            "2024-01-01T00:00:00+0100",
            "2024-1-01T00:00:00Z",
            "24-01-01T00:00:00Z",
            "2024-01-01 00:00:00Z",
            "２024-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339_nanos(bad), None, "{bad:?}");
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn rfc3339_formats_round_trip() {
        for s in
            ["1970-01-01T00:00:00Z", "2000-02-29T12:34:56Z", "2025-06-01T12:00:00Z", "1969-07-20T20:17:40Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"]
        {
            assert_eq!(rfc3339_unix(parse_rfc3339(s).expect("valid")), s);
        }
        assert_eq!(rfc3339_unix(-62_135_596_800), "0001-01-01T00:00:00Z");
    }
}
