//! k3d: `k3d cluster list -o json` finds the cluster, `k3d cluster create N
//! [--config FILE] [--volume HOST:/var/lib/rancher/k3s/storage@all]
//! [--k3s-arg --disable=traefik@server:*]` creates it (without switching the
//! kubeconfig's current context), `k3d cluster start N` starts a stopped one. With
//! `ingress: nginx` the bundled Traefik is left out, as ingress-nginx takes its
//! place (see [`crate::stack::ingress`]); `traefik` or none keeps it.

use serde_json::Value;

use super::{Ensured, K3D, Target, config_file, create_kept_dir, run, volumes_dir};
use crate::error::Result;
use crate::project::stack::IngressController;
use crate::stack::StackDef;

/// k3s's flag that leaves out its bundled Traefik, for every server node.
const DISABLE_TRAEFIK: &str = "--disable=traefik@server:*";

/// Where k3s's local-path-provisioner keeps volumes in a node.
pub const PROVISIONER_DIR: &str = "/var/lib/rancher/k3s/storage";

pub(super) fn ensure(def: &StackDef, target: &mut Target) -> Result<Ensured> {
    let k3d = K3D.find("stack.cluster.provider k3d")?;
    let listed = run(&k3d, &["cluster", "list", "-o", "json"], "k3d cluster list")?;
    match servers_running(&listed, &target.name) {
        Some(running) if running > 0 => Ok(Ensured::Running),
        Some(_) => {
            run(&k3d, &["cluster", "start", &target.name], "k3d cluster start")?;
            Ok(Ensured::Started)
        }
        None => {
            let mut args = vec!["cluster".to_string(), "create".into(), target.name.clone()];
            if let Some(path) = config_file(def)? {
                args.extend(["--config".into(), path.display().to_string()]);
            }
            if def.config.cluster.keep_data {
                let volumes = volumes_dir(&def.root, &target.name);
                create_kept_dir(&volumes)?;
                args.extend(["--volume".into(), format!("{}:{PROVISIONER_DIR}@all", volumes.display())]);
            }
            if def.config.cluster.ingress == Some(IngressController::Nginx) {
                // ingress-nginx replaces the bundled Traefik (installed by `up` once the cluster runs).
                args.extend(["--k3s-arg".into(), DISABLE_TRAEFIK.into()]);
            }
            args.push("--kubeconfig-switch-context=false".into());
            eprintln!("creating k3d cluster {:?} (this takes a minute)", target.name);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run(&k3d, &args, "k3d cluster create")?;
            Ok(Ensured::Created)
        }
    }
}

/// How many of the cluster's servers run, if `k3d cluster list -o json` lists it.
fn servers_running(listed: &str, name: &str) -> Option<u64> {
    let doc: Value = serde_json::from_str(listed).ok()?;
    doc.as_array()?.iter().find(|c| c["name"] == name).map(|c| c["serversRunning"].as_u64().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_servers_come_from_the_cluster_list() {
        let listed = r#"[{"name": "shop", "serversRunning": 1, "serversCount": 1}, {"name": "stopped", "serversRunning": 0}]"#;
        assert_eq!(servers_running(listed, "shop"), Some(1));
        assert_eq!(servers_running(listed, "stopped"), Some(0));
        assert_eq!(servers_running(listed, "none"), None);
        assert_eq!(servers_running("[]", "shop"), None);
    }
}
