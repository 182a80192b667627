//! Cluster operations end to end: the kdeck binary against a sandbox seeded with
//! `home-ops`, checking the cluster's state afterwards.

mod common;

use std::collections::BTreeSet;

use common::{TestSandbox, wait_object};
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::GroupVersionKind;
use serde_json::{Value, json};

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn custom(client: kube::Client, ns: &str, group: &str, version: &str, kind: &str, plural: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client, ns, &ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural))
}

fn ready_reason(obj: &DynamicObject) -> String {
    obj.data["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
        .and_then(|c| c["reason"].as_str())
        .unwrap_or_default()
        .to_string()
}

async fn pod_names(pods: &Api<Pod>) -> BTreeSet<String> {
    pods.list(&ListParams::default()).await.unwrap().items.into_iter().filter_map(|p| p.metadata.name).collect()
}

/// Waits until the home-ops pods that fail have failed.
async fn failed_pods_settled(client: &kube::Client) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let phase = |p: &Pod| p.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default();
    for name in ["immich-ml-6d5f9c7b8d-evict", "db-migrate-error", "thumbnailer-oom"] {
        wait_object(&pods, name, "Failed", |p| phase(p) == "Failed").await;
    }
    wait_object(&pods, "backup-completed", "Succeeded", |p| phase(p) == "Succeeded").await;
}

#[tokio::test]
async fn cleanse_pods_deletes_failed_pods_and_nothing_else() {
    let sandbox = TestSandbox::start_seeded("cleanse", "home-ops");
    let client = sandbox.client().await;
    failed_pods_settled(&client).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let before = pod_names(&pods).await;

    // The dry run names each pod with its reason and changes nothing.
    let out = sandbox.run(&["cleanse-pods", "--context", "cleanse", "-n", "default", "--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let plan = stdout(&out);
    for (pod, reason) in [("db-migrate-error", "Error"), ("immich-ml-6d5f9c7b8d-evict", "Evicted"), ("thumbnailer-oom", "OOMKilled")] {
        assert!(plan.lines().any(|l| l.contains(pod) && l.ends_with(reason)), "{pod} {reason} in:\n{plan}");
    }
    assert!(!plan.contains("backup-completed") && !plan.contains("flaky-sync"), "completed pods and a running Job's pods are not planned:\n{plan}");
    assert_eq!(pod_names(&pods).await, before, "a dry run deletes nothing");

    // JSON plan, then the real thing in one namespace (no confirmation needed there).
    let out = sandbox.run(&["cleanse-pods", "--context", "cleanse", "-n", "default", "--dry-run", "-o", "json"]);
    let json: Value = serde_json::from_slice(&out.stdout).expect("json plan");
    assert_eq!(json["dryRun"], true);
    assert_eq!(json["plan"]["items"].as_array().unwrap().len(), 3);
    let out = sandbox.run(&["cleanse-pods", "--context", "cleanse", "-n", "default", "-o", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).expect("json report");
    assert_eq!(report["result"]["deleted"], json!({"Error": 1, "Evicted": 1, "OOMKilled": 1}));
    let after = pod_names(&pods).await;
    for gone in ["db-migrate-error", "immich-ml-6d5f9c7b8d-evict", "thumbnailer-oom"] {
        assert!(!after.contains(gone), "{gone} is deleted");
    }
    for kept in ["backup-completed", "gpu-job-pending"] {
        assert!(after.contains(kept), "{kept} is kept");
    }
    assert!(after.iter().filter(|p| p.starts_with("echo-server-")).count() == 2, "Running pods are kept: {after:?}");
    assert!(after.iter().any(|p| p.starts_with("flaky-sync-")), "the running Job's failed pod is kept");
    let observability: Api<Pod> = Api::namespaced(client.clone(), "observability");
    assert!(pod_names(&observability).await.contains("grafana-image-renderer-evict"), "other namespaces are untouched");

    // Cluster-wide needs --yes without a terminal; then completed pods only when asked.
    let out = sandbox.kdeck().args(["cleanse-pods", "--context", "cleanse", "-A"]).stdin(std::process::Stdio::null()).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("refusing without --yes"));
    assert!(pod_names(&observability).await.contains("grafana-image-renderer-evict"), "nothing deleted without --yes");
    let out = sandbox.run(&["cleanse-pods", "--context", "cleanse", "-A", "--yes", "--include-completed"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("1 Completed") && stderr(&out).contains("1 Evicted"), "{}", stderr(&out));
    assert!(!pod_names(&pods).await.contains("backup-completed"));
    assert!(!pod_names(&observability).await.contains("grafana-image-renderer-evict"));
    assert!(pod_names(&pods).await.contains("gpu-job-pending"));

    // Nothing left: success, and --older-than and -l are checked before any request.
    let out = sandbox.run(&["cleanse-pods", "--context", "cleanse", "-n", "default"]);
    assert!(out.status.success() && stderr(&out).contains("no finished, failed pods"), "{}", stderr(&out));
    let out = sandbox.run(&["cleanse-pods", "--context", "cleanse", "--older-than", "soon"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("invalid --older-than"), "{}", stderr(&out));
    let out = sandbox.run(&["cleanse-pods", "--context", "cleanse", "-l", "app in (", "--dry-run"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("invalid label selector"), "{}", stderr(&out));
}

#[tokio::test]
async fn hr_restart_reconciles_and_reports_failures() {
    let sandbox = TestSandbox::start_seeded("hr", "home-ops");
    let client = sandbox.client().await;
    let releases = custom(client.clone(), "observability", "helm.toolkit.fluxcd.io", "v2", "HelmRelease", "helmreleases");
    wait_object(&releases, "gatus", "Ready", |hr| ready_reason(hr) == "InstallSucceeded").await;

    // Found across namespaces; suspended then resumed; the request handled.
    let out = sandbox.run(&["hr-restart", "gatus", "--context", "hr", "-o", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["result"]["ready"], "True");
    let gatus = releases.get("gatus").await.unwrap();
    let token = gatus.data["status"]["lastHandledReconcileAt"].as_str().expect("the request was handled").to_string();
    assert_eq!(gatus.metadata.annotations.as_ref().unwrap()["reconcile.fluxcd.io/requestedAt"], token);
    assert_eq!(gatus.data["spec"]["suspend"], false, "resumed");
    assert_eq!(result["result"]["lastHandledReconcileAt"], token.as_str());

    // --force upgrades: a new release version.
    let out = sandbox.run(&["hr-restart", "gatus", "-n", "observability", "--context", "hr", "--force"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let gatus = releases.get("gatus").await.unwrap();
    assert_eq!(gatus.data["status"]["history"][0]["version"], 2);
    assert_eq!(gatus.data["status"]["lastHandledForceAt"], gatus.data["status"]["lastHandledReconcileAt"]);

    // A dry run changes nothing.
    let before = releases.get("grafana").await.unwrap();
    let out = sandbox.run(&["hr-restart", "grafana", "--context", "hr", "--dry-run"]);
    assert!(out.status.success() && stdout(&out).contains("suspend"), "{}", stdout(&out));
    assert_eq!(releases.get("grafana").await.unwrap().metadata.resource_version, before.metadata.resource_version);

    // A failing release: exit 1 with Flux's message and the --reset hint; --reset after a fix works.
    let out = sandbox.run(&["hr-restart", "loki", "--context", "hr", "--timeout", "20s"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("InstallFailed") && stderr(&out).contains("--reset"), "{}", stderr(&out));
    releases.patch("loki", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"annotations": {"sandbox.kdeck.dev/helm-fail": null}}}))).await.unwrap();
    let out = sandbox.run(&["hr-restart", "loki", "--context", "hr", "--reset"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(ready_reason(&releases.get("loki").await.unwrap()), "InstallSucceeded");

    // Suspended before: left suspended unless --resume.
    releases.patch("grafana", &PatchParams::default(), &Patch::Merge(json!({"spec": {"suspend": true}}))).await.unwrap();
    let out = sandbox.run(&["hr-restart", "grafana", "--context", "hr"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("stays suspended"), "{}", stderr(&out));
    assert_eq!(releases.get("grafana").await.unwrap().data["spec"]["suspend"], true);
    let out = sandbox.run(&["hr-restart", "grafana", "--context", "hr", "--resume"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(releases.get("grafana").await.unwrap().data["spec"]["suspend"], false);

    // Bad input: unknown release (candidates listed), bad name, unknown context.
    let out = sandbox.run(&["hr-restart", "gatsu", "--context", "hr"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("observability/gatus"), "{}", stderr(&out));
    let out = sandbox.run(&["hr-restart", "gatus;reboot", "--context", "hr"]);
    assert_eq!(out.status.code(), Some(2));
    let out = sandbox.run(&["hr-restart", "gatus", "--context", "nope"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("contexts in the kubeconfig: hr, hr-readonly"), "{}", stderr(&out));
}

#[tokio::test]
async fn ops_on_a_cluster_without_the_crds_say_what_is_missing() {
    let sandbox = TestSandbox::start("bare");
    let out = sandbox.run(&["hr-restart", "gatus", "--context", "bare"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("does not serve HelmRelease") && stderr(&out).contains("Flux"), "{}", stderr(&out));
    let out = sandbox.run(&["sync-secrets", "--context", "bare", "-A", "--no-wait"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("External Secrets Operator"), "{}", stderr(&out));
}

#[tokio::test]
async fn sync_secrets_re_syncs_and_reports_each_secret() {
    let sandbox = TestSandbox::start_seeded("eso", "home-ops");
    let client = sandbox.client().await;
    let externalsecrets = |ns: &str| custom(client.clone(), ns, "external-secrets.io", "v1", "ExternalSecret", "externalsecrets");
    let grafana = wait_object(&externalsecrets("observability"), "grafana", "synced", |es| ready_reason(es) == "SecretSynced").await;
    wait_object(&externalsecrets("storage"), "volsync-restic", "failing", |es| ready_reason(es) == "SecretSyncedError").await;

    // One by name, waited for: the annotation set, the status moved.
    let out = sandbox.run(&["sync-secrets", "grafana", "-n", "observability", "--context", "eso", "--wait"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).lines().any(|l| l.contains("grafana") && l.contains("Synced")), "{}", stdout(&out));
    let after = externalsecrets("observability").get("grafana").await.unwrap();
    assert!(after.metadata.annotations.as_ref().unwrap().contains_key("force-sync"));
    assert_ne!(after.data["status"]["syncedResourceVersion"], grafana.data["status"]["syncedResourceVersion"]);

    // A changed value in the store reaches the Secret on sync.
    let stores = Api::<DynamicObject>::all_with(
        client.clone(),
        &ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("external-secrets.io", "v1", "ClusterSecretStore"), "clustersecretstores"),
    );
    let mut store = stores.get("onepassword").await.unwrap();
    for entry in store.data["spec"]["provider"]["fake"]["data"].as_array_mut().unwrap() {
        if entry["key"] == "grafana" {
            entry["value"] = json!(r#"{"GF_SECURITY_ADMIN_PASSWORD":"rotated"}"#);
        }
    }
    stores.replace("onepassword", &Default::default(), &store).await.unwrap();
    let out = sandbox.run(&["sync-secrets", "grafana", "-n", "observability", "--context", "eso", "--wait"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let secret = Api::<Secret>::namespaced(client.clone(), "observability").get("grafana-admin").await.unwrap();
    assert_eq!(secret.data.unwrap()["admin-password"].0, b"rotated");
    assert!(!stdout(&out).contains("rotated") && !stderr(&out).contains("rotated"), "secret values never appear in output");

    // Cluster-wide: the broken one fails with the controller's message (exit 1), the
    // CreatedOnce one is warned about, the others sync.
    let out = sandbox.run(&["sync-secrets", "-A", "--context", "eso", "--wait", "-o", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let result = |name: &str| report["results"].as_array().unwrap().iter().find(|r| r["name"] == name).cloned().unwrap();
    assert_eq!(result("volsync-restic")["result"], "Failed");
    assert!(result("volsync-restic")["message"].as_str().unwrap().contains("volsync-restic-template"));
    assert!(result("minio")["warning"].as_str().unwrap().contains("CreatedOnce"));
    for synced in ["gatus", "grafana", "cloudflare-tunnel"] {
        assert_eq!(result(synced)["result"], "Synced", "{synced}");
    }

    // By selector, without waiting; a selector that matches nothing is exit 3.
    let es = externalsecrets("default");
    es.patch("cloudflare-tunnel", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"team": "net"}}}))).await.unwrap();
    let before = es.get("cloudflare-tunnel").await.unwrap().metadata.annotations.unwrap()["force-sync"].clone();
    let out = sandbox.run(&["sync-secrets", "-A", "-l", "team=net", "--context", "eso", "--no-wait"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let annotated = es.get("cloudflare-tunnel").await.unwrap().metadata.annotations.unwrap()["force-sync"].clone();
    assert!(annotated.parse::<i64>().unwrap() > before.parse::<i64>().unwrap(), "the annotation always moves forward");
    let out = sandbox.run(&["sync-secrets", "-A", "-l", "team=nobody", "--context", "eso", "--no-wait"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let out = sandbox.run(&["sync-secrets", "nope", "-n", "observability", "--context", "eso"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("gatus, grafana"), "existing ones are listed: {}", stderr(&out));
}
