//! Strategic merge patch (`application/strategic-merge-patch+json`) for built-in kinds.
//!
//! The apiserver applies these patches with `StrategicMergeMapPatch` from
//! `k8s.io/apimachinery/pkg/util/strategicpatch`. This module follows that code (as of
//! apimachinery v0.36), so that the clients that send such patches get the same object back as
//! they would from a real cluster. Those clients are `kubectl apply` (client-side),
//! `kubectl patch --type strategic`, `kubectl set image`, `kubectl rollout restart`,
//! `kubectl label` and `kubectl annotate`.
//!
//! # Semantics
//!
//! * Objects merge key by key, recursively. A `null` patch value deletes the key.
//! * How a list merges depends on the field's `patchStrategy`/`patchMergeKey` struct tags in
//!   `k8s.io/api`. They are copied below into `KINDS` as a table keyed by kind and field path:
//!   - merge on a key (e.g. containers on `name`): patch items update the live item with the
//!     same key, and new items are added;
//!   - merge primitives (e.g. `metadata.finalizers`): the lists are unioned;
//!   - anything else (no tag, or a path not in the table): the patch list replaces the live one.
//!
//!   A merged list is ordered as the Go code orders it. Patch items keep the patch's order.
//!   Live-only items keep their live order and are interleaved with the patch items by their
//!   live positions. A patch item new to the list therefore comes *before* the live-only
//!   items, as the `kubectl patch` tutorial shows.
//! * Directives:
//!   - `$patch: replace` in an object replaces the object; as a list item it replaces the list;
//!   - `$patch: delete` in an object empties it (the field stays, as `{}`); as a list item it
//!     deletes the items with its merge key;
//!   - `$patch: merge` is an error, as in Go (older docs list it, but no apiserver took it);
//!   - `$retainKeys: [..]` clears the live fields not listed, and rejects patch fields not
//!     listed;
//!   - `$setElementOrder/<field>: [..]`, which `kubectl apply` and `kubectl set image` send,
//!     gives the final order of a merging list's items. Where server-only items land follows
//!     Go, down to a quirk of Go's slices (see `go_live_view`);
//!   - `$deleteFromPrimitiveList/<field>: [..]` removes values from a list of primitives.
//!
//!   No directive key is ever stored: values added as they are lose their `$` keys, which is
//!   what the apiserver's typed decoding does to them.
//! * Errors leave the target untouched, and nothing panics on any input.
//!
//! # Where this differs from the Go code
//!
//! Only in cases `kubectl` never sends, where Go does something odd or panics (an HTTP 500):
//! * An unknown `$`-prefixed key in a patch object is an error. Go would store it, and typed
//!   decoding would then drop it, or reject it under strict field validation.
//! * `$deleteFromPrimitiveList/<field>` on a list of objects, or with a value that is neither a
//!   list nor `null`, is an error. Go would merge the values into the list.
//! * `$setElementOrder/<field>` on a field that is not a merging list is ignored, and the field
//!   is patched as usual. Go would reorder the list, or panic.
//! * Integers and floats count as one type inside a list (Go tells `1` from `1.5`).
//!
//! Some things are not modelled at all. Typed decoding only goes as far as removing `$` keys and
//! `null` fields from values stored as they are. Strict field validation is left out. The table
//! depends on the kind alone, not on the API version: the tags agree across the versions the
//! sandbox serves. Custom resources never get strategic merge in a real cluster; the caller
//! rejects those patches, and an unknown kind only gets the `metadata` rules here.

use std::{fmt, mem};

use serde_json::{Map, Value};

// ---------------------------------------------------------------------------------------------
// Merge-key table: the `patchStrategy`/`patchMergeKey` tags of k8s.io/api, checked against
// every tagged path reachable from a v1 kind in the Kubernetes 1.37 OpenAPI schema.
// ---------------------------------------------------------------------------------------------

/// How a field combines with the live value: its `patchStrategy` and `patchMergeKey` tags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Strategy {
    /// No tag: objects merge field by field, lists are replaced whole.
    Default,
    /// `patchStrategy:"merge"` with `patchMergeKey`: list items are matched on this field.
    MergeOnKey(&'static str),
    /// `patchStrategy:"merge"` on a list of primitives: the lists are unioned.
    MergePrimitives,
    /// `patchStrategy:"replace"`: the patch value replaces the field whole, even an object.
    Replace,
}

impl Strategy {
    fn merges_lists(self) -> bool {
        matches!(self, MergeOnKey(_) | MergePrimitives)
    }

    fn merge_key(self) -> Option<&'static str> {
        match self {
            MergeOnKey(key) => Some(key),
            _ => None,
        }
    }
}

/// One table entry. Paths are dot-separated field names, and `[]` steps into a list's items.
enum Rule {
    /// The field at this path, relative to where the rule set sits, has this strategy.
    Field(&'static str, Strategy),
    /// The rule set applies to the object found at this path.
    Nested(&'static str, &'static [Rule]),
}

use Rule::{Field, Nested};
use Strategy::{MergeOnKey, MergePrimitives, Replace};

/// `ObjectMeta`: every object's `metadata`, and every template's.
const OBJECT_META: &[Rule] = &[Field("finalizers", MergePrimitives), Field("ownerReferences", MergeOnKey("uid"))];

/// `Container` and `EphemeralContainer`. Untagged, so replaced whole: `args`, `command`,
/// `envFrom`, `resizePolicy`, ...
const CONTAINER: &[Rule] = &[
    Field("env", MergeOnKey("name")),
    Field("ports", MergeOnKey("containerPort")),
    Field("volumeMounts", MergeOnKey("mountPath")),
    Field("volumeDevices", MergeOnKey("devicePath")),
];

/// `PodSpec`. Untagged, so replaced whole: `tolerations`, `readinessGates`, ...
/// `topologySpreadConstraints` merges on `topologyKey` alone: a strategic merge has a single
/// merge key, and `whenUnsatisfiable`, the other half of its list-map key, only matters to
/// server-side apply.
const POD_SPEC: &[Rule] = &[
    Field("containers", MergeOnKey("name")),
    Nested("containers[]", CONTAINER),
    Field("initContainers", MergeOnKey("name")),
    Nested("initContainers[]", CONTAINER),
    Field("ephemeralContainers", MergeOnKey("name")),
    Nested("ephemeralContainers[]", CONTAINER),
    Field("volumes", MergeOnKey("name")),
    Nested("volumes[].ephemeral.volumeClaimTemplate.metadata", OBJECT_META),
    Field("imagePullSecrets", MergeOnKey("name")),
    Field("hostAliases", MergeOnKey("ip")),
    Field("topologySpreadConstraints", MergeOnKey("topologyKey")),
    Field("resourceClaims", MergeOnKey("name")),
    Field("schedulingGates", MergeOnKey("name")),
    Field("evictionResponders", MergeOnKey("name")),
];

/// `PodTemplateSpec`: the `template` of every pod controller.
const POD_TEMPLATE_SPEC: &[Rule] = &[Nested("metadata", OBJECT_META), Nested("spec", POD_SPEC)];

/// `PodStatus`. `containerStatuses` is untagged, so replaced whole.
const POD_STATUS: &[Rule] = &[
    Field("conditions", MergeOnKey("type")),
    Field("podIPs", MergeOnKey("ip")),
    Field("hostIPs", MergeOnKey("ip")),
    Field("resourceClaimStatuses", MergeOnKey("name")),
    Field("nodeAllocatableResourceClaimStatuses", MergeOnKey("resourceClaimName")),
    Field("nodeAllocatableResourceClaimStatuses[].mapping", MergeOnKey("name")),
    Field("nodeAllocatableResourceClaimStatuses[].overhead", MergeOnKey("name")),
];

/// Deployment, StatefulSet, DaemonSet, ReplicaSet and ReplicationController.
const POD_CONTROLLER: &[Rule] = &[Nested("spec.template", POD_TEMPLATE_SPEC), Field("status.conditions", MergeOnKey("type"))];

/// Kinds whose only tagged list is `status.conditions`.
const STATUS_CONDITIONS: &[Rule] = &[Field("status.conditions", MergeOnKey("type"))];

const WEBHOOK_CONFIGURATION: &[Rule] = &[Field("webhooks", MergeOnKey("name")), Field("webhooks[].matchConditions", MergeOnKey("name"))];

/// Rules that hold for every kind, known or not.
const EVERY_KIND: &[Rule] = &[Nested("metadata", OBJECT_META)];

/// Each kind's rules, from the object's root. Kinds that are absent have only [`EVERY_KIND`].
/// Nothing else is tagged: `Endpoints`, `EndpointSlice`, `Ingress`, `ConfigMap`, `Secret`, ...
const KINDS: &[(&str, &[Rule])] = &[
    ("Pod", &[Nested("spec", POD_SPEC), Nested("status", POD_STATUS)]),
    ("PodTemplate", &[Nested("template", POD_TEMPLATE_SPEC)]),
    ("Deployment", POD_CONTROLLER),
    ("StatefulSet", POD_CONTROLLER),
    ("DaemonSet", POD_CONTROLLER),
    ("ReplicaSet", POD_CONTROLLER),
    ("ReplicationController", POD_CONTROLLER),
    (
        "Job",
        &[
            Nested("spec.template", POD_TEMPLATE_SPEC),
            Field("spec.scheduling.resourceClaims", MergeOnKey("name")),
            Field("status.conditions", MergeOnKey("type")),
        ],
    ),
    (
        "CronJob",
        &[
            Nested("spec.jobTemplate.metadata", OBJECT_META),
            Nested("spec.jobTemplate.spec.template", POD_TEMPLATE_SPEC),
            Field("spec.jobTemplate.spec.scheduling.resourceClaims", MergeOnKey("name")),
        ],
    ),
    ("Service", &[Field("spec.ports", MergeOnKey("port")), Field("status.conditions", MergeOnKey("type"))]),
    ("Node", &[Field("spec.podCIDRs", MergePrimitives), Field("status.addresses", MergeOnKey("type")), Field("status.conditions", MergeOnKey("type"))]),
    ("Namespace", STATUS_CONDITIONS),
    ("PersistentVolumeClaim", &[Field("status.conditions", MergeOnKey("type")), Field("status.healthStatus.healthConditions", MergeOnKey("status"))]),
    ("ServiceAccount", &[Field("secrets", MergeOnKey("name"))]),
    ("ComponentStatus", &[Field("conditions", MergeOnKey("type"))]),
    ("HorizontalPodAutoscaler", STATUS_CONDITIONS),
    ("PodDisruptionBudget", &[Field("spec.selector", Replace), Field("status.conditions", MergeOnKey("type"))]),
    ("MutatingWebhookConfiguration", WEBHOOK_CONFIGURATION),
    ("ValidatingWebhookConfiguration", WEBHOOK_CONFIGURATION),
    ("MutatingAdmissionPolicy", &[Field("spec.matchConditions", MergeOnKey("name"))]),
    ("ValidatingAdmissionPolicy", &[Field("spec.matchConditions", MergeOnKey("name")), Field("spec.variables", MergeOnKey("name"))]),
    ("CSINode", &[Field("spec.drivers", MergeOnKey("name")), Field("status.storageHealth", MergeOnKey("name"))]),
    ("ResourceClaim", &[Field("status.reservedFor", MergeOnKey("uid"))]),
    ("ResourceClaimTemplate", &[Nested("spec.metadata", OBJECT_META)]),
    ("APIService", STATUS_CONDITIONS),
    ("FlowSchema", STATUS_CONDITIONS),
    ("PriorityLevelConfiguration", STATUS_CONDITIONS),
    ("ServiceCIDR", STATUS_CONDITIONS),
    ("StorageVersionMigration", STATUS_CONDITIONS),
    ("DeviceTaintRule", STATUS_CONDITIONS),
    ("PodCertificateRequest", STATUS_CONDITIONS),
];

/// The path segment that stands for "an item of this list".
const ITEM: &str = "[]";

/// Looks up the strategy of the field at `path` in an object of `kind`.
fn table_strategy(kind: &str, path: &[&str]) -> Strategy {
    let kind_rules = KINDS.iter().find(|(name, _)| *name == kind).map_or(&[][..], |(_, rules)| *rules);
    match_rules(EVERY_KIND, path).or_else(|| match_rules(kind_rules, path)).unwrap_or(Strategy::Default)
}

fn match_rules(rules: &[Rule], path: &[&str]) -> Option<Strategy> {
    rules.iter().find_map(|rule| match rule {
        Field(pattern, strategy) => strip_pattern(pattern, path).filter(|rest| rest.is_empty()).map(|_| *strategy),
        Nested(pattern, inner) => strip_pattern(pattern, path).and_then(|rest| match_rules(inner, rest)),
    })
}

/// Returns what is left of `path` after `pattern`, if `path` starts with it.
/// Matching segment by segment, not as strings, keeps a dotted map key (an annotation, say)
/// from passing for a path.
fn strip_pattern<'p, 's>(pattern: &str, path: &'p [&'s str]) -> Option<&'p [&'s str]> {
    let mut rest = path;
    for segment in pattern_segments(pattern) {
        let (first, tail) = rest.split_first()?;
        if *first != segment {
            return None;
        }
        rest = tail;
    }
    Some(rest)
}

/// Splits `"containers[].env"` into `"containers"`, `"[]"`, `"env"`.
fn pattern_segments(pattern: &str) -> impl Iterator<Item = &str> {
    pattern
        .split('.')
        .flat_map(|part| match part.strip_suffix(ITEM) {
            Some(field) => [Some(field), Some(ITEM)],
            None => [Some(part), None],
        })
        .flatten()
}

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

/// Why a patch could not be applied. Each message names the path and the directive at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StrategicMergeError {
    #[error("a strategic merge patch must be a JSON object, got {found}")]
    PatchNotAnObject { found: &'static str },
    #[error("the object to patch must be a JSON object, got {found}")]
    TargetNotAnObject { found: &'static str },
    #[error("the patch nests deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("{path}: invalid `$patch` value {value}, expected \"replace\" or \"delete\"")]
    InvalidPatchDirective { path: String, value: String },
    #[error("{path}: `$patch: merge` cannot be specified in a patch")]
    MergeDirectiveNotAllowed { path: String },
    #[error("{path}: unknown or malformed directive `{key}`")]
    UnknownDirective { path: String, key: String },
    #[error("{path}: `{directive}` must be a list, got {found}")]
    DirectiveNotAList { path: String, directive: String, found: &'static str },
    #[error("{path}: field `{field}` is in the patch but not in `$retainKeys`")]
    NotInRetainKeys { path: String, field: String },
    #[error("{path}: the patch list's items are not in the order `$setElementOrder` gives")]
    ElementOrderMismatch { path: String },
    #[error("{path}: `$setElementOrder` cannot order a list that is empty in both the object and the patch")]
    EmptyOrderedList { path: String },
    #[error("{path}: expected a list, got {found}")]
    NotAList { path: String, found: &'static str },
    #[error("{path}: list item has no merge key `{key}`")]
    MissingMergeKey { path: String, key: &'static str },
    #[error("{path}: list items must be objects with merge key `{key}`, got {found}")]
    ItemNotAnObject { path: String, key: &'static str, found: &'static str },
    #[error("{path}: a list of objects without a merge key cannot be merged")]
    NoMergeKey { path: String },
    #[error("{path}: list mixes {first} and {second} items")]
    MixedListItems { path: String, first: &'static str, second: &'static str },
    #[error("{path}: lists of lists cannot be merged")]
    ListOfLists { path: String },
    #[error("{path}: `$deleteFromPrimitiveList` only applies to lists of primitives")]
    DeleteFromObjectList { path: String },
}

type Error = StrategicMergeError;
type Result<T> = std::result::Result<T, Error>;

/// How deep a patch may nest. The merge recurses along the patch, so this bounds the stack
/// (serde_json's parser stops at 128 levels anyway).
const MAX_DEPTH: usize = 128;

/// Applies a strategic merge patch to `target` in place.
/// `kind` is the object's kind ("Deployment", "Pod", "Service", ...) so merge keys can
/// depend on where a list sits (a Service's `spec.ports` merge on `port`, a container's
/// `ports` on `containerPort`).
pub fn apply(target: &mut Value, patch: &Value, kind: &str) -> Result<()> {
    apply_with(target, patch, &|path: &[&str]| table_strategy(kind, path))
}

/// Maps a field path (segments, with [`ITEM`] for list items) to its strategy.
type StrategyOf<'s> = &'s dyn Fn(&[&str]) -> Strategy;

/// [`apply`] with the merge-key table abstracted, so tests can drive the algorithm with the
/// schema of apimachinery's own test suite.
fn apply_with(target: &mut Value, patch: &Value, strategy_of: StrategyOf<'_>) -> Result<()> {
    let Value::Object(patch) = patch else {
        return Err(Error::PatchNotAnObject { found: type_name(patch) });
    };
    let Value::Object(live) = target else {
        return Err(Error::TargetNotAnObject { found: type_name(target) });
    };
    check_depth(patch)?;
    // Work on a copy: like the apiserver, a patch that fails changes nothing.
    let mut merged = live.clone();
    Merger { strategy_of }.merge_map(&mut merged, patch, &Path::default())?;
    *live = merged;
    Ok(())
}

fn check_depth(patch: &Map<String, Value>) -> Result<()> {
    let mut pending: Vec<(&Value, usize)> = patch.values().map(|value| (value, 1)).collect();
    while let Some((value, depth)) = pending.pop() {
        if depth > MAX_DEPTH {
            return Err(Error::TooDeep);
        }
        match value {
            Value::Object(map) => pending.extend(map.values().map(|child| (child, depth + 1))),
            Value::Array(items) => pending.extend(items.iter().map(|child| (child, depth + 1))),
            _ => {}
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------------------------

/// Where the merge is, as field names and [`ITEM`]s: what the table is looked up by.
#[derive(Clone, Default)]
struct Path<'a>(Vec<&'a str>);

impl<'a> Path<'a> {
    fn field(&self, name: &'a str) -> Self {
        let mut segments = self.0.clone();
        segments.push(name);
        Path(segments)
    }

    fn item(&self) -> Self {
        self.field(ITEM)
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("<root>");
        }
        for (index, segment) in self.0.iter().enumerate() {
            if index > 0 && *segment != ITEM {
                f.write_str(".")?;
            }
            f.write_str(segment)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Directives
// ---------------------------------------------------------------------------------------------

const PATCH: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";

/// For a key `"<prefix>/<field>"` returns `field`; `None` if the key lacks the prefix.
fn directive_field<'a>(key: &'a str, prefix: &str, path: &Path<'_>) -> Result<Option<&'a str>> {
    if !key.starts_with(prefix) {
        return Ok(None);
    }
    match key.split_once('/') {
        Some((head, field)) if head == prefix && !field.is_empty() => Ok(Some(field)),
        _ => Err(Error::UnknownDirective { path: path.to_string(), key: key.to_owned() }),
    }
}

fn has_patch_marker(item: &Value) -> bool {
    item.as_object().is_some_and(|map| map.contains_key(PATCH))
}

// ---------------------------------------------------------------------------------------------
// Values taken from the patch as they are
// ---------------------------------------------------------------------------------------------

/// What [`clean`] does with an object that carries `$patch`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PatchMarkers {
    /// Drop the object. The apiserver does this with a value it adds to a field the object
    /// lacks (`removeDirectives`).
    Drop,
    /// Keep the object without the marker. This is what typed decoding leaves of a value that
    /// Go copies verbatim: a replaced list or object, or a newly appended list item.
    Strip,
}

/// Copies a patch value for storage: no `$` keys, no `null` fields.
fn clean(value: &Value, markers: PatchMarkers) -> Option<Value> {
    match value {
        Value::Object(map) if markers == PatchMarkers::Drop && map.contains_key(PATCH) => None,
        Value::Object(map) => Some(Value::Object(clean_map(map, markers))),
        Value::Array(items) => Some(Value::Array(clean_items(items, markers))),
        other => Some(other.clone()),
    }
}

fn clean_map(map: &Map<String, Value>, markers: PatchMarkers) -> Map<String, Value> {
    map.iter().filter(|(key, value)| !key.starts_with('$') && !value.is_null()).filter_map(|(key, value)| Some((key.clone(), clean(value, markers)?))).collect()
}

fn clean_items(items: &[Value], markers: PatchMarkers) -> Vec<Value> {
    items.iter().filter_map(|item| clean(item, markers)).collect()
}

// ---------------------------------------------------------------------------------------------
// The merge
// ---------------------------------------------------------------------------------------------

struct Merger<'s> {
    strategy_of: StrategyOf<'s>,
}

impl Merger<'_> {
    fn strategy(&self, path: &Path<'_>) -> Strategy {
        (self.strategy_of)(&path.0)
    }

    /// Merges `patch` into the live object `live` (Go's `mergeMap`).
    fn merge_map<'a>(&self, live: &mut Map<String, Value>, patch: &'a Map<String, Value>, path: &Path<'a>) -> Result<()> {
        if let Some(directive) = patch.get(PATCH) {
            return map_directive(live, patch, directive, path);
        }
        apply_retain_keys(live, patch, path)?;

        // Lists with a `$setElementOrder` are merged and ordered first, so the loop below
        // skips them.
        let mut ordered = Vec::new();
        for (key, value) in patch {
            if let Some(field) = directive_field(key, SET_ELEMENT_ORDER, path)?
                && self.merge_ordered_list(live, patch, field, value, path)?
            {
                ordered.push(field);
            }
        }

        // Deletions from primitive lists go last, so that a patch that both adds to and
        // deletes from a list is deterministic (Go's map order makes it random).
        let mut deletions = Vec::new();
        for (key, value) in patch {
            if key == RETAIN_KEYS || key.starts_with(SET_ELEMENT_ORDER) || ordered.contains(&key.as_str()) {
                continue;
            }
            if let Some(field) = directive_field(key, DELETE_FROM_PRIMITIVE_LIST, path)? {
                deletions.push((field, value));
            } else if key.starts_with('$') {
                return Err(Error::UnknownDirective { path: path.to_string(), key: key.clone() });
            } else {
                self.merge_field(live, key, value, path)?;
            }
        }
        for (field, value) in deletions {
            self.delete_from_primitive_list(live, field, value, path)?;
        }
        Ok(())
    }

    /// Merges one patch field into `live` (the loop body of Go's `mergeMap`).
    fn merge_field<'a>(&self, live: &mut Map<String, Value>, key: &'a str, patch_value: &'a Value, path: &Path<'a>) -> Result<()> {
        if patch_value.is_null() {
            live.remove(key);
            return Ok(());
        }
        let field_path = path.field(key);
        match (live.get_mut(key), patch_value) {
            (Some(Value::Object(existing)), Value::Object(patch_map)) => {
                if self.strategy(&field_path) == Replace {
                    *existing = clean_map(patch_map, PatchMarkers::Strip);
                } else {
                    self.merge_map(existing, patch_map, &field_path)?;
                }
                return Ok(());
            }
            (Some(Value::Array(existing)), Value::Array(patch_items)) => {
                let strategy = self.strategy(&field_path);
                *existing = if strategy.merges_lists() {
                    self.merge_list(mem::take(existing), patch_items, strategy, false, &field_path)?
                } else {
                    clean_items(patch_items, PatchMarkers::Strip)
                };
                return Ok(());
            }
            _ => {}
        }
        // A new field, a scalar, or a change of type: the patch value is taken as it is.
        match clean(patch_value, PatchMarkers::Drop) {
            Some(value) => live.insert(key.to_owned(), value),
            None => live.remove(key),
        };
        Ok(())
    }

    /// `$deleteFromPrimitiveList/<field>`: removes the listed values from a primitive list.
    fn delete_from_primitive_list<'a>(&self, live: &mut Map<String, Value>, field: &'a str, values: &'a Value, path: &Path<'a>) -> Result<()> {
        let list_path = path.field(field);
        match values {
            // As in Go, a null deletion list deletes the field, like `field: null` would.
            Value::Null => {
                live.remove(field);
            }
            Value::Array(values) => {
                // Nothing to delete from a missing list (Go used to add the values instead,
                // kubernetes#105146) or from a field that is not a list.
                if let Some(Value::Array(existing)) = live.get_mut(field) {
                    let strategy = self.strategy(&list_path);
                    *existing = self.merge_list(mem::take(existing), values, strategy, true, &list_path)?;
                }
            }
            other => {
                return Err(Error::DirectiveNotAList {
                    path: path.to_string(),
                    directive: format!("{DELETE_FROM_PRIMITIVE_LIST}/{field}"),
                    found: type_name(other),
                });
            }
        }
        Ok(())
    }

    /// Merges the patch list into the live list (Go's `mergeSlice`). With `deleting`, the
    /// patch list holds the values to delete from a list of primitives.
    fn merge_list<'a>(&self, live: Vec<Value>, patch: &'a [Value], strategy: Strategy, deleting: bool, path: &Path<'a>) -> Result<Vec<Value>> {
        let Some(item_type) = item_type(live.iter().chain(patch), path)? else {
            return Ok(live);
        };
        let is_object = item_type == OBJECT;
        if deleting {
            if is_object {
                return Err(Error::DeleteFromObjectList { path: path.to_string() });
            }
            return Ok(live.into_iter().filter(|item| !patch.contains(item)).collect());
        }
        match strategy.merge_key() {
            Some(key) if is_object => self.merge_objects(live, patch, key, path),
            _ => {
                check_item_shape(item_type, strategy.merge_key(), path)?;
                merge_primitives(live, patch, path)
            }
        }
    }

    /// Merges lists of objects matched on `key`.
    fn merge_objects<'a>(&self, live: Vec<Value>, patch: &'a [Value], key: &'static str, path: &Path<'a>) -> Result<Vec<Value>> {
        let ListPatch { base, items } = apply_list_directives(live, patch, key, path)?;
        let item_path = path.item();
        let mut merged = base.clone();
        let mut patch_order = Vec::with_capacity(items.len());
        for item in items {
            let id = item.get(key).ok_or_else(|| missing_key(path, key))?;
            patch_order.push(id);
            // The first live item with the same key takes the patch; duplicates stay as
            // they are.
            match merged.iter_mut().find(|candidate| candidate.get(key) == Some(id)) {
                Some(Value::Object(existing)) => self.merge_map(existing, item, &item_path)?,
                _ => merged.push(Value::Object(clean_map(item, PatchMarkers::Strip))),
            }
        }
        let server_order = identities(&base, Some(key), path)?;
        normalize_order(merged, &patch_order, &server_order, Some(key), path)
    }

    /// `$setElementOrder/<field>` (Go's `mergePatchIntoOriginal`): merges the field's list,
    /// then orders it as the directive says. Returns whether it took care of the field.
    fn merge_ordered_list<'a>(
        &self,
        live: &mut Map<String, Value>,
        patch: &'a Map<String, Value>,
        field: &'a str,
        order: &'a Value,
        path: &Path<'a>,
    ) -> Result<bool> {
        let list_path = path.field(field);
        let Value::Array(order) = order else {
            return Err(Error::DirectiveNotAList { path: path.to_string(), directive: format!("{SET_ELEMENT_ORDER}/{field}"), found: type_name(order) });
        };
        let strategy = self.strategy(&list_path);
        if !strategy.merges_lists() {
            return Ok(false);
        }
        let key = strategy.merge_key();
        let live_list = optional_list(live.get(field), &list_path)?;
        let patch_list = optional_list(patch.get(field), &list_path)?;
        validate_element_order(patch_list, order, key, &list_path)?;

        let merged = match (live_list, patch_list) {
            (None, None) => return Ok(true),
            (Some(live_list), None) => live_list.clone(),
            (None, Some(patch_list)) => clean_items(patch_list, PatchMarkers::Drop),
            (Some(live_list), Some(patch_list)) => self.merge_list(live_list.clone(), patch_list, strategy, false, &list_path)?,
        };
        let all_items = live_list.into_iter().flatten().chain(patch_list.into_iter().flatten());
        let Some(item_type) = item_type(all_items, &list_path)? else {
            return Err(Error::EmptyOrderedList { path: list_path.to_string() });
        };
        check_item_shape(item_type, key, &list_path)?;

        let order_ids = identities(order, key, &list_path)?;
        let live_ids = match (live_list, patch_list, key) {
            (Some(live_list), Some(patch_list), Some(key)) => go_live_view(live_list, patch_list, key),
            _ => identities(live_list.map_or(&[][..], Vec::as_slice), key, &list_path)?,
        };
        let ordered = normalize_order(merged, &order_ids, &live_ids, key, &list_path)?;
        live.insert(field.to_owned(), Value::Array(ordered));
        Ok(true)
    }
}

/// `$patch` on an object: `replace` swaps the object for the patch, `delete` empties it.
fn map_directive(live: &mut Map<String, Value>, patch: &Map<String, Value>, directive: &Value, path: &Path<'_>) -> Result<()> {
    match directive.as_str() {
        Some("replace") => *live = clean_map(patch, PatchMarkers::Strip),
        Some("delete") => live.clear(),
        Some("merge") => {
            return Err(Error::MergeDirectiveNotAllowed { path: path.to_string() });
        }
        _ => {
            return Err(Error::InvalidPatchDirective { path: path.to_string(), value: directive.to_string() });
        }
    }
    Ok(())
}

/// `$retainKeys`: live fields not listed are cleared. Every patch field must be listed, but
/// for nulls and parallel-list directives.
fn apply_retain_keys(live: &mut Map<String, Value>, patch: &Map<String, Value>, path: &Path<'_>) -> Result<()> {
    let Some(retain) = patch.get(RETAIN_KEYS) else {
        return Ok(());
    };
    let Value::Array(retain) = retain else {
        return Err(Error::DirectiveNotAList { path: path.to_string(), directive: RETAIN_KEYS.to_owned(), found: type_name(retain) });
    };
    let retained = |field: &str| retain.iter().any(|name| name.as_str() == Some(field));
    for (key, value) in patch {
        let exempt = key == RETAIN_KEYS || value.is_null() || key.starts_with(DELETE_FROM_PRIMITIVE_LIST) || key.starts_with(SET_ELEMENT_ORDER);
        if !exempt && !retained(key) {
            return Err(Error::NotInRetainKeys { path: path.to_string(), field: key.clone() });
        }
    }
    live.retain(|key, _| retained(key));
    Ok(())
}

/// A merging list once its `$patch` items are handled.
struct ListPatch<'a> {
    /// The live items left after deletions, or the patch's items if one says `replace`.
    base: Vec<Value>,
    /// The patch items still to merge into `base`.
    items: Vec<&'a Map<String, Value>>,
}

/// Handles the `$patch` items of a merging list (Go's `mergeSliceWithSpecialElements`).
fn apply_list_directives<'a>(live: Vec<Value>, patch: &'a [Value], key: &'static str, path: &Path<'_>) -> Result<ListPatch<'a>> {
    let mut base = live;
    let mut items = Vec::with_capacity(patch.len());
    let mut replace = false;
    for value in patch {
        let Value::Object(item) = value else {
            return Err(not_an_object(path, key, value));
        };
        let Some(directive) = item.get(PATCH) else {
            items.push(item);
            continue;
        };
        match directive.as_str() {
            Some("delete") => {
                let id = item.get(key).ok_or_else(|| missing_key(path, key))?;
                base.retain(|candidate| candidate.get(key) != Some(id));
            }
            // Keep going: the other directive items must still be checked and dropped.
            Some("replace") => replace = true,
            Some("merge") => {
                return Err(Error::MergeDirectiveNotAllowed { path: path.to_string() });
            }
            _ => {
                return Err(Error::InvalidPatchDirective { path: path.to_string(), value: directive.to_string() });
            }
        }
    }
    if replace {
        base = items.drain(..).map(|item| Value::Object(clean_map(item, PatchMarkers::Strip))).collect();
    }
    Ok(ListPatch { base, items })
}

/// Unions two lists of primitives, without duplicates, in merge order.
fn merge_primitives(live: Vec<Value>, patch: &[Value], path: &Path<'_>) -> Result<Vec<Value>> {
    let mut merged: Vec<Value> = Vec::with_capacity(live.len() + patch.len());
    for item in live.iter().chain(patch) {
        if !merged.contains(item) {
            merged.push(item.clone());
        }
    }
    let patch_order: Vec<&Value> = patch.iter().collect();
    let live_order: Vec<&Value> = live.iter().collect();
    normalize_order(merged, &patch_order, &live_order, None, path)
}

/// `$setElementOrder` must list the patch's items (bar directive items) in the patch's order.
fn validate_element_order(patch_list: Option<&Vec<Value>>, order: &[Value], key: Option<&'static str>, path: &Path<'_>) -> Result<()> {
    let Some(patch_list) = patch_list else {
        return Ok(());
    };
    if order.is_empty() || patch_list.is_empty() {
        return Ok(());
    }
    let mut pending = Vec::with_capacity(patch_list.len());
    for item in patch_list {
        if let Some(key) = key {
            let Value::Object(map) = item else {
                return Err(not_an_object(path, key, item));
            };
            if map.get(PATCH).and_then(Value::as_str) == Some("delete") {
                continue;
            }
        }
        if !has_patch_marker(item) {
            pending.push(item);
        }
    }
    // The pending items must be a subsequence of the order list.
    let mut pending = pending.into_iter().peekable();
    for entry in order {
        let Some(next) = pending.peek() else {
            break;
        };
        if identity_of(next, key, path)? == identity_of(entry, key, path)? {
            pending.next();
        }
    }
    if pending.peek().is_some() {
        return Err(Error::ElementOrderMismatch { path: path.to_string() });
    }
    Ok(())
}

/// The live list, by merge-key value, as Go's `$setElementOrder` pass sees it once the list
/// has been merged.
///
/// Go reads the live list there through the slice it had before the merge, and slices share
/// their backing array. Deleting an item shifts the ones after it left in place. Appending an
/// item then fills the slots freed at the end. The old slice sees those writes, so this
/// replays them: they decide where server-only items land. Two apimachinery fixtures pin this
/// down, e.g. "add map and delete map from merging list".
fn go_live_view<'v>(live: &'v [Value], patch: &'v [Value], key: &str) -> Vec<&'v Value> {
    let mut slots: Vec<Option<&Value>> = live.iter().map(|item| item.get(key)).collect();
    let mut len = slots.len();
    let mut replaced = false;
    for item in patch {
        match item.get(PATCH).and_then(Value::as_str) {
            Some("delete") => {
                let id = item.get(key);
                while let Some(at) = slots[..len].iter().position(|slot| *slot == id) {
                    slots.copy_within(at + 1..len, at);
                    len -= 1;
                }
            }
            Some("replace") => replaced = true,
            _ => {}
        }
    }
    // After a `replace` Go merges into a new slice, which the live one does not see.
    if !replaced {
        for item in patch.iter().filter(|item| !has_patch_marker(item)) {
            let id = item.get(key);
            if slots[..len].contains(&id) {
                continue;
            }
            if len == slots.len() {
                // Full: Go moves to a new array, and no later write shows.
                break;
            }
            slots[len] = id;
            len += 1;
        }
    }
    slots.into_iter().flatten().collect()
}

/// A merged list item with its rank (where it sorts in its group) and live position.
type Ranked = (usize, Option<usize>, Value);

/// Orders a merged list as Go's `normalizeElementOrder` does. Items named in `patch_order` sort
/// by it. The others sort by `server_order`, and each goes in ahead of the first patch item
/// that comes after it in `server_order`.
fn normalize_order(merged: Vec<Value>, patch_order: &[&Value], server_order: &[&Value], key: Option<&'static str>, path: &Path<'_>) -> Result<Vec<Value>> {
    let position = |order: &[&Value], id: &Value| order.iter().position(|entry| *entry == id);
    let mut from_patch: Vec<Ranked> = Vec::new();
    let mut server_only: Vec<Ranked> = Vec::new();
    for item in merged {
        let id = identity_of(&item, key, path)?;
        let in_server = position(server_order, id);
        match position(patch_order, id) {
            Some(in_patch) => from_patch.push((in_patch, in_server, item)),
            None => server_only.push((in_server.unwrap_or(usize::MAX), in_server, item)),
        }
    }
    // Stable sorts: items with equal keys (duplicates) keep their merged order.
    from_patch.sort_by_key(|(rank, _, _)| *rank);
    server_only.sort_by_key(|(rank, _, _)| *rank);
    Ok(interleave(server_only, from_patch))
}

/// Go's `mergeSortedSlice`. A server-only item goes first only when both items have a live
/// position and its own is lower. A patch item new to the list therefore goes ahead of the
/// server-only items still waiting.
fn interleave(server_only: Vec<Ranked>, from_patch: Vec<Ranked>) -> Vec<Value> {
    let mut out = Vec::with_capacity(server_only.len() + from_patch.len());
    let mut left = server_only.into_iter().peekable();
    let mut right = from_patch.into_iter().peekable();
    while let (Some(l), Some(r)) = (left.peek(), right.peek()) {
        let left_first = matches!((l.1, r.1), (Some(a), Some(b)) if a < b);
        let next = if left_first { left.next() } else { right.next() };
        out.extend(next.map(|(_, _, item)| item));
    }
    out.extend(left.map(|(_, _, item)| item));
    out.extend(right.map(|(_, _, item)| item));
    out
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

const OBJECT: &str = "object";
const LIST: &str = "list";

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => LIST,
        Value::Object(_) => OBJECT,
    }
}

/// The one JSON type of all items, `None` if there are none. Mixed lists and lists of lists
/// cannot be merged.
fn item_type<'v>(items: impl IntoIterator<Item = &'v Value>, path: &Path<'_>) -> Result<Option<&'static str>> {
    let mut seen = None;
    for item in items {
        let current = type_name(item);
        if current == LIST {
            return Err(Error::ListOfLists { path: path.to_string() });
        }
        match seen {
            None => seen = Some(current),
            Some(first) if first != current => {
                return Err(Error::MixedListItems { path: path.to_string(), first, second: current });
            }
            Some(_) => {}
        }
    }
    Ok(seen)
}

/// Objects need a merge key to be merged; primitives must not have one.
fn check_item_shape(item_type: &'static str, key: Option<&'static str>, path: &Path<'_>) -> Result<()> {
    match key {
        None if item_type == OBJECT => Err(Error::NoMergeKey { path: path.to_string() }),
        Some(key) if item_type != OBJECT => Err(Error::ItemNotAnObject { path: path.to_string(), key, found: item_type }),
        _ => Ok(()),
    }
}

/// What identifies a list item: its merge-key value, or the item itself for primitives.
fn identity_of<'v>(item: &'v Value, key: Option<&'static str>, path: &Path<'_>) -> Result<&'v Value> {
    let Some(key) = key else {
        return Ok(item);
    };
    match item {
        Value::Object(map) => map.get(key).ok_or_else(|| missing_key(path, key)),
        other => Err(not_an_object(path, key, other)),
    }
}

fn identities<'v>(items: &'v [Value], key: Option<&'static str>, path: &Path<'_>) -> Result<Vec<&'v Value>> {
    items.iter().map(|item| identity_of(item, key, path)).collect()
}

fn optional_list<'v>(value: Option<&'v Value>, path: &Path<'_>) -> Result<Option<&'v Vec<Value>>> {
    match value {
        None => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items)),
        Some(other) => Err(Error::NotAList { path: path.to_string(), found: type_name(other) }),
    }
}

fn missing_key(path: &Path<'_>, key: &'static str) -> Error {
    Error::MissingMergeKey { path: path.to_string(), key }
}

fn not_an_object(path: &Path<'_>, key: &'static str, value: &Value) -> Error {
    Error::ItemNotAnObject { path: path.to_string(), key, found: type_name(value) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Applies `patch`, which must succeed.
    fn patched(kind: &str, mut target: Value, patch: Value) -> Value {
        if let Err(err) = apply(&mut target, &patch, kind) {
            panic!("patch {patch} failed: {err}");
        }
        assert_no_directives(&target);
        target
    }

    /// Applies `patch`, which must fail and leave the target untouched.
    fn rejected(kind: &str, target: Value, patch: Value) -> StrategicMergeError {
        let mut copy = target.clone();
        let err = apply(&mut copy, &patch, kind).expect_err("the patch must be rejected");
        assert_eq!(copy, target, "a failed patch must not change the object");
        err
    }

    fn assert_no_directives(value: &Value) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    assert!(!key.starts_with('$'), "directive `{key}` was stored");
                    assert_no_directives(child);
                }
            }
            Value::Array(items) => items.iter().for_each(assert_no_directives),
            _ => {}
        }
    }

    fn names(list: &Value, key: &str) -> Vec<String> {
        list.as_array().map(|items| items.iter().map(|item| item[key].as_str().unwrap_or("?").to_owned()).collect()).unwrap_or_default()
    }

    /// The Deployment of the "Update API Objects in Place Using kubectl patch" tutorial.
    fn patch_demo() -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "patch-demo"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "nginx"}},
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}
                },
                "template": {
                    "metadata": {"labels": {"app": "nginx"}},
                    "spec": {
                        "containers": [{"name": "patch-demo-ctr", "image": "nginx"}],
                        "tolerations": [
                            {"effect": "NoSchedule", "key": "dedicated", "value": "test-team"}
                        ]
                    }
                }
            }
        })
    }

    // --- The kubectl patch tutorial ----------------------------------------------------------

    #[test]
    fn tutorial_containers_merge_and_the_new_one_comes_first() {
        let result = patched(
            "Deployment",
            patch_demo(),
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "patch-demo-ctr-2", "image": "redis"}
            ]}}}}),
        );
        assert_eq!(
            result["spec"]["template"]["spec"]["containers"],
            json!([
                {"name": "patch-demo-ctr-2", "image": "redis"},
                {"name": "patch-demo-ctr", "image": "nginx"}
            ])
        );
    }

    #[test]
    fn tutorial_tolerations_are_replaced_whole() {
        let result = patched(
            "Deployment",
            patch_demo(),
            json!({"spec": {"template": {"spec": {"tolerations": [
                {"effect": "NoSchedule", "key": "disktype", "value": "ssd"}
            ]}}}}),
        );
        assert_eq!(result["spec"]["template"]["spec"]["tolerations"], json!([{"effect": "NoSchedule", "key": "disktype", "value": "ssd"}]));
    }

    #[test]
    fn tutorial_strategy_type_alone_keeps_rolling_update() {
        let result = patched("Deployment", patch_demo(), json!({"spec": {"strategy": {"type": "Recreate"}}}));
        assert_eq!(result["spec"]["strategy"]["type"], "Recreate");
        assert!(result["spec"]["strategy"].get("rollingUpdate").is_some());
    }

    #[test]
    fn tutorial_retain_keys_clears_unlisted_fields() {
        let result = patched("Deployment", patch_demo(), json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}));
        assert_eq!(result["spec"]["strategy"], json!({"type": "Recreate"}));
    }

    #[test]
    fn retain_keys_as_kubectl_apply_sends_it_for_volumes() {
        let pod = json!({"spec": {"volumes": [
            {"name": "data", "emptyDir": {}},
            {"name": "other", "emptyDir": {}}
        ]}});
        let result = patched(
            "Pod",
            pod,
            json!({"spec": {
                "$setElementOrder/volumes": [{"name": "data"}, {"name": "other"}],
                "volumes": [{
                    "$retainKeys": ["configMap", "name"],
                    "configMap": {"name": "settings"},
                    "emptyDir": null,
                    "name": "data"
                }]
            }}),
        );
        assert_eq!(
            result["spec"]["volumes"],
            json!([
                {"name": "data", "configMap": {"name": "settings"}},
                {"name": "other", "emptyDir": {}}
            ])
        );
    }

    // --- $patch ---------------------------------------------------------------------------

    #[test]
    fn patch_delete_removes_list_items_by_merge_key() {
        let result = patched(
            "Deployment",
            patch_demo(),
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "patch-demo-ctr", "$patch": "delete"},
                {"name": "absent", "$patch": "delete"}
            ]}}}}),
        );
        assert_eq!(result["spec"]["template"]["spec"]["containers"], json!([]));
    }

    #[test]
    fn patch_delete_on_an_object_empties_it() {
        let pod = json!({"spec": {"securityContext": {"runAsUser": 1000}, "nodeName": "n1"}});
        let result = patched("Pod", pod, json!({"spec": {"securityContext": {"$patch": "delete"}}}));
        assert_eq!(result["spec"], json!({"securityContext": {}, "nodeName": "n1"}));
    }

    #[test]
    fn patch_delete_on_a_missing_object_adds_nothing() {
        let result = patched("Pod", json!({"spec": {}}), json!({"spec": {"securityContext": {"$patch": "delete"}}}));
        assert_eq!(result, json!({"spec": {}}));
    }

    #[test]
    fn patch_replace_in_a_list_replaces_the_list() {
        let result = patched(
            "Deployment",
            patch_demo(),
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "only", "image": "busybox"},
                {"$patch": "replace"}
            ]}}}}),
        );
        assert_eq!(result["spec"]["template"]["spec"]["containers"], json!([{"name": "only", "image": "busybox"}]));
    }

    #[test]
    fn patch_replace_on_an_object_replaces_it() {
        let pod = json!({"spec": {"nodeSelector": {"zone": "a", "disk": "ssd"}}});
        let result = patched("Pod", pod, json!({"spec": {"nodeSelector": {"$patch": "replace", "zone": "b"}}}));
        assert_eq!(result["spec"]["nodeSelector"], json!({"zone": "b"}));
    }

    #[test]
    fn patch_replace_at_the_root_replaces_the_object() {
        let result = patched("ConfigMap", json!({"data": {"a": "1"}, "metadata": {"name": "x"}}), json!({"$patch": "replace", "data": {"b": "2"}}));
        assert_eq!(result, json!({"data": {"b": "2"}}));
    }

    // --- $setElementOrder -------------------------------------------------------------------

    #[test]
    fn set_element_order_reorders_and_merges() {
        let pod = json!({"spec": {"containers": [
            {"name": "a", "image": "a:1"},
            {"name": "b", "image": "b:1", "tty": true}
        ]}});
        let result = patched(
            "Pod",
            pod,
            json!({"spec": {
                "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
                "containers": [{"name": "a", "image": "a:2"}]
            }}),
        );
        assert_eq!(
            result["spec"]["containers"],
            json!([
                {"name": "b", "image": "b:1", "tty": true},
                {"name": "a", "image": "a:2"}
            ])
        );
    }

    #[test]
    fn set_element_order_puts_an_added_env_var_in_place() {
        let deployment = json!({"spec": {"template": {"spec": {"containers": [{
            "name": "app",
            "env": [{"name": "A", "value": "1"}, {"name": "C", "value": "3"}]
        }]}}}});
        let result = patched(
            "Deployment",
            deployment,
            json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "app"}],
                "containers": [{
                    "name": "app",
                    "$setElementOrder/env": [{"name": "A"}, {"name": "B"}, {"name": "C"}],
                    "env": [{"name": "B", "value": "2"}]
                }]
            }}}}),
        );
        let env = &result["spec"]["template"]["spec"]["containers"][0]["env"];
        assert_eq!(names(env, "name"), ["A", "B", "C"]);
    }

    #[test]
    fn set_element_order_with_delete_as_kubectl_apply_sends_it() {
        let pod = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}});
        let result = patched(
            "Pod",
            pod,
            json!({"spec": {
                "$setElementOrder/containers": [{"name": "a"}, {"name": "c"}],
                "containers": [{"$patch": "delete", "name": "b"}]
            }}),
        );
        assert_eq!(names(&result["spec"]["containers"], "name"), ["a", "c"]);
    }

    #[test]
    fn set_element_order_interleaves_server_only_items() {
        // X was added on the server; it keeps its place after A, the patch's B goes before it.
        let pod = json!({"spec": {"containers": [{"name": "app", "env": [
            {"name": "A"}, {"name": "X"}, {"name": "C"}
        ]}]}});
        let result = patched(
            "Pod",
            pod,
            json!({"spec": {"containers": [{
                "name": "app",
                "$setElementOrder/env": [{"name": "A"}, {"name": "B"}, {"name": "C"}],
                "env": [{"name": "B"}]
            }]}}),
        );
        let env = &result["spec"]["containers"][0]["env"];
        assert_eq!(names(env, "name"), ["A", "B", "X", "C"]);
    }

    #[test]
    fn set_element_order_places_server_only_items_as_go_does() {
        // kubectl apply swaps container a for c; istio-proxy was injected on the server.
        // Go's slice aliasing (see `go_live_view`) puts the sidecar between b and c.
        let pod = json!({"spec": {"containers": [
            {"name": "a"}, {"name": "b"}, {"name": "istio-proxy"}
        ]}});
        let result = patched(
            "Pod",
            pod,
            json!({"spec": {
                "$setElementOrder/containers": [{"name": "b"}, {"name": "c"}],
                "containers": [{"name": "c"}, {"$patch": "delete", "name": "a"}]
            }}),
        );
        assert_eq!(names(&result["spec"]["containers"], "name"), ["b", "istio-proxy", "c"]);
    }

    #[test]
    fn set_element_order_of_primitives_with_deletion() {
        let result = patched(
            "ConfigMap",
            json!({"metadata": {"finalizers": ["a", "b", "c"]}}),
            json!({"metadata": {
                "$setElementOrder/finalizers": ["c", "a", "d"],
                "finalizers": ["d"],
                "$deleteFromPrimitiveList/finalizers": ["b"]
            }}),
        );
        assert_eq!(result["metadata"]["finalizers"], json!(["c", "a", "d"]));
    }

    #[test]
    fn set_element_order_on_a_missing_list_adds_the_patch_list() {
        let result = patched(
            "Pod",
            json!({"spec": {}}),
            json!({"spec": {
                "$setElementOrder/volumes": [{"name": "b"}, {"name": "a"}],
                "volumes": [{"name": "b"}, {"name": "a"}, {"name": "gone", "$patch": "delete"}]
            }}),
        );
        assert_eq!(result["spec"]["volumes"], json!([{"name": "b"}, {"name": "a"}]));
    }

    // --- Lists of primitives ----------------------------------------------------------------

    #[test]
    fn finalizers_are_unioned() {
        let result = patched("ConfigMap", json!({"metadata": {"finalizers": ["a", "b"]}}), json!({"metadata": {"finalizers": ["b", "c"]}}));
        assert_eq!(result["metadata"]["finalizers"], json!(["a", "b", "c"]));
    }

    #[test]
    fn finalizers_new_to_the_list_come_first_as_in_go() {
        let result = patched("ConfigMap", json!({"metadata": {"finalizers": ["a", "b"]}}), json!({"metadata": {"finalizers": ["c"]}}));
        assert_eq!(result["metadata"]["finalizers"], json!(["c", "a", "b"]));
    }

    #[test]
    fn delete_from_primitive_list() {
        let result = patched(
            "Namespace",
            json!({"metadata": {"finalizers": ["a", "b", "b", "c"]}}),
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["b", "zzz"]}}),
        );
        assert_eq!(result["metadata"]["finalizers"], json!(["a", "c"]));
    }

    #[test]
    fn delete_from_a_missing_primitive_list_is_a_no_op() {
        let result = patched("ConfigMap", json!({"metadata": {"name": "x"}}), json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}));
        assert_eq!(result, json!({"metadata": {"name": "x"}}));
    }

    #[test]
    fn delete_from_a_list_without_merge_strategy_still_deletes() {
        // apimachinery handles deletion lists whatever the field's strategy (kubernetes#110407).
        let pod = json!({"spec": {"containers": [{"name": "app", "args": ["--debug", "--x"]}]}});
        let result = patched(
            "Pod",
            pod,
            json!({"spec": {"containers": [{
                "name": "app",
                "$deleteFromPrimitiveList/args": ["--debug"]
            }]}}),
        );
        assert_eq!(result["spec"]["containers"][0]["args"], json!(["--x"]));
    }

    #[test]
    fn lists_without_strategy_are_replaced() {
        let pod = json!({"spec": {"containers": [{"name": "app", "args": ["a", "b"]}]}});
        let result = patched("Pod", pod, json!({"spec": {"containers": [{"name": "app", "args": ["c"]}]}}));
        assert_eq!(result["spec"]["containers"][0]["args"], json!(["c"]));
    }

    // --- null -----------------------------------------------------------------------------

    #[test]
    fn null_deletes_keys_and_is_never_stored() {
        let result = patched(
            "ConfigMap",
            json!({"metadata": {"labels": {"a": "1", "b": "2"}}}),
            json!({"metadata": {"labels": {"a": null, "absent": null}, "annotations": {"x": null, "y": "1"}}}),
        );
        assert_eq!(result["metadata"], json!({"labels": {"b": "2"}, "annotations": {"y": "1"}}));
    }

    // --- Path-aware merge keys --------------------------------------------------------------

    #[test]
    fn service_ports_merge_on_port() {
        let service = json!({"spec": {"ports": [
            {"name": "http", "port": 80, "targetPort": 8080},
            {"name": "https", "port": 443, "targetPort": 8443}
        ]}});
        let result = patched("Service", service, json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}));
        assert_eq!(
            result["spec"]["ports"],
            json!([
                {"name": "http", "port": 80, "targetPort": 9090},
                {"name": "https", "port": 443, "targetPort": 8443}
            ])
        );
    }

    #[test]
    fn container_ports_merge_on_container_port() {
        let pod = json!({"spec": {"containers": [{"name": "app", "ports": [
            {"containerPort": 80, "name": "http"}
        ]}]}});
        let result = patched(
            "Pod",
            pod,
            json!({"spec": {"containers": [{"name": "app", "ports": [
                {"containerPort": 80, "protocol": "TCP"},
                {"containerPort": 9090, "name": "metrics"}
            ]}]}}),
        );
        assert_eq!(
            result["spec"]["containers"][0]["ports"],
            json!([
                {"containerPort": 80, "name": "http", "protocol": "TCP"},
                {"containerPort": 9090, "name": "metrics"}
            ])
        );
    }

    #[test]
    fn cron_job_pod_template_is_nested_two_levels_down() {
        let cron = json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [
            {"name": "job", "image": "job:1", "env": [{"name": "A", "value": "1"}]}
        ]}}}}}});
        let result = patched(
            "CronJob",
            cron,
            json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [
                {"name": "job", "env": [{"name": "B", "value": "2"}]}
            ]}}}}}}),
        );
        let container = &result["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["image"], "job:1");
        assert_eq!(names(&container["env"], "name"), ["B", "A"]);
    }

    #[test]
    fn unknown_kinds_replace_lists_but_merge_metadata() {
        let object = json!({
            "metadata": {"ownerReferences": [{"uid": "1", "name": "a"}]},
            "spec": {"template": {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}}
        });
        let result = patched(
            "Widget",
            object,
            json!({
                "metadata": {"ownerReferences": [{"uid": "2", "name": "b"}]},
                "spec": {"template": {"spec": {"containers": [{"name": "c"}]}}}
            }),
        );
        assert_eq!(names(&result["metadata"]["ownerReferences"], "uid"), ["2", "1"]);
        assert_eq!(result["spec"]["template"]["spec"]["containers"], json!([{"name": "c"}]));
    }

    #[test]
    fn pod_status_conditions_merge_on_type() {
        let pod = json!({"status": {"conditions": [
            {"type": "Ready", "status": "False"},
            {"type": "PodScheduled", "status": "True"}
        ]}});
        let result = patched("Pod", pod, json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}}));
        assert_eq!(
            result["status"]["conditions"],
            json!([
                {"type": "Ready", "status": "True"},
                {"type": "PodScheduled", "status": "True"}
            ])
        );
    }

    #[test]
    fn pod_disruption_budget_selector_is_replaced() {
        let pdb = json!({"spec": {"selector": {"matchLabels": {"app": "a", "tier": "web"}}}});
        let result = patched("PodDisruptionBudget", pdb, json!({"spec": {"selector": {"matchLabels": {"app": "b"}}}}));
        assert_eq!(result["spec"]["selector"], json!({"matchLabels": {"app": "b"}}));
    }

    /// Every path in the table resolves to its own rule: no entry shadows another.
    #[test]
    fn every_table_entry_is_reachable() {
        fn expand(rules: &[Rule], prefix: &[&'static str], out: &mut Vec<(Vec<&'static str>, Strategy)>) {
            for rule in rules {
                let (Field(pattern, _) | Nested(pattern, _)) = rule;
                let mut path = prefix.to_vec();
                path.extend(pattern_segments(pattern));
                match rule {
                    Field(_, strategy) => out.push((path, *strategy)),
                    Nested(_, inner) => expand(inner, &path, out),
                }
            }
        }
        for (kind, rules) in KINDS {
            let mut entries = Vec::new();
            expand(EVERY_KIND, &[], &mut entries);
            expand(rules, &[], &mut entries);
            for (path, strategy) in entries {
                assert_eq!(table_strategy(kind, &path), strategy, "{kind} {path:?}");
            }
        }
        assert_eq!(table_strategy("Deployment", &["spec", "template", "spec", "containers", "[]", "ports"]), MergeOnKey("containerPort"));
        assert_eq!(table_strategy("Service", &["spec", "ports"]), MergeOnKey("port"));
        assert_eq!(table_strategy("Pod", &["spec", "tolerations"]), Strategy::Default);
    }

    // --- What kubectl sends -----------------------------------------------------------------

    #[test]
    fn kubectl_set_image() {
        let deployment = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "nginx", "image": "nginx:1.24", "ports": [{"containerPort": 80}]},
            {"name": "sidecar", "image": "envoy:1"}
        ]}}}});
        let result = patched(
            "Deployment",
            deployment,
            json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
                "containers": [{"image": "nginx:1.25", "name": "nginx"}]
            }}}}),
        );
        assert_eq!(
            result["spec"]["template"]["spec"]["containers"],
            json!([
                {"name": "nginx", "image": "nginx:1.25", "ports": [{"containerPort": 80}]},
                {"name": "sidecar", "image": "envoy:1"}
            ])
        );
    }

    #[test]
    fn kubectl_rollout_restart() {
        let mut deployment = patch_demo();
        deployment["spec"]["template"]["metadata"]["annotations"] = json!({"team": "web"});
        let result = patched(
            "Deployment",
            deployment,
            json!({"spec": {"template": {"metadata": {"annotations": {
                "kubectl.kubernetes.io/restartedAt": "2024-05-01T10:00:00Z"
            }}}}}),
        );
        assert_eq!(
            result["spec"]["template"]["metadata"],
            json!({
                "labels": {"app": "nginx"},
                "annotations": {
                    "team": "web",
                    "kubectl.kubernetes.io/restartedAt": "2024-05-01T10:00:00Z"
                }
            })
        );
    }

    #[test]
    fn kubectl_label_and_annotate() {
        let result = patched(
            "Pod",
            json!({"metadata": {"labels": {"app": "web", "old": "x"}}}),
            json!({"metadata": {"labels": {"env": "prod", "old": null}, "annotations": {"note": "hi"}}}),
        );
        assert_eq!(result["metadata"], json!({"labels": {"app": "web", "env": "prod"}, "annotations": {"note": "hi"}}));
    }

    // --- Directive keys never stored --------------------------------------------------------

    #[test]
    fn directives_in_added_values_are_not_stored() {
        let result = patched(
            "Pod",
            json!({"spec": {"containers": [{"name": "app"}]}}),
            json!({"spec": {
                "volumes": [
                    {"name": "a", "$retainKeys": ["name"], "emptyDir": {"$patch": "replace"}},
                    {"name": "b", "$patch": "delete"}
                ],
                "containers": [{"name": "new", "env": [{"name": "X", "$patch": "delete"}]}]
            }}),
        );
        // `removeDirectives` drops objects carrying `$patch` from a value added as it is...
        assert_eq!(result["spec"]["volumes"], json!([{"name": "a"}]));
        // ...while a list item appended verbatim only loses the marker, as typed decoding does.
        assert_eq!(result["spec"]["containers"], json!([{"name": "new", "env": [{"name": "X"}]}, {"name": "app"}]));
    }

    // --- Errors -----------------------------------------------------------------------------

    fn pod() -> Value {
        json!({"metadata": {"finalizers": ["a"]}, "spec": {"containers": [{"name": "app"}]}})
    }

    #[test]
    fn rejects_a_patch_that_is_not_an_object() {
        assert!(matches!(rejected("Pod", pod(), json!([1, 2])), StrategicMergeError::PatchNotAnObject { found: "list" }));
        let mut scalar = json!("x");
        assert!(matches!(apply(&mut scalar, &json!({}), "Pod"), Err(StrategicMergeError::TargetNotAnObject { found: "string" })));
    }

    #[test]
    fn rejects_invalid_patch_directives() {
        let err = rejected("Pod", pod(), json!({"spec": {"$patch": "bogus"}}));
        assert_eq!(err.to_string(), "spec: invalid `$patch` value \"bogus\", expected \"replace\" or \"delete\"");
        assert!(matches!(rejected("Pod", pod(), json!({"spec": {"$patch": 1}})), StrategicMergeError::InvalidPatchDirective { .. }));
        assert!(matches!(rejected("Pod", pod(), json!({"spec": {"$patch": "merge"}})), StrategicMergeError::MergeDirectiveNotAllowed { .. }));
        let err = rejected("Pod", pod(), json!({"spec": {"containers": [{"$patch": "merge"}]}}));
        assert_eq!(err.to_string(), "spec.containers: `$patch: merge` cannot be specified in a patch");
    }

    #[test]
    fn rejects_malformed_retain_keys() {
        assert!(matches!(rejected("Pod", pod(), json!({"spec": {"$retainKeys": "containers"}})), StrategicMergeError::DirectiveNotAList { .. }));
        let err = rejected("Pod", pod(), json!({"spec": {"$retainKeys": ["containers"], "nodeName": "n1"}}));
        assert_eq!(err.to_string(), "spec: field `nodeName` is in the patch but not in `$retainKeys`");
    }

    #[test]
    fn rejects_malformed_set_element_order() {
        assert!(matches!(rejected("Pod", pod(), json!({"spec": {"$setElementOrder": []}})), StrategicMergeError::UnknownDirective { .. }));
        assert!(matches!(rejected("Pod", pod(), json!({"spec": {"$setElementOrder/": []}})), StrategicMergeError::UnknownDirective { .. }));
        assert!(matches!(
            rejected("Pod", pod(), json!({"spec": {"$setElementOrder/containers": {"name": "app"}}})),
            StrategicMergeError::DirectiveNotAList { .. }
        ));
        let err = rejected(
            "Pod",
            pod(),
            json!({"spec": {
                "$setElementOrder/containers": [{"name": "app"}],
                "containers": [{"name": "other"}]
            }}),
        );
        assert!(matches!(err, StrategicMergeError::ElementOrderMismatch { .. }));
        assert!(matches!(
            rejected("Pod", pod(), json!({"spec": {"$setElementOrder/containers": ["app"]}})),
            StrategicMergeError::ItemNotAnObject { key: "name", .. }
        ));
    }

    #[test]
    fn rejects_malformed_delete_from_primitive_list() {
        assert!(matches!(
            rejected("Pod", pod(), json!({"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}})),
            StrategicMergeError::DirectiveNotAList { .. }
        ));
        assert!(matches!(rejected("Pod", pod(), json!({"metadata": {"$deleteFromPrimitiveList": ["a"]}})), StrategicMergeError::UnknownDirective { .. }));
        assert!(matches!(
            rejected("Pod", pod(), json!({"spec": {"$deleteFromPrimitiveList/containers": [{"name": "app"}]}})),
            StrategicMergeError::DeleteFromObjectList { .. }
        ));
    }

    #[test]
    fn rejects_unknown_directives() {
        let err = rejected("Pod", pod(), json!({"spec": {"$merge": true}}));
        assert_eq!(err.to_string(), "spec: unknown or malformed directive `$merge`");
    }

    #[test]
    fn rejects_list_items_without_merge_key() {
        let err = rejected("Pod", pod(), json!({"spec": {"containers": [{"image": "x"}]}}));
        assert_eq!(err.to_string(), "spec.containers: list item has no merge key `name`");
        assert!(matches!(
            rejected("Pod", pod(), json!({"spec": {"containers": [{"$patch": "delete"}]}})),
            StrategicMergeError::MissingMergeKey { key: "name", .. }
        ));
        let err = rejected(
            "Pod",
            json!({"spec": {"containers": [{"name": "app", "env": [{"name": "A"}]}]}}),
            json!({"spec": {"containers": [{"name": "app", "env": [{"value": "1"}]}]}}),
        );
        assert_eq!(err.to_string(), "spec.containers[].env: list item has no merge key `name`");
    }

    #[test]
    fn rejects_badly_typed_lists() {
        assert!(matches!(rejected("Pod", pod(), json!({"metadata": {"finalizers": [1]}})), StrategicMergeError::MixedListItems { .. }));
        assert!(matches!(rejected("Pod", pod(), json!({"metadata": {"finalizers": [{"a": 1}]}})), StrategicMergeError::MixedListItems { .. }));
        assert!(matches!(rejected("Pod", pod(), json!({"spec": {"containers": ["app"]}})), StrategicMergeError::MixedListItems { .. }));
        assert!(matches!(
            rejected("Pod", json!({"metadata": {"finalizers": []}}), json!({"metadata": {"finalizers": [["a"]]}})),
            StrategicMergeError::ListOfLists { .. }
        ));
        assert!(matches!(
            rejected("Pod", json!({"metadata": {"finalizers": []}}), json!({"metadata": {"finalizers": [{"a": 1}]}})),
            StrategicMergeError::NoMergeKey { .. }
        ));
    }

    #[test]
    fn rejects_patches_nested_too_deep() {
        let mut patch = json!("leaf");
        for _ in 0..=MAX_DEPTH {
            patch = json!({"a": patch});
        }
        assert_eq!(rejected("ConfigMap", json!({}), patch), StrategicMergeError::TooDeep);
    }

    /// Odd but well-formed input never panics, whatever the outcome.
    #[test]
    fn odd_input_does_not_panic() {
        let targets =
            [json!({}), pod(), json!({"spec": {"containers": "x", "volumes": [1, {"name": "v"}]}}), json!({"metadata": {"finalizers": [null, {"x": 1}, [1]]}})];
        let patches = [
            json!({"spec": {"containers": [{"name": null}, {"name": {"a": 1}}]}}),
            json!({"spec": {"containers": {"name": "x"}, "volumes": [{"name": "v", "$patch": "delete"}]}}),
            json!({"spec": {"$setElementOrder/volumes": [{"name": "v"}], "volumes": null}}),
            json!({"spec": {"$setElementOrder/containers": [], "containers": []}}),
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": null}}),
            json!({"metadata": {"$retainKeys": [1, null], "finalizers": [null]}}),
            json!({"$patch": "delete"}),
            json!({"spec": {"containers": [{"$patch": "replace"}, {"$patch": "delete", "name": 1}]}}),
        ];
        for target in &targets {
            for patch in &patches {
                let mut copy = target.clone();
                if apply(&mut copy, patch, "Pod").is_ok() {
                    assert_no_directives(&copy);
                }
            }
        }
    }
}
