//! The arguments of each tool: typed (serde refuses unknown fields and wrong
//! types), described for the model (their JSON schema comes from these types), and
//! checked like kdeck's own flags — names by DNS-1123, selectors by the API
//! server's grammar, durations as Go writes them — before any request is made.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::cluster::names;
use crate::error::{Error, Result};

/// Where to look: a namespace, or every namespace.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Scope {
    /// The namespace (default: the one kdeck was started with).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Every namespace instead of one.
    #[serde(default)]
    pub all_namespaces: bool,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DiagnoseArgs {
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub all_namespaces: bool,
    /// Narrow the report to one object and what it depends on: deploy/api, service/web, pod/NAME, hr/NAME.
    #[serde(default)]
    pub target: Option<String>,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListArgs {
    /// The kind: pods, deployments, statefulsets, daemonsets, replicasets, services, ingresses, configmaps, secrets,
    /// pvc, jobs, cronjobs, nodes, namespaces, helmreleases, externalsecrets (short names such as po, deploy, svc work).
    pub kind: String,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub all_namespaces: bool,
    /// A label selector, as kubectl -l takes it (app=web,tier!=db).
    #[serde(default)]
    pub selector: Option<String>,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ObjectArgs {
    /// The kind (as for list).
    pub kind: String,
    /// The object's name.
    pub name: String,
    #[serde(default)]
    pub namespace: Option<String>,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LogsArgs {
    /// A pod (NAME or pod/NAME) or a workload whose pods to read (deploy/NAME, sts/NAME, ds/NAME, job/NAME, svc/NAME).
    pub target: String,
    #[serde(default)]
    pub namespace: Option<String>,
    /// The container (default: the pod's default container).
    #[serde(default)]
    pub container: Option<String>,
    /// Lines from the end of each log (1–500, default 100).
    #[serde(default)]
    pub tail: Option<i64>,
    /// Only lines newer than this (30s, 5m, 1h).
    #[serde(default)]
    pub since: Option<String>,
    /// The log of the previous run (after a crash).
    #[serde(default)]
    pub previous: bool,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EventsArgs {
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub all_namespaces: bool,
    /// Only events about this object (KIND/NAME: pod/api-1, deploy/api).
    #[serde(default)]
    pub object: Option<String>,
    /// Only warnings.
    #[serde(default)]
    pub warnings_only: bool,
    /// The newest N events (1–200, default 50).
    #[serde(default)]
    pub limit: Option<usize>,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WorkloadArgs {
    /// The workload: deploy/NAME, sts/NAME or ds/NAME.
    pub target: String,
    #[serde(default)]
    pub namespace: Option<String>,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NoArgs {}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TopArgs {
    /// pods (default) or nodes.
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub all_namespaces: bool,
    /// Only pods whose labels match.
    #[serde(default)]
    pub selector: Option<String>,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RightsizeArgs {
    /// The workload: deploy/NAME, sts/NAME or ds/NAME.
    pub target: String,
    #[serde(default)]
    pub namespace: Option<String>,
    /// How long to sample usage, in seconds (1–60, default 15); `kdeck rightsize --window 1h` samples longer.
    #[serde(default)]
    pub window_seconds: Option<u64>,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScaleArgs {
    /// deploy/NAME or sts/NAME.
    pub target: String,
    /// The number of replicas wanted (0–1000).
    pub replicas: i32,
    #[serde(default)]
    pub namespace: Option<String>,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SetImageArgs {
    /// deploy/NAME, sts/NAME or ds/NAME.
    pub target: String,
    pub container: String,
    /// The new image (nginx:1.27, registry.example.com/team/api:1.4.2).
    pub image: String,
    #[serde(default)]
    pub namespace: Option<String>,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SetResourcesArgs {
    /// deploy/NAME, sts/NAME or ds/NAME.
    pub target: String,
    pub container: String,
    /// Requests by resource: {"cpu": "250m", "memory": "256Mi"}.
    #[serde(default)]
    pub requests: BTreeMap<String, String>,
    /// Limits by resource: {"memory": "512Mi"}.
    #[serde(default)]
    pub limits: BTreeMap<String, String>,
    #[serde(default)]
    pub namespace: Option<String>,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HrRestartArgs {
    /// The HelmRelease's name.
    pub name: String,
    #[serde(default)]
    pub namespace: Option<String>,
    /// reconcile (default), force (a forced upgrade) or reset (clear exhausted retries).
    #[serde(default)]
    pub mode: Option<String>,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SyncSecretsArgs {
    /// ExternalSecrets by name (default: all of the namespace, or those the selector matches).
    #[serde(default)]
    pub names: Vec<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub selector: Option<String>,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CleansePodsArgs {
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub all_namespaces: bool,
    #[serde(default)]
    pub selector: Option<String>,
    /// Also delete Completed (Succeeded) pods.
    #[serde(default)]
    pub include_completed: bool,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeletePodArgs {
    /// The pod's name.
    pub name: String,
    #[serde(default)]
    pub namespace: Option<String>,
}

/// A namespace argument, checked.
pub fn namespace(given: &Option<String>) -> Result<Option<String>> {
    if let Some(ns) = given {
        names::validate_namespace(ns)?;
    }
    Ok(given.clone())
}

/// A selector argument, checked.
pub fn selector(given: &Option<String>) -> Result<Option<String>> {
    if let Some(s) = given {
        names::validate_selector(s)?;
    }
    Ok(given.clone())
}

/// A container name (a DNS-1123 label).
pub fn container(name: &str) -> Result<()> {
    names::validate_namespace(name).map_err(|_| {
        Error::usage(format!("invalid container name {name:?}")).hint("container names are lower-case letters, digits and '-' (at most 63 characters)")
    })
}

/// `KIND/NAME` with a workload kind kdeck changes (deploy, sts, ds).
pub fn workload(target: &str) -> Result<(crate::ops::workload::Kind, String)> {
    let refused = || Error::usage(format!("invalid workload {target:?}")).hint("workloads are deploy/NAME, sts/NAME or ds/NAME");
    let (kind, name) = target.split_once('/').ok_or_else(refused)?;
    let kind = crate::ops::workload::Kind::parse(&kind.to_ascii_lowercase()).ok_or_else(refused)?;
    names::validate_name(kind.name(), name)?;
    Ok((kind, name.to_string()))
}
