//! authorization.k8s.io/v1 tables (k8s.io/api/authorization/v1/generated.proto):
//! SelfSubjectAccessReview, SubjectAccessReview, LocalSubjectAccessReview,
//! SelfSubjectRulesReview.

use super::meta::{FIELD_SELECTOR_REQUIREMENT, LABEL_SELECTOR_REQUIREMENT, OBJECT_META};
use super::schema::Ty::{Bool, Str};
use super::schema::{MAP_EXTRA, Msg, f, keep, m, rep};

pub(super) static SELF_SUBJECT_ACCESS_REVIEW: Msg = Msg::new(
    "authorization/v1 SelfSubjectAccessReview",
    &[f(1, "metadata", m(&OBJECT_META)), f(2, "spec", m(&SELF_SUBJECT_ACCESS_REVIEW_SPEC)), f(3, "status", m(&SUBJECT_ACCESS_REVIEW_STATUS))],
);

static SELF_SUBJECT_ACCESS_REVIEW_SPEC: Msg = Msg::new(
    "authorization/v1 SelfSubjectAccessReviewSpec",
    &[f(1, "resourceAttributes", m(&RESOURCE_ATTRIBUTES)), f(2, "nonResourceAttributes", m(&NON_RESOURCE_ATTRIBUTES))],
);

/// SubjectAccessReview and LocalSubjectAccessReview share this layout.
pub(super) static SUBJECT_ACCESS_REVIEW: Msg = Msg::new(
    "authorization/v1 SubjectAccessReview",
    &[f(1, "metadata", m(&OBJECT_META)), f(2, "spec", m(&SUBJECT_ACCESS_REVIEW_SPEC)), f(3, "status", m(&SUBJECT_ACCESS_REVIEW_STATUS))],
);

static SUBJECT_ACCESS_REVIEW_SPEC: Msg = Msg::new(
    "authorization/v1 SubjectAccessReviewSpec",
    &[
        f(1, "resourceAttributes", m(&RESOURCE_ATTRIBUTES)),
        f(2, "nonResourceAttributes", m(&NON_RESOURCE_ATTRIBUTES)),
        f(3, "user", Str),
        rep(4, "groups", Str),
        f(5, "extra", MAP_EXTRA),
        f(6, "uid", Str),
    ],
);

static RESOURCE_ATTRIBUTES: Msg = Msg::new(
    "authorization/v1 ResourceAttributes",
    &[
        f(1, "namespace", Str),
        f(2, "verb", Str),
        f(3, "group", Str),
        f(4, "version", Str),
        f(5, "resource", Str),
        f(6, "subresource", Str),
        f(7, "name", Str),
        f(8, "fieldSelector", m(&FIELD_SELECTOR_ATTRIBUTES)),
        f(9, "labelSelector", m(&LABEL_SELECTOR_ATTRIBUTES)),
    ],
);

static FIELD_SELECTOR_ATTRIBUTES: Msg =
    Msg::new("authorization/v1 FieldSelectorAttributes", &[f(1, "rawSelector", Str), rep(2, "requirements", m(&FIELD_SELECTOR_REQUIREMENT))]);

static LABEL_SELECTOR_ATTRIBUTES: Msg =
    Msg::new("authorization/v1 LabelSelectorAttributes", &[f(1, "rawSelector", Str), rep(2, "requirements", m(&LABEL_SELECTOR_REQUIREMENT))]);

static NON_RESOURCE_ATTRIBUTES: Msg = Msg::new("authorization/v1 NonResourceAttributes", &[f(1, "path", Str), f(2, "verb", Str)]);

static SUBJECT_ACCESS_REVIEW_STATUS: Msg = Msg::new(
    "authorization/v1 SubjectAccessReviewStatus",
    &[keep(1, "allowed", Bool), f(4, "denied", Bool), f(2, "reason", Str), f(3, "evaluationError", Str)],
);

pub(super) static SELF_SUBJECT_RULES_REVIEW: Msg = Msg::new(
    "authorization/v1 SelfSubjectRulesReview",
    &[f(1, "metadata", m(&OBJECT_META)), f(2, "spec", m(&SELF_SUBJECT_RULES_REVIEW_SPEC)), f(3, "status", m(&SUBJECT_RULES_REVIEW_STATUS))],
);

static SELF_SUBJECT_RULES_REVIEW_SPEC: Msg = Msg::new("authorization/v1 SelfSubjectRulesReviewSpec", &[f(1, "namespace", Str)]);

static SUBJECT_RULES_REVIEW_STATUS: Msg = Msg::new(
    "authorization/v1 SubjectRulesReviewStatus",
    &[rep(1, "resourceRules", m(&RESOURCE_RULE)), rep(2, "nonResourceRules", m(&NON_RESOURCE_RULE)), keep(3, "incomplete", Bool), f(4, "evaluationError", Str)],
);

static RESOURCE_RULE: Msg =
    Msg::new("authorization/v1 ResourceRule", &[rep(1, "verbs", Str), rep(2, "apiGroups", Str), rep(3, "resources", Str), rep(4, "resourceNames", Str)]);

static NON_RESOURCE_RULE: Msg = Msg::new("authorization/v1 NonResourceRule", &[rep(1, "verbs", Str), rep(2, "nonResourceURLs", Str)]);

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_encoder::*;

    #[test]
    fn self_subject_access_review() {
        let review = Pb::new()
            .msg(1, go_meta("", ""))
            .msg(
                2,
                Pb::new()
                    .msg(
                        1,
                        Pb::new()
                            .string(1, "default")
                            .string(2, "create")
                            .string(3, "apps")
                            .string(4, "v1")
                            .string(5, "deployments")
                            .string(6, "scale")
                            .string(7, "web"),
                    )
                    .msg(2, Pb::new().string(1, "/healthz").string(2, "get")),
            )
            .msg(3, Pb::new().boolean(1, false).string(2, "").string(3, "").boolean(4, false));
        let value = decode_ok(&body("authorization.k8s.io/v1", "SelfSubjectAccessReview", review));
        assert_eq!(
            value,
            json!({
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SelfSubjectAccessReview",
                "metadata": {"creationTimestamp": null},
                "spec": {
                    "resourceAttributes": {
                        "namespace": "default",
                        "verb": "create",
                        "group": "apps",
                        "version": "v1",
                        "resource": "deployments",
                        "subresource": "scale",
                        "name": "web",
                    },
                    "nonResourceAttributes": {"path": "/healthz", "verb": "get"},
                },
                // `allowed` has no omitempty in Go.
                "status": {"allowed": false},
            })
        );
    }

    #[test]
    fn subject_access_review_extra() {
        let review = Pb::new()
            .msg(2, Pb::new().string(3, "jane").string(4, "dev").msg(5, Pb::new().string(1, "scopes").msg(2, Pb::new().string(1, "a").string(1, "b"))));
        let value = decode_ok(&body("authorization.k8s.io/v1", "SubjectAccessReview", review));
        assert_eq!(value["spec"], json!({"user": "jane", "groups": ["dev"], "extra": {"scopes": ["a", "b"]}}));
    }
}
