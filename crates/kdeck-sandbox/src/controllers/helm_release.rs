//! The Flux helm-controller, for `HelmRelease` (helm.toolkit.fluxcd.io/v2), once its
//! CRD is installed. A release "installs" as one Deployment named after it (replicas,
//! image, env and an existing claim taken from the values), and reports what Flux
//! reports: `Ready`/`Released` conditions with Flux's reasons and messages, the
//! release history, `lastAttemptedRevision`, `observedGeneration`, and the handled
//! `reconcile.fluxcd.io/{requestedAt,forceAt,resetAt}` tokens.
//!
//! As in Flux: a suspended release is not reconciled at all; a reconcile request
//! without changes does not upgrade; `forceAt` (with the same token as
//! `requestedAt`) forces an upgrade; a failed release is not retried until its
//! spec changes or `resetAt` resets the failure count; a release whose `dependsOn`
//! releases are not all Ready waits (`DependencyNotReady`), looking again every
//! 5 s. The annotation
//! `sandbox.kdeck.dev/helm-fail: MESSAGE` declares that install/upgrade fails.

use std::time::Duration;

use serde_json::{Value, json};

use super::events::{self, Source};
use super::objects::{self, name, namespace};
use super::runtime::{Controller, ObjectRef, every, key_of};
use crate::resources::{ResourceInfo, ResourceKey};
use crate::rest::{DeleteOptions, Rest, WriteOptions};
use crate::store::Change;
use crate::time;

const SOURCE: Source = Source { component: "helm-controller", host: None };
const GROUP: &str = "helm.toolkit.fluxcd.io";
const FINALIZER: &str = "finalizers.fluxcd.io";
const REQUESTED_AT: &str = "reconcile.fluxcd.io/requestedAt";
const FORCE_AT: &str = "reconcile.fluxcd.io/forceAt";
const RESET_AT: &str = "reconcile.fluxcd.io/resetAt";
/// Declares that the release fails to install or upgrade, with this message.
pub const FAIL_ANNOTATION: &str = "sandbox.kdeck.dev/helm-fail";
const NAME_LABEL: &str = "helm.toolkit.fluxcd.io/name";
const NAMESPACE_LABEL: &str = "helm.toolkit.fluxcd.io/namespace";
/// How often a release waiting for its workload looks again.
const WAIT_POLL: Duration = Duration::from_millis(250);

pub struct HelmReleases;

fn helmreleases() -> ResourceKey {
    ResourceKey::new(GROUP, "helmreleases")
}

impl Controller for HelmReleases {
    fn keys_for(&self, rest: &Rest, change: &Change) -> Vec<ObjectRef> {
        if change.resource == helmreleases() {
            return vec![key_of(change)];
        }
        // The CRD arriving: everything stored under it (after a restart) is ours now.
        if change.resource == ResourceKey::new("apiextensions.k8s.io", "customresourcedefinitions")
            && change.entry.index.name == "helmreleases.helm.toolkit.fluxcd.io"
        {
            return every(rest, &helmreleases());
        }
        // A release's workload becoming available ends its wait.
        if change.resource == ResourceKey::new("apps", "deployments") {
            let labels = objects::labels(&change.entry.value());
            if let (Some(hr), Some(ns)) = (labels.get(NAME_LABEL), labels.get(NAMESPACE_LABEL)) {
                return vec![ObjectRef::new(helmreleases(), ns, hr)];
            }
        }
        Vec::new()
    }

    fn all_keys(&self, rest: &Rest) -> Vec<ObjectRef> {
        every(rest, &helmreleases())
    }

    fn reconcile(&self, rest: &Rest, key: &ObjectRef) -> Option<Duration> {
        let info = rest.catalogue.find(GROUP, "v2", "helmreleases")?;
        let deployments = rest.catalogue.find("apps", "v1", "deployments")?;
        let hr = rest.get(&info, Some(&key.namespace), &key.name).ok()?;
        if objects::is_deleting(&hr) {
            uninstall(rest, &info, &deployments, &hr);
            return None;
        }
        if !has_finalizer(&hr) {
            let mut next = hr.clone();
            let mut finalizers = hr["metadata"]["finalizers"].as_array().cloned().unwrap_or_default();
            finalizers.push(json!(FINALIZER));
            next["metadata"]["finalizers"] = json!(finalizers);
            // The write triggers the next reconcile.
            objects::write(rest, &info, &hr, next);
            return None;
        }
        if hr["spec"]["suspend"] == true {
            return None;
        }
        if let Some(message) = dependency_not_ready(rest, &info, &hr) {
            let mut next = hr.clone();
            let first = objects::condition(&hr, "Ready").is_none_or(|c| c["reason"] != "DependencyNotReady" || c["message"] != message.as_str());
            objects::set_condition(&mut next, "Reconciling", "True", "Progressing", "");
            objects::set_condition(&mut next, "Ready", "False", "DependencyNotReady", &message);
            if first {
                events::warning(rest, &hr, &SOURCE, "DependencyNotReady", &message);
            }
            objects::write_status(rest, &info, &hr, next);
            return Some(REQUEUE_DEPENDENCY);
        }
        let release = match Release::from_spec(&hr) {
            Ok(release) => release,
            Err((reason, message)) => {
                let mut next = hr.clone();
                stalled(&hr, &mut next, reason, &message);
                objects::write_status(rest, &info, &hr, next);
                return None;
            }
        };
        let mut next = hr.clone();
        let delay = step(rest, &deployments, &hr, &release, &mut next);
        objects::write_status(rest, &info, &hr, next);
        delay
    }
}

/// How often a release waiting for its dependencies looks again (Flux's
/// `--requeue-dependency`).
const REQUEUE_DEPENDENCY: Duration = Duration::from_secs(5);

/// Flux's dependency check: each `dependsOn` release must exist and be Ready for
/// the generation its controller has seen; the first that is not, as Flux words it.
fn dependency_not_ready(rest: &Rest, info: &ResourceInfo, hr: &Value) -> Option<String> {
    for dependency in hr["spec"]["dependsOn"].as_array().into_iter().flatten() {
        let dep_name = dependency["name"].as_str().unwrap_or_default();
        let dep_ns = dependency["namespace"].as_str().filter(|n| !n.is_empty()).unwrap_or(namespace(hr));
        let Ok(dep) = rest.get(info, Some(dep_ns), dep_name) else {
            return Some(format!("unable to get '{dep_ns}/{dep_name}' dependency: helmreleases.helm.toolkit.fluxcd.io \"{dep_name}\" not found"));
        };
        let current = dep["metadata"]["generation"] == dep["status"]["observedGeneration"];
        if !current || !objects::condition_is_true(&dep, "Ready") {
            return Some(format!("dependency '{dep_ns}/{dep_name}' is not ready"));
        }
    }
    None
}

/// What the spec asks to be released.
struct Release {
    /// The Helm release name, which is also the Deployment's.
    name: String,
    namespace: String,
    chart: String,
    version: String,
    values: Value,
    digest: String,
    wait: bool,
    timeout: Duration,
}

impl Release {
    /// Reads the spec, or returns the (reason, message) Flux stalls with.
    fn from_spec(hr: &Value) -> Result<Self, (&'static str, String)> {
        let spec = &hr["spec"];
        let (chart, version) = if let Some(chart) = spec["chart"]["spec"]["chart"].as_str() {
            (chart.to_string(), resolve_version(spec["chart"]["spec"]["version"].as_str().unwrap_or("*")))
        } else if let Some(source) = spec["chartRef"]["name"].as_str() {
            (source.to_string(), "0.1.0".to_string())
        } else {
            return Err(("InvalidChartReference", "either chart or chartRef must be set".to_string()));
        };
        let interval = spec["interval"].as_str().ok_or(("InvalidSpec", "spec.interval: Required value".to_string()))?;
        time::parse_go_duration(interval).map_err(|e| ("InvalidSpec", format!("spec.interval: {e}")))?;
        let timeout = match spec["timeout"].as_str() {
            Some(t) => time::parse_go_duration(t).map_err(|e| ("InvalidSpec", format!("spec.timeout: {e}")))?,
            None => Duration::from_secs(300),
        };
        let namespace = spec["targetNamespace"].as_str().unwrap_or(namespace(hr)).to_string();
        let name = match (spec["releaseName"].as_str(), spec["targetNamespace"].as_str()) {
            (Some(release), _) => release.to_string(),
            (None, Some(target)) => format!("{target}-{}", name(hr)),
            (None, None) => name(hr).to_string(),
        };
        let values = if spec["values"].is_object() { spec["values"].clone() } else { json!({}) };
        let digest = format!("fnv1a:{:08x}", events::fnv(&format!("{chart}@{version}:{values}")));
        Ok(Release { name, namespace, chart, version, values, digest, wait: spec["install"]["disableWait"] != true, timeout })
    }

    fn title(&self, hr: &Value, number: i64) -> String {
        format!("{}/{}.v{number}", namespace(hr), self.name)
    }
}

/// A chart version constraint, resolved as if the repository had the lowest match
/// (`1.x` → `1.0.0`, `>=2.1` → `2.1.0`, `*` → `0.1.0`).
fn resolve_version(constraint: &str) -> String {
    let bare = constraint.trim_start_matches(['>', '=', '^', '~', 'v', ' ']);
    let parts: Vec<&str> = bare.split('.').take_while(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit())).collect();
    if parts.is_empty() {
        return "0.1.0".into();
    }
    let mut parts: Vec<String> = parts.iter().map(|p| p.to_string()).collect();
    parts.resize(3, "0".into());
    parts.join(".")
}

fn has_finalizer(hr: &Value) -> bool {
    hr["metadata"]["finalizers"].as_array().is_some_and(|f| f.iter().any(|x| x == FINALIZER))
}

fn annotation<'a>(hr: &'a Value, key: &str) -> Option<&'a str> {
    hr["metadata"]["annotations"][key].as_str()
}

/// One step of the release state machine; `Some(delay)` while waiting on the workload.
fn step(rest: &Rest, deployments: &ResourceInfo, hr: &Value, release: &Release, next: &mut Value) -> Option<Duration> {
    let status = &hr["status"];
    let requested = annotation(hr, REQUESTED_AT);
    let token_for = |key: &str, handled: &str| annotation(hr, key).filter(|t| Some(*t) == requested && status[handled].as_str() != Some(t));
    let force = token_for(FORCE_AT, "lastHandledForceAt").map(str::to_string);
    let reset = token_for(RESET_AT, "lastHandledResetAt").map(str::to_string);
    if let Some(token) = &reset {
        for counter in ["failures", "installFailures", "upgradeFailures"] {
            next["status"].as_object_mut().map(|s| s.remove(counter));
        }
        next["status"]["lastHandledResetAt"] = json!(token);
    }
    let latest = status["history"][0].clone();
    let pending = latest["status"].as_str().is_some_and(|s| s.starts_with("pending-"));
    let changed = latest["configDigest"].as_str() != Some(&release.digest);
    // A failed release is retried only after a reset or a change of chart or values.
    let retry = latest["status"] == "failed" && reset.is_some();
    if pending && !changed && force.is_none() {
        return wait_for_workload(rest, deployments, hr, release, next);
    }
    if latest.is_null() || changed || retry || force.is_some() {
        if let Some(token) = &force {
            next["status"]["lastHandledForceAt"] = json!(token);
        }
        return run_action(rest, deployments, hr, release, next);
    }
    // Nothing to release: the request is handled as it stands.
    finish_request(hr, next);
    None
}

/// Installs or upgrades: records the attempt, applies the workload (or fails as
/// declared), then waits for the workload unless waiting is disabled.
fn run_action(rest: &Rest, deployments: &ResourceInfo, hr: &Value, release: &Release, next: &mut Value) -> Option<Duration> {
    let history: Vec<Value> = hr["status"]["history"].as_array().cloned().unwrap_or_default();
    let deployed_before = history.iter().any(|h| h["status"] == "deployed" || h["status"] == "superseded");
    let action = if deployed_before { "upgrade" } else { "install" };
    let number = history.first().and_then(|h| h["version"].as_i64()).unwrap_or(0) + 1;
    let status = &mut next["status"];
    status["lastAttemptedRevision"] = json!(release.version);
    status["lastAttemptedConfigDigest"] = json!(release.digest);
    status["lastAttemptedGeneration"] = hr["metadata"]["generation"].clone();
    status["lastAttemptedReleaseAction"] = json!(action);
    status["observedGeneration"] = hr["metadata"]["generation"].clone();
    status["storageNamespace"] = json!(release.namespace);
    status["helmChart"] = json!(format!("{}/{}-{}", namespace(hr), namespace(hr), name(hr)));
    let now = time::now();
    let mut entry = json!({
        "name": release.name, "namespace": release.namespace, "version": number,
        "chartName": release.chart, "chartVersion": release.version, "appVersion": release.version,
        "configDigest": release.digest, "firstDeployed": now, "lastDeployed": now,
    });
    if let Some(message) = annotation(hr, FAIL_ANNOTATION) {
        entry["status"] = json!("failed");
        push_history(next, history, entry);
        let counter = if action == "install" { "installFailures" } else { "upgradeFailures" };
        for field in [counter, "failures"] {
            next["status"][field] = json!(hr["status"][field].as_i64().unwrap_or(0) + 1);
        }
        let reason = if action == "install" { "InstallFailed" } else { "UpgradeFailed" };
        let message = format!("Helm {action} failed for release {} with chart {}@{}: {message}", release.title(hr, number), release.chart, release.version);
        set_outcome(next, "False", reason, &message);
        // No remediation retries are configured: Flux stops until a reset or a change.
        objects::set_condition(next, "Stalled", "True", "RetriesExceeded", &format!("Failed to {action} after 1 attempt(s)"));
        events::warning(rest, hr, &SOURCE, reason, &message);
        finish_request(hr, next);
        return None;
    }
    entry["status"] = json!(format!("pending-{action}"));
    push_history(next, history, entry);
    if let Err(message) = apply_workload(rest, deployments, hr, release) {
        events::warning(rest, hr, &SOURCE, "ReconciliationFailed", &message);
        return Some(Duration::from_secs(5));
    }
    let progressing = format!("Running '{action}' action with timeout of {}", go_duration(release.timeout));
    objects::set_condition(next, "Reconciling", "True", "Progressing", &progressing);
    objects::set_condition(next, "Ready", "Unknown", "Progressing", &progressing);
    Some(Duration::ZERO)
}

/// Marks the pending release deployed once its Deployment is available (or failed
/// after the timeout).
fn wait_for_workload(rest: &Rest, deployments: &ResourceInfo, hr: &Value, release: &Release, next: &mut Value) -> Option<Duration> {
    let latest = &hr["status"]["history"][0];
    let action = latest["status"].as_str().unwrap_or_default().trim_start_matches("pending-").to_string();
    let number = latest["version"].as_i64().unwrap_or(1);
    let deployment = rest.get(deployments, Some(&release.namespace), &release.name).ok();
    let available = deployment.as_ref().is_some_and(is_available);
    let started = latest["lastDeployed"].as_str().and_then(time::parse_rfc3339).unwrap_or(0);
    let elapsed = Duration::from_secs((time::unix_secs() - started).max(0) as u64);
    let title = release.title(hr, number);
    let chart = format!("{}@{}", release.chart, release.version);
    let (history_status, ready, reason, message) = if available || !release.wait {
        let reason = if action == "install" { "InstallSucceeded" } else { "UpgradeSucceeded" };
        ("deployed", "True", reason, format!("Helm {action} succeeded for release {title} with chart {chart}"))
    } else if elapsed >= release.timeout {
        let reason = if action == "install" { "InstallFailed" } else { "UpgradeFailed" };
        ("failed", "False", reason, format!("Helm {action} failed for release {title} with chart {chart}: context deadline exceeded"))
    } else {
        return Some(WAIT_POLL);
    };
    next["status"]["history"][0]["status"] = json!(history_status);
    set_outcome(next, ready, reason, &message);
    if ready == "True" {
        events::normal(rest, hr, &SOURCE, reason, &message);
    } else {
        events::warning(rest, hr, &SOURCE, reason, &message);
    }
    finish_request(hr, next);
    None
}

fn is_available(deployment: &Value) -> bool {
    let wanted = deployment["spec"]["replicas"].as_i64().unwrap_or(1);
    deployment["status"]["observedGeneration"] == deployment["metadata"]["generation"]
        && deployment["status"]["availableReplicas"].as_i64().unwrap_or(0) >= wanted
}

/// `5m0s`, as Go prints durations in Flux's messages.
fn go_duration(d: Duration) -> String {
    let secs = d.as_secs();
    match (secs / 3600, secs / 60 % 60, secs % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, m, s) => format!("{h}h{m}m{s}s"),
    }
}

/// Newest first, earlier deployed releases superseded, at most Flux's 5 kept.
fn push_history(next: &mut Value, mut history: Vec<Value>, entry: Value) {
    for old in &mut history {
        if old["status"] == "deployed" {
            old["status"] = json!("superseded");
        }
    }
    history.insert(0, entry);
    history.truncate(5);
    next["status"]["history"] = json!(history);
}

fn set_outcome(next: &mut Value, ready: &str, reason: &str, message: &str) {
    objects::set_condition(next, "Ready", ready, reason, message);
    objects::set_condition(next, "Released", ready, reason, message);
    if let Some(conditions) = next["status"]["conditions"].as_array_mut() {
        conditions.retain(|c| c["type"] != "Reconciling" && c["type"] != "Stalled");
    }
}

/// A finished reconcile records the request token and the generation it saw.
fn finish_request(hr: &Value, next: &mut Value) {
    if let Some(token) = annotation(hr, REQUESTED_AT) {
        next["status"]["lastHandledReconcileAt"] = json!(token);
    }
    next["status"]["observedGeneration"] = hr["metadata"]["generation"].clone();
}

fn stalled(hr: &Value, next: &mut Value, reason: &str, message: &str) {
    objects::set_condition(next, "Ready", "False", reason, message);
    objects::set_condition(next, "Stalled", "True", reason, message);
    finish_request(hr, next);
}

/// The Deployment a release "installs", built from common chart values.
fn workload(hr: &Value, release: &Release) -> Value {
    let values = &release.values;
    let image = match (values["image"]["repository"].as_str(), values["image"]["tag"].as_str()) {
        (Some(repo), Some(tag)) => format!("{repo}:{tag}"),
        (Some(repo), None) => format!("{repo}:{}", release.version),
        _ => format!("ghcr.io/{0}/{0}:{1}", release.chart, release.version),
    };
    let selector = json!({"app.kubernetes.io/name": release.chart, "app.kubernetes.io/instance": release.name});
    let mut labels = selector.clone();
    labels["app.kubernetes.io/managed-by"] = json!("Helm");
    labels["helm.sh/chart"] = json!(format!("{}-{}", release.chart, release.version));
    labels[NAME_LABEL] = json!(name(hr));
    labels[NAMESPACE_LABEL] = json!(namespace(hr));
    let env: Vec<Value> = values["env"].as_object().map(|m| m.iter().map(|(k, v)| json!({"name": k, "value": plain(v)})).collect()).unwrap_or_default();
    let mut container = json!({"name": release.chart, "image": image, "env": env});
    let mut pod_spec = json!({"containers": []});
    if let Some(claim) = values["persistence"]["existingClaim"].as_str() {
        let mount = values["persistence"]["mountPath"].as_str().unwrap_or("/data");
        container["volumeMounts"] = json!([{"name": "data", "mountPath": mount}]);
        pod_spec["volumes"] = json!([{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]);
    }
    if let Some(port) = values["service"]["port"].as_i64() {
        container["ports"] = json!([{"name": "http", "containerPort": port}]);
    }
    pod_spec["containers"] = json!([container]);
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {
            "name": release.name, "namespace": release.namespace, "labels": labels,
            "annotations": {"meta.helm.sh/release-name": release.name, "meta.helm.sh/release-namespace": release.namespace},
        },
        "spec": {
            "replicas": values["replicaCount"].as_i64().unwrap_or(1),
            "selector": {"matchLabels": selector},
            "template": {"metadata": {"labels": selector}, "spec": pod_spec},
        },
    })
}

fn plain(v: &Value) -> String {
    v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())
}

fn apply_workload(rest: &Rest, info: &ResourceInfo, hr: &Value, release: &Release) -> Result<(), String> {
    let desired = workload(hr, release);
    let result = match rest.get(info, Some(&release.namespace), &release.name) {
        Ok(mut current) => {
            if current["spec"] == desired["spec"] && current["metadata"]["labels"] == desired["metadata"]["labels"] {
                return Ok(());
            }
            current["spec"] = desired["spec"].clone();
            current["metadata"]["labels"] = desired["metadata"]["labels"].clone();
            rest.update(info, Some(&release.namespace), &release.name, current, crate::rest::Subresource::Main, &WriteOptions::default())
        }
        Err(_) => rest.create(info, Some(&release.namespace), desired, &WriteOptions::default()),
    };
    result.map(|_| ()).map_err(|e| format!("cannot apply Deployment {}/{}: {}", release.namespace, release.name, e.message))
}

/// Deletes what the release installed, then lets the HelmRelease go.
fn uninstall(rest: &Rest, info: &ResourceInfo, deployments: &ResourceInfo, hr: &Value) {
    if !has_finalizer(hr) {
        return;
    }
    if let Ok(release) = Release::from_spec(hr)
        && let Ok(deployment) = rest.get(deployments, Some(&release.namespace), &release.name)
        && objects::labels(&deployment).get(NAME_LABEL).map(String::as_str) == Some(name(hr))
    {
        let _ = rest.delete(deployments, Some(&release.namespace), &release.name, &DeleteOptions::default());
    }
    let mut next = hr.clone();
    if let Some(finalizers) = next["metadata"]["finalizers"].as_array_mut() {
        finalizers.retain(|f| f != FINALIZER);
    }
    objects::write(rest, info, hr, next);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hr(spec: Value) -> Value {
        json!({"metadata": {"name": "gatus", "namespace": "observability", "generation": 1}, "spec": spec})
    }

    #[test]
    fn versions_resolve_to_the_lowest_match() {
        assert_eq!(resolve_version("1.2.3"), "1.2.3");
        assert_eq!(resolve_version("1.x"), "1.0.0");
        assert_eq!(resolve_version(">=2.1"), "2.1.0");
        assert_eq!(resolve_version("*"), "0.1.0");
    }

    #[test]
    fn release_names_follow_flux() {
        let spec = json!({"interval": "30m", "chart": {"spec": {"chart": "gatus", "version": "1.0.0"}}});
        assert_eq!(Release::from_spec(&hr(spec.clone())).unwrap().name, "gatus");
        let mut target = spec.clone();
        target["targetNamespace"] = json!("monitoring");
        let release = Release::from_spec(&hr(target)).unwrap();
        assert_eq!((release.name.as_str(), release.namespace.as_str()), ("monitoring-gatus", "monitoring"));
        let mut named = spec;
        named["releaseName"] = json!("status-page");
        assert_eq!(Release::from_spec(&hr(named)).unwrap().name, "status-page");
    }

    #[test]
    fn specs_flux_rejects_stall_with_its_message() {
        let (reason, message) = Release::from_spec(&hr(json!({"interval": "30m"}))).err().unwrap();
        assert_eq!((reason, message.as_str()), ("InvalidChartReference", "either chart or chartRef must be set"));
        let (_, message) = Release::from_spec(&hr(json!({"interval": "often", "chart": {"spec": {"chart": "x"}}}))).err().unwrap();
        assert!(message.starts_with("spec.interval: time: invalid duration"), "{message}");
    }

    #[test]
    fn the_workload_takes_image_replicas_and_claim_from_values() {
        let spec = json!({"interval": "30m", "chart": {"spec": {"chart": "gatus", "version": "1.0.0"}},
            "values": {"replicaCount": 2, "image": {"repository": "ghcr.io/twin/gatus", "tag": "v5.12.1"}, "persistence": {"existingClaim": "gatus-data"}}});
        let hr = hr(spec);
        let deployment = workload(&hr, &Release::from_spec(&hr).unwrap());
        assert_eq!(deployment["spec"]["replicas"], 2);
        assert_eq!(deployment["spec"]["template"]["spec"]["containers"][0]["image"], "ghcr.io/twin/gatus:v5.12.1");
        assert_eq!(deployment["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"], "gatus-data");
        assert_eq!(deployment["metadata"]["labels"][NAME_LABEL], "gatus");
    }

    #[test]
    fn go_durations_print_as_go_prints_them() {
        assert_eq!(go_duration(Duration::from_secs(300)), "5m0s");
        assert_eq!(go_duration(Duration::from_secs(45)), "45s");
        assert_eq!(go_duration(Duration::from_secs(3900)), "1h5m0s");
    }
}
