//! Pod security: root, privileged, privilege escalation, capabilities, host
//! namespaces and paths, writable root filesystems, service account tokens.

use serde_json::Value;

use super::{Render, Sink, containers, pod_spec};

/// Capabilities that give a container near-root power over the node.
const DANGEROUS: [&str; 10] = ["ALL", "SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYS_MODULE", "SYS_RAWIO", "DAC_READ_SEARCH", "BPF", "PERFMON", "SYS_BOOT"];

pub fn check(render: &Render, sink: &mut Sink<'_>) {
    for object in &render.objects {
        let Some((spec_path, spec)) = pod_spec(object) else { continue };
        let pod_sc = &spec["securityContext"];
        for flag in ["hostNetwork", "hostPID", "hostIPC"] {
            if spec[flag] == true {
                sink.object(
                    "host-namespaces",
                    object,
                    &format!("{spec_path}.{flag}"),
                    None,
                    format!("the pod shares the node's {} ({flag}: true)", flag[4..].to_ascii_lowercase()),
                );
            }
        }
        for (i, volume) in spec["volumes"].as_array().into_iter().flatten().enumerate() {
            if let Some(path) = volume["hostPath"]["path"].as_str() {
                let name = volume["name"].as_str().unwrap_or("?");
                sink.object("host-path", object, &format!("{spec_path}.volumes[{i}].hostPath"), None, format!("volume {name} mounts the node's {path}"));
            }
        }
        let default_account = spec["serviceAccountName"].as_str().is_none_or(|a| a.is_empty() || a == "default");
        if default_account && spec["automountServiceAccountToken"] != false {
            sink.object("automount-token", object, spec_path, None, "the pod runs as the default service account and gets its API token mounted".into());
        }
        for c in containers(object) {
            let sc = &c.value["securityContext"];
            let field = |name: &str| format!("{}.securityContext.{name}", c.path);
            if !non_root(pod_sc, sc) && !render.non_root_images.contains(c.value["image"].as_str().unwrap_or_default()) {
                sink.object(
                    "run-as-root",
                    object,
                    &field("runAsNonRoot"),
                    Some(c.name),
                    format!("container {} may run as root: no runAsNonRoot: true or runAsUser ≠ 0 (pod or container)", c.name),
                );
            }
            if sc["privileged"] == true {
                sink.object("privileged", object, &field("privileged"), Some(c.name), format!("container {} is privileged", c.name));
            }
            if sc["allowPrivilegeEscalation"] != false && sc["privileged"] != true {
                sink.object(
                    "privilege-escalation",
                    object,
                    &field("allowPrivilegeEscalation"),
                    Some(c.name),
                    format!("container {} does not set allowPrivilegeEscalation: false", c.name),
                );
            }
            let caps = &sc["capabilities"];
            let dropped = caps["drop"].as_array().into_iter().flatten().any(|d| d.as_str().is_some_and(|d| d.eq_ignore_ascii_case("ALL")));
            if !dropped {
                sink.object(
                    "capabilities-not-dropped",
                    object,
                    &field("capabilities.drop"),
                    Some(c.name),
                    format!("container {} does not drop ALL capabilities", c.name),
                );
            }
            for (i, add) in caps["add"].as_array().into_iter().flatten().enumerate() {
                let name = add.as_str().unwrap_or_default().to_ascii_uppercase();
                let bare = name.strip_prefix("CAP_").unwrap_or(&name);
                if DANGEROUS.contains(&bare) {
                    sink.object(
                        "dangerous-capabilities",
                        object,
                        &format!("{}.securityContext.capabilities.add[{i}]", c.path),
                        Some(c.name),
                        format!("container {} adds the capability {bare}", c.name),
                    );
                }
            }
            if sc["readOnlyRootFilesystem"] != true && !c.init {
                sink.object(
                    "writable-root-fs",
                    object,
                    &field("readOnlyRootFilesystem"),
                    Some(c.name),
                    format!("container {} has a writable root filesystem", c.name),
                );
            }
        }
    }
}

/// Whether a container runs as non-root by its securityContext over the pod's:
/// `runAsNonRoot: true` (and no runAsUser 0), or a runAsUser other than 0.
pub fn non_root(pod: &Value, container: &Value) -> bool {
    let user = container["runAsUser"].as_i64().or_else(|| pod["runAsUser"].as_i64());
    let non_root = container["runAsNonRoot"].as_bool().or_else(|| pod["runAsNonRoot"].as_bool());
    match user {
        Some(0) => false,
        Some(_) => true,
        None => non_root == Some(true),
    }
}
