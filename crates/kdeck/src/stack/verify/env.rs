//! `env`: every container of a workload gets the named variables from a ConfigMap
//! or Secret — read from the pod template (`env` valueFrom, `envFrom` with its
//! prefix) and, where the image has `env` or `printenv`, from the running
//! containers of its first ready pod: each variable set, and equal to the
//! ConfigMap's or Secret's value. Values are compared, never put in a message.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, PodSpec, Secret};
use kube::api::Api;

use super::inpod::{InPod, Ran};
use super::plan::Source;
use crate::cluster::Cluster;
use crate::cluster::target::{Target, Workload};
use crate::stack::tunnel::said;

/// The pod spec the target runs: a workload's template, or a pod's own.
async fn pod_spec(cluster: &Cluster, namespace: &str, target: &Target) -> Result<PodSpec, String> {
    let client = cluster.client.clone();
    let read = |what: &str, e: kube::Error| said(&cluster.error(&format!("reading {what}"), e));
    let missing = |what: String| format!("{what} not found in namespace {namespace}");
    let spec = match target {
        Target::Pod(name) => {
            let pod = Api::<Pod>::namespaced(client, namespace).get_opt(name).await.map_err(|e| read(&target.to_string(), e))?;
            pod.ok_or_else(|| missing(target.to_string()))?.spec
        }
        Target::Workload(kind, name) => {
            macro_rules! template {
                ($kind:ty) => {{
                    let found = Api::<$kind>::namespaced(client, namespace).get_opt(name).await.map_err(|e| read(&target.to_string(), e))?;
                    found.ok_or_else(|| missing(target.to_string()))?.spec.and_then(|s| s.template.spec)
                }};
            }
            match kind {
                Workload::Deployment => template!(Deployment),
                Workload::StatefulSet => template!(StatefulSet),
                Workload::DaemonSet => template!(DaemonSet),
                Workload::ReplicaSet => {
                    let found = Api::<ReplicaSet>::namespaced(client, namespace).get_opt(name).await.map_err(|e| read(&target.to_string(), e))?;
                    found.ok_or_else(|| missing(target.to_string()))?.spec.and_then(|s| s.template).and_then(|t| t.spec)
                }
                Workload::Job => {
                    let found = Api::<Job>::namespaced(client, namespace).get_opt(name).await.map_err(|e| read(&target.to_string(), e))?;
                    found.ok_or_else(|| missing(target.to_string()))?.spec.and_then(|s| s.template.spec)
                }
                Workload::Service => return Err("a Service has no containers: name its workload".into()),
            }
        }
        Target::Selector(_) => return Err("a selector has no single pod template: name its workload".into()),
    };
    spec.ok_or_else(|| format!("{target} has no pod template"))
}

/// The ConfigMap's or Secret's data (kept to compare, never shown); None when it does not exist.
async fn source_data(cluster: &Cluster, namespace: &str, source: &Source) -> Result<Option<BTreeMap<String, Vec<u8>>>, String> {
    let read = |e: kube::Error| said(&cluster.error(&format!("reading {}", source.describe()), e));
    Ok(match source {
        Source::ConfigMap(name) => Api::<ConfigMap>::namespaced(cluster.client.clone(), namespace).get_opt(name).await.map_err(read)?.map(|cm| {
            let text = cm.data.unwrap_or_default().into_iter().map(|(k, v)| (k, v.into_bytes()));
            text.chain(cm.binary_data.unwrap_or_default().into_iter().map(|(k, v)| (k, v.0))).collect()
        }),
        Source::Secret(name) => Api::<Secret>::namespaced(cluster.client.clone(), namespace)
            .get_opt(name)
            .await
            .map_err(read)?
            .map(|s| s.data.unwrap_or_default().into_iter().map(|(k, v)| (k, v.0)).collect()),
    })
}

/// The key of `source` that `variable` takes its value from in `container`, if the spec says one.
fn source_key(container: &Container, variable: &str, source: &Source, data: &BTreeMap<String, Vec<u8>>) -> Option<String> {
    if let Some(entry) = container.env.iter().flatten().rev().find(|e| e.name == variable) {
        let value_from = entry.value_from.as_ref()?;
        return match source {
            Source::ConfigMap(cm) => value_from.config_map_key_ref.as_ref().filter(|r| &r.name == cm).map(|r| r.key.clone()),
            Source::Secret(s) => value_from.secret_key_ref.as_ref().filter(|r| &r.name == s).map(|r| r.key.clone()),
        };
    }
    container.env_from.iter().flatten().rev().find_map(|e| {
        let named = match source {
            Source::ConfigMap(cm) => e.config_map_ref.as_ref().is_some_and(|r| &r.name == cm),
            Source::Secret(s) => e.secret_ref.as_ref().is_some_and(|r| &r.name == s),
        };
        let key = variable.strip_prefix(e.prefix.as_deref().unwrap_or_default())?;
        (named && data.contains_key(key)).then(|| key.to_string())
    })
}

/// The environment `env -0` / `printenv -0` (else their newline form) printed.
fn parse_environment(ran: &Ran, nul: bool) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    if nul {
        for entry in ran.stdout.split('\0') {
            if let Some((name, value)) = entry.split_once('=') {
                out.insert(name.trim_start_matches('\n').to_string(), value.as_bytes().to_vec());
            }
        }
        return out;
    }
    // Newline-separated: a line that does not start a NAME= continues the value before it.
    let mut last: Option<String> = None;
    for line in ran.stdout.lines() {
        let starts = line.split_once('=').filter(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        match (starts, &last) {
            (Some((name, value)), _) => {
                out.insert(name.to_string(), value.as_bytes().to_vec());
                last = Some(name.to_string());
            }
            (None, Some(name)) => {
                if let Some(value) = out.get_mut(name) {
                    value.push(b'\n');
                    value.extend_from_slice(line.as_bytes());
                }
            }
            (None, None) => {}
        }
    }
    out
}

/// The running container's environment, or None when the image has no `env` nor `printenv`.
async fn running_environment(pod: &InPod<'_>) -> Result<Option<BTreeMap<String, Vec<u8>>>, String> {
    for (argv, nul) in [(&["env", "-0"][..], true), (&["printenv", "-0"][..], true), (&["env"][..], false), (&["printenv"][..], false)] {
        let ran = pod.run(argv).await?;
        if ran.code == 0 {
            return Ok(Some(parse_environment(&ran, nul)));
        }
    }
    Ok(None)
}

/// The problems of the running containers of `pod`: variables unset, or unequal to the source's value.
async fn running_problems(
    cluster: &Cluster,
    namespace: &str,
    pod: &Pod,
    source: &Source,
    variables: &[String],
    data: &BTreeMap<String, Vec<u8>>,
) -> Result<(Vec<String>, Vec<String>), String> {
    let (mut problems, mut unchecked) = (Vec::new(), Vec::new());
    for container in pod.spec.as_ref().map(|s| s.containers.as_slice()).unwrap_or_default() {
        let inside = InPod::at(cluster, namespace, pod.clone(), Some(&container.name))?;
        let Some(environment) = running_environment(&inside).await? else {
            unchecked.push(container.name.clone());
            continue;
        };
        for variable in variables {
            let Some(value) = environment.get(variable) else {
                problems.push(format!("{}: {variable} is not set in the running container", inside.describe()));
                continue;
            };
            if let Some(key) = source_key(container, variable, source, data)
                && data.get(&key).is_some_and(|expected| expected.as_slice() != value.as_slice())
            {
                problems.push(format!(
                    "{}: {variable} in the running container differs from {} key {key} (started before a change? restart it)",
                    inside.describe(),
                    source.describe()
                ));
            }
        }
    }
    Ok((problems, unchecked))
}

/// Where one container's `variable` comes from, as a problem when it is not `source`.
/// `keys`: the source's keys (for `envFrom`), read once when first needed.
fn variable_problem(container: &Container, variable: &str, source: &Source, keys: Option<&Option<Vec<String>>>) -> Option<String> {
    let name = &container.name;
    let from = source.describe();
    // `env` wins over `envFrom`, and the last `env` entry of a name wins.
    if let Some(entry) = container.env.iter().flatten().rev().find(|e| e.name == variable) {
        let value_from = entry.value_from.as_ref();
        let cm = value_from.and_then(|v| v.config_map_key_ref.as_ref()).map(|r| format!("ConfigMap {}", r.name));
        let secret = value_from.and_then(|v| v.secret_key_ref.as_ref()).map(|r| format!("Secret {}", r.name));
        let actual = cm.or(secret);
        return match actual {
            Some(actual) if actual == from => None,
            Some(actual) => Some(format!("container {name}: {variable} comes from {actual} (expected {from})")),
            None if value_from.is_some() => Some(format!("container {name}: {variable} comes from a field reference (expected {from})")),
            None => Some(format!("container {name}: {variable} is a literal env value (expected from {from})")),
        };
    }
    let prefix_of = |e: &k8s_openapi::api::core::v1::EnvFromSource| {
        let named = match source {
            Source::ConfigMap(cm) => e.config_map_ref.as_ref().is_some_and(|r| &r.name == cm),
            Source::Secret(s) => e.secret_ref.as_ref().is_some_and(|r| &r.name == s),
        };
        named.then(|| e.prefix.clone().unwrap_or_default())
    };
    let prefixes: Vec<String> = container.env_from.iter().flatten().filter_map(prefix_of).collect();
    if prefixes.is_empty() {
        return Some(format!("container {name} does not get {variable} from {from} (neither env valueFrom nor envFrom names it)"));
    }
    match keys {
        Some(None) => Some(format!("container {name}: envFrom names {from}, which does not exist")),
        Some(Some(keys)) if prefixes.iter().any(|p| variable.strip_prefix(p.as_str()).is_some_and(|k| keys.iter().any(|key| key == k))) => None,
        Some(Some(_)) => Some(format!("container {name}: envFrom {from} has no key for {variable}")),
        None => None,
    }
}

pub async fn env(cluster: &Cluster, namespace: &str, target: &Target, source: &Source, variables: &[String]) -> Result<String, String> {
    let spec = pod_spec(cluster, namespace, target).await?;
    let data = source_data(cluster, namespace, source).await?;
    let keys: Option<Vec<String>> = data.as_ref().map(|d| d.keys().cloned().collect());
    let problems: Vec<String> = spec.containers.iter().flat_map(|c| variables.iter().filter_map(|v| variable_problem(c, v, source, Some(&keys)))).collect();
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    let in_spec = format!("{} variable(s) from {} in {} container(s) of {target}", variables.len(), source.describe(), spec.containers.len());
    // A workload with no ready pod (a finished Job, say) is judged by its spec alone.
    let pod = match target.ready_pod(cluster, namespace).await {
        Ok(pod) => pod,
        Err(e) => return Ok(format!("{in_spec}; no ready pod to look into ({})", e.message)),
    };
    let (problems, unchecked) = running_problems(cluster, namespace, &pod, source, variables, &data.unwrap_or_default()).await?;
    if !problems.is_empty() {
        return Err(format!("the spec gives them, but: {}", problems.join("; ")));
    }
    let pod_name = kube::ResourceExt::name_any(&pod);
    let checked = spec.containers.len() - unchecked.len().min(spec.containers.len());
    let note =
        if unchecked.is_empty() { String::new() } else { format!("; container(s) {} not looked into (no env or printenv in the image)", unchecked.join(", ")) };
    Ok(format!("{in_spec}; set and equal in {checked} running container(s) of pod {pod_name}{note}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn container(value: serde_json::Value) -> Container {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn variables_come_from_where_the_spec_says() {
        let cm = Source::ConfigMap("api-config".into());
        let keys = Some(Some(vec!["LOG_LEVEL".to_string()]));
        let c = container(json!({"name": "api", "envFrom": [{"configMapRef": {"name": "api-config"}}],
            "env": [{"name": "DB", "valueFrom": {"configMapKeyRef": {"name": "api-config", "key": "db"}}}, {"name": "MODE", "value": "x"}]}));
        assert_eq!(variable_problem(&c, "LOG_LEVEL", &cm, keys.as_ref()), None);
        assert_eq!(variable_problem(&c, "DB", &cm, keys.as_ref()), None);
        assert!(variable_problem(&c, "MODE", &cm, keys.as_ref()).unwrap().contains("literal env value"));
        assert!(variable_problem(&c, "OTHER", &cm, keys.as_ref()).unwrap().contains("has no key for OTHER"));
        let bare = container(json!({"name": "side"}));
        assert!(variable_problem(&bare, "LOG_LEVEL", &cm, keys.as_ref()).unwrap().starts_with("container side does not get LOG_LEVEL"));
        let secret = Source::Secret("s".into());
        let c = container(json!({"name": "api", "env": [{"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "other", "key": "k"}}}]}));
        assert_eq!(variable_problem(&c, "KEY", &secret, None).unwrap(), "container api: KEY comes from Secret other (expected Secret s)");
    }

    #[test]
    fn running_environments_are_read_and_keys_found() {
        let ran = |stdout: &str| Ran { stdout: stdout.into(), ..Default::default() };
        let nul = parse_environment(&ran("A=1\0B=two\nlines\0"), true);
        assert_eq!(nul["B"], b"two\nlines");
        let plain = parse_environment(&ran("A=1\nB=two\nlines\nC=3\n"), false);
        assert_eq!((plain["B"].as_slice(), plain["C"].as_slice()), (b"two\nlines".as_slice(), b"3".as_slice()));
        let cm = Source::ConfigMap("api-config".into());
        let data: BTreeMap<String, Vec<u8>> = [("LEVEL".to_string(), b"info".to_vec()), ("db".to_string(), b"x".to_vec())].into();
        let c = container(json!({"name": "api", "envFrom": [{"prefix": "APP_", "configMapRef": {"name": "api-config"}}],
            "env": [{"name": "DB", "valueFrom": {"configMapKeyRef": {"name": "api-config", "key": "db"}}}]}));
        assert_eq!(source_key(&c, "APP_LEVEL", &cm, &data).as_deref(), Some("LEVEL"));
        assert_eq!(source_key(&c, "DB", &cm, &data).as_deref(), Some("db"));
        assert_eq!(source_key(&c, "OTHER", &cm, &data), None);
    }
}
