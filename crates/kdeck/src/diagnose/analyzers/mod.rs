//! The analyzers, one module per area, each a pure function of the [`Scene`]. Their
//! problems are merged by root cause; workloads left unexplained get the readiness
//! rule's own reason.

pub mod config;
mod flux;
pub mod network;
mod pods;
mod policies;
mod storage;
mod usage;
mod workloads;

use super::problem::{Problem, group};
use super::scene::Scene;

/// An analyzer: every problem it finds in the scene.
type Analyzer = fn(&Scene) -> Vec<Problem>;

/// In the order their problems are preferred when two name the same root cause:
/// the one with the longer chain (from a pod) comes first.
const ANALYZERS: &[(&str, Analyzer)] = &[
    ("pods", pods::analyze),
    ("storage", storage::analyze),
    ("network", network::analyze),
    ("policies", policies::analyze),
    ("flux", flux::analyze),
    ("workloads", workloads::analyze),
];

/// Every problem of the scene, grouped by root cause.
pub fn run(scene: &Scene) -> Vec<Problem> {
    let mut problems: Vec<Problem> = ANALYZERS.iter().flat_map(|(_, analyze)| analyze(scene)).collect();
    problems.extend(workloads::unexplained(scene, &problems));
    // Usage is looked at last: a warning about it does not explain a failing workload.
    problems.extend(usage::analyze(scene));
    group(problems)
}
