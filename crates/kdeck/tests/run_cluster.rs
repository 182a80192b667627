//! `kdeck run` with the kubernetes and job executors against a sandbox: the pod
//! and container chosen, env quoting, stdin, working directory, exit codes,
//! namespace and context precedence, the dry-run plan, RBAC, the errors that say
//! what to do, and Jobs that are cleaned up on every way out.

mod common;

use std::path::Path;

use common::{TestSandbox, wait_object};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, ListParams, PostParams};
use serde_json::{Value, json};

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const GREETING: &str = "it's \"quoted\" $HOME `id` \\ and\na second line";

const PROJECT: &str = r#"
defaults:
  kubernetes:
    context: ${env:TEST_CONTEXT}
    namespace: shop
components:
  api:
    kubernetes: { deployment: api, container: api }
  multi:
    kubernetes: { deployment: api }
  wrongc:
    kubernetes: { deployment: api, container: nope }
  idle:
    kubernetes: { deployment: idle }
  sick:
    kubernetes: { deployment: sick }
  solo:
    kubernetes: { deployment: solo }
tasks:
  where:
    component: api
    executors: [kubernetes]
    workdir: /tmp
    env:
      GREETING: ${env:TEST_GREETING}
      DB_PASSWORD: hunter2-secret
    script: |
      printf 'host=%s\n' "$(hostname)"
      printf 'pwd=%s\n' "$(pwd)"
      printf 'greeting=%s|\n' "$GREETING"
      printf 'arg=%s|\n' "$@"
      echo to-stderr >&2
      exit 3
  upper:
    component: api
    executors: [kubernetes]
    script: tr a-z A-Z
  stop-early:
    component: api
    executors: [kubernetes]
    script: |
      false
      echo not reached
  touch:
    component: api
    executors: [kubernetes]
    script: touch "$1" && ls "$1"
  multi-task: { component: multi, executors: [kubernetes], script: "true" }
  wrongc-task: { component: wrongc, executors: [kubernetes], script: "true" }
  idle-task: { component: idle, executors: [kubernetes], script: "true" }
  sick-task: { component: sick, executors: [kubernetes], script: "true" }
  solo-task: { component: solo, executors: [kubernetes], script: "true" }
  migrate:
    component: api
    executors: [job]
    env: { STEP: two words }
    script: |
      echo "migrating on $(hostname) step=$STEP mode=$APP_MODE"
      echo "args=$*"
      exit ${vars:code}
    vars: { code: "4" }
  slow-job:
    component: api
    executors: [job]
    timeout: 1s
    script: sleep 30
  waiting-job:
    component: api
    executors: [job]
    env: { API_TOKEN: sekrit-value-42 }
    script: |
      test "${#API_TOKEN}" -eq 15
      echo started
      sleep 30
flavors:
  other:
    - { op: replace, path: /defaults/kubernetes/namespace, value: n-flavor }
"#;

fn deployment(name: &str, replicas: i32, annotations: Value, containers: Value) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}, "annotations": annotations}, "spec": {"containers": containers}}}
    }))
    .unwrap()
}

async fn create_namespace(client: &kube::Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    api.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": name}})).unwrap()).await.unwrap();
}

async fn available(client: &kube::Client, ns: &str, name: &str, replicas: i32) {
    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
    wait_object(&api, name, "available", |d| d.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0) == replicas).await;
}

/// Namespace `shop` with: api (2 replicas; containers api and sidecar), idle (0 replicas), sick (never ready); `solo` in several
/// namespaces for the precedence checks.
async fn seed(client: &kube::Client) {
    for ns in ["shop", "n-flag", "n-env", "n-k8s", "n-flavor"] {
        create_namespace(client, ns).await;
    }
    let shop: Api<Deployment> = Api::namespaced(client.clone(), "shop");
    let api_containers = json!([
        {"name": "api", "image": "shop/api:1", "env": [{"name": "APP_MODE", "value": "production"}]},
        {"name": "sidecar", "image": "envoy:1"}
    ]);
    // No run-command annotation: on a sandbox, the job executor adds it to its Job.
    shop.create(&PostParams::default(), &deployment("api", 2, json!({}), api_containers)).await.unwrap();
    shop.create(&PostParams::default(), &deployment("idle", 0, json!({}), json!([{"name": "idle", "image": "x"}]))).await.unwrap();
    let probe = json!({"httpGet": {"path": "/", "port": 80}, "periodSeconds": 1});
    let sick = json!([{"name": "sick", "image": "x", "readinessProbe": probe}]);
    shop.create(&PostParams::default(), &deployment("sick", 1, json!({"sandbox.kdeck.dev/readiness-fail": "true"}), sick)).await.unwrap();
    for ns in ["shop", "n-flag", "n-env", "n-k8s", "n-flavor", "default"] {
        let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
        api.create(&PostParams::default(), &deployment("solo", 1, json!({}), json!([{"name": "solo", "image": "x"}]))).await.unwrap();
    }
    available(client, "shop", "api", 2).await;
    for ns in ["shop", "n-flag", "n-env", "n-k8s", "n-flavor", "default"] {
        available(client, ns, "solo", 1).await;
    }
}

/// `kdeck run` in `dir` with the sandbox's environment and none of the caller's
/// namespace variables.
fn run(sandbox: &TestSandbox, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = sandbox.kdeck();
    cmd.current_dir(dir).env_remove("KDECK_NAMESPACE").env_remove("K8S_NAMESPACE").env_remove("KDECK_FLAVOR").env_remove("KDECK_CONTEXT");
    cmd.env("TEST_CONTEXT", &sandbox.name).env("TEST_GREETING", GREETING).arg("run").args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(std::process::Stdio::null()).output().unwrap()
}

fn project(dir: &Path, text: &str) {
    std::fs::write(dir.join("kdeck.yaml"), text).unwrap();
}

fn plan(out: &std::process::Output) -> Value {
    assert!(out.status.success(), "dry run failed: {}", stderr(out));
    let plans: Value = serde_json::from_str(&stdout(out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)));
    plans[0].clone()
}

#[tokio::test]
async fn the_kubernetes_executor_runs_in_the_first_ready_pod() {
    let sandbox = TestSandbox::start("runk8s");
    let client = sandbox.client().await;
    seed(&client).await;
    let dir = tempfile::tempdir().unwrap();
    project(dir.path(), PROJECT);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "shop");
    let api_pods: Vec<String> =
        pods.list(&ListParams::default().labels("app=api")).await.unwrap().items.iter().map(|p| p.metadata.name.clone().unwrap()).collect();

    // Output streams, env arrives byte for byte, args and workdir, exit code passes through.
    let out = run(&sandbox, dir.path(), &["where", "--", "one two", "$three"], &[]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let text = stdout(&out);
    let host = text.lines().find_map(|l| l.strip_prefix("host=")).expect("host line");
    assert!(api_pods.contains(&host.to_string()), "ran in {host}, not one of {api_pods:?}");
    assert!(stderr(&out).contains(&format!("in pod shop/{host} (container api)")), "the pod is named: {}", stderr(&out));
    assert!(text.contains("pwd=/tmp\n"), "{text}");
    assert!(text.contains(&format!("greeting={GREETING}|\n")), "{text}");
    assert!(text.contains("arg=one two|\narg=$three|\n"), "{text}");
    assert!(stderr(&out).contains("to-stderr"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("hunter2") && !text.contains("hunter2"));

    // stdin reaches the script; set -e stops at the first failure.
    let mut child = sandbox.kdeck();
    child.current_dir(dir.path()).env("TEST_CONTEXT", &sandbox.name).args(["run", "upper"]);
    let child = child.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let mut child = child;
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"shout\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "SHOUT\n");
    let out = run(&sandbox, dir.path(), &["stop-early"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!stdout(&out).contains("not reached"));

    // The dry run names pod, container and masked env, and runs nothing.
    let marker = dir.path().join("touched");
    let out = run(&sandbox, dir.path(), &["touch", "--dry-run", "--", marker.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("pod:") && stdout(&out).contains("container:"), "{}", stdout(&out));
    assert!(!marker.exists(), "a dry run runs nothing");
    let plan = plan(&run(&sandbox, dir.path(), &["where", "--dry-run", "-o", "json"], &[]));
    assert!(plan["pod"].as_str().unwrap().contains("first ready pod of deploy/api"), "{plan}");
    assert_eq!(plan["container"], "api");
    assert!(plan["env"].as_str().unwrap().contains("DB_PASSWORD=******"), "{plan}");
    assert!(!plan.to_string().contains("hunter2"), "secrets never appear in plans");
    // The task runs in the pod, whose /tmp is its own: the host's stays untouched.
    let out = run(&sandbox, dir.path(), &["touch", "--", "/tmp/kdeck-run-touched"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "/tmp/kdeck-run-touched\n");
    assert!(!Path::new("/tmp/kdeck-run-touched").exists(), "the pod's /tmp is not the host's");

    // Errors that say what to do.
    let out = run(&sandbox, dir.path(), &["solo-task", "-n", "nope"], &[]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("namespace \"nope\" not found") && stderr(&out).contains("shop"), "{}", stderr(&out));
    // A dry run whose namespace does not exist still shows its plan, the problem marked.
    let out = run(&sandbox, dir.path(), &["solo-task", "-n", "nope", "--dry-run"], &[]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let shown = stdout(&out);
    assert!(shown.contains("namespace: nope (from --namespace)") && shown.contains("problem:   namespace \"nope\" not found"), "{shown}");
    assert!(stderr(&out).contains("the dry run found a problem: namespace \"nope\" not found"), "{}", stderr(&out));
    let out = run(&sandbox, dir.path(), &["solo-task", "-n", "nope", "--dry-run", "-o", "json"], &[]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let plans: Value = serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("one JSON document ({e}): {}", stdout(&out)));
    assert!(plans[0]["problem"].as_str().unwrap().contains("namespace \"nope\" not found"), "{plans}");
    assert!(plans[0]["context"].is_string(), "{plans}");
    let out = run(&sandbox, dir.path(), &["idle-task"], &[]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("no pods for deploy/idle") && stderr(&out).contains("selector used: app=idle"), "{}", stderr(&out));
    assert!(stderr(&out).contains("0 wanted"), "{}", stderr(&out));
    let out = run(&sandbox, dir.path(), &["sick-task"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("has no ready pod") && stderr(&out).contains("sick-"), "{}", stderr(&out));
    let out = run(&sandbox, dir.path(), &["wrongc-task"], &[]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("container \"nope\"") && stderr(&out).contains("api, sidecar"), "{}", stderr(&out));
    let out = run(&sandbox, dir.path(), &["multi-task"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("api, sidecar") && stderr(&out).contains("components.multi.kubernetes.container"), "{}", stderr(&out));

    // RBAC is checked first, and the missing permission named.
    let readonly = format!("{}-readonly", sandbox.name);
    let out = run(&sandbox, dir.path(), &["touch", "--context", &readonly, "--", marker.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("may not create pods/exec in namespace shop"), "{}", stderr(&out));
}

#[tokio::test]
async fn namespace_and_context_follow_their_precedence() {
    let sandbox = TestSandbox::start("runns");
    let client = sandbox.client().await;
    seed(&client).await;
    let dir = tempfile::tempdir().unwrap();
    project(dir.path(), PROJECT);
    let namespace_of = |args: &[&str], env: &[(&str, &str)]| -> String {
        let mut all = vec!["solo-task", "--dry-run", "-o", "json"];
        all.extend_from_slice(args);
        plan(&run(&sandbox, dir.path(), &all, env))["namespace"].as_str().unwrap().to_string()
    };
    let every = [("KDECK_NAMESPACE", "n-env"), ("K8S_NAMESPACE", "n-k8s")];
    assert_eq!(namespace_of(&["-n", "n-flag", "--flavor", "other"], &every), "n-flag (from --namespace)");
    assert_eq!(namespace_of(&["--flavor", "other"], &every), "n-env (from KDECK_NAMESPACE)");
    assert_eq!(namespace_of(&["--flavor", "other"], &every[1..]), "n-k8s (from K8S_NAMESPACE)");
    assert!(namespace_of(&["--flavor", "other"], &[]).starts_with("n-flavor (from flavor other"));
    assert!(namespace_of(&[], &[("KDECK_FLAVOR", "other")]).starts_with("n-flavor (from flavor other"));
    assert_eq!(namespace_of(&[], &[]), "shop (from defaults.kubernetes.namespace)");
    // Without one in the config: the context's namespace (the sandbox's is default).
    let bare = tempfile::tempdir().unwrap();
    project(bare.path(), "tasks:\n  t: { component: solo, executors: [kubernetes], script: 'true' }\ncomponents:\n  solo: { kubernetes: {} }\n");
    let plan_bare = plan(&run(&sandbox, bare.path(), &["t", "--dry-run", "-o", "json", "--context", &sandbox.name], &[]));
    assert_eq!(plan_bare["namespace"], format!("default (the namespace of context {})", sandbox.name));
    // Context: the flag over the config (an unknown one is refused before any request).
    let out = run(&sandbox, dir.path(), &["solo-task", "--dry-run", "--context", "elsewhere"], &[]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("context \"elsewhere\" is not in the kubeconfig"), "{}", stderr(&out));
    assert!(
        plan(&run(&sandbox, dir.path(), &["solo-task", "--dry-run", "-o", "json"], &[]))["context"].as_str().unwrap().contains("defaults.kubernetes.context")
    );
}

#[tokio::test]
async fn the_job_executor_refuses_a_sandbox_that_would_only_pretend_to_run_the_task() {
    // A sandbox without --run-commands simulates containers: a Job there would
    // "succeed" without running anything, so the executor refuses, before any change.
    let sandbox = TestSandbox::start("runjobsim");
    let client = sandbox.client().await;
    seed(&client).await;
    let dir = tempfile::tempdir().unwrap();
    project(dir.path(), PROJECT);
    let out = run(&sandbox, dir.path(), &["migrate"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("does not run commands") && err.contains("--run-commands"), "names the opt-in: {err}");
    let jobs: Api<Job> = Api::namespaced(client.clone(), "shop");
    assert_no_task_jobs(&jobs).await;
}

#[tokio::test]
async fn the_job_executor_runs_a_fresh_pod_from_the_template_and_deletes_it() {
    // The Job's pod runs the task for real only in a sandbox started with --run-commands.
    let sandbox = TestSandbox::start_with_args("runjob", &["--run-commands"]);
    let client = sandbox.client().await;
    seed(&client).await;
    let dir = tempfile::tempdir().unwrap();
    project(dir.path(), PROJECT);
    let jobs: Api<Job> = Api::namespaced(client.clone(), "shop");

    // A dry run shows the Job and creates nothing.
    let plan = plan(&run(&sandbox, dir.path(), &["migrate", "--dry-run", "-o", "json"], &[]));
    assert!(plan["job"].as_str().unwrap().contains("from the pod template of deploy/api"), "{plan}");
    assert!(plan["container"].as_str().unwrap().starts_with("api (image shop/api:1)"), "{plan}");
    assert!(jobs.list(&ListParams::default()).await.unwrap().items.is_empty());

    // The task's output and exit code; the template's env; the Job is gone afterwards.
    let out = run(&sandbox, dir.path(), &["migrate", "--", "--fast"], &[]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("migrating on kdeck-migrate-") && text.contains("step=two words mode=production"), "{text}");
    assert!(text.contains("args=--fast"), "{text}");
    assert!(stderr(&out).contains("in job shop/kdeck-migrate-"), "{}", stderr(&out));
    assert_no_task_jobs(&jobs).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "shop");
    for _ in 0..50 {
        if pods.list(&ListParams::default().labels("kdeck.dev/purpose=task")).await.unwrap().items.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(pods.list(&ListParams::default().labels("kdeck.dev/purpose=task")).await.unwrap().items.is_empty(), "its pod is gone too");
    // RBAC first: credentials that may not create Jobs are told so, and nothing is created.
    let out = run(&sandbox, dir.path(), &["migrate", "--context", &format!("{}-readonly", sandbox.name)], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("may not create jobs.batch in namespace shop"), "{}", stderr(&out));
    assert_no_task_jobs(&jobs).await;

    // A timeout and a Ctrl-C delete the Job too.
    let out = run(&sandbox, dir.path(), &["slow-job"], &[]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("ran out of time after 1s"), "{}", stderr(&out));
    assert_no_task_jobs(&jobs).await;
    let mut child = sandbox.kdeck();
    child.current_dir(dir.path()).env("TEST_CONTEXT", &sandbox.name).args(["run", "waiting-job"]);
    let mut child = child.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    assert_eq!(lines.next().unwrap().unwrap(), "started");
    let running = jobs.list(&ListParams::default().labels("kdeck.dev/purpose=task")).await.unwrap().items;
    assert_eq!(running.len(), 1);
    // The task's env is in a Secret owned by the Job, not in the Job or its pod.
    let job_name = running[0].metadata.name.clone().unwrap();
    assert!(!serde_json::to_string(&running[0]).unwrap().contains("sekrit-value-42"));
    let task_pods = pods.list(&ListParams::default().labels("kdeck.dev/purpose=task")).await.unwrap().items;
    assert!(!serde_json::to_string(&task_pods).unwrap().contains("sekrit-value-42"));
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client.clone(), "shop");
    let secret = secrets.get(&job_name).await.unwrap();
    assert_eq!(secret.metadata.owner_references.unwrap()[0].name, job_name);
    // SAFETY: kill has no memory-safety preconditions; the pid is our child's.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert_no_task_jobs(&jobs).await;
    assert!(secrets.get_opt(&job_name).await.unwrap().is_none(), "the Secret is deleted with the Job");

    // The serving replicas were left alone.
    let api: Api<Deployment> = Api::namespaced(client.clone(), "shop");
    assert_eq!(api.get("api").await.unwrap().status.unwrap().ready_replicas, Some(2));
}

async fn assert_no_task_jobs(jobs: &Api<Job>) {
    let left = jobs.list(&ListParams::default().labels("kdeck.dev/purpose=task")).await.unwrap().items;
    assert!(left.iter().all(|j| j.metadata.deletion_timestamp.is_some()), "the Job is deleted: {left:?}");
}
