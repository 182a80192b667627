//! `kdeck up`, `status`, `render` and `down` against a sandbox the stack itself
//! starts (provider sandbox), checking the cluster's state afterwards.

mod common;

use std::path::Path;

use common::TestSandbox;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, PersistentVolumeClaim, Secret, Service};
use kube::Api;

use common::project::{Project, stderr, stdout};

const APP: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: api-config}
data: {LOG_LEVEL: info}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  replicas: 2
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
        - name: api
          image: nginx:1.27
          ports: [{containerPort: 80}]
          envFrom: [{configMapRef: {name: api-config}}]
          env: [{name: SECRET_KEY, valueFrom: {secretKeyRef: {name: app-secret, key: SECRET_KEY}}}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: busybox, command: [sleep, "1"]}]
"#;

const SERVICE: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: api}
spec:
  selector: {app: api}
  ports: [{port: 80, targetPort: 80}]
"#;

const STACK: &str = r#"
stack:
  name: shop
  cluster: {name: stack-up}
  secrets:
    - {name: app-secret, namespace: shop, generate: {SECRET_KEY: 24}}
  deploy:
    - namespace: shop
      manifests: [k8s/*.yaml]
"#;

fn config_hash(deployment: &Deployment) -> Option<String> {
    deployment.spec.as_ref()?.template.metadata.as_ref()?.annotations.as_ref()?.get("kdeck.dev/config-hash").cloned()
}

#[tokio::test]
async fn up_applies_waits_prunes_and_is_idempotent_and_down_keeps_the_data() {
    let home = TestSandbox::new("stack-up");
    let project = Project::new(&home, &[("kdeck.yaml", STACK), ("k8s/app.yaml", APP), ("k8s/service.yaml", SERVICE)]);

    let out = project.kdeck(&["up", "--timeout", "90s"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("stack shop is ready"), "{}", stdout(&out));
    assert!(stderr(&out).contains("cluster: sandbox \"stack-up\" (context stack-up): created"), "{}", stderr(&out));
    let client = home.client().await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "shop");
    let api = deployments.get("api").await.unwrap();
    assert_eq!(api.status.as_ref().and_then(|s| s.available_replicas), Some(2), "up returned once the Deployment was available");
    let part_of = api.metadata.labels.as_ref().unwrap().get("applyset.kubernetes.io/part-of").cloned().unwrap();
    let parent = Api::<Secret>::namespaced(client.clone(), "default").get("kdeck-stack-shop").await.unwrap();
    assert_eq!(parent.metadata.labels.as_ref().unwrap()["applyset.kubernetes.io/id"], part_of);
    let kinds = &parent.metadata.annotations.as_ref().unwrap()["applyset.kubernetes.io/contains-group-kinds"];
    assert_eq!(kinds, "ConfigMap,Deployment.apps,Job.batch,Namespace,PersistentVolumeClaim,Service");
    let first_hash = config_hash(&api).expect("the pod template carries the config's hash");
    // The dev secret exists; its generated value is kept privately and never printed.
    let secret = Api::<Secret>::namespaced(client.clone(), "shop").get("app-secret").await.unwrap();
    let value = String::from_utf8(secret.data.unwrap()["SECRET_KEY"].0.clone()).unwrap();
    assert_eq!(value.len(), 24);
    assert!(!stdout(&out).contains(&value) && !stderr(&out).contains(&value));
    let store = project.dir.join(".kdeck/secrets/stack-up.json");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&store).unwrap().permissions().mode() & 0o777, 0o600);

    // A second up with nothing changed changes nothing, and says so.
    let out = project.kdeck(&["up"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("ready; nothing changed"), "{}\n{}", stdout(&out), stderr(&out));

    // A changed ConfigMap: planned as updates, then the Deployment rolls.
    project.write("k8s/app.yaml", &APP.replace("LOG_LEVEL: info", "LOG_LEVEL: debug"));
    let plan = project.kdeck(&["up", "--dry-run"]);
    assert!(plan.status.success(), "{}", stderr(&plan));
    assert!(stdout(&plan).contains("update     ConfigMap/api-config -n shop"), "{}", stdout(&plan));
    assert!(stdout(&plan).contains("update     Deployment/api -n shop"), "{}", stdout(&plan));
    assert!(stdout(&plan).contains("unchanged  Service/api -n shop"), "{}", stdout(&plan));
    assert_eq!(config_hash(&deployments.get("api").await.unwrap()).as_deref(), Some(first_hash.as_str()), "a dry run changes nothing");
    let out = project.kdeck(&["up", "-o", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["result"], "ready");
    let deployment = report["resources"].as_array().unwrap().iter().find(|r| r["kind"] == "Deployment").expect("the Deployment").clone();
    assert_eq!(deployment["state"], "ready", "{deployment}");
    // The rolled pods' timings: scheduled, then started, then ready.
    let seconds = |key: &str| deployment[key].as_f64().unwrap_or_else(|| panic!("{key} in {deployment}"));
    assert!(seconds("scheduledAfter") <= seconds("startedAfter") && seconds("startedAfter") <= seconds("readyAfter") + 0.5, "{deployment}");
    assert!(report["resources"].as_array().unwrap().iter().any(|r| r["kind"] == "ConfigMap" && r["scheduledAfter"].is_null()), "no pods, no timings");
    assert_ne!(config_hash(&deployments.get("api").await.unwrap()), Some(first_hash), "the config change rolled the Deployment");

    // What leaves the rendered set is pruned.
    project.remove("k8s/service.yaml");
    let plan = project.kdeck(&["up", "--dry-run"]);
    assert!(stdout(&plan).contains("prune      Service/api -n shop"), "{}", stdout(&plan));
    let out = project.kdeck(&["up"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(Api::<Service>::namespaced(client.clone(), "shop").get_opt("api").await.unwrap().is_none(), "the Service was pruned");

    let out = project.kdeck(&["status"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("5/5 ready (stack shop, context stack-up)"), "{}", stdout(&out));
    assert!(stdout(&out).lines().any(|l| l.starts_with("Deployment/api") && l.ends_with("ready")), "{}", stdout(&out));

    // down removes what up applied and keeps the claim (and its namespace).
    let out = project.kdeck(&["down"]);
    assert_eq!(out.status.code(), Some(2), "down asks first: {}", stderr(&out));
    let out = project.kdeck(&["down", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(deployments.get_opt("api").await.unwrap().is_none());
    assert!(Api::<PersistentVolumeClaim>::namespaced(client.clone(), "shop").get_opt("data").await.unwrap().is_some(), "the claim is kept");
    assert!(Api::<Namespace>::all(client.clone()).get_opt("shop").await.unwrap().is_some(), "its namespace too");
    assert!(Api::<Secret>::namespaced(client.clone(), "default").get_opt("kdeck-stack-shop").await.unwrap().is_none());
}

#[tokio::test]
async fn broken_resources_fail_fast_with_their_reasons() {
    let home = TestSandbox::new("stack-broken");
    let manifests = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: backend}
spec:
  selector: {matchLabels: {app: backend}}
  template:
    metadata:
      labels: {app: backend}
      annotations: {sandbox.kdeck.dev/run-seconds: "0", sandbox.kdeck.dev/exit-code: "1", sandbox.kdeck.dev/backoff-seconds: "0.2", sandbox.kdeck.dev/crash-log: "connection refused localhost:5432"}
    spec:
      containers: [{name: backend, image: backend:1}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: frontend}
spec:
  selector: {matchLabels: {app: frontend}}
  template:
    metadata: {labels: {app: frontend}}
    spec:
      containers: [{name: web, image: registry.invalid/frontend:1}]
---
apiVersion: v1
kind: Service
metadata: {name: nothing}
spec:
  selector: {app: nobody}
  ports: [{port: 80}]
"#;
    let project = Project::new(
        &home,
        &[
            ("kdeck.yaml", "stack:\n  name: broken\n  cluster: {name: stack-broken}\n  deploy:\n    - {namespace: default, manifests: [k8s.yaml]}\n"),
            ("k8s.yaml", manifests),
        ],
    );
    let started = std::time::Instant::now();
    let out = project.kdeck(&["up", "--timeout", "120s"]);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}\n{}", stdout(&out), stderr(&out));
    assert!(took < std::time::Duration::from_secs(60), "failed fast, not at the timeout: {took:?}");
    let err = stderr(&out);
    assert!(err.contains("resource(s) failed"), "{err}");
    assert!(err.contains("Deployment/backend -n default: FAILED") && err.contains("CrashLoopBackOff"), "{err}");
    assert!(err.contains("Deployment/frontend -n default: FAILED") && err.contains("ImagePullBackOff"), "{err}");
    assert!(err.contains("Service/nothing -n default: pending: no ready endpoints"), "{err}");
}

#[test]
fn bad_stack_configuration_is_refused_before_any_cluster_is_touched() {
    let home = TestSandbox::new("stack-bad");
    let project = Project::new(&home, &[("kdeck.yaml", "stack:\n  deploy:\n    - {kustomize: k8s/missing}\n")]);
    let out = project.kdeck(&["up"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("stack.deploy[0].kustomize: k8s/missing does not exist"), "{}", stderr(&out));
    project.write("kdeck.yaml", "stack:\n  deploy:\n    - {kustomize: k8s, helm: {chart: c}}\n");
    let out = project.kdeck(&["render"]);
    assert!(stderr(&out).contains("stack.deploy[0]: a deploy step takes exactly one of kustomize, helm or manifests"), "{}", stderr(&out));
    project.write("kdeck.yaml", "stack:\n  deploy:\n    - {manifestz: [a.yaml]}\n");
    let out = project.kdeck(&["up"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("manifestz"), "{}", stderr(&out));
    project.write("kdeck.yaml", "tasks: {}\n");
    let out = project.kdeck(&["status"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("has no stack: section"), "{}", stderr(&out));
    assert!(!home.home().join("sandboxes").exists() || std::fs::read_dir(home.home().join("sandboxes")).unwrap().next().is_none(), "no sandbox was started");
    let _ = Path::new("");
}

#[test]
fn render_prints_every_object_with_secrets_masked() {
    let home = TestSandbox::new("stack-render");
    let project = Project::new(
        &home,
        &[
            ("kdeck.yaml", "stack:\n  deploy:\n    - {namespace: shop, manifests: [k8s/*.yaml]}\n"),
            (
                "k8s/a.yaml",
                "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: hunter2}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
            ),
        ],
    );
    let out = project.kdeck(&["render", "-o", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains("hunter2"));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list["items"][0]["stringData"]["password"], "******");
    assert_eq!(list["items"][1]["metadata"]["namespace"], "shop");
    let out = project.kdeck(&["render"]);
    assert!(stdout(&out).contains("# manifests k8s/*.yaml") && !stdout(&out).contains("hunter2"), "{}", stdout(&out));
}

#[tokio::test]
async fn data_survives_down_delete_cluster_and_comes_back_with_up() {
    let home = TestSandbox::new("stack-data");
    let db = r#"
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: pgdata}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: db}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: busybox, volumeMounts: [{name: data, mountPath: /data}]}]
      volumes: [{name: data, persistentVolumeClaim: {claimName: pgdata}}]
"#;
    let project = Project::new(
        &home,
        &[
            ("kdeck.yaml", "stack:\n  name: data\n  cluster: {name: stack-data, keepData: true}\n  deploy:\n    - {namespace: db, manifests: [db.yaml]}\n"),
            ("db.yaml", db),
        ],
    );
    let out = project.kdeck(&["up"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pod_of_db = |client: kube::Client| async move {
        let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client, "db");
        let list = pods.list(&kube::api::ListParams::default().labels("app=db")).await.unwrap();
        let name = list.items.iter().find(|p| p.metadata.deletion_timestamp.is_none()).and_then(|p| p.metadata.name.clone()).unwrap();
        (pods, name)
    };
    let (pods, pod) = pod_of_db(home.client().await).await;
    let written = common::exec(&pods, &pod, &["sh", "-c", "echo kept > /data/row && cat /data/row"]).await;
    assert_eq!(written.stdout.trim(), "kept", "{}", written.stderr);

    let out = project.kdeck(&["down", "--delete-cluster", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("sandbox \"stack-data\" deleted; its volumes' data is kept"), "{}", stdout(&out));
    let out = home.run(&["sandbox", "status", "--name", "stack-data"]);
    assert!(!out.status.success(), "the sandbox is gone");

    let out = project.kdeck(&["up"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("created"), "a new sandbox: {}", stderr(&out));
    let (pods, pod) = pod_of_db(home.client().await).await;
    let read = common::exec(&pods, &pod, &["cat", "/data/row"]).await;
    assert_eq!(read.stdout.trim(), "kept", "the claim's data came back: {}", read.stderr);

    // --delete-data removes it for good.
    let out = project.kdeck(&["down", "--delete-cluster", "--delete-data", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = project.kdeck(&["up"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (pods, pod) = pod_of_db(home.client().await).await;
    assert_ne!(common::exec(&pods, &pod, &["cat", "/data/row"]).await.code, 0, "no data after --delete-data");
}

/// The program on PATH; outside CI a missing one skips the test (CI installs the
/// reference clients first, and fails instead).
fn client(name: &str) -> bool {
    let found = std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()));
    if !found {
        assert!(std::env::var_os("CI").is_none_or(|v| v.is_empty()), "{name} is not on PATH; CI installs it (scripts/install-clients)");
        eprintln!("skipped: {name} is not on PATH (scripts/install-clients installs it)");
    }
    found
}

const CHART: &[(&str, &str)] = &[
    ("charts/backend/Chart.yaml", "apiVersion: v2\nname: backend\nversion: 0.1.0\n"),
    ("charts/backend/values.yaml", "replicaCount: 1\nimage: nginx:1.27\n"),
    (
        "charts/backend/templates/deployment.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n  labels: {app: {{ .Release.Name }}}\nspec:\n  replicas: {{ .Values.replicaCount }}\n  selector: {matchLabels: {app: {{ .Release.Name }}}}\n  template:\n    metadata: {labels: {app: {{ .Release.Name }}}}\n    spec:\n      containers: [{name: app, image: {{ .Values.image | quote }}, ports: [{containerPort: 8000}]}]\n",
    ),
    (
        "charts/backend/templates/service.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: {{ .Release.Name }}-service}\nspec:\n  selector: {app: {{ .Release.Name }}}\n  ports: [{port: 8000, targetPort: 8000}]\n",
    ),
    ("k8s/kustomization.yaml", "namespace: shop\nresources: [redis.yaml]\nconfigMapGenerator:\n  - {name: redis-config, literals: [maxmemory=64mb]}\n"),
    (
        "k8s/redis.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: redis}\nspec:\n  selector: {matchLabels: {app: redis}}\n  template:\n    metadata: {labels: {app: redis}}\n    spec:\n      containers:\n        - name: redis\n          image: redis:7\n          envFrom: [{configMapRef: {name: redis-config}}]\n---\napiVersion: v1\nkind: Service\nmetadata: {name: redis}\nspec:\n  selector: {app: redis}\n  ports: [{port: 6379}]\n",
    ),
];

fn helm_json(project: &Project, args: &[&str]) -> serde_json::Value {
    let out = std::process::Command::new("helm")
        .args(args)
        .args(["--kube-context", "stack-helm", "-o", "json"])
        .env("KUBECONFIG", project.home.kubeconfig())
        .output()
        .unwrap();
    assert!(out.status.success(), "helm {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn kustomize_and_helm_steps_with_the_real_tools() {
    if !client("helm") || !(client("kubectl") || client("kustomize")) {
        return;
    }
    let home = TestSandbox::new("stack-helm");
    let stack = "stack:\n  name: tools\n  cluster: {name: stack-helm}\n  deploy:\n    - kustomize: k8s\n    - helm: {chart: charts/backend, namespace: shop, set: {replicaCount: \"1\"}}\n";
    let mut files = CHART.to_vec();
    files.push(("kdeck.yaml", stack));
    let project = Project::new(&home, &files);

    let out = project.kdeck(&["up", "--timeout", "120s"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains("step 2/2 helm charts/backend (release backend): helm install"), "{}", stderr(&out));
    let client = home.client().await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "shop");
    // kustomize's objects are kdeck's (its configMapGenerator's hashed name resolved)…
    let redis = deployments.get("redis").await.unwrap();
    assert!(redis.metadata.labels.as_ref().unwrap().contains_key("applyset.kubernetes.io/part-of"));
    assert_eq!(redis.status.as_ref().and_then(|s| s.available_replicas), Some(1));
    // …Helm's are Helm's: a real release, its objects waited on.
    let releases = helm_json(&project, &["list", "-n", "shop"]);
    assert_eq!(
        (releases[0]["name"].as_str(), releases[0]["status"].as_str(), releases[0]["revision"].as_str()),
        (Some("backend"), Some("deployed"), Some("1"))
    );
    let backend = deployments.get("backend").await.unwrap();
    assert_eq!(backend.metadata.labels.as_ref().unwrap().get("applyset.kubernetes.io/part-of"), None);
    assert_eq!(backend.status.as_ref().and_then(|s| s.available_replicas), Some(1), "up waited on the release's Deployment");

    let out = project.kdeck(&["up"]);
    assert!(stdout(&out).contains("ready; nothing changed"), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains("helm unchanged"), "{}", stderr(&out));

    project.write("kdeck.yaml", &stack.replace("replicaCount: \"1\"", "replicaCount: \"2\""));
    let plan = project.kdeck(&["up", "--dry-run"]);
    assert!(stdout(&plan).contains("helm charts/backend (release backend) — helm upgrade"), "{}", stdout(&plan));
    let out = project.kdeck(&["up"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(deployments.get("backend").await.unwrap().status.and_then(|s| s.available_replicas), Some(2));
    assert_eq!(helm_json(&project, &["list", "-n", "shop"])[0]["revision"], "2");

    let out = project.kdeck(&["status"]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(stdout(&out).contains("Deployment/backend") && stdout(&out).contains("Service/redis"), "{}", stdout(&out));

    let out = project.kdeck(&["down", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(helm_json(&project, &["list", "-n", "shop"]).as_array().unwrap().is_empty(), "the release is uninstalled");
    assert!(deployments.get_opt("redis").await.unwrap().is_none());
}

#[test]
fn doctor_names_what_up_needs_and_the_permissions_missing() {
    let home = TestSandbox::start("stack-doctor");
    let stack = |context: &str| {
        format!("stack:\n  name: doc\n  cluster: {{provider: context, name: {context}}}\n  deploy:\n    - {{namespace: default, manifests: [k8s/*.yaml]}}\n")
    };
    let project = Project::new(&home, &[("kdeck.yaml", &stack("stack-doctor")), ("k8s/app.yaml", APP), ("k8s/service.yaml", SERVICE)]);
    let out = project.kdeck(&["doctor"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("ok    render     1 step(s), 6 object(s)"), "{text}");
    assert!(text.contains("ok    cluster    context stack-doctor answers at https://127.0.0.1:"), "{text}");
    assert!(text.contains("may get, create, patch and delete everything the stack applies"), "{text}");

    // The read-only context may read but not write: each missing verb is named.
    project.write("kdeck.yaml", &stack("stack-doctor-readonly"));
    let out = project.kdeck(&["doctor", "-o", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["ok"], false);
    let failures: Vec<String> =
        doc["checks"].as_array().unwrap().iter().filter(|c| c["ok"] == false).map(|c| c["detail"].as_str().unwrap().to_string()).collect();
    assert!(failures.iter().any(|f| f == "context \"stack-doctor-readonly\" may not create deployments.apps in namespace default"), "{failures:?}");
    assert!(!failures.iter().any(|f| f.contains("may not get")), "reading is allowed: {failures:?}");
}

#[test]
fn ctrl_c_during_up_says_where_it_stopped_and_up_continues() {
    let home = TestSandbox::new("stack-int");
    let never_ready = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}, annotations: {sandbox.kdeck.dev/readiness-fail: "true"}}
    spec:
      containers: [{name: web, image: nginx:1.27, readinessProbe: {httpGet: {path: /, port: 80}, periodSeconds: 1}}]
"#;
    let project = Project::new(
        &home,
        &[
            ("kdeck.yaml", "stack:\n  name: int\n  cluster: {name: stack-int}\n  deploy:\n    - {namespace: default, manifests: [web.yaml]}\n"),
            ("web.yaml", never_ready),
        ],
    );
    let child = home
        .kdeck()
        .current_dir(&project.dir)
        .args(["up"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once the Deployment is applied and waited on (the sandbox answers), interrupt.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let out = home.kdeck().args(["--context", "stack-int", "logs", "deploy/web", "--no-follow", "--timeout", "5s"]).output().unwrap();
        if out.status.success() || std::time::Instant::now() > deadline {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(stderr(&out).contains("interrupted while waiting for step 1/1 manifests web.yaml (it is applied)"), "{}", stderr(&out));
    assert!(stderr(&out).contains("run `kdeck up` again to continue"), "{}", stderr(&out));

    project.write("web.yaml", &never_ready.replace("sandbox.kdeck.dev/readiness-fail: \"true\"", "team: web"));
    let out = project.kdeck(&["up", "--timeout", "60s"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("stack int is ready"), "{}", stdout(&out));
}

#[tokio::test]
async fn status_watch_prints_changes_until_interrupted() {
    let home = TestSandbox::new("stack-watch");
    let project =
        Project::new(&home, &[("kdeck.yaml", STACK.replace("stack-up", "stack-watch").as_str()), ("k8s/app.yaml", APP), ("k8s/service.yaml", SERVICE)]);
    let out = project.kdeck(&["up"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut child = home
        .kdeck()
        .current_dir(&project.dir)
        .args(["status", "-w"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // A change: the Deployment is broken by an image that does not pull.
    let deployments: Api<Deployment> = Api::namespaced(home.client().await, "shop");
    let patch = serde_json::json!({"spec": {"template": {"spec": {"containers": [{"name": "api", "image": "registry.invalid/api:2"}]}}}});
    deployments.patch("api", &kube::api::PatchParams::default(), &kube::api::Patch::Strategic(&patch)).await.unwrap();
    std::thread::sleep(std::time::Duration::from_millis(3000));
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(status.success(), "{err}");
    assert!(err.contains("watching (Ctrl-C to stop)"), "{err}");
    assert!(err.lines().any(|l| l.contains("Deployment/api -n shop") && l.contains("pending")), "the change was printed: {err}");
}

#[test]
fn an_apply_the_server_refuses_names_the_object_and_what_was_applied() {
    let home = TestSandbox::new("stack-refused");
    let bad = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok-1}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: bad}\nspec:\n  ports: [{port: 99999}]\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: after}\n";
    let project = Project::new(
        &home,
        &[
            (
                "kdeck.yaml",
                "stack:\n  name: refused\n  cluster: {name: stack-refused}\n  deploy:\n    - {namespace: default, manifests: [first.yaml]}\n    - {namespace: default, manifests: [bad.yaml]}\n",
            ),
            ("first.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: first}\n"),
            ("bad.yaml", bad),
        ],
    );
    let out = project.kdeck(&["up"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("applying Service/bad -n default:") && err.contains("99999"), "the object and the server's message: {err}");
    assert!(err.contains("from bad.yaml"), "{err}");
    assert!(err.contains("steps 1-1 are applied and ready; step 2/2 stopped after 1 of its 3 object(s); the steps after it were not applied"), "{err}");
}

/// A child process killed when the test ends, however it ends.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// GETs `/hello` on 127.0.0.1:`port` (HTTP/1.0); the whole response, or None.
fn get(port: u16) -> Option<String> {
    use std::io::{Read, Write};
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(10))).ok()?;
    tcp.write_all(b"GET /hello HTTP/1.0\r\nHost: api\r\n\r\n").ok()?;
    let mut text = String::new();
    tcp.read_to_string(&mut text).ok()?;
    (!text.is_empty()).then_some(text)
}

#[tokio::test]
async fn forward_follows_the_pod_behind_a_service_across_a_restart_and_a_rollout() {
    let home = TestSandbox::new("stack-fwd");
    let local = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let app = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers: [{name: api, image: shop/api:1, ports: [{name: http, containerPort: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: api}
spec:
  selector: {app: api}
  ports: [{port: 80, targetPort: http}]
"#;
    let stack = format!(
        "stack:\n  name: fwd\n  cluster: {{name: stack-fwd}}\n  deploy:\n    - {{namespace: shop, manifests: [app.yaml]}}\n  forward:\n    - {{service: api, namespace: shop, port: 80, local: {local}}}\n"
    );
    let project = Project::new(&home, &[("kdeck.yaml", &stack), ("app.yaml", app)]);
    let out = project.kdeck(&["up"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut child = Killed(
        home.kdeck()
            .current_dir(&project.dir)
            .args(["forward"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let pod_in = |text: &str| text.lines().find_map(|l| l.strip_prefix("Pod: shop/")).map(str::to_string);
    let mut first = None;
    for _ in 0..100 {
        if let Some(text) = get(local) {
            first = pod_in(&text);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let first = first.expect("the forward answered with the pod's simulated server");
    assert!(get(local).is_some_and(|t| t.contains("GET /hello HTTP/1.0")), "the request went through");

    // The pod goes; its replacement is reached through the same local port.
    let client = home.client().await;
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), "shop");
    pods.delete(&first, &Default::default()).await.unwrap();
    let mut second = None;
    for _ in 0..200 {
        if let Some(pod) = get(local).and_then(|t| pod_in(&t)).filter(|p| *p != first) {
            second = Some(pod);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let second = second.expect("a new pod answered after the restart");

    // A rollout: a new ReplicaSet's pod replaces it, and the forward follows again.
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> = Api::namespaced(client.clone(), "shop");
    let restart = serde_json::json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2026-12-08T00:00:00Z"}}}}});
    deployments.patch("api", &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&restart)).await.unwrap();
    let mut third = None;
    for _ in 0..200 {
        if let Some(pod) = get(local).and_then(|t| pod_in(&t)).filter(|p| *p != first && *p != second) {
            third = Some(pod);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let third = third.expect("the rollout's pod answered through the same forward");
    assert!(pods.get_opt(&second).await.unwrap().is_none_or(|p| p.metadata.deletion_timestamp.is_some()), "the rollout replaced {second}");
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(child.0.id() as i32, libc::SIGINT) };
    let status = child.0.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(child.0.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(status.success(), "{err}");
    assert!(err.contains(&format!("forwarding 127.0.0.1:{local} -> svc/api port 80 (namespace shop)")), "{err}");
    assert!(err.contains(&format!("now to pod {second}")), "the change of pod is said: {err}");
    assert!(err.contains(&format!("now to pod {third}")), "the change of pod after the rollout is said: {err}");
}

#[tokio::test]
async fn down_delete_data_removes_the_stacks_claims_and_no_other() {
    let home = TestSandbox::new("stack-claims");
    let sts = r#"
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: pg}
spec:
  serviceName: pg
  selector: {matchLabels: {app: pg}}
  template:
    metadata: {labels: {app: pg}}
    spec:
      containers: [{name: pg, image: postgres:16}]
  volumeClaimTemplates:
    - metadata: {name: data}
      spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
"#;
    let project = Project::new(
        &home,
        &[
            ("kdeck.yaml", "stack:\n  name: claims\n  cluster: {name: stack-claims}\n  deploy:\n    - {namespace: default, manifests: [sts.yaml]}\n"),
            ("sts.yaml", sts),
        ],
    );
    let out = project.kdeck(&["up"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(home.client().await, "default");
    // Someone else's claim in the same namespace.
    let other: PersistentVolumeClaim = serde_json::from_value(serde_json::json!({"metadata": {"name": "not-the-stacks"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}))
    .unwrap();
    claims.create(&Default::default(), &other).await.unwrap();
    assert!(claims.get_opt("data-pg-0").await.unwrap().is_some());

    let plan = project.kdeck(&["down", "--delete-data", "--dry-run"]);
    assert!(stdout(&plan).contains("delete   PersistentVolumeClaim/data-pg-0 -n default"), "{}", stdout(&plan));
    let out = project.kdeck(&["down", "--delete-data", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let gone = claims.get_opt("data-pg-0").await.unwrap();
    assert!(gone.is_none() || gone.unwrap().metadata.deletion_timestamp.is_some(), "the StatefulSet's claim is deleted");
    assert!(claims.get_opt("not-the-stacks").await.unwrap().is_some_and(|c| c.metadata.deletion_timestamp.is_none()), "another claim is left alone");
}

#[test]
fn a_bad_config_value_a_failing_job_and_a_claim_that_cannot_bind_are_reported_with_their_reasons() {
    let home = TestSandbox::new("stack-broken2");
    let manifests = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: backend-config}
data: {DATABASE_URL: "postgres://localhost:5432/app"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: backend}
spec:
  selector: {matchLabels: {app: backend}}
  template:
    metadata:
      labels: {app: backend}
      annotations:
        sandbox.kdeck.dev/crash-when-env: DATABASE_URL=postgres://localhost:5432/app
        sandbox.kdeck.dev/run-seconds: "0"
        sandbox.kdeck.dev/exit-code: "1"
        sandbox.kdeck.dev/backoff-seconds: "0.2"
        sandbox.kdeck.dev/crash-log: "FATAL: could not connect to the database at localhost:5432"
    spec:
      containers: [{name: backend, image: backend:1, envFrom: [{configMapRef: {name: backend-config}}]}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  backoffLimit: 0
  template:
    metadata: {annotations: {sandbox.kdeck.dev/exit-code: "3"}}
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: busybox, command: [sleep, "1"]}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  storageClassName: no-such-class
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
"#;
    let project = Project::new(
        &home,
        &[
            ("kdeck.yaml", "stack:\n  name: broken2\n  cluster: {name: stack-broken2}\n  deploy:\n    - {namespace: default, manifests: [k8s.yaml]}\n"),
            ("k8s.yaml", manifests),
        ],
    );
    let out = project.kdeck(&["up", "--timeout", "120s"]);
    assert_eq!(out.status.code(), Some(1), "{}\n{}", stdout(&out), stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("Deployment/backend -n default: FAILED") && err.contains("could not connect to the database"), "the crash and its last words: {err}");
    assert!(err.contains("Job/migrate -n default: FAILED") && err.contains("BackoffLimitExceeded"), "the Job's failure: {err}");
    assert!(err.contains("PersistentVolumeClaim/data -n default: pending"), "the claim is named as not bound: {err}");

    // The fix: a good value in the ConfigMap; `up` rolls the Deployment and it runs.
    project.write("k8s.yaml", &manifests.replace("postgres://localhost:5432/app\"}", "postgres://postgres:5432/app\"}"));
    let out = project.kdeck(&["up", "--timeout", "60s", "-o", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let state_of = |kind: &str| report["resources"].as_array().unwrap().iter().find(|r| r["kind"] == kind).map(|r| r["state"].clone());
    assert_eq!(state_of("Deployment"), Some(serde_json::json!("ready")), "{report:#}");
}
