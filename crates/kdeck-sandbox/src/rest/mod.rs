//! The generic REST logic of the API server: create, read, list, update, patch and
//! delete over the store, with defaulting, validation, optimistic concurrency,
//! generation bookkeeping, finalizers and subresources.
//!
//! The HTTP layer and the controllers both call this, so a controller's write goes
//! through the same rules as a client's.

pub mod apply;
pub mod defaults;
mod delete;
pub mod error;
pub mod events;
mod list;
pub mod patch;
pub mod selector;
pub mod status;
pub mod strategy;
pub mod types;
pub mod validate;

use std::sync::Arc;

use serde_json::{Value, json};

pub use delete::Deletion;
pub use error::{ApiError, Cause};
pub use list::{ListQuery, Listing};

use crate::resources::{Catalogue, ResourceInfo};
use crate::store::{Entry, ObjectName, Store, StoreError};
use crate::time;

/// How many times a read-modify-write retries when another writer got in between.
const UPDATE_RETRIES: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subresource {
    Main,
    Status,
    Scale,
}

#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    pub dry_run: bool,
    pub field_manager: Option<String>,
    pub force: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Propagation {
    #[default]
    Background,
    Foreground,
    Orphan,
}

#[derive(Clone, Debug, Default)]
pub struct DeleteOptions {
    pub dry_run: bool,
    pub propagation: Propagation,
    pub precondition_uid: Option<String>,
    pub precondition_rv: Option<String>,
    /// `gracePeriodSeconds`: for pods, how long the kubelet may take; 0 deletes at once.
    pub grace_period: Option<i64>,
}

#[derive(Clone)]
pub struct Rest {
    pub store: Arc<Store>,
    pub catalogue: Catalogue,
}

fn name_of(obj: &Value) -> &str {
    obj["metadata"]["name"].as_str().unwrap_or_default()
}

impl Rest {
    pub fn new(store: Arc<Store>, catalogue: Catalogue) -> Self {
        Rest { store, catalogue }
    }

    fn key_name(info: &ResourceInfo, ns: Option<&str>, name: &str) -> ObjectName {
        (if info.namespaced { ns.unwrap_or_default().to_string() } else { String::new() }, name.to_string())
    }

    pub fn get_entry(&self, info: &ResourceInfo, ns: Option<&str>, name: &str) -> Result<Entry, ApiError> {
        self.store.get(&info.key(), &Self::key_name(info, ns, name)).ok_or_else(|| ApiError::not_found(info, name))
    }

    pub fn get(&self, info: &ResourceInfo, ns: Option<&str>, name: &str) -> Result<Value, ApiError> {
        let mut obj = self.get_entry(info, ns, name)?.value();
        present(info, &mut obj);
        Ok(obj)
    }

    /// Creates an object. `ns` is the namespace of the URL.
    pub fn create(&self, info: &ResourceInfo, ns: Option<&str>, mut obj: Value, opts: &WriteOptions) -> Result<Value, ApiError> {
        check_type(info, &mut obj)?;
        types::check(info, &obj)?;
        check_namespace(info, ns, &mut obj)?;
        let meta = obj["metadata"].as_object_mut().ok_or_else(|| ApiError::bad_request("metadata must be an object"))?;
        if meta.get("resourceVersion").and_then(Value::as_str).is_some_and(|rv| !rv.is_empty()) {
            return Err(ApiError::bad_request("resourceVersion should not be set on objects to be created"));
        }
        // What admission names an object by: its name is not generated yet then.
        let requested_name = [meta.get("name"), meta.get("generateName")].into_iter().flatten().filter_map(Value::as_str).find(|n| !n.is_empty());
        let requested_name = requested_name.unwrap_or_default().to_string();
        if meta.get("name").and_then(Value::as_str).unwrap_or_default().is_empty()
            && let Some(prefix) = meta.get("generateName").and_then(Value::as_str).filter(|p| !p.is_empty())
        {
            let name = format!("{prefix}{}", random_suffix());
            meta.insert("name".into(), Value::String(name));
        }
        for server_owned in ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "selfLink"] {
            meta.remove(server_owned);
        }
        if info.has_subresource("status") && !matches!(info.plural.as_str(), "customresourcedefinitions") {
            obj.as_object_mut().map(|o| o.remove("status"));
        }
        strategy::convert_in(info, &mut obj);
        defaults::apply(info, &mut obj);
        strategy::prepare_for_create(info, &mut obj);
        self.namespace_accepts_content(info, &obj)?;
        crate::serviceaccount::admission::admit(self, info, &requested_name, &mut obj)?;
        let mut causes = validate::validate(info, &obj, None);
        if info.group.is_empty() && info.plural == "services" {
            causes.extend(crate::network::nodeports::assign(&self.store, &mut obj, None));
        }
        if info.group == "networking.k8s.io" && info.plural == "ingresses" {
            crate::network::ingress::admit(&self.store, &mut obj);
        }
        if !causes.is_empty() {
            return Err(ApiError::invalid(&info.kind, &info.group, name_of(&obj), causes));
        }
        let meta = &mut obj["metadata"];
        meta["uid"] = json!(new_uid());
        meta["creationTimestamp"] = json!(time::now());
        if obj.get("spec").is_some() || info.is_custom() {
            obj["metadata"]["generation"] = json!(1);
        }
        self.allocate(info, &mut obj);
        if let Some(manager) = &opts.field_manager {
            apply::record_update(&mut obj, manager, &info.api_version());
        }
        if opts.dry_run {
            return Ok(obj);
        }
        let name = name_of(&obj).to_string();
        let entry = self.store.create(&info.key(), obj).map_err(|e| store_error(e, info, &name))?;
        let mut out = entry.value();
        present(info, &mut out);
        Ok(out)
    }

    /// Replaces an object (PUT), or its status or scale.
    pub fn update(&self, info: &ResourceInfo, ns: Option<&str>, name: &str, body: Value, sub: Subresource, opts: &WriteOptions) -> Result<Value, ApiError> {
        let body_rv = body["metadata"]["resourceVersion"].as_str().filter(|s| !s.is_empty()).map(str::to_string);
        if sub != Subresource::Scale {
            let body_name = name_of(&body);
            if !body_name.is_empty() && body_name != name {
                return Err(ApiError::bad_request(format!("the name of the object ({body_name}) does not match the name on the URL ({name})")));
            }
        }
        self.read_modify_write(info, ns, name, opts, |current| {
            if let Some(rv) = &body_rv
                && current["metadata"]["resourceVersion"].as_str() != Some(rv.as_str())
            {
                return Err(ApiError::conflict(info, name));
            }
            let mut body = body.clone();
            match sub {
                Subresource::Scale => scale::apply(info, current, &body),
                Subresource::Status => {
                    let mut next = current.clone();
                    carry_status(&body, &mut next);
                    Ok(next)
                }
                Subresource::Main => {
                    check_type(info, &mut body)?;
                    if info.has_subresource("status") {
                        carry_status(current, &mut body);
                    }
                    Ok(body)
                }
            }
        })
    }

    /// Applies a patch (any of the four types) to an object or one of its subresources.
    /// Returns the object and whether it was created (server-side apply of a new object).
    pub fn patch(
        &self,
        info: &ResourceInfo,
        ns: Option<&str>,
        name: &str,
        request: patch::PatchRequest,
        sub: Subresource,
        opts: &WriteOptions,
    ) -> Result<(Value, bool), ApiError> {
        let kind = request.kind;
        let patch = patch::parse(kind, request.body)?;
        if kind == patch::PatchKind::Apply {
            if opts.field_manager.as_deref().unwrap_or_default().is_empty() {
                return Err(ApiError::bad_request("PATCH, fieldManager: Required value: is required for apply patch"));
            }
            if sub == Subresource::Main && self.store.get(&info.key(), &Self::key_name(info, ns, name)).is_none() {
                let mut obj = patch.clone();
                if name_of(&obj).is_empty() {
                    obj["metadata"]["name"] = json!(name);
                } else if name_of(&obj) != name {
                    return Err(ApiError::bad_request(format!("the name of the object ({}) does not match the name on the URL ({name})", name_of(&obj))));
                }
                apply::record_apply(&mut obj, &patch, opts.field_manager.as_deref().unwrap_or_default(), &info.api_version());
                let create_opts = WriteOptions { field_manager: None, ..opts.clone() };
                return self.create(info, ns, obj, &create_opts).map(|o| (o, true));
            }
        }
        // An apply records its own managedFields entry; no Update entry besides it.
        let write_opts = if kind == patch::PatchKind::Apply { WriteOptions { field_manager: None, ..opts.clone() } } else { opts.clone() };
        let updated = self.read_modify_write(info, ns, name, &write_opts, |current| {
            let mut target = match sub {
                Subresource::Scale => scale::of(info, current)?,
                _ => current.clone(),
            };
            let before_rv = target["metadata"]["resourceVersion"].clone();
            patch::apply(info, kind, &mut target, &patch, opts)?;
            if target["metadata"]["resourceVersion"] != before_rv && !target["metadata"]["resourceVersion"].is_null() {
                return Err(ApiError::conflict(info, name));
            }
            match sub {
                Subresource::Scale => scale::apply(info, current, &target),
                Subresource::Status => {
                    let mut next = current.clone();
                    carry_status(&target, &mut next);
                    Ok(next)
                }
                Subresource::Main => {
                    if info.has_subresource("status") {
                        carry_status(current, &mut target);
                    }
                    Ok(target)
                }
            }
        })?;
        Ok((updated, false))
    }

    /// Reads the object, lets `change` compute the next version, validates and stores it,
    /// retrying when another writer changed it in between.
    fn read_modify_write(
        &self,
        info: &ResourceInfo,
        ns: Option<&str>,
        name: &str,
        opts: &WriteOptions,
        change: impl Fn(&Value) -> Result<Value, ApiError>,
    ) -> Result<Value, ApiError> {
        for _ in 0..UPDATE_RETRIES {
            let entry = self.get_entry(info, ns, name)?;
            let current = entry.value();
            let mut next = change(&current)?;
            self.finish_update(info, &current, &mut next, opts)?;
            if opts.dry_run {
                return Ok(next);
            }
            if unchanged(&current, &next) {
                return Ok(current);
            }
            let result = if is_finalized(&current, &next) {
                self.store.delete(&info.key(), &entry_key(&entry), Some(entry.index.rv))
            } else {
                self.store.update(&info.key(), next, Some(entry.index.rv))
            };
            if let Some(done) = settle(result, info, name) {
                return done;
            }
        }
        Err(ApiError::conflict(info, name))
    }

    /// Keeps server-owned metadata, defaults, validates and bumps generation.
    fn finish_update(&self, info: &ResourceInfo, current: &Value, next: &mut Value, opts: &WriteOptions) -> Result<(), ApiError> {
        if !next["metadata"].is_object() {
            return Err(ApiError::bad_request("metadata must be an object"));
        }
        types::check(info, next)?;
        for kept in ["name", "namespace", "uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "resourceVersion"] {
            match current["metadata"].get(kept) {
                Some(v) => next["metadata"][kept] = v.clone(),
                None => {
                    next["metadata"].as_object_mut().map(|m| m.remove(kept));
                }
            }
        }
        if current["metadata"]["deletionTimestamp"].is_string() {
            let old: Vec<&Value> = current["metadata"]["finalizers"].as_array().map(|a| a.iter().collect()).unwrap_or_default();
            let added = next["metadata"]["finalizers"].as_array().into_iter().flatten().any(|f| !old.contains(&f));
            if added {
                return Err(ApiError::invalid(
                    &info.kind,
                    &info.group,
                    name_of(current),
                    vec![Cause::forbidden("metadata.finalizers", "no new finalizers can be added if the object is being deleted")],
                ));
            }
        }
        strategy::convert_in(info, next);
        defaults::apply(info, next);
        let mut causes = validate::validate(info, next, Some(current));
        if info.group.is_empty() && info.plural == "services" {
            causes.extend(crate::network::nodeports::assign(&self.store, next, Some(current)));
        }
        if !causes.is_empty() {
            return Err(ApiError::invalid(&info.kind, &info.group, name_of(current), causes));
        }
        if spec_changed(current, next) {
            let generation = current["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
            next["metadata"]["generation"] = json!(generation);
        }
        if let Some(manager) = opts.field_manager.as_deref().filter(|m| !m.is_empty()) {
            apply::record_update(next, manager, &info.api_version());
        }
        to_storage_version(info, next);
        Ok(())
    }

    /// Namespaced objects need a live namespace to be created in.
    fn namespace_accepts_content(&self, info: &ResourceInfo, obj: &Value) -> Result<(), ApiError> {
        if !info.namespaced {
            return Ok(());
        }
        let ns = obj["metadata"]["namespace"].as_str().unwrap_or_default();
        let key = crate::resources::ResourceKey::new("", "namespaces");
        match self.store.get(&key, &(String::new(), ns.to_string())) {
            None => Err(ApiError {
                details: Some(json!({"name": ns, "kind": "namespaces"})),
                ..ApiError::new(404, "NotFound", format!("namespaces \"{ns}\" not found"))
            }),
            Some(e) if e.index.field("status.phase") == Some("Terminating") => Err(ApiError {
                details: Some(json!({"name": name_of(obj), "group": info.group, "kind": info.plural})),
                ..ApiError::forbidden(format!(
                    "{} \"{}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                    info.key().qualified(),
                    name_of(obj)
                ))
            }),
            Some(_) => Ok(()),
        }
    }

    /// Fields the server assigns on create: a Service's cluster IP, a CRD's status.
    fn allocate(&self, info: &ResourceInfo, obj: &mut Value) {
        match (info.group.as_str(), info.plural.as_str()) {
            ("", "services") => {
                let spec = &mut obj["spec"];
                if spec["type"] == "ExternalName" || spec["clusterIP"].as_str().is_some_and(|ip| !ip.is_empty()) {
                    if let Some(ip) = spec["clusterIP"].as_str() {
                        spec["clusterIPs"] = json!([ip]);
                    }
                    return;
                }
                let ip = self.free_cluster_ip();
                spec["clusterIP"] = json!(ip);
                spec["clusterIPs"] = json!([ip]);
                obj["status"] = json!({"loadBalancer": {}});
            }
            // As the real server: a Job without a selector selects its own pods by uid.
            ("batch", "jobs") if obj["spec"]["selector"].is_null() => {
                let uid = obj["metadata"]["uid"].clone();
                let name = obj["metadata"]["name"].clone();
                obj["spec"]["selector"] = json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}});
                let labels = &mut obj["spec"]["template"]["metadata"]["labels"];
                for (k, v) in
                    [("batch.kubernetes.io/controller-uid", &uid), ("controller-uid", &uid), ("batch.kubernetes.io/job-name", &name), ("job-name", &name)]
                {
                    labels[k] = v.clone();
                }
            }
            // The DefaultStorageClass admission plugin's job.
            ("", "persistentvolumeclaims") if obj["spec"]["storageClassName"].is_null() => {
                if let Some(class) = crate::controllers::volumes::default_class(self) {
                    obj["spec"]["storageClassName"] = json!(class);
                }
            }
            ("apiextensions.k8s.io", "customresourcedefinitions") => {
                let names = obj["spec"]["names"].clone();
                let now = time::now();
                let versions: Vec<Value> =
                    obj["spec"]["versions"].as_array().into_iter().flatten().filter(|v| v["storage"] == true).map(|v| v["name"].clone()).collect();
                obj["status"] = json!({
                    "acceptedNames": names,
                    "conditions": [
                        {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now},
                        {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": now},
                    ],
                    "storedVersions": versions,
                });
            }
            _ => {}
        }
    }

    fn free_cluster_ip(&self) -> String {
        let key = crate::resources::ResourceKey::new("", "services");
        let (services, _) = self.store.list(&key, None, None, |_| true);
        let used: std::collections::HashSet<String> = services.iter().filter_map(|e| e.value()["spec"]["clusterIP"].as_str().map(str::to_string)).collect();
        (1u32..65_000).map(|n| format!("10.96.{}.{}", n / 254, n % 254 + 1)).find(|ip| !used.contains(ip)).unwrap_or_else(|| "10.96.255.254".into())
    }
}

mod scale {
    //! The scale subresource: an autoscaling/v1 Scale view of spec.replicas.
    use super::*;

    fn paths(info: &ResourceInfo) -> (String, String, Option<String>) {
        match &info.custom {
            Some(c) => c.scale_paths.clone().unwrap_or((".spec.replicas".into(), ".status.replicas".into(), None)),
            None => (".spec.replicas".into(), ".status.replicas".into(), Some(".spec.selector".into())),
        }
    }

    fn at<'a>(obj: &'a Value, path: &str) -> &'a Value {
        path.trim_start_matches('.').split('.').fold(obj, |v, p| &v[p])
    }

    pub fn of(info: &ResourceInfo, obj: &Value) -> Result<Value, ApiError> {
        let (spec_path, status_path, selector_path) = paths(info);
        let selector = selector_path.map(|p| at(obj, &p).clone()).unwrap_or(Value::Null);
        let selector_text = match &selector {
            Value::String(s) => s.clone(),
            Value::Object(_) => selector["matchLabels"]
                .as_object()
                .map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect::<Vec<_>>().join(","))
                .unwrap_or_default(),
            _ => String::new(),
        };
        let meta = &obj["metadata"];
        Ok(json!({
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"], "resourceVersion": meta["resourceVersion"], "creationTimestamp": meta["creationTimestamp"]},
            "spec": {"replicas": at(obj, &spec_path).as_i64().unwrap_or(0)},
            "status": {"replicas": at(obj, &status_path).as_i64().unwrap_or(0), "selector": selector_text},
        }))
    }

    pub fn apply(info: &ResourceInfo, current: &Value, scale: &Value) -> Result<Value, ApiError> {
        let replicas = scale["spec"]["replicas"]
            .as_i64()
            .ok_or_else(|| ApiError::invalid("Scale", "autoscaling", name_of(current), vec![Cause::required("spec.replicas")]))?;
        if replicas < 0 {
            return Err(ApiError::invalid(
                "Scale",
                "autoscaling",
                name_of(current),
                vec![Cause::invalid("spec.replicas", &replicas.to_string(), "must be greater than or equal to 0")],
            ));
        }
        let (spec_path, _, _) = paths(info);
        let mut next = current.clone();
        let mut target = &mut next;
        for part in spec_path.trim_start_matches('.').split('.') {
            if !target[part].is_object() && !target[part].is_number() {
                target[part] = json!({});
            }
            target = &mut target[part];
        }
        *target = json!(replicas);
        Ok(next)
    }
}

pub use scale::of as scale_of;

fn entry_name(e: &Entry) -> String {
    e.index.name.clone()
}

fn entry_key(e: &Entry) -> ObjectName {
    (e.index.namespace.clone(), entry_name(e))
}

fn current_is_marked(e: &Entry) -> bool {
    e.value()["metadata"]["deletionTimestamp"].is_string()
}

/// An object marked for deletion whose last finalizer this update removed goes away.
/// (A terminating pod without finalizers is deleted by its kubelet instead.)
fn is_finalized(current: &Value, next: &Value) -> bool {
    let has_finalizers = |o: &Value| o["metadata"]["finalizers"].as_array().is_some_and(|f| !f.is_empty());
    next["metadata"]["deletionTimestamp"].is_string() && has_finalizers(current) && !has_finalizers(next) && next["kind"] != "Namespace"
}

/// Makes `to`'s status that of `from`, absent when `from` has none.
fn carry_status(from: &Value, to: &mut Value) {
    if let Some(obj) = to.as_object_mut() {
        match from.get("status") {
            Some(status) if !status.is_null() => obj.insert("status".into(), status.clone()),
            _ => obj.remove("status"),
        };
    }
}

/// Equal apart from managedFields timestamps: a write that changes nothing else is a
/// no-op and keeps its resourceVersion, as on a real server.
fn unchanged(current: &Value, next: &Value) -> bool {
    let without_times = |v: &Value| {
        let mut v = v.clone();
        if let Some(entries) = v["metadata"].get_mut("managedFields").and_then(Value::as_array_mut) {
            for e in entries {
                e.as_object_mut().map(|m| m.remove("time"));
            }
        }
        v
    };
    current == next || without_times(current) == without_times(next)
}

fn spec_changed(old: &Value, new: &Value) -> bool {
    let strip = |v: &Value| -> Value {
        let mut v = v.clone();
        if let Some(m) = v.as_object_mut() {
            m.remove("metadata");
            m.remove("status");
        }
        v
    };
    old["metadata"]["generation"].is_number() && strip(old) != strip(new)
}

/// Checks (or fills in) apiVersion and kind against the URL's resource.
fn check_type(info: &ResourceInfo, obj: &mut Value) -> Result<(), ApiError> {
    if !obj.is_object() {
        return Err(ApiError::bad_request("the request body must be a JSON or YAML object"));
    }
    let expected = info.api_version();
    match obj["apiVersion"].as_str() {
        None | Some("") => obj["apiVersion"] = json!(expected),
        Some(v) if v != expected => {
            return Err(ApiError::bad_request(format!("the API version in the data ({v}) does not match the expected API version ({expected})")));
        }
        Some(_) => {}
    }
    match obj["kind"].as_str() {
        None | Some("") => obj["kind"] = json!(info.kind),
        Some(k) if k != info.kind => return Err(ApiError::bad_request(format!("the kind in the data ({k}) does not match the expected kind ({})", info.kind))),
        Some(_) => {}
    }
    if !obj["metadata"].is_object() {
        obj["metadata"] = json!({});
    }
    to_storage_version(info, obj);
    Ok(())
}

fn check_namespace(info: &ResourceInfo, url_ns: Option<&str>, obj: &mut Value) -> Result<(), ApiError> {
    let meta = &mut obj["metadata"];
    if !info.namespaced {
        meta.as_object_mut().map(|m| m.remove("namespace"));
        return Ok(());
    }
    let url_ns = url_ns.unwrap_or_default();
    match meta["namespace"].as_str() {
        None | Some("") => meta["namespace"] = json!(url_ns),
        Some(ns) if ns != url_ns => return Err(ApiError::bad_request("the namespace of the provided object does not match the namespace sent on the request")),
        Some(_) => {}
    }
    Ok(())
}

pub(crate) fn needs_conversion(info: &ResourceInfo) -> bool {
    info.custom.as_ref().is_some_and(|c| c.storage_version != info.version) || events::is_events_api(info)
}

/// Custom resources are stored in their storage version and served in the requested
/// one; versions share one schema here, so conversion is a relabel (strategy None).
/// `events.k8s.io` Events are core Events converted ([`events`]).
pub(crate) fn present(info: &ResourceInfo, obj: &mut Value) {
    if events::is_events_api(info) {
        events::from_core(obj);
    } else if needs_conversion(info) {
        obj["apiVersion"] = json!(info.api_version());
    }
}

fn to_storage_version(info: &ResourceInfo, obj: &mut Value) {
    if let Some(c) = &info.custom {
        obj["apiVersion"] = json!(format!("{}/{}", info.group, c.storage_version));
    }
    if events::is_events_api(info) {
        events::to_core(obj);
    }
}

/// The outcome of one optimistic write: `None` when another writer got in first
/// and the caller should read again, else the stored object as clients see it.
fn settle(result: Result<Entry, StoreError>, info: &ResourceInfo, name: &str) -> Option<Result<Value, ApiError>> {
    match result {
        Err(StoreError::Conflict) => None,
        other => Some(other.map_err(|e| store_error(e, info, name)).map(|entry| {
            let mut out = entry.value();
            present(info, &mut out);
            out
        })),
    }
}

fn store_error(e: StoreError, info: &ResourceInfo, name: &str) -> ApiError {
    match e {
        StoreError::AlreadyExists => ApiError::already_exists(info, name),
        StoreError::NotFound => ApiError::not_found(info, name),
        StoreError::Conflict => ApiError::conflict(info, name),
        StoreError::Expired { requested, oldest } => ApiError::expired(format!("too old resource version: {requested} ({oldest})")),
        StoreError::TooNew { requested, current } => ApiError::internal(format!("too large resource version: {requested}, current: {current}")),
    }
}

pub fn new_uid() -> String {
    let b: [u8; 16] = rand::random();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        u16::from_be_bytes([b[4], b[5]]),
        u16::from_be_bytes([b[6], b[7]]) & 0x0fff,
        (u16::from_be_bytes([b[8], b[9]]) & 0x3fff) | 0x8000,
        u64::from_be_bytes([0, 0, b[10], b[11], b[12], b[13], b[14], b[15]])
    )
}

/// The 5 characters generateName appends (no vowels, as the real server does).
pub(crate) fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..5).map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char).collect()
}
