//! The CronJob controller: creates a Job at each scheduled time (UTC), honours
//! `suspend` and `concurrencyPolicy` (Allow, Forbid, Replace), keeps
//! `successfulJobsHistoryLimit`/`failedJobsHistoryLimit` finished Jobs, and reports
//! `active`, `lastScheduleTime` and `lastSuccessfulTime`.

use std::time::Duration;

use serde_json::{Value, json};

use super::events::{self, Source};
use super::objects::{self, name, namespace};
use super::runtime::{Controller, ObjectRef, every, self_or_controller};
use crate::cron::Schedule;
use crate::resources::ResourceKey;
use crate::rest::{DeleteOptions, Propagation, Rest, WriteOptions};
use crate::store::Change;
use crate::time;

const SOURCE: Source = Source { component: "cronjob-controller", host: None };
/// Look again at least this often, so a schedule is never missed by much.
const TICK: Duration = Duration::from_secs(10);

pub struct CronJobs;

fn cronjobs() -> ResourceKey {
    ResourceKey::new("batch", "cronjobs")
}

impl Controller for CronJobs {
    fn keys_for(&self, _rest: &Rest, change: &Change) -> Vec<ObjectRef> {
        self_or_controller(change, &cronjobs(), "CronJob", &ResourceKey::new("batch", "jobs"))
    }

    fn all_keys(&self, rest: &Rest) -> Vec<ObjectRef> {
        every(rest, &cronjobs())
    }

    fn reconcile(&self, rest: &Rest, key: &ObjectRef) -> Option<Duration> {
        let info = rest.catalogue.find("batch", "v1", "cronjobs")?;
        let jobs_info = rest.catalogue.find("batch", "v1", "jobs")?;
        let cj = rest.get(&info, Some(&key.namespace), &key.name).ok()?;
        if objects::is_deleting(&cj) {
            return None;
        }
        let Ok(schedule) = Schedule::parse(cj["spec"]["schedule"].as_str().unwrap_or_default()) else {
            events::warning(rest, &cj, &SOURCE, "UnparseableSchedule", &format!("unparseable schedule: {:?}", cj["spec"]["schedule"]));
            return None;
        };
        let jobs: Vec<Value> = objects::controlled(rest, &cj, &ResourceKey::new("batch", "jobs"));
        let finished = |j: &Value| objects::condition_is_true(j, "Complete") || objects::condition_is_true(j, "Failed");
        let mut active: Vec<&Value> = jobs.iter().filter(|j| !finished(j)).collect();
        let now = time::unix_secs();
        let since = ["lastScheduleTime"]
            .iter()
            .find_map(|f| cj["status"][f].as_str())
            .or(cj["metadata"]["creationTimestamp"].as_str())
            .and_then(time::parse_rfc3339)
            .unwrap_or(now);
        let mut next = cj.clone();
        if cj["spec"]["suspend"] != true
            && let Some(due) = schedule.last_between(since, now)
        {
            let policy = cj["spec"]["concurrencyPolicy"].as_str().unwrap_or("Allow");
            if policy == "Forbid" && !active.is_empty() {
                events::normal(rest, &cj, &SOURCE, "JobAlreadyActive", "Not starting job because prior execution is running and concurrency policy is Forbid");
            } else {
                if policy == "Replace" {
                    for job in &active {
                        let _ = rest.delete(
                            &jobs_info,
                            Some(namespace(job)),
                            name(job),
                            &DeleteOptions { propagation: Propagation::Background, ..Default::default() },
                        );
                        events::normal(rest, &cj, &SOURCE, "SuccessfulDelete", &format!("Deleted job {}", name(job)));
                    }
                    active.clear();
                }
                if let Some(job) = create_job(rest, &jobs_info, &cj, due) {
                    events::normal(rest, &cj, &SOURCE, "SuccessfulCreate", &format!("Created job {}", name(&job)));
                }
                next["status"]["lastScheduleTime"] = json!(time::rfc3339_unix(due));
            }
        }
        trim_history(rest, &jobs_info, &cj, &jobs);
        let refs: Vec<Value> = objects::controlled(rest, &cj, &ResourceKey::new("batch", "jobs"))
            .iter()
            .filter(|j| !finished(j))
            .map(|j| json!({"apiVersion": "batch/v1", "kind": "Job", "name": name(j), "namespace": namespace(j), "uid": j["metadata"]["uid"]}))
            .collect();
        next["status"]["active"] = json!(refs);
        if let Some(last) = jobs.iter().filter(|j| objects::condition_is_true(j, "Complete")).filter_map(|j| j["status"]["completionTime"].as_str()).max() {
            next["status"]["lastSuccessfulTime"] = json!(last);
        }
        objects::write_status(rest, &info, &cj, next);
        let until_next = schedule.next_after(now).map(|t| Duration::from_secs((t - now).max(1) as u64)).unwrap_or(TICK);
        Some(until_next.min(TICK))
    }
}

fn create_job(rest: &Rest, info: &crate::resources::ResourceInfo, cj: &Value, due: i64) -> Option<Value> {
    let template = &cj["spec"]["jobTemplate"];
    let mut metadata = if template["metadata"].is_object() { template["metadata"].clone() } else { json!({}) };
    // Named after the scheduled minute, as the real controller does, so a retry cannot create two.
    metadata["name"] = json!(format!("{}-{}", name(cj), due / 60));
    metadata["namespace"] = json!(namespace(cj));
    metadata["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"] = json!(time::rfc3339_unix(due));
    metadata["ownerReferences"] = json!([objects::controller_reference(cj)]);
    let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": template["spec"]});
    rest.create(info, Some(namespace(cj)), job, &WriteOptions::default()).ok()
}

/// Deletes the oldest finished Jobs beyond the history limits.
fn trim_history(rest: &Rest, info: &crate::resources::ResourceInfo, cj: &Value, jobs: &[Value]) {
    for (condition, limit_field, default) in [("Complete", "successfulJobsHistoryLimit", 3), ("Failed", "failedJobsHistoryLimit", 1)] {
        let limit = cj["spec"][limit_field].as_i64().unwrap_or(default).max(0) as usize;
        let mut done: Vec<&Value> = jobs.iter().filter(|j| objects::condition_is_true(j, condition)).collect();
        done.sort_by_key(|j| j["metadata"]["creationTimestamp"].as_str().unwrap_or_default().to_string());
        for job in done.iter().take(done.len().saturating_sub(limit)) {
            let _ = rest.delete(info, Some(namespace(job)), name(job), &DeleteOptions { propagation: Propagation::Background, ..Default::default() });
        }
    }
}
