//! The tool registry: the one list of what a model (`kdeck ask`) or an AI
//! assistant (`kdeck mcp`) may call, each with its name, description, JSON schema
//! of arguments, and whether it reads or changes.
//!
//! Safety lives here, once for both: arguments are parsed into typed structs
//! (unknown fields and wrong types refused) and checked like kdeck's flags before
//! any request; nothing is ever run in a shell; every result and every error goes
//! through the redactor ([`crate::redact`]) with the values of the Secrets in scope
//! before it leaves; a change tool only makes a plan ([`change::Pending`]) — applying
//! it is a separate step the callers take after a person confirmed.

pub mod args;
pub mod change;
pub mod kinds;
pub mod read;

use std::time::Duration;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use self::args::*;
use crate::cluster::Cluster;
use crate::error::{Error, Result};
use crate::redact::Redactor;

pub use change::Pending;

/// How long one tool may read the cluster.
const READ_TIMEOUT: Duration = Duration::from_secs(90);

/// A tool as callers list it.
pub struct ToolDef {
    pub name: &'static str,
    pub description: &'static str,
    /// Changes the cluster (returns a plan; applied only after confirmation).
    pub change: bool,
    schema: fn() -> Value,
}

impl ToolDef {
    /// The JSON schema of the arguments (an object).
    pub fn schema(&self) -> Value {
        (self.schema)()
    }
}

fn schema_of<T: JsonSchema>() -> Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(T)).unwrap_or_else(|_| json!({"type": "object"}));
    if let Some(map) = schema.as_object_mut() {
        map.remove("$schema");
        map.remove("title");
        map.entry("properties").or_insert_with(|| json!({}));
    }
    schema
}

macro_rules! tool {
    ($name:literal, $change:literal, $args:ty, $description:literal) => {
        ToolDef { name: $name, description: $description, change: $change, schema: schema_of::<$args> }
    };
}

/// Every tool, reads first.
pub const TOOLS: &[ToolDef] = &[
    tool!(
        "diagnose",
        false,
        DiagnoseArgs,
        "The root causes of what is broken in a namespace (or one object), with the chain of evidence and the fix, found by kdeck's deterministic analyzers. Start here for 'why is X not ready/working'."
    ),
    tool!("list", false, ListArgs, "List objects of a kind (pods, deployments, services, …) with their state; Secrets show keys only, never values."),
    tool!("get", false, ObjectArgs, "One object as the API has it (managed fields left out); a Secret shows its keys only, never values."),
    tool!(
        "describe",
        false,
        ObjectArgs,
        "A summary of one object: state, containers, the pods it selects, conditions and recent events (like kubectl describe)."
    ),
    tool!("logs", false, LogsArgs, "The last lines of the logs of a pod or of a workload's pods (bounded tail; secrets masked)."),
    tool!("events", false, EventsArgs, "Recent events of a namespace, or about one object, oldest first."),
    tool!(
        "rollout_status",
        false,
        WorkloadArgs,
        "Whether a Deployment, StatefulSet or DaemonSet has rolled out: updated, ready and available replicas, and why not."
    ),
    tool!("stack_status", false, NoArgs, "The readiness of each resource of the stack of the kdeck.yaml in the working directory."),
    tool!("top", false, TopArgs, "CPU and memory usage of pods (or nodes) from metrics.k8s.io, when the cluster serves it."),
    tool!(
        "rightsize",
        false,
        RightsizeArgs,
        "Suggested CPU/memory requests and limits for a workload's containers from their usage sampled over a short window (metrics.k8s.io), with the reason; apply one with set_resources."
    ),
    tool!("scale", true, ScaleArgs, "Plan setting a Deployment's or StatefulSet's replicas; applied only after the user confirms."),
    tool!("rollout_restart", true, WorkloadArgs, "Plan restarting a workload's pods (as kubectl rollout restart); applied only after the user confirms."),
    tool!("set_image", true, SetImageArgs, "Plan changing one container's image; applied only after the user confirms."),
    tool!("set_resources", true, SetResourcesArgs, "Plan changing one container's CPU/memory requests and limits; applied only after the user confirms."),
    tool!("hr_restart", true, HrRestartArgs, "Plan restarting a Flux HelmRelease (suspend, resume, reconcile); applied only after the user confirms."),
    tool!("sync_secrets", true, SyncSecretsArgs, "Plan forcing External Secrets to re-sync; applied only after the user confirms."),
    tool!(
        "cleanse_pods",
        true,
        CleansePodsArgs,
        "Plan deleting finished, failed pods (Evicted, Error, OOMKilled; never running ones); applied only after the user confirms."
    ),
    tool!("delete_pod", true, DeletePodArgs, "Plan deleting one pod (its controller replaces it); applied only after the user confirms."),
];

pub fn find(name: &str) -> Option<&'static ToolDef> {
    TOOLS.iter().find(|t| t.name == name)
}

/// A call whose arguments were parsed and checked.
#[derive(Clone, Debug)]
pub enum Call {
    Diagnose(DiagnoseArgs),
    List(ListArgs),
    Get(ObjectArgs),
    Describe(ObjectArgs),
    Logs(LogsArgs),
    Events(EventsArgs),
    RolloutStatus(WorkloadArgs),
    StackStatus,
    Top(TopArgs),
    Rightsize(RightsizeArgs),
    Scale(ScaleArgs),
    RolloutRestart(WorkloadArgs),
    SetImage(SetImageArgs),
    SetResources(SetResourcesArgs),
    HrRestart(HrRestartArgs),
    SyncSecrets(SyncSecretsArgs),
    CleansePods(CleansePodsArgs),
    DeletePod(DeletePodArgs),
}

fn parsed<T: DeserializeOwned>(tool: &str, arguments: &Value) -> Result<T> {
    let arguments = if arguments.is_null() { json!({}) } else { arguments.clone() };
    serde_json::from_value(arguments).map_err(|e| Error::usage(format!("invalid arguments for {tool}: {e}")).hint(format!("see the schema of {tool}")))
}

impl Call {
    /// The call of tool `name` with `arguments`, checked as kdeck checks its flags.
    pub fn parse(name: &str, arguments: &Value) -> Result<Call> {
        let call = match name {
            "diagnose" => Call::Diagnose(parsed(name, arguments)?),
            "list" => Call::List(parsed(name, arguments)?),
            "get" => Call::Get(parsed(name, arguments)?),
            "describe" => Call::Describe(parsed(name, arguments)?),
            "logs" => Call::Logs(parsed(name, arguments)?),
            "events" => Call::Events(parsed(name, arguments)?),
            "rollout_status" => Call::RolloutStatus(parsed(name, arguments)?),
            "stack_status" => parsed::<NoArgs>(name, arguments).map(|_| Call::StackStatus)?,
            "top" => Call::Top(parsed(name, arguments)?),
            "rightsize" => Call::Rightsize(parsed(name, arguments)?),
            "scale" => Call::Scale(parsed(name, arguments)?),
            "rollout_restart" => Call::RolloutRestart(parsed(name, arguments)?),
            "set_image" => Call::SetImage(parsed(name, arguments)?),
            "set_resources" => Call::SetResources(parsed(name, arguments)?),
            "hr_restart" => Call::HrRestart(parsed(name, arguments)?),
            "sync_secrets" => Call::SyncSecrets(parsed(name, arguments)?),
            "cleanse_pods" => Call::CleansePods(parsed(name, arguments)?),
            "delete_pod" => Call::DeletePod(parsed(name, arguments)?),
            other => {
                let names: Vec<&str> = TOOLS.iter().map(|t| t.name).collect();
                return Err(Error::usage(format!("unknown tool {other:?}")).hint(format!("tools: {}", names.join(", "))));
            }
        };
        call.check()?;
        Ok(call)
    }

    /// The checks that need no cluster: names, namespaces, selectors, kinds, durations, images, quantities.
    fn check(&self) -> Result<()> {
        use crate::cluster::names::{parse_duration, validate_name};
        match self {
            Call::Diagnose(a) => {
                namespace(&a.namespace)?;
                if let Some(t) = &a.target {
                    let normalized = crate::diagnose::normalize_target(t).ok_or_else(|| Error::usage(format!("invalid target {t:?}")))?;
                    validate_name("target", normalized.split_once('/').map_or("", |(_, n)| n))?;
                }
            }
            Call::List(a) => {
                namespace(&a.namespace)?;
                selector(&a.selector)?;
                kinds::known(&a.kind)?;
            }
            Call::Get(a) | Call::Describe(a) => {
                namespace(&a.namespace)?;
                kinds::known(&a.kind)?;
                validate_name("object", &a.name)?;
            }
            Call::Logs(a) => {
                namespace(&a.namespace)?;
                crate::cluster::target::Target::parse(&a.target)?;
                if let Some(c) = &a.container {
                    container(c)?;
                }
                if let Some(since) = &a.since {
                    parse_duration("since", since)?;
                }
            }
            Call::Events(a) => {
                namespace(&a.namespace)?;
                if let Some((kind, name)) = a.object.as_deref().map(|o| o.split_once('/').unwrap_or((o, ""))) {
                    kinds::known(kind)?;
                    validate_name("object", name)?;
                }
            }
            Call::RolloutStatus(a) | Call::RolloutRestart(a) => {
                namespace(&a.namespace)?;
                workload(&a.target)?;
            }
            Call::StackStatus => {}
            Call::Top(a) => {
                namespace(&a.namespace)?;
                selector(&a.selector)?;
            }
            Call::Rightsize(a) => {
                namespace(&a.namespace)?;
                workload(&a.target)?;
                if a.window_seconds.is_some_and(|w| !(1..=60).contains(&w)) {
                    return Err(Error::usage("invalid windowSeconds").hint("windowSeconds is between 1 and 60; for longer, run kdeck rightsize --window"));
                }
            }
            Call::Scale(a) => {
                namespace(&a.namespace)?;
                workload(&a.target)?;
                if !(0..=1000).contains(&a.replicas) {
                    return Err(Error::usage(format!("invalid replicas {}", a.replicas)).hint("replicas are between 0 and 1000"));
                }
            }
            Call::SetImage(a) => {
                namespace(&a.namespace)?;
                workload(&a.target)?;
                container(&a.container)?;
                crate::ops::workload::validate_image(&a.image)?;
            }
            Call::SetResources(a) => {
                namespace(&a.namespace)?;
                workload(&a.target)?;
                container(&a.container)?;
                for (key, value) in a.requests.iter().chain(&a.limits) {
                    crate::ops::workload::validate_quantity(key, value)?;
                }
            }
            Call::HrRestart(a) => {
                namespace(&a.namespace)?;
                validate_name("HelmRelease", &a.name)?;
                change::mode(&a.mode)?;
            }
            Call::SyncSecrets(a) => {
                namespace(&a.namespace)?;
                selector(&a.selector)?;
                for name in &a.names {
                    validate_name("ExternalSecret", name)?;
                }
            }
            Call::CleansePods(a) => {
                namespace(&a.namespace)?;
                selector(&a.selector)?;
            }
            Call::DeletePod(a) => {
                namespace(&a.namespace)?;
                validate_name("pod", &a.name)?;
            }
        }
        Ok(())
    }

    pub fn is_change(&self) -> bool {
        matches!(
            self,
            Call::Scale(_)
                | Call::RolloutRestart(_)
                | Call::SetImage(_)
                | Call::SetResources(_)
                | Call::HrRestart(_)
                | Call::SyncSecrets(_)
                | Call::CleansePods(_)
                | Call::DeletePod(_)
        )
    }

    /// The namespace the call names, and whether it asks for all of them.
    fn scope(&self) -> (Option<&String>, bool) {
        match self {
            Call::Diagnose(a) => (a.namespace.as_ref(), a.all_namespaces),
            Call::List(a) => (a.namespace.as_ref(), a.all_namespaces),
            Call::Get(a) | Call::Describe(a) => (a.namespace.as_ref(), false),
            Call::Logs(a) => (a.namespace.as_ref(), false),
            Call::Events(a) => (a.namespace.as_ref(), a.all_namespaces),
            Call::RolloutStatus(a) | Call::RolloutRestart(a) => (a.namespace.as_ref(), false),
            Call::StackStatus => (None, true),
            Call::Top(a) => (a.namespace.as_ref(), a.all_namespaces),
            Call::Rightsize(a) => (a.namespace.as_ref(), false),
            Call::Scale(a) => (a.namespace.as_ref(), false),
            Call::SetImage(a) => (a.namespace.as_ref(), false),
            Call::SetResources(a) => (a.namespace.as_ref(), false),
            Call::HrRestart(a) => (a.namespace.as_ref(), false),
            Call::SyncSecrets(a) => (a.namespace.as_ref(), false),
            Call::CleansePods(a) => (a.namespace.as_ref(), a.all_namespaces),
            Call::DeletePod(a) => (a.namespace.as_ref(), false),
        }
    }

    /// The call as a command line (`diagnose -n demo`, `scale deploy/api --replicas 2 -n demo`):
    /// what the person sees as it happens. Arguments were checked, so they are plain words.
    pub fn shown(&self, default_namespace: &str) -> String {
        let mut words: Vec<String> = match self {
            Call::Diagnose(a) => std::iter::once("diagnose".into()).chain(a.target.clone()).collect(),
            Call::List(a) => {
                let mut w = vec!["list".into(), a.kind.clone()];
                w.extend(a.selector.iter().map(|s| format!("-l {s}")));
                w
            }
            Call::Get(a) => vec!["get".into(), format!("{}/{}", a.kind, a.name)],
            Call::Describe(a) => vec!["describe".into(), format!("{}/{}", a.kind, a.name)],
            Call::Logs(a) => {
                let mut w = vec!["logs".into(), a.target.clone()];
                w.extend(a.container.iter().map(|c| format!("-c {c}")));
                w.extend(a.tail.iter().map(|t| format!("--tail {t}")));
                w.extend(a.since.iter().map(|s| format!("--since {s}")));
                if a.previous {
                    w.push("--previous".into());
                }
                w
            }
            Call::Events(a) => std::iter::once("events".into()).chain(a.object.clone()).collect(),
            Call::RolloutStatus(a) => vec!["rollout status".into(), a.target.clone()],
            Call::StackStatus => vec!["status".into()],
            Call::Top(a) => vec!["top".into(), a.kind.clone().unwrap_or_else(|| "pods".into())],
            Call::Rightsize(a) => vec!["rightsize".into(), a.target.clone(), format!("--window {}s", a.window_seconds.unwrap_or(15))],
            Call::Scale(a) => vec!["scale".into(), a.target.clone(), format!("--replicas {}", a.replicas)],
            Call::RolloutRestart(a) => vec!["rollout restart".into(), a.target.clone()],
            Call::SetImage(a) => vec!["set image".into(), a.target.clone(), format!("{}={}", a.container, a.image)],
            Call::SetResources(a) => {
                let mut w = vec!["set resources".into(), a.target.clone(), format!("-c {}", a.container)];
                let pairs = |m: &std::collections::BTreeMap<String, String>| m.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
                if !a.requests.is_empty() {
                    w.push(format!("--requests {}", pairs(&a.requests)));
                }
                if !a.limits.is_empty() {
                    w.push(format!("--limits {}", pairs(&a.limits)));
                }
                w
            }
            Call::HrRestart(a) => std::iter::once("hr-restart".into()).chain([a.name.clone()]).chain(a.mode.iter().map(|m| format!("--{m}"))).collect(),
            Call::SyncSecrets(a) => std::iter::once("sync-secrets".into()).chain(a.names.clone()).collect(),
            Call::CleansePods(_) => vec!["cleanse-pods".into()],
            Call::DeletePod(a) => vec!["delete pod".into(), a.name.clone()],
        };
        if let Call::CleansePods(a) = self
            && a.include_completed
        {
            words.push("--include-completed".into());
        }
        match self.scope() {
            (_, true) if !matches!(self, Call::StackStatus) => words.push("-A".into()),
            (Some(ns), _) => words.push(format!("-n {ns}")),
            (None, false) => words.push(format!("-n {default_namespace}")),
            _ => {}
        }
        words.join(" ")
    }
}

/// The tools bound to one cluster and a default namespace.
pub struct Tools {
    pub cluster: Cluster,
    pub namespace: String,
}

/// What a call gave: the read's text (redacted), or a plan to confirm.
pub enum Outcome {
    Read(String),
    Planned(Pending),
}

impl Tools {
    pub fn new(cluster: Cluster, namespace: Option<String>) -> Tools {
        let namespace = namespace.unwrap_or_else(|| cluster.default_namespace.clone());
        Tools { cluster, namespace }
    }

    /// The namespace a call acts in (None: all of them).
    pub fn scope(&self, namespace: &Option<String>, all: bool) -> Result<Option<String>> {
        if all {
            return Ok(None);
        }
        let ns = namespace.clone().unwrap_or_else(|| self.namespace.clone());
        crate::cluster::names::validate_namespace(&ns)?;
        Ok(Some(ns))
    }

    /// The redactor for a scope: it holds the values of the scope's Secrets (read
    /// here, never shown). Secrets that cannot be read leave the other rules.
    pub async fn redactor(&self, namespace: Option<&str>) -> Redactor {
        let mut redactor = Redactor::default();
        let resource = kube::api::ApiResource::from_gvk_with_plural(&kube::core::GroupVersionKind::gvk("", "v1", "Secret"), "secrets");
        if let Ok(secrets) = crate::cluster::listing::list_values(&self.cluster.client, &resource, namespace).await {
            for mut secret in secrets {
                redactor.take_secret_values(&mut secret);
            }
        }
        redactor
    }

    /// Runs a checked call: a read answers redacted text; a change answers its plan.
    pub async fn run(&self, call: &Call) -> Result<Outcome> {
        let (namespace, all) = call.scope();
        let scope = self.scope(&namespace.cloned(), all)?;
        let redactor = self.redactor(scope.as_deref()).await;
        let work = async {
            Ok::<_, Error>(match call {
                Call::Diagnose(a) => Outcome::Read(text(&read::diagnose(self, a).await?)),
                Call::List(a) => Outcome::Read(text(&read::list(self, a).await?)),
                Call::Get(a) => Outcome::Read(text(&read::get(self, a).await?)),
                Call::Describe(a) => Outcome::Read(text(&read::describe(self, a).await?)),
                Call::Logs(a) => Outcome::Read(text(&read::logs(self, a).await?)),
                Call::Events(a) => Outcome::Read(text(&read::events(self, a).await?)),
                Call::RolloutStatus(a) => Outcome::Read(text(&read::rollout_status(self, a).await?)),
                Call::StackStatus => Outcome::Read(text(&read::stack_status().await?)),
                Call::Top(a) => Outcome::Read(text(&read::top(self, a).await?)),
                Call::Rightsize(a) => Outcome::Read(text(&read::rightsize(self, a).await?)),
                Call::Scale(a) => Outcome::Planned(change::scale(self, a).await?),
                Call::RolloutRestart(a) => Outcome::Planned(change::restart(self, a).await?),
                Call::SetImage(a) => Outcome::Planned(change::set_image(self, a).await?),
                Call::SetResources(a) => Outcome::Planned(change::set_resources(self, a).await?),
                Call::HrRestart(a) => Outcome::Planned(change::hr_restart(self, a).await?),
                Call::SyncSecrets(a) => Outcome::Planned(change::sync_secrets(self, a).await?),
                Call::CleansePods(a) => Outcome::Planned(change::cleanse_pods(self, a).await?),
                Call::DeletePod(a) => Outcome::Planned(change::delete_pod(self, a).await?),
            })
        };
        match tokio::time::timeout(READ_TIMEOUT, work).await {
            Ok(Ok(Outcome::Read(text))) => Ok(Outcome::Read(redactor.scrub(&text))),
            Ok(Ok(planned)) => Ok(planned),
            Ok(Err(e)) => Err(scrubbed(&redactor, e)),
            Err(_) => Err(self.cluster.timed_out(format!("the tool did not finish within {}s", READ_TIMEOUT.as_secs()))),
        }
    }

    /// The plan as text for a model or a client (redacted).
    pub async fn plan_text(&self, pending: &Pending) -> String {
        let plan = pending.plan();
        let value = json!({"plan": plan, "summary": plan.table().trim_end()});
        self.redactor(None).await.scrub(&text(&value))
    }

    /// Applies a confirmed plan; what happened (redacted).
    pub async fn apply(&self, pending: Pending) -> Result<String> {
        let redactor = self.redactor(None).await;
        match change::apply(self, pending).await {
            Ok(value) => Ok(redactor.scrub(&text(&value))),
            Err(e) => Err(scrubbed(&redactor, e)),
        }
    }
}

fn text(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// An error whose message and hints went through the redactor.
pub fn scrubbed(redactor: &Redactor, error: Error) -> Error {
    Error { message: redactor.scrub(&error.message), hints: error.hints.iter().map(|h| redactor.scrub(h)).collect(), code: error.code }
}

/// An error as one line for a model or a client: the message and its hints.
pub fn error_text(error: &Error) -> String {
    let mut text = error.message.clone();
    for hint in &error.hints {
        text.push_str(&format!(" (hint: {hint})"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(name: &str, arguments: Value) -> String {
        match Call::parse(name, &arguments) {
            Ok(call) => panic!("{name} {arguments} was accepted: {call:?}"),
            Err(e) => error_text(&e),
        }
    }

    #[test]
    fn every_tool_has_an_object_schema_and_parses_its_own_minimal_call() {
        for tool in TOOLS {
            let schema = tool.schema();
            assert_eq!(schema["type"], "object", "{}: {schema}", tool.name);
            assert!(schema["properties"].is_object(), "{}", tool.name);
        }
        assert!(Call::parse("diagnose", &json!({"namespace": "demo"})).is_ok());
        assert!(Call::parse("stack_status", &Value::Null).is_ok());
        assert!(Call::parse("scale", &json!({"target": "deploy/api", "replicas": 2})).unwrap().is_change());
        assert!(!Call::parse("list", &json!({"kind": "pods"})).unwrap().is_change());
    }

    #[test]
    fn shell_metacharacters_and_bad_names_are_refused_with_clear_messages() {
        assert!(refused("logs", json!({"target": "deploy/api; rm -rf /"})).contains("invalid target name \"api; rm -rf /\""));
        assert!(refused("get", json!({"kind": "pod", "name": "$(cat /etc/passwd)"})).contains("invalid object name"));
        assert!(refused("list", json!({"kind": "pods", "namespace": "demo && curl evil"})).contains("invalid namespace"));
        assert!(refused("list", json!({"kind": "pods", "selector": "app=`id`"})).contains("invalid label selector"));
        assert!(refused("set_image", json!({"target": "deploy/api", "container": "api", "image": "x|sh"})).contains("invalid image"));
        assert!(refused("scale", json!({"target": "deploy/api", "replicas": 99999})).contains("invalid replicas"));
        assert!(refused("scale", json!({"target": "pod/api", "replicas": 1})).contains("deploy/NAME, sts/NAME or ds/NAME"));
        assert!(refused("logs", json!({"target": "pod/api", "since": "1 hour"})).contains("invalid since"));
        assert!(refused("set_resources", json!({"target": "deploy/api", "container": "api", "limits": {"memory": "1Gi; reboot"}})).contains("invalid memory"));
        assert!(refused("hr_restart", json!({"name": "web", "mode": "nuke"})).contains("invalid mode"));
        assert!(refused("rightsize", json!({"target": "deploy/api", "windowSeconds": 3600})).contains("invalid windowSeconds"));
    }

    #[test]
    fn unknown_tools_fields_and_types_are_refused() {
        assert!(refused("exec", json!({"command": "sh"})).contains("unknown tool \"exec\""));
        assert!(refused("list", json!({"kind": "pods", "command": "sh"})).contains("unknown field `command`"));
        assert!(refused("scale", json!({"target": "deploy/api", "replicas": "two"})).contains("invalid arguments for scale"));
        assert!(refused("get", json!({"kind": "secret"})).contains("missing field `name`"));
    }

    #[test]
    fn calls_are_shown_as_command_lines() {
        let shown = |name: &str, args: Value| Call::parse(name, &args).unwrap().shown("default");
        assert_eq!(shown("diagnose", json!({"namespace": "demo"})), "diagnose -n demo");
        assert_eq!(shown("list", json!({"kind": "pods"})), "list pods -n default");
        assert_eq!(shown("scale", json!({"target": "deploy/api", "replicas": 2, "namespace": "demo"})), "scale deploy/api --replicas 2 -n demo");
        assert_eq!(shown("logs", json!({"target": "deploy/api", "tail": 20, "namespace": "demo"})), "logs deploy/api --tail 20 -n demo");
        assert_eq!(shown("cleanse_pods", json!({"allNamespaces": true})), "cleanse-pods -A");
    }
}
