//! `kdeck sandbox` lifecycle, end to end: start, status, list, stop, restart with
//! state kept, several sandboxes at once, kubeconfig entries, delete, bad input.

mod common;

use std::fs;

use common::{TestSandbox, api_error};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams};
use serde_json::{Value, json};

fn configmap(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": {"keep": "yes"}}, "data": {"k": name}})).unwrap()
}

#[tokio::test]
async fn objects_survive_stop_and_start_with_same_uid_and_version_order() {
    let sandbox = TestSandbox::start("persist");
    let api: Api<ConfigMap> = Api::namespaced(sandbox.client().await, "default");
    let first = api.create(&PostParams::default(), &configmap("first")).await.unwrap();
    let second = api.create(&PostParams::default(), &configmap("second")).await.unwrap();

    sandbox.stop();
    let status: Value = serde_json::from_slice(&sandbox.run(&["sandbox", "status", "--name", "persist", "-o", "json"]).stdout).unwrap();
    assert_eq!(status["running"], false);
    sandbox.start_again();

    let api: Api<ConfigMap> = Api::namespaced(sandbox.client().await, "default");
    let list = api.list(&ListParams::default().labels("keep=yes")).await.unwrap();
    let names: Vec<_> = list.items.iter().map(|c| c.metadata.name.clone().unwrap()).collect();
    assert_eq!(names, ["first", "second"]);
    let again = api.get("first").await.unwrap();
    assert_eq!(again.metadata.uid, first.metadata.uid);
    assert_eq!(again.metadata.resource_version, first.metadata.resource_version);
    let rv = |c: &ConfigMap| c.metadata.resource_version.clone().unwrap().parse::<u64>().unwrap();
    assert!(rv(&api.get("second").await.unwrap()) == rv(&second) && rv(&second) > rv(&first));
    // New writes continue after the versions that were kept.
    let third = api.create(&PostParams::default(), &configmap("third")).await.unwrap();
    assert!(rv(&third) > rv(&second));
}

#[tokio::test]
async fn status_and_list_report_a_running_sandbox() {
    let sandbox = TestSandbox::start("shown");
    let out = sandbox.run(&["sandbox", "status", "--name", "shown", "-o", "json"]);
    assert!(out.status.success());
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["running"], true);
    assert!(status["kubernetesVersion"].as_str().unwrap().starts_with("v1.35."));
    assert!(status["namespaces"].as_array().unwrap().contains(&json!("kube-system")));
    assert_eq!(status["nodes"], json!(["shown-control-plane"]));
    assert!(status["server"].as_str().unwrap().starts_with("https://127.0.0.1:"));

    let list: Value = serde_json::from_slice(&sandbox.run(&["sandbox", "list", "-o", "json"]).stdout).unwrap();
    assert_eq!(list[0]["name"], "shown");
    assert_eq!(list[0]["running"], true);
    let text = String::from_utf8(sandbox.run(&["sandbox", "list"]).stdout).unwrap();
    assert!(text.starts_with("NAME") && text.contains("shown") && text.contains("running"), "{text}");
}

#[tokio::test]
async fn two_sandboxes_run_side_by_side_with_their_own_objects() {
    let infra = TestSandbox::start("infra");
    let apps = infra.sibling("apps");
    apps.start();
    let infra_api: Api<ConfigMap> = Api::namespaced(infra.client().await, "default");
    let apps_api: Api<ConfigMap> = Api::namespaced(apps.client().await, "default");
    infra_api.create(&PostParams::default(), &configmap("only-infra")).await.unwrap();
    assert_eq!(api_error(apps_api.get("only-infra").await).0, 404);
    assert!(infra_api.get("only-infra").await.is_ok());

    let config: Value = serde_saphyr::from_str(&fs::read_to_string(infra.kubeconfig()).unwrap()).unwrap();
    let contexts: Vec<&str> = config["contexts"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(contexts, ["infra", "infra-readonly", "apps", "apps-readonly"]);
    // The first sandbox became current; the second did not take over.
    assert_eq!(config["current-context"], "infra");
}

#[tokio::test]
async fn kubeconfig_is_private_and_keeps_what_was_there() {
    let sandbox = TestSandbox::new("kc");
    let existing = "apiVersion: v1\nkind: Config\ncurrent-context: prod\nclusters:\n- name: prod\n  cluster: {server: 'https://prod.example:6443'}\nusers:\n- name: prod\n  user: {token: abc}\ncontexts:\n- name: prod\n  context: {cluster: prod, user: prod}\n";
    fs::write(sandbox.kubeconfig(), existing).unwrap();
    sandbox.start_again();
    let text = fs::read_to_string(sandbox.kubeconfig()).unwrap();
    let config: Value = serde_saphyr::from_str(&text).unwrap();
    assert_eq!(config["current-context"], "prod", "an existing current-context is never changed");
    assert_eq!(config["clusters"][0]["cluster"]["server"], "https://prod.example:6443");
    assert_eq!(config["contexts"].as_array().unwrap().len(), 3);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(fs::metadata(sandbox.kubeconfig()).unwrap().permissions().mode() & 0o777, 0o600);
    }
}

#[tokio::test]
async fn delete_removes_data_and_kubeconfig_entries_but_nothing_else() {
    let sandbox = TestSandbox::new("gone");
    let data = sandbox.dir.path().join("data");
    fs::create_dir_all(&data).unwrap();
    fs::write(data.join("notes.txt"), "mine").unwrap();
    let out = sandbox.run(&["sandbox", "start", "--detach", "--name", "gone", "--data-dir", data.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(data.join("tokens.json").exists());
    // What pods left behind: a claim's files, a command's captured output.
    fs::create_dir_all(data.join("volumes/pvc/app/data")).unwrap();
    fs::write(data.join("volumes/pvc/app/data/db.sqlite"), "rows").unwrap();
    fs::create_dir_all(data.join("logs/uid/c")).unwrap();
    fs::write(data.join("logs/uid/c/0.log"), "out").unwrap();

    let out = sandbox.run(&["sandbox", "delete", "--name", "gone"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for file in ["tokens.json", "ca.crt", "ca.key", "sa.key"] {
        assert!(!data.join(file).exists(), "{file} goes with the sandbox");
    }
    assert!(!data.join("volumes").exists() && !data.join("logs").exists(), "volumes and logs go with the sandbox");
    assert_eq!(fs::read_to_string(data.join("notes.txt")).unwrap(), "mine", "files kdeck did not write are kept");
    let config: Value = serde_saphyr::from_str(&fs::read_to_string(sandbox.kubeconfig()).unwrap()).unwrap();
    assert!(config["contexts"].as_array().unwrap().is_empty());
    assert_eq!(config["current-context"], "");
    let out = sandbox.run(&["sandbox", "status", "--name", "gone"]);
    assert_eq!(out.status.code(), Some(3), "a missing sandbox exits with the not-found code");
}

#[tokio::test]
async fn bad_input_gets_a_clear_message_and_nonzero_exit() {
    let sandbox = TestSandbox::new("bad");
    let out = sandbox.run(&["sandbox", "start", "--detach", "--name", "Bad_Name"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid sandbox name"));

    let out = sandbox.run(&["sandbox", "start", "--detach", "--name", "bad", "--seed", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("known scenarios"));

    let out = sandbox.run(&["sandbox", "stop", "--name", "never-started"]);
    assert_eq!(out.status.code(), Some(3));
}

#[tokio::test]
async fn a_corrupt_state_file_is_reported_and_left_untouched() {
    let sandbox = TestSandbox::new("corrupt");
    let data = sandbox.dir.path().join("data");
    fs::create_dir_all(&data).unwrap();
    let garbage = "{\"kdeckSandboxState\":1,\"resourceVersion\":5}\nthis is not json\n";
    fs::write(data.join("state.jsonl"), garbage).unwrap();
    let out = sandbox.run(&["sandbox", "start", "--detach", "--name", "corrupt", "--data-dir", data.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("corrupt at line 2"), "{stderr}");
    assert_eq!(fs::read_to_string(data.join("state.jsonl")).unwrap(), garbage);
}

#[tokio::test]
async fn a_second_start_of_a_running_sandbox_is_refused() {
    let sandbox = TestSandbox::start("once");
    let out = sandbox.run(&["sandbox", "start", "--detach", "--name", "once"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already running"));
}

#[tokio::test]
async fn a_scenario_loads_into_a_running_sandbox() {
    let sandbox = TestSandbox::start("seeded-later");
    let out = sandbox.run(&["sandbox", "seed", "nope", "--name", "seeded-later"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("known scenarios: crds, demo, home-ops, broken:NAME, broken:all, scale:N"), "{stderr}");
    let out = sandbox.run(&["sandbox", "seed", "broken:nope", "--name", "seeded-later"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("the broken ones are broken:all, broken:crash-config"), "the labelled scenarios are listed: {stderr}");

    let out = sandbox.run(&["sandbox", "seed", "scale:1200", "--name", "seeded-later"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::all(sandbox.client().await);
    let listed = pods.list(&ListParams::default().labels("tier")).await.unwrap().items;
    assert_eq!(listed.len(), 1200);
    let namespaces: std::collections::BTreeSet<_> = listed.iter().filter_map(|p| p.metadata.namespace.clone()).collect();
    assert_eq!(namespaces.into_iter().collect::<Vec<_>>(), ["scale-00", "scale-01", "scale-02"], "pods spread across namespaces");
    let phases: std::collections::BTreeSet<_> = listed.iter().filter_map(|p| p.status.as_ref()?.phase.clone()).collect();
    assert_eq!(phases.into_iter().collect::<Vec<_>>(), ["Failed", "Pending", "Running", "Succeeded"]);

    // Seeding again keeps what exists; a stopped sandbox says so.
    let out = sandbox.run(&["sandbox", "seed", "demo", "--name", "seeded-later"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = sandbox.run(&["sandbox", "seed", "demo", "--name", "seeded-later"]);
    assert!(out.status.success(), "seeding twice is harmless: {}", String::from_utf8_lossy(&out.stderr));
    sandbox.stop();
    let out = sandbox.run(&["sandbox", "seed", "demo", "--name", "seeded-later"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not running"));
}

#[tokio::test]
async fn a_seeded_start_returns_once_the_scenario_has_settled() {
    // No wait of the test's own: what start --seed promises holds when it returns.
    let sandbox = TestSandbox::start_seeded("settled", "home-ops");
    let client = sandbox.client().await;
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::all(client.clone());
    let listed = pods.list(&ListParams::default()).await.unwrap().items;
    let phase = |name: &str| {
        let pod = listed.iter().find(|p| p.metadata.name.as_deref() == Some(name)).unwrap_or_else(|| panic!("pod {name}"));
        pod.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default()
    };
    for failed in ["db-migrate-error", "thumbnailer-oom", "immich-ml-6d5f9c7b8d-evict", "grafana-image-renderer-evict"] {
        assert_eq!(phase(failed), "Failed", "{failed} has failed");
    }
    assert_eq!(phase("backup-completed"), "Succeeded");
    let creating: Vec<_> = listed
        .iter()
        .filter(|p| {
            p.status
                .as_ref()
                .and_then(|s| s.container_statuses.as_ref())
                .into_iter()
                .flatten()
                .any(|c| c.state.as_ref().and_then(|s| s.waiting.as_ref()).is_some_and(|w| w.reason.as_deref() == Some("ContainerCreating")))
        })
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    assert!(creating.is_empty(), "no pod is still being created: {creating:?}");
    let releases: Api<kube::api::DynamicObject> = Api::namespaced_with(
        client.clone(),
        "observability",
        &kube::api::ApiResource::from_gvk_with_plural(&kube::core::GroupVersionKind::gvk("helm.toolkit.fluxcd.io", "v2", "HelmRelease"), "helmreleases"),
    );
    let ready = |name: &str| {
        let releases = releases.clone();
        let name = name.to_string();
        async move {
            let hr = releases.get(&name).await.unwrap();
            hr.data["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["type"] == "Ready")
                .map(|c| c["status"].as_str().unwrap_or_default().to_string())
        }
    };
    assert_eq!(ready("gatus").await.as_deref(), Some("True"));
    assert_eq!(ready("grafana").await.as_deref(), Some("True"));
    assert_eq!(ready("loki").await.as_deref(), Some("False"), "loki fails as declared");

    // A scenario that cannot settle in time says what has not, and stays loaded.
    let out = sandbox.run(&["sandbox", "seed", "demo", "--name", "settled", "--timeout", "1"]);
    assert_eq!(out.status.code(), Some(4), "a timeout");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("scenario \"demo\" has not settled within 1s: Pod demo/"), "{stderr}");
    assert!(stderr.contains("--no-wait"), "{stderr}");
    let demo: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), "demo");
    assert!(!demo.list(&ListParams::default()).await.unwrap().items.is_empty(), "the scenario stays loaded");
    // --no-wait returns at once; a later seed waits for all of it.
    let out = sandbox.run(&["sandbox", "seed", "broken:oom", "--name", "settled", "--no-wait"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = sandbox.run(&["sandbox", "seed", "demo", "--name", "settled"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
