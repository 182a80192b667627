//! Events, as controllers and the kubelet report what happens (`Scheduled`,
//! `Pulled`, `Started`, `ScalingReplicaSet`, …). Repeats of the same event for the
//! same object bump its count, as the real event recorder does.

use serde_json::{Value, json};

use crate::rest::{Rest, Subresource, WriteOptions};
use crate::time;

pub struct Source<'a> {
    pub component: &'a str,
    pub host: Option<&'a str>,
}

pub fn normal(rest: &Rest, about: &Value, source: &Source, reason: &str, message: &str) {
    record(rest, about, source, "Normal", reason, message);
}

pub fn warning(rest: &Rest, about: &Value, source: &Source, reason: &str, message: &str) {
    record(rest, about, source, "Warning", reason, message);
}

fn record(rest: &Rest, about: &Value, source: &Source, type_: &str, reason: &str, message: &str) {
    let Some(info) = rest.catalogue.find("", "v1", "events") else { return };
    let meta = &about["metadata"];
    let namespace = meta["namespace"].as_str().filter(|n| !n.is_empty()).unwrap_or("default");
    let name = meta["name"].as_str().unwrap_or_default();
    let now = time::now();
    // One event per (object, reason, message): repeats count up.
    let key = format!("{}.{:x}", name, fnv(&format!("{}{reason}{message}", meta["uid"].as_str().unwrap_or_default())));
    if let Ok(mut existing) = rest.get(&info, Some(namespace), &key) {
        existing["count"] = json!(existing["count"].as_i64().unwrap_or(1) + 1);
        existing["lastTimestamp"] = json!(now);
        let _ = rest.update(&info, Some(namespace), &key, existing, Subresource::Main, &WriteOptions::default());
        return;
    }
    let mut src = json!({"component": source.component});
    if let Some(host) = source.host {
        src["host"] = json!(host);
    }
    let event = json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": key, "namespace": namespace},
        "involvedObject": {
            "apiVersion": about["apiVersion"], "kind": about["kind"], "namespace": meta["namespace"],
            "name": name, "uid": meta["uid"], "resourceVersion": meta["resourceVersion"],
        },
        "reason": reason,
        "message": message,
        "type": type_,
        "source": src,
        "reportingComponent": source.component,
        "reportingInstance": source.host.unwrap_or_default(),
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    });
    let _ = rest.create(&info, Some(namespace), event, &WriteOptions::default());
}

/// FNV-1a, for short stable names.
pub fn fnv(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}
