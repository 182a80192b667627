//! Init containers as the kubelet runs them, through kube-rs: in order, each to
//! completion before the next and before the main containers; a native sidecar
//! keeps running; a failing one restarts with back-off (or fails the pod with
//! restartPolicy Never) and holds the main containers in `PodInitializing`.

mod common;

use common::{TestSandbox, wait_object};
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use kube::api::{Api, LogParams, PostParams};
use serde_json::{Value, json};

fn pod(name: &str, annotations: Value, restart_policy: &str, init: Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"restartPolicy": restart_policy, "initContainers": init, "containers": [{"name": "app", "image": "nginx"}]}
    }))
    .unwrap()
}

fn init_status<'a>(pod: &'a Pod, name: &str) -> &'a ContainerStatus {
    pod.status
        .as_ref()
        .and_then(|s| s.init_container_statuses.as_ref())
        .and_then(|all| all.iter().find(|s| s.name == name))
        .unwrap_or_else(|| panic!("status of init container {name}"))
}

fn phase(pod: &Pod) -> String {
    pod.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default()
}

fn condition(pod: &Pod, kind: &str) -> (String, String, String) {
    let c =
        pod.status.as_ref().and_then(|s| s.conditions.as_ref()).and_then(|c| c.iter().find(|c| c.type_ == kind)).unwrap_or_else(|| panic!("condition {kind}"));
    (c.status.clone(), c.reason.clone().unwrap_or_default(), c.message.clone().unwrap_or_default())
}

#[tokio::test]
async fn init_containers_run_in_order_and_sidecars_keep_running() {
    let sandbox = TestSandbox::start("init-order");
    let pods: Api<Pod> = Api::namespaced(sandbox.client().await, "default");
    let init =
        json!([{"name": "migrate", "image": "busybox"}, {"name": "proxy", "image": "envoy", "restartPolicy": "Always"}, {"name": "seed", "image": "busybox"}]);
    let created = pods
        .create(&PostParams::default(), &pod("ordered", json!({"sandbox.kdeck.dev/init-run-seconds": "migrate=1,seed=0.5"}), "Always", init))
        .await
        .unwrap();
    assert_eq!(phase(&created), "Pending");

    // While migrate runs: nothing after it has started, and the app waits.
    let migrating = wait_object(&pods, "ordered", "migrate running", |p| {
        p.status
            .as_ref()
            .and_then(|s| s.init_container_statuses.as_ref())
            .is_some_and(|all| all.iter().any(|s| s.name == "migrate" && s.state.as_ref().is_some_and(|st| st.running.is_some())))
    })
    .await;
    assert_eq!(phase(&migrating), "Pending");
    for later in ["proxy", "seed"] {
        assert_eq!(
            init_status(&migrating, later).state.as_ref().and_then(|s| s.waiting.as_ref()).and_then(|w| w.reason.as_deref()),
            Some("PodInitializing"),
            "{later} waits"
        );
    }
    let (status, reason, message) = condition(&migrating, "Initialized");
    assert_eq!(
        (status.as_str(), reason.as_str(), message.as_str()),
        ("False", "ContainersNotInitialized", "containers with incomplete status: [migrate proxy seed]")
    );
    let app = &migrating.status.as_ref().unwrap().container_statuses.as_ref().unwrap()[0];
    assert_eq!(app.state.as_ref().and_then(|s| s.waiting.as_ref()).and_then(|w| w.reason.as_deref()), Some("PodInitializing"));

    // Then the rest, in order; the sidecar is still running beside the app.
    let running = wait_object(&pods, "ordered", "Running", |p| phase(p) == "Running").await;
    assert_eq!(condition(&running, "Initialized").0, "True");
    let migrate = init_status(&running, "migrate").state.clone().unwrap().terminated.expect("migrate completed");
    let seed = init_status(&running, "seed").state.clone().unwrap().terminated.expect("seed completed");
    assert_eq!((migrate.exit_code, migrate.reason.as_deref(), seed.exit_code), (0, Some("Completed"), 0));
    assert!(seed.started_at.unwrap().0 >= migrate.finished_at.unwrap().0, "seed starts once migrate finished");
    let proxy = init_status(&running, "proxy");
    assert!(proxy.state.as_ref().and_then(|s| s.running.as_ref()).is_some() && proxy.started == Some(true), "the sidecar runs on: {proxy:?}");
}

#[tokio::test]
async fn a_failing_init_container_restarts_with_back_off_or_fails_the_pod() {
    let sandbox = TestSandbox::start("init-fail");
    let pods: Api<Pod> = Api::namespaced(sandbox.client().await, "default");
    let annotations = json!({
        "sandbox.kdeck.dev/init-exit-code": "migrate=3",
        "sandbox.kdeck.dev/init-crash-log": "migration 0042 failed: relation users does not exist",
        "sandbox.kdeck.dev/backoff-seconds": "1"
    });
    let init = json!([{"name": "migrate", "image": "busybox"}, {"name": "seed", "image": "busybox"}]);
    pods.create(&PostParams::default(), &pod("looping", annotations.clone(), "Always", init.clone())).await.unwrap();
    pods.create(&PostParams::default(), &pod("once", annotations, "Never", init)).await.unwrap();

    let looping = wait_object(&pods, "looping", "restarted twice", |p| {
        p.status.as_ref().and_then(|s| s.init_container_statuses.as_ref()).is_some_and(|all| all.iter().any(|s| s.name == "migrate" && s.restart_count >= 2))
    })
    .await;
    assert_eq!(phase(&looping), "Pending", "a pod whose init containers fail stays Pending");
    let migrate = init_status(&looping, "migrate");
    let last = migrate.last_state.as_ref().and_then(|s| s.terminated.as_ref()).expect("its last run");
    assert_eq!((last.exit_code, last.reason.as_deref()), (3, Some("Error")));
    assert_eq!(
        init_status(&looping, "seed").state.as_ref().and_then(|s| s.waiting.as_ref()).and_then(|w| w.reason.as_deref()),
        Some("PodInitializing"),
        "seed never ran"
    );
    let logs = pods.logs("looping", &LogParams { container: Some("migrate".into()), previous: true, ..Default::default() }).await.unwrap();
    assert!(logs.contains("migration 0042 failed"), "{logs}");

    let once = wait_object(&pods, "once", "Failed", |p| phase(p) == "Failed").await;
    let migrate = init_status(&once, "migrate").state.clone().unwrap().terminated.expect("terminated");
    assert_eq!((migrate.exit_code, migrate.reason.as_deref()), (3, Some("Error")));
    assert_eq!(init_status(&once, "migrate").restart_count, 0, "Never: no restart");
    assert_eq!(condition(&once, "Ready").1, "PodFailed");
}

#[tokio::test]
async fn an_init_container_is_held_by_a_missing_config_map_like_any_container() {
    let sandbox = TestSandbox::start("init-config");
    let pods: Api<Pod> = Api::namespaced(sandbox.client().await, "default");
    let init = json!([{"name": "migrate", "image": "busybox", "env": [{"name": "DSN", "valueFrom": {"configMapKeyRef": {"name": "db", "key": "dsn"}}}]}]);
    pods.create(&PostParams::default(), &pod("held", json!({}), "Always", init)).await.unwrap();
    let held = wait_object(&pods, "held", "CreateContainerConfigError", |p| {
        p.status.as_ref().and_then(|s| s.init_container_statuses.as_ref()).is_some_and(|all| {
            all.iter().any(|s| s.state.as_ref().and_then(|st| st.waiting.as_ref()).is_some_and(|w| w.reason.as_deref() == Some("CreateContainerConfigError")))
        })
    })
    .await;
    let message = init_status(&held, "migrate").state.as_ref().and_then(|s| s.waiting.as_ref()).and_then(|w| w.message.clone()).unwrap_or_default();
    assert_eq!(message, "configmap \"db\" not found");
    assert_eq!(phase(&held), "Pending");
}

/// In a pod that opts in to real runs, init containers run their commands: in
/// order, sharing the pod's volumes, each one's output its log, its exit its end.
#[tokio::test]
async fn init_containers_run_their_commands_for_real_in_pods_that_opt_in() {
    let sandbox = TestSandbox::start_with_args("init-real", &["--run-commands"]);
    let pods: Api<Pod> = Api::namespaced(sandbox.client().await, "default");
    let real = json!({"sandbox.kdeck.dev/run-command": "true"});
    let volume = json!([{"name": "work", "emptyDir": {}}]);
    let mount = json!([{"name": "work", "mountPath": "/work"}]);
    let spec = |name: &str, init: Value, app: &str| -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "annotations": real},
            "spec": {"restartPolicy": "Never", "volumes": volume, "initContainers": init,
                "containers": [{"name": "app", "image": "busybox", "command": ["sh", "-c", app], "volumeMounts": mount}]}
        }))
        .unwrap()
    };
    let init = json!([
        {"name": "first", "image": "busybox", "command": ["sh", "-c", "echo one > /work/order; echo first ran"], "volumeMounts": mount},
        {"name": "second", "image": "busybox", "command": ["sh", "-c", "sleep 1; echo two >> /work/order; echo second ran"], "volumeMounts": mount},
    ]);
    pods.create(&PostParams::default(), &spec("ordered", init, "cat /work/order")).await.unwrap();
    let done = wait_object(&pods, "ordered", "Succeeded", |p| phase(p) == "Succeeded").await;
    for name in ["first", "second"] {
        let ended = init_status(&done, name).state.as_ref().and_then(|s| s.terminated.clone()).unwrap();
        assert_eq!((ended.exit_code, ended.reason.as_deref()), (0, Some("Completed")), "{name}");
        assert!(init_status(&done, name).container_id.as_deref().is_some_and(|id| id.starts_with("kdeck-process://")), "{name} ran as a process");
        let log = pods.logs("ordered", &LogParams { container: Some(name.into()), ..LogParams::default() }).await.unwrap();
        assert_eq!(log, format!("{name} ran\n"), "the log of {name} is its output");
    }
    // The app read what the init containers wrote, in their order.
    let app_log = pods.logs("ordered", &LogParams { container: Some("app".into()), ..LogParams::default() }).await.unwrap();
    assert_eq!(app_log, "one\ntwo\n");
    assert!(done.status.as_ref().and_then(|s| s.pod_ip.as_deref()).is_some_and(|ip| !ip.is_empty()));

    // A failing one ends the pod (restartPolicy Never) with its exit code; the app never starts.
    let failing = json!([{"name": "migrate", "image": "busybox", "command": ["sh", "-c", "echo 'relation users already exists' >&2; exit 4"]}]);
    pods.create(&PostParams::default(), &spec("failing", failing, "echo should not run")).await.unwrap();
    let failed = wait_object(&pods, "failing", "Failed", |p| phase(p) == "Failed").await;
    let ended = init_status(&failed, "migrate").state.as_ref().and_then(|s| s.terminated.clone()).unwrap();
    assert_eq!((ended.exit_code, ended.reason.as_deref()), (4, Some("Error")));
    let log = pods.logs("failing", &LogParams { container: Some("migrate".into()), ..LogParams::default() }).await.unwrap();
    assert_eq!(log, "relation users already exists\n");
    let app = failed.status.as_ref().and_then(|s| s.container_statuses.as_ref()).and_then(|c| c.first()).unwrap();
    assert!(app.state.as_ref().and_then(|s| s.waiting.as_ref()).is_some_and(|w| w.reason.as_deref() == Some("PodInitializing")), "{app:?}");
}
