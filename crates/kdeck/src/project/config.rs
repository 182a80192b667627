//! The shape of `kdeck.yaml`. These types are the single source of truth: the
//! loader deserializes into them (unknown keys are errors) and the JSON Schema
//! shipped at `schema/kdeck.schema.json` is generated from them.
//!
//! Strings here are raw: `${env:…}` and `${vars:…}` references are expanded when
//! a task is resolved ([`super::expand`]), so a task that is not run never fails
//! on a variable it alone uses.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::secret::Known;

/// A project's `kdeck.yaml`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "kdeck project configuration")]
pub struct Config {
    /// Where tasks run when neither the task nor the command line says.
    #[serde(default, skip_serializing_if = "Defaults::is_empty")]
    pub defaults: Defaults,
    /// Variables, referenced as `${vars:NAME}`; a task's own `vars` override these.
    #[serde(default, skip_serializing_if = "Vars::is_empty")]
    pub vars: Vars,
    /// The project's parts: where their code lives, their compose service, their Kubernetes workload.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub components: BTreeMap<String, Component>,
    /// Tasks by name. Tasks of a component can also be declared under it (run as `component:task`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tasks: BTreeMap<String, Task>,
    /// Named variants of this file: RFC 6902 JSON patch operations applied to the whole
    /// configuration (`--flavor NAME` or `KDECK_FLAVOR`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub flavors: BTreeMap<String, Vec<PatchOperation>>,
    /// A whole environment: the cluster, what is deployed onto it, its dev secrets
    /// (`kdeck up`, `status`, `render`, `down`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<super::stack::Stack>,
    /// The language model `kdeck diagnose --explain` uses (API keys come from the environment only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm: Option<crate::llm::LlmConfig>,
    /// `kdeck lint`: rules turned off, and rules reported at another severity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lint: Option<crate::lint::LintConfig>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Defaults {
    #[serde(default, skip_serializing_if = "KubernetesDefaults::is_empty")]
    pub kubernetes: KubernetesDefaults,
    /// The executor tried first when a task does not list its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor: Option<ExecutorKind>,
}

impl Defaults {
    fn is_empty(&self) -> bool {
        self.kubernetes.is_empty() && self.executor.is_none()
    }
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KubernetesDefaults {
    /// The kubeconfig context (default: the current one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// The namespace (default: the context's, else `default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// A label key whose value is the component's name, used to find a component's
    /// pods when it names neither a Deployment nor a selector (e.g. `app.kubernetes.io/name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector_label: Option<String>,
}

impl KubernetesDefaults {
    fn is_empty(&self) -> bool {
        self.context.is_none() && self.namespace.is_none() && self.selector_label.is_none()
    }
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Component {
    /// The component's directory, relative to `kdeck.yaml` (default: the project root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Its docker compose service, for the `container` executor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compose: Option<Compose>,
    /// Its workload in the cluster, for the `kubernetes` and `job` executors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<ComponentKubernetes>,
    /// Tasks of this component, run as `component:task`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tasks: BTreeMap<String, Task>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Compose {
    /// The compose service the task runs in.
    pub service: String,
    /// The compose file, relative to `kdeck.yaml` (default: compose's own lookup).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ComponentKubernetes {
    /// The Deployment whose pods run the component (default: the component's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<String>,
    /// A label selector for the component's pods, instead of a Deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// The container tasks run in, for pods with more than one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// The component's namespace, over `defaults.kubernetes.namespace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Where a task can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize, JsonSchema, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ExecutorKind {
    /// On this machine, in the component's directory.
    Local,
    /// In the component's running docker compose service (`docker compose exec`).
    Container,
    /// In the first ready pod of the component's workload (through the API).
    Kubernetes,
    /// In a one-off Job made from the component's pod template.
    Job,
}

impl ExecutorKind {
    pub fn name(self) -> &'static str {
        match self {
            ExecutorKind::Local => "local",
            ExecutorKind::Container => "container",
            ExecutorKind::Kubernetes => "kubernetes",
            ExecutorKind::Job => "job",
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Task {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A shell script, run with `set -eu` (and `pipefail` under bash). Arguments after
    /// `--` are its positional parameters (`$1`, `$@`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<String>,
    /// A command instead of a script: a string runs under the shell like a script, a
    /// list runs as is with the arguments after `--` appended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Command>,
    /// The component the task belongs to (set for tasks declared under a component).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// Where the task may run, in order of preference.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub executors: Vec<ExecutorKind>,
    /// Variables for this task, over the top-level `vars`.
    #[serde(default, skip_serializing_if = "Vars::is_empty")]
    pub vars: Vars,
    /// Environment variables the task runs with.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Attach the terminal (stdin and a pseudo-terminal) to the task.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interactive: bool,
    /// The working directory: relative to the component's path locally, absolute in
    /// containers and pods (default: the container's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<String>,
    /// Ask before running; `--yes` answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm: Option<Confirm>,
    /// Tasks that run first (and once, however many tasks need them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pre: Vec<String>,
    /// How long the task may run (`90s`, `10m`, `1h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}

/// A task's command: a shell line or an argument vector.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Command {
    Shell(String),
    Argv(Vec<String>),
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Confirm {
    /// The question shown.
    pub message: String,
    /// The word the user must type (default: `yes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<String>,
}

/// One RFC 6902 operation.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PatchOperation {
    pub op: PatchOp,
    /// A JSON pointer into the configuration, e.g. `/defaults/kubernetes/namespace`.
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
    /// For `move` and `copy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PatchOp {
    Add,
    Remove,
    Replace,
    Move,
    Copy,
    Test,
}

impl PatchOp {
    /// The operation's name in the patch (`add`, `replace`, …).
    pub fn name(self) -> &'static str {
        match self {
            PatchOp::Add => "add",
            PatchOp::Remove => "remove",
            PatchOp::Replace => "replace",
            PatchOp::Move => "move",
            PatchOp::Copy => "copy",
            PatchOp::Test => "test",
        }
    }
}

/// A `vars` map: in the file, a map of names to strings. Loaded as part of a
/// project, it also carries the values the project masks ([`Known`], shared by
/// every map of the project), so that expanding a reference against these
/// variables knows a value that is secret elsewhere — without each caller passing
/// the whole project along. That part is not in the file: it is neither read,
/// written, compared nor printed.
#[derive(Clone, Default)]
pub struct Vars {
    entries: BTreeMap<String, String>,
    known: Arc<Known>,
}

impl Vars {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The values the project masks.
    pub fn known(&self) -> &Known {
        &self.known
    }

    pub(crate) fn set_known(&mut self, known: Arc<Known>) {
        self.known = known;
    }
}

impl std::ops::Deref for Vars {
    type Target = BTreeMap<String, String>;

    fn deref(&self) -> &Self::Target {
        &self.entries
    }
}

impl std::ops::DerefMut for Vars {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.entries
    }
}

impl From<BTreeMap<String, String>> for Vars {
    fn from(entries: BTreeMap<String, String>) -> Self {
        Vars { entries, known: Arc::default() }
    }
}

impl<const N: usize> From<[(String, String); N]> for Vars {
    fn from(entries: [(String, String); N]) -> Self {
        BTreeMap::from(entries).into()
    }
}

impl PartialEq for Vars {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

impl std::fmt::Debug for Vars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.entries.fmt(f)
    }
}

impl Serialize for Vars {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.entries.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Vars {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        BTreeMap::deserialize(deserializer).map(Vars::from)
    }
}

impl JsonSchema for Vars {
    fn inline_schema() -> bool {
        <BTreeMap<String, String>>::inline_schema()
    }

    fn schema_name() -> Cow<'static, str> {
        <BTreeMap<String, String>>::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        <BTreeMap<String, String>>::schema_id()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        <BTreeMap<String, String>>::json_schema(generator)
    }
}
