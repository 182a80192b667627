//! apps/v1 tables (k8s.io/api/apps/v1/generated.proto): Deployment,
//! ReplicaSet, DaemonSet, ControllerRevision.

use super::meta::{LABEL_SELECTOR, OBJECT_META};
use super::pod::POD_TEMPLATE_SPEC;
use super::schema::Ty::{self, Bool, I32, I64, IntOrString, Str, Time};
use super::schema::{Msg, f, keep, m, rep};

pub(super) static DEPLOYMENT: Msg =
    Msg::new("apps/v1 Deployment", &[f(1, "metadata", m(&OBJECT_META)), f(2, "spec", m(&DEPLOYMENT_SPEC)), f(3, "status", m(&DEPLOYMENT_STATUS))]);

static DEPLOYMENT_SPEC: Msg = Msg::new(
    "apps/v1 DeploymentSpec",
    &[
        keep(1, "replicas", I32),
        f(2, "selector", m(&LABEL_SELECTOR)),
        f(3, "template", m(&POD_TEMPLATE_SPEC)),
        f(4, "strategy", m(&DEPLOYMENT_STRATEGY)),
        f(5, "minReadySeconds", I32),
        keep(6, "revisionHistoryLimit", I32),
        f(7, "paused", Bool),
        keep(9, "progressDeadlineSeconds", I32),
    ],
);

static DEPLOYMENT_STRATEGY: Msg = Msg::new("apps/v1 DeploymentStrategy", &[f(1, "type", Str), f(2, "rollingUpdate", m(&ROLLING_UPDATE_DEPLOYMENT))]);

static ROLLING_UPDATE_DEPLOYMENT: Msg = Msg::new("apps/v1 RollingUpdateDeployment", &[f(1, "maxUnavailable", IntOrString), f(2, "maxSurge", IntOrString)]);

static DEPLOYMENT_STATUS: Msg = Msg::new(
    "apps/v1 DeploymentStatus",
    &[
        f(1, "observedGeneration", I64),
        f(2, "replicas", I32),
        f(3, "updatedReplicas", I32),
        f(7, "readyReplicas", I32),
        f(4, "availableReplicas", I32),
        f(5, "unavailableReplicas", I32),
        keep(9, "terminatingReplicas", I32),
        rep(6, "conditions", m(&DEPLOYMENT_CONDITION)),
        keep(8, "collisionCount", I32),
    ],
);

static DEPLOYMENT_CONDITION: Msg = Msg::new(
    "apps/v1 DeploymentCondition",
    &[keep(1, "type", Str), keep(2, "status", Str), f(6, "lastUpdateTime", Time), f(7, "lastTransitionTime", Time), f(4, "reason", Str), f(5, "message", Str)],
);

pub(super) static REPLICA_SET: Msg =
    Msg::new("apps/v1 ReplicaSet", &[f(1, "metadata", m(&OBJECT_META)), f(2, "spec", m(&REPLICA_SET_SPEC)), f(3, "status", m(&REPLICA_SET_STATUS))]);

static REPLICA_SET_SPEC: Msg = Msg::new(
    "apps/v1 ReplicaSetSpec",
    &[keep(1, "replicas", I32), f(4, "minReadySeconds", I32), f(2, "selector", m(&LABEL_SELECTOR)), f(3, "template", m(&POD_TEMPLATE_SPEC))],
);

static REPLICA_SET_STATUS: Msg = Msg::new(
    "apps/v1 ReplicaSetStatus",
    &[
        keep(1, "replicas", I32),
        f(2, "fullyLabeledReplicas", I32),
        f(4, "readyReplicas", I32),
        f(5, "availableReplicas", I32),
        keep(7, "terminatingReplicas", I32),
        f(3, "observedGeneration", I64),
        rep(6, "conditions", m(&APPS_CONDITION)),
    ],
);

/// ReplicaSetCondition and DaemonSetCondition share this layout.
static APPS_CONDITION: Msg = Msg::new(
    "apps/v1 ReplicaSetCondition/DaemonSetCondition",
    &[keep(1, "type", Str), keep(2, "status", Str), f(3, "lastTransitionTime", Time), f(4, "reason", Str), f(5, "message", Str)],
);

pub(super) static CONTROLLER_REVISION: Msg =
    Msg::new("apps/v1 ControllerRevision", &[f(1, "metadata", m(&OBJECT_META)), f(2, "data", Ty::RawExtension), keep(3, "revision", I64)]);

pub(super) static DAEMON_SET: Msg =
    Msg::new("apps/v1 DaemonSet", &[f(1, "metadata", m(&OBJECT_META)), f(2, "spec", m(&DAEMON_SET_SPEC)), f(3, "status", m(&DAEMON_SET_STATUS))]);

static DAEMON_SET_SPEC: Msg = Msg::new(
    "apps/v1 DaemonSetSpec",
    &[
        f(1, "selector", m(&LABEL_SELECTOR)),
        f(2, "template", m(&POD_TEMPLATE_SPEC)),
        f(3, "updateStrategy", m(&DAEMON_SET_UPDATE_STRATEGY)),
        f(4, "minReadySeconds", I32),
        keep(6, "revisionHistoryLimit", I32),
    ],
);

static DAEMON_SET_UPDATE_STRATEGY: Msg =
    Msg::new("apps/v1 DaemonSetUpdateStrategy", &[f(1, "type", Str), f(2, "rollingUpdate", m(&ROLLING_UPDATE_DAEMON_SET))]);

static ROLLING_UPDATE_DAEMON_SET: Msg = Msg::new("apps/v1 RollingUpdateDaemonSet", &[f(1, "maxUnavailable", IntOrString), f(2, "maxSurge", IntOrString)]);

static DAEMON_SET_STATUS: Msg = Msg::new(
    "apps/v1 DaemonSetStatus",
    &[
        keep(1, "currentNumberScheduled", I32),
        keep(2, "numberMisscheduled", I32),
        keep(3, "desiredNumberScheduled", I32),
        keep(4, "numberReady", I32),
        f(5, "observedGeneration", I64),
        f(6, "updatedNumberScheduled", I32),
        f(7, "numberAvailable", I32),
        f(8, "numberUnavailable", I32),
        keep(9, "collisionCount", I32),
        rep(10, "conditions", m(&APPS_CONDITION)),
    ],
);

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_encoder::*;

    #[test]
    fn deployment_like_kubectl_create() {
        let labels = Pb::new().entry(1, "app", b"web");
        let template = Pb::new().msg(1, go_meta("", "").entry(11, "app", b"web")).msg(2, go_pod_spec(vec![go_container("nginx", "nginx:1.27")]));
        let deployment = Pb::new()
            .msg(1, go_meta("web", "default").entry(11, "app", b"web"))
            .msg(2, Pb::new().int(1, 0).msg(2, labels).msg(3, template).msg(4, Pb::new().string(1, "")).int(5, 0).boolean(7, false))
            .msg(3, Pb::new().int(1, 0).int(2, 0).int(3, 0).int(4, 0).int(5, 0).int(7, 0));
        let value = decode_ok(&body("apps/v1", "Deployment", deployment));
        assert_eq!(
            value,
            json!({
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {
                    "name": "web",
                    "namespace": "default",
                    "creationTimestamp": null,
                    "labels": {"app": "web"},
                },
                "spec": {
                    // --replicas=0 is meaningful and must survive.
                    "replicas": 0,
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {
                        "metadata": {"creationTimestamp": null, "labels": {"app": "web"}},
                        "spec": {
                            "containers": [{
                                "name": "nginx",
                                "image": "nginx:1.27",
                                "resources": {},
                            }],
                        },
                    },
                    "strategy": {},
                },
                "status": {},
            })
        );
    }

    #[test]
    fn controller_revision_raw_extension() {
        let value = decode_ok(&body(
            "apps/v1",
            "ControllerRevision",
            Pb::new().msg(1, go_meta("rev", "default")).msg(2, Pb::new().bytes(1, br#"{"spec":{"template":{}}}"#)).int(3, 0),
        ));
        assert_eq!(value["data"], json!({"spec": {"template": {}}}));
        assert_eq!(value["revision"], json!(0));
    }
}
