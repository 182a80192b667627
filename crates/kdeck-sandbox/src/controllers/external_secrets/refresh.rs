//! When an ExternalSecret reads its provider again: the real controller's
//! `shouldRefresh`, and when to look again after a sync or a failure.

use std::time::Duration;

use serde_json::Value;

use super::hash::synced_resource_version;
use super::spec::{RefreshPolicy, Spec};
use crate::controllers::objects;
use crate::time;

/// The longest a periodic refresh waits before looking again.
const MAX_DELAY: Duration = Duration::from_secs(600);
/// A failed sync is retried after the time it has been failing, within these bounds.
const RETRY_MIN: Duration = Duration::from_secs(5);
const RETRY_MAX: Duration = Duration::from_secs(300);

fn refresh_time(es: &Value) -> Option<i128> {
    es["status"]["refreshTime"].as_str().and_then(time::parse_rfc3339_nanos)
}

/// Whether the provider should be read again (the real `shouldRefresh`).
pub(super) fn should_refresh(es: &Value, spec: &Spec, now: i128) -> bool {
    let synced = es["status"]["syncedResourceVersion"].as_str().unwrap_or_default();
    let refreshed = refresh_time(es);
    match spec.refresh_policy {
        RefreshPolicy::CreatedOnce => synced.is_empty() || refreshed.is_none(),
        RefreshPolicy::OnChange => synced.is_empty() || refreshed.is_none() || synced != synced_resource_version(es),
        RefreshPolicy::Periodic => {
            if spec.refresh_interval.is_zero() && !synced.is_empty() {
                return false;
            }
            if synced != synced_resource_version(es) {
                return true;
            }
            refreshed.is_none_or(|at| at + (spec.refresh_interval.as_nanos() as i128) < now)
        }
    }
}

/// When to look again for the next periodic refresh.
pub(super) fn next_refresh(es: &Value, spec: &Spec, now: i128) -> Option<Duration> {
    if spec.refresh_policy != RefreshPolicy::Periodic || spec.refresh_interval.is_zero() {
        return None;
    }
    let interval = spec.refresh_interval.as_nanos() as i128;
    let remaining = match refresh_time(es) {
        Some(at) if at <= now => interval - (now - at),
        Some(_) => 0,
        None => interval,
    };
    // Just past the moment it is due (the check is strict), and not too far ahead.
    let remaining = remaining.clamp(0, MAX_DELAY.as_nanos() as i128);
    Some((Duration::from_nanos(remaining as u64) + Duration::from_millis(20)).min(MAX_DELAY))
}

/// How long after a failed sync to try again: as long as it has been failing.
pub(super) fn retry_delay(es: &Value, now: i128) -> Duration {
    let since =
        objects::condition(es, "Ready").filter(|c| c["status"] == "False").and_then(|c| c["lastTransitionTime"].as_str()).and_then(time::parse_rfc3339_nanos);
    let failing = since.map(|at| Duration::from_nanos((now - at).max(0) as u64)).unwrap_or_default();
    failing.clamp(RETRY_MIN, RETRY_MAX)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::spec::parse_spec;
    use super::*;

    #[test]
    fn refresh_decisions_follow_the_policy() {
        let now = 1_800_000_000 * 1_000_000_000i128;
        let at = |secs_ago: i64| time::rfc3339_unix(1_800_000_000 - secs_ago);
        let es = |policy: &str, interval: &str, synced_now: bool, secs_ago: i64| {
            let mut es = json!({"metadata": {"name": "es", "generation": 2, "annotations": {"force-sync": "1"}},
                "spec": {"secretStoreRef": {"name": "s"}, "refreshPolicy": policy, "refreshInterval": interval, "dataFrom": [{"extract": {"key": "k"}}]}});
            let synced = if synced_now { synced_resource_version(&es) } else { "1-old".to_string() };
            es["status"] = json!({"syncedResourceVersion": synced, "refreshTime": at(secs_ago)});
            es
        };
        let decide = |es: &Value| should_refresh(es, &parse_spec(es).unwrap(), now);
        // Periodic: due after the interval, or at once when the spec/metadata changed.
        assert!(!decide(&es("Periodic", "1h", true, 60)));
        assert!(decide(&es("Periodic", "1h", true, 3601)));
        assert!(decide(&es("Periodic", "1h", false, 60)));
        // refreshInterval 0: never again once synced, even on a change.
        assert!(!decide(&es("Periodic", "0", false, 99_999)));
        // OnChange: only on a change.
        assert!(!decide(&es("OnChange", "1s", true, 99_999)));
        assert!(decide(&es("OnChange", "1s", false, 1)));
        // CreatedOnce: never again once synced.
        assert!(!decide(&es("CreatedOnce", "1s", false, 99_999)));
        let mut fresh = es("CreatedOnce", "1h", false, 0);
        fresh["status"] = json!({});
        assert!(decide(&fresh));
        // The next periodic look comes when the interval is up.
        let e = es("Periodic", "1m", true, 20);
        let next = next_refresh(&e, &parse_spec(&e).unwrap(), now).unwrap();
        assert!(next > Duration::from_secs(39) && next < Duration::from_secs(41), "{next:?}");
        let e = es("Periodic", "24h", true, 0);
        assert_eq!(next_refresh(&e, &parse_spec(&e).unwrap(), now), Some(MAX_DELAY));
        let e = es("OnChange", "1m", true, 0);
        assert_eq!(next_refresh(&e, &parse_spec(&e).unwrap(), now), None);
    }
}
