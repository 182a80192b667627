//! `meta.k8s.io/v1` `Table` responses, rendered the way the kube-apiserver renders them.
//!
//! `kubectl get` does not format objects itself: it asks for a Table
//! (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`) and prints the columns and
//! cells the server returns. To look like a real cluster, [`build`] reproduces what the
//! real server does for each resource:
//!
//! * built-in resources: the printers of `pkg/printers/internalversion/printers.go`,
//!   always with `Wide: true` (priority-1 columns, `kubectl get -o wide`, carry cells too).
//!   `builtin_printer` below maps each resource to its printer in `pods.rs`,
//!   `workloads.rs`, `network.rs`, `cluster.rs`, `storage.rs` or `config.rs`;
//! * custom resources: the CRD's `additionalPrinterColumns`, evaluated as client-go
//!   JSONPath (`custom.rs`, `jsonpath.rs`);
//! * everything else (roles, CRDs, limitranges …): `Name` and `Created At`
//!   (`default_table` below).
//!
//! Objects are plain JSON and may lack any field or hold the wrong type anywhere: every
//! read goes through `Obj` (`obj.rs`), which answers with Go's zero value instead of
//! failing. Where the API server would have defaulted a field on create (a service's
//! `type`, a deployment's `replicas` …) the printers use that default. Ages are Go's
//! `HumanDuration` (`duration.rs`); timestamps are parsed by [`crate::time`].

mod cluster;
mod config;
mod custom;
mod duration;
pub mod jsonpath;
mod network;
mod obj;
mod pods;
mod storage;
#[cfg(test)]
mod testing;
mod workloads;

use std::time::SystemTime;

use serde_json::{Map, Value, json};

use self::duration::{Ctx, NANOS_PER_SECOND};
use self::obj::{GO_ZERO_TIME_SECS, Obj};
use crate::time::rfc3339_unix;

// ---------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------

/// A CRD's additionalPrinterColumns entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrinterColumn {
    pub name: String,
    pub type_: String,
    pub format: String,
    pub description: String,
    pub priority: i64,
    pub json_path: String,
}

/// What each row's `object` carries (the `includeObject` query parameter).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RowObject {
    /// `includeObject=None`: `"object": null`.
    None,
    /// `includeObject=Metadata` (the server's default): a `PartialObjectMetadata`.
    #[default]
    Metadata,
    /// `includeObject=Object`: the whole object.
    Object,
}

/// Builds the Table for a list (or single object) of one resource.
/// `group` ("" for core), `resource` is the plural ("pods"), `printer_columns` is Some for custom resources.
/// `now` is the current time for AGE columns. `list_metadata` is the list's metadata (resourceVersion, continue) copied into the Table's metadata.
pub fn build(
    group: &str,
    resource: &str,
    objects: &[&Value],
    printer_columns: Option<&[PrinterColumn]>,
    include: RowObject,
    list_metadata: Value,
    now: SystemTime,
) -> Value {
    let ctx = Ctx::new(now);
    let (columns, rows) = match printer_columns {
        Some(columns) => custom::custom_resource_table(columns, objects, &ctx),
        None => match builtin_printer(group, resource) {
            Some(printer) => (printer.columns.iter().map(Col::to_json).collect(), objects.iter().map(|o| (printer.row)(Obj(o), &ctx)).collect()),
            None => default_table(objects),
        },
    };
    let rows: Vec<Value> = rows.into_iter().zip(objects).map(|(row, object)| row.into_json(object, include)).collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": table_metadata(&list_metadata),
        "columnDefinitions": columns,
        "rows": rows,
    })
}

/// The list's ListMeta fields a Table carries (all `omitempty` in Go).
fn table_metadata(list_metadata: &Value) -> Value {
    let mut meta = Map::new();
    for key in ["resourceVersion", "continue"] {
        if let Some(s) = list_metadata.get(key).and_then(Value::as_str)
            && !s.is_empty()
        {
            meta.insert(key.to_string(), Value::from(s));
        }
    }
    if let Some(n) = list_metadata.get("remainingItemCount").filter(|v| v.is_number()) {
        meta.insert("remainingItemCount".to_string(), n.clone());
    }
    Value::Object(meta)
}

// ---------------------------------------------------------------------------------
// Rows and columns
// ---------------------------------------------------------------------------------

/// One row's cells, plus the row conditions the pod printer sets for finished pods.
struct Row {
    cells: Vec<Value>,
    conditions: Option<Value>,
}

impl Row {
    fn into_json(self, object: &Value, include: RowObject) -> Value {
        let mut row = Map::new();
        row.insert("cells".to_string(), Value::Array(self.cells));
        if let Some(conditions) = self.conditions {
            row.insert("conditions".to_string(), conditions);
        }
        row.insert("object".to_string(), row_object(object, include));
        Value::Object(row)
    }
}

impl From<Vec<Value>> for Row {
    fn from(cells: Vec<Value>) -> Self {
        Row { cells, conditions: None }
    }
}

/// `vec![Value::from(a), Value::from(b), …]`: cells are strings, integers or booleans.
macro_rules! cells {
    ($($cell:expr),* $(,)?) => { vec![$(::serde_json::Value::from($cell)),*] };
}
use cells;

/// What the apiserver puts in a row's `object` for each `includeObject` value.
fn row_object(object: &Value, include: RowObject) -> Value {
    match include {
        RowObject::None => Value::Null,
        RowObject::Object => object.clone(),
        RowObject::Metadata => {
            let metadata = object.get("metadata").filter(|m| m.is_object()).cloned().unwrap_or_else(|| json!({}));
            json!({
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": metadata,
            })
        }
    }
}

/// A column definition, written as data next to its printer.
struct Col {
    name: &'static str,
    kind: &'static str,
    format: &'static str,
    priority: i64,
    description: &'static str,
}

impl Col {
    fn to_json(&self) -> Value {
        column_json(self.name, self.kind, self.format, self.description, self.priority)
    }
}

fn column_json(name: &str, kind: &str, format: &str, description: &str, priority: i64) -> Value {
    json!({
        "name": name,
        "type": kind,
        "format": format,
        "description": description,
        "priority": priority,
    })
}

/// A column `kubectl get` shows.
const fn col(name: &'static str, kind: &'static str, description: &'static str) -> Col {
    Col { name, kind, format: "", priority: 0, description }
}

/// A priority-1 column: only `kubectl get -o wide` shows it, but the server always sends it.
const fn wide(name: &'static str, kind: &'static str, description: &'static str) -> Col {
    Col { name, kind, format: "", priority: 1, description }
}

// The descriptions the real server sends. Most are the first sentences of the API
// field docs (kubectl never shows them); Name and Age are verbatim.
const NAME_DESC: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const AGE_DESC: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
const SELECTOR_DESC: &str = "Label query over pods that should match the replica count. It must match the pod template's labels. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";

const NAME: Col = Col { name: "Name", kind: "string", format: "name", priority: 0, description: NAME_DESC };
const AGE: Col = col("Age", "string", AGE_DESC);
const CONTAINERS: Col = wide("Containers", "string", "Names of each container in the template.");
const IMAGES: Col = wide("Images", "string", "Images referenced by each container in the template.");
const SELECTOR: Col = wide("Selector", "string", SELECTOR_DESC);

/// A built-in resource's printer: its columns and the function that fills one row.
struct Printer {
    columns: &'static [Col],
    row: RowFn,
}

/// Fills one row's cells from an object.
type RowFn = fn(Obj<'_>, &Ctx) -> Row;

/// The printer the real server registers for (group, plural), if any.
/// Resources without one — roles, clusterroles, customresourcedefinitions,
/// limitranges, … — get the default Name / Created At table.
fn builtin_printer(group: &str, resource: &str) -> Option<Printer> {
    let (columns, row): (&'static [Col], RowFn) = match (group, resource) {
        ("", "pods") => (pods::POD_COLUMNS, pods::pod_row),
        ("", "podtemplates") => (pods::POD_TEMPLATE_COLUMNS, pods::pod_template_row),
        ("", "replicationcontrollers") => (workloads::REPLICATION_CONTROLLER_COLUMNS, workloads::replication_controller_row),
        ("", "services") => (network::SERVICE_COLUMNS, network::service_row),
        ("", "endpoints") => (network::ENDPOINTS_COLUMNS, network::endpoints_row),
        ("", "nodes") => (cluster::NODE_COLUMNS, cluster::node_row),
        ("", "namespaces") => (cluster::NAMESPACE_COLUMNS, cluster::namespace_row),
        ("", "events") | ("events.k8s.io", "events") => (cluster::EVENT_COLUMNS, cluster::event_row),
        ("", "configmaps") => (config::CONFIG_MAP_COLUMNS, config::config_map_row),
        ("", "secrets") => (config::SECRET_COLUMNS, config::secret_row),
        ("", "serviceaccounts") => (config::SERVICE_ACCOUNT_COLUMNS, config::service_account_row),
        ("", "persistentvolumes") => (storage::PERSISTENT_VOLUME_COLUMNS, storage::persistent_volume_row),
        ("", "persistentvolumeclaims") => (storage::PERSISTENT_VOLUME_CLAIM_COLUMNS, storage::persistent_volume_claim_row),
        ("", "resourcequotas") => (config::RESOURCE_QUOTA_COLUMNS, config::resource_quota_row),
        ("", "componentstatuses") => (cluster::COMPONENT_STATUS_COLUMNS, cluster::component_status_row),
        ("apps", "deployments") => (workloads::DEPLOYMENT_COLUMNS, workloads::deployment_row),
        ("apps", "replicasets") => (workloads::REPLICA_SET_COLUMNS, workloads::replica_set_row),
        ("apps", "statefulsets") => (workloads::STATEFUL_SET_COLUMNS, workloads::stateful_set_row),
        ("apps", "daemonsets") => (workloads::DAEMON_SET_COLUMNS, workloads::daemon_set_row),
        ("apps", "controllerrevisions") => (workloads::CONTROLLER_REVISION_COLUMNS, workloads::controller_revision_row),
        ("batch", "jobs") => (workloads::JOB_COLUMNS, workloads::job_row),
        ("batch", "cronjobs") => (workloads::CRON_JOB_COLUMNS, workloads::cron_job_row),
        ("networking.k8s.io", "ingresses") => (network::INGRESS_COLUMNS, network::ingress_row),
        ("networking.k8s.io", "ingressclasses") => (network::INGRESS_CLASS_COLUMNS, network::ingress_class_row),
        ("networking.k8s.io", "networkpolicies") => (network::NETWORK_POLICY_COLUMNS, network::network_policy_row),
        ("discovery.k8s.io", "endpointslices") => (network::ENDPOINT_SLICE_COLUMNS, network::endpoint_slice_row),
        ("rbac.authorization.k8s.io", "rolebindings") => (config::ROLE_BINDING_COLUMNS, config::role_binding_row),
        ("rbac.authorization.k8s.io", "clusterrolebindings") => (config::CLUSTER_ROLE_BINDING_COLUMNS, config::role_binding_row),
        ("policy", "poddisruptionbudgets") => (workloads::POD_DISRUPTION_BUDGET_COLUMNS, workloads::pod_disruption_budget_row),
        ("autoscaling", "horizontalpodautoscalers") => (workloads::HPA_COLUMNS, workloads::hpa_row),
        ("coordination.k8s.io", "leases") => (cluster::LEASE_COLUMNS, cluster::lease_row),
        ("storage.k8s.io", "storageclasses") => (storage::STORAGE_CLASS_COLUMNS, storage::storage_class_row),
        ("storage.k8s.io", "volumeattachments") => (storage::VOLUME_ATTACHMENT_COLUMNS, storage::volume_attachment_row),
        ("storage.k8s.io", "csinodes") => (storage::CSI_NODE_COLUMNS, storage::csi_node_row),
        ("storage.k8s.io", "csidrivers") => (storage::CSI_DRIVER_COLUMNS, storage::csi_driver_row),
        ("scheduling.k8s.io", "priorityclasses") => (cluster::PRIORITY_CLASS_COLUMNS, cluster::priority_class_row),
        ("node.k8s.io", "runtimeclasses") => (cluster::RUNTIME_CLASS_COLUMNS, cluster::runtime_class_row),
        ("apiregistration.k8s.io", "apiservices") => (cluster::API_SERVICE_COLUMNS, cluster::api_service_row),
        ("admissionregistration.k8s.io", "mutatingwebhookconfigurations" | "validatingwebhookconfigurations") => {
            (cluster::WEBHOOK_CONFIGURATION_COLUMNS, cluster::webhook_configuration_row)
        }
        ("certificates.k8s.io", "certificatesigningrequests") => (cluster::CSR_COLUMNS, cluster::csr_row),
        _ => return None,
    };
    Some(Printer { columns, row })
}

// ---------------------------------------------------------------------------------
// Default table (rest.defaultTableConvertor)
// ---------------------------------------------------------------------------------

#[rustfmt::skip]
const DEFAULT_COLUMNS: &[Col] = &[NAME, col("Created At", "date", AGE_DESC)];

/// Name and the creation time as RFC 3339 in UTC; a missing time prints as Go's
/// zero time, `0001-01-01T00:00:00Z`, as the real server does.
fn default_table(objects: &[&Value]) -> (Vec<Value>, Vec<Row>) {
    let columns = DEFAULT_COLUMNS.iter().map(Col::to_json).collect();
    let rows = objects
        .iter()
        .map(|o| {
            let o = Obj(o);
            let created = match o.time(&["metadata", "creationTimestamp"]) {
                Some(nanos) => i64::try_from(nanos.div_euclid(NANOS_PER_SECOND)).unwrap_or(GO_ZERO_TIME_SECS),
                None => GO_ZERO_TIME_SECS,
            };
            Row::from(cells![o.name(), rfc3339_unix(created)])
        })
        .collect();
    (columns, rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};
    use testing::{ago, column, column_names, now, row, table};

    #[test]
    fn table_envelope_and_row_objects() {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default", "resourceVersion": "7", "creationTimestamp": ago(60)},
            "spec": {"containers": [{"name": "app"}]},
        });
        let refs = [&pod];
        let list_meta = json!({"resourceVersion": "42", "continue": "abc", "remainingItemCount": 3, "selfLink": "/x"});
        let t = build("", "pods", &refs, None, RowObject::Metadata, list_meta, now());
        assert_eq!(t["kind"], "Table");
        assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(t["metadata"], json!({"resourceVersion": "42", "continue": "abc", "remainingItemCount": 3}));
        assert_eq!(t["columnDefinitions"][0], json!({"name": "Name", "type": "string", "format": "name", "description": NAME_DESC, "priority": 0}));
        assert_eq!(t["rows"][0]["object"], json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": pod["metadata"]}));

        let t = build("", "pods", &refs, None, RowObject::Object, json!({"resourceVersion": ""}), now());
        assert_eq!(t["rows"][0]["object"], pod);
        assert_eq!(t["metadata"], json!({}));

        let t = build("", "pods", &refs, None, RowObject::None, Value::Null, now());
        assert_eq!(t["rows"][0]["object"], Value::Null);
        assert!(t["rows"][0].get("conditions").is_none());

        let empty = build("apps", "deployments", &[], None, RowObject::Metadata, json!({}), now());
        assert_eq!(empty["rows"], json!([]));
        assert_eq!(column_names(&empty)[..2], ["Name", "Ready"]);
    }

    #[test]
    fn every_priority_zero_column_kubectl_shows() {
        let names = |g: &str, r: &str| {
            let t = table(g, r, &[]);
            t["columnDefinitions"]
                .as_array()
                .expect("columns")
                .iter()
                .filter(|c| c["priority"] == 0)
                .map(|c| c["name"].as_str().expect("name").to_uppercase())
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(names("", "pods"), "NAME READY STATUS RESTARTS AGE");
        assert_eq!(names("apps", "deployments"), "NAME READY UP-TO-DATE AVAILABLE AGE");
        assert_eq!(names("apps", "replicasets"), "NAME DESIRED CURRENT READY AGE");
        assert_eq!(names("apps", "statefulsets"), "NAME READY AGE");
        assert_eq!(names("apps", "daemonsets"), "NAME DESIRED CURRENT READY UP-TO-DATE AVAILABLE NODE SELECTOR AGE");
        assert_eq!(names("batch", "jobs"), "NAME STATUS COMPLETIONS DURATION AGE");
        assert_eq!(names("batch", "cronjobs"), "NAME SCHEDULE TIMEZONE SUSPEND ACTIVE LAST SCHEDULE AGE");
        assert_eq!(names("", "services"), "NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE");
        assert_eq!(names("", "nodes"), "NAME STATUS ROLES AGE VERSION");
        assert_eq!(names("", "namespaces"), "NAME STATUS AGE");
        assert_eq!(names("", "events"), "LAST SEEN TYPE REASON OBJECT MESSAGE");
        assert_eq!(names("events.k8s.io", "events"), "LAST SEEN TYPE REASON OBJECT MESSAGE");
        assert_eq!(names("", "configmaps"), "NAME DATA AGE");
        assert_eq!(names("", "secrets"), "NAME TYPE DATA AGE");
        assert_eq!(names("", "serviceaccounts"), "NAME SECRETS AGE");
        assert_eq!(names("", "persistentvolumeclaims"), "NAME STATUS VOLUME CAPACITY ACCESS MODES STORAGECLASS VOLUMEATTRIBUTESCLASS AGE");
        assert_eq!(names("", "persistentvolumes"), "NAME CAPACITY ACCESS MODES RECLAIM POLICY STATUS CLAIM STORAGECLASS VOLUMEATTRIBUTESCLASS REASON AGE");
        assert_eq!(names("storage.k8s.io", "storageclasses"), "NAME PROVISIONER RECLAIMPOLICY VOLUMEBINDINGMODE ALLOWVOLUMEEXPANSION AGE");
        assert_eq!(names("networking.k8s.io", "ingresses"), "NAME CLASS HOSTS ADDRESS PORTS AGE");
        assert_eq!(names("networking.k8s.io", "ingressclasses"), "NAME CONTROLLER PARAMETERS AGE");
        assert_eq!(names("rbac.authorization.k8s.io", "rolebindings"), "NAME ROLE AGE");
        assert_eq!(names("rbac.authorization.k8s.io", "clusterrolebindings"), "NAME ROLE AGE");
        assert_eq!(names("rbac.authorization.k8s.io", "roles"), "NAME CREATED AT");
        assert_eq!(names("rbac.authorization.k8s.io", "clusterroles"), "NAME CREATED AT");
        assert_eq!(names("apiextensions.k8s.io", "customresourcedefinitions"), "NAME CREATED AT");
        assert_eq!(names("policy", "poddisruptionbudgets"), "NAME MIN AVAILABLE MAX UNAVAILABLE ALLOWED DISRUPTIONS AGE");
        assert_eq!(names("autoscaling", "horizontalpodautoscalers"), "NAME REFERENCE TARGETS MINPODS MAXPODS REPLICAS AGE");
        assert_eq!(names("discovery.k8s.io", "endpointslices"), "NAME ADDRESSTYPE PORTS ENDPOINTS AGE");
        assert_eq!(names("", "endpoints"), "NAME ENDPOINTS AGE");
        assert_eq!(names("coordination.k8s.io", "leases"), "NAME HOLDER AGE");
    }

    #[test]
    fn default_table_for_unprinted_resources() {
        let role = json!({"metadata": {"name": "reader", "creationTimestamp": "2025-01-02T03:04:05Z"}});
        let t = table("rbac.authorization.k8s.io", "roles", &[role, json!({})]);
        assert_eq!(t["columnDefinitions"][1], json!({"name": "Created At", "type": "date", "format": "", "description": AGE_DESC, "priority": 0}));
        assert_eq!(t["rows"][0]["cells"], json!(["reader", "2025-01-02T03:04:05Z"]));
        assert_eq!(t["rows"][1]["cells"], json!(["", "0001-01-01T00:00:00Z"]));
        // An unknown group for a known plural is not the built-in resource.
        assert_eq!(column_names(&table("example.com", "pods", &[])), ["Name", "Created At"]);
    }

    #[test]
    fn missing_or_mistyped_fields_do_not_panic() {
        let odd_objects = [
            json!(null),
            json!({}),
            json!([]),
            json!("pod"),
            json!(42),
            json!({"metadata": "x", "spec": [], "status": 7}),
            json!({"metadata": {"name": 5, "creationTimestamp": "yesterday", "deletionTimestamp": null, "labels": [1]},
                   "spec": {"containers": {"a": 1}, "initContainers": [null, 3, {"name": null}], "ports": [null, "80", {"port": "x"}],
                            "selector": {"matchExpressions": [null, {"operator": 5}]}, "replicas": "three", "rules": [7],
                            "metrics": [{"type": "Resource"}, {"type": "External", "external": {"target": {}}}, 9]},
                   "status": {"containerStatuses": [null, {"state": null, "lastState": {"terminated": {"finishedAt": 12}}}],
                              "initContainerStatuses": [{"state": {"terminated": null, "waiting": {}}}],
                              "conditions": "Ready", "currentMetrics": [null], "loadBalancer": {"ingress": [{}]}},
                   "subsets": [{"addresses": [{}], "ports": [{}]}], "involvedObject": 3, "series": {}, "data": []}),
        ];
        let resources = [
            ("", "pods"),
            ("", "podtemplates"),
            ("", "replicationcontrollers"),
            ("", "services"),
            ("", "endpoints"),
            ("", "nodes"),
            ("", "namespaces"),
            ("", "events"),
            ("events.k8s.io", "events"),
            ("", "configmaps"),
            ("", "secrets"),
            ("", "serviceaccounts"),
            ("", "persistentvolumes"),
            ("", "persistentvolumeclaims"),
            ("", "resourcequotas"),
            ("", "componentstatuses"),
            ("apps", "deployments"),
            ("apps", "replicasets"),
            ("apps", "statefulsets"),
            ("apps", "daemonsets"),
            ("apps", "controllerrevisions"),
            ("batch", "jobs"),
            ("batch", "cronjobs"),
            ("networking.k8s.io", "ingresses"),
            ("networking.k8s.io", "ingressclasses"),
            ("networking.k8s.io", "networkpolicies"),
            ("discovery.k8s.io", "endpointslices"),
            ("rbac.authorization.k8s.io", "rolebindings"),
            ("rbac.authorization.k8s.io", "clusterrolebindings"),
            ("rbac.authorization.k8s.io", "roles"),
            ("policy", "poddisruptionbudgets"),
            ("autoscaling", "horizontalpodautoscalers"),
            ("coordination.k8s.io", "leases"),
            ("storage.k8s.io", "storageclasses"),
            ("storage.k8s.io", "volumeattachments"),
            ("storage.k8s.io", "csinodes"),
            ("storage.k8s.io", "csidrivers"),
            ("scheduling.k8s.io", "priorityclasses"),
            ("node.k8s.io", "runtimeclasses"),
            ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
            ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
            ("certificates.k8s.io", "certificatesigningrequests"),
            ("example.com", "anything"),
        ];
        for (group, resource) in resources {
            let t = table(group, resource, &odd_objects);
            let width = t["columnDefinitions"].as_array().expect("columns").len();
            for r in t["rows"].as_array().expect("rows") {
                assert_eq!(r["cells"].as_array().expect("cells").len(), width, "{group}/{resource}");
            }
        }
        let columns = [
            column("A", "string", r#".status.conditions[?(@.type=="Ready")].status"#),
            column("B", "date", ".metadata.creationTimestamp"),
            column("C", "integer", "..replicas"),
            column("D", "string", "[?("),
            column("E", "string", ".spec[0:"),
            column("F", "string", ""),
        ];
        let refs: Vec<&Value> = odd_objects.iter().collect();
        for include in [RowObject::None, RowObject::Metadata, RowObject::Object] {
            let t = build("x", "y", &refs, Some(&columns), include, json!("not an object"), now());
            assert_eq!(t["rows"].as_array().expect("rows").len(), odd_objects.len());
        }
        // Extreme clocks.
        let _ = build("", "pods", &refs, None, RowObject::Metadata, json!({}), UNIX_EPOCH);
        let _ = build("", "pods", &refs, None, RowObject::Metadata, json!({}), UNIX_EPOCH - Duration::from_secs(1 << 40));
    }

    #[test]
    fn every_builtin_row_matches_its_columns() {
        // A populated object for the widths check: rows must line up with columns.
        let full = json!({"metadata": {"name": "x", "creationTimestamp": ago(1)}, "spec": {}, "status": {}});
        for (group, resource) in [
            ("", "pods"),
            ("", "services"),
            ("", "nodes"),
            ("", "events"),
            ("apps", "deployments"),
            ("batch", "jobs"),
            ("batch", "cronjobs"),
            ("", "persistentvolumes"),
            ("storage.k8s.io", "csidrivers"),
            ("certificates.k8s.io", "certificatesigningrequests"),
            ("scheduling.k8s.io", "priorityclasses"),
        ] {
            let printer = builtin_printer(group, resource).expect("printer");
            let cells = row(group, resource, full.clone());
            assert_eq!(cells.len(), printer.columns.len(), "{group}/{resource}");
        }
    }
}
