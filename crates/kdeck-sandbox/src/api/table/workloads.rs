//! Workload controllers: Deployments, ReplicaSets, ReplicationControllers, StatefulSets,
//! DaemonSets, ControllerRevisions, Jobs, CronJobs, PodDisruptionBudgets and
//! HorizontalPodAutoscalers.

use serde_json::{Value, json};

use super::duration::{Ctx, human_duration};
use super::obj::{Obj, containers_cells, format_label_selector, format_labels, label_selector, list_with_more};
use super::{AGE, CONTAINERS, Col, IMAGES, NAME, Row, SELECTOR, cells, col, wide};

#[rustfmt::skip]
pub(super) const DEPLOYMENT_COLUMNS: &[Col] = &[
    NAME,
    col("Ready", "string", "Number of the pod with ready state"),
    col("Up-to-date", "string", "Total number of non-terminated pods targeted by this deployment that have the desired template spec."),
    col("Available", "string", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

pub(super) fn deployment_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    let (names, images) = containers_cells(o.list(&["spec", "template", "spec", "containers"]));
    let selector = match label_selector(o.at(&["spec", "selector"])) {
        Ok(s) => s,
        Err(()) => "<invalid>".to_string(),
    };
    Row::from(cells![
        o.name(),
        format!("{}/{}", o.int(&["status", "readyReplicas"]), desired_replicas(o)),
        o.int(&["status", "updatedReplicas"]),
        o.int(&["status", "availableReplicas"]),
        o.age(ctx),
        names,
        images,
        selector,
    ])
}

/// spec.replicas, which the apps/v1 (and core/v1 RC) defaulting sets to 1 when omitted.
fn desired_replicas(o: Obj<'_>) -> i64 {
    o.opt_int(&["spec", "replicas"]).unwrap_or(1)
}

#[rustfmt::skip]
pub(super) const REPLICA_SET_COLUMNS: &[Col] = &[
    NAME,
    col("Desired", "integer", "Replicas is the number of desired pods."),
    col("Current", "integer", "Replicas is the most recently observed number of replicas."),
    col("Ready", "integer", "The number of pods targeted by this ReplicaSet with a Ready Condition."),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

pub(super) fn replica_set_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    let (names, images) = containers_cells(o.list(&["spec", "template", "spec", "containers"]));
    Row::from(cells![
        o.name(),
        desired_replicas(o),
        o.int(&["status", "replicas"]),
        o.int(&["status", "readyReplicas"]),
        o.age(ctx),
        names,
        images,
        format_label_selector(o.at(&["spec", "selector"])),
    ])
}

pub(super) const REPLICATION_CONTROLLER_COLUMNS: &[Col] = REPLICA_SET_COLUMNS;

/// Like a ReplicaSet, but the selector is a plain label map.
pub(super) fn replication_controller_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    let (names, images) = containers_cells(o.list(&["spec", "template", "spec", "containers"]));
    Row::from(cells![
        o.name(),
        desired_replicas(o),
        o.int(&["status", "replicas"]),
        o.int(&["status", "readyReplicas"]),
        o.age(ctx),
        names,
        images,
        format_labels(o.map(&["spec", "selector"])),
    ])
}

#[rustfmt::skip]
pub(super) const STATEFUL_SET_COLUMNS: &[Col] = &[
    NAME,
    col("Ready", "string", "Number of the pod with ready state"),
    AGE,
    CONTAINERS,
    IMAGES,
];

pub(super) fn stateful_set_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    let (names, images) = containers_cells(o.list(&["spec", "template", "spec", "containers"]));
    Row::from(cells![o.name(), format!("{}/{}", o.int(&["status", "readyReplicas"]), desired_replicas(o)), o.age(ctx), names, images,])
}

#[rustfmt::skip]
pub(super) const DAEMON_SET_COLUMNS: &[Col] = &[
    NAME,
    col("Desired", "integer", "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod)."),
    col("Current", "integer", "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod."),
    col("Ready", "integer", "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition."),
    col("Up-to-date", "integer", "The total number of nodes that are running updated daemon pod"),
    col("Available", "integer", "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)"),
    col("Node Selector", "string", "NodeSelector is a selector which must be true for the pod to fit on a node."),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

pub(super) fn daemon_set_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    let status = o.child(&["status"]);
    let (names, images) = containers_cells(o.list(&["spec", "template", "spec", "containers"]));
    Row::from(cells![
        o.name(),
        status.int(&["desiredNumberScheduled"]),
        status.int(&["currentNumberScheduled"]),
        status.int(&["numberReady"]),
        status.int(&["updatedNumberScheduled"]),
        status.int(&["numberAvailable"]),
        format_labels(o.map(&["spec", "template", "spec", "nodeSelector"])),
        o.age(ctx),
        names,
        images,
        format_label_selector(o.at(&["spec", "selector"])),
    ])
}

#[rustfmt::skip]
pub(super) const CONTROLLER_REVISION_COLUMNS: &[Col] = &[
    NAME,
    col("Controller", "string", "Controller of the object"),
    col("Revision", "string", "Revision indicates the revision of the state represented by Data."),
    AGE,
];

/// The controlling owner as `kind.group/name` (`daemonset.apps/fluentd`).
pub(super) fn controller_revision_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    let controller = o.list(&["metadata", "ownerReferences"]).iter().map(Obj).find(|r| r.bool(&["controller"])).map_or_else(
        || "<none>".to_string(),
        |r| {
            let kind = r.str(&["kind"]);
            let group = match r.str(&["apiVersion"]).split_once('/') {
                Some((group, _)) => group,
                None => "",
            };
            let group_kind = if group.is_empty() { kind.to_string() } else { format!("{kind}.{group}") };
            if group_kind.is_empty() { r.str(&["name"]).to_string() } else { format!("{}/{}", group_kind.to_lowercase(), r.str(&["name"])) }
        },
    );
    Row::from(cells![o.name(), controller, o.int(&["revision"]), o.age(ctx)])
}

#[rustfmt::skip]
pub(super) const JOB_COLUMNS: &[Col] = &[
    NAME,
    col("Status", "string", "Status of the job."),
    col("Completions", "string", "The number of pods which reached phase Succeeded."),
    col("Duration", "string", "Time required to complete the job."),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", "string", "A label query over pods that should match the pod count."),
];

/// printJob: Complete/Failed win over Terminating, then Suspended and FailureTarget;
/// anything else is Running. Completions is `succeeded/completions`.
pub(super) fn job_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    let spec = o.child(&["spec"]);
    let status = o.child(&["status"]);
    let succeeded = status.int(&["succeeded"]);
    let completions = match spec.opt_int(&["completions"]) {
        Some(c) => format!("{succeeded}/{c}"),
        None => match spec.int(&["parallelism"]) {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let start = status.time(&["startTime"]);
    let duration = match (start, status.time(&["completionTime"])) {
        (None, _) => String::new(),
        (Some(_), None) => ctx.since(start),
        (Some(s), Some(c)) => human_duration(c - s),
    };
    let conditions = status.list(&["conditions"]);
    // hasJobCondition: the first condition of that type decides.
    let has = |kind: &str| conditions.iter().map(Obj).find(|c| c.str(&["type"]) == kind).is_some_and(|c| c.str(&["status"]) == "True");
    let state = if has("Complete") {
        "Complete"
    } else if has("Failed") {
        "Failed"
    } else if o.has(&["metadata", "deletionTimestamp"]) {
        "Terminating"
    } else if has("Suspended") {
        "Suspended"
    } else if has("FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    };
    let (names, images) = containers_cells(spec.list(&["template", "spec", "containers"]));
    Row::from(cells![o.name(), state, completions, duration, o.age(ctx), names, images, format_label_selector(spec.at(&["selector"])),])
}

#[rustfmt::skip]
pub(super) const CRON_JOB_COLUMNS: &[Col] = &[
    NAME,
    col("Schedule", "string", "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron."),
    col("Timezone", "string", "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones."),
    col("Suspend", "boolean", "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions."),
    col("Active", "integer", "A list of pointers to currently running jobs."),
    col("Last Schedule", "string", "Information when was the last time the job was successfully scheduled."),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", "string", "A label query over pods that should match the pod count."),
];

pub(super) fn cron_job_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    let spec = o.child(&["spec"]);
    let last_schedule = match o.time(&["status", "lastScheduleTime"]) {
        Some(t) => ctx.since(Some(t)),
        None => "<none>".to_string(),
    };
    // batch/v1 defaulting sets suspend to false; printBoolPtr prints True/False.
    let suspend = if spec.bool(&["suspend"]) { "True" } else { "False" };
    let job_spec = spec.child(&["jobTemplate", "spec"]);
    let (names, images) = containers_cells(job_spec.list(&["template", "spec", "containers"]));
    Row::from(cells![
        o.name(),
        spec.str(&["schedule"]),
        spec.opt_str(&["timeZone"]).unwrap_or("<none>"),
        suspend,
        o.list(&["status", "active"]).len(),
        last_schedule,
        o.age(ctx),
        names,
        images,
        format_label_selector(job_spec.at(&["selector"])),
    ])
}

#[rustfmt::skip]
pub(super) const POD_DISRUPTION_BUDGET_COLUMNS: &[Col] = &[
    NAME,
    col("Min Available", "string", "The minimum number of pods that must be available."),
    col("Max Unavailable", "string", "The maximum number of pods that may be unavailable."),
    col("Allowed Disruptions", "integer", "Calculated number of pods that may be disrupted at this time."),
    AGE,
];

pub(super) fn pod_disruption_budget_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    let int_or_string = |path: &[&str]| match o.at(path) {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        _ => "N/A".to_string(),
    };
    Row::from(cells![
        o.name(),
        int_or_string(&["spec", "minAvailable"]),
        int_or_string(&["spec", "maxUnavailable"]),
        o.int(&["status", "disruptionsAllowed"]),
        o.age(ctx),
    ])
}

#[rustfmt::skip]
pub(super) const HPA_COLUMNS: &[Col] = &[
    NAME,
    col("Reference", "string", "reference to scaled resource; horizontal pod autoscaler will learn the current resource consumption and will set the desired number of pods by using its Scale subresource."),
    col("Targets", "string", "metrics contains the specifications for which to use to calculate the desired replica count."),
    col("MinPods", "string", "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down."),
    col("MaxPods", "string", "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up."),
    col("Replicas", "string", "currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen by the autoscaler."),
    AGE,
];

pub(super) fn hpa_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    let spec = o.child(&["spec"]);
    let reference = format!("{}/{}", spec.str(&["scaleTargetRef", "kind"]), spec.str(&["scaleTargetRef", "name"]));
    let min_pods = match spec.opt_int(&["minReplicas"]) {
        Some(n) => n.to_string(),
        None => "<unset>".to_string(),
    };
    Row::from(cells![o.name(), reference, hpa_targets(o), min_pods, spec.int(&["maxReplicas"]), o.int(&["status", "currentReplicas"]), o.age(ctx),])
}

/// formatHPAMetrics: `cpu: 50%/80%`, `1k/500 (avg)` …, at most two then `+ N more...`.
/// autoscaling/v1 objects (targetCPUUtilizationPercentage) are read as the one CPU
/// metric the server converts them to.
fn hpa_targets(o: Obj<'_>) -> String {
    let v1_specs;
    let v1_statuses;
    let (specs, statuses) = match o.opt_int(&["spec", "targetCPUUtilizationPercentage"]) {
        Some(target) if !o.has(&["spec", "metrics"]) => {
            v1_specs = vec![json!({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}}})];
            v1_statuses = match o.opt_int(&["status", "currentCPUUtilizationPercentage"]) {
                Some(current) => vec![json!({"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": current}}})],
                None => Vec::new(),
            };
            (v1_specs.as_slice(), v1_statuses.as_slice())
        }
        _ => (o.list(&["spec", "metrics"]), o.list(&["status", "currentMetrics"])),
    };
    if specs.is_empty() {
        return "<none>".to_string();
    }
    let list: Vec<String> = specs
        .iter()
        .map(Obj)
        .enumerate()
        .map(|(i, spec)| {
            let status = statuses.get(i).map(Obj);
            // The status entry for this metric, if it has the same kind of source.
            let current_of = |source: &str| status.and_then(|s| s.obj(&[source]));
            match spec.str(&["type"]) {
                kind @ ("External" | "Object") => {
                    let source = if kind == "External" { "external" } else { "object" };
                    let target = spec.child(&[source, "target"]);
                    if target.has(&["averageValue"]) {
                        let current = current_of(source).and_then(|s| s.opt_quantity(&["current", "averageValue"])).unwrap_or_else(|| "<unknown>".to_string());
                        format!("{current}/{} (avg)", target.quantity_ptr(&["averageValue"]))
                    } else {
                        let current = current_of(source).map_or_else(|| "<unknown>".to_string(), |s| s.quantity_ptr(&["current", "value"]));
                        format!("{current}/{}", target.quantity_ptr(&["value"]))
                    }
                }
                "Pods" => {
                    let current = current_of("pods").map_or_else(|| "<unknown>".to_string(), |s| s.quantity_ptr(&["current", "averageValue"]));
                    format!("{current}/{}", spec.quantity_ptr(&["pods", "target", "averageValue"]))
                }
                kind @ ("Resource" | "ContainerResource") => {
                    let source = if kind == "Resource" { "resource" } else { "containerResource" };
                    let name = spec.str(&[source, "name"]);
                    let target = spec.child(&[source, "target"]);
                    if target.has(&["averageValue"]) {
                        let current = current_of(source).map_or_else(|| "<unknown>".to_string(), |s| s.quantity_ptr(&["current", "averageValue"]));
                        format!("{name}: {current}/{}", target.quantity_ptr(&["averageValue"]))
                    } else {
                        let current = current_of(source)
                            .and_then(|s| s.opt_int(&["current", "averageUtilization"]))
                            .map_or_else(|| "<unknown>".to_string(), |u| format!("{u}%"));
                        let target = target.opt_int(&["averageUtilization"]).map_or_else(|| "<auto>".to_string(), |u| format!("{u}%"));
                        format!("{name}: {current}/{target}")
                    }
                }
                _ => "<unknown type>".to_string(),
            }
        })
        .collect();
    list_with_more(&list, 2, ", ", list.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::table::testing::{ago, row};

    #[test]
    fn deployment_row() {
        let d = json!({
            "metadata": {"name": "web", "creationTimestamp": ago(3 * 86_400 + 5 * 3600)},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}, "matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["front", "edge"]},
                    {"key": "canary", "operator": "DoesNotExist"},
                ]},
                "template": {"spec": {"containers": [
                    {"name": "nginx", "image": "nginx:1.27"},
                    {"name": "sidecar", "image": "envoy:v1"},
                ]}},
            },
            "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
        });
        assert_eq!(
            row("apps", "deployments", d),
            vec![
                json!("web"),
                json!("2/3"),
                json!(3),
                json!(2),
                json!("3d5h"),
                json!("nginx,sidecar"),
                json!("nginx:1.27,envoy:v1"),
                json!("app=web,!canary,tier in (edge,front)"),
            ]
        );
        // Unset replicas default to 1; an empty status reads as zeros.
        let bare = json!({"metadata": {"name": "x"}, "spec": {"selector": {"matchLabels": {}}}});
        let cells = row("apps", "deployments", bare);
        assert_eq!(cells[1..5], [json!("0/1"), json!(0), json!(0), json!("<unknown>")]);
        assert_eq!(cells[7], "");
        let invalid = json!({"spec": {"selector": {"matchExpressions": [{"key": "a", "operator": "Near"}]}}});
        assert_eq!(row("apps", "deployments", invalid)[7], "<invalid>");
    }

    #[test]
    fn other_workload_rows() {
        let template = json!({"spec": {"containers": [{"name": "c", "image": "i"}], "nodeSelector": {"zone": "a", "disk": "ssd"}}});
        let rs = json!({"metadata": {"name": "rs"}, "spec": {"replicas": 2, "template": template, "selector": {"matchLabels": {"app": "x"}}},
                        "status": {"replicas": 2, "readyReplicas": 1}});
        assert_eq!(row("apps", "replicasets", rs)[1..4], [json!(2), json!(2), json!(1)]);

        let sts = json!({"metadata": {"name": "db"}, "spec": {"replicas": 3}, "status": {"readyReplicas": 3}});
        assert_eq!(row("apps", "statefulsets", sts)[1], "3/3");

        let ds = json!({"metadata": {"name": "agent"}, "spec": {"template": template, "selector": {}},
                        "status": {"desiredNumberScheduled": 4, "currentNumberScheduled": 4, "numberReady": 3, "updatedNumberScheduled": 4, "numberAvailable": 3}});
        let cells = row("apps", "daemonsets", ds);
        assert_eq!(cells[1..7], [json!(4), json!(4), json!(3), json!(4), json!(3), json!("disk=ssd,zone=a")]);
        assert_eq!(cells[10], "<none>");

        let cj = json!({"metadata": {"name": "nightly"}, "spec": {"schedule": "0 3 * * *"},
                        "status": {"active": [{"name": "nightly-1"}], "lastScheduleTime": ago(600)}});
        let cells = row("batch", "cronjobs", cj);
        assert_eq!(cells[1..6], [json!("0 3 * * *"), json!("<none>"), json!("False"), json!(1), json!("10m")]);
    }

    #[test]
    fn job_status_completions_duration() {
        let job = |spec: Value, status: Value| json!({"metadata": {"name": "j"}, "spec": spec, "status": status});
        let done = job(
            json!({"completions": 1}),
            json!({"succeeded": 1, "startTime": ago(300), "completionTime": ago(255),
                   "conditions": [{"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}]}),
        );
        assert_eq!(row("batch", "jobs", done)[1..4], [json!("Complete"), json!("1/1"), json!("45s")]);

        let running = job(json!({"parallelism": 3}), json!({"startTime": ago(90)}));
        assert_eq!(row("batch", "jobs", running)[1..4], [json!("Running"), json!("0/1 of 3"), json!("90s")]);

        let failed = job(
            json!({"completions": 5}),
            json!({"succeeded": 2, "conditions": [
            {"type": "FailureTarget", "status": "True"}, {"type": "Failed", "status": "True"}]}),
        );
        assert_eq!(row("batch", "jobs", failed)[1..4], [json!("Failed"), json!("2/5"), json!("")]);

        let suspended = job(json!({}), json!({"conditions": [{"type": "Suspended", "status": "True"}]}));
        assert_eq!(row("batch", "jobs", suspended)[1..3], [json!("Suspended"), json!("0/1")]);

        let mut deleting = job(json!({}), json!({}));
        deleting["metadata"]["deletionTimestamp"] = json!(ago(1));
        assert_eq!(row("batch", "jobs", deleting)[1], "Terminating");
    }

    #[test]
    fn pdb_and_hpa_rows() {
        let pdb = json!({"metadata": {"name": "web"}, "spec": {"minAvailable": "50%"}, "status": {"disruptionsAllowed": 1}});
        assert_eq!(row("policy", "poddisruptionbudgets", pdb)[1..4], [json!("50%"), json!("N/A"), json!(1)]);
        let pdb = json!({"spec": {"maxUnavailable": 1}});
        assert_eq!(row("policy", "poddisruptionbudgets", pdb)[1..3], [json!("N/A"), json!("1")]);

        let hpa = json!({"metadata": {"name": "web"}, "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 2, "maxReplicas": 10,
            "metrics": [
                {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}},
                {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "500Mi"}}},
                {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "1k"}}},
            ]},
        "status": {"currentReplicas": 3, "currentMetrics": [
            {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 50, "averageValue": "250m"}}},
        ]}});
        assert_eq!(
            row("autoscaling", "horizontalpodautoscalers", hpa)[1..6],
            [json!("Deployment/web"), json!("cpu: 50%/80%, memory: <unknown>/500Mi + 1 more..."), json!("2"), json!(10), json!(3)]
        );
        let external = json!({"spec": {"metrics": [
                {"type": "External", "external": {"metric": {"name": "queue"}, "target": {"type": "Value", "value": "30"}}},
                {"type": "Object", "object": {"target": {"type": "AverageValue", "averageValue": "2"}}},
            ]}, "status": {"currentMetrics": [{"type": "External", "external": {"current": {}}}]}});
        assert_eq!(row("autoscaling", "horizontalpodautoscalers", external)[2], "<nil>/30, <unknown>/2 (avg)");
        let v1 = json!({"spec": {"scaleTargetRef": {"kind": "Deployment", "name": "api"}, "maxReplicas": 4, "targetCPUUtilizationPercentage": 70}});
        assert_eq!(row("autoscaling", "horizontalpodautoscalers", v1)[1..4], [json!("Deployment/api"), json!("cpu: <unknown>/70%"), json!("<unset>")]);
    }
}
