//! The Job controller: runs pods until `completions` succeed (at most `parallelism`
//! at a time), gives up after `backoffLimit` failures or past its
//! `activeDeadlineSeconds` (`DeadlineExceeded`), reports the conditions
//! `kubectl wait --for=condition=complete` reads, and deletes finished Jobs after
//! `ttlSecondsAfterFinished`.

use std::time::Duration;

use serde_json::{Value, json};

use super::events::{self, Source};
use super::objects::{self, name, namespace};
use super::runtime::{Controller, ObjectRef, every, self_or_controller};
use crate::resources::{ResourceInfo, ResourceKey};
use crate::rest::{DeleteOptions, Propagation, Rest, WriteOptions};
use crate::store::Change;
use crate::time;

const SOURCE: Source = Source { component: "job-controller", host: None };

pub struct Jobs;

fn jobs() -> ResourceKey {
    ResourceKey::new("batch", "jobs")
}

impl Controller for Jobs {
    fn keys_for(&self, _rest: &Rest, change: &Change) -> Vec<ObjectRef> {
        self_or_controller(change, &jobs(), "Job", &ResourceKey::new("", "pods"))
    }

    fn all_keys(&self, rest: &Rest) -> Vec<ObjectRef> {
        every(rest, &jobs())
    }

    fn reconcile(&self, rest: &Rest, key: &ObjectRef) -> Option<Duration> {
        let info = rest.catalogue.find("batch", "v1", "jobs")?;
        let job = rest.get(&info, Some(&key.namespace), &key.name).ok()?;
        if objects::is_deleting(&job) {
            return None;
        }
        if let Some(finished) = finished_at(&job) {
            return expire(rest, &info, &job, &finished);
        }
        let pods = objects::controlled_pods(rest, &job);
        let phase = |p: &Value| p["status"]["phase"].as_str().unwrap_or_default().to_string();
        let succeeded = pods.iter().filter(|p| phase(p) == "Succeeded").count() as i64;
        let failed = pods.iter().filter(|p| phase(p) == "Failed").count() as i64;
        let active: Vec<&Value> = pods.iter().filter(|p| !objects::is_pod_terminal(p) && !objects::is_deleting(p)).collect();
        let spec = &job["spec"];
        let completions = spec["completions"].as_i64().unwrap_or(1);
        let parallelism = spec["parallelism"].as_i64().unwrap_or(1);
        let backoff_limit = spec["backoffLimit"].as_i64().unwrap_or(6);
        let mut next = job.clone();
        let now = time::now();
        if next["status"]["startTime"].is_null() && spec["suspend"] != true {
            next["status"]["startTime"] = json!(now);
        }
        let mut active_count = active.len() as i64;
        let mut failed = failed;
        let mut requeue = None;
        // activeDeadlineSeconds counts from the Job's start.
        let deadline = spec["activeDeadlineSeconds"].as_u64().map(Duration::from_secs);
        let running_for =
            next["status"]["startTime"].as_str().and_then(time::parse_rfc3339).map(|t| Duration::from_secs(u64::try_from(time::unix_secs() - t).unwrap_or(0)));
        let past_deadline = matches!((deadline, running_for), (Some(d), Some(r)) if r >= d);
        if let (Some(d), Some(r)) = (deadline, running_for)
            && r < d
        {
            requeue = Some(d - r);
        }
        let give_up = if past_deadline {
            Some(("DeadlineExceeded", "Job was active longer than specified deadline"))
        } else if failed > backoff_limit {
            Some(("BackoffLimitExceeded", "Job has reached the specified backoff limit"))
        } else {
            None
        };
        if let Some((reason, message)) = give_up {
            // Its running pods are stopped and count as failed.
            for pod in &active {
                let _ = rest.delete(&rest.catalogue.find("", "v1", "pods")?, Some(namespace(pod)), name(pod), &DeleteOptions::default());
            }
            failed += active_count;
            active_count = 0;
            objects::set_condition(&mut next, "FailureTarget", "True", reason, message);
            objects::set_condition(&mut next, "Failed", "True", reason, message);
            events::warning(rest, &job, &SOURCE, reason, message);
            requeue = None;
        } else if succeeded >= completions {
            objects::set_condition(&mut next, "SuccessCriteriaMet", "True", "CompletionsReached", "Reached expected number of succeeded pods");
            objects::set_condition(&mut next, "Complete", "True", "CompletionsReached", "Reached expected number of succeeded pods");
            next["status"]["completionTime"] = json!(now);
            events::normal(rest, &job, &SOURCE, "Completed", "Job completed");
        } else if spec["suspend"] != true
            && let Some(wait) = failure_backoff(&job, &pods, failed)
        {
            requeue = Some(requeue.map_or(wait, |r: Duration| r.min(wait)));
        } else if spec["suspend"] != true {
            let wanted = parallelism.min(completions - succeeded) - active_count;
            for _ in 0..wanted.max(0) {
                match create_pod(rest, &job) {
                    Some(Ok(pod)) => {
                        events::normal(rest, &job, &SOURCE, "SuccessfulCreate", &format!("Created pod: {}", name(&pod)));
                        active_count += 1;
                    }
                    Some(Err(e)) => {
                        events::warning(rest, &job, &SOURCE, "FailedCreate", &format!("Error creating: {e}"));
                        requeue = Some(requeue.map_or(objects::CREATE_RETRY, |r: Duration| r.min(objects::CREATE_RETRY)));
                        break;
                    }
                    None => break,
                }
            }
        }
        let status = &mut next["status"];
        status["active"] = json!(active_count);
        status["succeeded"] = json!(succeeded);
        status["failed"] = json!(failed);
        status["ready"] = json!(active.iter().filter(|p| objects::is_pod_ready(p)).count());
        status["terminating"] = json!(0);
        status["uncountedTerminatedPods"] = json!({});
        objects::write_status(rest, &info, &job, next);
        requeue
    }
}

/// How long to wait before replacing failed pods: as the real controller, 10s after
/// the first failure, doubling with each, at most 6 minutes (the base can be set with
/// the template's `sandbox.kdeck.dev/backoff-seconds`). None when it is time.
fn failure_backoff(job: &Value, pods: &[Value], failed: i64) -> Option<Duration> {
    if failed == 0 {
        return None;
    }
    let base =
        job["spec"]["template"]["metadata"]["annotations"]["sandbox.kdeck.dev/backoff-seconds"].as_str().and_then(|s| s.parse::<f64>().ok()).unwrap_or(10.0);
    let delay = (base * 2f64.powi((failed - 1).min(16) as i32)).min(360.0);
    let last_failure = pods
        .iter()
        .filter(|p| p["status"]["phase"] == "Failed")
        .filter_map(|p| p["status"]["containerStatuses"][0]["state"]["terminated"]["finishedAt"].as_str().or(p["metadata"]["creationTimestamp"].as_str()))
        .filter_map(time::parse_rfc3339)
        .max()?;
    let now = time::unix_nanos() as f64 / 1e9;
    let left = last_failure as f64 + delay - now;
    (left > 0.0).then(|| Duration::from_secs_f64(left))
}

fn finished_at(job: &Value) -> Option<String> {
    ["Complete", "Failed"]
        .iter()
        .filter_map(|t| objects::condition(job, t))
        .find(|c| c["status"] == "True")
        .and_then(|c| c["lastTransitionTime"].as_str().map(str::to_string))
}

/// Deletes a finished Job (and its pods) once its TTL has passed.
fn expire(rest: &Rest, info: &ResourceInfo, job: &Value, finished: &str) -> Option<Duration> {
    let ttl = job["spec"]["ttlSecondsAfterFinished"].as_i64()?;
    let finished = time::parse_rfc3339(finished)?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let left = finished + ttl - now;
    if left > 0 {
        return Some(Duration::from_secs(left as u64));
    }
    let _ = rest.delete(info, Some(namespace(job)), name(job), &DeleteOptions { propagation: Propagation::Background, ..Default::default() });
    None
}

fn create_pod(rest: &Rest, job: &Value) -> Option<Result<Value, crate::rest::ApiError>> {
    let pods = rest.catalogue.find("", "v1", "pods")?;
    let template = &job["spec"]["template"];
    let mut metadata = if template["metadata"].is_object() { template["metadata"].clone() } else { json!({}) };
    metadata["generateName"] = json!(format!("{}-", name(job)));
    metadata["ownerReferences"] = json!([objects::controller_reference(job)]);
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template["spec"]});
    Some(rest.create(&pods, Some(namespace(job)), pod, &WriteOptions::default()))
}
