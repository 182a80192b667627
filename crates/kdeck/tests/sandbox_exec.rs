//! `exec` end to end through kube-rs (`Api::exec` with `AttachParams`, WebSocket
//! v5/v4): real processes confined to the pod's environment, volumes, hostname and
//! working directory; exit statuses; stdin and terminals; errors as the real
//! apiserver and kubelet give them.

mod common;

use std::time::Duration;

use common::{TestSandbox, wait_pod};
use futures::SinkExt;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::api::{Api, AttachParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Output {
    stdout: String,
    stderr: String,
    status: Option<Status>,
}

impl Output {
    /// The exit code the status reports (0 for Success).
    fn code(&self) -> i32 {
        let status = self.status.as_ref().expect("a status on channel 3");
        if status.status.as_deref() == Some("Success") {
            return 0;
        }
        let cause = status.details.as_ref().and_then(|d| d.causes.as_ref()).and_then(|c| c.first()).expect("an ExitCode cause");
        assert_eq!(cause.reason.as_deref(), Some("ExitCode"));
        cause.message.as_deref().and_then(|m| m.parse().ok()).expect("a numeric exit code")
    }
}

/// Runs `command`, feeding `input` to stdin (then closing it) when given.
async fn exec(pods: &Api<Pod>, pod: &str, command: &[&str], ap: &AttachParams, input: Option<&[u8]>) -> Output {
    let mut attached = pods.exec(pod, command.iter().copied(), ap).await.expect("exec upgraded");
    if let (Some(input), Some(mut stdin)) = (input, attached.stdin()) {
        stdin.write_all(input).await.unwrap();
        stdin.shutdown().await.unwrap();
    }
    let read = |r: Option<tokio::io::ReadHalf<tokio::io::SimplexStream>>| async move {
        let mut text = String::new();
        if let Some(mut r) = r {
            r.read_to_string(&mut text).await.unwrap();
        }
        text
    };
    let (stdout, stderr) = (attached.stdout(), attached.stderr());
    let status = attached.take_status().expect("status future");
    let (stdout, stderr, status) =
        tokio::time::timeout(Duration::from_secs(20), async { tokio::join!(read(stdout), read(stderr), status) }).await.expect("exec finished in time");
    Output { stdout, stderr, status }
}

fn run(cmd: &[&str]) -> Vec<String> {
    cmd.iter().map(|s| s.to_string()).collect()
}

async fn create_running(pods: &Api<Pod>, pod: Value) -> Pod {
    let name = pod["metadata"]["name"].as_str().unwrap().to_string();
    pods.create(&PostParams::default(), &serde_json::from_value(pod).unwrap()).await.unwrap();
    wait_pod(pods, &name, "running", all_running).await
}

async fn apply(client: &kube::Client, obj: Value) {
    let kind = obj["kind"].as_str().unwrap().to_lowercase();
    let name = obj["metadata"]["name"].as_str().unwrap().to_string();
    let params = PatchParams::apply("test").force();
    match kind.as_str() {
        "configmap" => {
            drop(Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(client.clone(), "default").patch(&name, &params, &Patch::Apply(obj)).await.unwrap())
        }
        "secret" => {
            drop(Api::<k8s_openapi::api::core::v1::Secret>::namespaced(client.clone(), "default").patch(&name, &params, &Patch::Apply(obj)).await.unwrap())
        }
        other => panic!("unexpected kind {other}"),
    }
}

#[tokio::test]
async fn exec_runs_commands_in_the_containers_environment() {
    let sandbox = TestSandbox::start("exec-env");
    let client = sandbox.client().await;
    apply(&client, json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"greeting": "hello", "mode": "fast"}})).await;
    apply(&client, json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sec"}, "stringData": {"password": "s3cret"}})).await;
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let pod = create_running(
        &pods,
        json!({"metadata": {"name": "envpod"}, "spec": {"containers": [{
        "name": "app", "image": "busybox", "workingDir": "/srv/app-nowhere",
        "env": [
            {"name": "PLAIN", "value": "literal value"},
            {"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "greeting"}}},
            {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "password"}}},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "POD_NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
        "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"}, {"secretRef": {"name": "sec"}}]}]}}),
    )
    .await;
    let ap = AttachParams::default();

    let out = exec(&pods, "envpod", &["sh", "-c", "env; echo host=$(hostname); echo pwd=$(pwd)"], &ap, None).await;
    let ip = pod.status.and_then(|s| s.pod_ip).unwrap();
    for expected in [
        "PLAIN=literal value".to_string(),
        "GREETING=hello".into(),
        "PASSWORD=s3cret".into(),
        "password=s3cret".into(),
        "CFG_greeting=hello".into(),
        "CFG_mode=fast".into(),
        "POD_NAME=envpod".into(),
        "POD_NS=default".into(),
        format!("POD_IP={ip}"),
        "HOSTNAME=envpod".into(),
        "host=envpod".into(),
        "pwd=/srv/app-nowhere".into(),
    ] {
        assert!(out.stdout.lines().any(|l| l == expected), "{expected} missing from:\n{}", out.stdout);
    }
    assert_eq!(out.code(), 0);
    assert_eq!(out.status.unwrap().status.as_deref(), Some("Success"));
    // Only the pod's variables: nothing leaks from the sandbox's own environment.
    assert!(!out.stdout.contains("KDECK_HOME"), "{}", out.stdout);
    // The working directory exists only in the exec's view.
    assert!(!std::path::Path::new("/srv/app-nowhere").exists());

    let out = exec(&pods, "envpod", &["sh", "-c", "echo out; echo err >&2; exit 3"], &ap, None).await;
    assert_eq!((out.stdout.as_str(), out.stderr.as_str(), out.code()), ("out\n", "err\n", 3));
    let status = out.status.unwrap();
    assert_eq!(status.status.as_deref(), Some("Failure"));
    assert_eq!(status.reason.as_deref(), Some("NonZeroExitCode"));
    assert_eq!(
        status.message.as_deref(),
        Some("command terminated with non-zero exit code: error executing command [sh -c echo out; echo err >&2; exit 3], exit code 3")
    );

    // argv is passed as is, never through a shell.
    let out = exec(&pods, "envpod", &["echo", "$HOME;", "`id`"], &ap, None).await;
    assert_eq!(out.stdout, "$HOME; `id`\n");

    let out = exec(&pods, "envpod", &["no-such-command", "x"], &ap, None).await;
    assert_eq!(out.code(), 127);
    assert!(out.stderr.contains("\"no-such-command\": executable file not found in $PATH"), "{}", out.stderr);
}

#[tokio::test]
async fn exec_sees_the_pods_volumes_and_leaves_the_host_alone() {
    let sandbox = TestSandbox::start("exec-volumes");
    let client = sandbox.client().await;
    apply(&client, json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "site"}, "data": {"index.html": "<h1>hi</h1>"}})).await;
    let claims: Api<k8s_openapi::api::core::v1::PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    let claim = json!({"metadata": {"name": "store"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}});
    claims.create(&PostParams::default(), &serde_json::from_value(claim).unwrap()).await.unwrap();
    // Until PVC binding exists, mark the claim bound so the pod schedules.
    claims.patch_status("store", &PatchParams::default(), &Patch::Merge(json!({"status": {"phase": "Bound"}}))).await.unwrap();
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let mounts = json!([
        {"name": "scratch", "mountPath": "/kdeck-exec-test-data"},
        {"name": "scratch", "mountPath": "/kdeck-exec-test-ro", "readOnly": true},
        {"name": "site", "mountPath": "/usr/share/kdeck-exec-test-html"},
        {"name": "store", "mountPath": "/kdeck-exec-test-store"}]);
    let volumes = json!([
        {"name": "scratch", "emptyDir": {}},
        {"name": "site", "configMap": {"name": "site"}},
        {"name": "store", "persistentVolumeClaim": {"claimName": "store"}}]);
    for name in ["writer", "other"] {
        create_running(
            &pods,
            json!({"metadata": {"name": name}, "spec": {"containers": [{"name": "app", "image": "busybox", "volumeMounts": mounts}], "volumes": volumes}}),
        )
        .await;
    }
    let ap = AttachParams::default();

    let out = exec(&pods, "writer", &["sh", "-c", "echo kept > /kdeck-exec-test-data/file && echo claimed > /kdeck-exec-test-store/file"], &ap, None).await;
    assert_eq!(out.code(), 0, "{}", out.stderr);
    // A second exec sees what the first wrote, also through the read-only mount.
    let out =
        exec(&pods, "writer", &["cat", "/kdeck-exec-test-data/file", "/kdeck-exec-test-ro/file", "/usr/share/kdeck-exec-test-html/index.html"], &ap, None)
            .await;
    assert_eq!(out.stdout, "kept\nkept\n<h1>hi</h1>");
    let out = exec(&pods, "writer", &["sh", "-c", "echo x > /kdeck-exec-test-ro/nope"], &ap, None).await;
    assert_ne!(out.code(), 0);
    assert!(out.stderr.contains("Read-only file system"), "{}", out.stderr);
    let out = exec(&pods, "writer", &["sh", "-c", "echo x > /usr/share/kdeck-exec-test-html/new"], &ap, None).await;
    assert!(out.stderr.contains("Read-only file system"), "configMap volumes are read-only: {}", out.stderr);

    // emptyDir is the pod's own; the claim is shared.
    let out = exec(&pods, "other", &["sh", "-c", "ls /kdeck-exec-test-data; cat /kdeck-exec-test-store/file"], &ap, None).await;
    assert_eq!(out.stdout, "claimed\n");

    // The host's tree is visible, but the mount points exist only in the view.
    let out = exec(&pods, "writer", &["ls", "/usr/bin/env"], &ap, None).await;
    assert_eq!(out.code(), 0);
    for path in ["/kdeck-exec-test-data", "/kdeck-exec-test-ro", "/kdeck-exec-test-store", "/usr/share/kdeck-exec-test-html"] {
        assert!(!std::path::Path::new(path).exists(), "{path} was created on the host");
    }
}

#[tokio::test]
async fn exec_forwards_stdin_and_runs_terminals() {
    let sandbox = TestSandbox::start("exec-stdin");
    let pods: Api<Pod> = Api::namespaced(sandbox.client().await, "default");
    create_running(&pods, json!({"metadata": {"name": "shell"}, "spec": {"containers": [{"name": "sh", "image": "alpine"}]}})).await;

    // stdin until EOF (the v5 close signal).
    let ap = AttachParams::default().stdin(true);
    let out = exec(&pods, "shell", &["sh", "-c", "wc -l; echo done"], &ap, Some(b"one\ntwo\nthree\n")).await;
    assert_eq!(out.stdout.split_whitespace().collect::<Vec<_>>(), ["3", "done"]);

    // A terminal: a real pty, resized from channel 4, Ctrl-C as a byte.
    let ap = AttachParams::interactive_tty();
    let mut attached = pods.exec("shell", run(&["sh"]), &ap).await.unwrap();
    let mut resize = attached.terminal_size().unwrap();
    resize.send(kube::api::TerminalSize { width: 100, height: 30 }).await.unwrap();
    let mut stdin = attached.stdin().unwrap();
    let mut stdout = attached.stdout().unwrap();
    let status = attached.take_status().unwrap();
    let reader = tokio::spawn(async move {
        let mut text = Vec::new();
        let _ = stdout.read_to_end(&mut text).await;
        String::from_utf8_lossy(&text).into_owned()
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    stdin.write_all(b"tty; stty size; echo $TERM\n").await.unwrap();
    stdin.write_all(b"sleep 30\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stdin.write_all(b"\x03").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stdin.write_all(b"exit 4\n").await.unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), status).await.expect("Ctrl-C stopped the sleep").unwrap();
    let text = tokio::time::timeout(Duration::from_secs(5), reader).await.unwrap().unwrap();
    assert!(text.contains("/dev/pts/"), "{text}");
    assert!(text.contains("30 100"), "{text}");
    assert!(text.contains("xterm"), "{text}");
    assert!(text.contains("^C"), "{text}");
    assert_eq!(status.details.unwrap().causes.unwrap()[0].message.as_deref(), Some("4"));
}

/// The API error refusing the upgrade: code and message.
async fn refused(pods: &Api<Pod>, pod: &str, ap: &AttachParams) -> (u16, String) {
    match pods.exec(pod, ["true"], ap).await {
        Err(kube::Error::Api(status)) => (status.code, status.message),
        Err(other) => panic!("expected a refused upgrade, got {other}"),
        Ok(_) => panic!("expected a refused upgrade, got a session"),
    }
}

#[tokio::test]
async fn exec_errors_are_worded_like_the_real_servers() {
    let sandbox = TestSandbox::start("exec-errors");
    let client = sandbox.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    create_running(&pods, json!({"metadata": {"name": "web"}, "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}})).await;
    let unschedulable = json!({"metadata": {"name": "nowhere"}, "spec": {"nodeSelector": {"disk": "none"}, "containers": [{"name": "c", "image": "nginx"}]}});
    pods.create(&PostParams::default(), &serde_json::from_value(unschedulable).unwrap()).await.unwrap();

    let ap = AttachParams::default();
    assert_eq!(refused(&pods, "web", &AttachParams::default().container("nope")).await, (400, "container nope is not valid for pod web".to_string()));
    assert_eq!(refused(&pods, "nowhere", &ap).await, (400, "pod nowhere does not have a host assigned".to_string()));
    assert_eq!(refused(&pods, "missing", &ap).await, (404, "pods \"missing\" not found".to_string()));

    // exec is a create of pods/exec: the read-only user may not.
    let readonly: Api<Pod> = Api::namespaced(sandbox.readonly_client().await, "default");
    let (code, message) = refused(&readonly, "web", &ap).await;
    assert_eq!(code, 403);
    assert!(message.contains("cannot create resource \"pods/exec\""), "{message}");
}

/// Waits until the pod with `name` is a new one (another uid) whose containers run.
async fn wait_replaced(pods: &Api<Pod>, name: &str, old_uid: &Option<String>) {
    wait_pod(pods, name, "replaced and running", |p| p.metadata.uid != *old_uid && all_running(p)).await;
}

fn all_running(pod: &Pod) -> bool {
    pod.status.as_ref().and_then(|s| s.container_statuses.as_ref()).is_some_and(|cs| cs.iter().all(|c| c.state.as_ref().is_some_and(|s| s.running.is_some())))
}

#[tokio::test]
async fn a_statefulsets_data_on_its_claim_survives_deleting_its_pod() {
    use k8s_openapi::api::apps::v1::StatefulSet;
    let sandbox = TestSandbox::start("stsdata");
    let client = sandbox.client().await;
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let db: StatefulSet = serde_json::from_value(json!({"metadata": {"name": "db"}, "spec": {"serviceName": "db", "replicas": 1,
        "selector": {"matchLabels": {"app": "db"}},
        "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "postgres", "image": "postgres:16",
            "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql/data"}]}]}},
        "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}}))
    .unwrap();
    sets.create(&PostParams::default(), &db).await.unwrap();
    let pods: Api<Pod> = Api::namespaced(client, "default");
    wait_replaced(&pods, "db-0", &None).await;
    let ap = AttachParams::default();
    let wrote = exec(&pods, "db-0", &["sh", "-c", "echo 'row 1' > /var/lib/postgresql/data/table && cat /var/lib/postgresql/data/table"], &ap, None).await;
    assert_eq!((wrote.code(), wrote.stdout.as_str()), (0, "row 1\n"), "{}", wrote.stderr);

    let uid = pods.get("db-0").await.unwrap().metadata.uid;
    pods.delete("db-0", &Default::default()).await.unwrap();
    wait_replaced(&pods, "db-0", &uid).await;
    let read = exec(&pods, "db-0", &["cat", "/var/lib/postgresql/data/table"], &ap, None).await;
    assert_eq!((read.code(), read.stdout.as_str()), (0, "row 1\n"), "the new db-0 sees what the old one wrote: {}", read.stderr);
}

#[tokio::test]
async fn attach_streams_the_containers_output_until_it_stops() {
    let sandbox = TestSandbox::start("attach");
    let pods: Api<Pod> = Api::namespaced(sandbox.client().await, "default");
    create_running(
        &pods,
        json!({"metadata": {"name": "talk", "annotations": {"sandbox.kdeck.dev/log-rate": "20", "sandbox.kdeck.dev/termination-seconds": "0"}},
        "spec": {"containers": [{"name": "app", "image": "example/app:1"}]}}),
    )
    .await;
    let mut attached = pods.attach("talk", &AttachParams::default().stdin(false).stdout(true).stderr(false)).await.expect("attach upgraded");
    let mut stdout = attached.stdout().expect("stdout");
    let mut buffer = vec![0u8; 4096];
    let mut seen = String::new();
    while !seen.contains("request handled") {
        let n = tokio::time::timeout(Duration::from_secs(5), stdout.read(&mut buffer)).await.expect("output in time").unwrap();
        assert!(n > 0, "the stream ended early");
        seen.push_str(&String::from_utf8_lossy(&buffer[..n]));
    }
    // Deleting the pod stops the container: attach ends with a Success status.
    pods.delete("talk", &Default::default()).await.unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), attached.take_status().unwrap()).await.expect("status in time").expect("a status");
    assert_eq!(status.status.as_deref(), Some("Success"));
    let (code, message) = refused_attach(&pods, "nope").await;
    assert_eq!(code, 404, "{message}");
}

async fn refused_attach(pods: &Api<Pod>, pod: &str) -> (u16, String) {
    match pods.attach(pod, &AttachParams::default().stdin(false).stdout(true).stderr(false)).await {
        Err(kube::Error::Api(status)) => (status.code, status.message),
        Err(other) => panic!("expected a refused upgrade, got {other}"),
        Ok(_) => panic!("expected a refused upgrade, got a session"),
    }
}

#[tokio::test]
async fn a_deleted_claims_data_goes_with_it_and_a_new_claim_of_that_name_starts_empty() {
    let sandbox = TestSandbox::start("claimdata");
    let client = sandbox.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let claims: Api<k8s_openapi::api::core::v1::PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    let claim = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}});
    let pod = |name: &str| {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox", "volumeMounts": [{"name": "d", "mountPath": "/data"}]}],
                 "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]}})
    };
    let ap = AttachParams::default().stderr(true);
    claims.create(&PostParams::default(), &serde_json::from_value(claim.clone()).unwrap()).await.unwrap();
    create_running(&pods, pod("writer")).await;
    let out = exec(&pods, "writer", &["sh", "-c", "echo kept > /data/f && cat /data/f"], &ap, None).await;
    assert_eq!(out.stdout, "kept\n", "{}", out.stderr);
    pods.delete("writer", &kube::api::DeleteParams::default().grace_period(0)).await.unwrap();
    claims.delete("data", &Default::default()).await.unwrap();
    for _ in 0..100 {
        if claims.get_opt("data").await.unwrap().is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The volume (reclaim policy Delete) and its data are gone; a new claim of the
    // same name is a new, empty volume, as on a cluster.
    tokio::time::sleep(Duration::from_millis(500)).await;
    claims.create(&PostParams::default(), &serde_json::from_value(claim).unwrap()).await.unwrap();
    create_running(&pods, pod("reader")).await;
    let out = exec(&pods, "reader", &["ls", "-A", "/data"], &ap, None).await;
    assert_eq!((out.code(), out.stdout.as_str()), (0, ""), "{}", out.stderr);
}

/// Env values expand `$(NAME)` of the variables defined before them and of the
/// Services' variables, `$$` is a literal `$`, as the kubelet makes them.
#[tokio::test]
async fn env_values_expand_earlier_variables_as_the_kubelet_does() {
    let sandbox = TestSandbox::start("exec-env-expand");
    let pods: Api<Pod> = Api::namespaced(sandbox.client().await, "default");
    let env = json!([
        {"name": "USER_NAME", "value": "app"},
        {"name": "URL", "value": "postgres://$(USER_NAME)@db:5432/$(DB_NAME)"},
        {"name": "DB_NAME", "value": "shop"},
        {"name": "ESCAPED", "value": "$$(USER_NAME) costs $$5"},
        {"name": "API", "value": "https://$(KUBERNETES_SERVICE_HOST):$(KUBERNETES_SERVICE_PORT)"},
    ]);
    let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "expand"},
        "spec": {"containers": [{"name": "app", "image": "busybox", "env": env}]}}))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    wait_pod(&pods, "expand", "Running", |p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")).await;
    let out = common::exec(&pods, "expand", &["sh", "-c", "printf '%s|%s|%s' \"$URL\" \"$ESCAPED\" \"$API\""]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    // DB_NAME comes after URL, so it stays as written there.
    assert_eq!(out.stdout, "postgres://app@db:5432/$(DB_NAME)|$(USER_NAME) costs $5|https://10.96.0.1:443");
}
