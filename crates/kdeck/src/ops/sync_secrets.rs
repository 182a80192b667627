//! Forcing External Secrets to sync: annotate each ExternalSecret
//! `force-sync=<unix time>` (ESO re-syncs when an ExternalSecret's labels or
//! annotations change), then optionally wait until each has re-synced or failed.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures::StreamExt;
use kube::ResourceExt;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use serde::Serialize;
use serde_json::json;
use tokio::time::Instant;

use super::plan::{Plan, PlanItem};
use crate::cluster::Cluster;
use crate::cluster::locate::{self, Scope};
use crate::cluster::wait::{self, Key};
use crate::error::{Error, Result};

pub const ANNOTATION: &str = "force-sync";
/// How long a failure seen right after the annotation may still be the old one.
const FAILURE_GRACE: Duration = Duration::from_secs(2);

#[derive(Clone, Debug, Default)]
pub struct Options {
    pub names: Vec<String>,
    /// None: every namespace.
    pub namespace: Option<String>,
    /// The namespace was given with `-n` (a name is looked for there only).
    pub namespace_given: bool,
    pub selector: Option<String>,
}

/// The ExternalSecrets a plan covers, as they were before the annotation.
pub struct Selected {
    pub resource: ApiResource,
    pub objects: Vec<DynamicObject>,
}

/// Why annotating this ExternalSecret cannot make ESO refresh it, if it cannot.
pub fn refresh_warning(es: &DynamicObject) -> Option<String> {
    let spec = &es.data["spec"];
    match spec["refreshPolicy"].as_str().unwrap_or("Periodic") {
        "CreatedOnce" => Some("refreshPolicy is CreatedOnce: ESO never refreshes it once its Secret exists".into()),
        "Periodic" if matches!(spec["refreshInterval"].as_str(), Some("0" | "0s")) => {
            Some("refreshInterval is 0 under refreshPolicy Periodic: ESO does not refresh it after the first sync".into())
        }
        _ => None,
    }
}

pub async fn select(cluster: &Cluster, options: &Options) -> Result<Selected> {
    let resource = crate::cluster::crds::EXTERNAL_SECRET.discover(cluster).await?;
    let api: Api<DynamicObject> = match &options.namespace {
        Some(ns) => Api::namespaced_with(cluster.client.clone(), ns, &resource),
        None => Api::all_with(cluster.client.clone(), &resource),
    };
    let where_ = options.namespace.as_deref().map_or("in any namespace".to_string(), |ns| format!("in namespace {ns}"));
    let objects = if options.names.is_empty() {
        let mut params = ListParams::default();
        if let Some(selector) = &options.selector {
            params = params.labels(selector);
        }
        let items = api.list(&params).await.map_err(|e| cluster.error("listing ExternalSecrets", e))?.items;
        if items.is_empty() {
            let matching = options.selector.as_deref().map(|s| format!(" matching {s}")).unwrap_or_default();
            return Err(Error::not_found(format!("no ExternalSecrets{matching} {where_} (context {})", cluster.context)));
        }
        items
    } else {
        let mut found = Vec::new();
        let home = options.namespace.clone().unwrap_or_else(|| cluster.default_namespace.clone());
        for name in &options.names {
            let scope = if options.namespace_given { Scope::Given(&home) } else { Scope::Default(&home) };
            found.push(locate::named(cluster, &resource, "ExternalSecret", name, scope, |note| eprintln!("{note}")).await?);
        }
        found
    };
    Ok(Selected { resource, objects })
}

/// A force-sync token newer than any the object carries, so the annotation changes.
pub fn token_for(es: &DynamicObject, now: i64) -> String {
    let current = es.annotations().get(ANNOTATION).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
    now.max(current + 1).to_string()
}

pub fn plan(cluster: &Cluster, selected: &Selected, now: i64) -> Plan {
    let mut plan = Plan::new("sync-secrets", &cluster.context);
    plan.items = selected
        .objects
        .iter()
        .map(|es| {
            PlanItem::new(
                "ExternalSecret",
                es.namespace().unwrap_or_default(),
                es.name_any(),
                format!("annotate {ANNOTATION}={}", token_for(es, now)),
                refresh_warning(es).unwrap_or_else(|| "re-sync from its store".into()),
            )
        })
        .collect();
    plan
}

/// One row of the result.
#[derive(Debug, Serialize)]
pub struct Row {
    pub namespace: String,
    pub name: String,
    /// Annotated, Synced, Failed, TimedOut, Unknown (its state could not be read at
    /// the deadline), or NotAnnotated (the patch failed).
    pub result: String,
    #[serde(rename = "refreshTime")]
    pub refresh_time: Option<String>,
    pub message: String,
    pub warning: Option<String>,
}

fn synced_version(es: &DynamicObject) -> Option<String> {
    es.data["status"]["syncedResourceVersion"].as_str().map(str::to_string)
}

/// Annotates every selected ExternalSecret (bounded concurrency); with `wait`, waits
/// until each re-synced or failed, at most until `deadline`.
pub async fn apply(cluster: &Cluster, selected: &Selected, now: i64, wait_until: Option<Instant>) -> Vec<Row> {
    let patched = futures::stream::iter(selected.objects.iter().map(|es| async move {
        let api: Api<DynamicObject> = Api::namespaced_with(cluster.client.clone(), &es.namespace().unwrap_or_default(), &selected.resource);
        let patch = json!({"metadata": {"annotations": {ANNOTATION: token_for(es, now)}}});
        (es, cluster.bounded(api.patch(&es.name_any(), &PatchParams::default(), &Patch::Merge(&patch))).await)
    }))
    .buffer_unordered(super::CONCURRENCY)
    .collect::<Vec<_>>()
    .await;
    let mut rows = BTreeMap::new();
    let mut watching: BTreeMap<Key, (Option<String>, String)> = BTreeMap::new();
    for (es, result) in patched {
        let key = wait::key_of(es);
        let mut row = Row {
            namespace: key.0.clone(),
            name: key.1.clone(),
            result: "Annotated".into(),
            refresh_time: None,
            message: String::new(),
            warning: refresh_warning(es),
        };
        match result {
            Some(Ok(after)) => {
                watching.insert(key.clone(), (synced_version(es), after.resource_version().unwrap_or_default()));
            }
            Some(Err(e)) => {
                row.result = "NotAnnotated".into();
                row.message = cluster.error("annotate", e).message;
            }
            None => {
                row.result = "NotAnnotated".into();
                row.message = "not annotated before the deadline (--timeout)".into();
            }
        }
        rows.insert(key, row);
    }
    if let Some(deadline) = wait_until {
        let started = Instant::now();
        // Secrets that cannot refresh are not waited for: the annotation does nothing.
        let keys: BTreeSet<Key> = watching.keys().filter(|k| rows[*k].warning.is_none()).cloned().collect();
        let api: Api<DynamicObject> = match keys.iter().map(|k| &k.0).collect::<BTreeSet<_>>().len() {
            1 => Api::namespaced_with(cluster.client.clone(), &keys.iter().next().map(|k| k.0.clone()).unwrap_or_default(), &selected.resource),
            _ => Api::all_with(cluster.client.clone(), &selected.resource),
        };
        let settled = |es: &DynamicObject| {
            let Some((before, patched_version)) = watching.get(&wait::key_of(es)) else { return false };
            let (status, reason, _) = crate::cluster::crds::ready_condition(es);
            let synced_again = status == "True" && synced_version(es) != *before;
            let failed = reason == "SecretSyncedError" && (es.resource_version().as_ref() != Some(patched_version) || started.elapsed() > FAILURE_GRACE);
            synced_again || failed
        };
        let mut outcome = wait::until_settled(&api, &keys, deadline, settled, |_| {}).await;
        // A result is read once more before it is called timed out: the wait may have
        // missed the last change (a watch cut under load), and a wrong "timed out" is
        // as bad as a wrong "synced".
        let final_deadline = cluster.retries.deadline().unwrap_or(deadline).max(deadline);
        let reread = futures::stream::iter(outcome.pending.keys().cloned().map(|key| {
            let api: Api<DynamicObject> = Api::namespaced_with(cluster.client.clone(), &key.0, &selected.resource);
            async move { (key.clone(), tokio::time::timeout_at(final_deadline, api.get_opt(&key.1)).await) }
        }))
        .buffer_unordered(super::CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
        let mut unread = BTreeMap::new();
        for (key, result) in reread {
            match result {
                Ok(Ok(Some(es))) if settled(&es) => {
                    outcome.pending.remove(&key);
                    outcome.settled.insert(key, es);
                }
                Ok(Ok(Some(es))) => {
                    outcome.pending.insert(key, Some(es));
                }
                Ok(Ok(None)) => {
                    unread.insert(key, "it was deleted while kdeck waited".to_string());
                }
                Ok(Err(e)) => {
                    unread.insert(key, format!("its state could not be read at the deadline: {}", cluster.error("read", e).message));
                }
                Err(_) => {
                    unread.insert(key, "its state could not be read before the deadline".to_string());
                }
            }
        }
        for (key, es) in &outcome.settled {
            let row = rows.get_mut(key).expect("watched keys have rows");
            let (status, _, message) = crate::cluster::crds::ready_condition(es);
            row.result = if status == "True" { "Synced" } else { "Failed" }.into();
            row.message = message.to_string();
            row.refresh_time = es.data["status"]["refreshTime"].as_str().map(str::to_string);
        }
        for (key, last) in &outcome.pending {
            let row = rows.get_mut(key).expect("watched keys have rows");
            if let Some(why) = unread.remove(key) {
                row.result = "Unknown".into();
                row.message = why;
                continue;
            }
            row.result = "TimedOut".into();
            row.message = last
                .as_ref()
                .map(|es| crate::cluster::crds::ready_condition(es).2.to_string())
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| "no re-sync seen".into());
        }
    }
    rows.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn es(spec: Value, annotations: Value) -> DynamicObject {
        serde_json::from_value(json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
            "metadata": {"name": "x", "namespace": "default", "annotations": annotations}, "spec": spec}))
        .unwrap()
    }

    #[test]
    fn secrets_that_cannot_refresh_are_named() {
        assert!(refresh_warning(&es(json!({"refreshPolicy": "CreatedOnce"}), json!({}))).unwrap().contains("CreatedOnce"));
        assert!(refresh_warning(&es(json!({"refreshInterval": "0"}), json!({}))).unwrap().contains("refreshInterval is 0"));
        assert!(refresh_warning(&es(json!({"refreshInterval": "0", "refreshPolicy": "OnChange"}), json!({}))).is_none());
        assert!(refresh_warning(&es(json!({"refreshInterval": "1h"}), json!({}))).is_none());
    }

    #[test]
    fn the_token_always_changes_the_annotation() {
        assert_eq!(token_for(&es(json!({}), json!({})), 100), "100");
        assert_eq!(token_for(&es(json!({}), json!({"force-sync": "100"})), 100), "101", "a second sync within the same second");
        assert_eq!(token_for(&es(json!({}), json!({"force-sync": "not-a-number"})), 100), "100");
    }
}
