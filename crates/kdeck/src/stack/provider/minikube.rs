//! minikube: the profile is the cluster (`minikube profile list -o json` finds it,
//! `minikube start -p N` creates or restarts it). `stack.cluster.config` names a
//! YAML list of extra `minikube start` flags (`["--cpus=4", "--memory=8g"]`);
//! `ingress: nginx` enables minikube's ingress addon; `keepData` mounts the host's
//! `.kdeck/volumes/N` where minikube's hostpath provisioner keeps claims
//! (`/tmp/hostpath-provisioner/<namespace>/<claim>`).

use serde_json::Value;

use super::{Ensured, MINIKUBE, Target, config_file, create_kept_dir, run, volumes_dir};
use crate::error::{Error, Result};
use crate::project::stack::IngressController;
use crate::stack::StackDef;

/// Where minikube's storage-provisioner keeps claims in the node.
pub const PROVISIONER_DIR: &str = "/tmp/hostpath-provisioner";

pub(super) fn ensure(def: &StackDef, target: &mut Target) -> Result<Ensured> {
    let minikube = MINIKUBE.find("stack.cluster.provider minikube")?;
    // No profile at all makes minikube exit non-zero: that is "none" too.
    let listed = run(&minikube, &["profile", "list", "-o", "json"], "minikube profile list").unwrap_or_default();
    let status = profile_status(&listed, &target.name);
    if status.as_deref() == Some("Running") {
        return Ok(Ensured::Running);
    }
    let args = start_args(def, &target.name)?;
    eprintln!("{} minikube profile {:?} (this takes a minute or two)", if status.is_some() { "starting" } else { "creating" }, target.name);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&minikube, &args, "minikube start")?;
    Ok(if status.is_some() { Ensured::Started } else { Ensured::Created })
}

/// The profile's `Status` in `minikube profile list -o json`, if it is listed.
fn profile_status(listed: &str, name: &str) -> Option<String> {
    let doc: Value = serde_json::from_str(listed).ok()?;
    ["valid", "invalid"]
        .iter()
        .flat_map(|key| doc[key].as_array().cloned().unwrap_or_default())
        .find(|p| p["Name"] == name)
        .map(|p| p["Status"].as_str().unwrap_or("Unknown").to_string())
}

/// `start -p N [--addons=ingress] [--mount --mount-string HOST:DIR] [flags from config]`.
fn start_args(def: &StackDef, name: &str) -> Result<Vec<String>> {
    let mut args = vec!["start".to_string(), "-p".into(), name.into()];
    if def.config.cluster.ingress == Some(IngressController::Nginx) {
        args.push("--addons=ingress".into());
    }
    if def.config.cluster.keep_data {
        let volumes = volumes_dir(&def.root, name);
        create_kept_dir(&volumes)?;
        args.extend(["--mount".into(), "--mount-string".into(), format!("{}:{PROVISIONER_DIR}", volumes.display())]);
    }
    if let Some(path) = config_file(def)? {
        let text = std::fs::read_to_string(&path).map_err(|e| Error::usage(format!("cannot read {}: {e}", path.display())))?;
        let flags: Vec<String> = serde_saphyr::from_str(&text).map_err(|_| {
            Error::usage(format!("stack.cluster.config: {} is not a YAML list of `minikube start` flags", path.display()))
                .hint("for minikube, the config file lists flags: [\"--cpus=4\", \"--memory=8g\", \"--kubernetes-version=v1.31.0\"]")
        })?;
        if let Some(bad) = flags.iter().find(|f| !f.starts_with("--") || f.contains(char::is_whitespace)) {
            return Err(Error::usage(format!("stack.cluster.config: {bad:?} in {} is not a `--flag=value`", path.display())));
        }
        args.extend(flags);
    }
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_come_from_the_profile_list() {
        let listed = r#"{"invalid": [], "valid": [{"Name": "shop", "Status": "Stopped"}, {"Name": "other", "Status": "Running"}]}"#;
        assert_eq!(profile_status(listed, "shop").as_deref(), Some("Stopped"));
        assert_eq!(profile_status(listed, "other").as_deref(), Some("Running"));
        assert_eq!(profile_status(listed, "none"), None);
        assert_eq!(profile_status("", "shop"), None);
    }
}
