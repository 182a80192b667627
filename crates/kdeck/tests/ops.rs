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
    assert!(stderr(&out).contains("ExternalSecrets in namespace observability: gatus, grafana"), "existing ones are listed: {}", stderr(&out));
}

/// Runs `kdeck exec … -- COMMAND` with `input` on stdin; fails the test if it has
/// not ended within 30 s.
fn exec_with_input(sandbox: &TestSandbox, command: &[&str], input: &[u8]) -> std::process::Output {
    use std::io::Write;
    use std::os::unix::process::ExitStatusExt as _;
    let mut child = sandbox
        .kdeck()
        .args(["exec", "deploy/gatus", "-n", "observability", "--context", "exec", "--"])
        .args(command)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    // The command may exit without reading it all: a broken pipe here is expected.
    let feeder = std::thread::spawn(move || drop(stdin.write_all(&input)));
    let pid = child.id();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let watchdog = std::thread::spawn(move || {
        if done_rx.recv_timeout(std::time::Duration::from_secs(30)).is_err() {
            // SAFETY: signalling our own child by pid.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
    });
    let out = child.wait_with_output().unwrap();
    let _ = done_tx.send(());
    let _ = (feeder.join(), watchdog.join());
    assert!(out.status.signal().is_none(), "kdeck exec {command:?} hung with input on stdin");
    out
}

#[tokio::test]
async fn exec_ends_with_the_commands_status_whether_or_not_it_reads_its_input() {
    let sandbox = TestSandbox::start_seeded("exec", "home-ops");
    let client = sandbox.client().await;
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> = Api::namespaced(client.clone(), "observability");
    wait_object(&deployments, "gatus", "available", |d| d.status.as_ref().and_then(|s| s.available_replicas) == Some(1)).await;
    let input: Vec<u8> = (0..2_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();

    // A command that exits without reading 2 MB of input: its status, every time
    // (the client is still sending when the process is gone).
    for run in 0..25 {
        let out = exec_with_input(&sandbox, &["true"], &input);
        assert!(out.status.success(), "run {run}: {}", stderr(&out));
    }
    // One that reads a little and fails: its output and its code.
    let out = exec_with_input(&sandbox, &["sh", "-c", "head -c 10 >/dev/null; echo read; exit 3"], &input);
    assert_eq!((out.status.code(), stdout(&out).as_str()), (Some(3), "read\n"), "{}", stderr(&out));
    // One that reads it all and echoes it back: every byte, in order.
    let out = exec_with_input(&sandbox, &["cat"], &input);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout == input, "cat gave back {} of {} bytes, or not the same ones", out.stdout.len(), input.len());
}

#[tokio::test]
async fn exec_runs_in_the_chosen_pod_and_container_and_returns_its_exit_code() {
    let sandbox = TestSandbox::start_seeded("exec", "home-ops");
    let client = sandbox.client().await;
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> = Api::namespaced(client.clone(), "observability");
    wait_object(&deployments, "gatus", "available", |d| d.status.as_ref().and_then(|s| s.available_replicas) == Some(1)).await;

    // A workload's ready pod, named; the claim's files are there.
    let out = sandbox.run(&["exec", "deploy/gatus", "-n", "observability", "--context", "exec", "--", "ls", "/config"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "README\nconfig.yaml\ndata\n");
    assert!(stderr(&out).contains("deploy/gatus: using pod gatus-"), "{}", stderr(&out));

    // The remote exit code is kdeck's, with nothing of kdeck's own printed.
    let out = sandbox.run(&["exec", "deploy/gatus", "-n", "observability", "--context", "exec", "--", "sh", "-c", "echo out; echo err >&2; exit 7"]);
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(stdout(&out), "out\n");
    assert!(stderr(&out).contains("err") && !stderr(&out).contains("error:"), "{}", stderr(&out));

    // Piped stdin reaches the command; a selector picks the first ready pod.
    let mut child = sandbox
        .kdeck()
        .args(["exec", "-l", "app.kubernetes.io/name=echo-server", "--context", "exec", "--", "wc", "-l"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"a\nb\nc\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "3");

    // Containers: several without a choice lists them; -c picks; an unknown one lists them.
    let out = sandbox.run(&["exec", "deploy/paperless", "--context", "exec", "--", "true"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("app, redis, gotenberg"), "{}", stderr(&out));
    let out = sandbox.run(&["exec", "deploy/paperless", "-c", "redis", "--context", "exec", "--", "sh", "-c", "echo $HOSTNAME"]);
    assert!(out.status.success() && stdout(&out).starts_with("paperless-"), "{}", stderr(&out));
    let out = sandbox.run(&["exec", "deploy/paperless", "-c", "nope", "--context", "exec", "--", "true"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("its containers: app, redis, gotenberg"), "{}", stderr(&out));

    // What cannot be used says why.
    let out = sandbox.run(&["exec", "gpu-job-pending", "--context", "exec", "--", "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("is not running") && stderr(&out).contains("Pending"), "{}", stderr(&out));
    let out = sandbox.run(&["exec", "deploy/nope", "--context", "exec"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("Deployments in namespace default: echo-server, paperless"), "{}", stderr(&out));
    let out = sandbox.run(&["exec", "web;id", "--context", "exec"]);
    assert_eq!(out.status.code(), Some(2));
    let out = sandbox.run(&["exec", "cm/web", "--context", "exec"]);
    assert_eq!(out.status.code(), Some(2), "not a kind of target");
    let out = sandbox.run(&["exec", "svc/web", "--context", "exec"]);
    assert_eq!(out.status.code(), Some(3), "a Service target that does not exist");
    // -n and -A are global, as kubectl takes them; -A where one namespace is meant is refused.
    let out = sandbox.run(&["-n", "default", "exec", "deploy/echo-server", "--context", "exec", "--", "true"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = sandbox.run(&["exec", "-A", "deploy/echo-server", "--context", "exec", "--", "true"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("-A does not apply"), "{}", stderr(&out));
    let out = sandbox.run(&["-n", "default", "sandbox", "list"]);
    assert_eq!(out.status.code(), Some(2), "-n means nothing to sandbox list: {}", stderr(&out));
}

/// The sequence numbers of synthetic log lines (`path=/…/K`), in output order.
fn sequence(output: &str) -> Vec<u64> {
    output
        .lines()
        .filter_map(|l| l.split_whitespace().find_map(|w| w.strip_prefix("path=")).and_then(|p| p.rsplit('/').next()).and_then(|k| k.parse().ok()))
        .collect()
}

#[tokio::test]
async fn logs_merge_pods_and_filter_lines() {
    let sandbox = TestSandbox::start_seeded("logs", "home-ops");
    let client = sandbox.client().await;
    failed_pods_settled(&client).await;

    // Two pods of a workload, prefixed; json lines; a pattern; grep and exclude.
    let out = sandbox.run(&["logs", "deploy/echo-server", "--context", "logs", "--no-follow"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let prefixes: BTreeSet<String> = stdout(&out).lines().filter_map(|l| l.split_once(' ').map(|(p, _)| p.to_string())).collect();
    assert_eq!(prefixes.len(), 2, "one prefix per pod: {prefixes:?}");
    assert!(prefixes.iter().all(|p| p.starts_with("echo-server-") && p.ends_with("/app")));

    let out = sandbox.run(&["logs", "db-migrate-error", "--context", "logs", "--no-follow"]);
    assert!(stdout(&out).contains("migration 0042 failed"), "a single pod's log, unprefixed: {}", stdout(&out));
    assert!(!stdout(&out).contains("db-migrate-error/"), "{}", stdout(&out));
    let out = sandbox.run(&["logs", "^(db|thumb)", "--context", "logs", "--no-follow", "-o", "json", "--grep", "failed|Starting", "--exclude", "thumbnailer"]);
    let lines: Vec<Value> = stdout(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(!lines.is_empty());
    assert!(lines.iter().all(|l| l["pod"] == "db-migrate-error" && l["container"] == "migrate" && l["time"].is_string()), "{lines:?}");
    assert!(lines.iter().any(|l| l["message"].as_str().unwrap().contains("migration 0042 failed")));

    // Every container of the multi-container pod.
    let out = sandbox.run(&["logs", "deploy/paperless", "--all-containers", "--context", "logs", "--no-follow"]);
    for container in ["/app ", "/redis ", "/gotenberg "] {
        assert!(stdout(&out).contains(container), "{container} in {}", stdout(&out));
    }

    // Bad input.
    let out = sandbox.run(&["logs", "nothing-like-this", "--context", "logs", "--no-follow"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let out = sandbox.run(&["logs", "(", "--context", "logs", "--no-follow"]);
    assert_eq!(out.status.code(), Some(2));
    let out = sandbox.run(&["logs", "deploy/echo-server", "--since", "an hour", "--context", "logs"]);
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test]
async fn following_logs_survives_cut_streams_and_picks_up_new_pods() {
    let sandbox = TestSandbox::new("follow");
    let out = sandbox.run(&["sandbox", "start", "--detach", "--name", "follow", "--faults", "seed=5,watch-cut=1:700ms,only=pods"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let client = sandbox.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let chatty = |name: &str| -> Pod {
        serde_json::from_value(json!({"metadata": {"name": name, "labels": {"app": "chatty"}, "annotations": {"sandbox.kdeck.dev/log-rate": "20"}},
            "spec": {"containers": [{"name": "app", "image": "busybox"}]}}))
        .unwrap()
    };
    pods.create(&Default::default(), &chatty("chatty-1")).await.unwrap();
    wait_object(&pods, "chatty-1", "Running", |p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")).await;

    let child = sandbox
        .kdeck()
        .args(["logs", "-l", "app=chatty", "--context", "follow", "--tail", "0", "--prefix"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    pods.create(&Default::default(), &chatty("chatty-2")).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    let text = stdout(&out);
    for pod in ["chatty-1", "chatty-2"] {
        let lines: String = text.lines().filter(|l| l.starts_with(&format!("{pod}/app "))).map(|l| format!("{l}\n")).collect();
        let seq = sequence(&lines);
        assert!(seq.len() >= 20, "{pod}: {} lines (streams are cut every 0.7 s and resumed):\n{text}", seq.len());
        for pair in seq.windows(2) {
            assert_eq!(pair[1], pair[0] + 1, "{pod}: no line repeated or lost across reconnects: {seq:?}");
        }
    }
}

/// The browse pods in a namespace.
async fn browse_pods(client: &kube::Client, ns: &str) -> Vec<String> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    pods.list(&ListParams::default().labels("kdeck.dev/purpose=browse-pvc")).await.unwrap().items.into_iter().filter_map(|p| p.metadata.name).collect()
}

/// Waits until a browse pod runs in `ns` (the command under test started it).
async fn browse_pod_running(client: &kube::Client, ns: &str) -> String {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    for _ in 0..300 {
        let list = pods.list(&ListParams::default().labels("kdeck.dev/purpose=browse-pvc")).await.unwrap().items;
        if let Some(pod) = list.iter().find(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")) {
            return pod.metadata.name.clone().unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no browse pod started in {ns}");
}

#[tokio::test]
async fn browse_pvc_mounts_the_claim_and_removes_its_pod_on_every_way_out() {
    let sandbox = TestSandbox::start_seeded("browse", "home-ops");
    let client = sandbox.client().await;
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> = Api::namespaced(client.clone(), "observability");
    wait_object(&deployments, "gatus", "available", |d| d.status.as_ref().and_then(|s| s.available_replicas) == Some(1)).await;
    let browse = |extra: &[&str]| {
        let mut args = vec!["browse-pvc", "gatus-data", "-n", "observability", "--context", "browse"];
        args.extend_from_slice(extra);
        sandbox.run(&args)
    };

    // A command: its output and exit code; read-only unless --rw; pinned to the user's node.
    let out = browse(&["--", "ls", "/data"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "README\nconfig.yaml\ndata\n");
    assert!(stderr(&out).contains("ReadWriteOnce and mounted by pod gatus-") && stderr(&out).contains("on node browse-control-plane"), "{}", stderr(&out));
    let out = browse(&["--", "sh", "-c", "echo x > /data/new"]);
    assert!(!out.status.success() && stderr(&out).contains("Read-only file system"), "the claim is read-only: {}", stderr(&out));
    let out = browse(&["--rw", "--", "sh", "-c", "echo written > /data/new; exit 3"]);
    assert_eq!(out.status.code(), Some(3));
    let out = browse(&["--", "cat", "/data/new"]);
    assert_eq!(stdout(&out), "written\n");
    assert!(browse_pods(&client, "observability").await.is_empty(), "each run removed its pod");

    // Signals: SIGINT and SIGTERM end the session and remove the pod.
    for (signal, code) in [(libc::SIGINT, 130), (libc::SIGTERM, 143), (libc::SIGHUP, 129)] {
        let child = sandbox
            .kdeck()
            .args(["browse-pvc", "gatus-data", "-n", "observability", "--context", "browse", "--", "sleep", "30"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pod = browse_pod_running(&client, "observability").await;
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(child.id() as i32, signal) };
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(code), "signal {signal}: {}", stderr(&out));
        assert!(!browse_pods(&client, "observability").await.contains(&pod), "signal {signal}: pod {pod} is removed");
    }

    // The timeout ends the session (exit 4) and removes the pod; so does a failed start.
    let out = browse(&["--timeout", "2s", "--", "sleep", "30"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let out = browse(&["--image", "registry.invalid/busybox:1", "--", "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("did not start: ErrImagePull"), "{}", stderr(&out));
    assert!(browse_pods(&client, "observability").await.is_empty());

    // A killed kdeck leaves its pod: --cleanup removes it; an expired one is swept by the next run.
    let mut child = sandbox
        .kdeck()
        .args(["browse-pvc", "gatus-data", "-n", "observability", "--context", "browse", "--timeout", "3s", "--", "sleep", "30"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Long enough to see it running on a loaded machine, short enough to expire soon.
    let left = browse_pod_running(&client, "observability").await;
    child.kill().unwrap();
    let _ = child.wait();
    assert_eq!(browse_pods(&client, "observability").await, std::slice::from_ref(&left));
    tokio::time::sleep(std::time::Duration::from_millis(3200)).await;
    let out = browse(&["--", "true"]);
    assert!(stderr(&out).contains(&format!("removed expired browse pod observability/{left}")), "{}", stderr(&out));
    let mut child = sandbox
        .kdeck()
        .args(["browse-pvc", "gatus-data", "-n", "observability", "--context", "browse", "--", "sleep", "30"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let left = browse_pod_running(&client, "observability").await;
    child.kill().unwrap();
    let _ = child.wait();
    let out = sandbox.run(&["browse-pvc", "--cleanup", "-A", "--context", "browse"]);
    assert!(out.status.success() && stdout(&out).contains(&left), "{}", stderr(&out));
    assert!(browse_pods(&client, "observability").await.is_empty());

    // A ReadWriteOncePod claim in use is refused, naming the pod; nothing is created.
    let claims: Api<k8s_openapi::api::core::v1::PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    claims
        .create(
            &Default::default(),
            &serde_json::from_value(
                json!({"metadata": {"name": "solo"}, "spec": {"accessModes": ["ReadWriteOncePod"], "resources": {"requests": {"storage": "1Gi"}}}}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(
        &Default::default(),
        &serde_json::from_value(json!({"metadata": {"name": "solo-user"}, "spec": {"containers": [{"name": "app", "image": "busybox"}],
        "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "solo"}}]}}))
        .unwrap(),
    )
    .await
    .unwrap();
    let out = sandbox.run(&["browse-pvc", "solo", "--context", "browse", "--", "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("ReadWriteOncePod and pod solo-user uses it"), "{}", stderr(&out));
    assert!(browse_pods(&client, "default").await.is_empty());
    let out = sandbox.run(&["browse-pvc", "nope", "-n", "observability", "--context", "browse"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("PersistentVolumeClaims in namespace observability: gatus-data"), "{}", stderr(&out));
}

#[test]
fn init_taskfile_completions_and_man_page() {
    let sandbox = TestSandbox::new("none");
    let project = sandbox.dir.path().join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("Taskfile.yml"), "version: '3'\n# keep me\nincludes:\n  docs: ./docs\n").unwrap();
    let out = sandbox.run(&["init", "taskfile", "--dir", project.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let generated = std::fs::read_to_string(project.join(".taskfiles/kubernetes/Taskfile.yaml")).unwrap();
    assert!(generated.starts_with("# yaml-language-server: $schema=") && generated.contains("CLUSTER: '{{.CLUSTER | default \"infra\"}}'"));
    assert_eq!(
        std::fs::read_to_string(project.join("Taskfile.yml")).unwrap(),
        "version: '3'\n# keep me\nincludes:\n  k8s: ./.taskfiles/kubernetes\n  docs: ./docs\n"
    );
    // Edited by hand: kept unless --force.
    std::fs::write(project.join(".taskfiles/kubernetes/Taskfile.yaml"), "version: '3'\n").unwrap();
    let out = sandbox.run(&["init", "taskfile", "--dir", project.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(project.join(".taskfiles/kubernetes/Taskfile.yaml")).unwrap(), "version: '3'\n", "nothing lost");
    let out = sandbox.run(&["init", "taskfile", "--dir", project.to_str().unwrap(), "--force"]);
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(project.join(".taskfiles/kubernetes/Taskfile.yaml")).unwrap(), generated);
    // An inline includes map is not edited; the include to add is printed.
    let inline = sandbox.dir.path().join("inline");
    std::fs::create_dir_all(&inline).unwrap();
    std::fs::write(inline.join("Taskfile.yaml"), "version: '3'\nincludes: {docs: ./docs}\n").unwrap();
    let out = sandbox.run(&["init", "taskfile", "--dir", inline.to_str().unwrap()]);
    assert!(out.status.success() && stdout(&out).contains("k8s: ./.taskfiles/kubernetes"), "{}", stdout(&out));
    assert_eq!(std::fs::read_to_string(inline.join("Taskfile.yaml")).unwrap(), "version: '3'\nincludes: {docs: ./docs}\n");

    for shell in ["bash", "zsh", "fish"] {
        let out = sandbox.run(&["completions", shell]);
        assert!(out.status.success() && stdout(&out).contains("COMPLETE=") && stdout(&out).contains("kdeck"), "{shell}: {}", stdout(&out));
    }
    let out = sandbox.run(&["man"]);
    assert!(stdout(&out).contains(".TH kdeck") && stdout(&out).contains(".TH kdeck-sync-secrets"), "one page per command");

    // Installed as kubectl-deck, the help speaks of `kubectl deck`.
    let plugin = sandbox.dir.path().join("kubectl-deck");
    std::os::unix::fs::symlink(common::BIN, &plugin).unwrap();
    let out = std::process::Command::new(&plugin).arg("--help").output().unwrap();
    assert!(stdout(&out).contains("Usage: kubectl deck"), "{}", stdout(&out));
}

#[tokio::test]
async fn a_project_file_sets_the_default_context_of_operations() {
    let sandbox = TestSandbox::start("projctx");
    let project = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join("kdeck.yaml"), "defaults:\n  kubernetes:\n    context: ${env:PROJECT_CONTEXT}\n").unwrap();
    let sub = project.path().join("src");
    std::fs::create_dir(&sub).unwrap();
    let run = |context: &str, args: &[&str]| {
        sandbox.kdeck().current_dir(&sub).env_remove("KDECK_CONTEXT").env("PROJECT_CONTEXT", context).args(args).output().unwrap()
    };

    // From a subdirectory, the project's context is used…
    let out = run("elsewhere", &["cleanse-pods", "-A", "--dry-run"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("context \"elsewhere\" is not in the kubeconfig"), "{}", stderr(&out));
    let out = run("projctx", &["cleanse-pods", "-A", "--dry-run"]);
    assert!(out.status.success() && stderr(&out).contains("on context projctx"), "{}", stderr(&out));
    // …and --context still wins.
    let out = run("elsewhere", &["cleanse-pods", "-A", "--dry-run", "--context", "projctx"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // A broken project file stops the command rather than pick another cluster.
    std::fs::write(project.path().join("kdeck.yaml"), "defaults: [").unwrap();
    let out = run("projctx", &["cleanse-pods", "-A", "--dry-run"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("kdeck.yaml"), "{}", stderr(&out));
}

/// What the shell would offer for the last of `words` (`kdeck …`), asking as bash does.
fn complete(sandbox: &TestSandbox, words: &[&str], env: &[(&str, &str)]) -> Vec<String> {
    let mut cmd = sandbox.kdeck();
    cmd.env("COMPLETE", "bash")
        .env("_CLAP_IFS", "\n")
        .env("_CLAP_COMPLETE_INDEX", (words.len() - 1).to_string())
        .env("_CLAP_COMPLETE_COMP_TYPE", "9")
        .env("_CLAP_COMPLETE_SPACE", "true")
        .arg("--")
        .args(words);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let started = std::time::Instant::now();
    let out = cmd.output().unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "completion took {:?}", started.elapsed());
    stdout(&out).lines().map(str::to_string).filter(|l| !l.is_empty()).collect()
}

#[test]
fn completion_offers_contexts_namespaces_and_names_from_the_cluster() {
    let sandbox = TestSandbox::start_seeded("compl", "home-ops");
    assert!(complete(&sandbox, &["kdeck", "--context", ""], &[]).iter().any(|c| c == "compl"), "contexts");
    assert!(complete(&sandbox, &["kdeck", "logs", "-n", "obs"], &[("KDECK_CONTEXT", "compl")]).contains(&"observability".to_string()));
    let releases = complete(&sandbox, &["kdeck", "--context", "compl", "hr-restart", "-n", "observability", "gat"], &[]);
    assert_eq!(releases, ["gatus"], "HelmReleases of the namespace the words name, filtered by the word");
    assert!(complete(&sandbox, &["kdeck", "hr-restart", "gat"], &[("KDECK_CONTEXT", "compl")]).is_empty(), "none in default");
    let secrets = complete(&sandbox, &["kdeck", "--context", "compl", "sync-secrets", "-n", "observability", "gra"], &[]);
    assert_eq!(secrets, ["grafana"], "ExternalSecrets");
    let claims = complete(&sandbox, &["kdeck", "--context", "compl", "browse-pvc", "-n", "observability", "gat"], &[]);
    assert_eq!(claims, ["gatus-data"], "claims");
    let pods = complete(&sandbox, &["kdeck", "--context", "compl", "exec", "-n", "default", "echo"], &[]);
    assert!(!pods.is_empty() && pods.iter().all(|p| p.starts_with("echo-server")), "pods: {pods:?}");
    let targets = complete(&sandbox, &["kdeck", "logs", "-n", "observability", "deploy/"], &[("KDECK_CONTEXT", "compl")]);
    assert!(targets.iter().any(|t| t.starts_with("deploy/")), "{targets:?}");
    let subcommands = complete(&sandbox, &["kdeck", "cleanse"], &[]);
    assert_eq!(subcommands, ["cleanse-pods"]);
    // A cluster that does not answer completes nothing, quickly.
    sandbox.stop();
    let offered = complete(&sandbox, &["kdeck", "hr-restart", "-n", "observability", ""], &[("KDECK_CONTEXT", "compl")]);
    assert!(offered.iter().all(|c| c.starts_with('-')), "only the flags: {offered:?}");
}
