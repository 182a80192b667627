//! The aggregator's autoregistration: one `APIService` (apiregistration.k8s.io/v1)
//! per group and version the server serves — `v1.apps`, `v1.example.com` for a
//! CRD's group — `Local` and Available, as kube-apiserver registers them; the
//! metrics API as served by `kube-system/metrics-server`. Those it registered
//! (label `kube-aggregator.kubernetes.io/automanaged`) go when their group does.
//! APIServices created by clients are stored and served as they are.

use serde_json::{Value, json};

use super::objects;
use crate::rest::{ListQuery, Rest, Subresource, WriteOptions};

const AUTOMANAGED: &str = "kube-aggregator.kubernetes.io/automanaged";

/// Registers what is served and not yet registered; removes what it registered
/// for a group no longer served.
pub fn sync(rest: &Rest) {
    let Some(info) = rest.catalogue.find("apiregistration.k8s.io", "v1", "apiservices") else { return };
    let mut wanted = Vec::new();
    for (group, versions) in rest.catalogue.groups() {
        if group.is_empty() {
            continue;
        }
        for (i, version) in versions.iter().enumerate() {
            wanted.push(format!("{version}.{group}"));
            let name = format!("{version}.{group}");
            if rest.get(&info, None, &name).is_ok() {
                continue;
            }
            let priority = 15i64.saturating_sub(i64::try_from(i).unwrap_or(0) * 6).max(1);
            let metrics = group == crate::api::metrics::GROUP;
            let mut spec = json!({"group": group, "version": version, "groupPriorityMinimum": 1000, "versionPriority": priority});
            if metrics {
                spec["service"] = json!({"namespace": "kube-system", "name": "metrics-server", "port": 443});
                spec["insecureSkipTLSVerify"] = json!(true);
            }
            let obj = json!({"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
                "metadata": {"name": name, "labels": {AUTOMANAGED: "onstart"}}, "spec": spec});
            let Ok(mut created) = rest.create(&info, None, obj, &WriteOptions::default()) else { continue };
            let (reason, message) = if metrics { ("Passed", "all checks passed") } else { ("Local", "Local APIServices are always available") };
            objects::set_condition(&mut created, "Available", "True", reason, message);
            let _ = rest.update(&info, None, &name, created, Subresource::Status, &WriteOptions::default());
        }
    }
    let Ok(listing) = rest.list(&info, None, &ListQuery::default()) else { return };
    for entry in listing.items {
        let obj: Value = entry.value();
        let name = obj["metadata"]["name"].as_str().unwrap_or_default();
        if obj["metadata"]["labels"][AUTOMANAGED].is_string() && !wanted.iter().any(|w| w == name) {
            let _ = rest.delete(&info, None, name, &Default::default());
        }
    }
}
