//! Long-running pods whose command really runs (`sandbox.kdeck.dev/run-command`
//! in a sandbox started with `--run-commands`): Deployments, StatefulSets and
//! DaemonSets serve for real, their processes are restarted by the kubelet's
//! rules (restartCount, lastState, CrashLoopBackOff with its back-off, the
//! previous instance's log), and their probes really run — a readiness probe that
//! fails takes the pod out of its Service's endpoints, a liveness or startup probe
//! that fails restarts the container, with the kubelet's events.
//!
//! Until pods have network views of their own, real processes share the host's
//! network: every test takes ports nothing else uses (two real pods on one port
//! would collide). `redis-server` and Debian's `postgres` run where they are
//! installed; elsewhere their tests are skipped with a message, unless `CI` is set,
//! where a missing server fails the test.

mod common;

use std::time::{Duration, Instant};

use common::{TestSandbox, free_port, installed, postgres_bin, which};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ContainerStatus, Endpoints, Event, Pod, Service};
use kube::api::{Api, AttachParams, ListParams, LogParams, PostParams};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

const RUN_COMMAND: &str = "sandbox.kdeck.dev/run-command";
const BACKOFF: &str = "sandbox.kdeck.dev/backoff-seconds";

/// Polls the object until `done` holds, for at most `limit`.
async fn wait_for<K>(api: &Api<K>, name: &str, what: &str, limit: Duration, done: impl Fn(&K) -> bool) -> K
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let deadline = Instant::now() + limit;
    let mut last = None;
    while Instant::now() < deadline {
        if let Some(object) = api.get_opt(name).await.unwrap() {
            if done(&object) {
                return object;
            }
            last = Some(object);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{name} never reached: {what}; last seen: {last:#?}");
}

/// The one live pod with `selector`, once it exists.
async fn pod_named_by(pods: &Api<Pod>, selector: &str) -> String {
    for _ in 0..300 {
        let list = pods.list(&ListParams::default().labels(selector)).await.unwrap().items;
        if let Some(pod) = list.into_iter().find(|p| p.metadata.deletion_timestamp.is_none()) {
            return pod.metadata.name.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no pod with {selector}");
}

fn container(pod: &Pod) -> ContainerStatus {
    pod.status.as_ref().and_then(|s| s.container_statuses.as_ref()).and_then(|c| c.first().cloned()).unwrap_or_default()
}

fn running(pod: &Pod) -> bool {
    container(pod).state.is_some_and(|s| s.running.is_some())
}

fn ready(pod: &Pod) -> bool {
    pod.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn waiting_reason(pod: &Pod) -> Option<String> {
    container(pod).state?.waiting?.reason
}

fn ip(pod: &Pod) -> String {
    pod.status.as_ref().and_then(|s| s.pod_ip.clone()).unwrap_or_default()
}

/// (ready addresses, not-ready addresses) of the Endpoints, as pod IPs, and the ports.
fn endpoint_ips(endpoints: &Endpoints) -> (Vec<String>, Vec<String>, Vec<i32>) {
    let subsets = endpoints.subsets.clone().unwrap_or_default();
    let ips = |list: Option<Vec<k8s_openapi::api::core::v1::EndpointAddress>>| list.unwrap_or_default().into_iter().map(|a| a.ip).collect::<Vec<_>>();
    let ready = subsets.iter().flat_map(|s| ips(s.addresses.clone())).collect();
    let not_ready = subsets.iter().flat_map(|s| ips(s.not_ready_addresses.clone())).collect();
    let ports = subsets.iter().flat_map(|s| s.ports.clone().unwrap_or_default()).map(|p| p.port).collect();
    (ready, not_ready, ports)
}

/// The messages of the pod's events with `reason`, with their counts.
async fn events(client: &kube::Client, pod: &str, reason: &str) -> Vec<(String, i32)> {
    let api: Api<Event> = Api::namespaced(client.clone(), "default");
    let list = api.list(&ListParams::default().fields(&format!("involvedObject.name={pod},reason={reason}"))).await.unwrap().items;
    list.into_iter().map(|e| (e.message.unwrap_or_default(), e.count.unwrap_or(1))).collect()
}

/// Waits until the pod has an event with `reason` whose message satisfies `matches`.
async fn wait_event(client: &kube::Client, pod: &str, reason: &str, matches: impl Fn(&str) -> bool) -> String {
    for _ in 0..300 {
        if let Some((message, _)) = events(client, pod, reason).await.into_iter().find(|(m, _)| matches(m)) {
            return message;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no {reason} event as expected for {pod}: {:?}", events(client, pod, reason).await);
}

/// Runs `command` in the pod's container; (stdout and stderr, success).
async fn exec(pods: &Api<Pod>, pod: &str, command: &[&str]) -> (String, bool) {
    let params = AttachParams::default().stdout(true).stderr(true);
    let mut attached = pods.exec(pod, command.iter().copied(), &params).await.expect("exec upgraded");
    let (mut stdout, mut stderr) = (attached.stdout().unwrap(), attached.stderr().unwrap());
    let status = attached.take_status().unwrap();
    let mut out = String::new();
    let mut err = String::new();
    let (_, _, status) =
        tokio::time::timeout(Duration::from_secs(30), async { tokio::join!(stdout.read_to_string(&mut out), stderr.read_to_string(&mut err), status) })
            .await
            .expect("exec finished in time");
    let success = status.and_then(|s| s.status).as_deref() == Some("Success");
    (format!("{out}{err}"), success)
}

/// Pids of the host's processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().chars().all(|c| c.is_ascii_digit()))
        .filter(|e| std::fs::read(e.path().join("cmdline")).is_ok_and(|c| String::from_utf8_lossy(&c).replace('\0', " ").contains(marker)))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

fn deployment(name: &str, annotations: Value, spec: Value) -> Deployment {
    let mut annotations = annotations;
    annotations[RUN_COMMAND] = json!("true");
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}, "annotations": annotations}, "spec": spec}}}))
    .unwrap()
}

fn pod(name: &str, annotations: Value, spec: Value) -> Pod {
    let mut annotations = annotations;
    annotations[RUN_COMMAND] = json!("true");
    serde_json::from_value(json!({"metadata": {"name": name, "annotations": annotations}, "spec": spec})).unwrap()
}

#[tokio::test]
async fn a_real_web_server_is_ready_once_its_probe_passes_and_leaves_its_endpoints_while_it_fails() {
    let sandbox = TestSandbox::start_with_args("real-web", &["--run-commands"]);
    let client = sandbox.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let port = free_port();
    // Up only after three seconds; /healthz is a file the test removes and puts back.
    let script = format!("sleep 3; echo ok > /srv/www/healthz; exec python3 -m http.server {port} --directory /srv/www");
    let spec = json!({"volumes": [{"name": "www", "emptyDir": {}}], "containers": [{"name": "web", "image": "python:3.12",
        "command": ["sh", "-c", script], "ports": [{"name": "http", "containerPort": port}],
        "volumeMounts": [{"name": "www", "mountPath": "/srv/www"}],
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 1, "failureThreshold": 1}}]});
    Api::<Deployment>::namespaced(client.clone(), "default").create(&PostParams::default(), &deployment("web", json!({BACKOFF: "1"}), spec)).await.unwrap();
    let service: Service =
        serde_json::from_value(json!({"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": "http"}]}}))
            .unwrap();
    Api::<Service>::namespaced(client.clone(), "default").create(&PostParams::default(), &service).await.unwrap();
    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), "default");

    // Running, but not ready while nothing answers: in the endpoints as not ready.
    let name = pod_named_by(&pods, "app=web").await;
    let started = wait_for(&pods, &name, "running", Duration::from_secs(30), running).await;
    assert!(!ready(&started), "not ready before its probe passed");
    let pod_ip = ip(&started);
    wait_for(&endpoints, "web", "the pod not ready", Duration::from_secs(10), |e| endpoint_ips(e).1.contains(&pod_ip)).await;
    wait_event(&client, &name, "Unhealthy", |m| m.starts_with(&format!("Readiness probe failed: Get \"http://{pod_ip}:{port}/healthz\": dial tcp"))).await;

    // Ready once the server answers: in the endpoints, the Deployment available.
    wait_for(&pods, &name, "ready", Duration::from_secs(30), ready).await;
    let served = wait_for(&endpoints, "web", "the pod ready", Duration::from_secs(10), |e| endpoint_ips(e).0.contains(&pod_ip)).await;
    assert_eq!(endpoint_ips(&served).2, vec![i32::from(port)]);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    wait_for(&deployments, "web", "available", Duration::from_secs(10), |d| d.status.as_ref().and_then(|s| s.available_replicas) == Some(1)).await;
    let log = pods.logs(&name, &LogParams::default()).await.unwrap();
    assert!(log.contains("\"GET /healthz HTTP/1.1\" 200"), "the probe's requests reach the server:\n{log}");

    // Its readiness probe fails (404): not ready, out of the endpoints; back once it passes.
    let (out, ok) = exec(&pods, &name, &["rm", "/srv/www/healthz"]).await;
    assert!(ok, "{out}");
    wait_for(&pods, &name, "not ready", Duration::from_secs(10), |p| !ready(p)).await;
    wait_for(&endpoints, "web", "the pod not ready again", Duration::from_secs(10), |e| endpoint_ips(e).0.is_empty() && endpoint_ips(e).1.contains(&pod_ip))
        .await;
    wait_event(&client, &name, "Unhealthy", |m| m == "Readiness probe failed: HTTP probe failed with statuscode: 404").await;
    let (out, ok) = exec(&pods, &name, &["sh", "-c", "echo ok > /srv/www/healthz"]).await;
    assert!(ok, "{out}");
    wait_for(&pods, &name, "ready again", Duration::from_secs(10), ready).await;

    // The server dies (SIGKILL from outside): restarted, with the last state and previous log.
    let victims = processes_with(&format!("http.server {port}"));
    assert!(!victims.is_empty(), "the server runs as a process on this machine");
    for pid in &victims {
        assert!(std::process::Command::new("kill").args(["-KILL", pid]).status().unwrap().success());
    }
    let restarted = wait_for(&pods, &name, "restarted", Duration::from_secs(20), |p| container(p).restart_count == 1).await;
    assert!(!ready(&restarted), "not ready while it restarts");
    let last = container(&restarted).last_state.and_then(|s| s.terminated).expect("the last state");
    assert_eq!((last.exit_code, last.reason.as_deref()), (137, Some("Error")));
    wait_for(&pods, &name, "ready after the restart", Duration::from_secs(30), ready).await;
    let previous = pods.logs(&name, &LogParams { previous: true, ..Default::default() }).await.unwrap();
    assert!(previous.contains("\"GET /healthz HTTP/1.1\" 404"), "the previous instance's log:\n{previous}");
    assert!(processes_with(&format!("http.server {port}")).iter().all(|p| !victims.contains(p)), "a new process serves");
}

#[tokio::test]
async fn a_command_that_exits_is_restarted_with_a_doubling_back_off_and_its_previous_log() {
    let sandbox = TestSandbox::start_with_args("real-crash", &["--run-commands"]);
    let client = sandbox.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let script = "echo run $(cat /proc/sys/kernel/random/uuid); sleep 1; echo failing; exit 3";
    let spec = json!({"containers": [{"name": "app", "image": "busybox", "command": ["sh", "-c", script]}]});
    pods.create(&PostParams::default(), &pod("crashy", json!({BACKOFF: "1"}), spec)).await.unwrap();

    // Each restart waits twice as long as the one before: 1s, 2s, 4s …
    let mut messages: Vec<String> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut pod = pods.get("crashy").await.unwrap();
    while Instant::now() < deadline && container(&pod).restart_count < 3 {
        if let Some(message) = container(&pod).state.and_then(|s| s.waiting).filter(|w| w.reason.as_deref() == Some("CrashLoopBackOff")).and_then(|w| w.message)
            && !messages.contains(&message)
        {
            messages.push(message);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        pod = pods.get("crashy").await.unwrap();
    }
    let status = container(&pod);
    assert!(status.restart_count >= 3, "{pod:#?}");
    let uid = pod.metadata.uid.clone().unwrap();
    for backoff in ["1s", "2s"] {
        let expected = format!("back-off {backoff} restarting failed container=app pod=crashy_default({uid})");
        assert!(messages.contains(&expected), "{expected} not among {messages:?}");
    }
    let last = status.last_state.and_then(|s| s.terminated).expect("the last state");
    assert_eq!((last.exit_code, last.reason.as_deref()), (3, Some("Error")));
    assert_eq!(pod.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Running"), "a restarting pod runs");

    // The previous instance's output, as it printed it.
    let previous = pods.logs("crashy", &LogParams { previous: true, ..Default::default() }).await.unwrap();
    let lines: Vec<&str> = previous.lines().collect();
    assert!(lines.len() == 2 && lines[0].starts_with("run ") && lines[1] == "failing", "{previous}");

    let backoffs = events(&client, "crashy", "BackOff").await;
    assert_eq!(backoffs.len(), 1, "repeats count up on one event: {backoffs:?}");
    assert_eq!(backoffs[0].0, format!("Back-off restarting failed container app in pod crashy_default({uid})"));
    assert!(backoffs[0].1 >= 2, "{backoffs:?}");
    let started = events(&client, "crashy", "Started").await;
    assert!(started.iter().map(|(_, n)| n).sum::<i32>() >= 3, "{started:?}");
}

#[tokio::test]
async fn a_failing_liveness_probe_kills_and_restarts_the_container() {
    let sandbox = TestSandbox::start_with_args("real-liveness", &["--run-commands"]);
    let client = sandbox.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let (port, unused) = (free_port(), free_port());
    // The server answers on one port; the probe asks another, where nothing listens.
    let spec = json!({"containers": [{"name": "app", "image": "python:3.12", "command": ["python3", "-m", "http.server", port.to_string()],
        "livenessProbe": {"tcpSocket": {"port": unused}, "initialDelaySeconds": 1, "periodSeconds": 1, "failureThreshold": 2}}]});
    pods.create(&PostParams::default(), &pod("unlive", json!({BACKOFF: "1"}), spec)).await.unwrap();
    let first = wait_for(&pods, "unlive", "running", Duration::from_secs(30), running).await;
    let pod_ip = ip(&first);
    let victims = {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let found = processes_with(&format!("http.server {port}"));
            if !found.is_empty() || Instant::now() > deadline {
                break found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };

    let restarted = wait_for(&pods, "unlive", "restarted", Duration::from_secs(30), |p| container(p).restart_count >= 1).await;
    let last = container(&restarted).last_state.and_then(|s| s.terminated).expect("the last state");
    // The server stopped on the kubelet's SIGTERM.
    assert_eq!((last.exit_code, last.reason.as_deref()), (143, Some("Error")));
    let unhealthy = wait_event(&client, "unlive", "Unhealthy", |m| m.starts_with("Liveness probe failed")).await;
    assert_eq!(unhealthy, format!("Liveness probe failed: dial tcp {pod_ip}:{unused}: connect: connection refused"));
    let killing = wait_event(&client, "unlive", "Killing", |_| true).await;
    assert_eq!(killing, "Container app failed liveness probe, will be restarted");
    assert!(!victims.is_empty() && victims.iter().all(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists()), "the first server was stopped");
}

#[tokio::test]
async fn exec_probes_run_in_the_container_and_a_startup_probe_that_times_out_restarts_it() {
    let sandbox = TestSandbox::start_with_args("real-exec", &["--run-commands"]);
    let client = sandbox.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    // A DaemonSet's agent: ready once /tmp/ready exists; alive while /tmp/stop does not.
    let script = "rm -f /tmp/stop; sleep 2; touch /tmp/ready; exec sleep 600";
    let daemonset: DaemonSet = serde_json::from_value(json!({"metadata": {"name": "agent"}, "spec": {"selector": {"matchLabels": {"app": "agent"}},
        "template": {"metadata": {"labels": {"app": "agent"}, "annotations": {RUN_COMMAND: "true", BACKOFF: "1"}},
            "spec": {"containers": [{"name": "agent", "image": "busybox", "command": ["sh", "-c", script],
                "readinessProbe": {"exec": {"command": ["cat", "/tmp/ready"]}, "periodSeconds": 1},
                "livenessProbe": {"exec": {"command": ["sh", "-c", "test ! -e /tmp/stop"]}, "initialDelaySeconds": 1, "periodSeconds": 1, "failureThreshold": 1}}]}}}}))
    .unwrap();
    Api::<DaemonSet>::namespaced(client.clone(), "default").create(&PostParams::default(), &daemonset).await.unwrap();
    // A pod whose startup probe never answers in time.
    let slow = json!({"containers": [{"name": "app", "image": "busybox", "command": ["sleep", "600"],
        "startupProbe": {"exec": {"command": ["sh", "-c", "sleep 5"]}, "timeoutSeconds": 1, "periodSeconds": 1, "failureThreshold": 1}}]});
    pods.create(&PostParams::default(), &pod("slow-start", json!({BACKOFF: "5"}), slow)).await.unwrap();

    let agent = pod_named_by(&pods, "app=agent").await;
    wait_for(&pods, &agent, "ready", Duration::from_secs(30), ready).await;
    wait_event(&client, &agent, "Unhealthy", |m| m.starts_with("Readiness probe failed: cat:") && m.contains("/tmp/ready")).await;
    let daemonsets: Api<DaemonSet> = Api::namespaced(client.clone(), "default");
    wait_for(&daemonsets, "agent", "its pod ready", Duration::from_secs(10), |d| d.status.as_ref().is_some_and(|s| s.number_ready == 1)).await;

    // The exec into the container and the probes share its /tmp.
    let (out, ok) = exec(&pods, &agent, &["touch", "/tmp/stop"]).await;
    assert!(ok, "{out}");
    wait_for(&pods, &agent, "restarted", Duration::from_secs(20), |p| container(p).restart_count == 1).await;
    let killing = wait_event(&client, &agent, "Killing", |_| true).await;
    assert_eq!(killing, "Container agent failed liveness probe, will be restarted");
    wait_for(&pods, &agent, "ready after the restart", Duration::from_secs(30), |p| ready(p) && container(p).restart_count == 1).await;

    // The startup probe times out: never started nor ready, killed and restarted.
    let unstarted = wait_for(&pods, "slow-start", "running", Duration::from_secs(20), running).await;
    assert_eq!((container(&unstarted).started, ready(&unstarted)), (Some(false), false));
    let failed = wait_event(&client, "slow-start", "Unhealthy", |m| m.starts_with("Startup probe failed")).await;
    assert_eq!(failed, "Startup probe failed: command \"sh -c sleep 5\" timed out");
    let killing = wait_event(&client, "slow-start", "Killing", |_| true).await;
    assert_eq!(killing, "Container app failed startup probe, will be restarted");
    let restarted = wait_for(&pods, "slow-start", "restarted", Duration::from_secs(20), |p| container(p).restart_count >= 1).await;
    assert_eq!(container(&restarted).last_state.and_then(|s| s.terminated).map(|t| t.exit_code), Some(143));
}

#[tokio::test]
async fn a_missing_binary_is_a_run_container_error_then_backs_off() {
    let sandbox = TestSandbox::start_with_args("real-missing", &["--run-commands"]);
    let client = sandbox.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let spec = json!({"containers": [{"name": "app", "image": "example/server:1", "command": ["kdeck-no-such-server", "--port", "1"]}]});
    pods.create(&PostParams::default(), &pod("missing", json!({BACKOFF: "4"}), spec)).await.unwrap();

    let mut seen: Vec<String> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut pod = pods.get("missing").await.unwrap();
    while Instant::now() < deadline && !(container(&pod).restart_count >= 2 && seen.len() >= 2) {
        if let Some(reason) = waiting_reason(&pod).filter(|r| r != "ContainerCreating")
            && !seen.contains(&reason)
        {
            seen.push(reason);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        pod = pods.get("missing").await.unwrap();
    }
    assert_eq!(seen, vec!["RunContainerError".to_string(), "CrashLoopBackOff".to_string()], "{pod:#?}");
    let status = container(&pod);
    assert!(status.restart_count >= 2, "{pod:#?}");
    let last = status.last_state.and_then(|s| s.terminated).expect("the last state");
    assert_eq!((last.exit_code, last.reason.as_deref()), (128, Some("StartError")));
    let message = last.message.unwrap_or_default();
    assert!(message.contains("exec: \"kdeck-no-such-server\": executable file not found in $PATH"), "{message}");
    assert_eq!(pod.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Running"), "a pod that will restart runs");
    let failed = events(&client, "missing", "Failed").await;
    assert!(failed.iter().any(|(m, _)| *m == format!("Error: {message}")), "{failed:?}");
    assert!(events(&client, "missing", "Started").await.is_empty(), "nothing started");
    assert!(!events(&client, "missing", "BackOff").await.is_empty());
}

#[tokio::test]
async fn redis_serves_for_real_where_it_is_installed() {
    let Some(_) = installed("redis-server", which("redis-server")) else { return };
    let Some(_) = installed("redis-cli", which("redis-cli")) else { return };
    let sandbox = TestSandbox::start_with_args("real-redis", &["--run-commands"]);
    let client = sandbox.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let port = free_port().to_string();
    let spec = json!({"containers": [{"name": "redis", "image": "redis:7", "command": ["redis-server", "--port", port, "--save", "", "--appendonly", "no"],
        "readinessProbe": {"exec": {"command": ["redis-cli", "-p", port, "ping"]}, "periodSeconds": 1},
        "livenessProbe": {"tcpSocket": {"port": port.parse::<u16>().unwrap()}, "initialDelaySeconds": 2, "periodSeconds": 2}}]});
    Api::<Deployment>::namespaced(client.clone(), "default").create(&PostParams::default(), &deployment("redis", json!({}), spec)).await.unwrap();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    wait_for(&deployments, "redis", "available", Duration::from_secs(60), |d| d.status.as_ref().and_then(|s| s.available_replicas) == Some(1)).await;

    let name = pod_named_by(&pods, "app=redis").await;
    let (out, ok) = exec(&pods, &name, &["redis-cli", "-p", &port, "ping"]).await;
    assert_eq!((out.trim(), ok), ("PONG", true));
    let (out, _) = exec(&pods, &name, &["redis-cli", "-p", &port, "set", "greeting", "hello"]).await;
    assert_eq!(out.trim(), "OK");
    let (out, _) = exec(&pods, &name, &["redis-cli", "-p", &port, "get", "greeting"]).await;
    assert_eq!(out.trim(), "hello");
    assert!(pods.logs(&name, &LogParams::default()).await.unwrap().contains("Ready to accept connections"));
}

#[tokio::test]
async fn postgres_serves_for_real_as_a_statefulset_where_it_is_installed() {
    let Some(bin) = installed("postgres (Debian's postgresql package)", postgres_bin()) else { return };
    let sandbox = TestSandbox::start_with_args("real-postgres", &["--run-commands"]);
    let client = sandbox.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let port = free_port().to_string();
    // It refuses to run as root: the pod's user 999 owns the cluster it makes on its claim.
    let script = format!(
        "test -s /var/lib/postgresql/data/PG_VERSION || initdb -D /var/lib/postgresql/data -U postgres --auth=trust; \
         exec postgres -D /var/lib/postgresql/data -p {port} -k /tmp -c listen_addresses=127.0.0.1"
    );
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let statefulset: StatefulSet = serde_json::from_value(json!({"metadata": {"name": "pg"}, "spec": {"serviceName": "pg", "replicas": 1,
        "selector": {"matchLabels": {"app": "pg"}},
        "template": {"metadata": {"labels": {"app": "pg"}, "annotations": {RUN_COMMAND: "true"}},
            "spec": {"securityContext": {"runAsUser": 999, "runAsGroup": 999},
                "containers": [{"name": "postgres", "image": "postgres:16", "command": ["sh", "-c", script], "env": [{"name": "PATH", "value": path}],
                    "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql"}],
                    "readinessProbe": {"exec": {"command": ["pg_isready", "-h", "127.0.0.1", "-p", port, "-U", "postgres"]}, "periodSeconds": 1}}]}},
        "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}}))
    .unwrap();
    Api::<StatefulSet>::namespaced(client.clone(), "default").create(&PostParams::default(), &statefulset).await.unwrap();
    let statefulsets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    wait_for(&statefulsets, "pg", "ready", Duration::from_secs(90), |s| s.status.as_ref().and_then(|s| s.ready_replicas) == Some(1)).await;

    let (out, ok) = exec(&pods, "pg-0", &["pg_isready", "-h", "127.0.0.1", "-p", &port, "-U", "postgres"]).await;
    assert_eq!((out.trim(), ok), (format!("127.0.0.1:{port} - accepting connections").as_str(), true));
    let (out, ok) = exec(&pods, "pg-0", &["psql", "-h", "127.0.0.1", "-p", &port, "-U", "postgres", "-tAc", "select 40 + 2"]).await;
    assert_eq!((out.trim(), ok), ("42", true));
    let (out, _) = exec(&pods, "pg-0", &["id", "-u"]).await;
    assert_eq!(out.trim(), "999");
}

#[tokio::test]
async fn variables_in_a_real_command_are_expanded_as_the_kubelet_does() {
    let sandbox = TestSandbox::start_with_args("real-expand", &["--run-commands"]);
    let client = sandbox.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let spec = json!({"restartPolicy": "Never", "containers": [{"name": "say", "image": "busybox",
        "env": [{"name": "GREETING", "value": "hello"}],
        "command": ["echo", "$(GREETING) world", "$$(GREETING)", "$(UNSET)"]}]});
    pods.create(&PostParams::default(), &pod("say", json!({RUN_COMMAND: "true"}), spec)).await.unwrap();
    wait_for(&pods, "say", "Succeeded", Duration::from_secs(30), |p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Succeeded")).await;
    let log = pods.logs("say", &LogParams::default()).await.unwrap();
    assert_eq!(log, "hello world $(GREETING) $(UNSET)\n");
}
