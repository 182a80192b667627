//! Kinds judged by their status conditions: CustomResourceDefinitions, APIServices,
//! Namespaces, and every kind without a rule of its own (HelmRelease, ExternalSecret,
//! Certificate, Kustomization…), read as kstatus reads them.

use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

use super::{Snapshot, Verdict, condition, describe, unseen_generation};

/// Ready once established; Failed when its names are refused.
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

/// Ready once available.
pub(super) fn apiservice(obj: &Value, _: &Snapshot, _: Timestamp) -> Verdict {
    match condition(obj, "Available") {
        Some(c) if c["status"] == "True" => Verdict::ready(),
        Some(c) if !describe(c).is_empty() => Verdict::pending(format!("not available: {}", describe(c))),
        _ => Verdict::pending("not available yet"),
    }
}

/// Ready unless terminating.
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::judge;
    use super::super::testing::*;
    use super::*;

    fn with_conditions(api_version: &str, kind: &str, conditions: Value) -> Value {
        json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": "redis", "namespace": NS, "generation": 3},
               "status": {"observedGeneration": 3, "conditions": conditions}})
    }

    fn helm_release(conditions: Value) -> Value {
        with_conditions("helm.toolkit.fluxcd.io/v2", "HelmRelease", conditions)
    }

    #[test]
    fn kinds_judged_by_their_conditions() {
        let install_failed = "Helm install failed for release shop/redis with chart redis@18.1.0: context deadline exceeded";
        let cases: Vec<(&str, Value, Verdict)> = vec![
            (
                "helm release ready",
                helm_release(json!([{"type": "Ready", "status": "True", "reason": "InstallSucceeded", "message": "Helm install succeeded"}])),
                Verdict::ready(),
            ),
            (
                "install failed",
                helm_release(json!([{"type": "Ready", "status": "False", "reason": "InstallFailed", "message": install_failed}])),
                Verdict::pending(format!("InstallFailed: {install_failed}")),
            ),
            (
                "stalled",
                helm_release(json!([
                {"type": "Ready", "status": "False", "reason": "InstallFailed", "message": install_failed},
                {"type": "Stalled", "status": "True", "reason": "RetriesExceeded", "message": "Failed to install after 3 attempt(s)"}])),
                Verdict::failed("RetriesExceeded: Failed to install after 3 attempt(s)"),
            ),
            (
                "reconciling",
                helm_release(json!([
                {"type": "Reconciling", "status": "True", "reason": "Progressing", "message": "Running 'install' action with timeout of 5m0s"},
                {"type": "Ready", "status": "Unknown", "reason": "Progressing", "message": "Running 'install' action with timeout of 5m0s"}])),
                Verdict::pending("Progressing: Running 'install' action with timeout of 5m0s"),
            ),
            (
                "ready unknown",
                helm_release(json!([{"type": "Ready", "status": "Unknown", "reason": "Progressing", "message": "Reconciliation in progress"}])),
                Verdict::pending("Ready is Unknown: Reconciliation in progress"),
            ),
            (
                "stale ready",
                helm_release(json!([{"type": "Ready", "status": "True", "observedGeneration": 2}])),
                Verdict::pending("the controller has not seen generation 3 yet"),
            ),
            (
                "stale stall",
                helm_release(
                    json!([{"type": "Stalled", "status": "True", "observedGeneration": 2}, {"type": "Ready", "status": "True", "observedGeneration": 3}]),
                ),
                Verdict::ready(),
            ),
            (
                "external secret",
                with_conditions(
                    "external-secrets.io/v1",
                    "ExternalSecret",
                    json!([{"type": "Ready", "status": "False", "reason": "SecretSyncedError", "message": "could not get secret data from provider"}]),
                ),
                Verdict::pending("SecretSyncedError: could not get secret data from provider"),
            ),
            (
                "certificate ready",
                with_conditions("cert-manager.io/v1", "Certificate", json!([{"type": "Ready", "status": "True", "reason": "Ready"}])),
                Verdict::ready(),
            ),
            (
                "no Ready condition",
                with_conditions("autoscaling/v2", "HorizontalPodAutoscaler", json!([{"type": "AbleToScale", "status": "True"}])),
                Verdict::ready(),
            ),
            (
                "config map",
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "api-config", "namespace": NS}, "data": {"LOG_LEVEL": "info"}}),
                Verdict::ready(),
            ),
            ("secret", json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": NS}, "type": "Opaque"}), Verdict::ready()),
            ("service account", json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "api", "namespace": NS}}), Verdict::ready()),
            (
                "role binding",
                json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "api", "namespace": NS},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "api"}, "subjects": []}),
                Verdict::ready(),
            ),
        ];
        for (what, obj, expected) in cases {
            assert_eq!(judge(&obj, &Snapshot::new(), now()), expected, "{what}");
        }
    }

    fn crd(conditions: Value) -> Value {
        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "widgets.acme.io", "generation": 1},
               "spec": {"group": "acme.io", "names": {"kind": "Widget", "plural": "widgets"}, "scope": "Namespaced"},
               "status": {"conditions": conditions}})
    }

    #[test]
    fn custom_resource_definitions() {
        let cases: Vec<(&str, Value, Verdict)> = vec![
            (
                "established",
                crd(json!([{"type": "NamesAccepted", "status": "True"}, {"type": "Established", "status": "True", "reason": "InitialNamesAccepted"}])),
                Verdict::ready(),
            ),
            (
                "name conflict",
                crd(json!([{"type": "NamesAccepted", "status": "False", "reason": "NameConflict", "message": "\"widgets\" is already in use"},
                {"type": "Established", "status": "False", "reason": "NotAccepted", "message": "not all names are accepted"}])),
                Verdict::failed("names not accepted: NameConflict: \"widgets\" is already in use"),
            ),
            (
                "installing",
                crd(
                    json!([{"type": "NamesAccepted", "status": "True"}, {"type": "Established", "status": "False", "reason": "Installing", "message": "the initial names have not been accepted"}]),
                ),
                Verdict::pending("not established yet: Installing: the initial names have not been accepted"),
            ),
            ("no status", crd(json!([])), Verdict::pending("not established yet")),
        ];
        for (what, obj, expected) in cases {
            assert_eq!(judge(&obj, &Snapshot::new(), now()), expected, "{what}");
        }
    }

    #[test]
    fn namespaces_and_apiservices() {
        let namespace = |status: Value| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}, "status": status});
        assert_eq!(judge(&namespace(json!({"phase": "Active"})), &Snapshot::new(), now()), Verdict::ready());
        assert_eq!(judge(&namespace(Value::Null), &Snapshot::new(), now()), Verdict::ready());
        assert_eq!(judge(&namespace(json!({"phase": "Terminating"})), &Snapshot::new(), now()), Verdict::pending("terminating"));
        let mut deleted = namespace(json!({"phase": "Terminating"}));
        deleted["metadata"]["deletionTimestamp"] = json!(ago(10));
        assert_eq!(judge(&deleted, &Snapshot::new(), now()), Verdict::pending("terminating"));

        let apiservice = |conditions: Value| json!({"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": {"name": "v1beta1.metrics.k8s.io"}, "status": {"conditions": conditions}});
        assert_eq!(judge(&apiservice(json!([{"type": "Available", "status": "True"}])), &Snapshot::new(), now()), Verdict::ready());
        assert_eq!(
            judge(
                &apiservice(
                    json!([{"type": "Available", "status": "False", "reason": "MissingEndpoints", "message": "endpoints for service/metrics-server in \"kube-system\" have no addresses"}])
                ),
                &Snapshot::new(),
                now()
            ),
            Verdict::pending("not available: MissingEndpoints: endpoints for service/metrics-server in \"kube-system\" have no addresses")
        );
        assert_eq!(judge(&apiservice(Value::Null), &Snapshot::new(), now()), Verdict::pending("not available yet"));
    }
}
