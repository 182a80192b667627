//! Named fixtures a sandbox can start with (`kdeck sandbox start --seed NAME`):
//! manifests kept as YAML beside this file (`demo.yaml`), and generated ones
//! (`scale:N`).

use serde_json::{Value, json};

use crate::rest::{Rest, Subresource, WriteOptions};

pub mod settle;

pub const KNOWN: &[&str] = &["crds", "demo", "home-ops", "broken:NAME", "broken:all", "scale:N"];

/// The Flux and External Secrets CRDs, which scenarios that need them load first.
const CRDS: &str = include_str!("crds.yaml");

/// Scenarios written as manifests, by name.
const MANIFESTS: &[(&str, &str)] = &[("crds", CRDS), ("demo", include_str!("demo.yaml")), ("home-ops", include_str!("home-ops.yaml"))];

/// The labelled broken scenarios diagnosis is measured on (`broken:NAME`, all of them
/// with `broken:all`): each in namespace `broken-NAME`, whose annotation
/// `sandbox.kdeck.dev/expected-root-causes` lists the root causes a diagnosis must
/// find there ("RULE KIND/NAME; …"; empty for the healthy look-alikes).
pub const BROKEN: &[(&str, &str)] = &[
    ("broken:crash-config", include_str!("broken/crash-config.yaml")),
    ("broken:crash-plain", include_str!("broken/crash-plain.yaml")),
    ("broken:externalsecret", include_str!("broken/externalsecret.yaml")),
    ("broken:healthy-lookalikes", include_str!("broken/healthy-lookalikes.yaml")),
    ("broken:helmrelease", include_str!("broken/helmrelease.yaml")),
    ("broken:helmrelease-depends-on", include_str!("broken/helmrelease-depends-on.yaml")),
    ("broken:image-private", include_str!("broken/image-private.yaml")),
    ("broken:image-tag", include_str!("broken/image-tag.yaml")),
    ("broken:ingress-missing-port", include_str!("broken/ingress-missing-port.yaml")),
    ("broken:ingress-missing-service", include_str!("broken/ingress-missing-service.yaml")),
    ("broken:init-crash", include_str!("broken/init-crash.yaml")),
    ("broken:job-backoff", include_str!("broken/job-backoff.yaml")),
    ("broken:liveness", include_str!("broken/liveness.yaml")),
    ("broken:localhost-env", include_str!("broken/localhost-env.yaml")),
    ("broken:memory-leak", include_str!("broken/memory-leak.yaml")),
    ("broken:memory-near-limit", include_str!("broken/memory-near-limit.yaml")),
    ("broken:missing-key", include_str!("broken/missing-key.yaml")),
    ("broken:missing-secret", include_str!("broken/missing-secret.yaml")),
    ("broken:networkpolicy", include_str!("broken/networkpolicy.yaml")),
    ("broken:networkpolicy-deny", include_str!("broken/networkpolicy-deny.yaml")),
    ("broken:networkpolicy-egress", include_str!("broken/networkpolicy-egress.yaml")),
    ("broken:oom", include_str!("broken/oom.yaml")),
    ("broken:pod-deadline", include_str!("broken/pod-deadline.yaml")),
    ("broken:pod-failed", include_str!("broken/pod-failed.yaml")),
    ("broken:pvc-no-class", include_str!("broken/pvc-no-class.yaml")),
    ("broken:readiness", include_str!("broken/readiness.yaml")),
    ("broken:requests-far", include_str!("broken/requests-far.yaml")),
    ("broken:service-selects-nothing", include_str!("broken/service-selects-nothing.yaml")),
    ("broken:service-target-port", include_str!("broken/service-target-port.yaml")),
    ("broken:several", include_str!("broken/several.yaml")),
    ("broken:throttled", include_str!("broken/throttled.yaml")),
    ("broken:unknown-service", include_str!("broken/unknown-service.yaml")),
    ("broken:unschedulable-cpu", include_str!("broken/unschedulable-cpu.yaml")),
    ("broken:unschedulable-selector", include_str!("broken/unschedulable-selector.yaml")),
];

/// Files put in a scenario's claims, as (scenario, namespace, claim, path, contents).
const CLAIM_FILES: &[(&str, &str, &str, &str, &str)] = &[
    ("home-ops", "observability", "gatus-data", "config.yaml", include_str!("files/gatus-config.yaml")),
    (
        "home-ops",
        "observability",
        "gatus-data",
        "data/uptime.csv",
        "endpoint,status,checked_at\nhome-assistant,200,2026-11-20T10:00:00Z\nplex,503,2026-11-20T10:00:00Z\n",
    ),
    ("home-ops", "observability", "gatus-data", "README", "Gatus keeps its configuration and results here.\n"),
];

/// The scenarios that need the Flux and External Secrets CRDs first.
const NEEDS_CRDS: &[&str] = &["home-ops"];

pub fn load(rest: &Rest, name: &str) -> Result<(), String> {
    if name == "broken:all" {
        return BROKEN.iter().try_for_each(|(name, _)| load(rest, name));
    }
    if let Some((_, manifests)) = BROKEN.iter().find(|(n, _)| *n == name) {
        if manifests.contains("fluxcd.io") || manifests.contains("external-secrets.io") {
            apply_manifests(rest, "crds", CRDS)?;
        }
        return apply_manifests(rest, name, manifests);
    }
    if let Some((_, manifests)) = MANIFESTS.iter().find(|(n, _)| *n == name) {
        if NEEDS_CRDS.contains(&name) {
            apply_manifests(rest, "crds", CRDS)?;
        }
        apply_manifests(rest, name, manifests)?;
        return write_claim_files(name);
    }
    if let Some(count) = name.strip_prefix("scale:") {
        let count: usize = count.parse().map_err(|_| format!("scenario {name:?}: N must be a whole number, as in scale:20000"))?;
        return scale(rest, count);
    }
    Err(format!("unknown scenario {name:?}; {}", known_for(name)))
}

/// Creates each document of a multi-document YAML file (objects that exist are kept).
fn apply_manifests(rest: &Rest, scenario: &str, manifests: &str) -> Result<(), String> {
    let docs: Vec<Value> = serde_saphyr::from_str_multiple(manifests).map_err(|e| format!("scenario {scenario}: {e}"))?;
    for doc in docs.into_iter().filter(|d| d.is_object()) {
        let api_version = doc["apiVersion"].as_str().unwrap_or_default().to_string();
        let kind = doc["kind"].as_str().unwrap_or_default().to_string();
        let info = rest.catalogue.find_kind(&api_version, &kind).ok_or_else(|| format!("scenario {scenario}: {api_version} {kind} is not served"))?;
        let ns = doc["metadata"]["namespace"].as_str().map(str::to_string);
        let created = create(rest, &info.plural, &info.group, &info.version, ns.as_deref(), doc.clone())?;
        if kind == "CustomResourceDefinition" {
            // Later documents may be of this kind: serve it now rather than when the
            // CRD controller sees the change.
            crate::controllers::crd::register(rest, if created.is_null() { &doc } else { &created });
        }
    }
    Ok(())
}

/// Puts a scenario's files where the sandbox keeps its claims' contents (what a pod
/// mounting the claim sees, and what `kubectl exec … ls` lists).
fn write_claim_files(scenario: &str) -> Result<(), String> {
    let data_dir = crate::kubelet::exec::data_dir();
    for (_, namespace, claim, path, contents) in CLAIM_FILES.iter().filter(|f| f.0 == scenario) {
        let file = crate::kubelet::exec::volumes::pvc_dir(&data_dir, namespace, claim).join(path);
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("scenario {scenario}: cannot create {}: {e}", dir.display()))?;
        }
        std::fs::write(&file, contents).map_err(|e| format!("scenario {scenario}: cannot write {}: {e}", file.display()))?;
    }
    Ok(())
}

fn create(rest: &Rest, plural: &str, group: &str, version: &str, ns: Option<&str>, obj: Value) -> Result<Value, String> {
    let info = rest.catalogue.find(group, version, plural).ok_or_else(|| format!("{plural} is not served"))?;
    match rest.create(&info, ns, obj, &WriteOptions::default()) {
        Ok(v) => Ok(v),
        Err(e) if e.code == 409 => Ok(Value::Null),
        Err(e) => Err(e.message),
    }
}

/// How many pods of `scale:N` share a namespace.
const PODS_PER_NAMESPACE: usize = 500;
/// One ExternalSecret per this many pods, for the bulk secret-sync benchmarks.
const PODS_PER_EXTERNAL_SECRET: usize = 100;

/// `scale:N`: N pods spread over namespaces `scale-00`, `scale-01`, … (500 each, at
/// most 40) with a realistic mix of states, plus the External Secrets CRDs, a store,
/// and one ExternalSecret per 100 pods, for benchmarks. Pods are bound to a
/// fictional node and get their status written directly, so no kubelet work follows.
fn scale(rest: &Rest, count: usize) -> Result<(), String> {
    let namespaces = count.div_ceil(PODS_PER_NAMESPACE).clamp(1, 40);
    let namespace = |i: usize| format!("scale-{:02}", i % namespaces);
    for n in 0..namespaces {
        create(rest, "namespaces", "", "v1", None, json!({"metadata": {"name": namespace(n)}}))?;
    }
    let pods = rest.catalogue.find("", "v1", "pods").ok_or("pods are not served")?;
    for i in 0..count {
        let ns = namespace(i);
        let name = format!("app-{}-{i:05}", i % 50);
        let pod = json!({
            "metadata": {"name": name, "labels": {"app": format!("app-{}", i % 50), "tier": if i % 3 == 0 { "web" } else { "worker" }}},
            "spec": {"containers": [{"name": "main", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}], "nodeName": "scale-node"},
        });
        let created = create(rest, "pods", "", "v1", Some(&ns), pod)?;
        if created.is_null() {
            continue;
        }
        let mut with_status = created;
        with_status["status"] = status_for(i, &with_status["metadata"]["creationTimestamp"]);
        rest.update(&pods, Some(&ns), &name, with_status, Subresource::Status, &WriteOptions::default()).map_err(|e| e.message)?;
    }
    scale_external_secrets(rest, count.div_ceil(PODS_PER_EXTERNAL_SECRET), namespaces)
}

fn scale_external_secrets(rest: &Rest, count: usize, namespaces: usize) -> Result<(), String> {
    apply_manifests(rest, "crds", CRDS)?;
    let data: Vec<Value> = (0..count).map(|i| json!({"key": format!("app-{i}"), "value": format!("{{\"TOKEN\":\"token-{i}\"}}")})).collect();
    let store = json!({"apiVersion": "external-secrets.io/v1", "kind": "ClusterSecretStore", "metadata": {"name": "scale-store"}, "spec": {"provider": {"fake": {"data": data}}}});
    create(rest, "clustersecretstores", "external-secrets.io", "v1", None, store)?;
    for i in 0..count {
        let ns = format!("scale-{:02}", i % namespaces);
        let es = json!({
            "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
            "metadata": {"name": format!("app-{i}"), "namespace": ns, "labels": {"app": format!("app-{}", i % 50)}},
            "spec": {"refreshInterval": "1h", "secretStoreRef": {"kind": "ClusterSecretStore", "name": "scale-store"},
                "target": {"name": format!("app-{i}-secret")}, "dataFrom": [{"extract": {"key": format!("app-{i}")}}]},
        });
        create(rest, "externalsecrets", "external-secrets.io", "v1", Some(&ns), es)?;
    }
    Ok(())
}

/// 90% Running, then Pending, Succeeded, Evicted, Error and OOMKilled in turn.
fn status_for(i: usize, started: &Value) -> Value {
    let running = json!({"running": {"startedAt": started}});
    let (phase, reason, state, ready) = match i % 20 {
        0 => ("Pending", None, json!({"waiting": {"reason": "ContainerCreating"}}), false),
        1 => ("Succeeded", None, json!({"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": started, "finishedAt": started}}), false),
        2 if i % 40 == 2 => {
            ("Failed", Some("Evicted"), json!({"terminated": {"exitCode": 137, "reason": "Error", "startedAt": started, "finishedAt": started}}), false)
        }
        2 => ("Failed", None, json!({"terminated": {"exitCode": 137, "reason": "OOMKilled", "startedAt": started, "finishedAt": started}}), false),
        _ => ("Running", None, running, true),
    };
    let mut status = json!({
        "phase": phase,
        "podIP": format!("10.244.{}.{}", i / 250 % 250, i % 250 + 1),
        "hostIP": "172.18.0.2",
        "startTime": started,
        "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }, "lastTransitionTime": started}],
        "containerStatuses": [{"name": "main", "image": "nginx:1.27", "imageID": "", "ready": ready, "started": ready, "restartCount": 0, "state": state}],
    });
    if let Some(reason) = reason {
        status["reason"] = json!(reason);
        status["message"] = json!("The node was low on resource: memory. Threshold quantity: 100Mi, available: 52Mi.");
    }
    status
}

/// Whether `name` is a scenario this sandbox can load (checked before starting).
/// What to say of the scenarios there are, next to an unknown `name`: the broken
/// ones by name when it names one, else every kind of scenario.
pub fn known_for(name: &str) -> String {
    match name.starts_with("broken:") {
        true => format!("the broken ones are broken:all, {}", BROKEN.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")),
        false => format!("known scenarios: {}", KNOWN.join(", ")),
    }
}

pub fn is_known(name: &str) -> bool {
    MANIFESTS.iter().chain(BROKEN).any(|(n, _)| *n == name) || name == "broken:all" || name.strip_prefix("scale:").is_some_and(|n| n.parse::<usize>().is_ok())
}
