//! `secretHygiene`, on by default: in the stack's namespaces (its deploy steps',
//! its checks' and those its ApplySet recorded), no value of a Secret its pods
//! reference (`secretKeyRef`, `envFrom`, secret and projected volumes) appears in
//! a container's recent logs, in a ConfigMap, in a literal `env` value, or in the
//! config (`ENV`, labels) of an image the stack builds (`docker image inspect`;
//! skipped with a note without docker); and every container runs as non-root
//! (`runAsNonRoot: true`, or a `runAsUser` other than 0, the container's
//! securityContext over the pod's) with cpu and memory limits. The ingress
//! controller kdeck installs (ingress-nginx's namespace) is not the stack's own.
//!
//! Each finding names its place (namespace/kind/name, container, key) and the
//! Secret and key whose value it holds — never the value. Values shorter than
//! [`MIN_LENGTH`] are not searched (they would match by chance), nor the keys
//! [`not_secret`] names (user names, hosts, ports, database names, certificates).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, PodSecurityContext, Secret};
use kube::ResourceExt;
use kube::api::{Api, ListParams, LogParams};

use crate::cluster::Cluster;
use crate::stack::apply::{self, ApplySet};
use crate::stack::tunnel::said;

/// Values shorter than this are not searched (the rule redaction masks by).
pub const MIN_LENGTH: usize = crate::redact::MIN_SECRET_LENGTH;

/// Findings listed in a result at most (the count says the rest).
const SHOWN: usize = 12;

/// What the check looks at.
#[derive(Clone, Debug)]
pub struct Scope {
    /// The stack's name (its ApplySet records more namespaces).
    pub stack: String,
    pub namespaces: Vec<String>,
    /// The images the stack builds (`stack.images`).
    pub images: Vec<String>,
    pub non_root: bool,
    pub limits: bool,
    pub log_lines: u32,
    /// Namespaces of the ingress controller kdeck installs: upstream's workloads
    /// (without limits), not the stack's — left out unless kdeck.yaml names them.
    pub controller_namespaces: Vec<String>,
}

/// One searched value: where it comes from, and the value (never shown).
struct Searched {
    from: String,
    text: String,
}

/// Keys whose values are identifiers or public material, not secrets.
pub fn not_secret(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    let last = lower.rsplit(['.', '_', '-']).next().unwrap_or(&lower);
    matches!(last, "user" | "username" | "host" | "hostname" | "port" | "database" | "db" | "dbname" | "crt") || lower == "ca.crt" || lower == "tls.crt"
}

/// The Secrets (namespace, name) `pod` references, with the keys it takes (None: all).
fn referenced(pod: &Pod, into: &mut BTreeMap<(String, String), Option<BTreeSet<String>>>) {
    let namespace = pod.namespace().unwrap_or_default();
    let Some(spec) = &pod.spec else { return };
    let mut add = |name: &str, key: Option<&str>| {
        let entry = into.entry((namespace.clone(), name.to_string())).or_insert_with(|| Some(BTreeSet::new()));
        match (entry, key) {
            (Some(keys), Some(key)) => {
                keys.insert(key.to_string());
            }
            (entry, None) => *entry = None,
            _ => {}
        }
    };
    for c in spec.containers.iter().chain(spec.init_containers.iter().flatten()) {
        for e in c.env.iter().flatten() {
            if let Some(r) = e.value_from.as_ref().and_then(|v| v.secret_key_ref.as_ref()) {
                add(&r.name, Some(&r.key));
            }
        }
        for e in c.env_from.iter().flatten() {
            if let Some(r) = &e.secret_ref {
                add(&r.name, None);
            }
        }
    }
    for v in spec.volumes.iter().flatten() {
        if let Some(name) = v.secret.as_ref().and_then(|s| s.secret_name.as_deref()) {
            add(name, None);
        }
        for source in v.projected.iter().flat_map(|p| p.sources.iter().flatten()) {
            if let Some(s) = &source.secret {
                add(&s.name, None);
            }
        }
    }
}

/// The values to search for, from the referenced Secrets that exist.
async fn values(cluster: &Cluster, refs: &BTreeMap<(String, String), Option<BTreeSet<String>>>) -> Result<(Vec<Searched>, usize), String> {
    let (mut out, mut secrets) = (Vec::new(), 0);
    for ((namespace, name), keys) in refs {
        let api: Api<Secret> = Api::namespaced(cluster.client.clone(), namespace);
        let Some(secret) = api.get_opt(name).await.map_err(|e| said(&cluster.error(&format!("reading Secret {namespace}/{name}"), e)))? else { continue };
        secrets += 1;
        for (key, bytes) in secret.data.unwrap_or_default() {
            let wanted = keys.as_ref().is_none_or(|k| k.contains(&key));
            let Ok(text) = String::from_utf8(bytes.0) else { continue };
            if wanted && !not_secret(&key) && text.trim().chars().count() >= MIN_LENGTH {
                out.push(Searched { from: format!("Secret {namespace}/{name} key {key}"), text: text.trim().to_string() });
            }
        }
    }
    Ok((out, secrets))
}

/// The Secret values `text` holds, as "the value of Secret …".
fn holds(values: &[Searched], text: &str) -> Vec<String> {
    values.iter().filter(|v| text.contains(v.text.as_str())).map(|v| format!("the value of {}", v.from)).collect()
}

/// The non-root and limits findings of one container.
fn container_findings(place: &str, c: &Container, pod_sc: Option<&PodSecurityContext>, scope: &Scope) -> Vec<String> {
    let mut found = Vec::new();
    if scope.non_root {
        let sc = c.security_context.as_ref();
        let user = sc.and_then(|s| s.run_as_user).or(pod_sc.and_then(|s| s.run_as_user));
        let non_root = sc.and_then(|s| s.run_as_non_root).or(pod_sc.and_then(|s| s.run_as_non_root));
        match (user, non_root) {
            (Some(0), _) => found.push(format!("{place} container {}: runs as root (runAsUser 0)", c.name)),
            (Some(_), _) | (None, Some(true)) => {}
            (None, _) => found.push(format!("{place} container {}: may run as root (set runAsNonRoot: true or a runAsUser other than 0)", c.name)),
        }
    }
    if scope.limits {
        let limits = c.resources.as_ref().and_then(|r| r.limits.clone()).unwrap_or_default();
        let missing: Vec<&str> = ["cpu", "memory"].into_iter().filter(|k| !limits.contains_key(*k)).collect();
        if !missing.is_empty() {
            found.push(format!("{place} container {}: no {} limit", c.name, missing.join(" or ")));
        }
    }
    found
}

/// What `docker image inspect` shows of `image`'s config: (what, text) pairs.
async fn image_config(image: &str) -> Result<Vec<(String, String)>, String> {
    let Some(docker) = crate::render::tools::which("docker") else { return Err("docker is not on PATH".into()) };
    let out = tokio::process::Command::new(docker)
        .args(["image", "inspect", "--format", "{{json .Config}}", image])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| format!("docker: {e}"))?;
    if !out.status.success() {
        return Err(format!("not among docker's images ({})", String::from_utf8_lossy(&out.stderr).lines().next().unwrap_or_default().trim()));
    }
    let config: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|_| "docker printed no image config".to_string())?;
    let mut pairs = Vec::new();
    for entry in config["Env"].as_array().into_iter().flatten().filter_map(|e| e.as_str()) {
        let (name, value) = entry.split_once('=').unwrap_or((entry, ""));
        pairs.push((format!("ENV {name}"), value.to_string()));
    }
    for (label, value) in config["Labels"].as_object().into_iter().flatten() {
        pairs.push((format!("label {label}"), value.as_str().unwrap_or_default().to_string()));
    }
    Ok(pairs)
}

/// The stack's namespaces: the configuration's and its ApplySet's record.
async fn namespaces(cluster: &Cluster, scope: &Scope) -> Result<BTreeSet<String>, String> {
    let mut all: BTreeSet<String> = scope.namespaces.iter().cloned().collect();
    let parent = apply::read_parent(cluster, &ApplySet::of(&scope.stack)).await.map_err(|e| said(&e))?;
    let recorded = apply::inventory_of(parent.as_ref()).namespaces;
    all.extend(recorded.into_iter().filter(|n| !scope.controller_namespaces.contains(n)));
    Ok(all)
}

pub async fn check(cluster: &Cluster, scope: &Scope) -> Result<String, String> {
    let mut pods = Vec::new();
    let mut config_maps = Vec::new();
    for namespace in namespaces(cluster, scope).await? {
        let listed = Api::<Pod>::namespaced(cluster.client.clone(), &namespace).list(&ListParams::default()).await;
        pods.extend(
            listed
                .map_err(|e| said(&cluster.error(&format!("listing pods in {namespace}"), e)))?
                .items
                .into_iter()
                .filter(|p| p.metadata.deletion_timestamp.is_none()),
        );
        let listed = Api::<ConfigMap>::namespaced(cluster.client.clone(), &namespace).list(&ListParams::default()).await;
        config_maps.extend(listed.map_err(|e| said(&cluster.error(&format!("listing ConfigMaps in {namespace}"), e)))?.items);
    }
    let mut refs = BTreeMap::new();
    pods.iter().for_each(|p| referenced(p, &mut refs));
    let (values, secrets) = values(cluster, &refs).await?;
    let mut findings: Vec<String> = Vec::new();
    let mut containers = 0;
    for pod in &pods {
        let namespace = pod.namespace().unwrap_or_default();
        let place = format!("{namespace}/Pod/{}", pod.name_any());
        let Some(spec) = &pod.spec else { continue };
        let api: Api<Pod> = Api::namespaced(cluster.client.clone(), &namespace);
        for c in spec.init_containers.iter().flatten().chain(&spec.containers) {
            containers += 1;
            findings.extend(container_findings(&place, c, spec.security_context.as_ref(), scope));
            for e in c.env.iter().flatten() {
                for what in holds(&values, e.value.as_deref().unwrap_or_default()) {
                    findings.push(format!("{place} container {}: the literal env value of {} holds {what}", c.name, e.name));
                }
            }
            if values.is_empty() {
                continue;
            }
            let params =
                LogParams { container: Some(c.name.clone()), tail_lines: Some(i64::from(scope.log_lines)), limit_bytes: Some(4 << 20), ..Default::default() };
            // A container that has not started has no log: nothing to search.
            let Ok(log) = api.logs(&pod.name_any(), &params).await else { continue };
            for what in holds(&values, &log) {
                findings.push(format!("{place} container {}: its log (last {} lines) holds {what}", c.name, scope.log_lines));
            }
        }
    }
    for cm in &config_maps {
        let place = format!("{}/ConfigMap/{}", cm.namespace().unwrap_or_default(), cm.name_any());
        let binary = cm.binary_data.iter().flatten().map(|(k, v)| (k.clone(), String::from_utf8_lossy(&v.0).to_string()));
        for (key, text) in cm.data.clone().unwrap_or_default().into_iter().chain(binary) {
            for what in holds(&values, &text) {
                findings.push(format!("{place} key {key}: holds {what}"));
            }
        }
    }
    let mut notes = Vec::new();
    for image in &scope.images {
        match image_config(image).await {
            Ok(pairs) => {
                for (what_in, text) in pairs {
                    for what in holds(&values, &text) {
                        findings.push(format!("image {image}: {what_in} holds {what}"));
                    }
                }
            }
            Err(why) => notes.push(format!("image {image} not inspected: {why}")),
        }
    }
    let notes = if notes.is_empty() { String::new() } else { format!(" ({})", notes.join("; ")) };
    if findings.is_empty() {
        let rules = match (scope.non_root, scope.limits) {
            (true, true) => "; all non-root with cpu and memory limits",
            (true, false) => "; all non-root",
            (false, true) => "; all with cpu and memory limits",
            (false, false) => "",
        };
        return Ok(format!(
            "{} value(s) of {secrets} Secret(s) found in none of the logs of {containers} container(s), {} ConfigMap(s), literal env values or {} image(s){rules}{notes}",
            values.len(),
            config_maps.len(),
            scope.images.len()
        ));
    }
    let count = findings.len();
    let more = if count > SHOWN { format!("; and {} more", count - SHOWN) } else { String::new() };
    findings.truncate(SHOWN);
    Err(format!("{count} finding(s): {}{more}{notes}", findings.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope() -> Scope {
        Scope { stack: "s".into(), namespaces: vec![], images: vec![], non_root: true, limits: true, log_lines: 10, controller_namespaces: vec![] }
    }

    #[test]
    fn keys_that_name_things_are_not_secrets() {
        assert!(not_secret("POSTGRES_USER") && not_secret("db-host") && not_secret("tls.crt") && not_secret("POSTGRES_DB"));
        assert!(!not_secret("POSTGRES_PASSWORD") && !not_secret("api-key") && !not_secret("tls.key"));
    }

    #[test]
    fn containers_are_judged_by_their_security_context_over_the_pods() {
        let c: Container = serde_json::from_value(json!({"name": "app", "resources": {"limits": {"memory": "64Mi"}}})).unwrap();
        let found = container_findings("ns/Pod/p", &c, None, &scope());
        assert_eq!(
            found,
            ["ns/Pod/p container app: may run as root (set runAsNonRoot: true or a runAsUser other than 0)", "ns/Pod/p container app: no cpu limit"]
        );
        let pod_sc: PodSecurityContext = serde_json::from_value(json!({"runAsNonRoot": true})).unwrap();
        assert_eq!(container_findings("p", &c, Some(&pod_sc), &scope()).len(), 1);
        let root: Container = serde_json::from_value(json!({"name": "app", "securityContext": {"runAsUser": 0}})).unwrap();
        assert!(container_findings("p", &root, Some(&pod_sc), &scope())[0].ends_with("runs as root (runAsUser 0)"));
    }

    #[test]
    fn references_and_matches() {
        let pod: Pod = serde_json::from_value(json!({"metadata": {"namespace": "ns"}, "spec": {"containers": [{"name": "a",
            "env": [{"name": "K", "valueFrom": {"secretKeyRef": {"name": "s1", "key": "k"}}}], "envFrom": [{"secretRef": {"name": "s2"}}]}],
            "volumes": [{"name": "v", "secret": {"secretName": "s3"}}]}}))
        .unwrap();
        let mut refs = BTreeMap::new();
        referenced(&pod, &mut refs);
        assert_eq!(refs[&("ns".to_string(), "s1".to_string())], Some(["k".to_string()].into()));
        assert_eq!(refs[&("ns".to_string(), "s2".to_string())], None);
        assert!(refs.contains_key(&("ns".to_string(), "s3".to_string())));
        let values = [Searched { from: "Secret ns/s1 key k".into(), text: "hunter22".into() }];
        assert_eq!(holds(&values, "login with hunter22 ok"), ["the value of Secret ns/s1 key k"]);
        assert!(holds(&values, "nothing").is_empty());
    }
}
