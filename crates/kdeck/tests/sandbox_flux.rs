//! The sandbox's Flux helm-controller and the `home-ops` scenario, through kube-rs.

mod common;

use std::collections::BTreeSet;

use common::{TestSandbox, wait_object};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, PersistentVolumeClaim, Pod};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use serde_json::{Value, json};

fn helm_releases(client: kube::Client, ns: &str) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("helm.toolkit.fluxcd.io", "v2", "HelmRelease"), "helmreleases");
    Api::namespaced_with(client, ns, &resource)
}

fn status(hr: &DynamicObject) -> &Value {
    &hr.data["status"]
}

fn ready(hr: &DynamicObject) -> Option<(String, String, String)> {
    let conditions = status(hr)["conditions"].as_array()?;
    let c = conditions.iter().find(|c| c["type"] == "Ready")?;
    Some((c["status"].as_str()?.into(), c["reason"].as_str()?.into(), c["message"].as_str().unwrap_or_default().into()))
}

fn is_ready(hr: &DynamicObject) -> bool {
    ready(hr).is_some_and(|(s, _, _)| s == "True")
}

async fn merge(api: &Api<DynamicObject>, name: &str, patch: Value) {
    api.patch(name, &PatchParams::default(), &Patch::Merge(patch)).await.unwrap();
}

async fn request_reconcile(api: &Api<DynamicObject>, name: &str, annotations: Value) {
    merge(api, name, json!({"metadata": {"annotations": annotations}})).await;
}

#[tokio::test]
async fn home_ops_starts_for_two_clusters_with_everything_listed() {
    let infra = TestSandbox::start_seeded("infra", "home-ops");
    let apps = infra.sibling("apps");
    apps.start_seeded("home-ops");
    for client in [infra.client().await, apps.client().await] {
        let namespaces: BTreeSet<String> =
            Api::<Namespace>::all(client.clone()).list(&ListParams::default()).await.unwrap().items.into_iter().filter_map(|n| n.metadata.name).collect();
        for ns in ["flux-system", "observability", "default", "storage"] {
            assert!(namespaces.contains(ns), "namespace {ns} in {namespaces:?}");
        }
        let gatus = wait_object(&helm_releases(client.clone(), "observability"), "gatus", "Ready", is_ready).await;
        assert_eq!(status(&gatus)["lastAttemptedRevision"], "1.2.0");
        let deployment: Api<Deployment> = Api::namespaced(client.clone(), "observability");
        let deployment = wait_object(&deployment, "gatus", "available", |d| d.status.as_ref().and_then(|s| s.available_replicas) == Some(1)).await;
        let volumes = deployment.spec.unwrap().template.spec.unwrap().volumes.unwrap();
        assert_eq!(volumes[0].persistent_volume_claim.as_ref().unwrap().claim_name, "gatus-data");
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "observability");
        wait_object(&claims, "gatus-data", "Bound", |c| c.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound")).await;
        let loki = wait_object(&helm_releases(client.clone(), "observability"), "loki", "failed", |hr| ready(hr).is_some_and(|r| r.0 == "False")).await;
        assert_eq!(ready(&loki).unwrap().1, "InstallFailed");

        // The pods to clean next to the ones to keep, by API fields.
        let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
        let phase_and_reason = |p: &Pod| {
            let s = p.status.as_ref();
            (s.and_then(|s| s.phase.clone()).unwrap_or_default(), s.and_then(|s| s.reason.clone()).unwrap_or_default())
        };
        let terminated_reason = |p: &Pod| {
            p.status
                .as_ref()
                .and_then(|s| s.container_statuses.as_ref())
                .and_then(|c| c[0].state.as_ref()?.terminated.as_ref()?.reason.clone())
                .unwrap_or_default()
        };
        let evicted = wait_object(&pods, "immich-ml-6d5f9c7b8d-evict", "Evicted", |p| phase_and_reason(p).1 == "Evicted").await;
        assert_eq!(phase_and_reason(&evicted).0, "Failed");
        let error = wait_object(&pods, "db-migrate-error", "Failed", |p| phase_and_reason(p).0 == "Failed").await;
        assert_eq!(terminated_reason(&error), "Error");
        let oom = wait_object(&pods, "thumbnailer-oom", "Failed", |p| phase_and_reason(p).0 == "Failed").await;
        assert_eq!(terminated_reason(&oom), "OOMKilled");
        wait_object(&pods, "backup-completed", "Succeeded", |p| phase_and_reason(p).0 == "Succeeded").await;
        let pending = pods.get("gpu-job-pending").await.unwrap();
        assert_eq!(phase_and_reason(&pending).0, "Pending");
        let all = pods.list(&ListParams::default()).await.unwrap().items;
        assert!(all.iter().filter(|p| phase_and_reason(p).0 == "Running").count() >= 3, "Running pods: echo-server ×2, paperless");
        let multi = all.iter().find(|p| p.metadata.name.as_deref().is_some_and(|n| n.starts_with("paperless-"))).expect("paperless pod");
        assert_eq!(multi.spec.as_ref().unwrap().containers.len(), 3, "a multi-container pod");
    }
}

#[tokio::test]
async fn a_helm_release_reconciles_on_request_and_not_while_suspended() {
    let sandbox = TestSandbox::start_seeded("flux", "home-ops");
    let client = sandbox.client().await;
    let releases = helm_releases(client.clone(), "observability");
    let before = wait_object(&releases, "gatus", "Ready", is_ready).await;
    let generation = before.metadata.generation.unwrap();

    // Suspended: a reconcile request is not handled.
    merge(&releases, "gatus", json!({"spec": {"suspend": true}})).await;
    request_reconcile(&releases, "gatus", json!({"reconcile.fluxcd.io/requestedAt": "while-suspended"})).await;
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let suspended = releases.get("gatus").await.unwrap();
    assert_eq!(status(&suspended)["lastHandledReconcileAt"], Value::Null, "a suspended release does not reconcile");
    assert_eq!(status(&suspended)["observedGeneration"], generation, "nor observe its new generation");

    // Resumed: the pending request and the new generation are handled, with no upgrade.
    merge(&releases, "gatus", json!({"spec": {"suspend": false}})).await;
    let resumed = wait_object(&releases, "gatus", "the request handled", |hr| status(hr)["lastHandledReconcileAt"] == "while-suspended").await;
    assert_eq!(status(&resumed)["observedGeneration"], resumed.metadata.generation.unwrap());
    assert_eq!(status(&resumed)["history"].as_array().unwrap().len(), 1, "a request without changes does not upgrade");

    // A forced reconcile upgrades: a new release version, the old one superseded.
    request_reconcile(&releases, "gatus", json!({"reconcile.fluxcd.io/requestedAt": "t2", "reconcile.fluxcd.io/forceAt": "t2"})).await;
    let forced = wait_object(&releases, "gatus", "forced upgrade", |hr| status(hr)["lastHandledForceAt"] == "t2" && is_ready(hr)).await;
    assert_eq!(status(&forced)["lastHandledReconcileAt"], "t2");
    assert_eq!(status(&forced)["history"][0]["version"], 2);
    assert_eq!(status(&forced)["history"][1]["status"], "superseded");
    assert_eq!(ready(&forced).unwrap().1, "UpgradeSucceeded");

    // New values upgrade the Deployment the release installed.
    merge(&releases, "gatus", json!({"spec": {"values": {"replicaCount": 2}}})).await;
    let deployments: Api<Deployment> = Api::namespaced(client, "observability");
    wait_object(&deployments, "gatus", "2 replicas", |d| d.spec.as_ref().and_then(|s| s.replicas) == Some(2)).await;
    wait_object(&releases, "gatus", "upgraded", |hr| status(hr)["history"][0]["version"] == 3 && is_ready(hr)).await;
}

#[tokio::test]
async fn a_failed_release_waits_for_a_reset_and_deleting_uninstalls() {
    let sandbox = TestSandbox::start_seeded("flux-fail", "home-ops");
    let client = sandbox.client().await;
    let releases = helm_releases(client.clone(), "observability");
    let loki = wait_object(&releases, "loki", "failed", |hr| ready(hr).is_some_and(|r| r.0 == "False")).await;
    let (_, reason, message) = ready(&loki).unwrap();
    assert_eq!(reason, "InstallFailed");
    assert!(message.starts_with("Helm install failed for release observability/loki.v1 with chart loki@6.46.0: unable to build"), "{message}");
    assert_eq!(status(&loki)["installFailures"], 1);

    // Fixed, but a plain request does not retry an exhausted release...
    request_reconcile(&releases, "loki", json!({"sandbox.kdeck.dev/helm-fail": null, "reconcile.fluxcd.io/requestedAt": "r1"})).await;
    let handled = wait_object(&releases, "loki", "request handled", |hr| status(hr)["lastHandledReconcileAt"] == "r1").await;
    assert_eq!(ready(&handled).unwrap().1, "InstallFailed");
    // ...a reset does.
    request_reconcile(&releases, "loki", json!({"reconcile.fluxcd.io/requestedAt": "r2", "reconcile.fluxcd.io/resetAt": "r2"})).await;
    let reset = wait_object(&releases, "loki", "installed", is_ready).await;
    assert_eq!(status(&reset)["lastHandledResetAt"], "r2");
    assert_eq!(status(&reset)["installFailures"], Value::Null, "the reset clears the failure counts");

    // A spec Flux rejects gets Flux's condition, not a crash.
    let bad: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease", "metadata": {"name": "bad"}, "spec": {"interval": "10m"}
    }))
    .unwrap();
    releases.create(&PostParams::default(), &bad).await.unwrap();
    let bad = wait_object(&releases, "bad", "stalled", |hr| ready(hr).is_some()).await;
    assert_eq!(ready(&bad).unwrap(), ("False".into(), "InvalidChartReference".into(), "either chart or chartRef must be set".into()));

    // Deleting the release uninstalls its workload, then the release goes.
    let deployments: Api<Deployment> = Api::namespaced(client, "observability");
    assert!(deployments.get_opt("grafana").await.unwrap().is_some());
    releases.delete("grafana", &DeleteParams::default()).await.unwrap();
    for _ in 0..100 {
        if releases.get_opt("grafana").await.unwrap().is_none() && deployments.get_opt("grafana").await.unwrap().is_none() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the release and its Deployment should be gone");
}
