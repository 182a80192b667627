//! Day-2 operations on a cluster, through the Kubernetes API. Each mutating
//! operation computes a [`plan::Plan`] from the cluster's state first (what will
//! change and why), which `--dry-run` prints, then applies it and reports per item.

pub mod browse_pvc;
pub mod cleanse_pods;
pub mod exec;
pub mod hr_restart;
pub mod logs;
pub mod plan;
pub mod sync_secrets;
pub mod workload;

/// How many requests a bulk operation keeps in flight.
pub const CONCURRENCY: usize = 16;
