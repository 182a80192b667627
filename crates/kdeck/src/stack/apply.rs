//! Applying a stack's objects: server-side apply with field manager `kdeck`,
//! recorded as an ApplySet (KEP-3659, the labels and annotations kubectl
//! understands) so that objects that left the rendered set are pruned on the next
//! `up` and `down` knows what to remove. Deletes carry uid preconditions.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::Scope;
use serde::Serialize;
use serde_json::{Value, json};

use crate::cluster::Cluster;
use crate::cluster::delete::{self, Deleted, Precondition};
use crate::error::{Error, Result};
use crate::render::describe;

/// kdeck's field manager.
pub const FIELD_MANAGER: &str = "kdeck";
/// Where the ApplySet's parent lives.
pub const PARENT_NAMESPACE: &str = "default";

pub const PART_OF: &str = "applyset.kubernetes.io/part-of";
const ID: &str = "applyset.kubernetes.io/id";
const TOOLING: &str = "applyset.kubernetes.io/tooling";
const GROUP_KINDS: &str = "applyset.kubernetes.io/contains-group-kinds";
const NAMESPACES: &str = "applyset.kubernetes.io/additional-namespaces";
/// The Helm releases the stack installed, `namespace/release,…`.
const HELM_RELEASES: &str = "kdeck.dev/helm-releases";

/// A stack's ApplySet: its parent Secret and the id its members are labelled with.
#[derive(Clone, Debug)]
pub struct ApplySet {
    pub parent: String,
    pub id: String,
}

impl ApplySet {
    /// The ApplySet of the stack `name`: parent Secret `kdeck-stack-NAME` in `default`.
    pub fn of(stack: &str) -> ApplySet {
        let parent = format!("kdeck-stack-{stack}");
        // KEP-3659: base64url(sha256(<name>.<namespace>.<kind>.<group>)), no padding.
        let digest = ring::digest::digest(&ring::digest::SHA256, format!("{parent}.{PARENT_NAMESPACE}.Secret.").as_bytes());
        let id = format!("applyset-{}-v1", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref()));
        ApplySet { parent, id }
    }
}

/// What the parent records: the group-kinds and namespaces of members, the Helm releases.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inventory {
    pub group_kinds: BTreeSet<String>,
    pub namespaces: BTreeSet<String>,
    pub helm_releases: BTreeSet<String>,
}

impl Inventory {
    fn from_parent(parent: &Value) -> Inventory {
        let list = |key: &str| -> BTreeSet<String> {
            parent["metadata"]["annotations"][key].as_str().unwrap_or_default().split(',').filter(|s| !s.is_empty()).map(str::to_string).collect()
        };
        Inventory { group_kinds: list(GROUP_KINDS), namespaces: list(NAMESPACES), helm_releases: list(HELM_RELEASES) }
    }

    pub fn union(&self, other: &Inventory) -> Inventory {
        Inventory {
            group_kinds: self.group_kinds.union(&other.group_kinds).cloned().collect(),
            namespaces: self.namespaces.union(&other.namespaces).cloned().collect(),
            helm_releases: self.helm_releases.union(&other.helm_releases).cloned().collect(),
        }
    }
}

/// `Deployment.apps`, `Service` (core kinds have no group), as kubectl writes them.
pub fn group_kind(object: &Value) -> String {
    let kind = object["kind"].as_str().unwrap_or_default();
    match object["apiVersion"].as_str().unwrap_or_default().split_once('/') {
        Some((group, _)) => format!("{kind}.{group}"),
        None => kind.to_string(),
    }
}

/// The cluster's answer to "what is this kind": its resource and whether it is namespaced.
#[derive(Clone)]
pub struct Kind {
    pub resource: ApiResource,
    pub namespaced: bool,
}

/// Discovery, once per apiVersion/kind (and the namespaces known to exist).
#[derive(Default)]
pub struct Kinds {
    known: BTreeMap<(String, String), Kind>,
    namespaces: BTreeSet<String>,
}

impl Kinds {
    pub async fn of(&mut self, cluster: &Cluster, api_version: &str, kind: &str) -> Result<Kind> {
        let key = (api_version.to_string(), kind.to_string());
        if let Some(found) = self.known.get(&key) {
            return Ok(found.clone());
        }
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let (resource, caps) = kube::discovery::pinned_kind(&cluster.client, &gvk).await.map_err(|e| match e {
            kube::Error::Discovery(_) => Error::usage(format!("the cluster (context {:?}) does not serve {kind} in {api_version}", cluster.context))
                .hint("is its CustomResourceDefinition installed, or the apiVersion misspelt?"),
            kube::Error::Api(status) if status.code == 404 => {
                Error::usage(format!("the cluster (context {:?}) does not serve {kind} in {api_version}", cluster.context))
                    .hint("is its CustomResourceDefinition installed, or the apiVersion misspelt?")
            }
            other => cluster.error(&format!("discovering {kind} ({api_version})"), other),
        })?;
        let found = Kind { resource, namespaced: caps.scope == Scope::Namespaced };
        self.known.insert(key, found.clone());
        Ok(found)
    }

    /// The API for `object`, with its namespace fixed to what its kind is: a
    /// namespaced object without one gets `default`, a cluster-scoped one loses it.
    pub async fn api_for(&mut self, cluster: &Cluster, object: &mut Value) -> Result<Api<DynamicObject>> {
        let kind = self.of(cluster, object["apiVersion"].as_str().unwrap_or_default(), object["kind"].as_str().unwrap_or_default()).await?;
        if kind.namespaced {
            if object["metadata"]["namespace"].as_str().is_none_or(str::is_empty) {
                object["metadata"]["namespace"] = json!("default");
            }
            let ns = object["metadata"]["namespace"].as_str().unwrap_or("default").to_string();
            Ok(Api::namespaced_with(cluster.client.clone(), &ns, &kind.resource))
        } else {
            if let Some(meta) = object["metadata"].as_object_mut() {
                meta.remove("namespace");
            }
            Ok(Api::all_with(cluster.client.clone(), &kind.resource))
        }
    }
}

/// What applying an object does (or, with --dry-run, would do).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Change {
    Create,
    Update,
    Unchanged,
    Prune,
}

impl Change {
    pub fn text(self) -> &'static str {
        match self {
            Change::Create => "create",
            Change::Update => "update",
            Change::Unchanged => "unchanged",
            Change::Prune => "prune",
        }
    }
}

/// Applies `object` (server-side, field manager kdeck, labelled as a member of
/// `set`); with `dry_run` the server checks it and nothing is stored. Returns the
/// change and the object as the server has it (or would).
pub async fn apply(cluster: &Cluster, kinds: &mut Kinds, set: &ApplySet, mut object: Value, dry_run: bool, force: bool) -> Result<(Change, Value)> {
    let api = kinds.api_for(cluster, &mut object).await?;
    object["metadata"]["labels"][PART_OF] = json!(set.id);
    if let Some(meta) = object["metadata"].as_object_mut() {
        meta.remove("resourceVersion");
        meta.remove("uid");
        meta.remove("managedFields");
    }
    let name = object["metadata"]["name"].as_str().unwrap_or_default().to_string();
    let what = describe(&object);
    let before = api.get_opt(&name).await.map_err(|e| cluster.error(&format!("reading {what}"), e))?;
    let mut params = PatchParams::apply(FIELD_MANAGER);
    params.force = force;
    params.dry_run = dry_run;
    let after = api.patch(&name, &params, &Patch::Apply(&object)).await.map_err(|e| apply_error(cluster, &what, e))?;
    let after = serde_json::to_value(&after).unwrap_or_default();
    let change = match &before {
        None => Change::Create,
        Some(before) if comparable(&serde_json::to_value(before).unwrap_or_default()) == comparable(&after) => Change::Unchanged,
        Some(_) => Change::Update,
    };
    Ok((change, after))
}

fn apply_error(cluster: &Cluster, what: &str, e: kube::Error) -> Error {
    match &e {
        kube::Error::Api(status) if status.code == 409 => Error::failure(format!("applying {what}: {}", status.message))
            .hint("another field manager owns these fields; `kdeck up --force-conflicts` takes them over"),
        _ => cluster.error(&format!("applying {what}"), e),
    }
}

/// An object without what changes on every write, to tell "unchanged".
fn comparable(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(meta) = object["metadata"].as_object_mut() {
        for key in ["resourceVersion", "managedFields", "generation", "creationTimestamp", "uid"] {
            meta.remove(key);
        }
    }
    if let Some(map) = object.as_object_mut() {
        map.remove("status");
    }
    object
}

/// The parent Secret, if the stack was applied before.
pub async fn read_parent(cluster: &Cluster, set: &ApplySet) -> Result<Option<Value>> {
    let api: Api<DynamicObject> = Api::namespaced_with(cluster.client.clone(), PARENT_NAMESPACE, &secret_resource());
    let parent =
        api.get_opt(&set.parent).await.map_err(|e| cluster.error(&format!("reading the stack's record (Secret {PARENT_NAMESPACE}/{})", set.parent), e))?;
    Ok(parent.map(|p| serde_json::to_value(p).unwrap_or_default()))
}

/// What the parent recorded (empty when there is none).
pub fn inventory_of(parent: Option<&Value>) -> Inventory {
    parent.map(Inventory::from_parent).unwrap_or_default()
}

fn secret_resource() -> ApiResource {
    ApiResource::erase::<k8s_openapi::api::core::v1::Secret>(&())
}

/// Writes the parent with `inventory` (server-side apply: the annotations are kdeck's).
pub async fn write_parent(cluster: &Cluster, set: &ApplySet, inventory: &Inventory) -> Result<()> {
    let join = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(",");
    let namespaces: BTreeSet<String> = inventory.namespaces.iter().filter(|n| *n != PARENT_NAMESPACE).cloned().collect();
    let parent = json!({
        "apiVersion": "v1", "kind": "Secret", "type": "kdeck.dev/stack",
        "metadata": {"name": set.parent, "namespace": PARENT_NAMESPACE,
            "labels": {ID: set.id},
            "annotations": {TOOLING: format!("kdeck/v{}", env!("CARGO_PKG_VERSION")), GROUP_KINDS: join(&inventory.group_kinds),
                NAMESPACES: join(&namespaces), HELM_RELEASES: join(&inventory.helm_releases)}}
    });
    let api: Api<DynamicObject> = Api::namespaced_with(cluster.client.clone(), PARENT_NAMESPACE, &secret_resource());
    api.patch(&set.parent, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&parent))
        .await
        .map_err(|e| cluster.error(&format!("recording the stack (Secret {PARENT_NAMESPACE}/{})", set.parent), e))?;
    Ok(())
}

/// Removes the parent (the stack is gone).
pub async fn delete_parent(cluster: &Cluster, set: &ApplySet) -> Result<()> {
    let api: Api<DynamicObject> = Api::namespaced_with(cluster.client.clone(), PARENT_NAMESPACE, &secret_resource());
    match api.delete(&set.parent, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(cluster.error("removing the stack's record", e)),
    }
}

/// Every live member of the ApplySet among the group-kinds and namespaces of `inventory`.
pub async fn members(cluster: &Cluster, kinds: &mut Kinds, set: &ApplySet, inventory: &Inventory) -> Result<Vec<Value>> {
    let mut found = Vec::new();
    let selector = ListParams::default().labels(&format!("{PART_OF}={}", set.id));
    let mut namespaces = inventory.namespaces.clone();
    namespaces.insert(PARENT_NAMESPACE.to_string());
    for group_kind in &inventory.group_kinds {
        let Some(resource) = resolve_group_kind(cluster, kinds, group_kind).await? else { continue };
        let apis: Vec<Api<DynamicObject>> = if resource.namespaced {
            namespaces.iter().map(|ns| Api::namespaced_with(cluster.client.clone(), ns, &resource.resource)).collect()
        } else {
            vec![Api::all_with(cluster.client.clone(), &resource.resource)]
        };
        for api in apis {
            match api.list(&selector).await {
                Ok(list) => found.extend(list.items.into_iter().map(|o| {
                    let mut v = serde_json::to_value(o).unwrap_or_default();
                    v["apiVersion"] = json!(resource.resource.api_version);
                    v["kind"] = json!(resource.resource.kind);
                    v
                })),
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(cluster.error(&format!("listing the stack's {group_kind}"), e)),
            }
        }
    }
    Ok(found)
}

/// The served resource of `Kind.group` (its preferred version); None when the
/// cluster no longer serves it (a CRD removed: nothing of it is left to prune).
async fn resolve_group_kind(cluster: &Cluster, kinds: &mut Kinds, group_kind: &str) -> Result<Option<Kind>> {
    let (kind, group) = group_kind.split_once('.').unwrap_or((group_kind, ""));
    if group.is_empty() {
        return kinds.of(cluster, "v1", kind).await.map(Some).or(Ok(None));
    }
    let Ok(api_group) = kube::discovery::group(&cluster.client, group).await else { return Ok(None) };
    let version = api_group.preferred_version_or_latest().to_string();
    Ok(kinds.of(cluster, &format!("{group}/{version}"), kind).await.ok())
}

/// (group-kind, namespace, name) of an object: what identifies it across versions.
pub fn identity(object: &Value) -> (String, String, String) {
    (
        group_kind(object),
        object["metadata"]["namespace"].as_str().unwrap_or_default().to_string(),
        object["metadata"]["name"].as_str().unwrap_or_default().to_string(),
    )
}

/// Deletes `object` if it is still the one listed (its uid). Returns what happened, in words.
pub async fn delete_member(cluster: &Cluster, kinds: &mut Kinds, object: &Value) -> Result<String> {
    let mut object = object.clone();
    let api = kinds.api_for(cluster, &mut object).await?;
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let precondition = Precondition::uid(object["metadata"]["uid"].as_str().unwrap_or_default());
    let what = describe(&object);
    let params = DeleteParams { propagation_policy: Some(kube::api::PropagationPolicy::Background), ..Default::default() };
    match delete::planned(&api, name, &precondition, &params).await.map_err(|e| cluster.error(&format!("deleting {what}"), e))? {
        Deleted::Yes => Ok(format!("deleted {what}")),
        Deleted::AlreadyGone => Ok(format!("{what} was already gone")),
        Deleted::Changed(_) => Ok(format!("{what} changed since planned (another object of that name), skipped")),
    }
}

/// Makes sure namespace `ns` exists: read first (a user allowed only into
/// existing namespaces is never asked to create one), created when missing.
/// True when it was created.
pub async fn ensure_namespace(cluster: &Cluster, kinds: &mut Kinds, ns: &str) -> Result<bool> {
    if kinds.namespaces.contains(ns) {
        return Ok(false);
    }
    let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(cluster.client.clone());
    let exists = api.get_opt(ns).await.map_err(|e| cluster.error(&format!("reading namespace {ns}"), e))?.is_some();
    let created = !exists && create_if_missing(cluster, kinds, json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})).await?;
    kinds.namespaces.insert(ns.to_string());
    Ok(created)
}

/// Creates `object` if it does not exist (dev secrets); false when it was there.
pub async fn create_if_missing(cluster: &Cluster, kinds: &mut Kinds, mut object: Value) -> Result<bool> {
    let api = kinds.api_for(cluster, &mut object).await?;
    let what = describe(&object);
    let object: DynamicObject = serde_json::from_value(object).map_err(|e| Error::failure(format!("{what}: {e}")))?;
    match api.create(&PostParams { field_manager: Some(FIELD_MANAGER.into()), ..Default::default() }, &object).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
        Err(e) => Err(cluster.error(&format!("creating {what}"), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applyset_id_is_the_keps() {
        let set = ApplySet::of("shop");
        assert_eq!(set.parent, "kdeck-stack-shop");
        assert!(set.id.starts_with("applyset-") && set.id.ends_with("-v1"));
        // base64url of 32 bytes without padding: 43 characters, no '+', '/' or '='.
        let middle = &set.id["applyset-".len()..set.id.len() - 3];
        assert_eq!(middle.len(), 43);
        assert!(!middle.contains(['+', '/', '=']));
    }

    #[test]
    fn group_kinds_as_kubectl_writes_them() {
        assert_eq!(group_kind(&json!({"apiVersion": "apps/v1", "kind": "Deployment"})), "Deployment.apps");
        assert_eq!(group_kind(&json!({"apiVersion": "v1", "kind": "Service"})), "Service");
    }

    #[test]
    fn unchanged_ignores_what_every_write_changes() {
        let a = json!({"metadata": {"name": "x", "resourceVersion": "1", "managedFields": []}, "data": {"k": "v"}, "status": {}});
        let b = json!({"metadata": {"name": "x", "resourceVersion": "2"}, "data": {"k": "v"}});
        assert_eq!(comparable(&a), comparable(&b));
    }
}
