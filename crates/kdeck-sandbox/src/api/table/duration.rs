//! Ages: the clock a table is rendered against and Go's `duration.HumanDuration`.
//!
//! Times are Unix nanoseconds in an `i128`; "unset" (Go's zero time) is `None`.

use std::time::{SystemTime, UNIX_EPOCH};

pub(super) const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// The clock a table is rendered against.
pub(super) struct Ctx {
    /// Unix time in nanoseconds.
    now: i128,
}

impl Ctx {
    pub(super) fn new(now: SystemTime) -> Self {
        Ctx { now: unix_nanos(now) }
    }

    /// translateTimestampSince: how long ago, or `<unknown>` for an unset time.
    pub(super) fn since(&self, t: Option<i128>) -> String {
        match t {
            Some(t) => human_duration(self.now - t),
            None => "<unknown>".to_string(),
        }
    }
}

fn unix_nanos(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i128::try_from(d.as_nanos()).unwrap_or(i128::MAX),
        Err(e) => -i128::try_from(e.duration().as_nanos()).unwrap_or(i128::MAX),
    }
}

/// `duration.HumanDuration`: ~2-3 significant figures, e.g. `45s`, `5m30s`, `3h5m`,
/// `2d4h`, `10d`, `2y3d`. Up to two seconds in the future still reads `0s` (clock skew);
/// further is `<invalid>`.
pub(super) fn human_duration(nanos: i128) -> String {
    // time.Duration is an int64 of nanoseconds; time.Since saturates.
    let d = i64::try_from(nanos).unwrap_or(if nanos < 0 { i64::MIN } else { i64::MAX });
    let seconds = d / 1_000_000_000;
    if seconds < -1 {
        return "<invalid>".to_string();
    }
    if seconds < 0 {
        return "0s".to_string();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        return match seconds % 60 {
            0 => format!("{minutes}m"),
            s => format!("{minutes}m{s}s"),
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        return match minutes % 60 {
            0 => format!("{hours}h"),
            m => format!("{hours}h{m}m"),
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        return match hours % 24 {
            0 => format!("{}d", hours / 24),
            h => format!("{}d{h}h", hours / 24),
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        return match (hours / 24) % 365 {
            0 => format!("{}y", hours / 24 / 365),
            days => format!("{}y{days}d", hours / 24 / 365),
        };
    }
    format!("{}y", hours / 24 / 365)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_duration_matches_apimachinery() {
        let s = |secs: i64| human_duration(i128::from(secs) * NANOS_PER_SECOND);
        let (m, h, d) = (60, 3600, 86_400);
        let cases = [
            (0, "0s"),
            (45, "45s"),
            (119, "119s"),
            (2 * m, "2m"),
            (2 * m + 30, "2m30s"),
            (9 * m + 59, "9m59s"),
            (10 * m + 30, "10m"),
            (179 * m, "179m"),
            (3 * h, "3h"),
            (3 * h + 5 * m, "3h5m"),
            (7 * h + 59 * m, "7h59m"),
            (8 * h + 30 * m, "8h"),
            (47 * h, "47h"),
            (2 * d, "2d"),
            (2 * d + 4 * h, "2d4h"),
            (7 * d + 23 * h, "7d23h"),
            (8 * d + 5 * h, "8d"),
            (10 * d, "10d"),
            (729 * d, "729d"),
            (730 * d, "2y"),
            (733 * d, "2y3d"),
            (8 * 365 * d + 40 * d, "8y"),
            (-1, "0s"),
            (-2, "<invalid>"),
        ];
        for (secs, want) in cases {
            assert_eq!(s(secs), want, "{secs}s");
        }
        // 1.5s in the future truncates to -1s: still "0s" (clock skew tolerance).
        assert_eq!(human_duration(-1_500_000_000), "0s");
        assert_eq!(human_duration(i128::MAX), "292y");
    }
}
