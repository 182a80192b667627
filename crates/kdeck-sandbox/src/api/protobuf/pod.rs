//! core/v1 tables (k8s.io/api/core/v1/generated.proto) for Pod, PodSpec,
//! containers and volumes. PodTemplateSpec is used by the apps and batch
//! groups too.

use super::core_v1::{LOCAL_OBJECT_REFERENCE, PERSISTENT_VOLUME_CLAIM_SPEC};
use super::meta::{LABEL_SELECTOR, OBJECT_META};
use super::schema::Ty::{self, Bool, I32, I64, IntOrString, Quantity, Str, Time};
use super::schema::{MAP_QUANTITY, MAP_STR, Msg, f, keep, m, rep};

pub(super) static POD: Msg = Msg::new("core/v1 Pod", &[f(1, "metadata", m(&OBJECT_META)), f(2, "spec", m(&POD_SPEC)), f(3, "status", m(&POD_STATUS))]);

/// Only the status fields a client may plausibly send; container statuses
/// and resource status are written by the kubelet and are refused.
static POD_STATUS: Msg = Msg::new(
    "core/v1 PodStatus",
    &[
        f(17, "observedGeneration", I64),
        f(1, "phase", Str),
        rep(2, "conditions", m(&POD_CONDITION)),
        f(3, "message", Str),
        f(4, "reason", Str),
        f(11, "nominatedNodeName", Str),
        f(5, "hostIP", Str),
        rep(16, "hostIPs", m(&HOST_IP)),
        f(6, "podIP", Str),
        rep(12, "podIPs", m(&POD_IP)),
        f(7, "startTime", Time),
        f(9, "qosClass", Str),
        f(14, "resize", Str),
        f(19, "allocatedResources", MAP_QUANTITY),
        f(20, "resources", m(&RESOURCE_REQUIREMENTS)),
    ],
);

static POD_CONDITION: Msg = Msg::new(
    "core/v1 PodCondition",
    &[
        keep(1, "type", Str),
        f(7, "observedGeneration", I64),
        keep(2, "status", Str),
        f(3, "lastProbeTime", Time),
        f(4, "lastTransitionTime", Time),
        f(5, "reason", Str),
        f(6, "message", Str),
    ],
);

static HOST_IP: Msg = Msg::new("core/v1 HostIP", &[keep(1, "ip", Str)]);

static POD_IP: Msg = Msg::new("core/v1 PodIP", &[keep(1, "ip", Str)]);

pub(super) static POD_TEMPLATE_SPEC: Msg = Msg::new("core/v1 PodTemplateSpec", &[f(1, "metadata", m(&OBJECT_META)), f(2, "spec", m(&POD_SPEC))]);

static POD_SPEC: Msg = Msg::new(
    "core/v1 PodSpec",
    &[
        rep(1, "volumes", m(&VOLUME)),
        rep(20, "initContainers", m(&CONTAINER)),
        rep(2, "containers", m(&CONTAINER)),
        rep(34, "ephemeralContainers", m(&EPHEMERAL_CONTAINER)),
        f(3, "restartPolicy", Str),
        keep(4, "terminationGracePeriodSeconds", I64),
        keep(5, "activeDeadlineSeconds", I64),
        f(6, "dnsPolicy", Str),
        f(7, "nodeSelector", MAP_STR),
        f(8, "serviceAccountName", Str),
        f(9, "serviceAccount", Str),
        keep(21, "automountServiceAccountToken", Bool),
        f(10, "nodeName", Str),
        f(11, "hostNetwork", Bool),
        f(12, "hostPID", Bool),
        f(13, "hostIPC", Bool),
        keep(27, "shareProcessNamespace", Bool),
        f(14, "securityContext", m(&POD_SECURITY_CONTEXT)),
        rep(15, "imagePullSecrets", m(&LOCAL_OBJECT_REFERENCE)),
        f(16, "hostname", Str),
        f(17, "subdomain", Str),
        f(18, "affinity", m(&AFFINITY)),
        f(19, "schedulerName", Str),
        rep(22, "tolerations", m(&TOLERATION)),
        rep(23, "hostAliases", m(&HOST_ALIAS)),
        f(24, "priorityClassName", Str),
        keep(25, "priority", I32),
        f(26, "dnsConfig", m(&POD_DNS_CONFIG)),
        rep(28, "readinessGates", m(&POD_READINESS_GATE)),
        keep(29, "runtimeClassName", Str),
        keep(30, "enableServiceLinks", Bool),
        keep(31, "preemptionPolicy", Str),
        f(32, "overhead", MAP_QUANTITY),
        rep(33, "topologySpreadConstraints", m(&TOPOLOGY_SPREAD_CONSTRAINT)),
        keep(35, "setHostnameAsFQDN", Bool),
        f(36, "os", m(&POD_OS)),
        keep(37, "hostUsers", Bool),
        rep(38, "schedulingGates", m(&POD_SCHEDULING_GATE)),
        rep(39, "resourceClaims", m(&POD_RESOURCE_CLAIM)),
        f(40, "resources", m(&RESOURCE_REQUIREMENTS)),
        keep(41, "hostnameOverride", Str),
    ],
);

static CONTAINER: Msg = Msg::new(
    "core/v1 Container",
    &[
        keep(1, "name", Str),
        f(2, "image", Str),
        rep(3, "command", Str),
        rep(4, "args", Str),
        f(5, "workingDir", Str),
        rep(6, "ports", m(&CONTAINER_PORT)),
        rep(19, "envFrom", m(&ENV_FROM_SOURCE)),
        rep(7, "env", m(&ENV_VAR)),
        f(8, "resources", m(&RESOURCE_REQUIREMENTS)),
        rep(23, "resizePolicy", m(&CONTAINER_RESIZE_POLICY)),
        keep(24, "restartPolicy", Str),
        rep(25, "restartPolicyRules", m(&CONTAINER_RESTART_RULE)),
        rep(9, "volumeMounts", m(&VOLUME_MOUNT)),
        rep(21, "volumeDevices", m(&VOLUME_DEVICE)),
        f(10, "livenessProbe", m(&PROBE)),
        f(11, "readinessProbe", m(&PROBE)),
        f(22, "startupProbe", m(&PROBE)),
        f(12, "lifecycle", m(&LIFECYCLE)),
        f(13, "terminationMessagePath", Str),
        f(20, "terminationMessagePolicy", Str),
        f(14, "imagePullPolicy", Str),
        f(15, "securityContext", m(&SECURITY_CONTEXT)),
        f(16, "stdin", Bool),
        f(17, "stdinOnce", Bool),
        f(18, "tty", Bool),
    ],
);

/// EphemeralContainerCommon has exactly Container's field numbers and is
/// inlined in Go, so the Container table is reused for it.
static EPHEMERAL_CONTAINER: Msg =
    Msg::new("core/v1 EphemeralContainer", &[f(1, "ephemeralContainerCommon", Ty::Inline(&CONTAINER)), f(2, "targetContainerName", Str)]);

static CONTAINER_PORT: Msg =
    Msg::new("core/v1 ContainerPort", &[f(1, "name", Str), f(2, "hostPort", I32), keep(3, "containerPort", I32), f(4, "protocol", Str), f(5, "hostIP", Str)]);

static CONTAINER_RESIZE_POLICY: Msg = Msg::new("core/v1 ContainerResizePolicy", &[keep(1, "resourceName", Str), keep(2, "restartPolicy", Str)]);

static CONTAINER_RESTART_RULE: Msg =
    Msg::new("core/v1 ContainerRestartRule", &[f(1, "action", Str), f(2, "exitCodes", m(&CONTAINER_RESTART_RULE_ON_EXIT_CODES))]);

static CONTAINER_RESTART_RULE_ON_EXIT_CODES: Msg = Msg::new("core/v1 ContainerRestartRuleOnExitCodes", &[f(1, "operator", Str), rep(2, "values", I32)]);

static ENV_FROM_SOURCE: Msg =
    Msg::new("core/v1 EnvFromSource", &[f(1, "prefix", Str), f(2, "configMapRef", m(&CONFIG_MAP_ENV_SOURCE)), f(3, "secretRef", m(&SECRET_ENV_SOURCE))]);

static CONFIG_MAP_ENV_SOURCE: Msg =
    Msg::new("core/v1 ConfigMapEnvSource", &[f(1, "localObjectReference", Ty::Inline(&LOCAL_OBJECT_REFERENCE)), keep(2, "optional", Bool)]);

static SECRET_ENV_SOURCE: Msg =
    Msg::new("core/v1 SecretEnvSource", &[f(1, "localObjectReference", Ty::Inline(&LOCAL_OBJECT_REFERENCE)), keep(2, "optional", Bool)]);

static ENV_VAR: Msg = Msg::new("core/v1 EnvVar", &[keep(1, "name", Str), f(2, "value", Str), f(3, "valueFrom", m(&ENV_VAR_SOURCE))]);

static ENV_VAR_SOURCE: Msg = Msg::new(
    "core/v1 EnvVarSource",
    &[
        f(1, "fieldRef", m(&OBJECT_FIELD_SELECTOR)),
        f(2, "resourceFieldRef", m(&RESOURCE_FIELD_SELECTOR)),
        f(3, "configMapKeyRef", m(&CONFIG_MAP_KEY_SELECTOR)),
        f(4, "secretKeyRef", m(&SECRET_KEY_SELECTOR)),
        f(5, "fileKeyRef", m(&FILE_KEY_SELECTOR)),
    ],
);

static OBJECT_FIELD_SELECTOR: Msg = Msg::new("core/v1 ObjectFieldSelector", &[f(1, "apiVersion", Str), keep(2, "fieldPath", Str)]);

static RESOURCE_FIELD_SELECTOR: Msg =
    Msg::new("core/v1 ResourceFieldSelector", &[f(1, "containerName", Str), keep(2, "resource", Str), f(3, "divisor", Quantity)]);

static CONFIG_MAP_KEY_SELECTOR: Msg = Msg::new(
    "core/v1 ConfigMapKeySelector",
    &[f(1, "localObjectReference", Ty::Inline(&LOCAL_OBJECT_REFERENCE)), keep(2, "key", Str), keep(3, "optional", Bool)],
);

static SECRET_KEY_SELECTOR: Msg =
    Msg::new("core/v1 SecretKeySelector", &[f(1, "localObjectReference", Ty::Inline(&LOCAL_OBJECT_REFERENCE)), keep(2, "key", Str), keep(3, "optional", Bool)]);

static FILE_KEY_SELECTOR: Msg =
    Msg::new("core/v1 FileKeySelector", &[keep(1, "volumeName", Str), keep(2, "path", Str), keep(3, "key", Str), keep(4, "optional", Bool)]);

static RESOURCE_REQUIREMENTS: Msg =
    Msg::new("core/v1 ResourceRequirements", &[f(1, "limits", MAP_QUANTITY), f(2, "requests", MAP_QUANTITY), rep(3, "claims", m(&RESOURCE_CLAIM))]);

static RESOURCE_CLAIM: Msg = Msg::new("core/v1 ResourceClaim", &[keep(1, "name", Str), f(2, "request", Str)]);

static VOLUME_MOUNT: Msg = Msg::new(
    "core/v1 VolumeMount",
    &[
        keep(1, "name", Str),
        f(2, "readOnly", Bool),
        keep(7, "recursiveReadOnly", Str),
        keep(3, "mountPath", Str),
        f(4, "subPath", Str),
        keep(5, "mountPropagation", Str),
        f(6, "subPathExpr", Str),
    ],
);

static VOLUME_DEVICE: Msg = Msg::new("core/v1 VolumeDevice", &[keep(1, "name", Str), keep(2, "devicePath", Str)]);

static PROBE: Msg = Msg::new(
    "core/v1 Probe",
    &[
        f(1, "handler", Ty::Inline(&PROBE_HANDLER)),
        f(2, "initialDelaySeconds", I32),
        f(3, "timeoutSeconds", I32),
        f(4, "periodSeconds", I32),
        f(5, "successThreshold", I32),
        f(6, "failureThreshold", I32),
        keep(7, "terminationGracePeriodSeconds", I64),
    ],
);

static PROBE_HANDLER: Msg = Msg::new(
    "core/v1 ProbeHandler",
    &[f(1, "exec", m(&EXEC_ACTION)), f(2, "httpGet", m(&HTTP_GET_ACTION)), f(3, "tcpSocket", m(&TCP_SOCKET_ACTION)), f(4, "grpc", m(&GRPC_ACTION))],
);

static EXEC_ACTION: Msg = Msg::new("core/v1 ExecAction", &[rep(1, "command", Str)]);

static HTTP_GET_ACTION: Msg = Msg::new(
    "core/v1 HTTPGetAction",
    &[f(1, "path", Str), f(2, "port", IntOrString), f(3, "host", Str), f(4, "scheme", Str), rep(5, "httpHeaders", m(&HTTP_HEADER))],
);

static HTTP_HEADER: Msg = Msg::new("core/v1 HTTPHeader", &[keep(1, "name", Str), keep(2, "value", Str)]);

static TCP_SOCKET_ACTION: Msg = Msg::new("core/v1 TCPSocketAction", &[f(1, "port", IntOrString), f(2, "host", Str)]);

static GRPC_ACTION: Msg = Msg::new("core/v1 GRPCAction", &[keep(1, "port", I32), keep(2, "service", Str)]);

static LIFECYCLE: Msg =
    Msg::new("core/v1 Lifecycle", &[f(1, "postStart", m(&LIFECYCLE_HANDLER)), f(2, "preStop", m(&LIFECYCLE_HANDLER)), keep(3, "stopSignal", Str)]);

static LIFECYCLE_HANDLER: Msg = Msg::new(
    "core/v1 LifecycleHandler",
    &[f(1, "exec", m(&EXEC_ACTION)), f(2, "httpGet", m(&HTTP_GET_ACTION)), f(3, "tcpSocket", m(&TCP_SOCKET_ACTION)), f(4, "sleep", m(&SLEEP_ACTION))],
);

static SLEEP_ACTION: Msg = Msg::new("core/v1 SleepAction", &[keep(1, "seconds", I64)]);

static SECURITY_CONTEXT: Msg = Msg::new(
    "core/v1 SecurityContext",
    &[
        f(1, "capabilities", m(&CAPABILITIES)),
        keep(2, "privileged", Bool),
        f(3, "seLinuxOptions", m(&SE_LINUX_OPTIONS)),
        f(10, "windowsOptions", m(&WINDOWS_SECURITY_CONTEXT_OPTIONS)),
        keep(4, "runAsUser", I64),
        keep(8, "runAsGroup", I64),
        keep(5, "runAsNonRoot", Bool),
        keep(6, "readOnlyRootFilesystem", Bool),
        keep(7, "allowPrivilegeEscalation", Bool),
        keep(9, "procMount", Str),
        f(11, "seccompProfile", m(&SECCOMP_PROFILE)),
        f(12, "appArmorProfile", m(&APP_ARMOR_PROFILE)),
    ],
);

static CAPABILITIES: Msg = Msg::new("core/v1 Capabilities", &[rep(1, "add", Str), rep(2, "drop", Str)]);

static SE_LINUX_OPTIONS: Msg = Msg::new("core/v1 SELinuxOptions", &[f(1, "user", Str), f(2, "role", Str), f(3, "type", Str), f(4, "level", Str)]);

static WINDOWS_SECURITY_CONTEXT_OPTIONS: Msg = Msg::new(
    "core/v1 WindowsSecurityContextOptions",
    &[keep(1, "gmsaCredentialSpecName", Str), keep(2, "gmsaCredentialSpec", Str), keep(3, "runAsUserName", Str), keep(4, "hostProcess", Bool)],
);

static SECCOMP_PROFILE: Msg = Msg::new("core/v1 SeccompProfile", &[keep(1, "type", Str), keep(2, "localhostProfile", Str)]);

static APP_ARMOR_PROFILE: Msg = Msg::new("core/v1 AppArmorProfile", &[keep(1, "type", Str), keep(2, "localhostProfile", Str)]);

static POD_SECURITY_CONTEXT: Msg = Msg::new(
    "core/v1 PodSecurityContext",
    &[
        f(1, "seLinuxOptions", m(&SE_LINUX_OPTIONS)),
        f(8, "windowsOptions", m(&WINDOWS_SECURITY_CONTEXT_OPTIONS)),
        keep(2, "runAsUser", I64),
        keep(6, "runAsGroup", I64),
        keep(3, "runAsNonRoot", Bool),
        rep(4, "supplementalGroups", I64),
        keep(12, "supplementalGroupsPolicy", Str),
        keep(5, "fsGroup", I64),
        rep(7, "sysctls", m(&SYSCTL)),
        keep(9, "fsGroupChangePolicy", Str),
        f(10, "seccompProfile", m(&SECCOMP_PROFILE)),
        f(11, "appArmorProfile", m(&APP_ARMOR_PROFILE)),
        keep(13, "seLinuxChangePolicy", Str),
    ],
);

static SYSCTL: Msg = Msg::new("core/v1 Sysctl", &[keep(1, "name", Str), keep(2, "value", Str)]);

static AFFINITY: Msg = Msg::new(
    "core/v1 Affinity",
    &[f(1, "nodeAffinity", m(&NODE_AFFINITY)), f(2, "podAffinity", m(&POD_AFFINITY)), f(3, "podAntiAffinity", m(&POD_ANTI_AFFINITY))],
);

static NODE_AFFINITY: Msg = Msg::new(
    "core/v1 NodeAffinity",
    &[
        f(1, "requiredDuringSchedulingIgnoredDuringExecution", m(&NODE_SELECTOR)),
        rep(2, "preferredDuringSchedulingIgnoredDuringExecution", m(&PREFERRED_SCHEDULING_TERM)),
    ],
);

static NODE_SELECTOR: Msg = Msg::new("core/v1 NodeSelector", &[rep(1, "nodeSelectorTerms", m(&NODE_SELECTOR_TERM))]);

static NODE_SELECTOR_TERM: Msg =
    Msg::new("core/v1 NodeSelectorTerm", &[rep(1, "matchExpressions", m(&NODE_SELECTOR_REQUIREMENT)), rep(2, "matchFields", m(&NODE_SELECTOR_REQUIREMENT))]);

static NODE_SELECTOR_REQUIREMENT: Msg = Msg::new("core/v1 NodeSelectorRequirement", &[keep(1, "key", Str), keep(2, "operator", Str), rep(3, "values", Str)]);

static PREFERRED_SCHEDULING_TERM: Msg = Msg::new("core/v1 PreferredSchedulingTerm", &[keep(1, "weight", I32), f(2, "preference", m(&NODE_SELECTOR_TERM))]);

static POD_AFFINITY: Msg = Msg::new(
    "core/v1 PodAffinity",
    &[
        rep(1, "requiredDuringSchedulingIgnoredDuringExecution", m(&POD_AFFINITY_TERM)),
        rep(2, "preferredDuringSchedulingIgnoredDuringExecution", m(&WEIGHTED_POD_AFFINITY_TERM)),
    ],
);

static POD_ANTI_AFFINITY: Msg = Msg::new(
    "core/v1 PodAntiAffinity",
    &[
        rep(1, "requiredDuringSchedulingIgnoredDuringExecution", m(&POD_AFFINITY_TERM)),
        rep(2, "preferredDuringSchedulingIgnoredDuringExecution", m(&WEIGHTED_POD_AFFINITY_TERM)),
    ],
);

static POD_AFFINITY_TERM: Msg = Msg::new(
    "core/v1 PodAffinityTerm",
    &[
        f(1, "labelSelector", m(&LABEL_SELECTOR)),
        rep(2, "namespaces", Str),
        keep(3, "topologyKey", Str),
        f(4, "namespaceSelector", m(&LABEL_SELECTOR)),
        rep(5, "matchLabelKeys", Str),
        rep(6, "mismatchLabelKeys", Str),
    ],
);

static WEIGHTED_POD_AFFINITY_TERM: Msg = Msg::new("core/v1 WeightedPodAffinityTerm", &[keep(1, "weight", I32), f(2, "podAffinityTerm", m(&POD_AFFINITY_TERM))]);

static TOLERATION: Msg =
    Msg::new("core/v1 Toleration", &[f(1, "key", Str), f(2, "operator", Str), f(3, "value", Str), f(4, "effect", Str), keep(5, "tolerationSeconds", I64)]);

static HOST_ALIAS: Msg = Msg::new("core/v1 HostAlias", &[keep(1, "ip", Str), rep(2, "hostnames", Str)]);

static POD_DNS_CONFIG: Msg =
    Msg::new("core/v1 PodDNSConfig", &[rep(1, "nameservers", Str), rep(2, "searches", Str), rep(3, "options", m(&POD_DNS_CONFIG_OPTION))]);

static POD_DNS_CONFIG_OPTION: Msg = Msg::new("core/v1 PodDNSConfigOption", &[f(1, "name", Str), keep(2, "value", Str)]);

static POD_READINESS_GATE: Msg = Msg::new("core/v1 PodReadinessGate", &[keep(1, "conditionType", Str)]);

static TOPOLOGY_SPREAD_CONSTRAINT: Msg = Msg::new(
    "core/v1 TopologySpreadConstraint",
    &[
        keep(1, "maxSkew", I32),
        keep(2, "topologyKey", Str),
        keep(3, "whenUnsatisfiable", Str),
        f(4, "labelSelector", m(&LABEL_SELECTOR)),
        keep(5, "minDomains", I32),
        keep(6, "nodeAffinityPolicy", Str),
        keep(7, "nodeTaintsPolicy", Str),
        rep(8, "matchLabelKeys", Str),
    ],
);

static POD_OS: Msg = Msg::new("core/v1 PodOS", &[keep(1, "name", Str)]);

static POD_SCHEDULING_GATE: Msg = Msg::new("core/v1 PodSchedulingGate", &[keep(1, "name", Str)]);

static POD_RESOURCE_CLAIM: Msg =
    Msg::new("core/v1 PodResourceClaim", &[keep(1, "name", Str), keep(3, "resourceClaimName", Str), keep(4, "resourceClaimTemplateName", Str)]);

// ---------------------------------------------------------------------------
// core/v1: volumes (the in-tree cloud volume types are not supported and are
// refused as unknown fields)
// ---------------------------------------------------------------------------

static VOLUME: Msg = Msg::new("core/v1 Volume", &[keep(1, "name", Str), f(2, "volumeSource", Ty::Inline(&VOLUME_SOURCE))]);

static VOLUME_SOURCE: Msg = Msg::new(
    "core/v1 VolumeSource",
    &[
        f(1, "hostPath", m(&HOST_PATH_VOLUME_SOURCE)),
        f(2, "emptyDir", m(&EMPTY_DIR_VOLUME_SOURCE)),
        f(6, "secret", m(&SECRET_VOLUME_SOURCE)),
        f(7, "nfs", m(&NFS_VOLUME_SOURCE)),
        f(10, "persistentVolumeClaim", m(&PERSISTENT_VOLUME_CLAIM_VOLUME_SOURCE)),
        f(16, "downwardAPI", m(&DOWNWARD_API_VOLUME_SOURCE)),
        f(19, "configMap", m(&CONFIG_MAP_VOLUME_SOURCE)),
        f(26, "projected", m(&PROJECTED_VOLUME_SOURCE)),
        f(28, "csi", m(&CSI_VOLUME_SOURCE)),
        f(29, "ephemeral", m(&EPHEMERAL_VOLUME_SOURCE)),
        f(30, "image", m(&IMAGE_VOLUME_SOURCE)),
    ],
);

static HOST_PATH_VOLUME_SOURCE: Msg = Msg::new("core/v1 HostPathVolumeSource", &[keep(1, "path", Str), keep(2, "type", Str)]);

static EMPTY_DIR_VOLUME_SOURCE: Msg = Msg::new("core/v1 EmptyDirVolumeSource", &[f(1, "medium", Str), f(2, "sizeLimit", Quantity)]);

static SECRET_VOLUME_SOURCE: Msg = Msg::new(
    "core/v1 SecretVolumeSource",
    &[f(1, "secretName", Str), rep(2, "items", m(&KEY_TO_PATH)), keep(3, "defaultMode", I32), keep(4, "optional", Bool)],
);

static KEY_TO_PATH: Msg = Msg::new("core/v1 KeyToPath", &[keep(1, "key", Str), keep(2, "path", Str), keep(3, "mode", I32)]);

static NFS_VOLUME_SOURCE: Msg = Msg::new("core/v1 NFSVolumeSource", &[keep(1, "server", Str), keep(2, "path", Str), f(3, "readOnly", Bool)]);

static PERSISTENT_VOLUME_CLAIM_VOLUME_SOURCE: Msg = Msg::new("core/v1 PersistentVolumeClaimVolumeSource", &[keep(1, "claimName", Str), f(2, "readOnly", Bool)]);

static DOWNWARD_API_VOLUME_SOURCE: Msg =
    Msg::new("core/v1 DownwardAPIVolumeSource", &[rep(1, "items", m(&DOWNWARD_API_VOLUME_FILE)), keep(2, "defaultMode", I32)]);

static DOWNWARD_API_VOLUME_FILE: Msg = Msg::new(
    "core/v1 DownwardAPIVolumeFile",
    &[keep(1, "path", Str), f(2, "fieldRef", m(&OBJECT_FIELD_SELECTOR)), f(3, "resourceFieldRef", m(&RESOURCE_FIELD_SELECTOR)), keep(4, "mode", I32)],
);

static CONFIG_MAP_VOLUME_SOURCE: Msg = Msg::new(
    "core/v1 ConfigMapVolumeSource",
    &[
        f(1, "localObjectReference", Ty::Inline(&LOCAL_OBJECT_REFERENCE)),
        rep(2, "items", m(&KEY_TO_PATH)),
        keep(3, "defaultMode", I32),
        keep(4, "optional", Bool),
    ],
);

static PROJECTED_VOLUME_SOURCE: Msg = Msg::new("core/v1 ProjectedVolumeSource", &[rep(1, "sources", m(&VOLUME_PROJECTION)), keep(2, "defaultMode", I32)]);

static VOLUME_PROJECTION: Msg = Msg::new(
    "core/v1 VolumeProjection",
    &[
        f(1, "secret", m(&SECRET_PROJECTION)),
        f(2, "downwardAPI", m(&DOWNWARD_API_PROJECTION)),
        f(3, "configMap", m(&CONFIG_MAP_PROJECTION)),
        f(4, "serviceAccountToken", m(&SERVICE_ACCOUNT_TOKEN_PROJECTION)),
        f(5, "clusterTrustBundle", m(&CLUSTER_TRUST_BUNDLE_PROJECTION)),
    ],
);

static SECRET_PROJECTION: Msg = Msg::new(
    "core/v1 SecretProjection",
    &[f(1, "localObjectReference", Ty::Inline(&LOCAL_OBJECT_REFERENCE)), rep(2, "items", m(&KEY_TO_PATH)), keep(4, "optional", Bool)],
);

static CONFIG_MAP_PROJECTION: Msg = Msg::new(
    "core/v1 ConfigMapProjection",
    &[f(1, "localObjectReference", Ty::Inline(&LOCAL_OBJECT_REFERENCE)), rep(2, "items", m(&KEY_TO_PATH)), keep(4, "optional", Bool)],
);

static DOWNWARD_API_PROJECTION: Msg = Msg::new("core/v1 DownwardAPIProjection", &[rep(1, "items", m(&DOWNWARD_API_VOLUME_FILE))]);

static SERVICE_ACCOUNT_TOKEN_PROJECTION: Msg =
    Msg::new("core/v1 ServiceAccountTokenProjection", &[f(1, "audience", Str), keep(2, "expirationSeconds", I64), keep(3, "path", Str)]);

static CLUSTER_TRUST_BUNDLE_PROJECTION: Msg = Msg::new(
    "core/v1 ClusterTrustBundleProjection",
    &[keep(1, "name", Str), keep(2, "signerName", Str), f(3, "labelSelector", m(&LABEL_SELECTOR)), keep(5, "optional", Bool), keep(4, "path", Str)],
);

static CSI_VOLUME_SOURCE: Msg = Msg::new(
    "core/v1 CSIVolumeSource",
    &[
        keep(1, "driver", Str),
        keep(2, "readOnly", Bool),
        keep(3, "fsType", Str),
        f(4, "volumeAttributes", MAP_STR),
        f(5, "nodePublishSecretRef", m(&LOCAL_OBJECT_REFERENCE)),
    ],
);

static EPHEMERAL_VOLUME_SOURCE: Msg = Msg::new("core/v1 EphemeralVolumeSource", &[f(1, "volumeClaimTemplate", m(&PERSISTENT_VOLUME_CLAIM_TEMPLATE))]);

static PERSISTENT_VOLUME_CLAIM_TEMPLATE: Msg =
    Msg::new("core/v1 PersistentVolumeClaimTemplate", &[f(1, "metadata", m(&OBJECT_META)), f(2, "spec", m(&PERSISTENT_VOLUME_CLAIM_SPEC))]);

static IMAGE_VOLUME_SOURCE: Msg = Msg::new("core/v1 ImageVolumeSource", &[f(1, "reference", Str), f(2, "pullPolicy", Str)]);

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_encoder::*;

    #[test]
    fn deployment_with_full_container() {
        let container = go_container("app", "registry/app:2")
            .string(3, "/bin/app")
            .string(4, "--port=8080")
            .msg(6, Pb::new().string(1, "http").int(2, 0).int(3, 8080).string(4, "TCP").string(5, ""))
            .msg(7, Pb::new().string(1, "MODE").string(2, "prod"))
            .msg(7, Pb::new().string(1, "POD_NAME").string(2, "").msg(3, Pb::new().msg(1, Pb::new().string(1, "v1").string(2, "metadata.name"))))
            .msg(7, Pb::new().string(1, "TOKEN").msg(3, Pb::new().msg(4, Pb::new().msg(1, Pb::new().string(1, "creds")).string(2, "token").boolean(3, true))))
            .msg(8, Pb::new().quantity_entry(1, "memory", "128Mi").quantity_entry(2, "cpu", "250m"))
            .msg(9, Pb::new().string(1, "data").boolean(2, true).string(3, "/data").string(4, "").string(6, ""))
            .msg(
                10,
                Pb::new()
                    .msg(1, Pb::new().msg(2, Pb::new().string(1, "/healthz").msg(2, Pb::new().int(1, 1).string(3, "http")).string(3, "").string(4, "HTTP")))
                    .int(2, 5)
                    .int(3, 1)
                    .int(4, 10)
                    .int(5, 1)
                    .int(6, 3),
            )
            .msg(11, Pb::new().msg(1, Pb::new().msg(3, Pb::new().msg(1, Pb::new().int(1, 0).int(2, 8080)))))
            .msg(15, Pb::new().int(4, 0).boolean(7, false));
        let pod_spec = go_pod_spec(vec![container])
            .msg(1, Pb::new().string(1, "data").msg(2, Pb::new().msg(2, Pb::new().string(1, "Memory"))))
            .msg(1, Pb::new().string(1, "cfg").msg(2, Pb::new().msg(19, Pb::new().msg(1, Pb::new().string(1, "settings")).int(3, 420))))
            .int(4, 30)
            .msg(14, Pb::new())
            .msg(22, Pb::new().string(1, "node.kubernetes.io/not-ready").string(2, "Exists").string(3, "").string(4, "NoExecute").int(5, 300))
            .boolean(30, false);
        let spec = Pb::new()
            .int(1, 2)
            .msg(2, Pb::new().msg(2, Pb::new().string(1, "tier").string(2, "In").string(3, "web").string(3, "api")))
            .msg(3, Pb::new().msg(1, go_meta("", "")).msg(2, pod_spec))
            .msg(4, Pb::new().string(1, "RollingUpdate").msg(2, Pb::new().msg(1, Pb::new().int(1, 1).string(3, "25%")).msg(2, Pb::new().int(1, 0).int(2, 1))))
            .int(6, 10)
            .int(9, 600);
        let value = decode_ok(&body("apps/v1", "Deployment", Pb::new().msg(1, go_meta("app", "default")).msg(2, spec)));
        assert_eq!(
            value["spec"],
            json!({
                "replicas": 2,
                "selector": {"matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["web", "api"]},
                ]},
                "template": {
                    "metadata": {"creationTimestamp": null},
                    "spec": {
                        "volumes": [
                            {"name": "data", "emptyDir": {"medium": "Memory"}},
                            {"name": "cfg", "configMap": {"name": "settings", "defaultMode": 420}},
                        ],
                        "containers": [{
                            "name": "app",
                            "image": "registry/app:2",
                            "command": ["/bin/app"],
                            "args": ["--port=8080"],
                            "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                            "env": [
                                {"name": "MODE", "value": "prod"},
                                {"name": "POD_NAME", "valueFrom": {
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"},
                                }},
                                {"name": "TOKEN", "valueFrom": {
                                    "secretKeyRef": {"name": "creds", "key": "token", "optional": true},
                                }},
                            ],
                            "resources": {"limits": {"memory": "128Mi"}, "requests": {"cpu": "250m"}},
                            "volumeMounts": [{"name": "data", "readOnly": true, "mountPath": "/data"}],
                            "livenessProbe": {
                                "httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"},
                                "initialDelaySeconds": 5,
                                "timeoutSeconds": 1,
                                "periodSeconds": 10,
                                "successThreshold": 1,
                                "failureThreshold": 3,
                            },
                            "readinessProbe": {"tcpSocket": {"port": 8080}},
                            "securityContext": {"runAsUser": 0, "allowPrivilegeEscalation": false},
                        }],
                        "terminationGracePeriodSeconds": 30,
                        "securityContext": {},
                        "tolerations": [{
                            "key": "node.kubernetes.io/not-ready",
                            "operator": "Exists",
                            "effect": "NoExecute",
                            "tolerationSeconds": 300,
                        }],
                        "enableServiceLinks": false,
                    },
                },
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 1},
                },
                "revisionHistoryLimit": 10,
                "progressDeadlineSeconds": 600,
            })
        );
    }
}
