//! Cluster-level objects: Nodes, Namespaces, Events, Leases, PriorityClasses,
//! RuntimeClasses, admission webhook configurations, CertificateSigningRequests and
//! ComponentStatuses.

use serde_json::Value;

use super::duration::{Ctx, NANOS_PER_SECOND, human_duration};
use super::obj::{Obj, metav1_time, non_empty};
use super::{AGE, Col, NAME, NAME_DESC, Row, cells, col, wide};

#[rustfmt::skip]
pub(super) const NODE_COLUMNS: &[Col] = &[
    NAME,
    col("Status", "string", "The status of the node"),
    col("Roles", "string", "The roles of the node"),
    AGE,
    col("Version", "string", "Kubelet Version reported by the node."),
    wide("Internal-IP", "string", "List of addresses reachable to the node."),
    wide("External-IP", "string", "List of addresses reachable to the node."),
    wide("OS-Image", "string", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy))."),
    wide("Kernel-Version", "string", "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."),
    wide("Container-Runtime", "string", "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2)."),
];

/// printNode: Ready/NotReady from the Ready condition (Unknown without one), plus
/// SchedulingDisabled when cordoned; roles from node-role.kubernetes.io/* labels.
pub(super) fn node_row(node: Obj<'_>, ctx: &Ctx) -> Row {
    let status = node.child(&["status"]);
    // The last Ready condition wins, as in the printer's condition map.
    let ready = status.list(&["conditions"]).iter().rev().map(Obj).find(|c| c.str(&["type"]) == "Ready");
    let mut state = vec![match ready {
        Some(c) if c.str(&["status"]) == "True" => "Ready",
        Some(_) => "NotReady",
        None => "Unknown",
    }];
    if node.bool(&["spec", "unschedulable"]) {
        state.push("SchedulingDisabled");
    }
    let roles = node_roles(node);
    let address = |kind: &str| status.list(&["addresses"]).iter().map(Obj).find(|a| a.str(&["type"]) == kind).map_or("<none>", |a| a.str(&["address"]));
    let info = status.child(&["nodeInfo"]);
    let unknown = |s: &'static str| non_empty(info.str(&[s])).unwrap_or("<unknown>");
    Row::from(cells![
        node.name(),
        state.join(","),
        if roles.is_empty() { "<none>".to_string() } else { roles.join(",") },
        node.age(ctx),
        info.str(&["kubeletVersion"]),
        address("InternalIP"),
        address("ExternalIP"),
        unknown("osImage"),
        unknown("kernelVersion"),
        unknown("containerRuntimeVersion"),
    ])
}

/// findNodeRoles: `node-role.kubernetes.io/<role>` label keys and the value of the
/// legacy `kubernetes.io/role` label, sorted and deduplicated.
fn node_roles(node: Obj<'_>) -> Vec<String> {
    let mut roles: Vec<String> = node
        .map(&["metadata", "labels"])
        .into_iter()
        .flatten()
        .filter_map(|(key, value)| {
            if let Some(role) = key.strip_prefix("node-role.kubernetes.io/") {
                non_empty(role).map(str::to_string)
            } else if key == "kubernetes.io/role" {
                value.as_str().and_then(non_empty).map(str::to_string)
            } else {
                None
            }
        })
        .collect();
    roles.sort();
    roles.dedup();
    roles
}

#[rustfmt::skip]
pub(super) const NAMESPACE_COLUMNS: &[Col] = &[
    NAME,
    col("Status", "string", "The status of the namespace"),
    AGE,
];

pub(super) fn namespace_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    // The namespace registry sets phase Active on create.
    let phase = o.opt_str(&["status", "phase"]).and_then(non_empty).unwrap_or("Active");
    Row::from(cells![o.name(), phase, o.age(ctx)])
}

#[rustfmt::skip]
pub(super) const EVENT_COLUMNS: &[Col] = &[
    col("Last Seen", "string", "The time at which the most recent occurrence of this event was recorded."),
    col("Type", "string", "Type of this event (Normal, Warning), new types could be added in the future"),
    col("Reason", "string", "This should be a short, machine understandable string that gives the reason for the transition into the object's current status."),
    col("Object", "string", "The object that this event is about."),
    wide("Subobject", "string", "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2]."),
    wide("Source", "string", "The component reporting this event. Should be a short machine understandable string."),
    col("Message", "string", "A human-readable description of the status of this operation."),
    wide("First Seen", "string", "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)"),
    wide("Count", "string", "The number of times this event has occurred."),
    Col { name: "Name", kind: "string", format: "name", priority: 1, description: NAME_DESC },
];

/// printEvent, for core/v1 and events.k8s.io/v1 objects alike (the server converts
/// both to the same internal Event: `regarding` is `involvedObject`, `note` is
/// `message`, `deprecated*` are the old timestamp/count/source fields).
pub(super) fn event_row(e: Obj<'_>, ctx: &Ctx) -> Row {
    let field = |core: &str, events_v1: &str| e.at(&[core]).or_else(|| e.at(&[events_v1]));
    let time = |core: &str, events_v1: &str| field(core, events_v1).and_then(metav1_time);
    let text = |core: &str, events_v1: &str| field(core, events_v1).and_then(Value::as_str).unwrap_or("");

    let first_seen = match time("firstTimestamp", "deprecatedFirstTimestamp") {
        Some(t) => ctx.since(Some(t)),
        None => ctx.since(e.micro_time(&["eventTime"])),
    };
    let mut last_seen = match time("lastTimestamp", "deprecatedLastTimestamp") {
        Some(t) => ctx.since(Some(t)),
        None => first_seen.clone(),
    };
    let mut count = field("count", "deprecatedCount").and_then(Value::as_i64).unwrap_or(0);
    if let Some(series) = e.obj(&["series"]) {
        last_seen = ctx.since(series.micro_time(&["lastObservedTime"]));
        count = series.int(&["count"]);
    } else if count == 0 {
        // Singleton events don't have a count set in the new API.
        count = 1;
    }

    let involved = Obj(field("involvedObject", "regarding").unwrap_or(&Value::Null));
    let kind = involved.str(&["kind"]).to_lowercase();
    let target = match non_empty(involved.str(&["name"])) {
        Some(name) => format!("{kind}/{name}"),
        None => kind,
    };
    let source = Obj(field("source", "deprecatedSource").unwrap_or(&Value::Null));
    let component = non_empty(source.str(&["component"])).unwrap_or(e.str(&["reportingController"]));
    let host = non_empty(source.str(&["host"])).unwrap_or(e.str(&["reportingInstance"]));
    let source = if host.is_empty() { component.to_string() } else { format!("{component}, {host}") };
    Row::from(cells![
        last_seen,
        e.str(&["type"]),
        e.str(&["reason"]),
        target,
        involved.str(&["fieldPath"]),
        source,
        text("message", "note").trim(),
        first_seen,
        count,
        e.name(),
    ])
}

#[rustfmt::skip]
pub(super) const LEASE_COLUMNS: &[Col] = &[
    NAME,
    col("Holder", "string", "holderIdentity contains the identity of the holder of a current lease."),
    AGE,
];

pub(super) fn lease_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    Row::from(cells![o.name(), o.str(&["spec", "holderIdentity"]), o.age(ctx)])
}

#[rustfmt::skip]
pub(super) const PRIORITY_CLASS_COLUMNS: &[Col] = &[
    NAME,
    col("Value", "integer", "value represents the integer value of this priority class."),
    col("Global-Default", "boolean", "globalDefault specifies whether this PriorityClass should be considered as the default priority for pods that do not have any priority class."),
    AGE,
    col("PreemptionPolicy", "string", "preemptionPolicy is the Policy for preempting pods with lower priority."),
];

pub(super) fn priority_class_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    Row::from(cells![o.name(), o.int(&["value"]), o.bool(&["globalDefault"]), o.age(ctx), o.str(&["preemptionPolicy"]),])
}

#[rustfmt::skip]
pub(super) const API_SERVICE_COLUMNS: &[Col] = &[
    NAME,
    col("Service", "string", "The reference to the service that hosts this API endpoint."),
    col("Available", "string", "Whether this service is available."),
    AGE,
];

/// The aggregator's printer: `Local` for an API the server serves itself; the
/// Available condition's status, with its reason when it is not True.
pub(super) fn api_service_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    let service = o.child(&["spec", "service"]);
    let service = match non_empty(service.str(&["name"])) {
        Some(name) => format!("{}/{name}", service.str(&["namespace"])),
        None => "Local".to_string(),
    };
    let available = o.child(&["status"]).list(&["conditions"]).iter().map(Obj).find(|c| c.str(&["type"]) == "Available").map_or("Unknown".to_string(), |c| {
        match c.str(&["status"]) {
            "True" => "True".to_string(),
            status => format!("{status} ({})", c.str(&["reason"])),
        }
    });
    Row::from(cells![o.name(), service, available, o.age(ctx)])
}

#[rustfmt::skip]
pub(super) const RUNTIME_CLASS_COLUMNS: &[Col] = &[
    NAME,
    col("Handler", "string", "handler specifies the underlying runtime and configuration that the CRI implementation will use to handle pods of this class."),
    AGE,
];

pub(super) fn runtime_class_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    Row::from(cells![o.name(), o.str(&["handler"]), o.age(ctx)])
}

#[rustfmt::skip]
pub(super) const WEBHOOK_CONFIGURATION_COLUMNS: &[Col] = &[
    NAME,
    col("Webhooks", "integer", "Webhooks indicates the number of webhooks registered in this configuration"),
    AGE,
];

pub(super) fn webhook_configuration_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    Row::from(cells![o.name(), o.list(&["webhooks"]).len(), o.age(ctx)])
}

#[rustfmt::skip]
pub(super) const CSR_COLUMNS: &[Col] = &[
    NAME,
    AGE,
    col("SignerName", "string", "Requested signer for the request."),
    col("Requestor", "string", "Name of the user who created the CertificateSigningRequest."),
    col("RequestedDuration", "string", "expirationSeconds is the requested duration of validity of the issued certificate."),
    col("Condition", "string", "Conditions applied to the request. Known conditions are \"Approved\", \"Denied\", and \"Failed\"."),
];

pub(super) fn csr_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    let spec = o.child(&["spec"]);
    let kinds: Vec<&str> = o.list(&["status", "conditions"]).iter().map(|c| Obj(c).str(&["type"])).collect();
    let mut condition = if kinds.contains(&"Denied") {
        "Denied"
    } else if kinds.contains(&"Approved") {
        "Approved"
    } else {
        "Pending"
    }
    .to_string();
    if kinds.contains(&"Failed") {
        condition.push_str(",Failed");
    }
    if !o.str(&["status", "certificate"]).is_empty() {
        condition.push_str(",Issued");
    }
    let requested = match spec.opt_int(&["expirationSeconds"]) {
        Some(seconds) => human_duration(i128::from(seconds) * NANOS_PER_SECOND),
        None => "<none>".to_string(),
    };
    Row::from(cells![o.name(), o.age(ctx), non_empty(spec.str(&["signerName"])).unwrap_or("<none>"), spec.str(&["username"]), requested, condition,])
}

#[rustfmt::skip]
pub(super) const COMPONENT_STATUS_COLUMNS: &[Col] = &[
    NAME,
    col("Status", "string", "Status of the component conditions"),
    col("Message", "string", "Message of the component conditions"),
    col("Error", "string", "Error of the component conditions"),
];

pub(super) fn component_status_row(o: Obj<'_>, _ctx: &Ctx) -> Row {
    let healthy = o.list(&["conditions"]).iter().map(Obj).find(|c| c.str(&["type"]) == "Healthy");
    let (status, message, error) = match healthy {
        Some(c) => (if c.str(&["status"]) == "True" { "Healthy" } else { "Unhealthy" }, c.str(&["message"]), c.str(&["error"])),
        None => ("Unknown", "", ""),
    };
    Row::from(cells![o.name(), status, message, error])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::table::testing::{ago, row};
    use serde_json::json;

    #[test]
    fn node_roles_and_status() {
        let node = |labels: Value, conditions: Value, unschedulable: bool| {
            json!({
                "metadata": {"name": "n1", "labels": labels, "creationTimestamp": ago(10 * 86_400)},
                "spec": {"unschedulable": unschedulable},
                "status": {"conditions": conditions, "nodeInfo": {"kubeletVersion": "v1.35.0"},
                           "addresses": [{"type": "InternalIP", "address": "172.18.0.2"}, {"type": "Hostname", "address": "n1"}]},
            })
        };
        let ready = json!([{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}]);
        let cp = node(
            json!({"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/master": "", "kubernetes.io/role": "etcd", "node-role.kubernetes.io/": "x"}),
            ready.clone(),
            false,
        );
        assert_eq!(
            row("", "nodes", cp),
            vec![
                json!("n1"),
                json!("Ready"),
                json!("control-plane,etcd,master"),
                json!("10d"),
                json!("v1.35.0"),
                json!("172.18.0.2"),
                json!("<none>"),
                json!("<unknown>"),
                json!("<unknown>"),
                json!("<unknown>"),
            ]
        );
        let cordoned = node(json!({}), ready, true);
        let cells = row("", "nodes", cordoned);
        assert_eq!(cells[1..3], [json!("Ready,SchedulingDisabled"), json!("<none>")]);
        let not_ready = node(json!({}), json!([{"type": "Ready", "status": "Unknown"}]), false);
        assert_eq!(row("", "nodes", not_ready)[1], "NotReady");
        assert_eq!(row("", "nodes", node(json!(null), json!([]), false))[1], "Unknown");
    }

    #[test]
    fn namespace_row() {
        let ns = json!({"metadata": {"name": "team-a", "creationTimestamp": ago(90)}, "status": {"phase": "Terminating"}});
        assert_eq!(row("", "namespaces", ns), vec![json!("team-a"), json!("Terminating"), json!("90s")]);
        assert_eq!(row("", "namespaces", json!({"metadata": {"name": "new"}}))[1], "Active");
    }

    #[test]
    fn event_rows_core_and_events_v1() {
        let core = json!({
            "metadata": {"name": "web-0.17a", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "web-0", "fieldPath": "spec.containers{app}"},
            "reason": "BackOff", "type": "Warning", "message": "Back-off restarting failed container\n",
            "firstTimestamp": ago(600), "lastTimestamp": ago(30), "count": 12,
            "source": {"component": "kubelet", "host": "node-1"},
        });
        assert_eq!(
            row("", "events", core),
            vec![
                json!("30s"),
                json!("Warning"),
                json!("BackOff"),
                json!("pod/web-0"),
                json!("spec.containers{app}"),
                json!("kubelet, node-1"),
                json!("Back-off restarting failed container"),
                json!("10m"),
                json!(12),
                json!("web-0.17a"),
            ]
        );

        let events_v1 = json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "web.18b"},
            "regarding": {"kind": "Deployment", "name": "web"},
            "reason": "ScalingReplicaSet", "type": "Normal", "note": "Scaled up replica set web-5d to 3",
            "eventTime": "2025-06-01T11:57:59.500000Z",
            "reportingController": "deployment-controller", "reportingInstance": "",
        });
        let cells = row("events.k8s.io", "events", events_v1);
        assert_eq!(
            cells,
            vec![
                json!("2m"),
                json!("Normal"),
                json!("ScalingReplicaSet"),
                json!("deployment/web"),
                json!(""),
                json!("deployment-controller"),
                json!("Scaled up replica set web-5d to 3"),
                json!("2m"),
                json!(1),
                json!("web.18b"),
            ]
        );

        let series = json!({
            "regarding": {"kind": "Node"},
            "eventTime": ago(3600), "series": {"count": 5, "lastObservedTime": "2025-06-01T11:59:00.000000Z"},
            "deprecatedSource": {"component": "kubelet", "host": "n1"},
        });
        let cells = row("events.k8s.io", "events", series);
        assert_eq!(cells[0], "60s");
        assert_eq!(cells[3], "node");
        assert_eq!(cells[5], "kubelet, n1");
        assert_eq!(cells[7], "60m");
        assert_eq!(cells[8], 5);
        assert_eq!(row("", "events", json!({}))[0], "<unknown>");
    }

    #[test]
    fn lease_holder() {
        let lease = json!({"metadata": {"name": "kube-scheduler"}, "spec": {"holderIdentity": "cp-1_abc"}});
        assert_eq!(row("coordination.k8s.io", "leases", lease)[1], "cp-1_abc");
    }
}
