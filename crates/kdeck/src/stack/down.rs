//! `kdeck down`: removes what `up` applied (the ApplySet's members, the Helm
//! releases) keeping PersistentVolumeClaims — and the namespaces that hold them —
//! unless `--delete-data`; `--delete-cluster` also deletes the cluster, keeping
//! volume data on the host when `keepData` is set. And `kdeck status`: the stack's
//! resources with their readiness, once.

use serde::Serialize;
use serde_json::Value;

use super::apply::{self, ApplySet, Kinds};
use super::up::Planned;
use super::wait::{self, Judged};
use super::{StackDef, helm, provider, secrets};
use crate::cluster::Cluster;
use crate::error::Result;

#[derive(Clone, Debug)]
pub struct DownOptions {
    pub dry_run: bool,
    pub delete_data: bool,
    pub delete_cluster: bool,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DownReport {
    pub stack: String,
    pub context: String,
    pub dry_run: bool,
    pub removed: Vec<Planned>,
    /// Kept: claims and the namespaces holding them.
    pub kept: Vec<Planned>,
    pub helm_releases: Vec<String>,
    pub cluster: Option<String>,
}

/// Whether `member` is data `down` keeps: a claim, or a namespace holding claims.
fn keeps(member: &Value, claims_in: &std::collections::BTreeSet<String>) -> bool {
    match member["kind"].as_str() {
        Some("PersistentVolumeClaim") => true,
        Some("Namespace") => claims_in.contains(member["metadata"]["name"].as_str().unwrap_or_default()),
        _ => false,
    }
}

pub async fn down(def: &StackDef, options: &DownOptions) -> Result<DownReport> {
    let target = provider::target(&def.config.cluster, &def.name).await?;
    let mut report = DownReport { stack: def.name.clone(), context: target.context.clone(), dry_run: options.dry_run, ..Default::default() };
    let reachable = match target.provider {
        crate::project::stack::Provider::Sandbox => crate::sandboxes::load(&target.name)?.is_some_and(|r| r.is_running()),
        _ => true,
    };
    if reachable {
        let cluster = Cluster::connect(Some(&target.context)).await?;
        let mut kinds = Kinds::default();
        let set = ApplySet::of(&def.name);
        let parent = apply::read_parent(&cluster, &set).await?;
        let inventory = apply::inventory_of(parent.as_ref());
        let members = apply::members(&cluster, &mut kinds, &set, &inventory).await?;
        // Claims anywhere in the stack's namespaces (Helm's and StatefulSets' too).
        let claims_in = if options.delete_data { Default::default() } else { namespaces_with_claims(&cluster, &inventory).await? };
        for member in &members {
            if !options.delete_data && keeps(member, &claims_in) {
                report.kept.push(Planned::of_value(member, "kept"));
                continue;
            }
            if options.dry_run {
                report.removed.push(Planned::of_value(member, "delete"));
            } else {
                apply::delete_member(&cluster, &mut kinds, member).await?;
                report.removed.push(Planned::of_value(member, "deleted"));
            }
        }
        for release in &inventory.helm_releases {
            if !options.dry_run {
                helm::uninstall(release, &target.context)?;
            }
            report.helm_releases.push(release.clone());
        }
        if options.delete_data && !options.dry_run {
            // Claims Helm or StatefulSets made are not members: remove them too.
            for ns in &inventory.namespaces {
                delete_claims(&cluster, ns).await?;
            }
        }
        if !options.dry_run {
            apply::delete_parent(&cluster, &set).await?;
        }
    }
    if options.delete_data && !options.dry_run {
        secrets::forget(&def.root, &target.name)?;
    }
    if options.delete_cluster {
        let keep = def.config.cluster.keep_data && !options.delete_data;
        report.cluster = Some(if options.dry_run {
            format!("would delete {} {:?}", target.provider.name(), target.name)
        } else {
            provider::delete(def, &target, keep).await?
        });
    }
    Ok(report)
}

async fn namespaces_with_claims(cluster: &Cluster, inventory: &apply::Inventory) -> Result<std::collections::BTreeSet<String>> {
    use k8s_openapi::api::core::v1::PersistentVolumeClaim;
    let mut out = std::collections::BTreeSet::new();
    let mut namespaces = inventory.namespaces.clone();
    namespaces.extend(inventory.helm_releases.iter().filter_map(|r| r.split_once('/').map(|(ns, _)| ns.to_string())));
    for ns in namespaces {
        let api: kube::Api<PersistentVolumeClaim> = kube::Api::namespaced(cluster.client.clone(), &ns);
        match api.list(&Default::default()).await {
            Ok(list) if !list.items.is_empty() => {
                out.insert(ns);
            }
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(cluster.error(&format!("listing claims in {ns}"), e)),
        }
    }
    Ok(out)
}

async fn delete_claims(cluster: &Cluster, ns: &str) -> Result<()> {
    use k8s_openapi::api::core::v1::PersistentVolumeClaim;
    let api: kube::Api<PersistentVolumeClaim> = kube::Api::namespaced(cluster.client.clone(), ns);
    match api.delete_collection(&Default::default(), &Default::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(cluster.error(&format!("deleting claims in {ns}"), e)),
    }
}

/// `kdeck status`: every member and every Helm release's object, judged once;
/// with `watch`, their changes are printed until interrupted, after the table.
pub async fn status(def: &StackDef) -> Result<(String, Vec<Judged>)> {
    let (cluster, targets) = status_targets(def).await?;
    Ok((cluster.context.clone(), wait::judge_once(&cluster, &targets).await))
}

/// Prints each change of the stack's resources until interrupted (`status -w`).
pub async fn watch_status(def: &StackDef) -> Result<()> {
    let (cluster, targets) = status_targets(def).await?;
    wait::forever(&cluster, &targets).await;
    Ok(())
}

type Targets = Vec<(Value, kube::api::ApiResource, bool)>;

async fn status_targets(def: &StackDef) -> Result<(Cluster, Targets)> {
    let target = provider::target(&def.config.cluster, &def.name).await?;
    let cluster = Cluster::connect(Some(&target.context)).await?;
    let mut kinds = Kinds::default();
    let set = ApplySet::of(&def.name);
    let parent = apply::read_parent(&cluster, &set).await?;
    let Some(_) = parent else {
        return Err(
            crate::error::Error::not_found(format!("stack {:?} is not up on context {:?}", def.name, target.context)).hint("bring it up with: kdeck up")
        );
    };
    let inventory = apply::inventory_of(parent.as_ref());
    let mut targets = Vec::new();
    for member in apply::members(&cluster, &mut kinds, &set, &inventory).await? {
        let kind = kinds.of(&cluster, member["apiVersion"].as_str().unwrap_or_default(), member["kind"].as_str().unwrap_or_default()).await?;
        targets.push((member, kind.resource, kind.namespaced));
    }
    for release in &inventory.helm_releases {
        let (ns, name) = release.split_once('/').unwrap_or(("default", release));
        let Ok(helm) = crate::render::tools::HELM.find("status of Helm releases") else { continue };
        let args = vec!["get".to_string(), "manifest".into(), name.into(), "--namespace".into(), ns.into(), "--kube-context".into(), target.context.clone()];
        let Ok(text) = crate::render::tools::run(&helm, &args, "helm get manifest") else { continue };
        for manifest in crate::render::parse(&text, "helm", Some(ns))? {
            let mut object = manifest.object;
            let kind = kinds.of(&cluster, object["apiVersion"].as_str().unwrap_or_default(), object["kind"].as_str().unwrap_or_default()).await?;
            if !kind.namespaced
                && let Some(meta) = object["metadata"].as_object_mut()
            {
                meta.remove("namespace");
            }
            targets.push((object, kind.resource, kind.namespaced));
        }
    }
    Ok((cluster, targets))
}
