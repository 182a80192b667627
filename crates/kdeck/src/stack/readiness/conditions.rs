//! Kinds judged by their status conditions: CustomResourceDefinitions, APIServices,
//! Namespaces, and every kind without a rule of its own (HelmRelease, ExternalSecret,
//! Certificate, Kustomization…), read as kstatus reads them.

use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

use super::{Snapshot, Verdict, condition, describe, unseen_generation};

pub(super) fn crd(obj: &Value, _: &Snapshot, _: Timestamp) -> Verdict {
    if condition(obj, "Established").is_some_and(|c| c["status"] == "True") {
        return Verdict::ready();
    }
    if let Some(names) = condition(obj, "NamesAccepted").filter(|c| c["status"] == "False") {
        return Verdict::failed(format!("names not accepted: {}", describe(names)));
    }
    match condition(obj, "Established").map(describe).filter(|d| !d.is_empty()) {
        Some(why) => Verdict::pending(format!("not established yet: {why}")),
        None => Verdict::pending("not established yet"),
    }
}

pub(super) fn apiservice(obj: &Value, _: &Snapshot, _: Timestamp) -> Verdict {
    match condition(obj, "Available") {
        Some(c) if c["status"] == "True" => Verdict::ready(),
        Some(c) if !describe(c).is_empty() => Verdict::pending(format!("not available: {}", describe(c))),
        _ => Verdict::pending("not available yet"),
    }
}

pub(super) fn namespace(obj: &Value, _: &Snapshot, _: Timestamp) -> Verdict {
    match obj["status"]["phase"].as_str() {
        Some("Terminating") => Verdict::pending("terminating"),
        _ => Verdict::ready(),
    }
}

/// Any other kind: Stalled=True fails; Reconciling=True, Ready=False and
/// Ready=Unknown are pending (a failed install may be retried: the deadline decides);
/// Ready=True, or no Ready condition at all, is ready. Conditions written for an older
/// generation than the object's are not believed.
pub(super) fn generic(obj: &Value) -> Verdict {
    let generation = obj["metadata"]["generation"].as_i64();
    let current = |c: &&Value| match (c["observedGeneration"].as_i64(), generation) {
        (Some(observed), Some(generation)) => observed >= generation,
        _ => true,
    };
    if let Some(stalled) = condition(obj, "Stalled").filter(|c| c["status"] == "True").filter(current) {
        let why = describe(stalled);
        return Verdict::failed(if why.is_empty() { "Stalled".to_string() } else { why });
    }
    if let Some(reconciling) = condition(obj, "Reconciling").filter(|c| c["status"] == "True") {
        let why = describe(reconciling);
        return Verdict::pending(if why.is_empty() { "reconciling".to_string() } else { why });
    }
    let Some(ready) = condition(obj, "Ready") else { return Verdict::ready() };
    if !current(&ready) {
        return unseen_generation(generation.unwrap_or_default());
    }
    match ready["status"].as_str() {
        Some("True") => Verdict::ready(),
        Some("False") => {
            let why = describe(ready);
            Verdict::pending(if why.is_empty() { "Ready is False".to_string() } else { why })
        }
        _ => {
            let message = ready["message"].as_str().or(ready["reason"].as_str()).unwrap_or_default().trim();
            Verdict::pending(if message.is_empty() { "Ready is Unknown".to_string() } else { format!("Ready is Unknown: {message}") })
        }
    }
}
