//! core/v1 tables (k8s.io/api/core/v1/generated.proto) for everything but
//! pods: config and identity objects, Service, Event, PersistentVolumeClaim.
//! Pod, PodSpec, containers and volumes are in `pod.rs`.

use super::meta::{CONDITION, LABEL_SELECTOR, OBJECT_META};
use super::schema::Ty::{Bool, I32, IntOrString, MicroTime, Str, Time};
use super::schema::{MAP_BYTES, MAP_QUANTITY, MAP_STR, Msg, f, keep, m, rep};

pub(super) static SECRET: Msg = Msg::new(
    "core/v1 Secret",
    &[f(1, "metadata", m(&OBJECT_META)), keep(5, "immutable", Bool), f(2, "data", MAP_BYTES), f(4, "stringData", MAP_STR), f(3, "type", Str)],
);

pub(super) static CONFIG_MAP: Msg =
    Msg::new("core/v1 ConfigMap", &[f(1, "metadata", m(&OBJECT_META)), keep(4, "immutable", Bool), f(2, "data", MAP_STR), f(3, "binaryData", MAP_BYTES)]);

pub(super) static NAMESPACE: Msg =
    Msg::new("core/v1 Namespace", &[f(1, "metadata", m(&OBJECT_META)), f(2, "spec", m(&NAMESPACE_SPEC)), f(3, "status", m(&NAMESPACE_STATUS))]);

static NAMESPACE_SPEC: Msg = Msg::new("core/v1 NamespaceSpec", &[rep(1, "finalizers", Str)]);

static NAMESPACE_STATUS: Msg = Msg::new("core/v1 NamespaceStatus", &[f(1, "phase", Str), rep(2, "conditions", m(&NAMESPACE_CONDITION))]);

static NAMESPACE_CONDITION: Msg = Msg::new(
    "core/v1 NamespaceCondition",
    &[keep(1, "type", Str), keep(2, "status", Str), f(4, "lastTransitionTime", Time), f(5, "reason", Str), f(6, "message", Str)],
);

pub(super) static SERVICE_ACCOUNT: Msg = Msg::new(
    "core/v1 ServiceAccount",
    &[
        f(1, "metadata", m(&OBJECT_META)),
        rep(2, "secrets", m(&OBJECT_REFERENCE)),
        rep(3, "imagePullSecrets", m(&LOCAL_OBJECT_REFERENCE)),
        keep(4, "automountServiceAccountToken", Bool),
    ],
);

pub(super) static OBJECT_REFERENCE: Msg = Msg::new(
    "core/v1 ObjectReference",
    &[
        f(1, "kind", Str),
        f(2, "namespace", Str),
        f(3, "name", Str),
        f(4, "uid", Str),
        f(5, "apiVersion", Str),
        f(6, "resourceVersion", Str),
        f(7, "fieldPath", Str),
    ],
);

pub(super) static LOCAL_OBJECT_REFERENCE: Msg = Msg::new("core/v1 LocalObjectReference", &[f(1, "name", Str)]);

pub(super) static BINDING: Msg = Msg::new("core/v1 Binding", &[f(1, "metadata", m(&OBJECT_META)), f(2, "target", m(&OBJECT_REFERENCE))]);

// ---------------------------------------------------------------------------
// core/v1: Service
// ---------------------------------------------------------------------------

pub(super) static SERVICE: Msg =
    Msg::new("core/v1 Service", &[f(1, "metadata", m(&OBJECT_META)), f(2, "spec", m(&SERVICE_SPEC)), f(3, "status", m(&SERVICE_STATUS))]);

static SERVICE_SPEC: Msg = Msg::new(
    "core/v1 ServiceSpec",
    &[
        rep(1, "ports", m(&SERVICE_PORT)),
        f(2, "selector", MAP_STR),
        f(3, "clusterIP", Str),
        rep(18, "clusterIPs", Str),
        f(4, "type", Str),
        rep(5, "externalIPs", Str),
        f(7, "sessionAffinity", Str),
        f(8, "loadBalancerIP", Str),
        rep(9, "loadBalancerSourceRanges", Str),
        f(10, "externalName", Str),
        f(11, "externalTrafficPolicy", Str),
        f(12, "healthCheckNodePort", I32),
        f(13, "publishNotReadyAddresses", Bool),
        f(14, "sessionAffinityConfig", m(&SESSION_AFFINITY_CONFIG)),
        rep(19, "ipFamilies", Str),
        keep(17, "ipFamilyPolicy", Str),
        keep(20, "allocateLoadBalancerNodePorts", Bool),
        keep(21, "loadBalancerClass", Str),
        keep(22, "internalTrafficPolicy", Str),
        keep(23, "trafficDistribution", Str),
    ],
);

static SERVICE_PORT: Msg = Msg::new(
    "core/v1 ServicePort",
    &[f(1, "name", Str), f(2, "protocol", Str), keep(6, "appProtocol", Str), keep(3, "port", I32), f(4, "targetPort", IntOrString), f(5, "nodePort", I32)],
);

static SESSION_AFFINITY_CONFIG: Msg = Msg::new("core/v1 SessionAffinityConfig", &[f(1, "clientIP", m(&CLIENT_IP_CONFIG))]);

static CLIENT_IP_CONFIG: Msg = Msg::new("core/v1 ClientIPConfig", &[keep(1, "timeoutSeconds", I32)]);

static SERVICE_STATUS: Msg = Msg::new("core/v1 ServiceStatus", &[f(1, "loadBalancer", m(&LOAD_BALANCER_STATUS)), rep(2, "conditions", m(&CONDITION))]);

static LOAD_BALANCER_STATUS: Msg = Msg::new("core/v1 LoadBalancerStatus", &[rep(1, "ingress", m(&LOAD_BALANCER_INGRESS))]);

static LOAD_BALANCER_INGRESS: Msg =
    Msg::new("core/v1 LoadBalancerIngress", &[f(1, "ip", Str), f(2, "hostname", Str), keep(3, "ipMode", Str), rep(4, "ports", m(&PORT_STATUS))]);

static PORT_STATUS: Msg = Msg::new("core/v1 PortStatus", &[keep(1, "port", I32), keep(2, "protocol", Str), keep(3, "error", Str)]);

// ---------------------------------------------------------------------------
// core/v1: Event
// ---------------------------------------------------------------------------

pub(super) static EVENT: Msg = Msg::new(
    "core/v1 Event",
    &[
        f(1, "metadata", m(&OBJECT_META)),
        f(2, "involvedObject", m(&OBJECT_REFERENCE)),
        f(3, "reason", Str),
        f(4, "message", Str),
        f(5, "source", m(&EVENT_SOURCE)),
        f(6, "firstTimestamp", Time),
        f(7, "lastTimestamp", Time),
        f(8, "count", I32),
        f(9, "type", Str),
        f(10, "eventTime", MicroTime),
        f(11, "series", m(&EVENT_SERIES)),
        f(12, "action", Str),
        f(13, "related", m(&OBJECT_REFERENCE)),
        // No omitempty on these two in Go.
        keep(14, "reportingComponent", Str),
        keep(15, "reportingInstance", Str),
    ],
);

static EVENT_SERIES: Msg = Msg::new("core/v1 EventSeries", &[f(1, "count", I32), f(2, "lastObservedTime", MicroTime)]);

static EVENT_SOURCE: Msg = Msg::new("core/v1 EventSource", &[f(1, "component", Str), f(2, "host", Str)]);

// ---------------------------------------------------------------------------
// core/v1: PersistentVolumeClaim
// ---------------------------------------------------------------------------

pub(super) static PERSISTENT_VOLUME_CLAIM: Msg = Msg::new(
    "core/v1 PersistentVolumeClaim",
    &[f(1, "metadata", m(&OBJECT_META)), f(2, "spec", m(&PERSISTENT_VOLUME_CLAIM_SPEC)), f(3, "status", m(&PERSISTENT_VOLUME_CLAIM_STATUS))],
);

pub(super) static PERSISTENT_VOLUME_CLAIM_SPEC: Msg = Msg::new(
    "core/v1 PersistentVolumeClaimSpec",
    &[
        rep(1, "accessModes", Str),
        f(4, "selector", m(&LABEL_SELECTOR)),
        f(2, "resources", m(&VOLUME_RESOURCE_REQUIREMENTS)),
        f(3, "volumeName", Str),
        keep(5, "storageClassName", Str),
        keep(6, "volumeMode", Str),
        f(7, "dataSource", m(&TYPED_LOCAL_OBJECT_REFERENCE)),
        f(8, "dataSourceRef", m(&TYPED_OBJECT_REFERENCE)),
        keep(9, "volumeAttributesClassName", Str),
    ],
);

static VOLUME_RESOURCE_REQUIREMENTS: Msg = Msg::new("core/v1 VolumeResourceRequirements", &[f(1, "limits", MAP_QUANTITY), f(2, "requests", MAP_QUANTITY)]);

static TYPED_LOCAL_OBJECT_REFERENCE: Msg =
    Msg::new("core/v1 TypedLocalObjectReference", &[keep(1, "apiGroup", Str), keep(2, "kind", Str), keep(3, "name", Str)]);

static TYPED_OBJECT_REFERENCE: Msg =
    Msg::new("core/v1 TypedObjectReference", &[keep(1, "apiGroup", Str), keep(2, "kind", Str), keep(3, "name", Str), keep(4, "namespace", Str)]);

static PERSISTENT_VOLUME_CLAIM_STATUS: Msg = Msg::new(
    "core/v1 PersistentVolumeClaimStatus",
    &[
        f(1, "phase", Str),
        rep(2, "accessModes", Str),
        f(3, "capacity", MAP_QUANTITY),
        rep(4, "conditions", m(&PERSISTENT_VOLUME_CLAIM_CONDITION)),
        f(5, "allocatedResources", MAP_QUANTITY),
        f(7, "allocatedResourceStatuses", MAP_STR),
        keep(8, "currentVolumeAttributesClassName", Str),
        f(9, "modifyVolumeStatus", m(&MODIFY_VOLUME_STATUS)),
    ],
);

static PERSISTENT_VOLUME_CLAIM_CONDITION: Msg = Msg::new(
    "core/v1 PersistentVolumeClaimCondition",
    &[keep(1, "type", Str), keep(2, "status", Str), f(3, "lastProbeTime", Time), f(4, "lastTransitionTime", Time), f(5, "reason", Str), f(6, "message", Str)],
);

static MODIFY_VOLUME_STATUS: Msg = Msg::new("core/v1 ModifyVolumeStatus", &[f(1, "targetVolumeAttributesClassName", Str), keep(2, "status", Str)]);

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_encoder::*;

    #[test]
    fn secret_with_binary_data() {
        let secret = Pb::new()
            .msg(1, go_meta("creds", "default").entry(11, "app", b"web").entry(12, "note", b"hi"))
            .entry(2, "blob", &[0x00, 0xff, 0x10, 0x80])
            .entry(2, "password", b"hunter2")
            .string(3, "Opaque")
            .entry(4, "plain", b"text")
            .boolean(5, false);
        let value = decode_ok(&body("v1", "Secret", secret));
        assert_eq!(
            value,
            json!({
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": "creds",
                    "namespace": "default",
                    "creationTimestamp": null,
                    "labels": {"app": "web"},
                    "annotations": {"note": "hi"},
                },
                "data": {"blob": "AP8QgA==", "password": "aHVudGVyMg=="},
                "stringData": {"plain": "text"},
                "type": "Opaque",
                // A pointer field: an explicit false must survive.
                "immutable": false,
            })
        );
    }

    #[test]
    fn config_map() {
        let config_map = Pb::new()
            .msg(1, go_meta("settings", "prod"))
            .entry(2, "app.properties", b"a=1\nb=2")
            .entry(2, "empty", b"")
            .entry(3, "logo.png", &[0x89, b'P', b'N', b'G'])
            .boolean(4, true);
        let value = decode_ok(&body("v1", "ConfigMap", config_map));
        assert_eq!(
            value,
            json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "settings", "namespace": "prod", "creationTimestamp": null},
                "data": {"app.properties": "a=1\nb=2", "empty": ""},
                "binaryData": {"logo.png": "iVBORw=="},
                "immutable": true,
            })
        );
    }

    #[test]
    fn namespace_with_spec_and_status() {
        let namespace = Pb::new().msg(1, go_meta("team-a", "")).msg(2, Pb::new().string(1, "kubernetes")).msg(3, Pb::new().string(1, "Active"));
        let value = decode_ok(&body("v1", "Namespace", namespace));
        assert_eq!(
            value,
            json!({
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": "team-a", "creationTimestamp": null},
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            })
        );
    }

    #[test]
    fn empty_status_struct_is_kept_like_go() {
        // kubectl create namespace sends empty spec and status messages; Go's
        // JSON for the same object has "spec": {} and "status": {}.
        let namespace = Pb::new().msg(1, go_meta("x", "")).msg(2, Pb::new()).msg(3, Pb::new().string(1, ""));
        let value = decode_ok(&body("v1", "Namespace", namespace));
        assert_eq!(value["spec"], json!({}));
        assert_eq!(value["status"], json!({}));
    }

    #[test]
    fn service_account_with_references() {
        let sa = Pb::new()
            .msg(1, go_meta("builder", "ci"))
            .msg(2, Pb::new().string(1, "Secret").string(3, "token"))
            .msg(3, Pb::new().string(1, "registry"))
            .boolean(4, false);
        let value = decode_ok(&body("v1", "ServiceAccount", sa));
        assert_eq!(value["secrets"], json!([{"kind": "Secret", "name": "token"}]));
        assert_eq!(value["imagePullSecrets"], json!([{"name": "registry"}]));
        assert_eq!(value["automountServiceAccountToken"], json!(false));
    }

    #[test]
    fn service_with_ports() {
        let spec = Pb::new()
            .msg(1, Pb::new().string(1, "http").string(2, "TCP").int(3, 80).msg(4, Pb::new().int(1, 0).int(2, 8080)).int(5, 0))
            .msg(1, Pb::new().string(1, "metrics").string(2, "TCP").int(3, 9090).msg(4, Pb::new().int(1, 1).string(3, "metrics")).int(5, 30090))
            .entry(2, "app", b"web")
            .string(3, "None")
            .string(18, "None")
            .string(4, "ClusterIP")
            .string(7, "None")
            .int(12, 0)
            .boolean(13, false)
            .string(17, "SingleStack")
            .msg(1, Pb::new().int(3, 53).msg(4, Pb::new().int(1, 0).int(2, 0)));
        let value = decode_ok(&body("v1", "Service", Pb::new().msg(1, go_meta("web", "default")).msg(2, spec).msg(3, Pb::new().msg(1, Pb::new()))));
        assert_eq!(
            value["spec"],
            json!({
                "ports": [
                    {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080},
                    {"name": "metrics", "protocol": "TCP", "port": 9090, "targetPort": "metrics", "nodePort": 30090},
                    // A zero IntOrString is a struct in Go: never omitted.
                    {"port": 53, "targetPort": 0},
                ],
                "selector": {"app": "web"},
                "clusterIP": "None",
                "clusterIPs": ["None"],
                "type": "ClusterIP",
                "sessionAffinity": "None",
                "ipFamilyPolicy": "SingleStack",
            })
        );
        assert_eq!(value["status"], json!({"loadBalancer": {}}));
    }

    #[test]
    fn event_with_zero_times() {
        let event = Pb::new()
            .msg(1, go_meta("web.17a", "default"))
            .msg(2, Pb::new().string(1, "Pod").string(3, "web").string(5, "v1"))
            .string(3, "Started")
            .string(4, "Started container")
            .msg(5, Pb::new().string(1, "kubelet").string(2, ""))
            .msg(6, time(1_704_164_645, 0))
            .msg(7, Pb::new())
            .int(8, 1)
            .string(9, "Normal")
            .msg(10, Pb::new())
            .string(12, "")
            .string(14, "")
            .string(15, "");
        let value = decode_ok(&body("v1", "Event", event));
        assert_eq!(
            value,
            json!({
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": "web.17a", "namespace": "default", "creationTimestamp": null},
                "involvedObject": {"kind": "Pod", "name": "web", "apiVersion": "v1"},
                "reason": "Started",
                "message": "Started container",
                "source": {"component": "kubelet"},
                "firstTimestamp": "2024-01-02T03:04:05Z",
                "lastTimestamp": null,
                "count": 1,
                "type": "Normal",
                "eventTime": null,
                "reportingComponent": "",
                "reportingInstance": "",
            })
        );
    }
}
