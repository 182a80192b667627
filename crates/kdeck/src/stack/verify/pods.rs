//! Checks that look at or into a workload's pods: `exec` (a command in its first
//! ready pod, through [`crate::ops::exec`], judged by exit code and stdout) and
//! `env` (its pod template gives every container the named variables from a
//! ConfigMap or Secret — read from the spec; values are never read into a message).

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, PodSpec, Secret};
use kube::ResourceExt;
use kube::api::Api;

use super::plan::Source;
use crate::cluster::Cluster;
use crate::cluster::target::{self, Target, Workload};
use crate::ops::exec::{self, Session};
use crate::stack::tunnel::said;

/// What a command printed, kept (up to 1 MiB) to be searched, never shown.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl tokio::io::AsyncWrite for Capture {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        if let Ok(mut kept) = self.0.lock()
            && kept.len() < 1024 * 1024
        {
            kept.extend_from_slice(buf);
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

pub struct ExecSpec<'a> {
    pub namespace: &'a str,
    pub target: &'a Target,
    pub container: Option<&'a str>,
    pub command: &'a [String],
    pub exit_code: i32,
    pub stdout_contains: Option<&'a str>,
}

pub async fn exec(cluster: &Cluster, spec: &ExecSpec<'_>) -> Result<String, String> {
    let pod = spec.target.ready_pod(cluster, spec.namespace).await.map_err(|e| said(&e))?;
    let container = target::container(&pod, spec.container, "name one with exec.container").map_err(|e| said(&e))?;
    let pod_name = pod.name_any();
    let session = Session { namespace: spec.namespace, pod: &pod_name, container: &container, command: spec.command, tty: false, stdin: false };
    let out = Capture::default();
    let code = exec::run_with_output(cluster, &session, Box::new(out.clone()), Box::new(Capture::default())).await.map_err(|e| said(&e))?;
    let where_ = format!("in pod {pod_name} (container {container})");
    if code != spec.exit_code {
        return Err(format!("exit code {code} (expected {}) {where_}", spec.exit_code));
    }
    let stdout = out.0.lock().map(|o| String::from_utf8_lossy(&o).to_string()).unwrap_or_default();
    if let Some(text) = spec.stdout_contains {
        if !stdout.contains(text) {
            return Err(format!("exit code {code}, but stdout ({} bytes) does not contain {text:?} {where_}", stdout.len()));
        }
        return Ok(format!("exit code {code}, stdout contains {text:?} {where_}"));
    }
    Ok(format!("exit code {code} {where_}"))
}

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

/// The keys of the ConfigMap or Secret (its values are not kept); None when it does not exist.
async fn source_keys(cluster: &Cluster, namespace: &str, source: &Source) -> Result<Option<Vec<String>>, String> {
    let read = |e: kube::Error| said(&cluster.error(&format!("reading {}", source.describe()), e));
    Ok(match source {
        Source::ConfigMap(name) => Api::<ConfigMap>::namespaced(cluster.client.clone(), namespace)
            .get_opt(name)
            .await
            .map_err(read)?
            .map(|cm| cm.data.unwrap_or_default().into_keys().chain(cm.binary_data.unwrap_or_default().into_keys()).collect()),
        Source::Secret(name) => Api::<Secret>::namespaced(cluster.client.clone(), namespace)
            .get_opt(name)
            .await
            .map_err(read)?
            .map(|s| s.data.unwrap_or_default().into_keys().collect()),
    })
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
    let uses_env_from = spec.containers.iter().any(|c| c.env_from.as_ref().is_some_and(|e| !e.is_empty()));
    let keys = if uses_env_from { Some(source_keys(cluster, namespace, source).await?) } else { None };
    let problems: Vec<String> = spec.containers.iter().flat_map(|c| variables.iter().filter_map(|v| variable_problem(c, v, source, keys.as_ref()))).collect();
    if problems.is_empty() {
        return Ok(format!("{} variable(s) from {} in {} container(s) of {target}", variables.len(), source.describe(), spec.containers.len()));
    }
    Err(problems.join("; "))
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
}
