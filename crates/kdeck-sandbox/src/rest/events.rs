//! One store of Events, served as core `v1` and as `events.k8s.io/v1`, as
//! kube-apiserver does: an `events.k8s.io` Event is stored as the core Event it
//! converts to, and core Events are read back through `events.k8s.io` — so
//! `kubectl get events`, `kubectl events`, `kubectl describe` and a client that
//! records with the new API (client-go's events broadcaster, kube-rs's Recorder)
//! all see the same events.
//!
//! The field mapping is the API's (`k8s.io/kubernetes/pkg/apis/events/v1`):
//! `regarding` ↔ `involvedObject`, `note` ↔ `message`, `reportingController` ↔
//! `reportingComponent`, `deprecatedSource` ↔ `source`,
//! `deprecatedFirstTimestamp`/`deprecatedLastTimestamp`/`deprecatedCount` ↔
//! `firstTimestamp`/`lastTimestamp`/`count`; `series`, `eventTime`, `action`,
//! `related`, `reason`, `type` and `reportingInstance` are the same in both.

use serde_json::{Map, Value};

use crate::resources::ResourceInfo;

/// (events.k8s.io field, core field) pairs that only differ by name.
const RENAMED: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

/// Whether `info` is `events.k8s.io` Events, stored as core Events.
pub fn is_events_api(info: &ResourceInfo) -> bool {
    info.group == "events.k8s.io" && info.plural == "events"
}

fn rename(obj: &mut Value, pairs: impl Iterator<Item = (&'static str, &'static str)>, api_version: &str) {
    let Some(map) = obj.as_object_mut() else { return };
    let mut renamed = Map::new();
    for (from, to) in pairs {
        if let Some(value) = map.remove(from) {
            renamed.insert(to.to_string(), value);
        }
    }
    map.extend(renamed);
    map.insert("apiVersion".into(), Value::String(api_version.into()));
    map.insert("kind".into(), Value::String("Event".into()));
}

/// An `events.k8s.io/v1` Event as the core Event it is stored as.
pub fn to_core(obj: &mut Value) {
    rename(obj, RENAMED.iter().copied(), "v1");
}

/// A stored core Event as `events.k8s.io/v1` shows it.
pub fn from_core(obj: &mut Value) {
    rename(obj, RENAMED.iter().map(|(new, old)| (*old, *new)), "events.k8s.io/v1");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_two_shapes_convert_both_ways_as_the_api_maps_them() {
        let core = json!({
            "apiVersion": "v1", "kind": "Event", "metadata": {"name": "web.1", "namespace": "shop"},
            "involvedObject": {"kind": "Pod", "name": "web"}, "reason": "BackOff", "message": "Back-off restarting",
            "source": {"component": "kubelet"}, "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:01:00Z",
            "count": 4, "type": "Warning", "reportingComponent": "kubelet", "reportingInstance": "node-1"
        });
        let mut events = core.clone();
        from_core(&mut events);
        assert_eq!(events["apiVersion"], "events.k8s.io/v1");
        assert_eq!((events["regarding"]["name"].as_str(), events["note"].as_str()), (Some("web"), Some("Back-off restarting")));
        assert_eq!((events["deprecatedCount"].as_i64(), events["reportingController"].as_str()), (Some(4), Some("kubelet")));
        assert!(events.get("involvedObject").is_none() && events.get("message").is_none());
        assert_eq!(events["reason"], "BackOff");
        to_core(&mut events);
        assert_eq!(events, core);
    }
}
