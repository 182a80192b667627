//! meta/v1 tables (k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto):
//! ObjectMeta and its parts, DeleteOptions, LabelSelector, Condition and
//! the selector requirements shared by other groups.

use super::schema::Ty::{self, Bool, I64, Str, Time};
use super::schema::{MAP_STR, Msg, f, keep, m, rep};

pub(super) static OBJECT_META: Msg = Msg::new(
    "meta/v1 ObjectMeta",
    &[
        f(1, "name", Str),
        f(2, "generateName", Str),
        f(3, "namespace", Str),
        f(4, "selfLink", Str),
        f(5, "uid", Str),
        f(6, "resourceVersion", Str),
        f(7, "generation", I64),
        f(8, "creationTimestamp", Time),
        f(9, "deletionTimestamp", Time),
        keep(10, "deletionGracePeriodSeconds", I64),
        f(11, "labels", MAP_STR),
        f(12, "annotations", MAP_STR),
        rep(13, "ownerReferences", m(&OWNER_REFERENCE)),
        rep(14, "finalizers", Str),
        // Removed in Kubernetes 1.25, but client-go before that always sends
        // it (usually empty), so it must not count as unknown.
        f(15, "clusterName", Str),
        rep(17, "managedFields", m(&MANAGED_FIELDS_ENTRY)),
    ],
);

static OWNER_REFERENCE: Msg = Msg::new(
    "meta/v1 OwnerReference",
    &[
        keep(5, "apiVersion", Str),
        keep(1, "kind", Str),
        keep(3, "name", Str),
        keep(4, "uid", Str),
        keep(6, "controller", Bool),
        keep(7, "blockOwnerDeletion", Bool),
    ],
);

static MANAGED_FIELDS_ENTRY: Msg = Msg::new(
    "meta/v1 ManagedFieldsEntry",
    &[
        f(1, "manager", Str),
        f(2, "operation", Str),
        f(3, "apiVersion", Str),
        f(4, "time", Time),
        f(6, "fieldsType", Str),
        f(7, "fieldsV1", Ty::FieldsV1),
        f(8, "subresource", Str),
    ],
);

pub(super) static LABEL_SELECTOR: Msg =
    Msg::new("meta/v1 LabelSelector", &[f(1, "matchLabels", MAP_STR), rep(2, "matchExpressions", m(&LABEL_SELECTOR_REQUIREMENT))]);

pub(super) static LABEL_SELECTOR_REQUIREMENT: Msg =
    Msg::new("meta/v1 LabelSelectorRequirement", &[keep(1, "key", Str), keep(2, "operator", Str), rep(3, "values", Str)]);

pub(super) static CONDITION: Msg = Msg::new(
    "meta/v1 Condition",
    &[
        keep(1, "type", Str),
        keep(2, "status", Str),
        f(3, "observedGeneration", I64),
        f(4, "lastTransitionTime", Time),
        keep(5, "reason", Str),
        keep(6, "message", Str),
    ],
);

pub(super) static DELETE_OPTIONS: Msg = Msg::new(
    "meta/v1 DeleteOptions",
    &[
        keep(1, "gracePeriodSeconds", I64),
        f(2, "preconditions", m(&PRECONDITIONS)),
        keep(3, "orphanDependents", Bool),
        keep(4, "propagationPolicy", Str),
        rep(5, "dryRun", Str),
        keep(6, "ignoreStoreReadErrorWithClusterBreakingPotential", Bool),
    ],
);

static PRECONDITIONS: Msg = Msg::new("meta/v1 Preconditions", &[keep(1, "uid", Str), keep(2, "resourceVersion", Str)]);

pub(super) static FIELD_SELECTOR_REQUIREMENT: Msg =
    Msg::new("meta/v1 FieldSelectorRequirement", &[keep(1, "key", Str), keep(2, "operator", Str), rep(3, "values", Str)]);

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_encoder::*;

    #[test]
    fn delete_options_in_any_group() {
        let options = Pb::new().int(1, 0).msg(2, Pb::new().string(1, "uid-1").string(2, "42")).boolean(3, false).string(4, "Foreground").string(5, "All");
        for api_version in ["v1", "apps/v1", "meta.k8s.io/v1"] {
            let value = decode_ok(&body(api_version, "DeleteOptions", options.clone()));
            assert_eq!(
                value,
                json!({
                    "apiVersion": api_version,
                    "kind": "DeleteOptions",
                    // Zero grace period means "now"; it must not be dropped.
                    "gracePeriodSeconds": 0,
                    "preconditions": {"uid": "uid-1", "resourceVersion": "42"},
                    "orphanDependents": false,
                    "propagationPolicy": "Foreground",
                    "dryRun": ["All"],
                })
            );
        }
    }

    #[test]
    fn object_meta_complete() {
        let meta = Pb::new()
            .string(1, "web")
            .string(2, "web-")
            .string(3, "default")
            .string(4, "/api/v1/x")
            .string(5, "1f2e")
            .string(6, "77")
            .int(7, 3)
            .msg(8, time(1_704_164_645, 0))
            .msg(9, time(1_704_164_700, 500))
            .int(10, 0)
            .entry(11, "app", b"web")
            .entry(12, "a/b", b"c")
            .msg(13, Pb::new().string(1, "ReplicaSet").string(3, "web-abc").string(4, "uid-9").string(5, "apps/v1").boolean(6, true).boolean(7, false))
            .string(14, "example.com/cleanup")
            // Old client-go always sends the removed clusterName, empty.
            .string(15, "")
            .msg(
                17,
                Pb::new()
                    .string(1, "kubectl")
                    .string(2, "Update")
                    .string(3, "v1")
                    .msg(4, time(1_704_164_645, 0))
                    .string(6, "FieldsV1")
                    .msg(7, Pb::new().bytes(1, br#"{"f:data":{".":{}}}"#))
                    .string(8, ""),
            );
        let value = decode_ok(&body("v1", "ConfigMap", Pb::new().msg(1, meta)));
        assert_eq!(
            value["metadata"],
            json!({
                "name": "web",
                "generateName": "web-",
                "namespace": "default",
                "selfLink": "/api/v1/x",
                "uid": "1f2e",
                "resourceVersion": "77",
                "generation": 3,
                "creationTimestamp": "2024-01-02T03:04:05Z",
                "deletionTimestamp": "2024-01-02T03:05:00Z",
                "deletionGracePeriodSeconds": 0,
                "labels": {"app": "web"},
                "annotations": {"a/b": "c"},
                "ownerReferences": [{
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": "web-abc",
                    "uid": "uid-9",
                    "controller": true,
                    "blockOwnerDeletion": false,
                }],
                "finalizers": ["example.com/cleanup"],
                "managedFields": [{
                    "manager": "kubectl",
                    "operation": "Update",
                    "apiVersion": "v1",
                    "time": "2024-01-02T03:04:05Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:data": {".": {}}},
                }],
            })
        );
    }
}
