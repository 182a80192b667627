//! `job`: the task in a fresh pod made from the component's pod template (image,
//! env, envFrom, volumes, service account), run as a Job with `backoffLimit: 0`
//! and a TTL. Its log is streamed, its exit code returned, and the Job deleted on
//! every way out: success, failure, timeout, Ctrl-C. For tasks that must not run
//! inside a serving replica.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::{Job as K8sJob, JobSpec};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, PostParams, PropagationPolicy, WatchEvent, WatchParams};
use tokio::sync::mpsc;

use crate::cluster::access::{self, Permission};
use crate::cluster::target::{Target, Workload};
use crate::cluster::{Cluster, target};
use crate::error::{Error, ExitCode, Result};
use crate::ops::logs;
use crate::tasks::output::{Output, Stream};
use crate::tasks::resolve::Resolved;
use crate::tasks::script::remote_shell;

/// Labels on the Jobs kdeck creates and on their pods.
pub const PURPOSE_LABEL: &str = "kdeck.dev/purpose";
pub const RUN_LABEL: &str = "kdeck.dev/run";
/// How long a finished Job stays if kdeck could not delete it.
const TTL_SECONDS: i32 = 600;

pub struct Job {
    cluster: Cluster,
    namespace: String,
    manifest: K8sJob,
    container: String,
}

pub async fn prepare(resolved: &Resolved, plan: &mut Vec<(&'static str, String)>) -> Result<Job> {
    let (cluster, namespace, kube) = super::kubernetes::connect(resolved, plan).await?;
    access::require(&cluster, &namespace, Permission { verb: "create", group: "batch", resource: "jobs", subresource: None }).await?;
    let (template, from) = pod_template(&cluster, &namespace, &kube.workload).await?;
    let as_pod = Pod { metadata: template.metadata.clone().unwrap_or_default(), spec: template.spec.clone(), status: None };
    let container = target::container(&as_pod, kube.container.as_deref(), &kube.container_hint)?;
    let command = remote_shell(&resolved.body, &resolved.args, &resolved.env, resolved.workdir.as_deref());
    let name = job_name(&resolved.name);
    let manifest = job_manifest(&name, &resolved.name, template, &container, command, resolved.timeout);
    let image =
        manifest.spec.as_ref().and_then(|s| s.template.spec.as_ref()).and_then(|s| s.containers.first()).and_then(|c| c.image.clone()).unwrap_or_default();
    plan.push(("job", format!("{name} (from the pod template of {from}; deleted when it ends)")));
    plan.push(("container", format!("{container} (image {image})")));
    plan.push(("directory", resolved.workdir_shown.clone().unwrap_or_else(|| "(the container's)".into())));
    plan.push(("command", resolved.body_shown.describe("sh -euc", &resolved.args)));
    Ok(Job { cluster, namespace, manifest, container })
}

/// The pod template to copy: a Deployment's own, or the spec of the first ready
/// pod of a selector.
async fn pod_template(cluster: &Cluster, namespace: &str, workload: &Target) -> Result<(PodTemplateSpec, String)> {
    if let Target::Workload(Workload::Deployment, name) = workload {
        let api: Api<Deployment> = Api::namespaced(cluster.client.clone(), namespace);
        let deployment = match api.get_opt(name).await.map_err(|e| cluster.error(&format!("reading deploy/{name}"), e))? {
            Some(d) => d,
            None => {
                return Err(Error::not_found(format!("deploy/{name} not found in namespace {namespace} (context {})", cluster.context))
                    .hint(crate::cluster::existing_names(&api, "Deployments", &format!("in namespace {namespace}")).await));
            }
        };
        let template = deployment.spec.map(|s| s.template).unwrap_or_default();
        return Ok((template, format!("deploy/{name}")));
    }
    let pod = workload.ready_pod(cluster, namespace).await?;
    let from = format!("pod {} ({workload})", pod.name_any());
    let metadata = ObjectMeta { annotations: pod.metadata.annotations.clone(), ..Default::default() };
    Ok((PodTemplateSpec { metadata: Some(metadata), spec: pod.spec }, from))
}

/// `kdeck-<task>-<suffix>`: a valid, unique, recognisable Job name.
fn job_name(task: &str) -> String {
    let mut base: String = task.to_ascii_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    base.truncate(40);
    let base = base.trim_matches('-');
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let mut n = (nanos ^ (u128::from(std::process::id()) << 32)) as u64;
    let suffix: String = (0..5)
        .map(|_| {
            let c = b"bcdfghjklmnpqrstvwxz2456789"[(n % 27) as usize] as char;
            n /= 27;
            c
        })
        .collect();
    format!("kdeck-{base}-{suffix}")
}

/// The Job: the template's pod with only the chosen container, running the task
/// instead of its command, without probes, never restarted. The template's labels
/// are not copied, so the pod joins no Service and no ReplicaSet counts it.
fn job_manifest(name: &str, task: &str, template: PodTemplateSpec, container: &str, command: Vec<String>, timeout: Option<Duration>) -> K8sJob {
    let mut spec = template.spec.unwrap_or_default();
    spec.containers.retain(|c| c.name == container);
    for c in &mut spec.containers {
        c.command = Some(command.clone());
        c.args = None;
        c.liveness_probe = None;
        c.readiness_probe = None;
        c.startup_probe = None;
    }
    spec.restart_policy = Some("Never".into());
    let labels = [(PURPOSE_LABEL.to_string(), "task".to_string()), (RUN_LABEL.to_string(), name.to_string())].into_iter().collect();
    let annotations = template.metadata.and_then(|m| m.annotations);
    K8sJob {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(labels),
            annotations: Some([("kdeck.dev/task".to_string(), task.to_string())].into_iter().collect()),
            ..Default::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(0),
            ttl_seconds_after_finished: Some(TTL_SECONDS),
            active_deadline_seconds: timeout.map(|t| t.as_secs().max(1) as i64),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some([(PURPOSE_LABEL.to_string(), "task".to_string()), (RUN_LABEL.to_string(), name.to_string())].into_iter().collect()),
                    annotations,
                    ..Default::default()
                }),
                spec: Some(spec),
            },
            ..Default::default()
        }),
        status: None,
    }
}

impl Job {
    pub async fn run(&self, resolved: &Resolved, output: &Output) -> Result<i32> {
        let jobs: Api<K8sJob> = Api::namespaced(self.cluster.client.clone(), &self.namespace);
        let name = self.manifest.name_any();
        jobs.create(&PostParams::default(), &self.manifest).await.map_err(|e| self.cluster.error(&format!("creating job {}/{name}", self.namespace), e))?;
        output.note(&format!("kdeck: running {} in job {}/{name}", resolved.name, self.namespace));
        let deadline = async {
            match resolved.timeout {
                Some(limit) => tokio::time::sleep(limit).await,
                None => std::future::pending().await,
            }
        };
        let result = tokio::select! {
            result = self.follow(&name, output) => result,
            _ = deadline => Err(super::timed_out(resolved, resolved.timeout.unwrap_or_default())),
            _ = tokio::signal::ctrl_c() => Err(Error::new(ExitCode::Remote(130), "interrupted")),
        };
        let background = DeleteParams { propagation_policy: Some(PropagationPolicy::Background), ..DeleteParams::default() };
        if let Err(e) = jobs.delete(&name, &background).await {
            output.note(&format!("kdeck: could not delete job {}/{name} ({e}); its TTL removes it in {TTL_SECONDS}s", self.namespace));
        }
        result
    }

    /// Waits for the pod to start, streams its log, and returns its exit code.
    async fn follow(&self, job: &str, output: &Output) -> Result<i32> {
        let client = self.cluster.streaming_client()?;
        let pods: Api<Pod> = Api::namespaced(client.clone(), &self.namespace);
        let pod = self.started_pod(&pods, job, output).await?;
        let (lines_tx, mut lines_rx) = mpsc::channel::<String>(256);
        let follow = logs::follow_one(client, &self.namespace, &pod, &self.container, lines_tx);
        let mut out = output.writer(Stream::Stdout);
        let print = async {
            while let Some(line) = lines_rx.recv().await {
                out.write_bytes(format!("{line}\n").as_bytes());
            }
        };
        tokio::join!(follow, print);
        self.exit_code(&pods, &pod).await
    }

    /// The Job's pod once its container runs (or already ended). Fails when it cannot
    /// start: image pull errors, missing config.
    async fn started_pod(&self, pods: &Api<Pod>, job: &str, output: &Output) -> Result<String> {
        let selector = format!("{RUN_LABEL}={job}");
        let mut said = String::new();
        loop {
            let list = pods.list(&kube::api::ListParams::default().labels(&selector)).await.map_err(|e| self.cluster.error("listing the job's pods", e))?;
            for pod in &list.items {
                if let Some(state) = self.check_started(pod)? {
                    return Ok(state);
                }
                let waiting = target::pod_state(pod);
                if pod.status.as_ref().is_some_and(|s| s.phase.is_some()) && waiting != said {
                    output.note(&format!("kdeck: pod {}: {waiting}", pod.name_any()));
                    said = waiting;
                }
            }
            let version = list.metadata.resource_version.unwrap_or_default();
            let params = WatchParams::default().labels(&selector).timeout(30);
            let mut events = pods.watch(&params, &version).await.map_err(|e| self.cluster.error("watching the job's pods", e))?.boxed();
            // Any change: look again (the list above is the one place that decides).
            while let Ok(Some(event)) = events.try_next().await {
                if matches!(event, WatchEvent::Added(_) | WatchEvent::Modified(_) | WatchEvent::Deleted(_)) {
                    break;
                }
            }
        }
    }

    /// Some(pod name) when the container has started; an error when it cannot.
    fn check_started(&self, pod: &Pod) -> Result<Option<String>> {
        let status = pod.status.as_ref().and_then(|s| s.container_statuses.as_ref()).and_then(|c| c.iter().find(|c| c.name == self.container));
        let Some(state) = status.and_then(|s| s.state.as_ref()) else { return Ok(None) };
        if state.running.is_some() || state.terminated.is_some() {
            return Ok(Some(pod.name_any()));
        }
        if let Some(waiting) = &state.waiting {
            let reason = waiting.reason.as_deref().unwrap_or_default();
            if matches!(reason, "ErrImagePull" | "ImagePullBackOff" | "InvalidImageName" | "CreateContainerConfigError" | "CreateContainerError") {
                return Err(
                    Error::failure(format!("the job's pod {} cannot start: {reason}", pod.name_any())).hint(waiting.message.clone().unwrap_or_default())
                );
            }
        }
        Ok(None)
    }

    async fn exit_code(&self, pods: &Api<Pod>, pod: &str) -> Result<i32> {
        // The log ends as the container stops; the status may trail it a little.
        for _ in 0..50 {
            let current = pods.get_opt(pod).await.map_err(|e| self.cluster.error(&format!("reading pod {pod}"), e))?;
            let Some(current) = current else { break };
            let terminated = current
                .status
                .as_ref()
                .and_then(|s| s.container_statuses.as_ref())
                .and_then(|c| c.iter().find(|c| c.name == self.container))
                .and_then(|c| c.state.as_ref()?.terminated.clone());
            if let Some(terminated) = terminated {
                return Ok(terminated.exit_code);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(Error::failure(format!("the job's pod {}/{pod} ended without an exit code", self.namespace)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_job_keeps_the_template_but_runs_only_the_task() {
        let template: PodTemplateSpec = serde_json::from_value(json!({
            "metadata": {"labels": {"app": "api"}, "annotations": {"vault.io/inject": "true"}},
            "spec": {"serviceAccountName": "api", "volumes": [{"name": "cfg", "configMap": {"name": "cfg"}}],
                     "containers": [
                        {"name": "api", "image": "api:1", "command": ["serve"], "args": ["--port", "80"], "envFrom": [{"secretRef": {"name": "db"}}],
                         "readinessProbe": {"httpGet": {"path": "/", "port": 80}}},
                        {"name": "proxy", "image": "envoy"}]}
        }))
        .unwrap();
        let job =
            job_manifest("kdeck-migrate-abcde", "api:migrate", template, "api", vec!["sh".into(), "-euc".into(), "x".into()], Some(Duration::from_secs(90)));
        let spec = job.spec.unwrap();
        assert_eq!((spec.backoff_limit, spec.active_deadline_seconds), (Some(0), Some(90)));
        let metadata = spec.template.metadata.unwrap();
        assert!(!metadata.labels.as_ref().unwrap().contains_key("app"), "no Service may select the task's pod");
        assert_eq!(metadata.annotations.unwrap()["vault.io/inject"], "true");
        let pod = spec.template.spec.unwrap();
        assert_eq!(pod.service_account_name.as_deref(), Some("api"));
        assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
        assert_eq!(pod.containers.len(), 1);
        let c = &pod.containers[0];
        assert_eq!((c.command.as_deref(), c.args.as_ref(), c.readiness_probe.as_ref()), (Some(&["sh".to_string(), "-euc".into(), "x".into()][..]), None, None));
        assert!(c.env_from.is_some() && pod.volumes.is_some());
    }

    #[test]
    fn job_names_are_valid_dns_names_within_the_length_limit() {
        let a = job_name("api:Migrate_DB");
        assert!(a.starts_with("kdeck-api-migrate-db-"), "{a}");
        assert!(crate::cluster::names::validate_name("job", &a).is_ok());
        assert!(job_name(&"x".repeat(100)).len() <= 63);
    }
}
