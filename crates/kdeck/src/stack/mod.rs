//! Stacks: a whole environment from the `stack:` section of `kdeck.yaml` —
//! brought up (`kdeck up`: cluster, dev secrets, render, apply, wait), looked at
//! (`status`, `render`) and torn down keeping the data (`down`).
//!
//! The pieces, one concern each: [`provider`] (which cluster), [`images`] (built
//! with docker, loaded into the cluster), [`ingress`] (the ingress controller the
//! provider gets: ingress-nginx's pinned manifest, the first step), [`crate::render`] (what the steps stand
//! for), [`secrets`] (dev secrets), [`rollout`] (config changes take effect),
//! [`apply`] (server-side apply, the ApplySet, prune), [`helm`] (Helm steps as real
//! releases), [`readiness`] (one rule per kind) and [`wait`] (watches until ready,
//! failed or the deadline). The commands in [`up`] and [`down`] put them together.

pub mod apply;
pub mod doctor;
pub mod down;
pub mod forward;
pub mod helm;
pub mod images;
pub mod ingress;
pub mod provider;
pub mod readiness;
pub mod rollout;
pub mod secrets;
pub mod tunnel;
pub mod up;
// verify: `kdeck verify` and the checks `up` runs at its end
pub mod verify;
pub mod wait;

use std::path::PathBuf;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::project::Project;
use crate::project::stack::Stack;

/// A project's stack, ready to act on.
#[derive(Clone, Debug)]
pub struct StackDef {
    /// kdeck.yaml's directory: paths in the stack are relative to it.
    pub root: PathBuf,
    /// The project file (verify: bad checks are placed in it by line and column).
    pub file: PathBuf,
    pub name: String,
    pub config: Stack,
}

impl StackDef {
    /// The stack of `project`; an error when it declares none.
    pub fn of(project: &Project) -> Result<StackDef> {
        let Some(config) = project.config.stack.clone() else {
            return Err(Error::usage(format!("{} has no stack: section", project.file.display()))
                .hint("declare one (see the README's `stack:` reference): stack: { deploy: [ { kustomize: k8s/overlays/local } ] }"));
        };
        let name = match &config.name {
            Some(name) => name.clone(),
            None => default_name(&project.root),
        };
        crate::cluster::names::validate_namespace(&name).map_err(|_| {
            Error::usage(format!("stack.name: {name:?} is not a valid stack name")).hint("lower-case letters, digits and '-', at most 63 characters")
        })?;
        Ok(StackDef { root: project.root.clone(), file: project.file.clone(), name, config })
    }
}

/// The project directory's name made a DNS label (`My_Shop` → `my-shop`).
fn default_name(root: &std::path::Path) -> String {
    let raw = std::fs::canonicalize(root).ok().and_then(|p| p.file_name().map(|n| n.to_string_lossy().to_string())).unwrap_or_default();
    let mut name: String = raw.to_ascii_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    name = name.trim_matches('-').chars().take(50).collect::<String>().trim_end_matches('-').to_string();
    if name.is_empty() { "stack".into() } else { name }
}

/// `object` with every Secret value replaced by `******` (for `render` and plans).
pub fn masked(object: &Value) -> Value {
    let mut object = object.clone();
    if object["kind"] == "Secret" && object["apiVersion"] == "v1" {
        for key in ["data", "stringData"] {
            if let Some(map) = object[key].as_object_mut() {
                map.values_mut().for_each(|v| *v = Value::String("******".into()));
            }
        }
    }
    object
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_are_labels() {
        let dir = std::env::temp_dir().join("My_Shop.v2");
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(default_name(&dir), "my-shop-v2");
    }

    #[test]
    fn secrets_are_masked() {
        let s = serde_json::json!({"apiVersion": "v1", "kind": "Secret", "data": {"a": "c2VjcmV0"}, "stringData": {"b": "secret"}});
        let m = masked(&s);
        assert_eq!(m["data"]["a"], "******");
        assert_eq!(m["stringData"]["b"], "******");
    }
}
