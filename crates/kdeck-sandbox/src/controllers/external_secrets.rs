//! The External Secrets Operator, simulated: SecretStores and ClusterSecretStores
//! with the ESO `fake` provider (a key/value map in the store's spec), and
//! ExternalSecrets that sync that data into Secrets.
//!
//! Follows the real controller's rules: a target Secret is (re)written when the
//! ExternalSecret's generation, labels or annotations change (`syncedResourceVersion`,
//! the `force-sync` annotation convention), when `refreshInterval` has elapsed
//! (`refreshPolicy: Periodic`, the default; `0` syncs only once), when the Secret is
//! missing or its data no longer matches the `reconcile.external-secrets.io/data-hash`
//! annotation. `CreatedOnce` syncs once, `OnChange` on spec or metadata changes only.
//! Hashes are the same MD5s of Go's `%+v` formatting the real controller writes.
//!
//! Nothing happens while the External Secrets CRDs are not installed.

use std::collections::{BTreeMap, HashMap};
use std::sync::{LazyLock, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use serde_json::{Map, Value, json};

use super::events::{self, Source};
use super::objects::{self, name, namespace};
use super::runtime::{Controller, ObjectRef};
use crate::resources::{ResourceInfo, ResourceKey};
use crate::rest::selector::LabelSelector;
use crate::rest::{DeleteOptions, Rest, Subresource, WriteOptions};
use crate::store::{Change, EventType};
use crate::time;

const SOURCE: Source = Source { component: "external-secrets", host: None };
const GROUP: &str = "external-secrets.io";
const VERSION: &str = "v1";

const LABEL_MANAGED: &str = "reconcile.external-secrets.io/managed";
const LABEL_OWNER: &str = "reconcile.external-secrets.io/created-by";
const ANNOTATION_DATA_HASH: &str = "reconcile.external-secrets.io/data-hash";

/// `spec.refreshInterval` when unset (the CRD's default).
const DEFAULT_REFRESH: Duration = Duration::from_secs(3600);
/// The longest a periodic refresh waits before looking again.
const MAX_DELAY: Duration = Duration::from_secs(600);
/// A failed sync is retried after the time it has been failing, within these bounds.
const RETRY_MIN: Duration = Duration::from_secs(5);
const RETRY_MAX: Duration = Duration::from_secs(300);

// Condition messages, as the real controller writes them.
const MSG_SYNCED: &str = "secret synced";
const MSG_SYNCED_RETAIN: &str = "secret retained due to DeletionPolicy=Retain";
const MSG_DELETED: &str = "secret deleted due to DeletionPolicy=Delete";
const MSG_MISSING: &str = "secret will not be created due to CreationPolicy=Merge";
const MSG_GET_DATA: &str = "could not get secret data from provider";
const MSG_DELETE_SECRET: &str = "could not delete secret";
const MSG_DELETE_ORPHANED: &str = "could not delete orphaned secrets";
const MSG_UPDATE_SECRET: &str = "could not update secret";
const MSG_UPDATE_IMMUTABLE: &str = "could not update secret, target is immutable";
const MSG_BECOME_OWNER: &str = "failed to take ownership of target secret";
const MSG_IS_OWNED: &str = "target is owned by another ExternalSecret";

pub struct ExternalSecrets;

/// What each ExternalSecret (its `syncedResourceVersion`: generation and metadata
/// hash) and store (its generation) looked like at its last change, by uid: what the
/// real controller's generation, label and annotation predicates compare, so that
/// status writes do not requeue ExternalSecrets. Uids are unique, so sandboxes
/// sharing a process do not mix.
static SEEN: LazyLock<Mutex<HashMap<String, String>>> = LazyLock::new(Mutex::default);

/// Whether a change is news by [`SEEN`]: an addition, a deletion, or a new `version`.
fn news(change: &Change, version: impl FnOnce(&Value) -> String) -> bool {
    let uid = &change.entry.index.uid;
    let mut seen = SEEN.lock().unwrap_or_else(PoisonError::into_inner);
    if change.kind == EventType::Deleted {
        seen.remove(uid);
        return true;
    }
    let version = version(&change.entry.value());
    seen.insert(uid.clone(), version.clone()).is_none_or(|before| before != version)
}

fn external_secrets() -> ResourceKey {
    ResourceKey::new(GROUP, "externalsecrets")
}

fn secret_stores() -> ResourceKey {
    ResourceKey::new(GROUP, "secretstores")
}

fn cluster_secret_stores() -> ResourceKey {
    ResourceKey::new(GROUP, "clustersecretstores")
}

fn secrets() -> ResourceKey {
    ResourceKey::new("", "secrets")
}

impl Controller for ExternalSecrets {
    fn keys_for(&self, rest: &Rest, change: &Change) -> Vec<ObjectRef> {
        let resource = &change.resource;
        let index = &change.entry.index;
        if *resource == external_secrets() {
            // A write that changes neither the generation nor labels or annotations
            // (a status write) is no news.
            return if news(change, synced_resource_version) { vec![runtime_key(change)] } else { Vec::new() };
        }
        if *resource == secret_stores() || *resource == cluster_secret_stores() {
            // The store itself always; its ExternalSecrets when its spec changed (they
            // judge a store by its spec, so its status writes are no news to them).
            let mut keys = vec![runtime_key(change)];
            if news(change, |store| store["metadata"]["generation"].to_string()) {
                keys.extend(if *resource == secret_stores() {
                    referencing(rest, Some(index.namespace.as_str()), "SecretStore", Some(index.name.as_str()))
                } else {
                    referencing(rest, None, "ClusterSecretStore", Some(index.name.as_str()))
                });
            }
            return keys;
        }
        if *resource == secrets() {
            let secret = change.entry.value();
            let mut keys: Vec<ObjectRef> = targeting(rest, &index.namespace, &index.name);
            if let Some((kind, owner, _)) = objects::controller_of(&secret)
                && kind == "ExternalSecret"
            {
                let key = ObjectRef::new(external_secrets(), &index.namespace, owner);
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
            return keys;
        }
        if *resource == ResourceKey::new("", "namespaces") && change.prev.as_ref().is_none_or(|before| before.labels != index.labels) {
            // Its labels may now match (or no longer match) a ClusterSecretStore's conditions.
            return referencing(rest, Some(index.name.as_str()), "ClusterSecretStore", None);
        }
        if *resource == ResourceKey::new("apiextensions.k8s.io", "customresourcedefinitions") && change.entry.value()["spec"]["group"] == GROUP {
            return self.all_keys(rest);
        }
        Vec::new()
    }

    fn all_keys(&self, rest: &Rest) -> Vec<ObjectRef> {
        let mut keys = Vec::new();
        let mut seen = SEEN.lock().unwrap_or_else(PoisonError::into_inner);
        for resource in [secret_stores(), cluster_secret_stores(), external_secrets()] {
            if rest.catalogue.find(GROUP, VERSION, &resource.plural).is_none() {
                continue;
            }
            // Everything is reconciled as it is now, so that is what has been seen.
            for entry in rest.store.list(&resource, None, None, |_| true).0 {
                let obj = entry.value();
                let version = if resource == external_secrets() { synced_resource_version(&obj) } else { obj["metadata"]["generation"].to_string() };
                seen.insert(entry.index.uid.clone(), version);
                keys.push(ObjectRef::new(resource.clone(), &entry.index.namespace, &entry.index.name));
            }
        }
        keys
    }

    fn reconcile(&self, rest: &Rest, key: &ObjectRef) -> Option<Duration> {
        if key.resource == external_secrets() {
            reconcile_external_secret(rest, key)
        } else if key.resource == secret_stores() || key.resource == cluster_secret_stores() {
            reconcile_store(rest, key)
        } else {
            None
        }
    }
}

fn runtime_key(change: &Change) -> ObjectRef {
    super::runtime::key_of(change)
}

/// The ExternalSecrets (in `namespace`, or anywhere) whose store reference is of
/// `kind` and, when given, named `store`.
fn referencing(rest: &Rest, namespace: Option<&str>, kind: &str, store: Option<&str>) -> Vec<ObjectRef> {
    let (entries, _) = rest.store.list(&external_secrets(), namespace, None, |_| true);
    entries
        .iter()
        .filter(|e| {
            let es = e.value();
            let reference = &es["spec"]["secretStoreRef"];
            reference["kind"].as_str().unwrap_or("SecretStore") == kind && store.is_none_or(|s| reference["name"] == s)
        })
        .map(|e| ObjectRef::new(external_secrets(), &e.index.namespace, &e.index.name))
        .collect()
}

/// The ExternalSecrets in `namespace` whose target Secret is `secret`.
fn targeting(rest: &Rest, namespace: &str, secret: &str) -> Vec<ObjectRef> {
    let (entries, _) = rest.store.list(&external_secrets(), Some(namespace), None, |_| true);
    entries
        .iter()
        .filter(|e| {
            let es = e.value();
            es["spec"]["target"]["name"].as_str().filter(|n| !n.is_empty()).unwrap_or(&e.index.name) == secret
        })
        .map(|e| ObjectRef::new(external_secrets(), &e.index.namespace, &e.index.name))
        .collect()
}

// ---------------------------------------------------------------------------------
// Stores and the fake provider

/// One `spec.provider.fake.data` entry.
#[derive(Clone, Debug, PartialEq)]
struct FakeEntry {
    key: String,
    value: String,
    version: String,
}

/// Why a store cannot be used: the Ready condition's reason and message.
#[derive(Debug, PartialEq)]
struct StoreProblem {
    reason: &'static str,
    message: String,
}

/// A scalar as the text a Go string field would hold (YAML may have typed it).
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The store's fake provider data, or why the store is not usable.
fn fake_provider(store: &Value) -> Result<Vec<FakeEntry>, StoreProblem> {
    let problem = |message: String| StoreProblem { reason: "InvalidProviderConfig", message };
    let provider = &store["spec"]["provider"];
    let Some(providers) = provider.as_object().filter(|p| !p.is_empty()) else {
        return Err(problem("unable to create client: missing store provider".to_string()));
    };
    let Some(fake) = providers.get("fake") else {
        let names: Vec<&str> = providers.keys().map(String::as_str).collect();
        return Err(problem(format!(
            "unable to create client: provider {:?} is not simulated by the kdeck sandbox; use the \"fake\" provider (spec.provider.fake.data)",
            names.join(",")
        )));
    };
    let mut entries = Vec::new();
    for (pos, data) in fake["data"].as_array().into_iter().flatten().enumerate() {
        let key = text(&data["key"]).unwrap_or_default();
        if key.is_empty() {
            return Err(problem(format!("key must be set in data {pos}")));
        }
        // `valueMap` is the older form of a JSON object value.
        let value = match (text(&data["value"]), data["valueMap"].as_object()) {
            (Some(value), _) => value,
            (None, Some(map)) => Value::Object(map.clone()).to_string(),
            (None, None) => return Err(problem(format!("at least one value must be set in data {pos}"))),
        };
        entries.push(FakeEntry { key, value, version: text(&data["version"]).unwrap_or_default() });
    }
    Ok(entries)
}

fn reconcile_store(rest: &Rest, key: &ObjectRef) -> Option<Duration> {
    let info = rest.catalogue.find(GROUP, VERSION, &key.resource.plural)?;
    let store = rest.get(&info, Some(&key.namespace), &key.name).ok()?;
    if objects::is_deleting(&store) {
        return None;
    }
    let mut next = store.clone();
    let (status, reason, message) = match fake_provider(&store) {
        Ok(_) => {
            next["status"]["capabilities"] = json!("ReadWrite");
            ("True", "Valid", "store validated".to_string())
        }
        Err(problem) => {
            if let Some(status) = next["status"].as_object_mut() {
                status.remove("capabilities");
            }
            ("False", problem.reason, problem.message)
        }
    };
    objects::set_condition(&mut next, "Ready", status, reason, &message);
    let before = objects::condition(&store, "Ready");
    let changed = before.is_none_or(|c| c["status"] != status || c["reason"] != reason || c["message"] != message.as_str());
    if changed {
        if status == "True" {
            events::normal(rest, &store, &SOURCE, reason, &message);
        } else {
            events::warning(rest, &store, &SOURCE, reason, &message);
        }
    }
    objects::write_status(rest, &info, &store, next);
    None
}

/// The store an ExternalSecret uses, checked as the real client manager checks it.
fn resolve_store(rest: &Rest, es: &Value, spec: &Spec) -> Result<Vec<FakeEntry>, String> {
    let es_namespace = namespace(es);
    let (plural, kind, ns) = match spec.store_kind {
        StoreKind::SecretStore => ("secretstores", "SecretStore", Some(es_namespace)),
        StoreKind::ClusterSecretStore => ("clustersecretstores", "ClusterSecretStore", None),
    };
    let store_name = &spec.store_name;
    let Some(info) = rest.catalogue.find(GROUP, VERSION, plural) else {
        return Err(format!("could not get {kind} {store_name:?}, the server could not find the requested resource"));
    };
    let store = rest.get(&info, ns, store_name).map_err(|e| format!("could not get {kind} {store_name:?}, {}", e.message))?;
    if spec.store_kind == StoreKind::ClusterSecretStore && !cluster_store_admits(rest, &store, es_namespace) {
        return Err(format!("using cluster store {store_name:?} is not allowed from namespace {es_namespace:?}: denied by spec.condition"));
    }
    // The real controller refuses stores that are not Ready; the sandbox judges
    // readiness from the spec directly, so a new store needs no reconcile first.
    fake_provider(&store).map_err(|_| format!("the desired SecretStore {store_name} is not ready"))
}

/// Whether a ClusterSecretStore's `spec.conditions` let `namespace` use it.
fn cluster_store_admits(rest: &Rest, store: &Value, namespace: &str) -> bool {
    let conditions = store["spec"]["conditions"].as_array().cloned().unwrap_or_default();
    if conditions.is_empty() {
        return true;
    }
    let labels =
        rest.catalogue.find("", "v1", "namespaces").and_then(|info| rest.get(&info, None, namespace).ok()).map(|ns| objects::labels(&ns)).unwrap_or_default();
    conditions.iter().any(|c| {
        let by_selector = c["namespaceSelector"].is_object() && LabelSelector::from_object(&c["namespaceSelector"]).is_ok_and(|s| s.matches(&labels));
        let by_name = c["namespaces"].as_array().is_some_and(|names| names.iter().any(|n| n == namespace));
        by_selector || by_name
    })
}

// ---------------------------------------------------------------------------------
// The ExternalSecret spec

#[derive(Clone, Copy, Debug, PartialEq)]
enum StoreKind {
    SecretStore,
    ClusterSecretStore,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum CreationPolicy {
    Owner,
    Orphan,
    Merge,
    None,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum DeletionPolicy {
    Delete,
    Merge,
    Retain,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum RefreshPolicy {
    CreatedOnce,
    Periodic,
    OnChange,
}

/// A provider reference: `spec.data[].remoteRef` or `spec.dataFrom[].extract`.
#[derive(Clone, Debug, Default, PartialEq)]
struct RemoteRef {
    key: String,
    property: String,
    version: String,
    decoding: String,
}

#[derive(Clone, Debug, PartialEq)]
enum DataFrom {
    Extract(RemoteRef),
    /// `find`, generators, `rewrite`: what the sandbox does not simulate.
    Unsupported(String),
}

#[derive(Clone, Debug, PartialEq)]
struct Spec {
    store_name: String,
    store_kind: StoreKind,
    target_name: String,
    creation: CreationPolicy,
    deletion: DeletionPolicy,
    immutable: bool,
    template: Option<Value>,
    data: Vec<(String, RemoteRef)>,
    data_from: Vec<DataFrom>,
    refresh_interval: Duration,
    refresh_policy: RefreshPolicy,
}

/// `<field>: Unsupported value: "x": supported values: "a", "b"`, as the CRD's enum
/// validation reports it.
fn one_of<T: Copy>(obj: &Value, field: &str, default: T, values: &[(&str, T)]) -> Result<T, String> {
    let path: Vec<&str> = field.split('.').collect();
    let mut v = obj;
    for p in &path {
        v = &v[*p];
    }
    let Some(given) = v.as_str().filter(|s| !s.is_empty()) else {
        return if v.is_null() || v == "" { Ok(default) } else { Err(format!("spec.{field}: Invalid value: {v}: must be a string")) };
    };
    values.iter().find(|(name, _)| *name == given).map(|(_, t)| *t).ok_or_else(|| {
        let supported: Vec<String> = values.iter().map(|(n, _)| format!("{n:?}")).collect();
        format!("spec.{field}: Unsupported value: {given:?}: supported values: {}", supported.join(", "))
    })
}

fn remote_ref(v: &Value) -> RemoteRef {
    let field = |f: &str| text(&v[f]).unwrap_or_default();
    RemoteRef { key: field("key"), property: field("property"), version: field("version"), decoding: field("decodingStrategy") }
}

/// Reads and validates the spec as the CRD schema and ESO's admission webhook would;
/// the error is the field problem, as `kubectl` would print it.
fn parse_spec(es: &Value) -> Result<Spec, String> {
    let spec = &es["spec"];
    let store_name = text(&spec["secretStoreRef"]["name"]).unwrap_or_default();
    if store_name.is_empty() {
        return Err("spec.secretStoreRef.name: Required value".to_string());
    }
    let store_kind = one_of(
        spec,
        "secretStoreRef.kind",
        StoreKind::SecretStore,
        &[("SecretStore", StoreKind::SecretStore), ("ClusterSecretStore", StoreKind::ClusterSecretStore)],
    )?;
    let creation = one_of(
        spec,
        "target.creationPolicy",
        CreationPolicy::Owner,
        &[("Owner", CreationPolicy::Owner), ("Orphan", CreationPolicy::Orphan), ("Merge", CreationPolicy::Merge), ("None", CreationPolicy::None)],
    )?;
    let deletion = one_of(
        spec,
        "target.deletionPolicy",
        DeletionPolicy::Retain,
        &[("Delete", DeletionPolicy::Delete), ("Merge", DeletionPolicy::Merge), ("Retain", DeletionPolicy::Retain)],
    )?;
    let refresh_policy = one_of(
        spec,
        "refreshPolicy",
        RefreshPolicy::Periodic,
        &[("CreatedOnce", RefreshPolicy::CreatedOnce), ("Periodic", RefreshPolicy::Periodic), ("OnChange", RefreshPolicy::OnChange)],
    )?;
    let refresh_interval = match &spec["refreshInterval"] {
        Value::Null => DEFAULT_REFRESH,
        Value::String(s) => parse_refresh_interval(s).map_err(|e| format!("spec.refreshInterval: Invalid value: {s:?}: {e}"))?,
        other => return Err(format!("spec.refreshInterval: Invalid value: {other}: must be a duration string such as \"1h\"")),
    };
    if deletion == DeletionPolicy::Delete && matches!(creation, CreationPolicy::Merge | CreationPolicy::None) {
        return Err(
            "spec.target: Invalid value: deletionPolicy=Delete must not be used when the controller doesn't own the secret. Please set creationPolicy=Owner"
                .to_string(),
        );
    }
    if deletion == DeletionPolicy::Merge && creation == CreationPolicy::None {
        return Err("spec.target: Invalid value: deletionPolicy=Merge must not be used with creationPolicy=None. There is no Secret to merge with".to_string());
    }
    let mut data = Vec::new();
    for (i, entry) in spec["data"].as_array().into_iter().flatten().enumerate() {
        let secret_key = text(&entry["secretKey"]).unwrap_or_default();
        if secret_key.is_empty() {
            return Err(format!("spec.data[{i}].secretKey: Required value"));
        }
        let reference = remote_ref(&entry["remoteRef"]);
        if reference.key.is_empty() {
            return Err(format!("spec.data[{i}].remoteRef.key: Required value"));
        }
        data.push((secret_key, reference));
    }
    let mut data_from = Vec::new();
    for (i, entry) in spec["dataFrom"].as_array().into_iter().flatten().enumerate() {
        let unsupported = |what: &str| DataFrom::Unsupported(format!("spec.dataFrom[{i}].{what} is not simulated by the kdeck sandbox"));
        data_from.push(if entry["rewrite"].as_array().is_some_and(|r| !r.is_empty()) {
            unsupported("rewrite")
        } else if entry["extract"].is_object() {
            let reference = remote_ref(&entry["extract"]);
            if reference.key.is_empty() {
                return Err(format!("spec.dataFrom[{i}].extract.key: Required value"));
            }
            DataFrom::Extract(reference)
        } else if entry["find"].is_object() {
            unsupported("find")
        } else if entry["sourceRef"].is_object() {
            unsupported("sourceRef")
        } else {
            return Err(format!("spec.dataFrom[{i}]: Invalid value: either extract, find, or sourceRef must be set to dataFrom"));
        });
    }
    let template = spec["target"]["template"].as_object().map(|t| Value::Object(t.clone()));
    if data.is_empty() && data_from.is_empty() && template.is_none() {
        return Err("spec: Invalid value: either data or dataFrom should be specified".to_string());
    }
    let target_name = text(&spec["target"]["name"]).filter(|n| !n.is_empty()).unwrap_or_else(|| name(es).to_string());
    Ok(Spec {
        store_name,
        store_kind,
        target_name,
        creation,
        deletion,
        immutable: spec["target"]["immutable"] == true,
        template,
        data,
        data_from,
        refresh_interval,
        refresh_policy,
    })
}

// ---------------------------------------------------------------------------------
// Fetching data from the fake provider

/// A lookup that found nothing: ESO's `NoSecretErr`.
const NO_SECRET: &str = "Secret does not exist";

enum Lookup {
    NoSecret,
    Failed(String),
}

/// The fake provider's `GetSecret`: the entry with this key and version (a later
/// entry wins), or one property of its JSON value.
fn get_secret(entries: &[FakeEntry], reference: &RemoteRef) -> Result<Vec<u8>, Lookup> {
    let entry = entries.iter().rev().find(|e| e.key == reference.key && e.version == reference.version).ok_or(Lookup::NoSecret)?;
    if reference.property.is_empty() {
        return Ok(entry.value.clone().into_bytes());
    }
    json_property(&entry.value, &reference.property).map(String::into_bytes).ok_or(Lookup::NoSecret)
}

/// The fake provider's `GetSecretMap`: the (property of the) value as a JSON object,
/// string members as themselves and others as JSON text.
fn get_secret_map(entries: &[FakeEntry], reference: &RemoteRef) -> Result<BTreeMap<String, Vec<u8>>, Lookup> {
    let raw = get_secret(entries, reference)?;
    let members: Map<String, Value> = serde_json::from_slice(&raw).map_err(|e| Lookup::Failed(format!("unable to unmarshal secret: {e}")))?;
    Ok(members
        .into_iter()
        .map(|(k, v)| {
            let bytes = match v {
                Value::String(s) => s.into_bytes(),
                other => other.to_string().into_bytes(),
            };
            (k, bytes)
        })
        .collect())
}

/// A gjson-style path (`a.b.0.c`, `\.` escaping a dot) into a JSON document, as
/// gjson's `String()`: strings as themselves, anything else as JSON text.
fn json_property(document: &str, path: &str) -> Option<String> {
    let root: Value = serde_json::from_str(document).ok()?;
    let mut segments = vec![String::new()];
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => segments.last_mut()?.push(chars.next()?),
            '.' => segments.push(String::new()),
            c => segments.last_mut()?.push(c),
        }
    }
    let mut at = &root;
    for segment in &segments {
        at = match at {
            Value::Object(map) => map.get(segment)?,
            Value::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(match at {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    })
}

fn decode(strategy: &str, value: Vec<u8>) -> Result<Vec<u8>, String> {
    let failed = |e: base64::DecodeError| format!("error applying decoding strategy {strategy} to data: {e}");
    match strategy {
        "" | "None" => Ok(value),
        "Base64" => STANDARD.decode(&value).map_err(failed),
        "Base64URL" => URL_SAFE.decode(&value).map_err(failed),
        "Auto" => Ok(STANDARD.decode(&value).or_else(|_| URL_SAFE.decode(&value)).unwrap_or(value)),
        other => Err(format!("error applying decoding strategy {other} to data: unsupported decoding strategy")),
    }
}

fn valid_secret_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= 253 && key.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// What a sync fetched: the data, and notices of entries skipped because the
/// provider has no such secret (with a `deletionPolicy` other than Retain).
#[derive(Debug, Default, PartialEq)]
struct Fetched {
    data: BTreeMap<String, Vec<u8>>,
    skipped: Vec<String>,
}

/// Everything `spec.dataFrom` then `spec.data` fetch, merged in that order.
fn fetch(spec: &Spec, entries: &[FakeEntry]) -> Result<Fetched, String> {
    let mut fetched = Fetched::default();
    for (i, from) in spec.data_from.iter().enumerate() {
        let reference = match from {
            DataFrom::Extract(reference) => reference,
            DataFrom::Unsupported(why) => return Err(why.clone()),
        };
        match get_secret_map(entries, reference) {
            Ok(map) => {
                if let Some(bad) = map.keys().find(|k| !valid_secret_key(k)) {
                    return Err(format!("invalid secret keys (TIP: use rewrite or conversionStrategy to change keys): key {bad:?} from spec.dataFrom[{i}]"));
                }
                for (k, v) in map {
                    let v = decode(&reference.decoding, v)?;
                    fetched.data.insert(k, v);
                }
            }
            Err(Lookup::NoSecret) if spec.deletion != DeletionPolicy::Retain => {
                fetched.skipped.push(format!("secret does not exist at provider using spec.dataFrom[{i}] (key={})", reference.key));
            }
            Err(Lookup::NoSecret) => return Err(format!("error retrieving secret at .dataFrom[{i}], key: {}, err: {NO_SECRET}", reference.key)),
            Err(Lookup::Failed(e)) => return Err(format!("error retrieving secret at .dataFrom[{i}], key: {}, err: {e}", reference.key)),
        }
    }
    for (i, (secret_key, reference)) in spec.data.iter().enumerate() {
        match get_secret(entries, reference) {
            Ok(value) => {
                fetched.data.insert(secret_key.clone(), decode(&reference.decoding, value)?);
            }
            Err(Lookup::NoSecret) if spec.deletion != DeletionPolicy::Retain => {
                fetched.skipped.push(format!("secret does not exist at provider using spec.data[{i}] (key={})", reference.key));
            }
            Err(Lookup::NoSecret) => return Err(format!("error retrieving secret at .data[{i}], key: {}, err: {NO_SECRET}", reference.key)),
            Err(Lookup::Failed(e)) => return Err(format!("error retrieving secret at .data[{i}], key: {}, err: {e}", reference.key)),
        }
    }
    Ok(fetched)
}

// ---------------------------------------------------------------------------------
// When to sync

/// `status.syncedResourceVersion` as the real controller computes it: the
/// generation, then a hash of the labels and annotations.
fn synced_resource_version(es: &Value) -> String {
    let meta = &es["metadata"];
    let generation = meta["generation"].as_i64().unwrap_or(0);
    let map = |field: &str| -> BTreeMap<String, String> {
        meta[field].as_object().map(|m| m.iter().map(|(k, v)| (k.clone(), text(v).unwrap_or_default())).collect()).unwrap_or_default()
    };
    // fmt.Sprintf("%+v", struct{annotations, labels map[string]string}{…})
    let formatted = format!("{{annotations:{} labels:{}}}", go_string_map(&map("annotations")), go_string_map(&map("labels")));
    format!("{generation}-{}", md5_hex(formatted.as_bytes()))
}

/// Go's `%v` of a `map[string]string` (keys sorted).
fn go_string_map(map: &BTreeMap<String, String>) -> String {
    let items: Vec<String> = map.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    format!("map[{}]", items.join(" "))
}

/// The data-hash annotation: MD5 of Go's `%+v` of the Secret's `map[string][]byte`.
fn data_hash(data: &BTreeMap<String, Vec<u8>>) -> String {
    let items: Vec<String> = data
        .iter()
        .map(|(k, v)| {
            let bytes: Vec<String> = v.iter().map(u8::to_string).collect();
            format!("{k}:[{}]", bytes.join(" "))
        })
        .collect();
    md5_hex(format!("map[{}]", items.join(" ")).as_bytes())
}

fn now_nanos() -> i128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i128).unwrap_or(0)
}

fn refresh_time(es: &Value) -> Option<i128> {
    es["status"]["refreshTime"].as_str().and_then(time::parse_rfc3339_nanos)
}

/// Whether the provider should be read again (the real `shouldRefresh`).
fn should_refresh(es: &Value, spec: &Spec, now: i128) -> bool {
    let synced = es["status"]["syncedResourceVersion"].as_str().unwrap_or_default();
    let refreshed = refresh_time(es);
    match spec.refresh_policy {
        RefreshPolicy::CreatedOnce => synced.is_empty() || refreshed.is_none(),
        RefreshPolicy::OnChange => synced.is_empty() || refreshed.is_none() || synced != synced_resource_version(es),
        RefreshPolicy::Periodic => {
            if spec.refresh_interval.is_zero() && !synced.is_empty() {
                return false;
            }
            if synced != synced_resource_version(es) {
                return true;
            }
            refreshed.is_none_or(|at| at + (spec.refresh_interval.as_nanos() as i128) < now)
        }
    }
}

/// Whether the target Secret is as the last sync left it (the real `isSecretValid`).
fn secret_valid(secret: Option<&Value>, spec: &Spec) -> bool {
    // Orphaned Secrets are left alone until the next refresh; with None there is none.
    if matches!(spec.creation, CreationPolicy::Orphan | CreationPolicy::None) {
        return true;
    }
    let Some(secret) = secret else { return false };
    secret["metadata"]["labels"][LABEL_MANAGED] == "true" && secret["metadata"]["annotations"][ANNOTATION_DATA_HASH] == data_hash(&secret_data(secret)).as_str()
}

/// When to look again for the next periodic refresh.
fn next_refresh(es: &Value, spec: &Spec, now: i128) -> Option<Duration> {
    if spec.refresh_policy != RefreshPolicy::Periodic || spec.refresh_interval.is_zero() {
        return None;
    }
    let interval = spec.refresh_interval.as_nanos() as i128;
    let remaining = match refresh_time(es) {
        Some(at) if at <= now => interval - (now - at),
        Some(_) => 0,
        None => interval,
    };
    // Just past the moment it is due (the check is strict), and not too far ahead.
    let remaining = remaining.clamp(0, MAX_DELAY.as_nanos() as i128);
    Some((Duration::from_nanos(remaining as u64) + Duration::from_millis(20)).min(MAX_DELAY))
}

/// How long after a failed sync to try again: as long as it has been failing.
fn retry_delay(es: &Value, now: i128) -> Duration {
    let since =
        objects::condition(es, "Ready").filter(|c| c["status"] == "False").and_then(|c| c["lastTransitionTime"].as_str()).and_then(time::parse_rfc3339_nanos);
    let failing = since.map(|at| Duration::from_nanos((now - at).max(0) as u64)).unwrap_or_default();
    failing.clamp(RETRY_MIN, RETRY_MAX)
}

// ---------------------------------------------------------------------------------
// Syncing

/// A failed sync: the condition message (before the error; may be empty) and the
/// error (the event's message).
#[derive(Debug)]
struct Failure {
    message: &'static str,
    error: String,
}

impl Failure {
    fn new(message: &'static str, error: impl Into<String>) -> Self {
        Failure { message, error: error.into() }
    }
}

enum Outcome {
    /// Ready True with this reason and message; `binding` names the target Secret.
    Done {
        reason: &'static str,
        message: &'static str,
        binding: Option<String>,
    },
    Failed(Failure),
    /// Lost a race with another writer: look again shortly.
    Retry,
}

fn reconcile_external_secret(rest: &Rest, key: &ObjectRef) -> Option<Duration> {
    let info = rest.catalogue.find(GROUP, VERSION, "externalsecrets")?;
    let secrets_info = rest.catalogue.find("", "v1", "secrets")?;
    let es = rest.get(&info, Some(&key.namespace), &key.name).ok()?;
    if objects::is_deleting(&es) {
        return None;
    }
    let now = now_nanos();
    let spec = match parse_spec(&es) {
        Ok(spec) => spec,
        Err(problem) => {
            // What the webhook would have refused; a spec change brings it back here.
            let error = format!("ExternalSecret.{GROUP} {:?} is invalid: {problem}", name(&es));
            mark_failed(rest, &info, &es, &Failure { message: "", error });
            return None;
        }
    };
    let existing = rest.get(&secrets_info, Some(&key.namespace), &spec.target_name).ok();
    if !should_refresh(&es, &spec, now) && secret_valid(existing.as_ref(), &spec) {
        return next_refresh(&es, &spec, now);
    }
    match sync(rest, &secrets_info, &es, &spec, existing.as_ref()) {
        Outcome::Done { reason, message, binding } => {
            let mut next = es.clone();
            objects::set_condition(&mut next, "Ready", "True", reason, message);
            next["status"]["refreshTime"] = json!(time::rfc3339_unix((now / 1_000_000_000) as i64));
            next["status"]["syncedResourceVersion"] = json!(synced_resource_version(&es));
            if let Some(binding) = binding {
                next["status"]["binding"] = json!({"name": binding});
            }
            if !write_status(rest, &info, &es, &next) {
                return Some(Duration::from_secs(1));
            }
            next_refresh(&next, &spec, now)
        }
        Outcome::Failed(failure) => {
            mark_failed(rest, &info, &es, &failure);
            Some(retry_delay(&es, now))
        }
        Outcome::Retry => Some(Duration::from_millis(200)),
    }
}

/// Ready False with reason SecretSyncedError, and a Warning event with the error.
fn mark_failed(rest: &Rest, info: &ResourceInfo, es: &Value, failure: &Failure) {
    events::warning(rest, es, &SOURCE, "UpdateFailed", &failure.error);
    let mut next = es.clone();
    let message = if failure.message.is_empty() { failure.error.clone() } else { format!("{}: {}", failure.message, failure.error) };
    objects::set_condition(&mut next, "Ready", "False", "SecretSyncedError", &message);
    write_status(rest, info, es, &next);
}

/// Writes `next`'s status if it changed; false when the write failed.
fn write_status(rest: &Rest, info: &ResourceInfo, current: &Value, next: &Value) -> bool {
    current["status"] == next["status"]
        || rest.update(info, Some(namespace(current)), name(current), next.clone(), Subresource::Status, &WriteOptions::default()).is_ok()
}

fn sync(rest: &Rest, secrets_info: &ResourceInfo, es: &Value, spec: &Spec, existing: Option<&Value>) -> Outcome {
    let entries = match resolve_store(rest, es, spec) {
        Ok(entries) => entries,
        Err(e) => return Outcome::Failed(Failure::new(MSG_GET_DATA, e)),
    };
    let fetched = match fetch(spec, &entries) {
        Ok(fetched) => fetched,
        Err(e) => return Outcome::Failed(Failure::new(MSG_GET_DATA, e)),
    };
    for notice in &fetched.skipped {
        events::normal(rest, es, &SOURCE, "Deleted", notice);
    }
    let ns = namespace(es);
    let target = spec.target_name.as_str();
    if fetched.data.is_empty() {
        match spec.deletion {
            DeletionPolicy::Delete => {
                if spec.creation != CreationPolicy::Owner {
                    return Outcome::Failed(Failure::new(
                        MSG_DELETE_SECRET,
                        format!("unable to delete secret {target}: creationPolicy={:?} is not Owner", spec.creation),
                    ));
                }
                if existing.is_some() {
                    if let Err(e) = rest.delete(secrets_info, Some(ns), target, &DeleteOptions::default())
                        && e.code != 404
                    {
                        return Outcome::Failed(Failure::new(MSG_DELETE_SECRET, e.message));
                    }
                    events::normal(rest, es, &SOURCE, "Deleted", MSG_DELETED);
                }
                return Outcome::Done { reason: "SecretDeleted", message: MSG_DELETED, binding: None };
            }
            DeletionPolicy::Retain => return Outcome::Done { reason: "SecretSynced", message: MSG_SYNCED_RETAIN, binding: None },
            DeletionPolicy::Merge => {}
        }
    }
    let field_manager = format!("externalsecrets.{GROUP}/{}", name(es));
    let opts = WriteOptions { field_manager: Some(field_manager), ..Default::default() };
    match spec.creation {
        CreationPolicy::None => return Outcome::Done { reason: "SecretSynced", message: MSG_SYNCED, binding: None },
        CreationPolicy::Merge if existing.is_none() => return Outcome::Done { reason: "SecretMissing", message: MSG_MISSING, binding: None },
        CreationPolicy::Owner => {
            if let Err(e) = delete_orphans(rest, secrets_info, es, target) {
                return Outcome::Failed(Failure::new(MSG_DELETE_ORPHANED, e));
            }
        }
        CreationPolicy::Merge | CreationPolicy::Orphan => {}
    }
    let mut secret = existing.cloned().unwrap_or_else(|| json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": target, "namespace": ns}}));
    if let Err(failure) = mutate(es, spec, &fetched.data, &mut secret) {
        return Outcome::Failed(failure);
    }
    let done = Outcome::Done { reason: "SecretSynced", message: MSG_SYNCED, binding: Some(target.to_string()) };
    let Some(existing) = existing else {
        return match rest.create(secrets_info, Some(ns), secret, &opts) {
            Ok(_) => {
                events::normal(rest, es, &SOURCE, "Created", "secret created");
                done
            }
            Err(e) if e.code == 409 => Outcome::Retry,
            Err(e) => Outcome::Failed(Failure::new(MSG_UPDATE_SECRET, format!("unable to create secret {target}: {}", e.message))),
        };
    };
    if secret == *existing {
        return done;
    }
    if existing["immutable"] == true && (existing["data"] != secret["data"] || existing["type"] != secret["type"]) {
        return Outcome::Failed(Failure::new(MSG_UPDATE_IMMUTABLE, format!("unable to update secret {target}: secret is immutable")));
    }
    match rest.update(secrets_info, Some(ns), target, secret, Subresource::Main, &opts) {
        Ok(_) => {
            events::normal(rest, es, &SOURCE, "Updated", "secret updated");
            done
        }
        Err(e) if e.code == 409 => Outcome::Retry,
        Err(e) => Outcome::Failed(Failure::new(MSG_UPDATE_SECRET, format!("unable to update secret {target}: {}", e.message))),
    }
}

/// Deletes Secrets this ExternalSecret created under another name (the target was
/// renamed), found by the created-by label.
fn delete_orphans(rest: &Rest, secrets_info: &ResourceInfo, es: &Value, target: &str) -> Result<(), String> {
    let ns = namespace(es);
    let owner = owner_label(es);
    let (orphans, _) = rest.store.list(&secrets(), Some(ns), None, |e| e.index.labels.get(LABEL_OWNER) == Some(&owner) && e.index.name != target);
    for orphan in orphans {
        match rest.delete(secrets_info, Some(ns), &orphan.index.name, &DeleteOptions::default()) {
            Ok(_) => events::normal(rest, es, &SOURCE, "Deleted", "secret deleted because it was orphaned"),
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e.message),
        }
    }
    Ok(())
}

fn owner_label(es: &Value) -> String {
    md5_hex(format!("{}/{}", namespace(es), name(es)).as_bytes())
}

/// A Secret's data, decoded.
fn secret_data(secret: &Value) -> BTreeMap<String, Vec<u8>> {
    secret["data"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), STANDARD.decode(v.as_str().unwrap_or_default()).unwrap_or_default())).collect())
        .unwrap_or_default()
}

fn string_map(v: &Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// Makes `secret` what this ExternalSecret wants it to be: owner, labels and
/// annotations, data (through the template), type, and the bookkeeping labels.
fn mutate(es: &Value, spec: &Spec, data: &BTreeMap<String, Vec<u8>>, secret: &mut Value) -> Result<(), Failure> {
    let es_name = name(es);
    let is_es = |r: &Value| r["kind"] == "ExternalSecret" && r["apiVersion"].as_str().is_some_and(|v| v.starts_with(&format!("{GROUP}/")));
    let controller = secret["metadata"]["ownerReferences"].as_array().and_then(|refs| refs.iter().find(|r| r["controller"] == true)).cloned();
    let owner_is_es = controller.as_ref().is_some_and(is_es);
    let owner_is_current = owner_is_es && controller.as_ref().is_some_and(|c| c["name"] == es_name);
    if owner_is_es && !owner_is_current {
        let other = controller.as_ref().and_then(|c| c["name"].as_str()).unwrap_or_default();
        return Err(Failure::new(MSG_IS_OWNED, format!("unable to mutate secret {}: secret is owned by another ExternalSecret: {other}", spec.target_name)));
    }
    let mut refs: Vec<Value> = secret["metadata"]["ownerReferences"].as_array().cloned().unwrap_or_default();
    if spec.creation == CreationPolicy::Owner {
        if let Some(c) = controller.as_ref().filter(|_| !owner_is_es) {
            let error = format!(
                "could not set controller reference on secret: Object {}/{} is already owned by another {} controller {}",
                namespace(es),
                spec.target_name,
                c["kind"].as_str().unwrap_or_default(),
                c["name"].as_str().unwrap_or_default()
            );
            return Err(Failure::new(MSG_BECOME_OWNER, error));
        }
        refs.retain(|r| !(is_es(r) && r["name"] == es_name));
        refs.push(objects::controller_reference(es));
    } else if owner_is_current {
        refs.retain(|r| !(is_es(r) && r["name"] == es_name));
    }
    if refs.is_empty() {
        secret["metadata"].as_object_mut().map(|m| m.remove("ownerReferences"));
    } else {
        secret["metadata"]["ownerReferences"] = Value::Array(refs);
    }

    // Labels and annotations: the template's, or without one the ExternalSecret's own.
    let mut labels = string_map(&secret["metadata"]["labels"]);
    let mut annotations = string_map(&secret["metadata"]["annotations"]);
    let source = match &spec.template {
        Some(template) => &template["metadata"],
        None => &es["metadata"],
    };
    labels.extend(string_map(&source["labels"]));
    annotations.extend(string_map(&source["annotations"]));

    let mut out: BTreeMap<String, Vec<u8>> = if spec.creation == CreationPolicy::Merge { secret_data(secret) } else { BTreeMap::new() };
    match &spec.template {
        None => out.extend(data.clone()),
        Some(template) => {
            if let Some(t) = template["type"].as_str().filter(|t| !t.is_empty()) {
                secret["type"] = json!(t);
            }
            if template["templateFrom"].as_array().is_some_and(|t| !t.is_empty()) {
                return Err(Failure::new(
                    MSG_UPDATE_SECRET,
                    "could not apply template: spec.target.template.templateFrom is not simulated by the kdeck sandbox",
                ));
            }
            let templated = template["data"].as_object().filter(|d| !d.is_empty());
            match templated {
                None => out.extend(data.clone()),
                Some(items) => {
                    for (k, v) in items {
                        let rendered = render(v.as_str().unwrap_or_default(), data)
                            .map_err(|e| Failure::new(MSG_UPDATE_SECRET, format!("could not apply template: could not execute template: {e}")))?;
                        out.insert(k.clone(), rendered);
                    }
                    if template["mergePolicy"] == "Merge" {
                        out.extend(data.clone());
                    }
                }
            }
        }
    }
    if secret["type"].as_str().is_none_or(str::is_empty) {
        secret["type"] = json!("Opaque");
    }
    if spec.immutable {
        secret["immutable"] = json!(true);
    }

    if spec.creation == CreationPolicy::Owner {
        labels.insert(LABEL_OWNER.into(), json!(owner_label(es)));
    } else {
        labels.remove(LABEL_OWNER);
    }
    labels.insert(LABEL_MANAGED.into(), json!("true"));
    annotations.insert(ANNOTATION_DATA_HASH.into(), json!(data_hash(&out)));
    secret["metadata"]["labels"] = Value::Object(labels);
    secret["metadata"]["annotations"] = Value::Object(annotations);
    let encoded: Map<String, Value> = out.iter().map(|(k, v)| (k.clone(), json!(STANDARD.encode(v)))).collect();
    if encoded.is_empty() {
        secret.as_object_mut().map(|s| s.remove("data"));
    } else {
        secret["data"] = Value::Object(encoded);
    }
    Ok(())
}

/// Renders the small part of Go templates that secret templates mostly use:
/// `{{ .key }}` or `{{ index . "key" }}`, optionally piped through `toString`,
/// `b64enc`, `b64dec`, `upper`, `lower` or `trim`, with `{{-`/`-}}` trimming.
fn render(text: &str, data: &BTreeMap<String, Vec<u8>>) -> Result<Vec<u8>, String> {
    let mut out: Vec<u8> = Vec::new();
    let mut rest = text;
    let mut trim_next = false;
    while let Some(start) = rest.find("{{") {
        let literal = if trim_next { rest[..start].trim_start() } else { &rest[..start] };
        out.extend_from_slice(literal.as_bytes());
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or("unclosed action")?;
        let mut action = &after[..end];
        if let Some(a) = action.strip_prefix('-') {
            while out.last().is_some_and(u8::is_ascii_whitespace) {
                out.pop();
            }
            action = a;
        }
        trim_next = false;
        if let Some(a) = action.strip_suffix('-') {
            trim_next = true;
            action = a;
        }
        out.extend(evaluate(action.trim(), data)?);
        rest = &after[end + 2..];
    }
    let tail = if trim_next { rest.trim_start() } else { rest };
    out.extend_from_slice(tail.as_bytes());
    Ok(out)
}

fn evaluate(action: &str, data: &BTreeMap<String, Vec<u8>>) -> Result<Vec<u8>, String> {
    let mut stages = action.split('|').map(str::trim);
    let first = stages.next().unwrap_or_default();
    let key = if let Some(field) = first.strip_prefix('.').filter(|f| !f.is_empty() && f.chars().all(|c| c.is_alphanumeric() || c == '_')) {
        field.to_string()
    } else if let Some(quoted) = first.strip_prefix("index .").map(str::trim).and_then(|q| q.strip_prefix('"')?.strip_suffix('"')) {
        quoted.to_string()
    } else {
        return Err(format!("{{{{ {first} }}}} is not simulated by the kdeck sandbox (use {{{{ .key }}}} or {{{{ index . \"key\" }}}})"));
    };
    let mut value = data.get(&key).cloned().ok_or_else(|| format!("map has no entry for key {key:?}"))?;
    for function in stages {
        value = match function {
            "toString" => value,
            "b64enc" => STANDARD.encode(&value).into_bytes(),
            "b64dec" => STANDARD.decode(&value).map_err(|e| format!("b64dec: {e}"))?,
            "upper" => String::from_utf8_lossy(&value).to_uppercase().into_bytes(),
            "lower" => String::from_utf8_lossy(&value).to_lowercase().into_bytes(),
            "trim" => String::from_utf8_lossy(&value).trim().as_bytes().to_vec(),
            other => return Err(format!("function {other:?} not defined")),
        };
    }
    Ok(value)
}

// ---------------------------------------------------------------------------------
// Durations and MD5

/// `spec.refreshInterval` as a Go duration (`1h`, `15s`, `1h30m`, `0`). A negative
/// one, which Go accepts and ESO treats like `0`, reads as zero.
fn parse_refresh_interval(s: &str) -> Result<Duration, String> {
    match s.strip_prefix('-').or(s.strip_prefix('+')) {
        Some(rest) if !rest.starts_with(['-', '+']) => {
            let d = time::parse_go_duration(rest).map_err(|_| format!("time: invalid duration {s:?}"))?;
            Ok(if s.starts_with('-') { Duration::ZERO } else { d })
        }
        _ => time::parse_go_duration(s),
    }
}

/// MD5 as lowercase hex, for the hashes ESO writes (`utils.ObjectHash`).
fn md5_hex(input: &[u8]) -> String {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4,
        11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    const K: [u32; 64] = [
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be,
        0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
        0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
        0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
        0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1, 0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1,
        0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
    ];
    let mut message = input.to_vec();
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&((input.len() as u64).wrapping_mul(8)).to_le_bytes());
    let mut state: [u32; 4] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
    for block in message.chunks_exact(64) {
        let words: Vec<u32> = block.chunks_exact(4).map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]])).collect();
        let [mut a, mut b, mut c, mut d] = state;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let rotated = a.wrapping_add(f).wrapping_add(K[i]).wrapping_add(words[g]).rotate_left(S[i]);
            (a, d, c) = (d, c, b);
            b = b.wrapping_add(rotated);
        }
        for (s, v) in state.iter_mut().zip([a, b, c, d]) {
            *s = s.wrapping_add(v);
        }
    }
    state.iter().flat_map(|s| s.to_le_bytes()).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries() -> Vec<FakeEntry> {
        let entry = |key: &str, value: &str, version: &str| FakeEntry { key: key.into(), value: value.into(), version: version.into() };
        vec![
            entry("/db/user", "admin", ""),
            entry("/db/config", r#"{"host": "db.local", "port": 5432, "tls": {"enabled": true}, "replicas": ["a", "b"]}"#, ""),
            entry("/api", "v1-token", "v1"),
            entry("/api", "v2-token", "v2"),
            entry("/not-json", "plain", ""),
        ]
    }

    fn spec_of(spec: Value) -> Spec {
        parse_spec(&json!({"metadata": {"name": "es", "namespace": "default", "generation": 1}, "spec": spec})).expect("valid spec")
    }

    fn bytes(s: &str) -> Vec<u8> {
        s.as_bytes().to_vec()
    }

    #[test]
    fn refresh_intervals_parse_as_go_durations() {
        let secs = Duration::from_secs;
        assert_eq!(parse_refresh_interval("1h"), Ok(secs(3600)));
        assert_eq!(parse_refresh_interval("15s"), Ok(secs(15)));
        assert_eq!(parse_refresh_interval("1h30m"), Ok(secs(5400)));
        assert_eq!(parse_refresh_interval("1h0m0s"), Ok(secs(3600)));
        assert_eq!(parse_refresh_interval("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(parse_refresh_interval("1.5h"), Ok(secs(5400)));
        assert_eq!(parse_refresh_interval("+5m"), Ok(secs(300)));
        assert_eq!(parse_refresh_interval("0"), Ok(Duration::ZERO));
        assert_eq!(parse_refresh_interval("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_refresh_interval("-1h"), Ok(Duration::ZERO));
        assert_eq!(parse_refresh_interval("1"), Err(r#"time: missing unit in duration "1""#.to_string()));
        assert_eq!(parse_refresh_interval("1d"), Err(r#"time: unknown unit "d" in duration "1d""#.to_string()));
        assert_eq!(parse_refresh_interval("abc"), Err(r#"time: invalid duration "abc""#.to_string()));
        for bad in ["", "h", "--1h", "-", "+", "1h-"] {
            assert!(parse_refresh_interval(bad).is_err(), "{bad:?} should not parse");
        }
        // Through the spec, with the CRD's default.
        let interval =
            |v: Value| spec_of(json!({"secretStoreRef": {"name": "s"}, "refreshInterval": v, "dataFrom": [{"extract": {"key": "k"}}]})).refresh_interval;
        assert_eq!(interval(json!("2m")), secs(120));
        assert_eq!(interval(Value::Null), DEFAULT_REFRESH);
    }

    #[test]
    fn md5_matches_known_digests() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex(b"The quick brown fox jumps over the lazy dog"), "9e107d9d372bb6826bd81d3542a419d6");
        assert_eq!(md5_hex(&[b'a'; 1000]), "cabe45dcc9ae5b66ba86600cca6b8ba8");
    }

    #[test]
    fn synced_resource_version_is_generation_and_metadata_hash() {
        let es = json!({"metadata": {"generation": 3, "labels": {"b": "2", "a": "1"}, "annotations": {"force-sync": "1"}}});
        // md5("{annotations:map[force-sync:1] labels:map[a:1 b:2]}"), as Go formats it.
        assert_eq!(synced_resource_version(&es), "3-e968304757cef2a8949005706cfc60dc");
        assert_eq!(synced_resource_version(&json!({"metadata": {"generation": 1}})), "1-2f2c636d06132f67992c15a1daeb0a5f");
        let mut changed = es.clone();
        changed["metadata"]["annotations"]["force-sync"] = json!("2");
        assert_ne!(synced_resource_version(&changed), synced_resource_version(&es));
        let mut bumped = es.clone();
        bumped["metadata"]["generation"] = json!(4);
        assert!(synced_resource_version(&bumped).starts_with("4-"));
        // The status and other metadata do not count.
        let mut other = es.clone();
        other["metadata"]["resourceVersion"] = json!("99");
        other["status"] = json!({"refreshTime": "2026-01-01T00:00:00Z"});
        assert_eq!(synced_resource_version(&other), synced_resource_version(&es));
    }

    #[test]
    fn data_hash_is_go_formatted_md5() {
        let data = BTreeMap::from([("user".to_string(), bytes("admin")), ("password".to_string(), bytes("hunter2"))]);
        assert_eq!(data_hash(&data), "85d4d02c23245668de577637fc47957b");
        assert_eq!(owner_label(&json!({"metadata": {"name": "db", "namespace": "default"}})), "89c2f697232dd61dbcb1fa9e00e1114e");
    }

    #[test]
    fn fetches_keys_properties_versions_and_extracts() {
        let spec = spec_of(json!({
            "secretStoreRef": {"name": "fake"},
            "data": [
                {"secretKey": "user", "remoteRef": {"key": "/db/user"}},
                {"secretKey": "host", "remoteRef": {"key": "/db/config", "property": "host"}},
                {"secretKey": "port", "remoteRef": {"key": "/db/config", "property": "port"}},
                {"secretKey": "tls", "remoteRef": {"key": "/db/config", "property": "tls.enabled"}},
                {"secretKey": "second", "remoteRef": {"key": "/db/config", "property": "replicas.1"}},
                {"secretKey": "token", "remoteRef": {"key": "/api", "version": "v1"}},
            ],
            "dataFrom": [{"extract": {"key": "/db/config"}}],
        }));
        let fetched = fetch(&spec, &entries()).expect("fetched");
        let got = |k: &str| String::from_utf8(fetched.data[k].clone()).unwrap();
        assert_eq!(got("user"), "admin");
        assert_eq!(got("host"), "db.local");
        assert_eq!(got("port"), "5432");
        assert_eq!(got("second"), "b");
        assert_eq!(got("token"), "v1-token");
        // dataFrom extract: the JSON object's members, strings as themselves.
        assert_eq!(got("replicas"), r#"["a","b"]"#);
        assert_eq!(got("tls"), "true");
        assert!(fetched.skipped.is_empty());
    }

    #[test]
    fn data_overrides_data_from() {
        let spec = spec_of(json!({
            "secretStoreRef": {"name": "fake"},
            "dataFrom": [{"extract": {"key": "/db/config"}}],
            "data": [{"secretKey": "host", "remoteRef": {"key": "/db/user"}}],
        }));
        assert_eq!(fetch(&spec, &entries()).unwrap().data["host"], bytes("admin"));
    }

    #[test]
    fn missing_keys_properties_and_versions_fail_with_the_key() {
        for remote in
            [json!({"key": "/nope"}), json!({"key": "/db/config", "property": "missing"}), json!({"key": "/api", "version": "v3"}), json!({"key": "/api"})]
        {
            let spec = spec_of(json!({"secretStoreRef": {"name": "fake"}, "data": [{"secretKey": "x", "remoteRef": remote}]}));
            let error = fetch(&spec, &entries()).expect_err("should fail");
            let key = remote["key"].as_str().unwrap();
            assert_eq!(error, format!("error retrieving secret at .data[0], key: {key}, err: Secret does not exist"));
        }
        let spec = spec_of(json!({"secretStoreRef": {"name": "fake"}, "dataFrom": [{"extract": {"key": "/not-json"}}]}));
        assert!(fetch(&spec, &entries()).unwrap_err().contains("unable to unmarshal secret"));
        // With deletionPolicy Delete or Merge, a missing secret is skipped instead.
        let spec = spec_of(json!({
            "secretStoreRef": {"name": "fake"},
            "target": {"deletionPolicy": "Merge"},
            "data": [{"secretKey": "x", "remoteRef": {"key": "/nope"}}, {"secretKey": "user", "remoteRef": {"key": "/db/user"}}],
        }));
        let fetched = fetch(&spec, &entries()).unwrap();
        assert_eq!(fetched.data.keys().collect::<Vec<_>>(), ["user"]);
        assert_eq!(fetched.skipped, ["secret does not exist at provider using spec.data[0] (key=/nope)"]);
    }

    #[test]
    fn extracted_keys_must_be_valid_secret_keys() {
        let mut all = entries();
        all.push(FakeEntry { key: "/bad".into(), value: r#"{"a/b": "x"}"#.into(), version: String::new() });
        let spec = spec_of(json!({"secretStoreRef": {"name": "fake"}, "dataFrom": [{"extract": {"key": "/bad"}}]}));
        assert!(fetch(&spec, &all).unwrap_err().starts_with("invalid secret keys"));
    }

    #[test]
    fn decoding_strategies() {
        let mut all = entries();
        all.push(FakeEntry { key: "/b64".into(), value: "aGVsbG8=".into(), version: String::new() });
        let spec =
            spec_of(json!({"secretStoreRef": {"name": "fake"}, "data": [{"secretKey": "x", "remoteRef": {"key": "/b64", "decodingStrategy": "Base64"}}]}));
        assert_eq!(fetch(&spec, &all).unwrap().data["x"], bytes("hello"));
        let spec =
            spec_of(json!({"secretStoreRef": {"name": "fake"}, "data": [{"secretKey": "x", "remoteRef": {"key": "/db/user", "decodingStrategy": "Base64"}}]}));
        assert!(fetch(&spec, &all).is_err());
    }

    #[test]
    fn invalid_specs_are_reported_as_the_api_would() {
        let bad = |spec: Value| parse_spec(&json!({"metadata": {"name": "es"}, "spec": spec})).unwrap_err();
        assert_eq!(bad(json!({"data": [{"secretKey": "a", "remoteRef": {"key": "k"}}]})), "spec.secretStoreRef.name: Required value");
        assert_eq!(
            bad(json!({"secretStoreRef": {"name": "s"}, "refreshInterval": "soon", "data": [{"secretKey": "a", "remoteRef": {"key": "k"}}]})),
            r#"spec.refreshInterval: Invalid value: "soon": time: invalid duration "soon""#
        );
        assert_eq!(bad(json!({"secretStoreRef": {"name": "s"}, "data": [{"remoteRef": {"key": "k"}}]})), "spec.data[0].secretKey: Required value");
        assert_eq!(bad(json!({"secretStoreRef": {"name": "s"}, "data": [{"secretKey": "a", "remoteRef": {}}]})), "spec.data[0].remoteRef.key: Required value");
        assert_eq!(bad(json!({"secretStoreRef": {"name": "s"}})), "spec: Invalid value: either data or dataFrom should be specified");
        assert!(
            bad(json!({"secretStoreRef": {"name": "s", "kind": "Vault"}, "dataFrom": [{"extract": {"key": "k"}}]}))
                .starts_with("spec.secretStoreRef.kind: Unsupported value: \"Vault\"")
        );
        assert!(
            bad(json!({"secretStoreRef": {"name": "s"}, "refreshPolicy": "Sometimes", "dataFrom": [{"extract": {"key": "k"}}]})).contains("supported values")
        );
        assert!(
            bad(json!({"secretStoreRef": {"name": "s"}, "target": {"creationPolicy": "Merge", "deletionPolicy": "Delete"}, "dataFrom": [{"extract": {"key": "k"}}]}))
                .contains("deletionPolicy=Delete must not be used")
        );
        let spec = spec_of(json!({"secretStoreRef": {"name": "s"}, "dataFrom": [{"extract": {"key": "k"}}]}));
        assert_eq!((spec.target_name.as_str(), spec.store_kind, spec.creation), ("es", StoreKind::SecretStore, CreationPolicy::Owner));
        assert_eq!((spec.refresh_interval, spec.refresh_policy, spec.deletion), (DEFAULT_REFRESH, RefreshPolicy::Periodic, DeletionPolicy::Retain));
    }

    #[test]
    fn refresh_decisions_follow_the_policy() {
        let now = 1_800_000_000 * 1_000_000_000i128;
        let at = |secs_ago: i64| time::rfc3339_unix(1_800_000_000 - secs_ago);
        let es = |policy: &str, interval: &str, synced_now: bool, secs_ago: i64| {
            let mut es = json!({"metadata": {"name": "es", "generation": 2, "annotations": {"force-sync": "1"}},
                "spec": {"secretStoreRef": {"name": "s"}, "refreshPolicy": policy, "refreshInterval": interval, "dataFrom": [{"extract": {"key": "k"}}]}});
            let synced = if synced_now { synced_resource_version(&es) } else { "1-old".to_string() };
            es["status"] = json!({"syncedResourceVersion": synced, "refreshTime": at(secs_ago)});
            es
        };
        let decide = |es: &Value| should_refresh(es, &parse_spec(es).unwrap(), now);
        // Periodic: due after the interval, or at once when the spec/metadata changed.
        assert!(!decide(&es("Periodic", "1h", true, 60)));
        assert!(decide(&es("Periodic", "1h", true, 3601)));
        assert!(decide(&es("Periodic", "1h", false, 60)));
        // refreshInterval 0: never again once synced, even on a change.
        assert!(!decide(&es("Periodic", "0", false, 99_999)));
        // OnChange: only on a change.
        assert!(!decide(&es("OnChange", "1s", true, 99_999)));
        assert!(decide(&es("OnChange", "1s", false, 1)));
        // CreatedOnce: never again once synced.
        assert!(!decide(&es("CreatedOnce", "1s", false, 99_999)));
        let mut fresh = es("CreatedOnce", "1h", false, 0);
        fresh["status"] = json!({});
        assert!(decide(&fresh));
        // The next periodic look comes when the interval is up.
        let e = es("Periodic", "1m", true, 20);
        let next = next_refresh(&e, &parse_spec(&e).unwrap(), now).unwrap();
        assert!(next > Duration::from_secs(39) && next < Duration::from_secs(41), "{next:?}");
        let e = es("Periodic", "24h", true, 0);
        assert_eq!(next_refresh(&e, &parse_spec(&e).unwrap(), now), Some(MAX_DELAY));
        let e = es("OnChange", "1m", true, 0);
        assert_eq!(next_refresh(&e, &parse_spec(&e).unwrap(), now), None);
    }

    #[test]
    fn target_secret_validity_uses_the_managed_label_and_data_hash() {
        let spec = spec_of(json!({"secretStoreRef": {"name": "s"}, "dataFrom": [{"extract": {"key": "k"}}]}));
        let data = BTreeMap::from([("a".to_string(), bytes("1"))]);
        let mut secret = json!({"metadata": {"name": "es", "namespace": "default"}});
        let es = json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": "es", "namespace": "default", "uid": "u1"}});
        mutate(&es, &spec, &data, &mut secret).expect("mutated");
        assert!(secret_valid(Some(&secret), &spec));
        assert_eq!(secret["data"]["a"], "MQ==");
        assert_eq!(secret["type"], "Opaque");
        assert_eq!(secret["metadata"]["ownerReferences"][0]["uid"], "u1");
        let mut edited = secret.clone();
        edited["data"]["a"] = json!("Mg==");
        assert!(!secret_valid(Some(&edited), &spec));
        assert!(!secret_valid(None, &spec));
    }

    #[test]
    fn templates_render_keys_and_pipes() {
        let data = BTreeMap::from([("user".to_string(), bytes("admin")), ("pass-word".to_string(), bytes("s3cret"))]);
        assert_eq!(render("postgres://{{ .user }}:{{ index . \"pass-word\" }}@db", &data).unwrap(), bytes("postgres://admin:s3cret@db"));
        assert_eq!(render("{{ .user | upper }}\n  {{- .user | b64enc -}}  !", &data).unwrap(), bytes("ADMINYWRtaW4=!"));
        assert_eq!(render("{{ .missing }}", &data).unwrap_err(), r#"map has no entry for key "missing""#);
        assert!(render("{{ .user | sha256sum }}", &data).is_err());
    }
}
