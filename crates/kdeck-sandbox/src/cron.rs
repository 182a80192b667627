//! Cron schedules as CronJobs write them: five fields (minute, hour, day of month,
//! month, day of week) with `*`, ranges, steps, lists and names, or a macro such as
//! `@hourly`. Times are UTC.

#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    minutes: Vec<bool>,
    hours: Vec<bool>,
    days: Vec<bool>,
    months: Vec<bool>,
    weekdays: Vec<bool>,
    /// Both day fields restricted: either may match, as in standard cron.
    day_or: bool,
}

const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

fn field(text: &str, min: u32, max: u32, names: &[&str], what: &str) -> Result<(Vec<bool>, bool), String> {
    let mut allowed = vec![false; max as usize + 1];
    let value = |s: &str| -> Result<u32, String> {
        if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
            return Ok(i as u32 + min);
        }
        s.parse::<u32>().map_err(|_| format!("{what}: {s:?} is not a number"))
    };
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().ok().filter(|s| *s > 0).ok_or_else(|| format!("{what}: bad step in {part:?}"))?),
            None => (part, 1),
        };
        let (lo, hi) = match range {
            "*" | "?" => (min, max),
            r => match r.split_once('-') {
                Some((a, b)) => (value(a)?, value(b)?),
                None if step > 1 => (value(r)?, max),
                None => (value(r)?, value(r)?),
            },
        };
        // Day of week 7 is Sunday too.
        let hi = if max == 6 && hi == 7 { 6 } else { hi };
        let lo = if max == 6 && lo == 7 { 0 } else { lo };
        if lo < min || hi > max || lo > hi {
            return Err(format!("{what}: {part:?} is outside {min}-{max}"));
        }
        for v in (lo..=hi).step_by(step as usize) {
            allowed[v as usize] = true;
        }
    }
    Ok((allowed, text != "*" && text != "?"))
}

impl Schedule {
    pub fn parse(text: &str) -> Result<Self, String> {
        let expanded = match text.trim() {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            other => other,
        };
        let parts: Vec<&str> = expanded.split_whitespace().collect();
        let [minute, hour, day, month, weekday] = parts.as_slice() else {
            return Err(format!("expected exactly 5 fields, found {}: {text:?}", parts.len()));
        };
        let (minutes, _) = field(minute, 0, 59, &[], "minute")?;
        let (hours, _) = field(hour, 0, 23, &[], "hour")?;
        let (days, day_set) = field(day, 1, 31, &[], "day of month")?;
        let (months, _) = field(month, 1, 12, &MONTHS, "month")?;
        let (weekdays, weekday_set) = field(weekday, 0, 6, &WEEKDAYS, "day of week")?;
        Ok(Schedule { minutes, hours, days, months, weekdays, day_or: day_set && weekday_set })
    }

    /// Whether the schedule fires at the minute starting at `secs` (UTC).
    pub fn matches(&self, secs: i64) -> bool {
        let c = crate::time::calendar(secs);
        let day_ok = if self.day_or {
            self.days[c.day as usize] || self.weekdays[c.weekday as usize]
        } else {
            self.days[c.day as usize] && self.weekdays[c.weekday as usize]
        };
        self.minutes[c.minute as usize] && self.hours[c.hour as usize] && self.months[c.month as usize] && day_ok
    }

    /// The latest firing time in `(after, until]`, looking back at most a week.
    pub fn last_between(&self, after: i64, until: i64) -> Option<i64> {
        let mut t = until - until.rem_euclid(60);
        let floor = after.max(until - 7 * 86_400);
        while t > floor {
            if self.matches(t) {
                return Some(t);
            }
            t -= 60;
        }
        None
    }

    /// The first firing time after `after`, looking ahead at most a year.
    pub fn next_after(&self, after: i64) -> Option<i64> {
        let mut t = after - after.rem_euclid(60) + 60;
        let limit = after + 366 * 86_400;
        while t <= limit {
            if self.matches(t) {
                return Some(t);
            }
            t += 60;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-23T06:08:23Z is a Monday.
    const MONDAY: i64 = 1_795_414_103;

    #[test]
    fn parses_fields_steps_ranges_and_names() {
        let every_5 = Schedule::parse("*/5 * * * *").unwrap();
        assert_eq!(every_5.next_after(MONDAY), Some(MONDAY - 23 - 180 + 300));
        assert_eq!(every_5.last_between(0, MONDAY), Some(MONDAY - 23 - 180));
        let weekdays = Schedule::parse("30 9 * * mon-fri").unwrap();
        assert!(weekdays.matches(MONDAY - 23 - 8 * 60 + 3 * 3600 + 30 * 60));
        assert!(!weekdays.matches(MONDAY - 23 - 8 * 60 + 3 * 3600 + 30 * 60 + 5 * 86_400), "not on Saturday");
        assert!(Schedule::parse("@hourly").unwrap().matches(MONDAY - 23 - 8 * 60));
        assert!(Schedule::parse("61 * * * *").is_err());
        assert!(Schedule::parse("* * *").is_err());
        assert!(Schedule::parse("*/0 * * * *").is_err());
    }
}
