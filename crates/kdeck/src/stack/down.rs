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
        if options.delete_data {
            // The claims the stack's StatefulSets made are not members: they go too,
            // each by its uid — and no other claim of a shared namespace.
            for claim in statefulset_claims(&cluster, &members).await? {
                if !options.dry_run {
                    apply::delete_member(&cluster, &mut kinds, &claim).await?;
                }
                report.removed.push(Planned::of_value(&claim, if options.dry_run { "delete" } else { "deleted" }));
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

/// The claims made from the volumeClaimTemplates of the StatefulSets among
/// `members` (`<template>-<statefulset>-<ordinal>`), as listed now.
async fn statefulset_claims(cluster: &Cluster, members: &[Value]) -> Result<Vec<Value>> {
    use k8s_openapi::api::core::v1::PersistentVolumeClaim;
    let mut out = Vec::new();
    for sts in members.iter().filter(|m| m["kind"] == "StatefulSet") {
        let (Some(ns), Some(name)) = (sts["metadata"]["namespace"].as_str(), sts["metadata"]["name"].as_str()) else { continue };
        let templates: Vec<&str> =
            sts["spec"]["volumeClaimTemplates"].as_array().into_iter().flatten().filter_map(|t| t["metadata"]["name"].as_str()).collect();
        if templates.is_empty() {
            continue;
        }
        let api: kube::Api<PersistentVolumeClaim> = kube::Api::namespaced(cluster.client.clone(), ns);
        let claims = api.list(&Default::default()).await.map_err(|e| cluster.error(&format!("listing claims in {ns}"), e))?;
        for claim in claims.items {
            let claim_name = claim.metadata.name.clone().unwrap_or_default();
            let made_here = templates.iter().any(|t| {
                claim_name.strip_prefix(&format!("{t}-{name}-")).is_some_and(|ordinal| !ordinal.is_empty() && ordinal.chars().all(|c| c.is_ascii_digit()))
            });
            if made_here {
                let mut value = serde_json::to_value(&claim).unwrap_or_default();
                value["apiVersion"] = serde_json::json!("v1");
                value["kind"] = serde_json::json!("PersistentVolumeClaim");
                out.push(value);
            }
        }
    }
    Ok(out)
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
