//! Helm steps are real Helm releases (`helm upgrade --install`), so `helm list`,
//! `helm rollback` and the team's habits keep working; kdeck plans them (install,
//! upgrade or unchanged, by comparing the rendered manifest with the release's)
//! and waits on the release's objects itself.

use std::path::PathBuf;

use crate::error::Result;
use crate::render::tools::{self, HELM};
use crate::render::{HelmRelease, parse};

/// What a Helm step does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum HelmChange {
    Install,
    Upgrade,
    Unchanged,
}

impl HelmChange {
    pub fn text(self) -> &'static str {
        match self {
            HelmChange::Install => "install",
            HelmChange::Upgrade => "upgrade",
            HelmChange::Unchanged => "unchanged",
        }
    }
}

fn helm(release: &HelmRelease) -> Result<PathBuf> {
    HELM.find(&format!("the Helm release {}", release.release))
}

/// The arguments that point helm at `context` of the kubeconfig kdeck reads.
fn cluster_args(context: &str) -> Vec<String> {
    vec!["--kube-context".into(), context.into()]
}

/// Install, upgrade or unchanged: the release's current manifest against `rendered` (`helm template`'s output).
pub fn plan(release: &HelmRelease, context: &str, rendered: &str) -> Result<HelmChange> {
    let helm = helm(release)?;
    let mut args = vec!["get".to_string(), "manifest".into(), release.release.clone(), "--namespace".into(), release.namespace.clone()];
    args.extend(cluster_args(context));
    let Ok(current) = tools::run(&helm, &args, "helm get manifest") else { return Ok(HelmChange::Install) };
    let objects = |text: &str| parse(text, "helm", None).map(|m| m.into_iter().map(|m| m.object).collect::<Vec<_>>()).unwrap_or_default();
    Ok(if objects(&current) == objects(rendered) { HelmChange::Unchanged } else { HelmChange::Upgrade })
}

/// `helm upgrade --install` (without helm's own wait: kdeck waits on the objects).
pub fn install(release: &HelmRelease, context: &str) -> Result<()> {
    let helm = helm(release)?;
    let mut args = vec!["upgrade".to_string(), "--install".into(), "--create-namespace".into()];
    args.extend(release.args());
    args.extend(cluster_args(context));
    tools::run(&helm, &args, &format!("helm upgrade --install {}", release.release)).map(|_| ())
}

/// `helm uninstall` of `namespace/release`; Ok(false) when there was no such release.
pub fn uninstall(namespace_release: &str, context: &str) -> Result<bool> {
    let (namespace, release) = namespace_release.split_once('/').unwrap_or(("default", namespace_release));
    let helm = HELM.find(&format!("removing the Helm release {release}"))?;
    let mut args = vec!["uninstall".to_string(), release.into(), "--namespace".into(), namespace.into(), "--ignore-not-found".into()];
    args.extend(cluster_args(context));
    let out = tools::run(&helm, &args, &format!("helm uninstall {release}"))?;
    Ok(!out.contains("not found"))
}
