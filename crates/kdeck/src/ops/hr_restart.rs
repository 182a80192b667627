//! Restarting a Flux HelmRelease as `flux suspend` + `flux resume` do: suspend it,
//! resume it with a reconcile request (`reconcile.fluxcd.io/requestedAt`, plus
//! `forceAt`/`resetAt` with the same token for a forced upgrade or a reset of its
//! failure counts), then wait until Flux has handled that request and the release
//! is Ready.

use std::collections::BTreeSet;

use kube::ResourceExt;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::plan::{Plan, PlanItem};
use crate::cluster::locate::{self, Scope};
use crate::cluster::{Cluster, crds, names, wait};
use crate::error::{Error, Result};

const REQUESTED_AT: &str = "reconcile.fluxcd.io/requestedAt";
const FORCE_AT: &str = "reconcile.fluxcd.io/forceAt";
const RESET_AT: &str = "reconcile.fluxcd.io/resetAt";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    #[default]
    Reconcile,
    /// Force an upgrade even without changes.
    Force,
    /// Reset the failure counts so an exhausted release is retried.
    Reset,
}

pub struct Found {
    pub resource: ApiResource,
    pub release: DynamicObject,
}

impl Found {
    pub fn namespace(&self) -> String {
        self.release.namespace().unwrap_or_default()
    }

    pub fn was_suspended(&self) -> bool {
        self.release.data["spec"]["suspend"] == true
    }

    fn api(&self, cluster: &Cluster) -> Api<DynamicObject> {
        Api::namespaced_with(cluster.client.clone(), &self.namespace(), &self.resource)
    }
}

/// The release by name, found as every command finds a named object
/// ([`locate::named`]): in `-n NAMESPACE`; without it, in the context's namespace,
/// else a unique match anywhere.
pub async fn find(cluster: &Cluster, name: &str, namespace: Option<&str>) -> Result<Found> {
    names::validate_name("HelmRelease", name)?;
    let resource = crds::HELM_RELEASE.discover(cluster).await?;
    let scope = match namespace {
        Some(ns) => Scope::Given(ns),
        None => Scope::Default(&cluster.default_namespace),
    };
    let release = locate::named(cluster, &resource, "HelmRelease", name, scope, |note| eprintln!("{note}")).await?;
    Ok(Found { resource, release })
}

/// The token Flux records as handled: the current time, as `flux reconcile` writes it.
pub fn new_token() -> String {
    k8s_openapi::jiff::Timestamp::now().to_string()
}

/// The patches: suspend (unless it stays suspended or already is), then resume with the request.
pub fn patches(found: &Found, mode: Mode, resume: bool, token: &str) -> Vec<(&'static str, Value)> {
    let mut annotations = json!({REQUESTED_AT: token});
    match mode {
        Mode::Force => annotations[FORCE_AT] = json!(token),
        Mode::Reset => annotations[RESET_AT] = json!(token),
        Mode::Reconcile => {}
    }
    if found.was_suspended() && !resume {
        return vec![("request a reconcile; it stays suspended", json!({"metadata": {"annotations": annotations}}))];
    }
    let mut steps = Vec::new();
    if !found.was_suspended() {
        steps.push(("suspend", json!({"spec": {"suspend": true}})));
    }
    let request = match mode {
        Mode::Reconcile => "resume and request a reconcile",
        Mode::Force => "resume and request a forced upgrade",
        Mode::Reset => "resume and request a reconcile with its failure counts reset",
    };
    steps.push((request, json!({"spec": {"suspend": false}, "metadata": {"annotations": annotations}})));
    steps
}

pub fn plan(cluster: &Cluster, found: &Found, mode: Mode, resume: bool, token: &str) -> Plan {
    let mut plan = Plan::new("hr-restart", &cluster.context);
    let why = match mode {
        Mode::Reconcile => "restart",
        Mode::Force => "restart with a forced upgrade",
        Mode::Reset => "restart with the failure counts reset",
    };
    for (change, patch) in patches(found, mode, resume, token) {
        let mut item = PlanItem::new("HelmRelease", found.namespace(), found.release.name_any(), change.to_string(), why.into());
        item.patch = Some(patch);
        plan.items.push(item);
    }
    plan
}

/// Where the release ended up.
#[derive(Debug, Serialize)]
pub struct Outcome {
    pub namespace: String,
    pub name: String,
    pub ready: String,
    pub reason: String,
    pub message: String,
    pub revision: String,
    #[serde(rename = "lastHandledReconcileAt")]
    pub handled: String,
    pub suspended: bool,
}

pub fn outcome(release: &DynamicObject) -> Outcome {
    let (ready, reason, message) = crds::ready_condition(release);
    let status = &release.data["status"];
    let revision = status["history"][0]["chartVersion"].as_str().or(status["lastAttemptedRevision"].as_str()).unwrap_or_default().to_string();
    Outcome {
        namespace: release.namespace().unwrap_or_default(),
        name: release.name_any(),
        ready,
        reason,
        message,
        revision,
        handled: status["lastHandledReconcileAt"].as_str().unwrap_or_default().to_string(),
        suspended: release.data["spec"]["suspend"] == true,
    }
}

/// Applies the patches, then waits until Flux handled `token`: Ready, failed, or the deadline.
pub async fn apply(
    cluster: &Cluster,
    found: &Found,
    mode: Mode,
    resume: bool,
    token: &str,
    deadline: Instant,
    mut progress: impl FnMut(&Outcome),
) -> Result<Outcome> {
    let api = found.api(cluster);
    let name = found.release.name_any();
    for (step, patch) in patches(found, mode, resume, token) {
        api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await.map_err(|e| cluster.error(&format!("HelmRelease {name}: {step}"), e))?;
    }
    if found.was_suspended() && !resume {
        // Flux does not reconcile a suspended release: nothing to wait for.
        let release = api.get(&name).await.map_err(|e| cluster.error(&format!("reading HelmRelease {name}"), e))?;
        return Ok(outcome(&release));
    }
    let handled = |r: &DynamicObject| r.data["status"]["lastHandledReconcileAt"] == token;
    let settled = |r: &DynamicObject| handled(r) && matches!(crds::ready_condition(r).0.as_str(), "True" | "False");
    let keys = BTreeSet::from([(found.namespace(), name.clone())]);
    let result = wait::until_settled(&api, &keys, deadline, settled, |r| progress(&outcome(r))).await;
    if let Some(release) = result.settled.values().next() {
        let done = outcome(release);
        if done.ready == "True" {
            return Ok(done);
        }
        return Err(Error::failure(format!("HelmRelease {}/{name} failed: {}: {}", done.namespace, done.reason, done.message))
            .hint(format!("after fixing the cause: kdeck hr-restart {name} -n {} --reset", done.namespace)));
    }
    let last = result.pending.values().next().cloned().flatten().map(|r| outcome(&r));
    let state = last.map(|o| format!("Ready={} {}: {}", o.ready, o.reason, o.message)).unwrap_or_default();
    Err(cluster
        .timed_out(format!("HelmRelease {}/{name} did not finish reconciling in time; last seen: {state}", found.namespace()))
        .hint("is the helm-controller running? kdeck waits for status.lastHandledReconcileAt to match its request"))
}
