//! The change tools: each makes the plan of the operation kdeck's own command
//! makes (`ops::*`), and applies that same plan — never another — once the person
//! confirmed it (`ask` on a terminal, `mcp` through the client's elicitation).

use std::time::Duration;

use serde_json::{Value, json};

use super::Tools;
use super::args::{self, CleansePodsArgs, DeletePodArgs, HrRestartArgs, ScaleArgs, SetImageArgs, SetResourcesArgs, SyncSecretsArgs, WorkloadArgs};
use crate::cluster::names;
use crate::error::{Error, Result};
use crate::ops::plan::Plan;
use crate::ops::workload::{self, Change};
use crate::ops::{cleanse_pods, hr_restart, sync_secrets};

/// How long applying a change may take (a HelmRelease restart waits for Flux).
const APPLY_TIMEOUT: Duration = Duration::from_secs(120);

/// A planned change, holding what applying it needs: the plan shown is the plan applied.
pub enum Pending {
    Workload(Plan),
    DeletePod(Plan),
    HrRestart { found: Box<hr_restart::Found>, mode: hr_restart::Mode, token: String, plan: Plan },
    SyncSecrets { selected: sync_secrets::Selected, now: i64, plan: Plan },
    CleansePods { options: cleanse_pods::Options, plan: Plan },
}

impl Pending {
    pub fn plan(&self) -> &Plan {
        match self {
            Pending::Workload(plan) | Pending::DeletePod(plan) => plan,
            Pending::HrRestart { plan, .. } | Pending::SyncSecrets { plan, .. } | Pending::CleansePods { plan, .. } => plan,
        }
    }
}

pub fn mode(given: &Option<String>) -> Result<hr_restart::Mode> {
    Ok(match given.as_deref() {
        None | Some("reconcile") => hr_restart::Mode::Reconcile,
        Some("force") => hr_restart::Mode::Force,
        Some("reset") => hr_restart::Mode::Reset,
        Some(other) => return Err(Error::usage(format!("invalid mode {other:?}")).hint("modes are reconcile, force and reset")),
    })
}

pub async fn workload(tools: &Tools, target: &str, namespace: &Option<String>, change: Change) -> Result<Pending> {
    let (kind, name) = args::workload(target)?;
    let namespace = tools.scope(namespace, false)?.unwrap_or_default();
    Ok(Pending::Workload(workload::plan(&tools.cluster, kind, &namespace, &name, &change).await?))
}

pub async fn scale(tools: &Tools, a: &ScaleArgs) -> Result<Pending> {
    workload(tools, &a.target, &a.namespace, Change::Scale(a.replicas)).await
}

pub async fn restart(tools: &Tools, a: &WorkloadArgs) -> Result<Pending> {
    workload(tools, &a.target, &a.namespace, Change::Restart).await
}

pub async fn set_image(tools: &Tools, a: &SetImageArgs) -> Result<Pending> {
    workload(tools, &a.target, &a.namespace, Change::SetImage { container: a.container.clone(), image: a.image.clone() }).await
}

pub async fn set_resources(tools: &Tools, a: &SetResourcesArgs) -> Result<Pending> {
    let change = Change::SetResources(vec![workload::Resources { container: a.container.clone(), requests: a.requests.clone(), limits: a.limits.clone() }]);
    workload(tools, &a.target, &a.namespace, change).await
}

pub async fn delete_pod(tools: &Tools, a: &DeletePodArgs) -> Result<Pending> {
    let namespace = tools.scope(&a.namespace, false)?.unwrap_or_default();
    Ok(Pending::DeletePod(workload::plan_delete_pod(&tools.cluster, &namespace, &a.name).await?))
}

pub async fn hr_restart(tools: &Tools, a: &HrRestartArgs) -> Result<Pending> {
    let mode = mode(&a.mode)?;
    let namespace = tools.scope(&a.namespace, false)?;
    let found = hr_restart::find(&tools.cluster, &a.name, namespace.as_deref()).await?;
    let token = hr_restart::new_token();
    let plan = hr_restart::plan(&tools.cluster, &found, mode, true, &token);
    Ok(Pending::HrRestart { found: Box::new(found), mode, token, plan })
}

pub async fn sync_secrets(tools: &Tools, a: &SyncSecretsArgs) -> Result<Pending> {
    for name in &a.names {
        names::validate_name("ExternalSecret", name)?;
    }
    let selector = args::selector(&a.selector)?;
    let namespace = tools.scope(&a.namespace, false)?;
    let options = sync_secrets::Options { names: a.names.clone(), namespace_given: a.namespace.is_some(), namespace, selector };
    let selected = sync_secrets::select(&tools.cluster, &options).await?;
    let now = kdeck_sandbox::time::unix_secs();
    let plan = sync_secrets::plan(&tools.cluster, &selected, now);
    Ok(Pending::SyncSecrets { selected, now, plan })
}

pub async fn cleanse_pods(tools: &Tools, a: &CleansePodsArgs) -> Result<Pending> {
    let options = cleanse_pods::Options {
        namespace: tools.scope(&a.namespace, a.all_namespaces)?,
        selector: args::selector(&a.selector)?,
        older_than: None,
        include_completed: a.include_completed,
    };
    let plan = cleanse_pods::plan(&tools.cluster, &options).await?;
    Ok(Pending::CleansePods { options, plan })
}

/// Applies the pending change; what happened, as JSON.
pub async fn apply(tools: &Tools, pending: Pending) -> Result<Value> {
    let cluster = &tools.cluster;
    let deadline = tokio::time::Instant::now() + APPLY_TIMEOUT;
    let timed_out = || cluster.timed_out(format!("the change did not finish within {}s", APPLY_TIMEOUT.as_secs()));
    Ok(match pending {
        Pending::Workload(plan) => {
            let done = tokio::time::timeout_at(deadline, workload::apply(cluster, &plan)).await.map_err(|_| timed_out())??;
            json!({"applied": true, "operation": plan.operation, "done": done})
        }
        Pending::DeletePod(plan) => {
            let done = tokio::time::timeout_at(deadline, workload::apply_delete_pod(cluster, &plan)).await.map_err(|_| timed_out())??;
            json!({"applied": true, "operation": plan.operation, "done": done})
        }
        Pending::HrRestart { found, mode, token, plan } => {
            let outcome = hr_restart::apply(cluster, &found, mode, true, &token, deadline, |_| {}).await?;
            json!({"applied": true, "operation": plan.operation, "result": outcome})
        }
        Pending::SyncSecrets { selected, now, plan } => {
            let cluster = cluster.clone();
            let rows = on_own_thread(move || async move { sync_secrets::apply(&cluster, &selected, now, Some(deadline)).await }).await?;
            json!({"applied": true, "operation": plan.operation, "result": rows})
        }
        Pending::CleansePods { options, plan } => {
            let (cluster, operation) = (cluster.clone(), plan.operation);
            let report = on_own_thread(move || async move { cleanse_pods::apply(&cluster, &plan, &options, deadline).await }).await?;
            json!({"applied": true, "operation": operation, "result": report})
        }
    })
}

/// Runs `work`'s future on a blocking thread of the runtime. The bulk operations'
/// streams of borrowing closures cannot be proven `Send` inside the MCP server's
/// handler (a limit of the compiler's reasoning about closures), so they do not run
/// on its tasks.
async fn on_own_thread<T, F>(work: impl FnOnce() -> F + Send + 'static) -> Result<T>
where
    T: Send + 'static,
    F: std::future::Future<Output = T>,
{
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || handle.block_on(work())).await.map_err(|e| Error::failure(format!("the change stopped: {e}")))
}
