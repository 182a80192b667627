//! `meta.k8s.io/v1` `Table` responses, rendered the way the kube-apiserver renders them.
//!
//! `kubectl get` does not format objects itself: it sends
//! `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` and prints whatever columns
//! and cells the server returns. So for the sandbox to look like a real cluster
//! (`NAME READY STATUS RESTARTS AGE` for pods, `3 (2m ago)` restarts, `Init:0/1`,
//! `CrashLoopBackOff` …) this module reproduces, per resource, what the real server does:
//!
//! * built-in resources: the printers of `pkg/printers/internalversion/printers.go`.
//!   The server always calls them with `Wide: true`, so the priority-1 columns
//!   (what `kubectl get -o wide` shows) always carry cells too;
//! * custom resources: the CRD table convertor
//!   (`apiextensions-apiserver/pkg/registry/customresource/tableconvertor`): `Name`,
//!   then the CRD's `additionalPrinterColumns` evaluated as client-go JSONPath, or
//!   `Name` and `Age` when the CRD declares none;
//! * everything else (roles, clusterroles, customresourcedefinitions, limitranges …):
//!   the default convertor of `apiserver/pkg/registry/rest/table.go` — `Name` and
//!   `Created At` (RFC 3339, format `date`).
//!
//! Objects are plain `serde_json::Value`s and may lack any field or hold the wrong
//! type anywhere: every read goes through [`Obj`], which answers with Go's zero value
//! (empty string, 0, false, empty list) instead of failing, just as the typed Go
//! structs would after decoding. Where the API server would have defaulted a field on
//! create (a service's `type`, a port's `protocol`, a deployment's `replicas` …) and the
//! sandbox may have stored the object as written, the printer uses that default, so the
//! table shows what a real cluster would show.
//!
//! Ages follow `k8s.io/apimachinery/pkg/util/duration.HumanDuration`; timestamps are
//! parsed by a small RFC 3339 parser in this file (no date-time dependency).

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

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
    let ctx = Ctx { now: unix_nanos(now) };
    let (columns, rows) = match printer_columns {
        Some(columns) => custom_resource_table(columns, objects, &ctx),
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
    ($($cell:expr),* $(,)?) => { vec![$(Value::from($cell)),*] };
}

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
        ("", "pods") => (POD_COLUMNS, pod_row),
        ("", "podtemplates") => (POD_TEMPLATE_COLUMNS, pod_template_row),
        ("", "replicationcontrollers") => (REPLICATION_CONTROLLER_COLUMNS, replication_controller_row),
        ("", "services") => (SERVICE_COLUMNS, service_row),
        ("", "endpoints") => (ENDPOINTS_COLUMNS, endpoints_row),
        ("", "nodes") => (NODE_COLUMNS, node_row),
        ("", "namespaces") => (NAMESPACE_COLUMNS, namespace_row),
        ("", "events") | ("events.k8s.io", "events") => (EVENT_COLUMNS, event_row),
        ("", "configmaps") => (CONFIG_MAP_COLUMNS, config_map_row),
        ("", "secrets") => (SECRET_COLUMNS, secret_row),
        ("", "serviceaccounts") => (SERVICE_ACCOUNT_COLUMNS, service_account_row),
        ("", "persistentvolumes") => (PERSISTENT_VOLUME_COLUMNS, persistent_volume_row),
        ("", "persistentvolumeclaims") => (PERSISTENT_VOLUME_CLAIM_COLUMNS, persistent_volume_claim_row),
        ("", "resourcequotas") => (RESOURCE_QUOTA_COLUMNS, resource_quota_row),
        ("", "componentstatuses") => (COMPONENT_STATUS_COLUMNS, component_status_row),
        ("apps", "deployments") => (DEPLOYMENT_COLUMNS, deployment_row),
        ("apps", "replicasets") => (REPLICA_SET_COLUMNS, replica_set_row),
        ("apps", "statefulsets") => (STATEFUL_SET_COLUMNS, stateful_set_row),
        ("apps", "daemonsets") => (DAEMON_SET_COLUMNS, daemon_set_row),
        ("apps", "controllerrevisions") => (CONTROLLER_REVISION_COLUMNS, controller_revision_row),
        ("batch", "jobs") => (JOB_COLUMNS, job_row),
        ("batch", "cronjobs") => (CRON_JOB_COLUMNS, cron_job_row),
        ("networking.k8s.io", "ingresses") => (INGRESS_COLUMNS, ingress_row),
        ("networking.k8s.io", "ingressclasses") => (INGRESS_CLASS_COLUMNS, ingress_class_row),
        ("networking.k8s.io", "networkpolicies") => (NETWORK_POLICY_COLUMNS, network_policy_row),
        ("discovery.k8s.io", "endpointslices") => (ENDPOINT_SLICE_COLUMNS, endpoint_slice_row),
        ("rbac.authorization.k8s.io", "rolebindings") => (ROLE_BINDING_COLUMNS, role_binding_row),
        ("rbac.authorization.k8s.io", "clusterrolebindings") => (CLUSTER_ROLE_BINDING_COLUMNS, role_binding_row),
        ("policy", "poddisruptionbudgets") => (POD_DISRUPTION_BUDGET_COLUMNS, pod_disruption_budget_row),
        ("autoscaling", "horizontalpodautoscalers") => (HPA_COLUMNS, hpa_row),
        ("coordination.k8s.io", "leases") => (LEASE_COLUMNS, lease_row),
        ("storage.k8s.io", "storageclasses") => (STORAGE_CLASS_COLUMNS, storage_class_row),
        ("storage.k8s.io", "volumeattachments") => (VOLUME_ATTACHMENT_COLUMNS, volume_attachment_row),
        ("storage.k8s.io", "csinodes") => (CSI_NODE_COLUMNS, csi_node_row),
        ("storage.k8s.io", "csidrivers") => (CSI_DRIVER_COLUMNS, csi_driver_row),
        ("scheduling.k8s.io", "priorityclasses") => (PRIORITY_CLASS_COLUMNS, priority_class_row),
        ("node.k8s.io", "runtimeclasses") => (RUNTIME_CLASS_COLUMNS, runtime_class_row),
        ("admissionregistration.k8s.io", "mutatingwebhookconfigurations" | "validatingwebhookconfigurations") => {
            (WEBHOOK_CONFIGURATION_COLUMNS, webhook_configuration_row)
        }
        ("certificates.k8s.io", "certificatesigningrequests") => (CSR_COLUMNS, csr_row),
        _ => return None,
    };
    Some(Printer { columns, row })
}

// ---------------------------------------------------------------------------------
// Default table (rest.defaultTableConvertor) and custom resources (tableconvertor)
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
            Row::from(cells![o.name(), format_rfc3339(o.time(&["metadata", "creationTimestamp"]))])
        })
        .collect();
    (columns, rows)
}

/// Name, then each additionalPrinterColumn (or `Age` when the CRD declares none:
/// the apiextensions server serves that default column).
fn custom_resource_table(columns: &[PrinterColumn], objects: &[&Value], ctx: &Ctx) -> (Vec<Value>, Vec<Row>) {
    let age = PrinterColumn {
        name: "Age".to_string(),
        type_: "date".to_string(),
        format: String::new(),
        description: AGE_DESC.to_string(),
        priority: 0,
        json_path: ".metadata.creationTimestamp".to_string(),
    };
    let columns: &[PrinterColumn] = if columns.is_empty() { std::slice::from_ref(&age) } else { columns };
    let paths: Vec<Option<Vec<Step>>> = columns.iter().map(|c| parse_json_path(&c.json_path)).collect();

    let mut definitions = vec![NAME.to_json()];
    definitions.extend(columns.iter().map(|c| {
        let description =
            if c.description.is_empty() { format!("Custom resource definition column (in JSONPath format): {}", c.json_path) } else { c.description.clone() };
        column_json(&c.name, &c.type_, &c.format, &description, c.priority)
    }));

    let rows = objects
        .iter()
        .map(|object| {
            let mut cells = vec![Value::from(Obj(object).name())];
            for (column, path) in columns.iter().zip(&paths) {
                let first = path.as_ref().and_then(|steps| eval_json_path(steps, object).ok()).and_then(|found| found.first().copied());
                cells.push(match first {
                    Some(value) => custom_cell(&column.type_, value, ctx),
                    None => Value::Null,
                });
            }
            Row::from(cells)
        })
        .collect();
    (definitions, rows)
}

/// A custom column's cell from the first value its JSONPath found (`cellForJSONValue`).
/// String columns print the value the way client-go's JSONPath printer does.
fn custom_cell(kind: &str, value: &Value, ctx: &Ctx) -> Value {
    match kind {
        "string" => Value::from(jsonpath_text(value)),
        "integer" => match value {
            Value::Number(n) => n
                .as_i64()
                // Go converts float64 to int64 by truncation.
                .or_else(|| n.as_f64().map(|f| f as i64))
                .map_or(Value::Null, Value::from),
            _ => Value::Null,
        },
        "number" => match value.as_f64() {
            Some(f) => float_cell(f),
            None => Value::Null,
        },
        "boolean" => value.as_bool().map_or(Value::Null, Value::from),
        "date" => match value.as_str() {
            // metav1.Time.UnmarshalQueryParameter: "" and "null" are the zero time.
            Some("" | "null") => Value::from("<unknown>"),
            Some(s) => match parse_rfc3339(s) {
                Some(t) => Value::from(ctx.since(nonzero(t))),
                None => Value::from("<invalid>"),
            },
            None => Value::Null,
        },
        _ => Value::Null,
    }
}

/// A float64 cell as Go's encoding/json writes it: integral values without `.0`.
fn float_cell(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9.0e15 { Value::from(f as i64) } else { Value::from(f) }
}

/// How client-go's JSONPath prints one result: strings raw, maps and lists as compact
/// JSON, numbers like Go's `fmt.Print`, null as `<no value>`.
fn jsonpath_text(value: &Value) -> String {
    match value {
        Value::Null => "<no value>".to_string(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(u)) => u.to_string(),
            _ => go_float(n.as_f64().unwrap_or_default()),
        },
        Value::Array(_) | Value::Object(_) => go_json(value),
    }
}

/// `json.Marshal` output: like serde's compact form, but Go escapes HTML characters.
fn go_json(value: &Value) -> String {
    value.to_string().replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026").replace('\u{2028}', "\\u2028").replace('\u{2029}', "\\u2029")
}

/// A float64 as Go's `%v` prints it: shortest digits, exponent form below 1e-4 or
/// from 1e21 up … and, because `%v` is `%g` with the shortest precision, from 1e6 up.
fn go_float(f: f64) -> String {
    // Rust's `{:e}` gives the shortest round-trip digits: "1.2345e-5", "1e6".
    let sci = format!("{f:e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exponent.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if negative { "-" } else { "" };
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        let fraction = if rest.is_empty() { String::new() } else { format!(".{rest}") };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{fraction}e{exp_sign}{:02}", exp.abs());
    }
    if exp < 0 {
        let zeros = "0".repeat((-exp - 1) as usize);
        return format!("{sign}0.{zeros}{digits}");
    }
    let point = (exp + 1) as usize;
    if digits.len() <= point {
        format!("{sign}{digits}{}", "0".repeat(point - digits.len()))
    } else {
        format!("{sign}{}.{}", &digits[..point], &digits[point..])
    }
}

// ---------------------------------------------------------------------------------
// Pods
// ---------------------------------------------------------------------------------

#[rustfmt::skip]
const POD_COLUMNS: &[Col] = &[
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
fn pod_row(pod: Obj<'_>, ctx: &Ctx) -> Row {
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
const POD_TEMPLATE_COLUMNS: &[Col] = &[
    NAME,
    col("Containers", "string", "Names of each container in the template."),
    col("Images", "string", "Images referenced by each container in the template."),
    col("Pod Labels", "string", "The labels for the pod template."),
];

fn pod_template_row(o: Obj<'_>, _ctx: &Ctx) -> Row {
    let (names, images) = containers_cells(o.list(&["template", "spec", "containers"]));
    Row::from(cells![o.name(), names, images, format_labels(o.map(&["template", "metadata", "labels"]))])
}

// ---------------------------------------------------------------------------------
// Workloads
// ---------------------------------------------------------------------------------

#[rustfmt::skip]
const DEPLOYMENT_COLUMNS: &[Col] = &[
    NAME,
    col("Ready", "string", "Number of the pod with ready state"),
    col("Up-to-date", "string", "Total number of non-terminated pods targeted by this deployment that have the desired template spec."),
    col("Available", "string", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

fn deployment_row(o: Obj<'_>, ctx: &Ctx) -> Row {
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
const REPLICA_SET_COLUMNS: &[Col] = &[
    NAME,
    col("Desired", "integer", "Replicas is the number of desired pods."),
    col("Current", "integer", "Replicas is the most recently observed number of replicas."),
    col("Ready", "integer", "The number of pods targeted by this ReplicaSet with a Ready Condition."),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

fn replica_set_row(o: Obj<'_>, ctx: &Ctx) -> Row {
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

const REPLICATION_CONTROLLER_COLUMNS: &[Col] = REPLICA_SET_COLUMNS;

/// Like a ReplicaSet, but the selector is a plain label map.
fn replication_controller_row(o: Obj<'_>, ctx: &Ctx) -> Row {
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
const STATEFUL_SET_COLUMNS: &[Col] = &[
    NAME,
    col("Ready", "string", "Number of the pod with ready state"),
    AGE,
    CONTAINERS,
    IMAGES,
];

fn stateful_set_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    let (names, images) = containers_cells(o.list(&["spec", "template", "spec", "containers"]));
    Row::from(cells![o.name(), format!("{}/{}", o.int(&["status", "readyReplicas"]), desired_replicas(o)), o.age(ctx), names, images,])
}

#[rustfmt::skip]
const DAEMON_SET_COLUMNS: &[Col] = &[
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

fn daemon_set_row(o: Obj<'_>, ctx: &Ctx) -> Row {
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
const CONTROLLER_REVISION_COLUMNS: &[Col] = &[
    NAME,
    col("Controller", "string", "Controller of the object"),
    col("Revision", "string", "Revision indicates the revision of the state represented by Data."),
    AGE,
];

/// The controlling owner as `kind.group/name` (`daemonset.apps/fluentd`).
fn controller_revision_row(o: Obj<'_>, ctx: &Ctx) -> Row {
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
const JOB_COLUMNS: &[Col] = &[
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
fn job_row(o: Obj<'_>, ctx: &Ctx) -> Row {
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
const CRON_JOB_COLUMNS: &[Col] = &[
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

fn cron_job_row(o: Obj<'_>, ctx: &Ctx) -> Row {
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
const POD_DISRUPTION_BUDGET_COLUMNS: &[Col] = &[
    NAME,
    col("Min Available", "string", "The minimum number of pods that must be available."),
    col("Max Unavailable", "string", "The maximum number of pods that may be unavailable."),
    col("Allowed Disruptions", "integer", "Calculated number of pods that may be disrupted at this time."),
    AGE,
];

fn pod_disruption_budget_row(o: Obj<'_>, ctx: &Ctx) -> Row {
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
const HPA_COLUMNS: &[Col] = &[
    NAME,
    col("Reference", "string", "reference to scaled resource; horizontal pod autoscaler will learn the current resource consumption and will set the desired number of pods by using its Scale subresource."),
    col("Targets", "string", "metrics contains the specifications for which to use to calculate the desired replica count."),
    col("MinPods", "string", "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down."),
    col("MaxPods", "string", "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up."),
    col("Replicas", "string", "currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen by the autoscaler."),
    AGE,
];

fn hpa_row(o: Obj<'_>, ctx: &Ctx) -> Row {
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

// ---------------------------------------------------------------------------------
// Services and networking
// ---------------------------------------------------------------------------------

#[rustfmt::skip]
const SERVICE_COLUMNS: &[Col] = &[
    NAME,
    col("Type", "string", "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer."),
    col("Cluster-IP", "string", "clusterIP is the IP address of the service and is usually assigned randomly."),
    col("External-IP", "string", "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service."),
    col("Port(s)", "string", "The list of ports that are exposed by this service."),
    AGE,
    wide("Selector", "string", "Route service traffic to pods with label keys and values matching this selector."),
];

fn service_row(svc: Obj<'_>, ctx: &Ctx) -> Row {
    let spec = svc.child(&["spec"]);
    // The API server defaults spec.type to ClusterIP.
    let kind = spec.opt_str(&["type"]).and_then(non_empty).unwrap_or("ClusterIP");
    // clusterIPs is authoritative; the v1 conversion fills it from the legacy clusterIP.
    let cluster_ip = match spec.list(&["clusterIPs"]).first() {
        Some(ip) => ip.as_str().unwrap_or(""),
        None => spec.opt_str(&["clusterIP"]).and_then(non_empty).unwrap_or("<none>"),
    };
    let ports = service_ports(spec.list(&["ports"]));
    Row::from(cells![
        svc.name(),
        kind,
        cluster_ip,
        service_external_ip(svc, kind),
        if ports.is_empty() { "<none>".to_string() } else { ports },
        svc.age(ctx),
        format_labels(spec.map(&["selector"])),
    ])
}

/// makePortString: `80/TCP,443:30443/TCP` (the node port shows when one is allocated).
fn service_ports(ports: &[Value]) -> String {
    ports
        .iter()
        .map(Obj)
        .map(|p| {
            // The API server defaults a port's protocol to TCP.
            let protocol = p.opt_str(&["protocol"]).and_then(non_empty).unwrap_or("TCP");
            match p.int(&["nodePort"]) {
                node_port if node_port > 0 => {
                    format!("{}:{node_port}/{protocol}", p.int(&["port"]))
                }
                _ => format!("{}/{protocol}", p.int(&["port"])),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// getServiceExternalIP. The server prints wide, so load-balancer addresses are
/// never clipped to 16 characters.
fn service_external_ip(svc: Obj<'_>, kind: &str) -> String {
    let external_ips: Vec<&str> = svc.list(&["spec", "externalIPs"]).iter().map(|v| v.as_str().unwrap_or("")).collect();
    match kind {
        "ClusterIP" | "NodePort" if !external_ips.is_empty() => external_ips.join(","),
        "ClusterIP" | "NodePort" => "<none>".to_string(),
        "LoadBalancer" => {
            let lb = load_balancer_addresses(svc.list(&["status", "loadBalancer", "ingress"]));
            if !external_ips.is_empty() {
                let mut all: Vec<&str> = lb.iter().map(String::as_str).collect();
                all.extend(external_ips);
                all.join(",")
            } else if !lb.is_empty() {
                lb.join(",")
            } else {
                "<pending>".to_string()
            }
        }
        "ExternalName" => svc.str(&["spec", "externalName"]).to_string(),
        _ => "<unknown>".to_string(),
    }
}

/// Load-balancer ingress points: each one's IP, else its hostname; sorted, deduplicated.
fn load_balancer_addresses(ingress: &[Value]) -> Vec<String> {
    let mut addresses: Vec<String> =
        ingress.iter().map(Obj).filter_map(|i| non_empty(i.str(&["ip"])).or_else(|| non_empty(i.str(&["hostname"])))).map(str::to_string).collect();
    addresses.sort();
    addresses.dedup();
    addresses
}

#[rustfmt::skip]
const ENDPOINTS_COLUMNS: &[Col] = &[
    NAME,
    col("Endpoints", "string", "The set of all endpoints is the union of all subsets."),
    AGE,
];

/// formatEndpoints: `ip:port` for every port of every subset, three at most.
fn endpoints_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    let subsets = o.list(&["subsets"]);
    let endpoints = if subsets.is_empty() {
        "<none>".to_string()
    } else {
        let mut list = Vec::new();
        let mut count = 0;
        for subset in subsets.iter().map(Obj) {
            let addresses: Vec<&str> = subset.list(&["addresses"]).iter().map(|a| Obj(a).str(&["ip"])).collect();
            let ports = subset.list(&["ports"]);
            if ports.is_empty() {
                // Headless services may have no ports.
                count += addresses.len();
                list.extend(addresses.iter().map(|ip| ip.to_string()));
                continue;
            }
            for port in ports.iter().map(Obj) {
                count += addresses.len();
                list.extend(addresses.iter().map(|ip| join_host_port(ip, port.int(&["port"]))));
            }
        }
        list_with_more_or(&list, 3, ",", count, "")
    };
    Row::from(cells![o.name(), endpoints, o.age(ctx)])
}

/// net.JoinHostPort: IPv6 addresses get brackets.
fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") }
}

#[rustfmt::skip]
const ENDPOINT_SLICE_COLUMNS: &[Col] = &[
    NAME,
    col("AddressType", "string", "addressType specifies the type of address carried by this EndpointSlice."),
    col("Ports", "string", "ports specifies the list of network ports exposed by each endpoint in this slice."),
    col("Endpoints", "string", "endpoints is a list of unique endpoints in this slice."),
    AGE,
];

fn endpoint_slice_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    let ports: Vec<String> = o
        .list(&["ports"])
        .iter()
        .map(Obj)
        .map(|p| match (p.opt_int(&["port"]), p.opt_str(&["name"])) {
            (Some(port), _) => port.to_string(),
            (None, Some(name)) => name.to_string(),
            (None, None) => "*".to_string(),
        })
        .collect();
    let addresses: Vec<String> =
        o.list(&["endpoints"]).iter().flat_map(|e| Obj(e).list(&["addresses"])).map(|a| a.as_str().unwrap_or("").to_string()).collect();
    Row::from(cells![
        o.name(),
        o.str(&["addressType"]),
        list_with_more_or(&ports, 3, ",", ports.len(), "<unset>"),
        list_with_more_or(&addresses, 3, ",", addresses.len(), "<unset>"),
        o.age(ctx),
    ])
}

#[rustfmt::skip]
const INGRESS_COLUMNS: &[Col] = &[
    NAME,
    col("Class", "string", "The name of the IngressClass resource that should be used for additional configuration"),
    col("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule"),
    col("Address", "string", "Address is a list containing ingress points for the load-balancer"),
    col("Ports", "string", "Ports of TLS configurations that open"),
    AGE,
];

fn ingress_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    // formatHosts: up to three hosts; "more" once a rule follows the third host,
    // counted against all rules, hosted or not.
    let rules = o.list(&["spec", "rules"]);
    let mut hosts = Vec::new();
    let mut more = false;
    for rule in rules.iter().map(Obj) {
        if hosts.len() == 3 {
            more = true;
        }
        if !more && !rule.str(&["host"]).is_empty() {
            hosts.push(rule.str(&["host"]));
        }
    }
    let hosts = match (hosts.is_empty(), more) {
        (true, _) => "*".to_string(),
        (false, true) => format!("{} + {} more...", hosts.join(","), rules.len() - 3),
        (false, false) => hosts.join(","),
    };
    let ports = if o.list(&["spec", "tls"]).is_empty() { "80" } else { "80, 443" };
    Row::from(cells![
        o.name(),
        o.opt_str(&["spec", "ingressClassName"]).unwrap_or("<none>"),
        hosts,
        load_balancer_addresses(o.list(&["status", "loadBalancer", "ingress"])).join(","),
        ports,
        o.age(ctx),
    ])
}

#[rustfmt::skip]
const INGRESS_CLASS_COLUMNS: &[Col] = &[
    NAME,
    col("Controller", "string", "Controller that is responsible for handling this class"),
    col("Parameters", "string", "A reference to a resource with additional parameters"),
    AGE,
];

fn ingress_class_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    let parameters = match o.obj(&["spec", "parameters"]) {
        None => "<none>".to_string(),
        Some(p) => {
            let kind = match p.opt_str(&["apiGroup"]) {
                Some(group) => format!("{}.{group}", p.str(&["kind"])),
                None => p.str(&["kind"]).to_string(),
            };
            format!("{kind}/{}", p.str(&["name"]))
        }
    };
    Row::from(cells![o.name(), o.str(&["spec", "controller"]), parameters, o.age(ctx)])
}

#[rustfmt::skip]
const NETWORK_POLICY_COLUMNS: &[Col] = &[
    NAME,
    col("Pod-Selector", "string", "Selects the pods to which this NetworkPolicy object applies."),
    AGE,
];

fn network_policy_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    // podSelector is a struct, not a pointer: absent means "all pods", shown as <none>.
    let selector = match o.obj(&["spec", "podSelector"]) {
        Some(selector) => format_label_selector(Some(selector.0)),
        None => "<none>".to_string(),
    };
    Row::from(cells![o.name(), selector, o.age(ctx)])
}

// ---------------------------------------------------------------------------------
// Cluster: nodes, namespaces, events, leases, classes
// ---------------------------------------------------------------------------------

#[rustfmt::skip]
const NODE_COLUMNS: &[Col] = &[
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
fn node_row(node: Obj<'_>, ctx: &Ctx) -> Row {
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
const NAMESPACE_COLUMNS: &[Col] = &[
    NAME,
    col("Status", "string", "The status of the namespace"),
    AGE,
];

fn namespace_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    // The namespace registry sets phase Active on create.
    let phase = o.opt_str(&["status", "phase"]).and_then(non_empty).unwrap_or("Active");
    Row::from(cells![o.name(), phase, o.age(ctx)])
}

#[rustfmt::skip]
const EVENT_COLUMNS: &[Col] = &[
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
fn event_row(e: Obj<'_>, ctx: &Ctx) -> Row {
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
const LEASE_COLUMNS: &[Col] = &[
    NAME,
    col("Holder", "string", "holderIdentity contains the identity of the holder of a current lease."),
    AGE,
];

fn lease_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    Row::from(cells![o.name(), o.str(&["spec", "holderIdentity"]), o.age(ctx)])
}

#[rustfmt::skip]
const STORAGE_CLASS_COLUMNS: &[Col] = &[
    NAME,
    col("Provisioner", "string", "provisioner indicates the type of the provisioner."),
    col("ReclaimPolicy", "string", "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class. Defaults to Delete."),
    col("VolumeBindingMode", "string", "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.  When unset, VolumeBindingImmediate is used."),
    col("AllowVolumeExpansion", "string", "allowVolumeExpansion shows whether the storage class allow volume expand."),
    AGE,
];

fn storage_class_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    let annotations = o.child(&["metadata", "annotations"]);
    let is_default = annotations.str(&["storageclass.kubernetes.io/is-default-class"]) == "true"
        || annotations.str(&["storageclass.beta.kubernetes.io/is-default-class"]) == "true";
    let name = if is_default { format!("{} (default)", o.name()) } else { o.name().to_string() };
    Row::from(cells![
        name,
        o.str(&["provisioner"]),
        o.opt_str(&["reclaimPolicy"]).unwrap_or("Delete"),
        o.opt_str(&["volumeBindingMode"]).unwrap_or("Immediate"),
        o.bool(&["allowVolumeExpansion"]),
        o.age(ctx),
    ])
}

#[rustfmt::skip]
const VOLUME_ATTACHMENT_COLUMNS: &[Col] = &[
    NAME,
    // The real definition gives Attacher format "name" too.
    Col { name: "Attacher", kind: "string", format: "name", priority: 0, description: "attacher indicates the name of the volume driver that MUST handle this request." },
    col("PV", "string", "persistentVolumeName represents the name of the persistent volume to attach."),
    col("Node", "string", "nodeName represents the node that the volume should be attached to."),
    col("Attached", "boolean", "attached indicates the volume is successfully attached."),
    AGE,
];

fn volume_attachment_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    Row::from(cells![
        o.name(),
        o.str(&["spec", "attacher"]),
        o.str(&["spec", "source", "persistentVolumeName"]),
        o.str(&["spec", "nodeName"]),
        o.bool(&["status", "attached"]),
        o.age(ctx),
    ])
}

#[rustfmt::skip]
const CSI_NODE_COLUMNS: &[Col] = &[
    NAME,
    col("Drivers", "integer", "Drivers indicates the number of CSI drivers registered on the node"),
    AGE,
];

fn csi_node_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    Row::from(cells![o.name(), o.list(&["spec", "drivers"]).len(), o.age(ctx)])
}

#[rustfmt::skip]
const CSI_DRIVER_COLUMNS: &[Col] = &[
    NAME,
    col("AttachRequired", "boolean", "attachRequired indicates this CSI volume driver requires an attach operation."),
    col("PodInfoOnMount", "boolean", "podInfoOnMount indicates this CSI volume driver requires additional pod information (like podName, podUID, etc.) during mount operations."),
    col("StorageCapacity", "boolean", "storageCapacity indicates that the CSI volume driver wants pod scheduling to consider the storage capacity that the driver deployment will report."),
    col("TokenRequests", "string", "tokenRequests indicates the CSI driver needs pods' service account tokens it is mounting volume for to do necessary authentication."),
    col("RequiresRepublish", "boolean", "requiresRepublish indicates the CSI driver wants `NodePublishVolume` being periodically called to reflect any possible change in the mounted volume."),
    col("Modes", "string", "volumeLifecycleModes defines what kind of volumes this CSI volume driver supports."),
    AGE,
];

fn csi_driver_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    let spec = o.child(&["spec"]);
    let token_requests = match spec.at(&["tokenRequests"]) {
        Some(Value::Array(requests)) => requests.iter().map(|t| Obj(t).str(&["audience"])).collect::<Vec<_>>().join(","),
        _ => "<unset>".to_string(),
    };
    let modes: Vec<&str> = spec.list(&["volumeLifecycleModes"]).iter().map(|m| m.as_str().unwrap_or("")).collect();
    Row::from(cells![
        o.name(),
        spec.opt_bool(&["attachRequired"]).unwrap_or(true),
        spec.bool(&["podInfoOnMount"]),
        spec.bool(&["storageCapacity"]),
        token_requests,
        spec.bool(&["requiresRepublish"]),
        or_none(&modes.join(",")),
        o.age(ctx),
    ])
}

#[rustfmt::skip]
const PRIORITY_CLASS_COLUMNS: &[Col] = &[
    NAME,
    col("Value", "integer", "value represents the integer value of this priority class."),
    col("Global-Default", "boolean", "globalDefault specifies whether this PriorityClass should be considered as the default priority for pods that do not have any priority class."),
    AGE,
    col("PreemptionPolicy", "string", "preemptionPolicy is the Policy for preempting pods with lower priority."),
];

fn priority_class_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    Row::from(cells![o.name(), o.int(&["value"]), o.bool(&["globalDefault"]), o.age(ctx), o.str(&["preemptionPolicy"]),])
}

#[rustfmt::skip]
const RUNTIME_CLASS_COLUMNS: &[Col] = &[
    NAME,
    col("Handler", "string", "handler specifies the underlying runtime and configuration that the CRI implementation will use to handle pods of this class."),
    AGE,
];

fn runtime_class_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    Row::from(cells![o.name(), o.str(&["handler"]), o.age(ctx)])
}

#[rustfmt::skip]
const WEBHOOK_CONFIGURATION_COLUMNS: &[Col] = &[
    NAME,
    col("Webhooks", "integer", "Webhooks indicates the number of webhooks registered in this configuration"),
    AGE,
];

fn webhook_configuration_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    Row::from(cells![o.name(), o.list(&["webhooks"]).len(), o.age(ctx)])
}

#[rustfmt::skip]
const CSR_COLUMNS: &[Col] = &[
    NAME,
    AGE,
    col("SignerName", "string", "Requested signer for the request."),
    col("Requestor", "string", "Name of the user who created the CertificateSigningRequest."),
    col("RequestedDuration", "string", "expirationSeconds is the requested duration of validity of the issued certificate."),
    col("Condition", "string", "Conditions applied to the request. Known conditions are \"Approved\", \"Denied\", and \"Failed\"."),
];

fn csr_row(o: Obj<'_>, ctx: &Ctx) -> Row {
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
const COMPONENT_STATUS_COLUMNS: &[Col] = &[
    NAME,
    col("Status", "string", "Status of the component conditions"),
    col("Message", "string", "Message of the component conditions"),
    col("Error", "string", "Error of the component conditions"),
];

fn component_status_row(o: Obj<'_>, _ctx: &Ctx) -> Row {
    let healthy = o.list(&["conditions"]).iter().map(Obj).find(|c| c.str(&["type"]) == "Healthy");
    let (status, message, error) = match healthy {
        Some(c) => (if c.str(&["status"]) == "True" { "Healthy" } else { "Unhealthy" }, c.str(&["message"]), c.str(&["error"])),
        None => ("Unknown", "", ""),
    };
    Row::from(cells![o.name(), status, message, error])
}

// ---------------------------------------------------------------------------------
// Config, storage, RBAC
// ---------------------------------------------------------------------------------

#[rustfmt::skip]
const CONFIG_MAP_COLUMNS: &[Col] = &[
    NAME,
    col("Data", "string", "Data contains the configuration data."),
    AGE,
];

fn config_map_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    let count = o.map(&["data"]).map_or(0, Map::len) + o.map(&["binaryData"]).map_or(0, Map::len);
    Row::from(cells![o.name(), count, o.age(ctx)])
}

#[rustfmt::skip]
const SECRET_COLUMNS: &[Col] = &[
    NAME,
    col("Type", "string", "Used to facilitate programmatic handling of secret data."),
    col("Data", "string", "Data contains the secret data."),
    AGE,
];

/// Only the type and how many keys: never a value.
fn secret_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    // The server merges write-only stringData into data on write; count the union in
    // case the object was stored as written.
    let mut keys: Vec<&String> = o.map(&["data"]).into_iter().flat_map(Map::keys).collect();
    keys.extend(o.map(&["stringData"]).into_iter().flat_map(Map::keys));
    keys.sort();
    keys.dedup();
    // The API server defaults an empty type to Opaque.
    let kind = o.opt_str(&["type"]).and_then(non_empty).unwrap_or("Opaque");
    Row::from(cells![o.name(), kind, keys.len(), o.age(ctx)])
}

#[rustfmt::skip]
const SERVICE_ACCOUNT_COLUMNS: &[Col] = &[
    NAME,
    col("Secrets", "string", "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use."),
    AGE,
];

fn service_account_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    Row::from(cells![o.name(), o.list(&["secrets"]).len(), o.age(ctx)])
}

#[rustfmt::skip]
const PERSISTENT_VOLUME_COLUMNS: &[Col] = &[
    NAME,
    col("Capacity", "string", "capacity is the description of the persistent volume's resources and capacity."),
    col("Access Modes", "string", "accessModes contains all ways the volume can be mounted."),
    col("Reclaim Policy", "string", "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim."),
    col("Status", "string", "phase indicates if a volume is available, bound to a claim, or released by a claim."),
    col("Claim", "string", "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim."),
    col("StorageClass", "string", "StorageClass of the pv"),
    col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv"),
    col("Reason", "string", "reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI."),
    AGE,
    wide("VolumeMode", "string", "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state."),
];

fn persistent_volume_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    let spec = o.child(&["spec"]);
    let claim = match spec.obj(&["claimRef"]) {
        Some(c) => format!("{}/{}", c.str(&["namespace"]), c.str(&["name"])),
        None => String::new(),
    };
    let phase = if o.has(&["metadata", "deletionTimestamp"]) { "Terminating" } else { o.str(&["status", "phase"]) };
    let class = match o.opt_str(&["metadata", "annotations", BETA_STORAGE_CLASS]) {
        Some(class) => class,
        None => spec.str(&["storageClassName"]),
    };
    Row::from(cells![
        o.name(),
        spec.quantity(&["capacity", "storage"]),
        access_modes(spec.list(&["accessModes"])),
        spec.str(&["persistentVolumeReclaimPolicy"]),
        phase,
        claim,
        class,
        spec.opt_str(&["volumeAttributesClassName"]).unwrap_or("<unset>"),
        o.str(&["status", "reason"]),
        o.age(ctx),
        spec.opt_str(&["volumeMode"]).unwrap_or("<unset>"),
    ])
}

/// The storage class annotation that still wins over spec.storageClassName.
const BETA_STORAGE_CLASS: &str = "volume.beta.kubernetes.io/storage-class";

#[rustfmt::skip]
const PERSISTENT_VOLUME_CLAIM_COLUMNS: &[Col] = &[
    NAME,
    col("Status", "string", "phase represents the current phase of PersistentVolumeClaim."),
    col("Volume", "string", "volumeName is the binding reference to the PersistentVolume backing this claim."),
    col("Capacity", "string", "capacity represents the actual resources of the underlying volume."),
    col("Access Modes", "string", "accessModes contains the actual access modes the volume backing the PVC has."),
    col("StorageClass", "string", "StorageClass of the pvc"),
    col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
    AGE,
    wide("VolumeMode", "string", "volumeMode defines what type of volume is required by the claim."),
];

fn persistent_volume_claim_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    let spec = o.child(&["spec"]);
    let status = o.child(&["status"]);
    let phase = if o.has(&["metadata", "deletionTimestamp"]) { "Terminating" } else { status.str(&["phase"]) };
    // Capacity and access modes are only shown once the claim is bound to a volume.
    let (capacity, modes) = if spec.str(&["volumeName"]).is_empty() {
        (String::new(), String::new())
    } else {
        (status.quantity(&["capacity", "storage"]), access_modes(status.list(&["accessModes"])))
    };
    let class = match o.opt_str(&["metadata", "annotations", BETA_STORAGE_CLASS]) {
        Some(class) => class,
        None => spec.str(&["storageClassName"]),
    };
    Row::from(cells![
        o.name(),
        phase,
        spec.str(&["volumeName"]),
        capacity,
        modes,
        class,
        spec.opt_str(&["volumeAttributesClassName"]).unwrap_or("<unset>"),
        o.age(ctx),
        spec.opt_str(&["volumeMode"]).unwrap_or("<unset>"),
    ])
}

/// GetAccessModesAsString: abbreviations in a fixed order, each once.
fn access_modes(modes: &[Value]) -> String {
    let has = |mode: &str| modes.iter().any(|m| m.as_str() == Some(mode));
    [("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"), ("ReadWriteOncePod", "RWOP")]
        .iter()
        .filter(|(mode, _)| has(mode))
        .map(|(_, short)| *short)
        .collect::<Vec<_>>()
        .join(",")
}

#[rustfmt::skip]
const RESOURCE_QUOTA_COLUMNS: &[Col] = &[
    NAME,
    col("Request", "string", "Request represents a minimum amount of cpu/memory that a container may consume."),
    col("Limit", "string", "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node."),
    AGE,
];

/// `resource: used/hard` for every hard limit, `limits.*` in the Limit column.
fn resource_quota_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    let used = o.child(&["status", "used"]);
    let mut requests = Vec::new();
    let mut limits = Vec::new();
    // serde_json's map iterates in key order, which is the printer's sort.
    for (resource, hard) in o.map(&["status", "hard"]).into_iter().flatten() {
        let used = used.at(&[resource.as_str()]).map_or_else(|| "0".to_string(), quantity_text);
        let entry = format!("{resource}: {used}/{}", quantity_text(hard));
        match resource.split_once('.') {
            Some(("limits", _)) => limits.push(entry),
            _ => requests.push(entry),
        }
    }
    Row::from(cells![o.name(), requests.join(", "), limits.join(", "), o.age(ctx)])
}

#[rustfmt::skip]
const ROLE_BINDING_COLUMNS: &[Col] = &[
    NAME,
    col("Role", "string", "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace."),
    AGE,
    wide("Users", "string", "Users in the roleBinding"),
    wide("Groups", "string", "Groups in the roleBinding"),
    wide("ServiceAccounts", "string", "ServiceAccounts in the roleBinding"),
];

#[rustfmt::skip]
const CLUSTER_ROLE_BINDING_COLUMNS: &[Col] = &[
    NAME,
    col("Role", "string", "RoleRef can only reference a ClusterRole in the global namespace."),
    AGE,
    wide("Users", "string", "Users in the clusterRoleBinding"),
    wide("Groups", "string", "Groups in the clusterRoleBinding"),
    wide("ServiceAccounts", "string", "ServiceAccounts in the clusterRoleBinding"),
];

/// Role bindings and cluster role bindings: `Kind/name` of the role, then subjects.
fn role_binding_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    let mut users = Vec::new();
    let mut groups = Vec::new();
    let mut service_accounts = Vec::new();
    for subject in o.list(&["subjects"]).iter().map(Obj) {
        match subject.str(&["kind"]) {
            "ServiceAccount" => service_accounts.push(format!("{}/{}", subject.str(&["namespace"]), subject.str(&["name"]))),
            "User" => users.push(subject.str(&["name"]).to_string()),
            "Group" => groups.push(subject.str(&["name"]).to_string()),
            _ => {}
        }
    }
    Row::from(cells![
        o.name(),
        format!("{}/{}", o.str(&["roleRef", "kind"]), o.str(&["roleRef", "name"])),
        o.age(ctx),
        users.join(", "),
        groups.join(", "),
        service_accounts.join(", "),
    ])
}

// ---------------------------------------------------------------------------------
// Shared cell formatting
// ---------------------------------------------------------------------------------

/// layoutContainerCells: container names and images, comma-separated.
fn containers_cells(containers: &[Value]) -> (String, String) {
    let names: Vec<&str> = containers.iter().map(|c| Obj(c).str(&["name"])).collect();
    let images: Vec<&str> = containers.iter().map(|c| Obj(c).str(&["image"])).collect();
    (names.join(","), images.join(","))
}

/// labels.FormatLabels: `k=v` sorted by key, or `<none>`.
fn format_labels(labels: Option<&Map<String, Value>>) -> String {
    let text = labels.into_iter().flatten().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect::<Vec<_>>().join(",");
    or_none(&text).to_string()
}

/// metav1.FormatLabelSelector: the selector string, `<none>` when it selects
/// everything or nothing, `<error>` when it is invalid.
fn format_label_selector(selector: Option<&Value>) -> String {
    match label_selector(selector) {
        Ok(s) if s.is_empty() => "<none>".to_string(),
        Ok(s) => s,
        Err(()) => "<error>".to_string(),
    }
}

/// LabelSelectorAsSelector(…).String(): requirements sorted by key, `k=v`,
/// `k in (a,b)`, `k notin (a)`, `k`, `!k`. Label key/value syntax is not checked.
fn label_selector(selector: Option<&Value>) -> Result<String, ()> {
    let Some(selector) = selector.filter(|s| !s.is_null()) else {
        return Ok(String::new());
    };
    let selector = Obj(selector);
    let mut requirements: Vec<(String, String)> =
        selector.map(&["matchLabels"]).into_iter().flatten().map(|(k, v)| (k.clone(), format!("{k}={}", v.as_str().unwrap_or("")))).collect();
    for expr in selector.list(&["matchExpressions"]).iter().map(Obj) {
        let key = expr.str(&["key"]);
        let mut values: Vec<&str> = expr.list(&["values"]).iter().map(|v| v.as_str().unwrap_or("")).collect();
        values.sort_unstable();
        let text = match expr.str(&["operator"]) {
            "In" | "NotIn" if values.is_empty() => return Err(()),
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" | "DoesNotExist" if !values.is_empty() => return Err(()),
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            _ => return Err(()),
        };
        requirements.push((key.to_string(), text));
    }
    requirements.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(requirements.into_iter().map(|(_, text)| text).collect::<Vec<_>>().join(","))
}

/// The first `max` items joined, then ` + N more...` when `count` exceeds `max`.
fn list_with_more(list: &[String], max: usize, separator: &str, count: usize) -> String {
    let shown = &list[..list.len().min(max)];
    let joined = shown.join(separator);
    if count > max { format!("{joined} + {} more...", count - max) } else { joined }
}

/// listWithMoreString, with what to print for an empty list.
fn list_with_more_or(list: &[String], max: usize, separator: &str, count: usize, empty: &str) -> String {
    let text = list_with_more(list, max, separator, count);
    if text.is_empty() { empty.to_string() } else { text }
}

/// A resource.Quantity as text. The sandbox stores quantities as written, so they
/// print as written (the real server would print the canonical form, e.g. 1Gi for 1024Mi).
fn quantity_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => "0".to_string(),
    }
}

fn non_empty(s: &str) -> Option<&str> {
    if s.is_empty() { None } else { Some(s) }
}

fn or_none(s: &str) -> &str {
    if s.is_empty() { "<none>" } else { s }
}

// ---------------------------------------------------------------------------------
// Reading objects without failing
// ---------------------------------------------------------------------------------

/// A read-only view of a JSON object that answers every question with Go's zero
/// value when the field is missing or has the wrong type.
#[derive(Clone, Copy)]
struct Obj<'a>(&'a Value);

impl<'a> Obj<'a> {
    /// The value at `path` (object keys), if present.
    fn at(self, path: &[&str]) -> Option<&'a Value> {
        path.iter().try_fold(self.0, |v, key| v.get(key))
    }

    /// The value at `path` as a view; missing reads as null.
    fn child(self, path: &[&str]) -> Obj<'a> {
        Obj(self.at(path).unwrap_or(&Value::Null))
    }

    /// The value at `path` when it is present and not null (a non-nil Go pointer).
    fn obj(self, path: &[&str]) -> Option<Obj<'a>> {
        self.at(path).filter(|v| !v.is_null()).map(Obj)
    }

    fn has(self, path: &[&str]) -> bool {
        self.obj(path).is_some()
    }

    fn opt_str(self, path: &[&str]) -> Option<&'a str> {
        self.at(path).and_then(Value::as_str)
    }

    fn str(self, path: &[&str]) -> &'a str {
        self.opt_str(path).unwrap_or("")
    }

    fn opt_int(self, path: &[&str]) -> Option<i64> {
        match self.at(path)? {
            Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
            _ => None,
        }
    }

    fn int(self, path: &[&str]) -> i64 {
        self.opt_int(path).unwrap_or(0)
    }

    fn opt_bool(self, path: &[&str]) -> Option<bool> {
        self.at(path).and_then(Value::as_bool)
    }

    fn bool(self, path: &[&str]) -> bool {
        self.opt_bool(path).unwrap_or(false)
    }

    fn list(self, path: &[&str]) -> &'a [Value] {
        match self.at(path) {
            Some(Value::Array(items)) => items,
            _ => &[],
        }
    }

    fn map(self, path: &[&str]) -> Option<&'a Map<String, Value>> {
        self.at(path).and_then(Value::as_object)
    }

    /// A resource.Quantity field; a missing one is the zero quantity, `0`.
    fn quantity(self, path: &[&str]) -> String {
        self.opt_quantity(path).unwrap_or_else(|| "0".to_string())
    }

    /// A `*resource.Quantity` field; a missing one prints like Go's nil pointer: `<nil>`.
    fn quantity_ptr(self, path: &[&str]) -> String {
        self.opt_quantity(path).unwrap_or_else(|| "<nil>".to_string())
    }

    fn opt_quantity(self, path: &[&str]) -> Option<String> {
        self.obj(path).map(|q| quantity_text(q.0))
    }

    /// A metav1.Time, whole seconds (the resolution the server stores).
    fn time(self, path: &[&str]) -> Option<i128> {
        self.at(path).and_then(metav1_time)
    }

    /// A metav1.MicroTime (events' eventTime, series.lastObservedTime).
    fn micro_time(self, path: &[&str]) -> Option<i128> {
        self.opt_str(path).and_then(parse_rfc3339).and_then(nonzero)
    }

    fn name(self) -> &'a str {
        self.str(&["metadata", "name"])
    }

    /// The Age cell: time since creation, `<unknown>` without a creation time.
    fn age(self, ctx: &Ctx) -> String {
        ctx.since(self.time(&["metadata", "creationTimestamp"]))
    }
}

/// A metav1.Time value: RFC 3339, truncated to seconds; unparsable or zero is "unset".
fn metav1_time(value: &Value) -> Option<i128> {
    let t = nonzero(parse_rfc3339(value.as_str()?)?)?;
    Some(t.div_euclid(NANOS_PER_SECOND) * NANOS_PER_SECOND)
}

// ---------------------------------------------------------------------------------
// Time: RFC 3339 and HumanDuration
// ---------------------------------------------------------------------------------

const NANOS_PER_SECOND: i128 = 1_000_000_000;
/// Go's zero time.Time, 0001-01-01T00:00:00Z, in Unix seconds.
const GO_ZERO_TIME_SECS: i64 = -62_135_596_800;

/// The clock a table is rendered against.
struct Ctx {
    /// Unix time in nanoseconds.
    now: i128,
}

impl Ctx {
    /// translateTimestampSince: how long ago, or `<unknown>` for an unset time.
    fn since(&self, t: Option<i128>) -> String {
        match t {
            Some(t) => human_duration(self.now - t),
            None => "<unknown>".to_string(),
        }
    }
}

fn unix_nanos(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i128::try_from(d.as_nanos()).unwrap_or(i128::MAX),
        Err(e) => -i128::try_from(e.duration().as_nanos()).unwrap_or(i128::MAX),
    }
}

/// Go's `Time.IsZero()` is "never set"; such a time reads as None.
fn nonzero(t: i128) -> Option<i128> {
    (t != i128::from(GO_ZERO_TIME_SECS) * NANOS_PER_SECOND).then_some(t)
}

/// Parses an RFC 3339 timestamp as Go's `time.Parse(time.RFC3339, s)` accepts it:
/// `YYYY-MM-DDTHH:MM:SS`, optional fractional seconds (`.` or `,`, digits past the
/// ninth ignored), then `Z` or `±HH:MM`. Returns Unix time in nanoseconds.
pub(crate) fn parse_rfc3339(s: &str) -> Option<i128> {
    let b = s.as_bytes();
    let number = |at: usize, len: usize| -> Option<i64> {
        let digits = b.get(at..at + len)?;
        digits.iter().try_fold(0i64, |n, &d| d.is_ascii_digit().then(|| n * 10 + i64::from(d - b'0')))
    };
    let expect = |at: usize, c: u8| b.get(at) == Some(&c);
    if !(expect(4, b'-') && expect(7, b'-') && expect(10, b'T') && expect(13, b':') && expect(16, b':')) {
        return None;
    }
    let (year, month, day) = (number(0, 4)?, number(5, 2)?, number(8, 2)?);
    let (hour, minute, second) = (number(11, 2)?, number(14, 2)?, number(17, 2)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }

    let mut at = 19;
    let mut nanos: i128 = 0;
    if matches!(b.get(at), Some(b'.' | b',')) {
        at += 1;
        let start = at;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        if at == start {
            return None;
        }
        let digits = &b[start..at.min(start + 9)];
        let value = digits.iter().fold(0i128, |n, &d| n * 10 + i128::from(d - b'0'));
        nanos = value * 10i128.pow(9 - digits.len() as u32);
    }

    let offset_secs = match b.get(at)? {
        b'Z' if b.len() == at + 1 => 0,
        sign @ (b'+' | b'-') if b.len() == at + 6 && expect(at + 3, b':') => {
            let (h, m) = (number(at + 1, 2)?, number(at + 4, 2)?);
            if h > 23 || m > 59 {
                return None;
            }
            let offset = h * 3600 + m * 60;
            if *sign == b'-' { -offset } else { offset }
        }
        _ => return None,
    };

    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    Some(i128::from(secs) * NANOS_PER_SECOND + nanos)
}

/// Formats a time as Go's `t.UTC().Format(time.RFC3339)`; unset is Go's zero time.
fn format_rfc3339(t: Option<i128>) -> String {
    let secs = match t {
        Some(nanos) => i64::try_from(nanos.div_euclid(NANOS_PER_SECOND)).unwrap_or(GO_ZERO_TIME_SECS),
        None => GO_ZERO_TIME_SECS,
    };
    let (days, secs_of_day) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", secs_of_day / 3600, secs_of_day / 60 % 60, secs_of_day % 60)
}

fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01 (inverse of [`days_from_civil`]).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// `duration.HumanDuration`: ~2-3 significant figures, e.g. `45s`, `5m30s`, `3h5m`,
/// `2d4h`, `10d`, `2y3d`. Up to two seconds in the future still reads `0s` (clock skew);
/// further is `<invalid>`.
pub(crate) fn human_duration(nanos: i128) -> String {
    // time.Duration is an int64 of nanoseconds; time.Since saturates.
    let d = i64::try_from(nanos).unwrap_or(if nanos < 0 { i64::MIN } else { i64::MAX });
    let seconds = d / 1_000_000_000;
    if seconds < -1 {
        return "<invalid>".to_string();
    }
    if seconds < 0 {
        return "0s".to_string();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        return match seconds % 60 {
            0 => format!("{minutes}m"),
            s => format!("{minutes}m{s}s"),
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        return match minutes % 60 {
            0 => format!("{hours}h"),
            m => format!("{hours}h{m}m"),
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        return match hours % 24 {
            0 => format!("{}d", hours / 24),
            h => format!("{}d{h}h", hours / 24),
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        return match (hours / 24) % 365 {
            0 => format!("{}y", hours / 24 / 365),
            days => format!("{}y{days}d", hours / 24 / 365),
        };
    }
    format!("{}y", hours / 24 / 365)
}

// ---------------------------------------------------------------------------------
// JSONPath for CRD printer columns (client-go util/jsonpath, the parts CRDs use)
// ---------------------------------------------------------------------------------

/// One step of a parsed path.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    /// `.name`: a key of an object.
    Field(String),
    /// `..`: the value and every container below it.
    Recursive,
    /// `.*`: every value of an object or element of a list.
    Wildcard,
    /// `[i]`, `[a:b]`, `[*]`: elements of a list; `single` marks an index (`[i]`).
    Slice { start: Option<i64>, end: Option<i64>, single: bool },
    /// `[?(@.a == "x")]`, `[?(@.a)]`: the list elements that pass.
    Filter(Box<Filter>),
}

#[derive(Debug, Clone, PartialEq)]
struct Filter {
    left: Vec<Step>,
    /// None is the existence test.
    compare: Option<(Op, Operand)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Path(Vec<Step>),
    Literal(Value),
}

/// Parses a CRD column's jsonPath (`.spec.replicas`, `.status.conditions[?(@.type=="Ready")].status`,
/// `.metadata.labels.app\.kubernetes\.io/name`, `.items[-1]`, `['key']`). None when it
/// is not a path this evaluator understands, which prints as an empty cell.
fn parse_json_path(path: &str) -> Option<Vec<Step>> {
    let chars: Vec<char> = path.trim().chars().collect();
    let mut steps = Vec::new();
    let mut at = 0;
    while at < chars.len() {
        match chars[at] {
            c if c.is_whitespace() => at += 1,
            '@' | '$' if at == 0 => at += 1,
            '.' if chars.get(at + 1) == Some(&'.') => {
                if steps.last() == Some(&Step::Recursive) {
                    return None;
                }
                steps.push(Step::Recursive);
                at += 2;
                if chars.get(at).is_some_and(|c| !is_terminator(*c)) {
                    at = parse_field(&chars, at, &mut steps)?;
                }
            }
            '.' => at = parse_field(&chars, at + 1, &mut steps)?,
            '[' => at = parse_bracket(&chars, at, &mut steps)?,
            _ => return None,
        }
    }
    Some(steps)
}

/// Where a field name ends (client-go's isTerminator).
fn is_terminator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '.' | ',' | '[' | ']' | '$' | '@' | '{' | '}')
}

/// A field name starting at `at`, `\` escaping the next character; returns where it ends.
fn parse_field(chars: &[char], mut at: usize, steps: &mut Vec<Step>) -> Option<usize> {
    let mut name = String::new();
    while let Some(&c) = chars.get(at) {
        if c == '\\' {
            name.push(*chars.get(at + 1)?);
            at += 2;
        } else if is_terminator(c) {
            break;
        } else {
            name.push(c);
            at += 1;
        }
    }
    match name.as_str() {
        "" => {}
        "*" => steps.push(Step::Wildcard),
        _ => steps.push(Step::Field(name)),
    }
    Some(at)
}

/// `[...]` at `at`: a filter, a quoted key, `*`, an index or a slice.
fn parse_bracket(chars: &[char], at: usize, steps: &mut Vec<Step>) -> Option<usize> {
    if chars.get(at + 1) == Some(&'?') && chars.get(at + 2) == Some(&'(') {
        return parse_filter(chars, at + 3, steps);
    }
    let close = at + chars[at..].iter().position(|&c| c == ']')?;
    let text: String = chars[at + 1..close].iter().collect();
    let text = text.trim();
    if let Some(key) = text.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')) {
        // client-go re-parses a quoted key as ".key", so dots still need escaping.
        if key.contains('\'') {
            return None;
        }
        let inner: Vec<char> = key.chars().collect();
        parse_field(&inner, 0, steps)?;
        return Some(close + 1);
    }
    if text == "*" {
        steps.push(Step::Slice { start: None, end: None, single: false });
        return Some(close + 1);
    }
    let parts: Vec<&str> = text.split(':').collect();
    if parts.len() > 3 || parts.is_empty() {
        return None;
    }
    let number = |s: &str| -> Option<Option<i64>> {
        let s = s.trim();
        if s.is_empty() { Some(None) } else { s.parse().ok().map(Some) }
    };
    let start = number(parts[0])?;
    let end = match parts.get(1) {
        Some(end) => number(end)?,
        None => None,
    };
    if let Some(step) = parts.get(2) {
        number(step)?;
    }
    let single = parts.len() == 1;
    if single && start.is_none() {
        return None;
    }
    steps.push(Step::Slice { start, end, single });
    Some(close + 1)
}

/// `[?(` … `)]`: the text up to the `)` outside quotes, then an operator split.
fn parse_filter(chars: &[char], start: usize, steps: &mut Vec<Step>) -> Option<usize> {
    let mut at = start;
    let mut quote: Option<char> = None;
    loop {
        let c = *chars.get(at)?;
        match (quote, c) {
            (Some(q), c) if c == q && chars.get(at.wrapping_sub(1)) != Some(&'\\') => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, ')') => break,
            _ => {}
        }
        at += 1;
    }
    if chars.get(at + 1) != Some(&']') {
        return None;
    }
    let text: String = chars[start..at].iter().collect();
    steps.push(Step::Filter(Box::new(parse_filter_expression(&text)?)));
    Some(at + 2)
}

fn parse_filter_expression(text: &str) -> Option<Filter> {
    // The first comparison operator outside quotes splits the expression.
    let chars: Vec<char> = text.chars().collect();
    let mut quote: Option<char> = None;
    let mut split = None;
    for (i, &c) in chars.iter().enumerate() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, '=' | '!' | '<' | '>') => {
                let two = chars.get(i + 1) == Some(&'=');
                let op = match (c, two) {
                    ('=', true) => Op::Eq,
                    ('!', true) => Op::Ne,
                    ('<', true) => Op::Le,
                    ('>', true) => Op::Ge,
                    ('<', false) => Op::Lt,
                    ('>', false) => Op::Gt,
                    _ => return None,
                };
                split = Some((i, if two { 2 } else { 1 }, op));
                break;
            }
            _ => {}
        }
    }
    let Some((at, len, op)) = split else {
        return Some(Filter { left: parse_json_path(text)?, compare: None });
    };
    let left: String = chars[..at].iter().collect();
    let right: String = chars[at + len..].iter().collect();
    Some(Filter { left: parse_json_path(&left)?, compare: Some((op, parse_operand(right.trim())?)) })
}

/// A filter's right side: a quoted string, a number, true/false, or a `@` path.
fn parse_operand(text: &str) -> Option<Operand> {
    for quote in ['"', '\''] {
        if let Some(inner) = text.strip_prefix(quote).and_then(|t| t.strip_suffix(quote))
            && text.len() >= 2
        {
            return Some(Operand::Literal(Value::from(inner.replace(&format!("\\{quote}"), &quote.to_string()))));
        }
    }
    match text {
        "true" => return Some(Operand::Literal(Value::Bool(true))),
        "false" => return Some(Operand::Literal(Value::Bool(false))),
        _ => {}
    }
    if let Ok(i) = text.parse::<i64>() {
        return Some(Operand::Literal(Value::from(i)));
    }
    if let Ok(f) = text.parse::<f64>()
        && f.is_finite()
    {
        return Some(Operand::Literal(Value::from(f)));
    }
    if text.starts_with('@') || text.starts_with('.') {
        return Some(Operand::Path(parse_json_path(text)?));
    }
    None
}

/// Evaluates a parsed path the way client-go does with AllowMissingKeys: missing keys
/// give no results, while a type error (indexing a non-list, comparing a string with a
/// number, a filter field missing on an element) fails the whole path.
fn eval_json_path<'a>(steps: &[Step], root: &'a Value) -> Result<Vec<&'a Value>, ()> {
    let mut current = vec![root];
    for step in steps {
        current = eval_step(step, current)?;
    }
    Ok(current)
}

fn eval_step<'a>(step: &Step, input: Vec<&'a Value>) -> Result<Vec<&'a Value>, ()> {
    let mut out = Vec::new();
    match step {
        Step::Field(name) => {
            for value in input {
                if let Some(found) = value.as_object().and_then(|m| m.get(name)) {
                    out.push(found);
                }
            }
        }
        Step::Wildcard => {
            for value in input {
                match value {
                    Value::Object(m) => out.extend(m.values()),
                    Value::Array(items) => out.extend(items),
                    _ => {}
                }
            }
        }
        Step::Recursive => {
            for value in input {
                collect_recursive(value, &mut out);
            }
        }
        Step::Slice { start, end, single } => {
            for value in input {
                if value.is_null() {
                    continue;
                }
                let items = value.as_array().ok_or(())?;
                out.extend(slice(items, *start, *end, *single)?);
            }
        }
        Step::Filter(filter) => {
            for value in input {
                let items = value.as_array().ok_or(())?;
                for item in items {
                    if filter_passes(filter, item)? {
                        out.push(item);
                    }
                }
            }
        }
    }
    Ok(out)
}

/// evalRecursive: every non-empty container, followed by what lies below it.
fn collect_recursive<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
    let children: Vec<&Value> = match value {
        Value::Object(m) => m.values().collect(),
        Value::Array(items) => items.iter().collect(),
        _ => Vec::new(),
    };
    if !children.is_empty() {
        out.push(value);
        for child in children {
            collect_recursive(child, out);
        }
    }
}

/// evalArray: negative bounds count from the end; out of range is an error.
fn slice(items: &[Value], start: Option<i64>, end: Option<i64>, single: bool) -> Result<&[Value], ()> {
    let len = i64::try_from(items.len()).map_err(|_| ())?;
    let mut from = start.unwrap_or(0);
    if from < 0 {
        from += len;
    }
    let mut to = if single { from + 1 } else { end.unwrap_or(len) };
    if !single && to < 0 {
        to += len;
    }
    if to != from && (from >= len || to > len) {
        return Err(());
    }
    let from = usize::try_from(from).map_err(|_| ())?;
    let to = usize::try_from(to).map_err(|_| ())?;
    items.get(from..to).ok_or(())
}

fn filter_passes(filter: &Filter, item: &Value) -> Result<bool, ()> {
    let lefts = eval_json_path(&filter.left, item);
    let Some((op, operand)) = &filter.compare else {
        return Ok(lefts.is_ok_and(|l| !l.is_empty()));
    };
    let lefts = lefts?;
    let [left] = lefts.as_slice() else {
        return Err(());
    };
    let right = match operand {
        Operand::Literal(v) => v,
        Operand::Path(path) => match eval_json_path(path, item)?.as_slice() {
            [right] => *right,
            _ => return Err(()),
        },
    };
    compare(*op, left, right)
}

/// text/template's comparisons: same basic kind only (integers, floats, strings, bools
/// for equality), anything else is an error.
fn compare(op: Op, left: &Value, right: &Value) -> Result<bool, ()> {
    use std::cmp::Ordering;
    let ordering = match (left, right) {
        (Value::String(a), Value::String(b)) => a.cmp(b),
        (Value::Bool(a), Value::Bool(b)) => match op {
            Op::Eq => return Ok(a == b),
            Op::Ne => return Ok(a != b),
            _ => return Err(()),
        },
        (Value::Number(a), Value::Number(b)) => match (a.is_f64(), b.is_f64()) {
            (false, false) => {
                let (a, b) = (a.as_i64().map(i128::from), b.as_i64().map(i128::from));
                let a = a.or_else(|| left.as_u64().map(i128::from)).ok_or(())?;
                let b = b.or_else(|| right.as_u64().map(i128::from)).ok_or(())?;
                a.cmp(&b)
            }
            (true, true) => {
                let (a, b) = (a.as_f64().ok_or(())?, b.as_f64().ok_or(())?);
                a.partial_cmp(&b).ok_or(())?
            }
            _ => return Err(()),
        },
        _ => return Err(()),
    };
    Ok(match op {
        Op::Eq => ordering == Ordering::Equal,
        Op::Ne => ordering != Ordering::Equal,
        Op::Lt => ordering == Ordering::Less,
        Op::Le => ordering != Ordering::Greater,
        Op::Gt => ordering == Ordering::Greater,
        Op::Ge => ordering != Ordering::Less,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// The fixed "now" every test renders against: 2025-06-01T12:00:00Z.
    const NOW: &str = "2025-06-01T12:00:00Z";

    fn now() -> SystemTime {
        let secs = parse_rfc3339(NOW).expect("valid") / NANOS_PER_SECOND;
        UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).expect("after 1970"))
    }

    /// The RFC 3339 time `secs` seconds before NOW.
    fn ago(secs: i64) -> String {
        let now = parse_rfc3339(NOW).expect("valid");
        format_rfc3339(Some(now - i128::from(secs) * NANOS_PER_SECOND))
    }

    fn table(group: &str, resource: &str, objects: &[Value]) -> Value {
        let refs: Vec<&Value> = objects.iter().collect();
        build(group, resource, &refs, None, RowObject::Metadata, json!({}), now())
    }

    /// The cells of the one row a single object renders to.
    fn row(group: &str, resource: &str, object: Value) -> Vec<Value> {
        let t = table(group, resource, &[object]);
        t["rows"][0]["cells"].as_array().expect("cells").clone()
    }

    fn column_names(t: &Value) -> Vec<&str> {
        t["columnDefinitions"].as_array().expect("columns").iter().map(|c| c["name"].as_str().expect("name")).collect()
    }

    // --- durations and timestamps ----------------------------------------------

    #[test]
    fn human_duration_matches_apimachinery() {
        let s = |secs: i64| human_duration(i128::from(secs) * NANOS_PER_SECOND);
        let (m, h, d) = (60, 3600, 86_400);
        let cases = [
            (0, "0s"),
            (45, "45s"),
            (119, "119s"),
            (2 * m, "2m"),
            (2 * m + 30, "2m30s"),
            (9 * m + 59, "9m59s"),
            (10 * m + 30, "10m"),
            (179 * m, "179m"),
            (3 * h, "3h"),
            (3 * h + 5 * m, "3h5m"),
            (7 * h + 59 * m, "7h59m"),
            (8 * h + 30 * m, "8h"),
            (47 * h, "47h"),
            (2 * d, "2d"),
            (2 * d + 4 * h, "2d4h"),
            (7 * d + 23 * h, "7d23h"),
            (8 * d + 5 * h, "8d"),
            (10 * d, "10d"),
            (729 * d, "729d"),
            (730 * d, "2y"),
            (733 * d, "2y3d"),
            (8 * 365 * d + 40 * d, "8y"),
            (-1, "0s"),
            (-2, "<invalid>"),
        ];
        for (secs, want) in cases {
            assert_eq!(s(secs), want, "{secs}s");
        }
        // 1.5s in the future truncates to -1s: still "0s" (clock skew tolerance).
        assert_eq!(human_duration(-1_500_000_000), "0s");
        assert_eq!(human_duration(i128::MAX), "292y");
    }

    #[test]
    fn rfc3339_parses_like_go() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2024-02-29T23:59:59.5Z"), Some(1_709_251_199 * NANOS_PER_SECOND + 500_000_000));
        assert_eq!(parse_rfc3339("2024-03-01T01:00:00+01:00"), parse_rfc3339("2024-03-01T00:00:00Z"));
        assert_eq!(parse_rfc3339("2024-03-01T00:00:00-02:30"), parse_rfc3339("2024-03-01T02:30:00Z"));
        assert_eq!(parse_rfc3339("2024-03-01T00:00:00.1234567891Z"), Some(1_709_251_200 * NANOS_PER_SECOND + 123_456_789));
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), Some(-NANOS_PER_SECOND));
        for bad in [
            "",
            "2024-02-30T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-01-01t00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:60Z",
            "2024-01-01T00:00:00",
            "2024-01-01T00:00:00z",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00Z ",
            "2024-01-01T00:00:00+0100",
            "2024-1-01T00:00:00Z",
            "24-01-01T00:00:00Z",
            "2024-01-01 00:00:00Z",
            "２024-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn rfc3339_formats_round_trip() {
        for s in
            ["1970-01-01T00:00:00Z", "2000-02-29T12:34:56Z", "2025-06-01T12:00:00Z", "1969-07-20T20:17:40Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"]
        {
            assert_eq!(format_rfc3339(parse_rfc3339(s)), s);
        }
        assert_eq!(format_rfc3339(None), "0001-01-01T00:00:00Z");
        // Go's zero time reads as unset.
        assert_eq!(nonzero(parse_rfc3339("0001-01-01T00:00:00Z").expect("valid")), None);
    }

    // --- the envelope -------------------------------------------------------------

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

    // --- pods ---------------------------------------------------------------------

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

    // --- workloads ----------------------------------------------------------------

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

    // --- services and networking --------------------------------------------------

    #[test]
    fn service_ports_and_addresses() {
        let svc = |spec: Value, status: Value| json!({"metadata": {"name": "svc", "creationTimestamp": ago(45)}, "spec": spec, "status": status});
        let cluster = svc(
            json!({"type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                   "ports": [{"port": 80, "protocol": "TCP"}, {"port": 443, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}],
                   "selector": {"app": "web", "tier": "front"}}),
            json!({}),
        );
        assert_eq!(
            row("", "services", cluster),
            vec![
                json!("svc"),
                json!("ClusterIP"),
                json!("10.96.0.10"),
                json!("<none>"),
                json!("80/TCP,443/TCP,53/UDP"),
                json!("45s"),
                json!("app=web,tier=front"),
            ]
        );

        let node_port = svc(
            json!({"type": "NodePort", "clusterIP": "10.96.1.1", "externalIPs": ["1.2.3.4"],
                   "ports": [{"port": 80, "nodePort": 30080}, {"port": 443, "nodePort": 30443, "protocol": "TCP"}]}),
            json!({}),
        );
        let cells = row("", "services", node_port);
        assert_eq!(cells[2..5], [json!("10.96.1.1"), json!("1.2.3.4"), json!("80:30080/TCP,443:30443/TCP")]);

        let pending = svc(json!({"type": "LoadBalancer", "clusterIPs": ["10.96.2.2"], "ports": [{"port": 80, "nodePort": 31000}]}), json!({}));
        assert_eq!(row("", "services", pending)[3], "<pending>");
        let ready = svc(
            json!({"type": "LoadBalancer", "externalIPs": ["9.9.9.9"]}),
            json!({"loadBalancer": {"ingress": [{"hostname": "lb.example.com"}, {"ip": "203.0.113.10"}, {"ip": "203.0.113.10"}]}}),
        );
        assert_eq!(row("", "services", ready)[3], "203.0.113.10,lb.example.com,9.9.9.9");

        let external = svc(json!({"type": "ExternalName", "externalName": "db.example.com"}), json!({}));
        let cells = row("", "services", external);
        assert_eq!(cells[2..5], [json!("<none>"), json!("db.example.com"), json!("<none>")]);

        let headless = svc(json!({"clusterIP": "None", "ports": [{"port": 5432}]}), json!({}));
        let cells = row("", "services", headless);
        assert_eq!(cells[1..5], [json!("ClusterIP"), json!("None"), json!("<none>"), json!("5432/TCP")]);
        assert_eq!(cells[6], "<none>");
    }

    #[test]
    fn endpoints_ingress_and_slices() {
        let ep = json!({"metadata": {"name": "web"}, "subsets": [
            {"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80}, {"port": 443}]},
            {"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]},
        ]});
        assert_eq!(row("", "endpoints", ep)[1], "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 2 more...");
        let headless = json!({"subsets": [{"addresses": [{"ip": "fd00::1"}]}]});
        assert_eq!(row("", "endpoints", headless)[1], "fd00::1");
        assert_eq!(row("", "endpoints", json!({}))[1], "<none>");

        let ing = json!({"metadata": {"name": "web"}, "spec": {"ingressClassName": "nginx", "tls": [{}],
            "rules": [{"host": "a.example.com"}, {"host": "b.example.com"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.5"}]}}});
        assert_eq!(
            row("networking.k8s.io", "ingresses", ing)[1..5],
            [json!("nginx"), json!("a.example.com,b.example.com"), json!("203.0.113.5"), json!("80, 443")]
        );
        let bare = row("networking.k8s.io", "ingresses", json!({"spec": {"rules": [{}]}}));
        assert_eq!(bare[1..5], [json!("<none>"), json!("*"), json!(""), json!("80")]);

        let hosts = |hosts: &[&str]| {
            let rules: Vec<Value> = hosts.iter().map(|h| json!({"host": h})).collect();
            row("networking.k8s.io", "ingresses", json!({"spec": {"rules": rules}}))[2].clone()
        };
        assert_eq!(hosts(&["a", "", "b", "c"]), "a,b,c");
        assert_eq!(hosts(&["a", "b", "c", "d", "e"]), "a,b,c + 2 more...");
        assert_eq!(hosts(&["a", "", "b", "c", ""]), "a,b,c + 2 more...");

        let slice = json!({"metadata": {"name": "web-abc"}, "addressType": "IPv4",
            "ports": [{"port": 80, "name": "http"}, {"name": "metrics"}, {}],
            "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2", "10.0.0.3", "10.0.0.4"]}]});
        let cells = row("discovery.k8s.io", "endpointslices", slice);
        assert_eq!(cells[1..4], [json!("IPv4"), json!("80,metrics,*"), json!("10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...")]);
        let empty = row("discovery.k8s.io", "endpointslices", json!({}));
        assert_eq!(empty[2..4], [json!("<unset>"), json!("<unset>")]);
    }

    // --- nodes, namespaces, events ------------------------------------------------

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

    // --- config, storage, rbac, policy ----------------------------------------------

    #[test]
    fn secret_and_config_map_show_counts_only() {
        let secret = json!({"metadata": {"name": "creds"}, "type": "kubernetes.io/basic-auth",
            "data": {"username": "YWRtaW4=", "password": "aHVudGVyMg=="}, "stringData": {"password": "hunter2", "token": "t0k3n"}});
        let t = table("", "secrets", &[secret]);
        assert_eq!(t["rows"][0]["cells"], json!(["creds", "kubernetes.io/basic-auth", 3, "<unknown>"]));
        let text = t["rows"][0].to_string();
        for value in ["YWRtaW4=", "aHVudGVyMg==", "hunter2", "t0k3n"] {
            assert!(!text.contains(value), "{value} leaked into {text}");
        }
        assert_eq!(row("", "secrets", json!({}))[1..3], [json!("Opaque"), json!(0)]);

        let cm = json!({"metadata": {"name": "cfg"}, "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}});
        assert_eq!(row("", "configmaps", cm)[1], 3);
        let sa = json!({"metadata": {"name": "default"}, "secrets": [{"name": "tok"}]});
        assert_eq!(row("", "serviceaccounts", sa)[1], 1);
    }

    #[test]
    fn volumes_and_storage_classes() {
        let pvc = json!({"metadata": {"name": "data"}, "spec": {"volumeName": "pv-1", "storageClassName": "standard",
            "resources": {"requests": {"storage": "1Gi"}}},
            "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce", "ReadOnlyMany"]}});
        let cells = row("", "persistentvolumeclaims", pvc);
        assert_eq!(cells[1..7], [json!("Bound"), json!("pv-1"), json!("1Gi"), json!("RWO,ROX"), json!("standard"), json!("<unset>")]);
        let pending = json!({"spec": {"storageClassName": "fast"}, "status": {"phase": "Pending"},
            "metadata": {"annotations": {"volume.beta.kubernetes.io/storage-class": "legacy"}}});
        let cells = row("", "persistentvolumeclaims", pending);
        assert_eq!(cells[1..6], [json!("Pending"), json!(""), json!(""), json!(""), json!("legacy")]);

        let pv = json!({"metadata": {"name": "pv-1"}, "spec": {"capacity": {"storage": "10Gi"},
            "accessModes": ["ReadWriteMany", "ReadWriteOncePod"], "persistentVolumeReclaimPolicy": "Retain",
            "claimRef": {"namespace": "default", "name": "data"}, "storageClassName": "standard", "volumeMode": "Filesystem"},
            "status": {"phase": "Bound"}});
        let cells = row("", "persistentvolumes", pv);
        assert_eq!(
            cells[1..9],
            [json!("10Gi"), json!("RWX,RWOP"), json!("Retain"), json!("Bound"), json!("default/data"), json!("standard"), json!("<unset>"), json!("")]
        );
        assert_eq!(cells[10], "Filesystem");

        // Capacity is a Quantity value: missing reads as 0.
        assert_eq!(row("", "persistentvolumes", json!({}))[1], "0");
        let bound = json!({"spec": {"volumeName": "pv-2"}, "status": {"phase": "Bound"}});
        assert_eq!(row("", "persistentvolumeclaims", bound)[3..5], [json!("0"), json!("")]);

        let sc = json!({"metadata": {"name": "standard", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "rancher.io/local-path", "volumeBindingMode": "WaitForFirstConsumer"});
        assert_eq!(
            row("storage.k8s.io", "storageclasses", sc)[..5],
            [json!("standard (default)"), json!("rancher.io/local-path"), json!("Delete"), json!("WaitForFirstConsumer"), json!(false)]
        );
    }

    #[test]
    fn rbac_pdb_hpa_lease_rows() {
        let rb = json!({"metadata": {"name": "admins"}, "roleRef": {"kind": "ClusterRole", "name": "admin"},
            "subjects": [{"kind": "User", "name": "alice"}, {"kind": "User", "name": "bob"},
                         {"kind": "Group", "name": "ops"}, {"kind": "ServiceAccount", "namespace": "ci", "name": "deployer"}]});
        let cells = row("rbac.authorization.k8s.io", "rolebindings", rb);
        assert_eq!(cells[1], "ClusterRole/admin");
        assert_eq!(cells[3..], [json!("alice, bob"), json!("ops"), json!("ci/deployer")]);

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

        let lease = json!({"metadata": {"name": "kube-scheduler"}, "spec": {"holderIdentity": "cp-1_abc"}});
        assert_eq!(row("coordination.k8s.io", "leases", lease)[1], "cp-1_abc");
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

    // --- custom resources -----------------------------------------------------------

    fn column(name: &str, type_: &str, json_path: &str) -> PrinterColumn {
        PrinterColumn { name: name.to_string(), type_: type_.to_string(), json_path: json_path.to_string(), ..PrinterColumn::default() }
    }

    fn crd_row(columns: &[PrinterColumn], object: &Value) -> Vec<Value> {
        let t = build("example.com", "widgets", &[object], Some(columns), RowObject::Metadata, json!({}), now());
        t["rows"][0]["cells"].as_array().expect("cells").clone()
    }

    #[test]
    fn crd_printer_columns() {
        let columns = vec![
            PrinterColumn {
                description: "Is it ready".to_string(),
                priority: 1,
                format: "int32".to_string(),
                ..column("Ready", "string", r#".status.conditions[?(@.type=="Ready")].status"#)
            },
            column("Reason", "string", ".status.conditions[?(@.type == 'Ready')].reason"),
            column("Replicas", "integer", ".spec.replicas"),
            column("Ratio", "number", ".spec.ratio"),
            column("Paused", "boolean", ".spec.paused"),
            column("Host", "string", ".spec.endpoints[0].host"),
            column("Last", "string", ".spec.endpoints[-1].host"),
            column("App", "string", r".metadata.labels.app\.kubernetes\.io/name"),
            column("Missing", "string", ".spec.nothing.here"),
            column("Ports", "string", ".spec.ports"),
            column("Age", "date", ".metadata.creationTimestamp"),
        ];
        let widget = json!({
            "apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"name": "w1", "creationTimestamp": ago(7200), "labels": {"app.kubernetes.io/name": "shop"}},
            "spec": {"replicas": 3.9, "ratio": 2, "paused": true, "ports": [80, 443],
                     "endpoints": [{"host": "a"}, {"host": "b"}]},
            "status": {"conditions": [
                {"type": "Synced", "status": "True"},
                {"type": "Ready", "status": "False", "reason": "Degraded"},
            ]},
        });
        let t = build("example.com", "widgets", &[&widget], Some(&columns), RowObject::Object, json!({}), now());
        assert_eq!(t["columnDefinitions"][1], json!({"name": "Ready", "type": "string", "format": "int32", "description": "Is it ready", "priority": 1}));
        assert_eq!(
            t["columnDefinitions"][2]["description"],
            "Custom resource definition column (in JSONPath format): .status.conditions[?(@.type == 'Ready')].reason"
        );
        assert_eq!(t["rows"][0]["object"], widget);
        assert_eq!(t["rows"][0]["cells"], json!(["w1", "False", "Degraded", 3, 2, true, "a", "b", "shop", null, "[80,443]", "120m"]));
    }

    #[test]
    fn crd_without_columns_shows_name_and_age() {
        let t = build(
            "example.com",
            "widgets",
            &[&json!({"metadata": {"name": "w", "creationTimestamp": ago(50)}})],
            Some(&[]),
            RowObject::Metadata,
            json!({}),
            now(),
        );
        assert_eq!(column_names(&t), ["Name", "Age"]);
        assert_eq!(t["columnDefinitions"][1]["type"], "date");
        assert_eq!(t["rows"][0]["cells"], json!(["w", "50s"]));
    }

    #[test]
    fn crd_cells_by_type() {
        let object = json!({"spec": {"s": "x", "n": 7, "f": 1.5, "big": 1e21, "tiny": 0.00001, "b": false,
            "null": null, "obj": {"b": "<x>", "a": 1}, "when": "not a date", "empty": "", "future": ago(-3600)}});
        let cell = |type_: &str, path: &str| crd_row(&[column("C", type_, path)], &object)[1].clone();
        assert_eq!(cell("string", ".spec.n"), "7");
        assert_eq!(cell("string", ".spec.f"), "1.5");
        assert_eq!(cell("string", ".spec.big"), "1e+21");
        assert_eq!(cell("string", ".spec.tiny"), "1e-05");
        assert_eq!(cell("string", ".spec.b"), "false");
        assert_eq!(cell("string", ".spec.null"), "<no value>");
        assert_eq!(cell("string", ".spec.obj"), r#"{"a":1,"b":"\u003cx\u003e"}"#);
        assert_eq!(cell("integer", ".spec.s"), Value::Null);
        assert_eq!(cell("integer", ".spec.f"), 1);
        assert_eq!(cell("number", ".spec.f"), 1.5);
        assert_eq!(cell("number", ".spec.n"), 7);
        assert_eq!(cell("boolean", ".spec.b"), false);
        assert_eq!(cell("boolean", ".spec.s"), Value::Null);
        assert_eq!(cell("date", ".spec.when"), "<invalid>");
        assert_eq!(cell("date", ".spec.empty"), "<unknown>");
        assert_eq!(cell("date", ".spec.future"), "<invalid>");
        assert_eq!(cell("date", ".spec.n"), Value::Null);
        assert_eq!(cell("unknown-type", ".spec.s"), Value::Null);
        // Not a path this evaluator (or client-go) accepts.
        assert_eq!(cell("string", "spec.s"), Value::Null);
        assert_eq!(cell("string", ".spec[\"s\"]"), Value::Null);
    }

    #[test]
    fn jsonpath_evaluation() {
        let doc = json!({
            "a": {"b.c": 1, "list": [{"k": "x", "v": 1}, {"k": "y", "v": 2}, {"k": "z", "v": 3}]},
            "mixed": [{"k": "x"}, {"other": 1}],
        });
        let eval = |path: &str| -> Result<Vec<Value>, ()> {
            let steps = parse_json_path(path).ok_or(())?;
            Ok(eval_json_path(&steps, &doc)?.into_iter().cloned().collect())
        };
        assert_eq!(eval(r".a.b\.c"), Ok(vec![json!(1)]));
        assert_eq!(eval(r".a['b\.c']"), Ok(vec![json!(1)]));
        assert_eq!(eval(".a.list[*].k"), Ok(vec![json!("x"), json!("y"), json!("z")]));
        assert_eq!(eval(".a.list[1:].v"), Ok(vec![json!(2), json!(3)]));
        assert_eq!(eval(".a.list[-2].k"), Ok(vec![json!("y")]));
        assert_eq!(eval(".a.list[?(@.v > 1)].k"), Ok(vec![json!("y"), json!("z")]));
        assert_eq!(eval(".a.list[?(@.v != 2)].k"), Ok(vec![json!("x"), json!("z")]));
        assert_eq!(eval(".a.list[?(@.k)].v"), Ok(vec![json!(1), json!(2), json!(3)]));
        assert_eq!(eval("..k"), Ok(vec![json!("x"), json!("y"), json!("z"), json!("x")]));
        assert_eq!(eval(".nothing[0]"), Ok(vec![]));
        // Errors, as in client-go: out of range, indexing an object, comparing across
        // types, a filter field missing on one element.
        assert_eq!(eval(".a.list[3]"), Err(()));
        assert_eq!(eval(".a[0]"), Err(()));
        assert_eq!(eval(".a.list[?(@.v == 1.0)]"), Err(()));
        assert_eq!(eval(".a.list[?(@.k > 1)]"), Err(()));
        assert_eq!(eval(".mixed[?(@.k == 'x')]"), Err(()));
        assert_eq!(eval(".a.list[?(@.k == 'x')"), Err(()));
    }

    #[test]
    fn go_float_formatting() {
        let cases = [
            (0.0, "0"),
            (1.0, "1"),
            (1.5, "1.5"),
            (-2.25, "-2.25"),
            (123_456.0, "123456"),
            (1_000_000.0, "1e+06"),
            (1_234_567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.000_012_5, "1.25e-05"),
            (1e21, "1e+21"),
        ];
        for (f, want) in cases {
            assert_eq!(go_float(f), want, "{f}");
        }
    }

    // --- robustness -----------------------------------------------------------------

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
