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
    /// The ingress controller the stack needs (the sandbox's is built in; kind: `nginx` maps
    /// ports 80/443 and labels the node `ingress-ready=true`; minikube: `nginx` enables its addon).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<IngressController>,
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
    Nginx,
    Traefik,
    None,
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
