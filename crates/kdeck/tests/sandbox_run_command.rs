//! `sandbox.kdeck.dev/run-command: "true"` end to end through kube-rs: in a
//! sandbox started with `--run-commands`, a run-to-completion pod's command really
//! runs, confined as an exec is; its output is the container's log (followed as it
//! is printed), its exit code ends the container, the pod and the Job; deleting the
//! pod stops the process. Without the annotation, or without `--run-commands`,
//! containers stay simulated.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{TestSandbox, wait_object, wait_pod};
use futures::{AsyncBufReadExt, StreamExt};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, ContainerStateTerminated, Pod};
use kube::api::{Api, DeleteParams, ListParams, LogParams, PostParams};
use serde_json::{Value, json};

const RUN_COMMAND: &str = "sandbox.kdeck.dev/run-command";

fn job(name: &str, command: Value, extra: Value) -> Job {
    let mut container = json!({"name": "task", "image": "busybox", "command": command});
    if let (Some(c), Some(extra)) = (container.as_object_mut(), extra.as_object()) {
        c.extend(extra.clone());
    }
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": {"backoffLimit": 0, "template": {
        "metadata": {"annotations": {RUN_COMMAND: "true"}},
        "spec": {"restartPolicy": "Never", "containers": [container]}}}}))
    .unwrap()
}

fn pod(name: &str, policy: &str, annotations: Value, command: Value) -> Pod {
    serde_json::from_value(json!({"metadata": {"name": name, "annotations": annotations},
        "spec": {"restartPolicy": policy, "containers": [{"name": "app", "image": "busybox", "command": command}]}}))
    .unwrap()
}

fn has_condition(job: &Job, kind: &str) -> bool {
    job.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|c| c.iter().any(|c| c.type_ == kind && c.status == "True"))
}

fn terminated(pod: &Pod) -> Option<ContainerStateTerminated> {
    pod.status.as_ref()?.container_statuses.as_ref()?.first()?.state.as_ref()?.terminated.clone()
}

fn running(pod: &Pod) -> bool {
    pod.status.as_ref().and_then(|s| s.container_statuses.as_ref()).and_then(|c| c.first()).and_then(|c| c.state.as_ref()).is_some_and(|s| s.running.is_some())
}

fn phase(pod: &Pod) -> Option<&str> {
    pod.status.as_ref().and_then(|s| s.phase.as_deref())
}

/// The one pod of a Job, once it exists.
async fn job_pod(pods: &Api<Pod>, job: &str) -> Pod {
    for _ in 0..100 {
        if let Some(pod) = pods.list(&ListParams::default().labels(&format!("job-name={job}"))).await.unwrap().items.into_iter().next() {
            return pod;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("job {job} never made a pod");
}

/// Pids of processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().chars().all(|c| c.is_ascii_digit()))
        .filter(|e| std::fs::read(e.path().join("cmdline")).is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker)))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// A marker no other test's process has: a `sleep` duration unique to this run.
fn unique_seconds(base: u32) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{base}.{:06}{}", nanos % 1_000_000, std::process::id() % 1000)
}

#[tokio::test]
async fn a_jobs_command_runs_with_its_env_and_working_dir_and_its_exit_code_fails_the_job() {
    let sandbox = TestSandbox::start_with_args("runcmd-fail", &["--run-commands"]);
    let client = sandbox.client().await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let command = json!(["sh", "-c", "echo out; echo err >&2; pwd; echo $GREETING; exit 3"]);
    let extra = json!({"workingDir": "/srv/kdeck-task-dir", "env": [{"name": "GREETING", "value": "hello from the job"}]});
    jobs.create(&PostParams::default(), &job("fails", command, extra)).await.unwrap();

    let failed = wait_object(&jobs, "fails", "Failed", |j| has_condition(j, "Failed")).await;
    assert_eq!(failed.status.as_ref().unwrap().failed, Some(1));
    let name = job_pod(&pods, "fails").await.metadata.name.unwrap();
    let pod = wait_pod(&pods, &name, "Failed", |p| phase(p) == Some("Failed")).await;
    let ended = terminated(&pod).expect("the container terminated");
    assert_eq!((ended.exit_code, ended.reason.as_deref()), (3, Some("Error")));
    // stdout and stderr interleave as written; the working directory exists in the view.
    let log = pods.logs(&name, &LogParams::default()).await.unwrap();
    assert_eq!(log, "out\nerr\n/srv/kdeck-task-dir\nhello from the job\n");
    assert!(!Path::new("/srv/kdeck-task-dir").exists(), "the working directory is made only in the pod's view");
    // Timestamps are those of the real output.
    let stamped = pods.logs(&name, &LogParams { timestamps: true, tail_lines: Some(1), ..Default::default() }).await.unwrap();
    assert!(stamped.ends_with(" hello from the job\n") && stamped.contains('T'), "{stamped}");
}

#[tokio::test]
async fn an_exit_code_of_zero_completes_the_job_with_the_pods_volumes_and_hostname() {
    let sandbox = TestSandbox::start_with_args("runcmd-ok", &["--run-commands"]);
    let client = sandbox.client().await;
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "task-config"}, "data": {"mode": "fast"}})).unwrap();
    configmaps.create(&PostParams::default(), &cm).await.unwrap();
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client, "default");
    // It runs as PID 1's child in the pod's own PID namespace, under the pod's init.
    let script = "echo mode=$(cat /etc/task/mode); echo host=$(cat /proc/sys/kernel/hostname); echo init=$(tr '\\0' ' ' < /proc/1/cmdline)";
    let mut manifest = job("works", json!(["sh", "-c"]), json!({"args": [script], "volumeMounts": [{"name": "cfg", "mountPath": "/etc/task"}]}));
    manifest.spec.as_mut().unwrap().template.spec.as_mut().unwrap().volumes =
        Some(vec![serde_json::from_value(json!({"name": "cfg", "configMap": {"name": "task-config"}})).unwrap()]);
    jobs.create(&PostParams::default(), &manifest).await.unwrap();

    let done = wait_object(&jobs, "works", "Complete", |j| has_condition(j, "Complete")).await;
    assert_eq!(done.status.as_ref().unwrap().succeeded, Some(1));
    let name = job_pod(&pods, "works").await.metadata.name.unwrap();
    let pod = wait_pod(&pods, &name, "Succeeded", |p| phase(p) == Some("Succeeded")).await;
    let ended = terminated(&pod).expect("the container terminated");
    assert_eq!((ended.exit_code, ended.reason.as_deref()), (0, Some("Completed")));
    let log = pods.logs(&name, &LogParams::default()).await.unwrap();
    assert!(log.starts_with(&format!("mode=fast\nhost={name}\ninit=kdeck-init")), "{log}");

    // The sandbox says it runs commands, to the read-only token too.
    let info = sandbox_info(&sandbox.readonly_client().await).await;
    assert_eq!((info["sandbox"].as_str(), info["runCommands"].as_bool()), (Some("runcmd-ok"), Some(true)), "{info}");
}

/// `GET /kdeck/info`.
async fn sandbox_info(client: &kube::Client) -> Value {
    let request = http::Request::get("/kdeck/info").body(Vec::new()).unwrap();
    serde_json::from_str(&client.request_text(request).await.unwrap()).unwrap()
}

#[tokio::test]
async fn following_the_log_sees_lines_as_they_are_printed() {
    let sandbox = TestSandbox::start_with_args("runcmd-follow", &["--run-commands"]);
    let pods: Api<Pod> = Api::namespaced(sandbox.client().await, "default");
    let command = json!(["sh", "-c", "echo a; sleep 2; echo b; echo c >&2"]);
    pods.create(&PostParams::default(), &pod("talker", "Never", json!({RUN_COMMAND: "true"}), command)).await.unwrap();
    wait_pod(&pods, "talker", "running", running).await;

    let stream = pods.log_stream("talker", &LogParams { follow: true, ..Default::default() }).await.unwrap();
    let mut lines = Box::pin(stream.lines());
    let first = tokio::time::timeout(Duration::from_secs(5), lines.next()).await.expect("the first line in time").unwrap().unwrap();
    assert_eq!(first, "a");
    let got_first = Instant::now();
    let pod = pods.get("talker").await.unwrap();
    assert!(running(&pod), "the first line arrives while the command still runs");
    let second = tokio::time::timeout(Duration::from_secs(5), lines.next()).await.expect("the second line in time").unwrap().unwrap();
    assert_eq!(second, "b");
    assert!(got_first.elapsed() >= Duration::from_millis(1000), "b is printed two seconds after a, not all at the end");
    let rest: Vec<String> = tokio::time::timeout(Duration::from_secs(5), lines.map(Result::unwrap).collect()).await.expect("the stream ends with the process");
    assert_eq!(rest, vec!["c"]);

    let pod = wait_pod(&pods, "talker", "Succeeded", |p| phase(p) == Some("Succeeded")).await;
    assert_eq!(terminated(&pod).unwrap().exit_code, 0);
    assert_eq!(pods.logs("talker", &LogParams::default()).await.unwrap(), "a\nb\nc\n");
}

#[tokio::test]
async fn on_failure_runs_the_command_again_with_the_previous_log_kept() {
    let sandbox = TestSandbox::start_with_args("runcmd-retry", &["--run-commands"]);
    let pods: Api<Pod> = Api::namespaced(sandbox.client().await, "default");
    // Fails on the first run, succeeds on the second: the emptyDir keeps the count.
    let script = "n=$(cat /scratch/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /scratch/n; echo run $n; [ $n -ge 2 ]";
    let manifest: Pod =
        serde_json::from_value(json!({"metadata": {"name": "retry", "annotations": {RUN_COMMAND: "true", "sandbox.kdeck.dev/backoff-seconds": "0.2"}},
        "spec": {"restartPolicy": "OnFailure", "volumes": [{"name": "work", "emptyDir": {}}],
            "containers": [{"name": "app", "image": "busybox", "command": ["sh", "-c", script], "volumeMounts": [{"name": "work", "mountPath": "/scratch"}]}]}}))
        .unwrap();
    pods.create(&PostParams::default(), &manifest).await.unwrap();

    let pod = wait_pod(&pods, "retry", "Succeeded", |p| phase(p) == Some("Succeeded")).await;
    let status = &pod.status.unwrap().container_statuses.unwrap()[0];
    assert_eq!(status.restart_count, 1);
    let last = status.last_state.as_ref().unwrap().terminated.as_ref().unwrap();
    assert_eq!((last.exit_code, last.reason.as_deref()), (1, Some("Error")));
    assert_eq!(pods.logs("retry", &LogParams::default()).await.unwrap(), "run 2\n");
    assert_eq!(pods.logs("retry", &LogParams { previous: true, ..Default::default() }).await.unwrap(), "run 1\n");
}

#[tokio::test]
async fn deleting_the_pod_stops_the_process_and_its_children() {
    let sandbox = TestSandbox::start_with_args("runcmd-delete", &["--run-commands"]);
    let pods: Api<Pod> = Api::namespaced(sandbox.client().await, "default");
    // `sleep` runs as the shell's child: both must go.
    let polite = unique_seconds(30);
    pods.create(&PostParams::default(), &pod("sleeper", "Never", json!({RUN_COMMAND: "true"}), json!(["sh", "-c", format!("sleep {polite}; echo never")])))
        .await
        .unwrap();
    // This one ignores SIGTERM (so does its child): SIGKILL comes after the grace period.
    let stubborn = unique_seconds(31);
    let script = format!("trap '' TERM; sleep {stubborn}; echo never");
    pods.create(&PostParams::default(), &pod("stubborn", "Never", json!({RUN_COMMAND: "true"}), json!(["sh", "-c", script]))).await.unwrap();
    for (name, marker) in [("sleeper", &polite), ("stubborn", &stubborn)] {
        wait_pod(&pods, name, "running", running).await;
        let started = Instant::now();
        while processes_with(&format!("sleep\0{marker}")).is_empty() {
            assert!(started.elapsed() < Duration::from_secs(5), "{name}'s sleep never started");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(processes_with(marker).len(), 2, "the shell and its sleep");
    }

    let started = Instant::now();
    pods.delete("sleeper", &DeleteParams::default()).await.unwrap();
    wait_gone(&pods, "sleeper").await;
    assert!(started.elapsed() < Duration::from_secs(5), "stopped on SIGTERM, well within the 30 s grace period");
    assert_eq!(processes_with(&polite), Vec::<String>::new(), "no process of the pod remains");

    let started = Instant::now();
    pods.delete("stubborn", &DeleteParams { grace_period_seconds: Some(1), ..Default::default() }).await.unwrap();
    wait_gone(&pods, "stubborn").await;
    assert!(started.elapsed() >= Duration::from_millis(900), "SIGTERM is ignored until the grace period ends");
    assert_eq!(processes_with(&stubborn), Vec::<String>::new(), "SIGKILL after the grace period");
}

async fn wait_gone(pods: &Api<Pod>, name: &str) {
    for _ in 0..100 {
        if pods.get_opt(name).await.unwrap().is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{name} was never deleted");
}

#[tokio::test]
async fn stopping_the_sandbox_stops_the_processes() {
    let sandbox = TestSandbox::start_with_args("runcmd-stop", &["--run-commands"]);
    let pods: Api<Pod> = Api::namespaced(sandbox.client().await, "default");
    let marker = unique_seconds(32);
    pods.create(&PostParams::default(), &pod("long", "Never", json!({RUN_COMMAND: "true"}), json!(["sh", "-c", format!("echo started; sleep {marker}")])))
        .await
        .unwrap();
    wait_pod(&pods, "long", "running", running).await;
    let started = Instant::now();
    while processes_with(&format!("sleep\0{marker}")).is_empty() {
        assert!(started.elapsed() < Duration::from_secs(5), "the sleep never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sandbox.stop();
    assert_eq!(processes_with(&marker), Vec::<String>::new(), "no process outlives the sandbox");

    // After a restart, the container that was running has ended; its log was kept.
    sandbox.start_again();
    let pods: Api<Pod> = Api::namespaced(sandbox.client().await, "default");
    let pod = wait_pod(&pods, "long", "Failed", |p| phase(p) == Some("Failed")).await;
    let ended = terminated(&pod).unwrap();
    assert_eq!((ended.exit_code, ended.reason.as_deref()), (137, Some("ContainerStatusUnknown")));
    assert_eq!(pods.logs("long", &LogParams::default()).await.unwrap(), "started\n");
}

#[tokio::test]
async fn without_the_annotation_containers_stay_simulated() {
    let sandbox = TestSandbox::start("runcmd-off");
    let pods: Api<Pod> = Api::namespaced(sandbox.client().await, "default");
    let scratch = tempfile::tempdir().unwrap();
    let proof = scratch.path().join("ran");
    let command = json!(["sh", "-c", format!("touch {}; echo real; exit 7", proof.display())]);
    pods.create(&PostParams::default(), &pod("plain", "Never", json!({}), command.clone())).await.unwrap();
    // The annotation asks for nothing on a pod that runs forever.
    pods.create(&PostParams::default(), &pod("service", "Always", json!({RUN_COMMAND: "true"}), command)).await.unwrap();

    let plain = wait_pod(&pods, "plain", "Succeeded", |p| phase(p) == Some("Succeeded")).await;
    assert_eq!(terminated(&plain).unwrap().exit_code, 0, "the declared exit, not the command's");
    assert!(!pods.logs("plain", &LogParams::default()).await.unwrap().contains("real"));
    let service = wait_pod(&pods, "service", "running", running).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(running(&pods.get("service").await.unwrap()), "{service:?}");
    assert!(!proof.exists(), "no command ran");
}

#[tokio::test]
async fn without_run_commands_an_opted_in_pod_stays_simulated_and_says_so() {
    let sandbox = TestSandbox::start("runcmd-disabled");
    let client = sandbox.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let command = json!(["sh", "-c", "echo real; exit 7"]);
    pods.create(&PostParams::default(), &pod("optin", "Never", json!({RUN_COMMAND: "true"}), command)).await.unwrap();

    let done = wait_pod(&pods, "optin", "Succeeded", |p| phase(p) == Some("Succeeded")).await;
    assert_eq!(terminated(&done).unwrap().exit_code, 0, "the declared exit, not the command's");
    assert!(!pods.logs("optin", &LogParams::default()).await.unwrap().contains("real"));
    let events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client, "default");
    let said = events.list(&ListParams::default().fields("involvedObject.name=optin")).await.unwrap().items;
    let disabled = said.iter().find(|e| e.reason.as_deref() == Some("RunCommandDisabled")).expect("a RunCommandDisabled event");
    assert!(disabled.message.as_deref().unwrap_or_default().contains("--run-commands"), "{disabled:?}");
    assert_eq!(disabled.type_.as_deref(), Some("Warning"));

    let info = sandbox_info(&sandbox.readonly_client().await).await;
    assert_eq!(info["runCommands"], json!(false), "{info}");
    let status = sandbox.run(&["sandbox", "status", "--name", "runcmd-disabled", "-o", "json"]);
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["runCommands"], json!(false));
}
