//! Pods and pod templates (`printPod`, `printPodTemplate`).

use serde_json::{Value, json};

use super::duration::Ctx;
use super::obj::{Obj, containers_cells, format_labels, non_empty, or_none};
use super::{AGE, Col, NAME, Row, cells, col, wide};

#[rustfmt::skip]
pub(super) const POD_COLUMNS: &[Col] = &[
    NAME,
    col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
    col("Status", "string", "The aggregate status of the containers in this pod."),
    col("Restarts", "string", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
    AGE,
    wide("IP", "string", "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated."),
    wide("Node", "string", "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName."),
    wide("Nominated Node", "string", "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods."),
    wide("Readiness Gates", "string", "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to \"True\"."),
];

/// printPod: READY counts ready containers (plus started sidecars), STATUS is the
/// phase refined by the first init container that is not done, or else by the
/// containers' waiting/terminated reasons, RESTARTS adds when the last one was.
pub(super) fn pod_row(pod: Obj<'_>, ctx: &Ctx) -> Row {
    let spec = pod.child(&["spec"]);
    let status = pod.child(&["status"]);
    let phase = status.str(&["phase"]);
    let conditions = status.list(&["conditions"]);

    let mut reason = non_empty(status.str(&["reason"])).unwrap_or(phase).to_string();
    if conditions.iter().map(Obj).any(|c| c.str(&["type"]) == "PodScheduled" && c.str(&["reason"]) == "SchedulingGated") {
        reason = "SchedulingGated".to_string();
    }

    let init_specs = spec.list(&["initContainers"]);
    // Sidecars are init containers with restartPolicy Always: they count as
    // containers and keep running next to the app containers.
    let is_sidecar = |name: &str| init_specs.iter().rev().map(Obj).find(|c| c.str(&["name"]) == name).is_some_and(|c| c.str(&["restartPolicy"]) == "Always");
    let sidecar_count = init_specs.iter().map(Obj).filter(|c| c.str(&["restartPolicy"]) == "Always").count();
    let total = spec.list(&["containers"]).len() + sidecar_count;

    let mut ready = 0;
    let mut restarts = 0;
    let mut sidecar_restarts = 0;
    // Go's zero time is "never": None sorts before every Some.
    let mut last_restart: Option<i128> = None;
    let mut last_sidecar_restart: Option<i128> = None;
    let mut initializing = false;

    for (i, cs) in status.list(&["initContainerStatuses"]).iter().map(Obj).enumerate() {
        let restart_count = cs.int(&["restartCount"]);
        let finished = cs.time(&["lastState", "terminated", "finishedAt"]);
        restarts += restart_count;
        last_restart = last_restart.max(finished);
        let sidecar = is_sidecar(cs.str(&["name"]));
        if sidecar {
            sidecar_restarts += restart_count;
            last_sidecar_restart = last_sidecar_restart.max(finished);
        }
        let terminated = cs.obj(&["state", "terminated"]);
        let waiting = cs.obj(&["state", "waiting"]);
        if terminated.is_some_and(|t| t.int(&["exitCode"]) == 0) {
            continue;
        }
        if sidecar && cs.bool(&["started"]) {
            if cs.bool(&["ready"]) {
                ready += 1;
            }
            continue;
        }
        reason = if let Some(t) = terminated {
            match non_empty(t.str(&["reason"])) {
                Some(r) => format!("Init:{r}"),
                None if t.int(&["signal"]) != 0 => format!("Init:Signal:{}", t.int(&["signal"])),
                None => format!("Init:ExitCode:{}", t.int(&["exitCode"])),
            }
        } else if let Some(r) = waiting.and_then(|w| non_empty(w.str(&["reason"]))).filter(|r| *r != "PodInitializing") {
            format!("Init:{r}")
        } else {
            format!("Init:{i}/{}", init_specs.len())
        };
        initializing = true;
        break;
    }

    let initialized = conditions.iter().map(Obj).find(|c| c.str(&["type"]) == "Initialized").is_some_and(|c| c.str(&["status"]) == "True");
    if !initializing || initialized {
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let mut has_running = false;
        // Walked backwards, so the first container's reason wins.
        for cs in status.list(&["containerStatuses"]).iter().rev().map(Obj) {
            restarts += cs.int(&["restartCount"]);
            last_restart = last_restart.max(cs.time(&["lastState", "terminated", "finishedAt"]));
            let waiting = cs.obj(&["state", "waiting"]);
            let terminated = cs.obj(&["state", "terminated"]);
            if let Some(r) = waiting.and_then(|w| non_empty(w.str(&["reason"]))) {
                reason = r.to_string();
            } else if let Some(t) = terminated {
                reason = match non_empty(t.str(&["reason"])) {
                    Some(r) => r.to_string(),
                    None if t.int(&["signal"]) != 0 => format!("Signal:{}", t.int(&["signal"])),
                    None => format!("ExitCode:{}", t.int(&["exitCode"])),
                };
            } else if cs.bool(&["ready"]) && cs.obj(&["state", "running"]).is_some() {
                has_running = true;
                ready += 1;
            }
        }
        // A finished container next to a running one does not make the pod Completed.
        if reason == "Completed" && has_running {
            let pod_ready = conditions.iter().map(Obj).any(|c| c.str(&["type"]) == "Ready" && c.str(&["status"]) == "True");
            reason = if pod_ready { "Running" } else { "NotReady" }.to_string();
        }
    }

    if pod.has(&["metadata", "deletionTimestamp"]) {
        if status.str(&["reason"]) == "NodeLost" {
            reason = "Unknown".to_string();
        } else if phase != "Succeeded" && phase != "Failed" {
            reason = "Terminating".to_string();
        }
    }

    let restarts_cell = match last_restart {
        Some(_) if restarts != 0 => format!("{restarts} ({} ago)", ctx.since(last_restart)),
        _ => restarts.to_string(),
    };

    // podIPs is authoritative; an object stored with only the legacy podIP still has it
    // (the v1 → internal conversion copies podIP into podIPs).
    let pod_ip = status.list(&["podIPs"]).first().map(|ip| Obj(ip).str(&["ip"])).or_else(|| status.opt_str(&["podIP"])).and_then(non_empty).unwrap_or("<none>");
    let gates = spec.list(&["readinessGates"]);
    let readiness_gates = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let passing = gates
            .iter()
            .map(|g| Obj(g).str(&["conditionType"]))
            .filter(|wanted| conditions.iter().map(Obj).find(|c| c.str(&["type"]) == *wanted).is_some_and(|c| c.str(&["status"]) == "True"))
            .count();
        format!("{passing}/{}", gates.len())
    };

    let row_conditions = match phase {
        "Succeeded" => Some(row_completed("Succeeded", "The pod has completed successfully.")),
        "Failed" => Some(row_completed("Failed", "The pod failed.")),
        _ => None,
    };
    Row {
        cells: cells![
            pod.name(),
            format!("{ready}/{total}"),
            reason,
            restarts_cell,
            pod.age(ctx),
            pod_ip,
            or_none(spec.str(&["nodeName"])),
            or_none(status.str(&["nominatedNodeName"])),
            readiness_gates,
        ],
        conditions: row_conditions,
    }
}

/// The `Completed` row condition the pod printer attaches to finished pods.
fn row_completed(reason: &str, message: &str) -> Value {
    json!([{ "type": "Completed", "status": "True", "reason": reason, "message": message }])
}

#[rustfmt::skip]
pub(super) const POD_TEMPLATE_COLUMNS: &[Col] = &[
    NAME,
    col("Containers", "string", "Names of each container in the template."),
    col("Images", "string", "Images referenced by each container in the template."),
    col("Pod Labels", "string", "The labels for the pod template."),
];

pub(super) fn pod_template_row(o: Obj<'_>, _ctx: &Ctx) -> Row {
    let (names, images) = containers_cells(o.list(&["template", "spec", "containers"]));
    Row::from(cells![o.name(), names, images, format_labels(o.map(&["template", "metadata", "labels"]))])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::table::testing::{ago, row, table};

    fn pod(spec: Value, status: Value) -> Value {
        json!({
            "metadata": {"name": "web-0", "creationTimestamp": ago(3600)},
            "spec": spec,
            "status": status,
        })
    }

    fn one_container() -> Value {
        json!({"containers": [{"name": "app", "image": "nginx"}]})
    }

    /// READY, STATUS, RESTARTS of a pod.
    fn pod_cells(pod: Value) -> (String, String, String) {
        let cells = row("", "pods", pod);
        let text = |i: usize| cells[i].as_str().expect("string cell").to_string();
        (text(1), text(2), text(3))
    }

    fn waiting(reason: &str) -> Value {
        json!({"name": "app", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": reason}}})
    }

    #[test]
    fn pod_running_pending_and_waiting_states() {
        let running = pod(
            one_container(),
            json!({"phase": "Running", "containerStatuses": [
                {"name": "app", "ready": true, "restartCount": 0, "state": {"running": {"startedAt": ago(100)}}}
            ]}),
        );
        assert_eq!(pod_cells(running), ("1/1".into(), "Running".into(), "0".into()));

        let pending = pod(one_container(), json!({"phase": "Pending"}));
        assert_eq!(pod_cells(pending), ("0/1".into(), "Pending".into(), "0".into()));

        for reason in ["ContainerCreating", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError"] {
            let p = pod(one_container(), json!({"phase": "Pending", "containerStatuses": [waiting(reason)]}));
            assert_eq!(pod_cells(p).1, reason);
        }

        let gated = pod(
            one_container(),
            json!({"phase": "Pending", "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}
            ]}),
        );
        assert_eq!(pod_cells(gated).1, "SchedulingGated");
    }

    #[test]
    fn pod_crash_loop_shows_restarts_and_when() {
        let p = pod(
            one_container(),
            json!({"phase": "Running", "containerStatuses": [{
                "name": "app", "ready": false, "restartCount": 3,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(125)}},
            }]}),
        );
        assert_eq!(pod_cells(p), ("0/1".into(), "CrashLoopBackOff".into(), "3 (2m5s ago)".into()));

        // Restarts without a known last termination print the bare count.
        let p = pod(
            one_container(),
            json!({"phase": "Running", "containerStatuses": [{
                "name": "app", "ready": true, "restartCount": 2, "state": {"running": {}},
            }]}),
        );
        assert_eq!(pod_cells(p), ("1/1".into(), "Running".into(), "2".into()));
    }

    #[test]
    fn pod_terminated_reasons() {
        let terminated = |phase: &str, terminated: Value| {
            pod(
                one_container(),
                json!({"phase": phase, "containerStatuses": [{
                    "name": "app", "ready": false, "restartCount": 0, "state": {"terminated": terminated},
                }]}),
            )
        };
        let completed = terminated("Succeeded", json!({"exitCode": 0, "reason": "Completed"}));
        assert_eq!(pod_cells(completed.clone()).1, "Completed");
        let t = table("", "pods", &[completed]);
        assert_eq!(
            t["rows"][0]["conditions"],
            json!([{"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."}])
        );

        assert_eq!(pod_cells(terminated("Failed", json!({"exitCode": 1, "reason": "Error"}))).1, "Error");
        assert_eq!(pod_cells(terminated("Running", json!({"exitCode": 137, "reason": "OOMKilled"}))).1, "OOMKilled");
        assert_eq!(pod_cells(terminated("Failed", json!({"exitCode": 2}))).1, "ExitCode:2");
        assert_eq!(pod_cells(terminated("Failed", json!({"exitCode": 0, "signal": 9}))).1, "Signal:9");
        let failed = table("", "pods", &[terminated("Failed", json!({"exitCode": 1, "reason": "Error"}))]);
        assert_eq!(failed["rows"][0]["conditions"][0]["reason"], "Failed");

        let evicted = pod(one_container(), json!({"phase": "Failed", "reason": "Evicted", "message": "The node was low on resource: memory."}));
        assert_eq!(pod_cells(evicted), ("0/1".into(), "Evicted".into(), "0".into()));
    }

    #[test]
    fn pod_completed_container_next_to_running_one() {
        let spec = json!({"containers": [{"name": "a"}, {"name": "b"}]});
        let status = |pod_ready: &str| {
            json!({"phase": "Running",
            "conditions": [{"type": "Ready", "status": pod_ready}],
            "containerStatuses": [
                {"name": "a", "ready": false, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                {"name": "b", "ready": true, "state": {"running": {}}},
            ]})
        };
        assert_eq!(pod_cells(pod(spec.clone(), status("True"))).1, "Running");
        assert_eq!(pod_cells(pod(spec.clone(), status("False"))).0, "1/2");
        assert_eq!(pod_cells(pod(spec, status("False"))).1, "NotReady");
    }

    #[test]
    fn pod_init_containers() {
        let spec = json!({
            "initContainers": [{"name": "migrate"}, {"name": "seed"}],
            "containers": [{"name": "app"}],
        });
        let with_init = |statuses: Value| pod(spec.clone(), json!({"phase": "Pending", "initContainerStatuses": statuses}));
        let running_first = with_init(json!([
            {"name": "migrate", "state": {"running": {}}, "restartCount": 0},
            {"name": "seed", "state": {"waiting": {"reason": "PodInitializing"}}},
        ]));
        assert_eq!(pod_cells(running_first), ("0/1".into(), "Init:0/2".into(), "0".into()));

        let second = with_init(json!([
            {"name": "migrate", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
            {"name": "seed", "state": {"running": {}}},
        ]));
        assert_eq!(pod_cells(second).1, "Init:1/2");

        let crash = with_init(json!([{
            "name": "migrate", "restartCount": 4,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(30)}},
        }]));
        assert_eq!(pod_cells(crash), ("0/1".into(), "Init:CrashLoopBackOff".into(), "4 (30s ago)".into()));

        let failed = with_init(json!([{"name": "migrate", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]));
        assert_eq!(pod_cells(failed).1, "Init:Error");
        let exit = with_init(json!([{"name": "migrate", "state": {"terminated": {"exitCode": 3}}}]));
        assert_eq!(pod_cells(exit).1, "Init:ExitCode:3");
    }

    #[test]
    fn pod_sidecars_count_as_containers() {
        let spec = json!({
            "initContainers": [{"name": "proxy", "restartPolicy": "Always"}],
            "containers": [{"name": "app"}],
        });
        let status = json!({
            "phase": "Running",
            "conditions": [{"type": "Initialized", "status": "True"}],
            "initContainerStatuses": [{
                "name": "proxy", "ready": true, "started": true, "restartCount": 1,
                "state": {"running": {}},
                "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(7200)}},
            }],
            "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "state": {"running": {}}}],
        });
        assert_eq!(pod_cells(pod(spec, status)), ("2/2".into(), "Running".into(), "1 (120m ago)".into()));
    }

    #[test]
    fn pod_terminating_and_node_lost() {
        let mut p = pod(one_container(), json!({"phase": "Running", "containerStatuses": [{"name": "app", "ready": true, "state": {"running": {}}}]}));
        p["metadata"]["deletionTimestamp"] = json!(ago(5));
        assert_eq!(pod_cells(p.clone()).1, "Terminating");
        p["status"]["reason"] = json!("NodeLost");
        assert_eq!(pod_cells(p.clone()).1, "Unknown");
        // A finished pod being deleted keeps its final status.
        p["status"] = json!({"phase": "Succeeded", "containerStatuses": [
            {"name": "app", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
        ]});
        assert_eq!(pod_cells(p).1, "Completed");
    }

    #[test]
    fn pod_wide_cells() {
        let p = pod(
            json!({"containers": [{"name": "app"}], "nodeName": "node-1",
                   "readinessGates": [{"conditionType": "example.com/lb"}, {"conditionType": "example.com/dns"}]}),
            json!({"phase": "Running", "podIP": "10.0.0.9", "podIPs": [{"ip": "10.0.0.7"}],
                   "conditions": [{"type": "example.com/lb", "status": "True"}]}),
        );
        let cells = row("", "pods", p);
        assert_eq!(cells.len(), POD_COLUMNS.len());
        assert_eq!(cells[0], "web-0");
        assert_eq!(cells[4], "60m");
        assert_eq!(cells[5..], [json!("10.0.0.7"), json!("node-1"), json!("<none>"), json!("1/2")]);

        let legacy_ip = pod(one_container(), json!({"podIP": "10.0.0.9"}));
        assert_eq!(row("", "pods", legacy_ip)[5], "10.0.0.9");
        let bare = row("", "pods", pod(one_container(), json!({})));
        assert_eq!(bare[5..], [json!("<none>"), json!("<none>"), json!("<none>"), json!("<none>")]);
    }
}
