//! The types of built-in kinds' fields, checked as kube-apiserver's decoding into
//! its Go structs checks them: a number where a string goes (a ConfigMap's `data`
//! value, a label, a container's image), a string where an integer goes
//! (`spec.replicas`, a port), a map or list of the wrong shape — refused with
//! `400 BadRequest` and Go's message, naming the struct and the field path:
//!
//! `ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot
//! unmarshal number into Go struct field ConfigMap.data of type string`
//!
//! The tables cover what clients write by hand most (metadata, ConfigMaps,
//! Secrets, pod templates with their probes, security contexts, resources and
//! volumes, Deployments, StatefulSets, Jobs, CronJobs, Services, claims,
//! Ingresses), not every field of every kind. Quantities (`resources.limits`
//! values) are left alone: Go takes them as strings or numbers.

use serde_json::Value;

use super::ApiError;
use crate::resources::ResourceInfo;

#[derive(Clone, Copy)]
enum Kind {
    String,
    Integer,
    Bool,
    /// A JSON object (a map or a struct).
    Object,
    List,
}

/// One field: its path (`x[]`: each element of list `x`, `*`: each value of a map,
/// `CONTAINERS[]`: each container and init container), the Go struct it belongs
/// to, its Go type, and the JSON it takes. Paths are split ahead, so a check
/// allocates nothing unless it refuses.
type Rule = (&'static [&'static str], &'static str, &'static str, Kind);

const METADATA: &[Rule] = &[
    (&["metadata", "name"], "ObjectMeta", "string", Kind::String),
    (&["metadata", "generateName"], "ObjectMeta", "string", Kind::String),
    (&["metadata", "namespace"], "ObjectMeta", "string", Kind::String),
    (&["metadata", "labels"], "ObjectMeta", "map[string]string", Kind::Object),
    (&["metadata", "labels", "*"], "ObjectMeta", "string", Kind::String),
    (&["metadata", "annotations"], "ObjectMeta", "map[string]string", Kind::Object),
    (&["metadata", "annotations", "*"], "ObjectMeta", "string", Kind::String),
    (&["metadata", "finalizers"], "ObjectMeta", "[]string", Kind::List),
    (&["metadata", "finalizers[]"], "ObjectMeta", "string", Kind::String),
];

const CONFIG_MAP: &[Rule] = &[
    (&["data"], "ConfigMap", "map[string]string", Kind::Object),
    (&["data", "*"], "ConfigMap", "string", Kind::String),
    (&["binaryData"], "ConfigMap", "map[string][]uint8", Kind::Object),
    (&["binaryData", "*"], "ConfigMap", "[]uint8", Kind::String),
    (&["immutable"], "ConfigMap", "bool", Kind::Bool),
];

const SECRET: &[Rule] = &[
    (&["data"], "Secret", "map[string][]uint8", Kind::Object),
    (&["data", "*"], "Secret", "[]uint8", Kind::String),
    (&["stringData"], "Secret", "map[string]string", Kind::Object),
    (&["stringData", "*"], "Secret", "string", Kind::String),
    (&["type"], "Secret", "v1.SecretType", Kind::String),
    (&["immutable"], "Secret", "bool", Kind::Bool),
];

/// A PodSpec's fields, below its place (`spec`, `spec.template.spec`, …).
const POD_SPEC: &[Rule] = &[
    (&["containers"], "PodSpec", "[]v1.Container", Kind::List),
    (&["initContainers"], "PodSpec", "[]v1.Container", Kind::List),
    (&["restartPolicy"], "PodSpec", "v1.RestartPolicy", Kind::String),
    (&["serviceAccountName"], "PodSpec", "string", Kind::String),
    (&["nodeSelector"], "PodSpec", "map[string]string", Kind::Object),
    (&["nodeSelector", "*"], "PodSpec", "string", Kind::String),
    (&["CONTAINERS[]", "name"], "Container", "string", Kind::String),
    (&["CONTAINERS[]", "image"], "Container", "string", Kind::String),
    (&["CONTAINERS[]", "command"], "Container", "[]string", Kind::List),
    (&["CONTAINERS[]", "command[]"], "Container", "string", Kind::String),
    (&["CONTAINERS[]", "args"], "Container", "[]string", Kind::List),
    (&["CONTAINERS[]", "args[]"], "Container", "string", Kind::String),
    (&["CONTAINERS[]", "workingDir"], "Container", "string", Kind::String),
    (&["CONTAINERS[]", "ports"], "Container", "[]v1.ContainerPort", Kind::List),
    (&["CONTAINERS[]", "ports[]", "containerPort"], "ContainerPort", "int32", Kind::Integer),
    (&["CONTAINERS[]", "ports[]", "name"], "ContainerPort", "string", Kind::String),
    (&["CONTAINERS[]", "env"], "Container", "[]v1.EnvVar", Kind::List),
    (&["CONTAINERS[]", "env[]", "name"], "EnvVar", "string", Kind::String),
    (&["CONTAINERS[]", "env[]", "value"], "EnvVar", "string", Kind::String),
    (&["CONTAINERS[]", "imagePullPolicy"], "Container", "v1.PullPolicy", Kind::String),
    (&["CONTAINERS[]", "resources"], "Container", "v1.ResourceRequirements", Kind::Object),
    (&["CONTAINERS[]", "resources", "limits"], "ResourceRequirements", "v1.ResourceList", Kind::Object),
    (&["CONTAINERS[]", "resources", "requests"], "ResourceRequirements", "v1.ResourceList", Kind::Object),
    (&["CONTAINERS[]", "volumeMounts"], "Container", "[]v1.VolumeMount", Kind::List),
    (&["CONTAINERS[]", "volumeMounts[]", "name"], "VolumeMount", "string", Kind::String),
    (&["CONTAINERS[]", "volumeMounts[]", "mountPath"], "VolumeMount", "string", Kind::String),
    (&["CONTAINERS[]", "volumeMounts[]", "readOnly"], "VolumeMount", "bool", Kind::Bool),
    (&["CONTAINERS[]", "volumeMounts[]", "subPath"], "VolumeMount", "string", Kind::String),
    (&["CONTAINERS[]", "securityContext"], "Container", "v1.SecurityContext", Kind::Object),
    (&["CONTAINERS[]", "securityContext", "runAsUser"], "SecurityContext", "int64", Kind::Integer),
    (&["CONTAINERS[]", "securityContext", "runAsGroup"], "SecurityContext", "int64", Kind::Integer),
    (&["CONTAINERS[]", "securityContext", "runAsNonRoot"], "SecurityContext", "bool", Kind::Bool),
    (&["CONTAINERS[]", "securityContext", "readOnlyRootFilesystem"], "SecurityContext", "bool", Kind::Bool),
    (&["CONTAINERS[]", "securityContext", "privileged"], "SecurityContext", "bool", Kind::Bool),
    (&["CONTAINERS[]", "securityContext", "allowPrivilegeEscalation"], "SecurityContext", "bool", Kind::Bool),
    (&["CONTAINERS[]", "livenessProbe"], "Container", "v1.Probe", Kind::Object),
    (&["CONTAINERS[]", "readinessProbe"], "Container", "v1.Probe", Kind::Object),
    (&["CONTAINERS[]", "startupProbe"], "Container", "v1.Probe", Kind::Object),
    (&["CONTAINERS[]", "livenessProbe", "initialDelaySeconds"], "Probe", "int32", Kind::Integer),
    (&["CONTAINERS[]", "livenessProbe", "periodSeconds"], "Probe", "int32", Kind::Integer),
    (&["CONTAINERS[]", "livenessProbe", "timeoutSeconds"], "Probe", "int32", Kind::Integer),
    (&["CONTAINERS[]", "livenessProbe", "failureThreshold"], "Probe", "int32", Kind::Integer),
    (&["CONTAINERS[]", "readinessProbe", "initialDelaySeconds"], "Probe", "int32", Kind::Integer),
    (&["CONTAINERS[]", "readinessProbe", "periodSeconds"], "Probe", "int32", Kind::Integer),
    (&["CONTAINERS[]", "readinessProbe", "timeoutSeconds"], "Probe", "int32", Kind::Integer),
    (&["CONTAINERS[]", "readinessProbe", "failureThreshold"], "Probe", "int32", Kind::Integer),
    (&["CONTAINERS[]", "startupProbe", "initialDelaySeconds"], "Probe", "int32", Kind::Integer),
    (&["CONTAINERS[]", "startupProbe", "periodSeconds"], "Probe", "int32", Kind::Integer),
    (&["CONTAINERS[]", "startupProbe", "failureThreshold"], "Probe", "int32", Kind::Integer),
    (&["volumes"], "PodSpec", "[]v1.Volume", Kind::List),
    (&["volumes[]", "name"], "Volume", "string", Kind::String),
    (&["securityContext"], "PodSpec", "v1.PodSecurityContext", Kind::Object),
    (&["securityContext", "runAsUser"], "PodSecurityContext", "int64", Kind::Integer),
    (&["securityContext", "runAsGroup"], "PodSecurityContext", "int64", Kind::Integer),
    (&["securityContext", "fsGroup"], "PodSecurityContext", "int64", Kind::Integer),
    (&["securityContext", "runAsNonRoot"], "PodSecurityContext", "bool", Kind::Bool),
    (&["terminationGracePeriodSeconds"], "PodSpec", "int64", Kind::Integer),
    (&["activeDeadlineSeconds"], "PodSpec", "int64", Kind::Integer),
    (&["automountServiceAccountToken"], "PodSpec", "bool", Kind::Bool),
    (&["hostNetwork"], "PodSpec", "bool", Kind::Bool),
    (&["nodeName"], "PodSpec", "string", Kind::String),
    (&["priorityClassName"], "PodSpec", "string", Kind::String),
];

/// A workload's own spec fields (beside its pod template).
const DEPLOYMENT: &[Rule] = &[
    (&["spec", "selector"], "DeploymentSpec", "v1.LabelSelector", Kind::Object),
    (&["spec", "selector", "matchLabels"], "LabelSelector", "map[string]string", Kind::Object),
    (&["spec", "selector", "matchLabels", "*"], "LabelSelector", "string", Kind::String),
    (&["spec", "minReadySeconds"], "DeploymentSpec", "int32", Kind::Integer),
    (&["spec", "revisionHistoryLimit"], "DeploymentSpec", "int32", Kind::Integer),
    (&["spec", "progressDeadlineSeconds"], "DeploymentSpec", "int32", Kind::Integer),
    (&["spec", "paused"], "DeploymentSpec", "bool", Kind::Bool),
    (&["spec", "strategy"], "DeploymentSpec", "v1.DeploymentStrategy", Kind::Object),
    (&["spec", "strategy", "type"], "DeploymentStrategy", "v1.DeploymentStrategyType", Kind::String),
];

const STATEFUL_SET: &[Rule] = &[
    (&["spec", "selector"], "StatefulSetSpec", "v1.LabelSelector", Kind::Object),
    (&["spec", "selector", "matchLabels"], "LabelSelector", "map[string]string", Kind::Object),
    (&["spec", "selector", "matchLabels", "*"], "LabelSelector", "string", Kind::String),
    (&["spec", "serviceName"], "StatefulSetSpec", "string", Kind::String),
    (&["spec", "podManagementPolicy"], "StatefulSetSpec", "v1.PodManagementPolicyType", Kind::String),
    (&["spec", "volumeClaimTemplates"], "StatefulSetSpec", "[]v1.PersistentVolumeClaim", Kind::List),
    (&["spec", "minReadySeconds"], "StatefulSetSpec", "int32", Kind::Integer),
    (&["spec", "revisionHistoryLimit"], "StatefulSetSpec", "int32", Kind::Integer),
];

const JOB: &[Rule] = &[
    (&["spec", "backoffLimit"], "JobSpec", "int32", Kind::Integer),
    (&["spec", "completions"], "JobSpec", "int32", Kind::Integer),
    (&["spec", "parallelism"], "JobSpec", "int32", Kind::Integer),
    (&["spec", "activeDeadlineSeconds"], "JobSpec", "int64", Kind::Integer),
    (&["spec", "ttlSecondsAfterFinished"], "JobSpec", "int32", Kind::Integer),
    (&["spec", "suspend"], "JobSpec", "bool", Kind::Bool),
];

const CRON_JOB: &[Rule] = &[
    (&["spec", "schedule"], "CronJobSpec", "string", Kind::String),
    (&["spec", "timeZone"], "CronJobSpec", "string", Kind::String),
    (&["spec", "suspend"], "CronJobSpec", "bool", Kind::Bool),
    (&["spec", "concurrencyPolicy"], "CronJobSpec", "v1.ConcurrencyPolicy", Kind::String),
    (&["spec", "startingDeadlineSeconds"], "CronJobSpec", "int64", Kind::Integer),
    (&["spec", "successfulJobsHistoryLimit"], "CronJobSpec", "int32", Kind::Integer),
    (&["spec", "failedJobsHistoryLimit"], "CronJobSpec", "int32", Kind::Integer),
    (&["spec", "jobTemplate", "spec", "backoffLimit"], "JobSpec", "int32", Kind::Integer),
    (&["spec", "jobTemplate", "spec", "activeDeadlineSeconds"], "JobSpec", "int64", Kind::Integer),
];

const PERSISTENT_VOLUME_CLAIM: &[Rule] = &[
    (&["spec", "accessModes"], "PersistentVolumeClaimSpec", "[]v1.PersistentVolumeAccessMode", Kind::List),
    (&["spec", "accessModes[]"], "PersistentVolumeClaimSpec", "v1.PersistentVolumeAccessMode", Kind::String),
    (&["spec", "storageClassName"], "PersistentVolumeClaimSpec", "string", Kind::String),
    (&["spec", "volumeName"], "PersistentVolumeClaimSpec", "string", Kind::String),
    (&["spec", "resources"], "PersistentVolumeClaimSpec", "v1.VolumeResourceRequirements", Kind::Object),
    (&["spec", "resources", "requests"], "VolumeResourceRequirements", "v1.ResourceList", Kind::Object),
];

const INGRESS: &[Rule] = &[
    (&["spec", "ingressClassName"], "IngressSpec", "string", Kind::String),
    (&["spec", "rules"], "IngressSpec", "[]v1.IngressRule", Kind::List),
    (&["spec", "rules[]", "host"], "IngressRule", "string", Kind::String),
    (&["spec", "rules[]", "http", "paths"], "HTTPIngressRuleValue", "[]v1.HTTPIngressPath", Kind::List),
    (&["spec", "rules[]", "http", "paths[]", "path"], "HTTPIngressPath", "string", Kind::String),
    (&["spec", "rules[]", "http", "paths[]", "pathType"], "HTTPIngressPath", "v1.PathType", Kind::String),
    (&["spec", "rules[]", "http", "paths[]", "backend", "service", "name"], "IngressServiceBackend", "string", Kind::String),
    (&["spec", "rules[]", "http", "paths[]", "backend", "service", "port", "number"], "ServiceBackendPort", "int32", Kind::Integer),
    (&["spec", "rules[]", "http", "paths[]", "backend", "service", "port", "name"], "ServiceBackendPort", "string", Kind::String),
    (&["spec", "tls"], "IngressSpec", "[]v1.IngressTLS", Kind::List),
    (&["spec", "tls[]", "secretName"], "IngressTLS", "string", Kind::String),
    (&["spec", "tls[]", "hosts"], "IngressTLS", "[]string", Kind::List),
];

const SERVICE: &[Rule] = &[
    (&["spec", "type"], "ServiceSpec", "v1.ServiceType", Kind::String),
    (&["spec", "selector"], "ServiceSpec", "map[string]string", Kind::Object),
    (&["spec", "selector", "*"], "ServiceSpec", "string", Kind::String),
    (&["spec", "ports"], "ServiceSpec", "[]v1.ServicePort", Kind::List),
    (&["spec", "ports[]", "name"], "ServicePort", "string", Kind::String),
    (&["spec", "ports[]", "port"], "ServicePort", "int32", Kind::Integer),
    (&["spec", "ports[]", "nodePort"], "ServicePort", "int32", Kind::Integer),
    (&["spec", "ports[]", "protocol"], "ServicePort", "v1.Protocol", Kind::String),
    (&["spec", "clusterIP"], "ServiceSpec", "string", Kind::String),
    (&["spec", "externalName"], "ServiceSpec", "string", Kind::String),
];

/// Where a kind's pod template is, if it has one.
fn pod_spec_path(info: &ResourceInfo) -> Option<&'static [&'static str]> {
    match (info.group.as_str(), info.plural.as_str()) {
        ("", "pods") => Some(&["spec"]),
        ("apps", "deployments" | "statefulsets" | "replicasets" | "daemonsets") | ("batch", "jobs") | ("", "replicationcontrollers") => {
            Some(&["spec", "template", "spec"])
        }
        ("batch", "cronjobs") => Some(&["spec", "jobTemplate", "spec", "template", "spec"]),
        _ => None,
    }
}

/// Refuses a body whose fields do not decode into the kind's Go types.
pub fn check(info: &ResourceInfo, obj: &Value) -> Result<(), ApiError> {
    if let Some(found) = describe(&obj["metadata"], Kind::Object) {
        return Err(refusal(info, &found, &info.kind, "metadata", "v1.ObjectMeta"));
    }
    if info.is_custom() {
        return Ok(());
    }
    check_table(info, obj, &[], METADATA)?;
    match (info.group.as_str(), info.plural.as_str()) {
        ("", "configmaps") => check_table(info, obj, &[], CONFIG_MAP)?,
        ("", "secrets") => check_table(info, obj, &[], SECRET)?,
        ("", "services") => check_table(info, obj, &[], SERVICE)?,
        ("", "persistentvolumeclaims") => check_table(info, obj, &[], PERSISTENT_VOLUME_CLAIM)?,
        ("apps", "deployments") => check_table(info, obj, &[], DEPLOYMENT)?,
        ("apps", "statefulsets") => check_table(info, obj, &[], STATEFUL_SET)?,
        ("batch", "jobs") => check_table(info, obj, &[], JOB)?,
        ("batch", "cronjobs") => check_table(info, obj, &[], CRON_JOB)?,
        ("networking.k8s.io", "ingresses") => check_table(info, obj, &[], INGRESS)?,
        _ => {}
    }
    if let Some(prefix) = pod_spec_path(info) {
        check_table(info, obj, prefix, POD_SPEC)?;
        if (info.group == "apps" || info.plural == "replicationcontrollers")
            && let Some(found) = describe(&obj["spec"]["replicas"], Kind::Integer)
        {
            return Err(refusal(info, &found, &format!("{}Spec", info.kind), "spec.replicas", "int32"));
        }
    }
    Ok(())
}

fn check_table(info: &ResourceInfo, obj: &Value, prefix: &[&str], table: &[Rule]) -> Result<(), ApiError> {
    let Some(base) = prefix.iter().try_fold(obj, |v, key| v.get(*key)) else { return Ok(()) };
    for &(path, strukt, go, kind) in table {
        if let Some((found, list)) = first_mismatch(base, path, kind) {
            let field: Vec<&str> = prefix
                .iter()
                .copied()
                .chain(path.iter().map(|s| if *s == "CONTAINERS[]" { list } else { s.trim_end_matches("[]") }))
                .filter(|s| *s != "*")
                .collect();
            return Err(refusal(info, &found, strukt, &field.join("."), go));
        }
    }
    Ok(())
}

fn refusal(info: &ResourceInfo, found: &str, strukt: &str, field: &str, go: &str) -> ApiError {
    ApiError::bad_request(format!(
        "{kind} in version \"{version}\" cannot be handled as a {kind}: json: cannot unmarshal {found} into Go struct field {strukt}.{field} of type {go}",
        kind = info.kind,
        version = info.version,
    ))
}

/// What JSON `value` is, in Go's words (`number 1.5` for a fraction given to an
/// integer), when it is not of `want`.
fn describe(value: &Value, want: Kind) -> Option<String> {
    let ok = match (want, value) {
        (_, Value::Null) => true,
        (Kind::String, Value::String(_)) | (Kind::Bool, Value::Bool(_)) | (Kind::Object, Value::Object(_)) | (Kind::List, Value::Array(_)) => true,
        (Kind::Integer, Value::Number(n)) => n.is_i64() || n.is_u64(),
        _ => false,
    };
    if ok {
        return None;
    }
    Some(match value {
        Value::Number(n) if matches!(want, Kind::Integer) => format!("number {n}"),
        Value::Number(_) => "number".into(),
        Value::String(_) => "string".into(),
        Value::Bool(_) => "bool".into(),
        Value::Array(_) => "array".into(),
        Value::Object(_) => "object".into(),
        Value::Null => "null".into(),
    })
}

/// The first value at `path` that is not of `kind`, described, with the container
/// list it was found in (for `CONTAINERS[]`).
fn first_mismatch(value: &Value, path: &[&str], kind: Kind) -> Option<(String, &'static str)> {
    let Some((head, rest)) = path.split_first() else { return describe(value, kind).map(|d| (d, "")) };
    if *head == "*" {
        return value.as_object()?.values().find_map(|v| first_mismatch(v, rest, kind));
    }
    if *head == "CONTAINERS[]" {
        return ["containers", "initContainers"].into_iter().find_map(|list| {
            let found = value.get(list)?.as_array()?.iter().find_map(|v| first_mismatch(v, rest, kind))?;
            Some((found.0, list))
        });
    }
    match head.strip_suffix("[]") {
        Some(key) => value.get(key)?.as_array()?.iter().find_map(|v| first_mismatch(v, rest, kind)),
        None => first_mismatch(value.get(*head)?, rest, kind),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Catalogue;
    use serde_json::json;

    fn refused(plural: &str, group: &str, obj: Value) -> String {
        let catalogue = Catalogue::new();
        let info = catalogue.find(group, "v1", plural).unwrap();
        check(&info, &obj).map(|()| "accepted".to_string()).unwrap_or_else(|e| e.message)
    }

    #[test]
    fn wrongly_typed_fields_are_refused_with_gos_message() {
        assert_eq!(
            refused("configmaps", "", json!({"data": {"a": 1}})),
            "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: json: cannot unmarshal number into Go struct field ConfigMap.data of type string"
        );
        assert_eq!(
            refused("deployments", "apps", json!({"spec": {"replicas": "2"}})),
            "Deployment in version \"v1\" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"
        );
        assert_eq!(
            refused("pods", "", json!({"metadata": {"labels": {"app": true}}})),
            "Pod in version \"v1\" cannot be handled as a Pod: json: cannot unmarshal bool into Go struct field ObjectMeta.metadata.labels of type string"
        );
        assert_eq!(
            refused("deployments", "apps", json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": 3}]}}}})),
            "Deployment in version \"v1\" cannot be handled as a Deployment: json: cannot unmarshal number into Go struct field Container.spec.template.spec.containers.image of type string"
        );
        assert!(
            refused("services", "", json!({"spec": {"ports": [{"port": 80.5}]}}))
                .ends_with("cannot unmarshal number 80.5 into Go struct field ServicePort.spec.ports.port of type int32")
        );
        assert!(
            refused("pods", "", json!({"spec": {"initContainers": [{"name": "a", "env": [{"name": "X", "value": 1}]}]}}))
                .ends_with("cannot unmarshal number into Go struct field EnvVar.spec.initContainers.env.value of type string")
        );
        assert!(refused("secrets", "", json!({"data": "x"})).ends_with("Go struct field Secret.data of type map[string][]uint8"));
        // Right types, nulls and kinds without rules pass.
        assert_eq!(refused("configmaps", "", json!({"metadata": {"labels": null}, "data": {"a": "1"}})), "accepted");
        assert_eq!(refused("pods", "", json!({"spec": {"containers": [{"name": "a", "image": "nginx", "ports": [{"containerPort": 80}]}]}})), "accepted");
        assert_eq!(refused("leases", "coordination.k8s.io", json!({"spec": {"holderIdentity": 3}})), "accepted");
        // Deeper fields of pod templates and the workloads' own specs.
        assert!(
            refused("deployments", "apps", json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "readinessProbe": {"periodSeconds": "10"}}]}}}}))
                .ends_with("cannot unmarshal string into Go struct field Probe.spec.template.spec.containers.readinessProbe.periodSeconds of type int32")
        );
        assert!(
            refused("pods", "", json!({"spec": {"securityContext": {"runAsNonRoot": "true"}}}))
                .ends_with("cannot unmarshal string into Go struct field PodSecurityContext.spec.securityContext.runAsNonRoot of type bool")
        );
        assert!(refused("jobs", "batch", json!({"spec": {"backoffLimit": "3"}})).ends_with("Go struct field JobSpec.spec.backoffLimit of type int32"));
        assert!(
            refused(
                "ingresses",
                "networking.k8s.io",
                json!({"spec": {"rules": [{"http": {"paths": [{"backend": {"service": {"port": {"number": "80"}}}}]}}]}})
            )
            .ends_with("Go struct field ServiceBackendPort.spec.rules.http.paths.backend.service.port.number of type int32")
        );
        // Quantities are strings or numbers, as Go's resource.Quantity takes them.
        let limits = json!({"spec": {"containers": [{"name": "a", "resources": {"limits": {"cpu": 1, "memory": "64Mi"}}}]}});
        assert_eq!(refused("pods", "", limits), "accepted");
    }
}
