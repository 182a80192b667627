//! `kdeck doctor`: what `up` needs, checked on its own — the stack renders, the
//! tools its steps use are installed, the ingress controller's manifest is at hand
//! (or where `up` downloads it), the provider is there, the cluster answers,
//! and the credentials may do what `up` does (a SelfSubjectAccessReview per kind,
//! namespace and verb). Each line is ok or says what to do.

use std::collections::BTreeSet;

use serde::Serialize;

use super::apply::Kinds;
use super::{StackDef, ingress, provider};
use crate::cluster::Cluster;
use crate::cluster::access::{self, Permission};
use crate::project::stack::Provider;
use crate::render::{self, tools};

/// One check and its outcome.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    pub check: String,
    pub ok: bool,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    fn ok(check: &str, detail: impl Into<String>) -> Check {
        Check { check: check.into(), ok: true, detail: detail.into(), fix: None }
    }
    fn fail(check: &str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check { check: check.into(), ok: false, detail: detail.into(), fix: Some(fix.into()).filter(|f: &String| !f.is_empty()) }
    }
    fn of_error(check: &str, e: &crate::error::Error) -> Check {
        Check::fail(check, e.message.clone(), e.hints.join("; "))
    }
}

/// The verbs `up` and `down` use on what they apply.
const VERBS: [&str; 4] = ["get", "create", "patch", "delete"];

pub async fn doctor(def: &StackDef) -> Vec<Check> {
    let mut checks = Vec::new();
    // Tools the steps use.
    let helm = def.config.deploy.iter().any(|s| s.helm.is_some());
    let kustomize = def.config.deploy.iter().any(|s| s.kustomize.is_some());
    if helm {
        checks.push(match tools::which("helm") {
            Some(path) => Check::ok("helm", format!("{} ({})", path.display(), version(&path, &["version", "--short"]))),
            None => Check::fail("helm", "not on PATH; the stack has Helm steps", tools::HELM.install),
        });
    }
    if kustomize {
        checks.push(match (tools::which("kustomize"), tools::which("kubectl")) {
            (Some(path), _) => Check::ok("kustomize", path.display().to_string()),
            (None, Some(path)) => Check::ok("kustomize", format!("kubectl kustomize ({})", path.display())),
            (None, None) => Check::fail("kustomize", "neither kustomize nor kubectl is on PATH; the stack has kustomize steps", tools::KUSTOMIZE.install),
        });
    }
    // The stack renders.
    let rendered = match render::render(&def.root, &def.config) {
        Ok(steps) => {
            let count: usize = steps.iter().map(|s| s.manifests.len()).sum();
            checks.push(Check::ok("render", format!("{} step(s), {count} object(s)", steps.len())));
            Some(steps)
        }
        Err(e) => {
            checks.push(Check::of_error("render", &e));
            None
        }
    };
    // The ingress controller `up` installs: allowed on this provider, its manifest at hand.
    match ingress::plan(&def.config.cluster, def.config.cluster.provider, &def.root) {
        Ok(None) => {}
        Ok(Some(install)) => checks.push(match ingress::fetch(&install, true).await {
            Ok(Some(fetched)) => Check::ok("ingress", format!("{}: {}", install.title, fetched.how)),
            Ok(None) => {
                let said = ingress::report(&install, None);
                Check::ok("ingress", format!("{}: not in the cache yet; `kdeck up` downloads {} (sha256 {})", install.title, said.source, said.sha256))
            }
            Err(e) => Check::of_error("ingress", &e),
        }),
        Err(e) => checks.push(Check::of_error("ingress", &e)),
    }
    // The provider and the cluster.
    let target = match provider::target(&def.config.cluster, &def.name).await {
        Ok(target) => target,
        Err(e) => {
            checks.push(Check::of_error("provider", &e));
            return checks;
        }
    };
    if target.provider == Provider::Sandbox {
        match crate::sandboxes::load(&target.name) {
            Ok(Some(record)) if record.is_running() => checks.push(Check::ok("provider", format!("sandbox {:?} is running at {}", target.name, record.server))),
            _ => {
                checks.push(Check::ok("provider", format!("sandbox {:?} is not running; `kdeck up` starts it (built in, no Docker needed)", target.name)));
                return checks;
            }
        }
    } else {
        checks.push(Check::ok("provider", format!("{} (context {})", target.provider.name(), target.context)));
    }
    let cluster = match Cluster::connect(Some(&target.context)).await {
        Ok(cluster) => cluster,
        Err(e) => {
            checks.push(Check::of_error("cluster", &e));
            return checks;
        }
    };
    match cluster.client.apiserver_version().await {
        Ok(version) => {
            checks.push(Check::ok("cluster", format!("context {} answers at {} (Kubernetes {})", cluster.context, cluster.server, version.git_version)))
        }
        Err(e) => {
            checks.push(Check::of_error("cluster", &cluster.error("asking its version", e)));
            return checks;
        }
    }
    // RBAC for each kind, namespace and verb up uses (Helm steps too: helm needs the same).
    let Some(steps) = rendered else { return checks };
    let mut kinds = Kinds::default();
    let mut asked: BTreeSet<(String, String, String)> = BTreeSet::new();
    let mut denied = 0;
    for manifest in steps.iter().flat_map(|s| &s.manifests) {
        let api_version = manifest.object["apiVersion"].as_str().unwrap_or_default();
        let Ok(kind) = kinds.of(&cluster, api_version, manifest.kind()).await else {
            checks.push(Check::ok("rbac", format!("{} ({api_version}) is not served yet (a CRD of the stack?); not checked", manifest.kind())));
            continue;
        };
        let namespace = if kind.namespaced { manifest.namespace().unwrap_or("default").to_string() } else { String::new() };
        if !asked.insert((kind.resource.group.clone(), kind.resource.plural.clone(), namespace.clone())) {
            continue;
        }
        for verb in VERBS {
            let permission = Permission { verb, group: &kind.resource.group, resource: &kind.resource.plural, subresource: None };
            if let Err(e) = access::require(&cluster, &namespace, permission).await {
                denied += 1;
                checks.push(Check::of_error("rbac", &e));
            }
        }
    }
    if denied == 0 {
        checks.push(Check::ok("rbac", format!("context {} may get, create, patch and delete everything the stack applies", cluster.context)));
    }
    checks
}

/// The first line a tool prints for its version, or "version unknown".
fn version(path: &std::path::Path, args: &[&str]) -> String {
    std::process::Command::new(path)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(str::to_string))
        .unwrap_or_else(|| "version unknown".into())
}
