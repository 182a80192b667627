//! The sandbox's nodes: created at start, `--nodes N` of them, Ready, with capacity.

use serde_json::{Value, json};

use crate::rest::{Rest, Subresource, WriteOptions};
use crate::time;

pub const CPU: &str = "4";
pub const MEMORY: &str = "16Gi";
pub const PODS: &str = "110";

/// Node names for a sandbox: `<name>-control-plane`, then `<name>-worker`, `<name>-worker2`, … as kind names them.
pub fn names(cluster: &str, count: usize) -> Vec<String> {
    (0..count.max(1))
        .map(|i| match i {
            0 => format!("{cluster}-control-plane"),
            1 => format!("{cluster}-worker"),
            n => format!("{cluster}-worker{n}"),
        })
        .collect()
}

/// Creates the nodes that do not exist yet and marks them Ready.
pub fn ensure(rest: &Rest, cluster: &str, count: usize) {
    let Some(info) = rest.catalogue.find("", "v1", "nodes") else { return };
    for (i, name) in names(cluster, count).iter().enumerate() {
        if rest.get(&info, None, name).is_ok() {
            continue;
        }
        if let Ok(created) = rest.create(&info, None, node(name, i), &WriteOptions::default()) {
            let mut with_status = created;
            with_status["status"] = status(name, i);
            let _ = rest.update(&info, None, name, with_status, Subresource::Status, &WriteOptions::default());
        }
    }
}

fn node(name: &str, index: usize) -> Value {
    let mut labels = json!({
        "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64",
    });
    if index == 0 {
        labels["node-role.kubernetes.io/control-plane"] = json!("");
    }
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": {"podCIDR": format!("10.244.{index}.0/24"), "podCIDRs": [format!("10.244.{index}.0/24")]},
    })
}

fn status(name: &str, index: usize) -> Value {
    let now = time::now();
    let resources = json!({"cpu": CPU, "memory": MEMORY, "pods": PODS, "ephemeral-storage": "100Gi"});
    let condition = |type_: &str, status: &str, reason: &str, message: &str| json!({"type": type_, "status": status, "reason": reason, "message": message, "lastHeartbeatTime": now, "lastTransitionTime": now});
    json!({
        "capacity": resources, "allocatable": resources,
        "conditions": [
            condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        ],
        "addresses": [{"type": "InternalIP", "address": format!("172.18.0.{}", index + 2)}, {"type": "Hostname", "address": name}],
        "nodeInfo": {
            "kubeletVersion": crate::api::discovery::KUBERNETES_VERSION, "kubeProxyVersion": crate::api::discovery::KUBERNETES_VERSION,
            "containerRuntimeVersion": "kdeck-sandbox://0.1.0", "operatingSystem": "linux", "architecture": "amd64",
            "osImage": "kdeck sandbox (simulated)", "kernelVersion": "6.1.0", "machineID": format!("{:032x}", crate::controllers::events::fnv(name)),
            "systemUUID": crate::rest::new_uid(), "bootID": crate::rest::new_uid(),
        },
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
    })
}
