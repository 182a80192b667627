//! `job`: the task in a fresh pod made from the component's pod template (image,
//! env, envFrom, volumes, service account), run as a Job with `backoffLimit: 0`
//! and a TTL. The task's env travels in a Secret owned by the Job, never in the
//! Job itself. Its log is streamed, its exit code returned, and the Job (with the
//! Secret) deleted on every way out: success, failure, timeout, a signal. For
//! tasks that must not run inside a serving replica.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::{Job as K8sJob, JobSpec};
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, Pod, PodTemplateSpec, Secret, SecretKeySelector};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, PropagationPolicy, WatchEvent, WatchParams};
use serde_json::json;
use tokio::sync::mpsc;

use crate::cluster::access::{self, Permission};
use crate::cluster::delete::{self, Deleted, Precondition};
use crate::cluster::target::{StartState, Target, Workload, start_state};
use crate::cluster::{Cluster, MANAGED_BY_LABEL, PURPOSE_LABEL, names, target};
use crate::error::{Error, Result};
use crate::interrupt::Interrupt;
use crate::ops::logs;
use crate::tasks::output::{Output, Stream};
use crate::tasks::resolve::Resolved;
use crate::tasks::script::{self, remote_shell};

/// The label naming the run on a task's Job, its pod and its Secret.
pub const RUN_LABEL: &str = "kdeck.dev/run";
/// The sandbox's opt-in for a pod whose command really runs.
const RUN_COMMAND_ANNOTATION: &str = kdeck_sandbox::kubelet::command::ANNOTATION;
/// How long a finished Job stays if kdeck could not delete it.
const TTL_SECONDS: i32 = 600;

/// How long after the task's timeout the Job's `activeDeadlineSeconds` stops it,
/// if kdeck is no longer there to.
const DEADLINE_MARGIN_SECONDS: u64 = 30;

pub struct Job {
    cluster: Cluster,
    namespace: String,
    manifest: K8sJob,
    /// The task's env, for the Job's Secret (None without env).
    secret: Option<Secret>,
    container: String,
    /// The uids of the Job and Secret once created: only they are deleted.
    created: std::sync::Mutex<Created>,
}

#[derive(Clone, Default)]
struct Created {
    job: Option<Precondition>,
    secret: Option<Precondition>,
}

pub async fn prepare(resolved: &Resolved, plan: &mut Vec<(&'static str, String)>) -> Result<Job> {
    let (cluster, namespace, kube) = super::connect(resolved, plan).await?;
    access::require(&cluster, &namespace, Permission { verb: "create", group: "batch", resource: "jobs", subresource: None }).await?;
    if !resolved.env.is_empty() {
        access::require(&cluster, &namespace, Permission { verb: "create", group: "", resource: "secrets", subresource: None }).await?;
    }
    let (mut template, from) = pod_template(&cluster, &namespace, &kube.workload).await?;
    if let Some(sandbox) = crate::cluster::sandbox_info(&cluster).await {
        // The sandbox simulates containers: only a real run is a result.
        if !sandbox.run_commands {
            return Err(Error::usage(format!(
                "task {}: context {} is a kdeck sandbox that does not run commands, so a Job would only pretend to run the task",
                resolved.name, cluster.context
            ))
            .hint(format!(
                "restart it with real runs: kdeck sandbox stop --name {0} && kdeck sandbox start --detach --run-commands --name {0}",
                sandbox.sandbox
            ))
            .hint("or run the task with another executor (-x local, -x kubernetes)"));
        }
        let annotations = template.metadata.get_or_insert_default().annotations.get_or_insert_default();
        annotations.insert(RUN_COMMAND_ANNOTATION.to_string(), "true".to_string());
    }
    let as_pod = Pod { metadata: template.metadata.clone().unwrap_or_default(), spec: template.spec.clone(), status: None };
    let container = target::container(&as_pod, kube.container.as_deref(), &kube.container_hint)?;
    let command = remote_shell(&resolved.body, &resolved.args, &[], resolved.workdir.as_deref());
    let name = job_name(&resolved.name);
    let manifest = job_manifest(&name, &resolved.name, template, &container, command, &resolved.env, resolved.timeout);
    let secret = (!resolved.env.is_empty()).then(|| env_secret(&name, &resolved.env));
    let image =
        manifest.spec.as_ref().and_then(|s| s.template.spec.as_ref()).and_then(|s| s.containers.first()).and_then(|c| c.image.clone()).unwrap_or_default();
    plan.push(("job", format!("{name} (from the pod template of {from}; deleted when it ends)")));
    plan.push(("container", format!("{container} (image {image})")));
    plan.push(("directory", resolved.workdir_shown.clone().unwrap_or_else(|| "(the container's)".into())));
    plan.push(("command", resolved.body_shown.describe("sh -euc", &resolved.args)));
    Ok(Job { cluster, namespace, manifest, secret, container, created: Default::default() })
}

/// The pod template to copy: a Deployment's own, or the spec of the first ready
/// pod of a selector (without what the pod got when it was scheduled).
async fn pod_template(cluster: &Cluster, namespace: &str, workload: &Target) -> Result<(PodTemplateSpec, String)> {
    if let Target::Workload(Workload::Deployment, name) = workload {
        let api: Api<Deployment> = Api::namespaced(cluster.client.clone(), namespace);
        let Some(deployment) = api.get_opt(name).await.map_err(|e| cluster.error(&format!("reading deploy/{name}"), e))? else {
            return Err(Error::not_found(format!("deploy/{name} not found in namespace {namespace} (context {})", cluster.context))
                .hint(crate::cluster::existing_names(&api, "Deployments", &format!("in namespace {namespace}")).await));
        };
        let template = deployment.spec.map(|s| s.template).unwrap_or_default();
        return Ok((template, format!("deploy/{name}")));
    }
    let pod = workload.ready_pod(cluster, namespace).await?;
    let from = format!("pod {} ({workload})", pod.name_any());
    let metadata = ObjectMeta { annotations: pod.metadata.annotations.clone(), ..Default::default() };
    let mut spec = pod.spec;
    if let Some(spec) = &mut spec {
        spec.node_name = None;
    }
    Ok((PodTemplateSpec { metadata: Some(metadata), spec }, from))
}

/// `kdeck-<task>-<suffix>`: a valid, unique, recognisable Job name.
fn job_name(task: &str) -> String {
    let mut base: String = task.to_ascii_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    base.truncate(40);
    format!("kdeck-{}-{}", base.trim_matches('-'), names::random_suffix())
}

fn labels(name: &str) -> BTreeMap<String, String> {
    [(MANAGED_BY_LABEL, "kdeck"), (PURPOSE_LABEL, "task"), (RUN_LABEL, name)].into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The task's env as a Secret named like the Job.
fn env_secret(name: &str, env: &[script::EnvVar]) -> Secret {
    Secret {
        metadata: ObjectMeta { name: Some(name.to_string()), labels: Some(labels(name)), ..Default::default() },
        string_data: Some(env.iter().map(|v| (v.name.clone(), v.value.clone())).collect()),
        ..Default::default()
    }
}

/// The Job: the template's pod with only the chosen container, running the task
/// instead of its command, without probes, never restarted; the task's env comes
/// from the Secret named like the Job (over the template's own values). The
/// template's labels are not copied, so the pod joins no Service and no
/// ReplicaSet counts it.
fn job_manifest(
    name: &str,
    task: &str,
    template: PodTemplateSpec,
    container: &str,
    command: Vec<String>,
    env: &[script::EnvVar],
    timeout: Option<Duration>,
) -> K8sJob {
    let mut spec = template.spec.unwrap_or_default();
    spec.containers.retain(|c| c.name == container);
    for c in &mut spec.containers {
        c.command = Some(command.clone());
        c.args = None;
        c.liveness_probe = None;
        c.readiness_probe = None;
        c.startup_probe = None;
        let vars = c.env.get_or_insert_with(Vec::new);
        vars.retain(|v| !env.iter().any(|e| e.name == v.name));
        vars.extend(env.iter().map(|e| EnvVar {
            name: e.name.clone(),
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector { name: name.to_string(), key: e.name.clone(), optional: None }),
                ..Default::default()
            }),
            ..Default::default()
        }));
    }
    spec.restart_policy = Some("Never".into());
    K8sJob {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(labels(name)),
            annotations: Some([("kdeck.dev/task".to_string(), task.to_string())].into_iter().collect()),
            ..Default::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(0),
            ttl_seconds_after_finished: Some(TTL_SECONDS),
            // A backstop should kdeck itself be stopped: its own timeout comes first
            // and says "ran out of time", where the cluster would only fail the Job.
            active_deadline_seconds: timeout.map(|t| (t.as_secs().max(1) + DEADLINE_MARGIN_SECONDS) as i64),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(labels(name)), annotations: template.metadata.and_then(|m| m.annotations), ..Default::default() }),
                spec: Some(spec),
            },
            ..Default::default()
        }),
        status: None,
    }
}

impl Job {
    pub async fn run(&self, resolved: &Resolved, output: &Output, mut interrupt: Interrupt) -> Result<i32> {
        let name = self.manifest.name_any();
        let result = tokio::select! {
            result = self.create_and_follow(&name, resolved, output) => result,
            _ = super::deadline(resolved.timeout) => Err(super::timed_out(resolved, resolved.timeout.unwrap_or_default())),
            code = interrupt.wait() => Err(Interrupt::error(code)),
        };
        self.delete(&name, output).await;
        result
    }

    async fn create_and_follow(&self, name: &str, resolved: &Resolved, output: &Output) -> Result<i32> {
        let secrets: Api<Secret> = Api::namespaced(self.cluster.client.clone(), &self.namespace);
        if let Some(secret) = &self.secret {
            let created = secrets
                .create(&PostParams::default(), secret)
                .await
                .map_err(|e| self.cluster.error(&format!("creating secret {}/{name}", self.namespace), e))?;
            self.created().secret = Some(Precondition::uid(created.uid().unwrap_or_default()));
        }
        let jobs: Api<K8sJob> = Api::namespaced(self.cluster.client.clone(), &self.namespace);
        let job =
            jobs.create(&PostParams::default(), &self.manifest).await.map_err(|e| self.cluster.error(&format!("creating job {}/{name}", self.namespace), e))?;
        self.created().job = Some(Precondition::uid(job.uid().unwrap_or_default()));
        if self.secret.is_some() {
            // Owned by the Job, the Secret goes with it even if kdeck is killed.
            let owner = OwnerReference {
                api_version: "batch/v1".into(),
                kind: "Job".into(),
                name: name.to_string(),
                uid: job.uid().unwrap_or_default(),
                ..Default::default()
            };
            let patch = json!({"metadata": {"ownerReferences": [owner]}});
            let _ = secrets.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await;
        }
        output.note(&format!("kdeck: running {} in job {}/{name}", resolved.name, self.namespace));
        self.follow(name, output).await
    }

    fn created(&self) -> std::sync::MutexGuard<'_, Created> {
        self.created.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Deletes the Job (its pod with it) and the Secret kdeck created — by uid, never
    /// another of the same name; a failure is said, not fatal.
    async fn delete(&self, name: &str, output: &Output) {
        let created = self.created().clone();
        if let Some(job) = &created.job {
            let background = DeleteParams { propagation_policy: Some(PropagationPolicy::Background), ..DeleteParams::default() };
            let jobs: Api<K8sJob> = Api::namespaced(self.cluster.client.clone(), &self.namespace);
            match delete::planned(&jobs, name, job, &background).await {
                Ok(Deleted::Yes | Deleted::AlreadyGone) => {}
                Ok(Deleted::Changed(why)) => output.note(&format!("kdeck: left job {}/{name} alone: it is not the one kdeck created ({why})", self.namespace)),
                Err(e) => output.note(&format!("kdeck: could not delete job {}/{name} ({e}); its TTL removes it {TTL_SECONDS}s after it ends", self.namespace)),
            }
        }
        if let Some(secret) = &created.secret {
            let secrets: Api<Secret> = Api::namespaced(self.cluster.client.clone(), &self.namespace);
            let _ = delete::planned(&secrets, name, secret, &DeleteParams::default()).await;
        }
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
    /// start (image pull errors, missing config) or the Job failed without a pod;
    /// says why it waits (no node fits it yet, say).
    async fn started_pod(&self, pods: &Api<Pod>, job: &str, output: &Output) -> Result<String> {
        let selector = format!("{RUN_LABEL}={job}");
        let jobs: Api<K8sJob> = Api::namespaced(self.cluster.client.clone(), &self.namespace);
        let mut said = String::new();
        loop {
            let list = pods.list(&ListParams::default().labels(&selector)).await.map_err(|e| self.cluster.error("listing the job's pods", e))?;
            for pod in &list.items {
                let status = serde_json::to_value(&pod.status).unwrap_or_default();
                let waiting = match start_state(&status) {
                    _ if self.has_started(pod) => return Ok(pod.name_any()),
                    StartState::Failed(why) => return Err(Error::failure(format!("the job's pod {} cannot start: {why}", pod.name_any()))),
                    StartState::Unschedulable(why) => format!("waiting for a node: {why}"),
                    StartState::Starting | StartState::Running => target::pod_state(pod),
                };
                if pod.status.as_ref().is_some_and(|s| s.phase.is_some()) && waiting != said {
                    output.note(&format!("kdeck: pod {}: {waiting}", pod.name_any()));
                    said = waiting;
                }
            }
            if list.items.is_empty() {
                self.check_job_failed(&jobs, job).await?;
            }
            let version = list.metadata.resource_version.unwrap_or_default();
            let params = WatchParams::default().labels(&selector).timeout(10);
            let mut events = pods.watch(&params, &version).await.map_err(|e| self.cluster.error("watching the job's pods", e))?.boxed();
            // Any change: look again (the list above is the one place that decides).
            while let Ok(Some(event)) = events.try_next().await {
                if matches!(event, WatchEvent::Added(_) | WatchEvent::Modified(_) | WatchEvent::Deleted(_)) {
                    break;
                }
            }
        }
    }

    fn has_started(&self, pod: &Pod) -> bool {
        let status = pod.status.as_ref().and_then(|s| s.container_statuses.as_ref()).and_then(|c| c.iter().find(|c| c.name == self.container));
        status.and_then(|s| s.state.as_ref()).is_some_and(|s| s.running.is_some() || s.terminated.is_some())
    }

    /// A Job that failed before it had a pod (quota, admission) says why.
    async fn check_job_failed(&self, jobs: &Api<K8sJob>, job: &str) -> Result<()> {
        let current = jobs.get_opt(job).await.map_err(|e| self.cluster.error(&format!("reading job {job}"), e))?;
        let failed = current.and_then(|j| j.status?.conditions?.into_iter().find(|c| c.type_ == "Failed" && c.status == "True"));
        match failed {
            Some(c) => Err(Error::failure(format!("job {}/{job} failed: {}", self.namespace, c.message.or(c.reason).unwrap_or_default()))),
            None => Ok(()),
        }
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

    #[test]
    fn the_job_keeps_the_template_but_runs_only_the_task_with_env_from_its_secret() {
        let template: PodTemplateSpec = serde_json::from_value(json!({
            "metadata": {"labels": {"app": "api"}, "annotations": {"vault.io/inject": "true"}},
            "spec": {"serviceAccountName": "api", "volumes": [{"name": "cfg", "configMap": {"name": "cfg"}}],
                     "containers": [
                        {"name": "api", "image": "api:1", "command": ["serve"], "args": ["--port", "80"], "envFrom": [{"secretRef": {"name": "db"}}],
                         "env": [{"name": "MODE", "value": "prod"}, {"name": "LEVEL", "value": "info"}],
                         "readinessProbe": {"httpGet": {"path": "/", "port": 80}}},
                        {"name": "proxy", "image": "envoy"}]}
        }))
        .unwrap();
        let env = [script::EnvVar { name: "LEVEL".into(), value: "debug".into(), secret: false }];
        let command = vec!["sh".into(), "-euc".into(), "x".into()];
        let job = job_manifest("kdeck-migrate-abcde", "api:migrate", template, "api", command, &env, Some(Duration::from_secs(90)));
        assert!(!serde_json::to_string(&job).unwrap().contains("debug"), "env values stay out of the Job");
        let spec = job.spec.unwrap();
        assert_eq!((spec.backoff_limit, spec.active_deadline_seconds), (Some(0), Some(90 + DEADLINE_MARGIN_SECONDS as i64)));
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
        let vars: Vec<(&str, bool)> = c.env.as_ref().unwrap().iter().map(|v| (v.name.as_str(), v.value_from.is_some())).collect();
        assert_eq!(vars, [("MODE", false), ("LEVEL", true)], "the task's LEVEL replaces the template's");
        assert_eq!(env_secret("kdeck-migrate-abcde", &env).string_data.unwrap()["LEVEL"], "debug");
    }

    #[test]
    fn job_names_are_valid_dns_names_within_the_length_limit() {
        let a = job_name("api:Migrate_DB");
        assert!(a.starts_with("kdeck-api-migrate-db-"), "{a}");
        assert!(names::validate_name("job", &a).is_ok());
        assert!(job_name(&"x".repeat(100)).len() <= 63);
    }
}
