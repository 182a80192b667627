//! Tables for the small groups: authentication.k8s.io/v1 TokenRequest and
//! SelfSubjectReview, coordination.k8s.io/v1 Lease and policy/v1 Eviction.

use super::meta::{DELETE_OPTIONS, OBJECT_META};
use super::schema::Ty::{I32, I64, MicroTime, Str, Time};
use super::schema::{MAP_EXTRA, Msg, f, keep, m, rep};

// ---------------------------------------------------------------------------
// authentication.k8s.io/v1 (k8s.io/api/authentication/v1/generated.proto)
// ---------------------------------------------------------------------------

pub(super) static TOKEN_REQUEST: Msg = Msg::new(
    "authentication/v1 TokenRequest",
    &[f(1, "metadata", m(&OBJECT_META)), f(2, "spec", m(&TOKEN_REQUEST_SPEC)), f(3, "status", m(&TOKEN_REQUEST_STATUS))],
);

static TOKEN_REQUEST_SPEC: Msg = Msg::new(
    "authentication/v1 TokenRequestSpec",
    &[rep(1, "audiences", Str), keep(4, "expirationSeconds", I64), f(3, "boundObjectRef", m(&BOUND_OBJECT_REFERENCE))],
);

/// The proto names of fields 2 and 4 are `aPIVersion` and `uID`; the JSON
/// names are the usual ones.
static BOUND_OBJECT_REFERENCE: Msg =
    Msg::new("authentication/v1 BoundObjectReference", &[f(1, "kind", Str), f(2, "apiVersion", Str), f(3, "name", Str), f(4, "uid", Str)]);

static TOKEN_REQUEST_STATUS: Msg = Msg::new("authentication/v1 TokenRequestStatus", &[keep(1, "token", Str), f(2, "expirationTimestamp", Time)]);

/// What `kubectl auth whoami` sends: an empty review, answered with the caller.
pub(super) static SELF_SUBJECT_REVIEW: Msg =
    Msg::new("authentication/v1 SelfSubjectReview", &[f(1, "metadata", m(&OBJECT_META)), f(2, "status", m(&SELF_SUBJECT_REVIEW_STATUS))]);

static SELF_SUBJECT_REVIEW_STATUS: Msg = Msg::new("authentication/v1 SelfSubjectReviewStatus", &[f(1, "userInfo", m(&USER_INFO))]);

static USER_INFO: Msg = Msg::new("authentication/v1 UserInfo", &[f(1, "username", Str), f(2, "uid", Str), rep(3, "groups", Str), f(4, "extra", MAP_EXTRA)]);

// ---------------------------------------------------------------------------
// coordination.k8s.io/v1 (k8s.io/api/coordination/v1/generated.proto)
// ---------------------------------------------------------------------------

pub(super) static LEASE: Msg = Msg::new("coordination/v1 Lease", &[f(1, "metadata", m(&OBJECT_META)), f(2, "spec", m(&LEASE_SPEC))]);

/// Every LeaseSpec field is a pointer in Go: an empty holderIdentity (how
/// leader election releases a lease) must survive.
static LEASE_SPEC: Msg = Msg::new(
    "coordination/v1 LeaseSpec",
    &[
        keep(1, "holderIdentity", Str),
        keep(2, "leaseDurationSeconds", I32),
        f(3, "acquireTime", MicroTime),
        f(4, "renewTime", MicroTime),
        keep(5, "leaseTransitions", I32),
        keep(6, "strategy", Str),
        keep(7, "preferredHolder", Str),
    ],
);

// ---------------------------------------------------------------------------
// policy/v1 (k8s.io/api/policy/v1/generated.proto)
// ---------------------------------------------------------------------------

pub(super) static EVICTION: Msg = Msg::new("policy/v1 Eviction", &[f(1, "metadata", m(&OBJECT_META)), f(2, "deleteOptions", m(&DELETE_OPTIONS))]);

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_encoder::*;

    #[test]
    fn lease_with_micro_times() {
        let lease = Pb::new()
            .msg(1, go_meta("leader", "kube-system"))
            .msg(2, Pb::new().string(1, "").int(2, 15).msg(3, time(1_704_164_645, 123_456_789)).msg(4, time(1_704_164_645, 0)).int(5, 0));
        let value = decode_ok(&body("coordination.k8s.io/v1", "Lease", lease));
        assert_eq!(
            value["spec"],
            json!({
                // Releasing a lease sets an empty holder; it must survive.
                "holderIdentity": "",
                "leaseDurationSeconds": 15,
                "acquireTime": "2024-01-02T03:04:05.123456Z",
                "renewTime": "2024-01-02T03:04:05.000000Z",
                "leaseTransitions": 0,
            })
        );
    }

    #[test]
    fn token_request_and_eviction() {
        let token = decode_ok(&body(
            "authentication.k8s.io/v1",
            "TokenRequest",
            Pb::new()
                .msg(1, go_meta("", ""))
                .msg(2, Pb::new().string(1, "https://kubernetes.default.svc").int(4, 3600).msg(3, Pb::new().string(1, "Pod").string(2, "v1").string(3, "web"))),
        ));
        assert_eq!(
            token["spec"],
            json!({
                "audiences": ["https://kubernetes.default.svc"],
                "expirationSeconds": 3600,
                "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "web"},
            })
        );

        let review = decode_ok(&body("authentication.k8s.io/v1", "SelfSubjectReview", Pb::new().msg(1, go_meta("", ""))));
        assert_eq!(review["kind"], "SelfSubjectReview");

        let eviction = decode_ok(&body("policy/v1", "Eviction", Pb::new().msg(1, go_meta("web-0", "default")).msg(2, Pb::new().int(1, 10))));
        assert_eq!(eviction["deleteOptions"], json!({"gracePeriodSeconds": 10}));
    }
}
