//! The `stack:` section of `kdeck.yaml`: a whole environment — which cluster, what
//! is deployed onto it (kustomize, Helm, plain manifests, in order), the dev
//! secrets it needs — that `kdeck up`, `status`, `render` and `down` act on.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Stack {
    /// The stack's name: labels what it applies (its ApplySet) and names the sandbox or
    /// cluster when `cluster.name` does not (default: the project directory's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Where the stack runs.
    #[serde(default)]
    pub cluster: StackCluster,
    /// Images the stack needs, built with docker and loaded into the cluster
    /// (the sandbox takes images as present).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<Image>,
    /// What is deployed, in order; each step is waited for before the next unless `wait: false`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deploy: Vec<DeployStep>,
    /// Dev secrets that must not live in git: created before deploying when missing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<StackSecret>,
    /// Ports `kdeck forward` keeps open on 127.0.0.1, each to a ready pod behind a
    /// Service or workload (a new pod after a restart or a rollout).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forward: Vec<Forward>,
    /// Checks that prove the stack works (`kdeck verify`, and the end of `kdeck up`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verify: Vec<VerifyEntry>,
}

/// One forwarded port: exactly one of `service`, `workload` or `pod`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Forward {
    /// A Service: its selector picks the pods, and `port` is one of its ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// A workload (`deploy/NAME`, `sts/NAME`, …): `port` is a container port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    /// A pod: `port` is a container port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// Default: `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The Service's port, or the pod's.
    pub port: u16,
    /// The local port on 127.0.0.1 (default: the same as `port`; 0: a free one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<u16>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StackCluster {
    /// Who provides the cluster (default: the kdeck sandbox).
    #[serde(default)]
    pub provider: Provider,
    /// The sandbox's or cluster's name; for `context`, the kubeconfig context (default: the stack's name; for `context`, the current context).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A file passed to the provider when it creates the cluster: a kind config (merged with
    /// kdeck's additions), a k3d config, or for minikube a YAML list of `minikube start` flags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
    /// The ingress controller the stack needs, installed and waited for before the deploy
    /// steps. `nginx` — sandbox: built in; kind: ingress-nginx's kind manifest (pinned by
    /// URL and sha256; ports 80/443 mapped, node labelled `ingress-ready=true`); k3d:
    /// ingress-nginx's cloud manifest, with k3d's bundled Traefik disabled; minikube: its
    /// ingress addon. `traefik` — k3d only: keeps its bundled Traefik. `none`: nothing is
    /// installed. ingress-nginx is retired upstream (no releases or fixes after March 2026).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<IngressController>,
    /// A local copy of the ingress-nginx manifest to apply instead of downloading the pinned
    /// one (relative to kdeck.yaml; for machines without network access). Applied as it is:
    /// its sha256 is shown, and said when it is not the pinned one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_manifest: Option<String>,
    /// The sandbox's ingress port (default: a free one, kept across starts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_port: Option<u16>,
    /// Volumes survive `kdeck down --delete-cluster` and come back with the next `up`
    /// (kind, minikube, k3d: kept on the host under `.kdeck/volumes/<cluster>/`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keep_data: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// The kdeck sandbox (no Docker needed).
    #[default]
    Sandbox,
    /// A kind cluster (`kind create cluster`; context `kind-NAME`).
    Kind,
    /// A minikube profile (`minikube start -p NAME`; context NAME).
    Minikube,
    /// A k3d cluster (`k3d cluster create NAME`; context `k3d-NAME`).
    K3d,
    /// Any kubeconfig context: checked, never created or deleted.
    Context,
}

impl Provider {
    pub fn name(self) -> &'static str {
        match self {
            Provider::Sandbox => "sandbox",
            Provider::Kind => "kind",
            Provider::Minikube => "minikube",
            Provider::K3d => "k3d",
            Provider::Context => "context",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum IngressController {
    /// ingress-nginx (kind, k3d: installed by kdeck; minikube: its addon; sandbox: built in).
    Nginx,
    /// k3d's bundled Traefik, kept (k3d only).
    Traefik,
    /// No ingress controller is installed.
    None,
}

impl IngressController {
    pub fn name(self) -> &'static str {
        match self {
            IngressController::Nginx => "nginx",
            IngressController::Traefik => "traefik",
            IngressController::None => "none",
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Image {
    /// The image reference the manifests use, e.g. `taskflow-backend:1.0.0`.
    pub name: String,
    /// The build context, relative to kdeck.yaml.
    #[serde(default = "dot")]
    pub context: String,
    /// The Dockerfile (default: `Dockerfile` in the context).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dockerfile: Option<String>,
    /// Build arguments.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, String>,
}

fn dot() -> String {
    ".".to_string()
}

/// One deploy step: exactly one of `kustomize`, `helm` or `manifests`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeployStep {
    /// The namespace of the step's namespaced objects that name none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// A kustomization directory, built with `kustomize build` (or `kubectl kustomize`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kustomize: Option<String>,
    /// A Helm chart, installed as a Helm release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helm: Option<HelmStep>,
    /// Manifest files (globs allowed: `k8s/extra/*.yaml`), applied as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifests: Option<Vec<String>>,
    /// Wait for the step's objects to be ready before the next step (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HelmStep {
    /// A chart directory (relative to kdeck.yaml) or a chart reference helm understands.
    pub chart: String,
    /// The release name (default: the chart directory's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    /// The release's namespace (default: the step's, else `default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Chart version, for charts from a repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Values files, relative to kdeck.yaml.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// `--set` values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub set: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StackSecret {
    pub name: String,
    /// Default: `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Keys taken from environment variables: `{ api-key: OPENAI_API_KEY }`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub from_env: BTreeMap<String, String>,
    /// Keys generated once (random, N characters) and kept in
    /// `.kdeck/secrets/<cluster>.json` (0600), so a database kept across a recreate still accepts them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub generate: BTreeMap<String, u16>,
}

// verify: begin (the types of `stack.verify`)

mod verify_entry;
pub use verify_entry::{BadEntry, VerifyEntry};

/// One check of `stack.verify`: a name and exactly one check kind.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VerifyCheck {
    /// What `kdeck verify NAME` and the result lines call it.
    pub name: String,
    /// How long the check may take (default: 30s, or `kdeck verify --timeout`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// An HTTP request through the API's service proxy (`service`, `port`) or to a `url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpCheck>,
    /// A TCP connection through a port-forward kdeck opens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<PortCheck>,
    /// PostgreSQL's startup handshake, as `pg_isready` judges it, through a port-forward.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgres: Option<PortCheck>,
    /// Redis `PING` (after `AUTH` with `passwordSecret`), through a port-forward.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<PortCheck>,
    /// A command in a pod, with its exit code and output checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecCheck>,
    /// A workload's containers get variables from a ConfigMap or Secret (from the spec,
    /// and from the running container where it has `env` or `printenv`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<EnvCheck>,
    /// From inside a pod, a Service name resolves and answers on its port (with the
    /// tools the image has: getent, nslookup, nc, wget, curl, python3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<DnsCheck>,
    /// A marker written into a workload's volume is still there after its pod is
    /// replaced (and, under `kdeck verify --recreate`, after the cluster is recreated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistence: Option<PersistenceCheck>,
    /// No Secret value in logs, ConfigMaps, literal env values or built images; containers
    /// non-root with limits. Runs by default with the other checks; this entry configures or disables it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_hygiene: Option<SecretHygieneCheck>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DnsCheck {
    /// The workload (`deploy/NAME`, `sts/NAME`, …) or `pod/NAME` whose first ready pod asks.
    pub from: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The container that asks (default: the pod's default or only one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// The name to resolve: a Service (`backend-service`, `db.data`, `db.data.svc.cluster.local`).
    pub service: String,
    /// The port that must answer.
    pub port: u16,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PersistenceCheck {
    /// The workload (`sts/NAME`, `deploy/NAME`) whose first ready pod gets the marker.
    pub workload: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// A directory on the volume (its mount path or below).
    pub path: String,
    /// Also read the marker after `down --delete-cluster` + `up` (only under `kdeck verify --recreate`; else reported as skipped).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub across_recreate: bool,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SecretHygieneCheck {
    /// false: no secret hygiene check at all (it runs by default).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Containers must run as non-root (runAsNonRoot, or runAsUser other than 0).
    #[serde(default = "yes")]
    pub non_root: bool,
    /// Containers must have cpu and memory limits.
    #[serde(default = "yes")]
    pub limits: bool,
    /// How many recent log lines of each container are searched (default 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_lines: Option<u32>,
}

impl Default for SecretHygieneCheck {
    fn default() -> Self {
        SecretHygieneCheck { enabled: true, non_root: true, limits: true, log_lines: None }
    }
}

fn yes() -> bool {
    true
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpCheck {
    /// The Service, reached through the API's service proxy (with `port`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Default: the first deploy step's namespace, else `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The Service's port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// The path to ask for (default `/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// An `http://` or `https://` URL asked from this machine; `${stack:ingress}` is the provider's ingress address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The `Host` header (with `url`: for host-based ingress rules; with `https://`
    /// also the name the TLS handshake asks for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// With an `https://` url: accept any certificate, as `curl -k` does (a local
    /// ingress's self-signed one). Default: verified against the system's roots.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
    #[serde(default)]
    pub expect: HttpExpect,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpExpect {
    /// The status code (default 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Text the body must contain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_contains: Option<String>,
    /// The longest the answer may take (`2s`, `500ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_latency: Option<String>,
    /// Values the JSON body must hold: kubectl JSONPath → the value it must select
    /// (`{.status}: ok`, `"{.checks[?(@.name==\"db\")].up}": true`); several values
    /// selected are compared as kubectl prints them, separated by spaces.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub json_path: BTreeMap<String, serde_json::Value>,
}

/// Where a `tcp`, `postgres` or `redis` check connects: exactly one of `service`, `pod`, `workload`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PortCheck {
    /// A Service: a ready pod of its selector, at the Service port's target port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// A pod by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// A workload (`deploy/NAME`, `sts/NAME`, `ds/NAME`): its first ready pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The Service's port (with `service`), else the pod's.
    pub port: u16,
    /// redis: the password sent with `AUTH`; postgres: the password to log in with
    /// (then `SELECT 1` is run). From a Secret in the check's namespace, never printed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret: Option<SecretKey>,
    /// postgres only: log in as this user and run `SELECT 1` (default `postgres`
    /// when a passwordSecret or database is given; without any, the check is
    /// `pg_isready`'s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// postgres only: the database to log in to (default: the user's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SecretKey {
    pub name: String,
    pub key: String,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExecCheck {
    /// A workload (`deploy/NAME`, `sts/NAME`, …): its first ready pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    /// A pod by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The container (default: the pod's default or only one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// The command, as an argument vector (no shell unless you run one).
    pub command: Vec<String>,
    #[serde(default)]
    pub expect: ExecExpect,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExecExpect {
    /// Default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Text the command's stdout must contain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout_contains: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EnvCheck {
    /// The workload (`deploy/NAME`, `sts/NAME`, `ds/NAME`, …) or `pod/NAME`.
    pub workload: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The ConfigMap the variables come from (or `secret`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<String>,
    /// The Secret the variables come from (or `configMap`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// The variables every container must get from it.
    pub variables: Vec<String>,
}
// verify: end
