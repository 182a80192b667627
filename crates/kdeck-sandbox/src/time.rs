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
/// `15s`, `500ms`, `0`, `1.5h`, `+5s` (units ns, us, µs, μs, ms, s, m, h), with Go's
/// `time.ParseDuration` rules and messages: the value is counted in whole
/// nanoseconds, and one over Go's maximum (`2562047h47m16.854775807s`, about 292
/// years) is an `invalid duration`, as Go refuses it. A negative duration, which Go
/// accepts, is refused too: there is no negative [`Duration`].
pub fn parse_go_duration(s: &str) -> Result<Duration, String> {
    let invalid = || format!("time: invalid duration {s:?}");
    let mut rest = s.strip_prefix('+').unwrap_or(s);
    if rest.starts_with('-') {
        return Err(invalid());
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        if !rest.starts_with(|c: char| c == '.' || c.is_ascii_digit()) {
            return Err(invalid());
        }
        let (whole, after) = leading_int(rest).ok_or_else(invalid)?;
        let has_whole = after.len() != rest.len();
        rest = after;
        let (mut fraction, mut scale, mut has_fraction) = (0u64, 1f64, false);
        if let Some(after_dot) = rest.strip_prefix('.') {
            let (f, sc, after) = leading_fraction(after_dot);
            (fraction, scale, has_fraction) = (f, sc, after.len() != after_dot.len());
            rest = after;
        }
        if !has_whole && !has_fraction {
            return Err(invalid());
        }
        // The unit runs to the next digit or dot, which are ASCII: the cut is on a
        // character boundary.
        let unit_len = rest.find(|c: char| c == '.' || c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let nanos_per_unit: u64 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(format!("time: missing unit in duration {s:?}")),
            unit => return Err(format!("time: unknown unit {unit:?} in duration {s:?}")),
        };
        let mut value = whole.checked_mul(nanos_per_unit).filter(|v| *v <= GO_MAX_NANOS).ok_or_else(invalid)?;
        if fraction > 0 {
            // As Go does: a float, exact to the nanosecond for fractions of an hour.
            value = value.checked_add((fraction as f64 * (nanos_per_unit as f64 / scale)) as u64).ok_or_else(invalid)?;
        }
        total = total.checked_add(value).filter(|t| *t <= GO_MAX_NANOS).ok_or_else(invalid)?;
    }
    Ok(Duration::from_nanos(total))
}

/// The longest duration Go has: `math.MaxInt64` nanoseconds.
const GO_MAX_NANOS: u64 = i64::MAX as u64;

/// The leading digits of `s` as a number, and what follows; None when the number
/// is over 2^63 (Go's `leadingInt`).
fn leading_int(s: &str) -> Option<(u64, &str)> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let mut x: u64 = 0;
    for d in s[..digits].bytes() {
        x = x.checked_mul(10)?.checked_add(u64::from(d - b'0')).filter(|x| *x <= 1 << 63)?;
    }
    Some((x, &s[digits..]))
}

/// The leading digits of a fraction: their value, the power of ten they are
/// over, and what follows. Digits past what 63 bits hold are dropped, not an
/// error (Go's `leadingFraction`).
fn leading_fraction(s: &str) -> (u64, f64, &str) {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let (mut x, mut scale, mut overflow) = (0u64, 1f64, false);
    for d in s[..digits].bytes() {
        if overflow {
            continue;
        }
        let y = if x > GO_MAX_NANOS / 10 { None } else { Some(x * 10 + u64::from(d - b'0')).filter(|y| *y <= 1 << 63) };
        match y {
            Some(y) => {
                x = y;
                scale *= 10.0;
            }
            None => overflow = true,
        }
    }
    (x, scale, &s[digits..])
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

    #[test]
    fn go_durations_are_exact_and_bounded_as_in_go() {
        let nanos = |s: &str| parse_go_duration(s).map(|d| d.as_nanos());
        assert_eq!(nanos("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(nanos("1h0.000000001s"), Ok(3_600_000_000_001), "exact to the nanosecond");
        assert_eq!(nanos("0.1s"), Ok(100_000_000));
        assert_eq!(nanos(".5s"), Ok(500_000_000));
        assert_eq!(nanos("1.s"), Ok(1_000_000_000));
        assert_eq!(nanos("2µs3μs"), Ok(5_000), "both micro signs");
        assert_eq!(nanos("+5s"), Ok(5_000_000_000));
        assert_eq!(nanos("+0"), Ok(0));
        assert_eq!(nanos("0s"), Ok(0));
        assert_eq!(nanos("1.00000000000000000000000000001s"), Ok(1_000_000_000), "fraction digits past 63 bits are dropped");
        // The largest duration Go has, written three ways, and one nanosecond more.
        assert_eq!(nanos("2562047h47m16.854775807s"), Ok(i64::MAX as u128));
        assert_eq!(nanos("9223372036854775807ns"), Ok(i64::MAX as u128));
        assert_eq!(nanos("9223372036s"), Ok(9_223_372_036_000_000_000));
        for over in [
            "2562047h47m16.854775808s",
            "9223372036854775808ns",
            "9223372036854775807s",
            "999999999999999999s",
            "9223372037s",
            "2562048h",
            "106751992d",
            "99999999999999999999999h",
            "5124095h",
            "2562047h2562047h",
        ] {
            let e = parse_go_duration(over).unwrap_err();
            assert!(e == format!("time: invalid duration {over:?}") || e.contains("unknown unit"), "{over}: {e}");
        }
        assert_eq!(parse_go_duration("9223372036854775807s").unwrap_err(), "time: invalid duration \"9223372036854775807s\"");
        for bad in [".s", "s", "1.2.3s", "-1s", "+-1s", "--1s", "1s-", " 1s", "1 s", "\u{0661}s", "\u{ff11}s"] {
            assert!(parse_go_duration(bad).is_err(), "{bad:?} must be refused");
        }
        assert_eq!(parse_go_duration("3x").unwrap_err(), "time: unknown unit \"x\" in duration \"3x\"");
        assert_eq!(parse_go_duration("3").unwrap_err(), "time: missing unit in duration \"3\"");
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
