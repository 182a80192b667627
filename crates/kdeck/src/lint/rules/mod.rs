//! The rules, as data: id, family, severity, why and fix — one table, which the
//! README, `--list-rules`, the settings and SARIF's rule list all read. Each
//! family's checks live in their own file.

pub mod dockerfile;
pub mod references;
pub mod reliability;
pub mod secrets;
pub mod security;

use serde_json::Value;

use super::{Render, Severity, Sink};
use crate::render::Manifest;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Security,
    Secrets,
    Reliability,
    References,
    Dockerfile,
    Helm,
}

impl Family {
    pub fn word(self) -> &'static str {
        match self {
            Family::Security => "security",
            Family::Secrets => "secrets",
            Family::Reliability => "reliability",
            Family::References => "references",
            Family::Dockerfile => "dockerfile",
            Family::Helm => "helm",
        }
    }
}

#[derive(Debug)]
pub struct Rule {
    pub id: &'static str,
    pub family: Family,
    pub severity: Severity,
    pub why: &'static str,
    pub fix: &'static str,
}

const fn rule(id: &'static str, family: Family, severity: Severity, why: &'static str, fix: &'static str) -> Rule {
    Rule { id, family, severity, why, fix }
}

use Family::*;
use Severity::{Error, Info, Warning};

pub const RULES: &[Rule] = &[
    // Security
    rule(
        "run-as-root",
        Security,
        Error,
        "a container that may run as root turns any escape or RCE into root on the node's runtime",
        "set securityContext.runAsNonRoot: true and a runAsUser other than 0 (pod or container), or a non-root USER in the image's Dockerfile",
    ),
    rule(
        "privileged",
        Security,
        Error,
        "a privileged container has every capability and the host's devices: it is root on the node",
        "remove securityContext.privileged, add only the capabilities needed",
    ),
    rule(
        "privilege-escalation",
        Security,
        Warning,
        "without allowPrivilegeEscalation: false, setuid binaries can gain more privileges than the process started with",
        "set securityContext.allowPrivilegeEscalation: false",
    ),
    rule(
        "capabilities-not-dropped",
        Security,
        Warning,
        "containers keep the runtime's default capabilities (NET_RAW, CHOWN, …) unless they drop them",
        "set securityContext.capabilities.drop: [ALL] and add back only what is needed",
    ),
    rule(
        "dangerous-capabilities",
        Security,
        Error,
        "SYS_ADMIN, NET_ADMIN, SYS_PTRACE, SYS_MODULE and ALL give a container near-root power over the node",
        "remove the capability from securityContext.capabilities.add",
    ),
    rule(
        "host-namespaces",
        Security,
        Error,
        "hostNetwork, hostPID and hostIPC share the node's network, processes or IPC with the pod",
        "remove hostNetwork/hostPID/hostIPC (use a Service, not the node's network)",
    ),
    rule(
        "host-path",
        Security,
        Warning,
        "a hostPath volume reads or writes the node's filesystem and ties the pod to one node",
        "use a PersistentVolumeClaim, a ConfigMap or an emptyDir",
    ),
    rule(
        "writable-root-fs",
        Security,
        Warning,
        "a writable root filesystem lets an intruder change the container's binaries",
        "set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where the app writes",
    ),
    rule(
        "automount-token",
        Security,
        Info,
        "a pod of the default service account gets an API token it does not need",
        "set automountServiceAccountToken: false in the pod spec (or use a service account that needs the token)",
    ),
    // Secret hygiene
    rule(
        "secret-in-env",
        Secrets,
        Error,
        "a credential written into a manifest's env is in git and in every `kubectl get -o yaml`",
        "move it to a Secret and use env[].valueFrom.secretKeyRef",
    ),
    rule(
        "secret-in-configmap",
        Secrets,
        Error,
        "ConfigMaps are not secret: readable by anyone who can read the namespace, and committed to git",
        "move the value to a Secret (or an ExternalSecret) and reference it from there",
    ),
    rule(
        "secret-committed",
        Secrets,
        Error,
        "a Secret with real data in a file git tracks leaks the credential to everyone with the repository",
        "commit a placeholder (or a secrets.example.yaml), git-ignore the real file, or use stack.secrets / an ExternalSecret / SOPS",
    ),
    rule(
        "dockerfile-secret",
        Secrets,
        Error,
        "ENV and ARG values are stored in the image's config and history, readable by anyone who can pull it",
        "pass the value at run time (a Secret) or use a build secret (RUN --mount=type=secret)",
    ),
    rule(
        "dockerfile-copies-secrets",
        Secrets,
        Error,
        "a .env or key file copied into an image ships with every copy of the image",
        "leave the file out (.dockerignore) and give the value at run time",
    ),
    rule(
        "dockerignore-missing",
        Secrets,
        Warning,
        "copying the whole build context without a .dockerignore sends .git, .env and local keys into the image",
        "add a .dockerignore next to the Dockerfile (.git, .env*, *.pem, node_modules, …)",
    ),
    // Reliability
    rule(
        "memory-limit-missing",
        Reliability,
        Warning,
        "without a memory limit one leaking container can take the node's memory and get other pods evicted",
        "set resources.limits.memory",
    ),
    rule(
        "requests-missing",
        Reliability,
        Warning,
        "without cpu and memory requests the scheduler packs pods blindly and they are evicted first",
        "set resources.requests.cpu and resources.requests.memory",
    ),
    rule(
        "readiness-probe-missing",
        Reliability,
        Warning,
        "without a readiness probe a container gets traffic before it can serve and while it cannot",
        "add a readinessProbe on the port it serves",
    ),
    rule(
        "liveness-same-as-readiness",
        Reliability,
        Warning,
        "a liveness probe identical to the readiness probe, with no startup probe, kills a slow or busy container instead of taking it out of rotation",
        "add a startupProbe, and make the liveness probe looser than the readiness probe (another path, a longer period or failureThreshold)",
    ),
    rule(
        "image-latest",
        Reliability,
        Warning,
        "an untagged or :latest image changes under you; with IfNotPresent nodes run different versions",
        "pin a version tag (or a digest)",
    ),
    rule(
        "pdb-blocks-eviction",
        Reliability,
        Warning,
        "a single replica behind a PodDisruptionBudget that allows no disruption blocks node drains and upgrades",
        "run 2+ replicas, or allow one disruption (maxUnavailable: 1)",
    ),
    rule(
        "no-spread",
        Reliability,
        Info,
        "replicas without anti-affinity or topology spread may all land on one node and fail together",
        "add topologySpreadConstraints (or a preferred podAntiAffinity) on the hostname",
    ),
    // References inside the render
    rule(
        "service-selects-nothing",
        References,
        Error,
        "a Service whose selector matches no workload has no endpoints: every request to it fails",
        "fix the selector or the labels of the pod template meant to serve it",
    ),
    rule(
        "service-target-port",
        References,
        Error,
        "a named targetPort that no selected container declares leaves the Service without endpoints",
        "use a port name the container declares (ports[].name) or a number",
    ),
    rule(
        "ingress-missing-service",
        References,
        Error,
        "an Ingress backend naming a Service that is not in the render answers 503",
        "point the backend at a Service of the render",
    ),
    rule(
        "ingress-missing-port",
        References,
        Error,
        "an Ingress backend port that the Service does not serve answers 503",
        "use one of the Service's ports (number or name)",
    ),
    rule(
        "ingress-class-missing",
        References,
        Warning,
        "an IngressClass that is not in the render may not exist in the cluster: no controller would serve the Ingress",
        "use the class of the cluster's ingress controller, or render the IngressClass",
    ),
    rule(
        "missing-configmap",
        References,
        Error,
        "a pod that reads a ConfigMap that does not exist does not start (CreateContainerConfigError)",
        "add the ConfigMap to the render, fix the name, or mark the reference optional",
    ),
    rule(
        "missing-secret",
        References,
        Warning,
        "a pod that reads a Secret that does not exist does not start; it may be created outside the render",
        "create it (stack.secrets, an ExternalSecret, kubectl create secret) or fix the name",
    ),
    rule(
        "missing-key",
        References,
        Error,
        "a key that the ConfigMap or Secret does not define stops the container from starting",
        "add the key, fix the name, or mark the reference optional",
    ),
    rule(
        "storage-class-missing",
        References,
        Warning,
        "a claim for a StorageClass that does not exist stays Pending",
        "use a class the cluster has (or leave storageClassName out for the default)",
    ),
    rule(
        "namespace-missing",
        References,
        Warning,
        "objects in a namespace nothing creates fail to apply on a fresh cluster",
        "add the Namespace to the render",
    ),
    rule(
        "probe-port-missing",
        References,
        Error,
        "a probe on a named port the container does not define always fails",
        "use a port name from the container's ports, or a number",
    ),
    // Dockerfile
    rule(
        "dockerfile-root-user",
        Dockerfile,
        Warning,
        "without a non-root USER in the final stage the container runs as root unless the pod says otherwise",
        "add `USER 10001` (or a named user) at the end of the final stage",
    ),
    rule("dockerfile-image-tag", Dockerfile, Warning, "an untagged or :latest base image makes builds unrepeatable", "pin the base image's tag (or digest)"),
    rule(
        "dockerfile-add-url",
        Dockerfile,
        Warning,
        "ADD of a URL downloads without verification and busts the cache",
        "download with RUN curl (checking a checksum) or ADD --checksum",
    ),
    rule(
        "dockerfile-apt-get",
        Dockerfile,
        Info,
        "apt-get install without --no-install-recommends and a cleanup of /var/lib/apt/lists makes the image larger",
        "use apt-get install --no-install-recommends … && rm -rf /var/lib/apt/lists/*",
    ),
    // Helm
    rule("helm-lint", Helm, Warning, "helm lint's own finding about the chart", "see helm's message; run helm lint on the chart"),
];

/// The rule `id`.
pub fn find(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// Every family's checks on one render.
pub fn check(render: &Render, sink: &mut Sink<'_>) {
    for finding in &render.findings {
        sink.made(finding.clone());
    }
    security::check(render, sink);
    secrets::check(render, sink);
    reliability::check(render, sink);
    references::check(render, sink);
    dockerfile::check(render, sink);
}

/// Kinds that carry a pod template, and where: (field path of the pod spec, the template's metadata path).
pub fn pod_paths(kind: &str) -> Option<(&'static str, &'static str)> {
    match kind {
        "Pod" => Some(("spec", "metadata")),
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" | "ReplicationController" => Some(("spec.template.spec", "spec.template.metadata")),
        "CronJob" => Some(("spec.jobTemplate.spec.template.spec", "spec.jobTemplate.spec.template.metadata")),
        _ => None,
    }
}

/// A value at a dotted path (no list indexes).
pub fn at<'a>(object: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(object, |v, key| &v[key])
}

/// A workload's pod spec: (its field path, the spec).
pub fn pod_spec(object: &Manifest) -> Option<(&'static str, &Value)> {
    let (path, _) = pod_paths(object.kind())?;
    let spec = at(&object.object, path);
    spec.is_object().then_some((path, spec))
}

/// The pod template's labels.
pub fn pod_labels(object: &Manifest) -> &Value {
    match pod_paths(object.kind()) {
        Some((_, metadata)) => &at(&object.object, metadata)["labels"],
        None => &Value::Null,
    }
}

/// A container of a pod spec with its field path (`spec.template.spec.containers[1]`).
pub struct Container<'a> {
    pub path: String,
    pub name: &'a str,
    pub value: &'a Value,
    pub init: bool,
}

/// The containers (then init containers) of a workload.
pub fn containers(object: &Manifest) -> Vec<Container<'_>> {
    let Some((path, spec)) = pod_spec(object) else { return Vec::new() };
    let mut out = Vec::new();
    for (field, init) in [("containers", false), ("initContainers", true)] {
        for (i, c) in spec[field].as_array().into_iter().flatten().enumerate() {
            out.push(Container { path: format!("{path}.{field}[{i}]"), name: c["name"].as_str().unwrap_or("?"), value: c, init });
        }
    }
    out
}

/// An object's namespace ("" when it names none and is namespaced).
pub fn namespace(object: &Manifest) -> &str {
    object.namespace().unwrap_or_default()
}
