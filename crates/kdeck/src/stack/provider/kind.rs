//! kind: `kind get clusters` to find the cluster, `kind create cluster --name N
//! --config .kdeck/kind/N.yaml` to create it with a config kdeck merges from the
//! user's (see [`merge_config`]), and with `keepData` the default StorageClass
//! replaced so that a claim recreated with the same name finds its data.

use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams};
use serde_json::{Value, json};

use super::{Ensured, KIND, Target, absolute, config_file, create_kept_dir, run, volumes_dir};
use crate::cluster::Cluster;
use crate::cluster::delete::{Deleted, Precondition, planned};
use crate::error::{Error, Result};
use crate::project::stack::IngressController;
use crate::stack::StackDef;

/// Where local-path-provisioner (kind's default storage) keeps volumes in a node.
pub const PROVISIONER_DIR: &str = "/var/local-path-provisioner";
/// The node label of kind's ingress guide (ingress-nginx's kind manifest selected
/// it until v1.13; the pinned one tolerates the control plane instead).
const INGRESS_READY: &str = "ingress-ready=true";
const INGRESS_PATCH: &str = "kind: InitConfiguration\nnodeRegistration:\n  kubeletExtraArgs:\n    node-labels: \"ingress-ready=true\"\n";

pub(super) async fn ensure(def: &StackDef, target: &mut Target) -> Result<Ensured> {
    let kind = KIND.find("stack.cluster.provider kind")?;
    let clusters = run(&kind, &["get", "clusters"], "kind get clusters")?;
    if clusters.lines().any(|line| line.trim() == target.name) {
        target.ingress = ingress_address_of(def, &target.name);
        return Ok(Ensured::Running);
    }
    let keep_data = def.config.cluster.keep_data;
    let config = write_config(def, &target.name)?;
    eprintln!("creating kind cluster {:?} (this takes a minute or two)", target.name);
    let config_arg = config.display().to_string();
    run(&kind, &["create", "cluster", "--name", &target.name, "--config", &config_arg], "kind create cluster")?;
    if keep_data {
        keep_claims_by_name(&target.context).await?;
    }
    target.ingress = ingress_address_of(def, &target.name);
    Ok(Ensured::Created)
}

/// With `ingress: nginx`, the address of ingress-nginx (its hostPort 80 on the
/// control-plane node) as the config kdeck created the cluster with maps it.
pub fn ingress_address_of(def: &StackDef, name: &str) -> Option<String> {
    if def.config.cluster.ingress != Some(IngressController::Nginx) {
        return None;
    }
    let path = absolute(&def.root).join(".kdeck").join("kind").join(format!("{name}.yaml"));
    let config: Value = serde_saphyr::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    ingress_address(&config)
}

/// `http://127.0.0.1[:PORT]`: the host port a kind config maps to the first
/// control-plane node's port 80 (on its listenAddress, 127.0.0.1 for all).
pub fn ingress_address(config: &Value) -> Option<String> {
    let nodes = config["nodes"].as_array()?;
    let node = nodes.iter().find(|n| n.get("role").is_none_or(|r| r == "control-plane"))?;
    let mapping = node["extraPortMappings"].as_array()?.iter().find(|m| m["containerPort"] == 80)?;
    let port = mapping["hostPort"].as_u64().filter(|p| *p > 0)?;
    let host = match mapping["listenAddress"].as_str().unwrap_or_default() {
        "" | "0.0.0.0" => "127.0.0.1".to_string(),
        "::" => "[::1]".to_string(),
        v6 if v6.contains(':') => format!("[{v6}]"),
        other => other.to_string(),
    };
    Some(if port == 80 { format!("http://{host}") } else { format!("http://{host}:{port}") })
}

/// What kdeck adds to a kind config.
#[derive(Clone, Debug, Default)]
pub struct Additions {
    /// The host directory for local-path-provisioner's volumes (`keepData`).
    pub volumes: Option<String>,
    /// Ports 80/443 and the `ingress-ready=true` label (`ingress: nginx`).
    pub ingress: bool,
}

/// Writes `.kdeck/kind/NAME.yaml`: the user's kind config (or a minimal one) with
/// kdeck's additions, and returns its path.
fn write_config(def: &StackDef, name: &str) -> Result<std::path::PathBuf> {
    let user = match config_file(def)? {
        Some(path) => {
            let text = std::fs::read_to_string(&path).map_err(|e| Error::usage(format!("cannot read {}: {e}", path.display())))?;
            let value: Value = serde_saphyr::from_str(&text).map_err(|e| {
                Error::usage(format!("stack.cluster.config: {} is not valid YAML: {}", path.display(), e.to_string().lines().next().unwrap_or_default()))
            })?;
            Some(value)
        }
        None => None,
    };
    let volumes = volumes_dir(&def.root, name);
    let additions = Additions {
        volumes: def.config.cluster.keep_data.then(|| volumes.display().to_string()),
        ingress: def.config.cluster.ingress == Some(IngressController::Nginx),
    };
    let merged = merge_config(user, &additions).map_err(|e| Error::usage(format!("stack.cluster.config: {e}")))?;
    if def.config.cluster.keep_data {
        create_kept_dir(&volumes)?;
    }
    let dir = absolute(&def.root).join(".kdeck").join("kind");
    create_kept_dir(&dir)?;
    let path = dir.join(format!("{name}.yaml"));
    let source = def.config.cluster.config.as_deref().unwrap_or("a minimal kind config");
    let text = format!(
        "# Written by kdeck from {source} for `kind create cluster`; edit that, not this file.\n{}",
        serde_saphyr::to_string(&merged).map_err(|e| Error::failure(format!("cannot write the kind config: {e}")))?
    );
    std::fs::write(&path, text).map_err(|e| Error::failure(format!("cannot write {}: {e}", path.display())))?;
    Ok(path)
}

/// The user's kind `Cluster` config (else a minimal one) with kdeck's additions:
/// every node mounts the volumes directory at [`PROVISIONER_DIR`] (so a claim's
/// data is on the host whichever node it lands on); the first control-plane node
/// maps ports 80 and 443 and carries the `ingress-ready=true` label. What the user
/// already has (a mount of that directory, a mapping of those ports, the label) is
/// kept and not duplicated.
pub fn merge_config(user: Option<Value>, additions: &Additions) -> std::result::Result<Value, String> {
    let mut config = match user {
        None | Some(Value::Null) => json!({"kind": "Cluster", "apiVersion": "kind.x-k8s.io/v1alpha4"}),
        Some(Value::Object(map)) => Value::Object(map),
        Some(_) => return Err("a kind config is a mapping (kind: Cluster, apiVersion: kind.x-k8s.io/v1alpha4)".into()),
    };
    match config.get("kind") {
        None => config["kind"] = json!("Cluster"),
        Some(kind) if kind == "Cluster" => {}
        Some(other) => return Err(format!("a kind config has kind: Cluster, not {other}")),
    }
    if config.get("apiVersion").is_none() {
        config["apiVersion"] = json!("kind.x-k8s.io/v1alpha4");
    }
    match config.get("nodes") {
        None | Some(Value::Null) => config["nodes"] = json!([{"role": "control-plane"}]),
        Some(Value::Array(nodes)) if nodes.is_empty() => config["nodes"] = json!([{"role": "control-plane"}]),
        Some(Value::Array(nodes)) if nodes.iter().all(Value::is_object) => {}
        Some(_) => return Err("nodes: must be a list of nodes ({role: control-plane}, {role: worker})".into()),
    }
    let nodes = config["nodes"].as_array_mut().expect("nodes checked above");
    if let Some(host) = &additions.volumes {
        for node in nodes.iter_mut() {
            let mounts = list(node, "extraMounts")?;
            if !mounts.iter().any(|m| m["containerPath"] == PROVISIONER_DIR) {
                mounts.push(json!({"hostPath": host, "containerPath": PROVISIONER_DIR}));
            }
        }
    }
    if additions.ingress {
        let taken: Vec<(Value, Value)> = nodes
            .iter()
            .flat_map(|n| n["extraPortMappings"].as_array().cloned().unwrap_or_default())
            .map(|m| (m["containerPort"].clone(), m["hostPort"].clone()))
            .collect();
        let control_plane = nodes.iter().position(|n| n.get("role").is_none_or(|r| r == "control-plane")).unwrap_or(0);
        let node = &mut nodes[control_plane];
        let mappings = list(node, "extraPortMappings")?;
        for port in [80, 443] {
            if !taken.iter().any(|(container, host)| *container == port || *host == port) {
                mappings.push(json!({"containerPort": port, "hostPort": port, "protocol": "TCP"}));
            }
        }
        let labelled = node["labels"]["ingress-ready"] == "true";
        let patches = list(node, "kubeadmConfigPatches")?;
        if !labelled && !patches.iter().any(|p| p.as_str().is_some_and(|p| p.contains(INGRESS_READY))) {
            patches.push(json!(INGRESS_PATCH));
        }
    }
    Ok(config)
}

/// `node[key]` as a list, created when missing.
fn list<'a>(node: &'a mut Value, key: &str) -> std::result::Result<&'a mut Vec<Value>, String> {
    if node.get(key).is_none_or(Value::is_null) {
        node[key] = json!([]);
    }
    node[key].as_array_mut().ok_or_else(|| format!("nodes[].{key}: must be a list"))
}

/// Replaces kind's default StorageClass `standard` (parameters cannot change: delete
/// and create, right after the cluster is created) with one that keeps volumes
/// (`Retain`) in directories named by the claim (`<namespace>/<claim>`), so a claim
/// recreated with the same name in a recreated cluster finds its data.
async fn keep_claims_by_name(context: &str) -> Result<()> {
    let cluster = Cluster::connect(Some(context)).await?;
    let api: Api<StorageClass> = Api::all(cluster.client.clone());
    let existing = api.get_opt("standard").await.map_err(|e| cluster.error("reading StorageClass standard", e))?;
    let mut class = StorageClass {
        metadata: ObjectMeta {
            name: Some("standard".into()),
            annotations: Some([("storageclass.kubernetes.io/is-default-class".to_string(), "true".to_string())].into()),
            ..Default::default()
        },
        provisioner: "rancher.io/local-path".into(),
        ..Default::default()
    };
    if let Some(old) = existing {
        class.provisioner = old.provisioner.clone();
        class.metadata.labels = old.metadata.labels.clone();
        class.metadata.annotations = old.metadata.annotations.clone().or(class.metadata.annotations);
        let precondition = Precondition::uid(old.metadata.uid.clone().unwrap_or_default());
        match planned(&api, "standard", &precondition, &DeleteParams::default()).await.map_err(|e| cluster.error("replacing StorageClass standard", e))? {
            Deleted::Yes | Deleted::AlreadyGone => {}
            Deleted::Changed(why) => return Err(Error::failure(format!("StorageClass standard changed while kdeck replaced it: {why}"))),
        }
    }
    class.volume_binding_mode = Some("WaitForFirstConsumer".into());
    class.reclaim_policy = Some("Retain".into());
    class.parameters = Some([("pathPattern".to_string(), "{{ .PVC.Namespace }}/{{ .PVC.Name }}".to_string())].into());
    api.create(&PostParams::default(), &class).await.map_err(|e| cluster.error("creating StorageClass standard", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both() -> Additions {
        Additions { volumes: Some("/p/.kdeck/volumes/demo".into()), ingress: true }
    }

    #[test]
    fn a_minimal_config_gets_every_addition() {
        let merged = merge_config(None, &both()).unwrap();
        assert_eq!(merged["kind"], "Cluster");
        assert_eq!(merged["apiVersion"], "kind.x-k8s.io/v1alpha4");
        let node = &merged["nodes"][0];
        assert_eq!(node["role"], "control-plane");
        assert_eq!(node["extraMounts"], json!([{"hostPath": "/p/.kdeck/volumes/demo", "containerPath": PROVISIONER_DIR}]));
        let ports: Vec<i64> = node["extraPortMappings"].as_array().unwrap().iter().map(|m| m["hostPort"].as_i64().unwrap()).collect();
        assert_eq!(ports, [80, 443]);
        assert!(node["kubeadmConfigPatches"][0].as_str().unwrap().contains("node-labels: \"ingress-ready=true\""));
    }

    #[test]
    fn nothing_is_added_without_keep_data_or_ingress() {
        let merged = merge_config(None, &Additions::default()).unwrap();
        assert_eq!(merged["nodes"], json!([{"role": "control-plane"}]));
    }

    #[test]
    fn the_users_entries_are_kept_and_not_duplicated() {
        let user: Value = serde_saphyr::from_str(
            r#"
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
networking: {apiServerPort: 6443}
nodes:
  - role: control-plane
    extraPortMappings: [{containerPort: 80, hostPort: 8080}, {containerPort: 30000, hostPort: 30000}]
    kubeadmConfigPatches:
      - |
        kind: InitConfiguration
        nodeRegistration:
          kubeletExtraArgs:
            node-labels: "ingress-ready=true"
  - role: worker
    extraMounts: [{hostPath: /mine, containerPath: /var/local-path-provisioner}]
"#,
        )
        .unwrap();
        let merged = merge_config(Some(user), &both()).unwrap();
        assert_eq!(merged["networking"]["apiServerPort"], 6443);
        let cp = &merged["nodes"][0];
        let ports: Vec<(i64, i64)> =
            cp["extraPortMappings"].as_array().unwrap().iter().map(|m| (m["containerPort"].as_i64().unwrap(), m["hostPort"].as_i64().unwrap())).collect();
        assert_eq!(ports, [(80, 8080), (30000, 30000), (443, 443)]);
        assert_eq!(cp["kubeadmConfigPatches"].as_array().unwrap().len(), 1);
        assert_eq!(cp["extraMounts"][0]["hostPath"], "/p/.kdeck/volumes/demo");
        let worker = &merged["nodes"][1];
        assert_eq!(worker["extraMounts"], json!([{"hostPath": "/mine", "containerPath": PROVISIONER_DIR}]));
        assert!(worker.get("extraPortMappings").is_none());
    }

    #[test]
    fn the_ingress_address_is_the_host_port_mapped_to_80() {
        assert_eq!(ingress_address(&merge_config(None, &both()).unwrap()).as_deref(), Some("http://127.0.0.1"));
        let user = json!({"nodes": [{"role": "control-plane", "extraPortMappings": [{"containerPort": 80, "hostPort": 8080, "listenAddress": "127.0.0.2"}]}]});
        assert_eq!(ingress_address(&merge_config(Some(user), &both()).unwrap()).as_deref(), Some("http://127.0.0.2:8080"));
        assert_eq!(ingress_address(&merge_config(None, &Additions::default()).unwrap()), None);
    }

    #[test]
    fn bad_configs_are_named() {
        assert!(merge_config(Some(json!(["x"])), &both()).unwrap_err().contains("mapping"));
        assert!(merge_config(Some(json!({"kind": "Pod"})), &both()).unwrap_err().contains("kind: Cluster"));
        assert!(merge_config(Some(json!({"nodes": "x"})), &both()).unwrap_err().contains("nodes"));
        assert!(merge_config(Some(json!({"nodes": [{"extraMounts": "x"}]})), &both()).unwrap_err().contains("extraMounts"));
    }
}
