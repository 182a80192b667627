//! `kdeck verify --recreate`: the part of `persistence` checks with
//! `acrossRecreate: true` that deletes the cluster. Once every check ran, the
//! stack goes down with its cluster (`kdeck down --delete-cluster`, keeping volume
//! data as `stack.cluster.keepData` says) and comes up again (`kdeck up`, without
//! its checks), through the same code those commands run; then each marker is read
//! again. Without `--recreate` that part is reported as skipped.

use std::time::{Duration, Instant};

use super::CheckResult;
use super::persistence::Marker;
use crate::cluster::Cluster;
use crate::stack::StackDef;
use crate::stack::down::{self, DownOptions};
use crate::stack::up::{self, UpOptions};

/// How long the `up` of a recreate may take.
const UP_TIMEOUT: Duration = Duration::from_secs(600);

/// The name of the result line of a check's recreate part.
pub fn line_name(check: &str) -> String {
    format!("{check} (across recreate)")
}

/// The skipped line of a check whose recreate part did not run.
pub fn skipped(check: &str) -> CheckResult {
    CheckResult {
        name: line_name(check),
        kind: "persistence".into(),
        ok: true,
        skipped: true,
        seconds: 0.0,
        detail: "skipped: it deletes and recreates the cluster; run `kdeck verify --recreate`".into(),
    }
}

/// Down with the cluster, up again, and each marker read back: one result per check in `checks`.
pub async fn recreate(def: &StackDef, checks: &[String], markers: Vec<Marker>, progress: bool) -> Vec<CheckResult> {
    let started = Instant::now();
    let result = |name: &str, outcome: Result<String, String>| {
        let (ok, detail) = match outcome {
            Ok(detail) => (true, detail),
            Err(detail) => (false, detail),
        };
        CheckResult { name: line_name(name), kind: "persistence".into(), ok, skipped: false, seconds: started.elapsed().as_secs_f64(), detail }
    };
    let cycle = async {
        if progress {
            eprintln!("verify: deleting the cluster (kdeck down --delete-cluster) to check what persists");
        }
        down::down(def, &DownOptions { dry_run: false, delete_data: false, delete_cluster: true }).await.map_err(|e| super::forward::said(&e))?;
        if progress {
            eprintln!("verify: bringing the stack up again (kdeck up)");
        }
        let options =
            UpOptions { dry_run: false, timeout: UP_TIMEOUT, force_conflicts: false, rollout_on_config: true, skip_build: false, progress, verify: false };
        let (report, done) = up::up(def, &options).await;
        done.map_err(|e| super::forward::said(&e))?;
        Cluster::connect(Some(&report.context)).await.map_err(|e| super::forward::said(&e))
    };
    let cluster = match cycle.await {
        Ok(cluster) => cluster,
        Err(why) => return checks.iter().map(|c| result(c, Err(format!("the cluster could not be recreated: {why}")))).collect(),
    };
    let mut results = Vec::new();
    for check in checks {
        let outcome = match markers.iter().find(|m| &m.check == check) {
            Some(marker) => marker.read_again(&cluster).await,
            None => Err("not checked: no marker was written before the recreate (see the check's own line)".into()),
        };
        results.push(result(check, outcome));
    }
    results
}
