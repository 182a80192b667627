//! The two stacks of issue 13, broken as a user would break them — their
//! kustomize overlay, chart, Dockerfile and kdeck.yaml edited, a server scaled
//! down — and each check that should fail failing for its own reason (its words
//! on its result line), exit code 1, every other check still run and green, no
//! secret value printed, and the cluster in the state the failure describes.
//! (`examples.rs` has the same stacks all green.)

mod common;

use common::TestSandbox;
use common::example::{Example, check_line, standin_docker, tools_for_stacks};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, Secret, Service};
use kube::Api;
use kube::api::{ListParams, LogParams, Patch, PatchParams};

/// Check `name` failed, and its line says `words`.
fn assert_fails(text: &str, name: &str, words: &str) {
    let line = check_line(text, name).unwrap_or_else(|| panic!("no line for check {name:?}:\n{text}"));
    assert!(line.starts_with("FAIL ") && line.contains(words), "check {name:?}: expected a failure saying {words:?}, got:\n{line}");
}

/// Each of `names` passed.
fn assert_ok(text: &str, names: &[&str]) {
    for name in names {
        let line = check_line(text, name).unwrap_or_else(|| panic!("no line for check {name:?}:\n{text}"));
        assert!(line.starts_with("ok "), "check {name:?} still runs and passes:\n{text}");
    }
}

/// How many checks failed, as the summary on stderr counts them.
fn failed_of(err: &str, failed: usize, all: usize) -> bool {
    err.contains(&format!("{failed} of {all} check(s) failed"))
}

/// The values of the Secrets of namespace `namespace` named in `names` (all keys).
async fn secret_values(client: &kube::Client, namespace: &str, names: &[&str]) -> Vec<String> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let mut values = Vec::new();
    for name in names {
        for (_, bytes) in api.get(name).await.unwrap().data.unwrap_or_default() {
            values.push(String::from_utf8(bytes.0).unwrap());
        }
    }
    assert!(!values.is_empty() && values.iter().all(|v| v.len() >= 16), "the Secrets hold generated values");
    values
}

fn assert_none_printed(values: &[String], out: &str, err: &str) {
    for value in values {
        assert!(!out.contains(value.as_str()) && !err.contains(value.as_str()), "a secret value was printed:\n{out}\n{err}");
    }
}

/// staging-infra on a sandbox with: postgres's Service sending 5432 to a port
/// its pod does not listen on, the Authentik worker as root, redis without a
/// memory limit (all three an overlay's patches), the volumes not kept across
/// a cluster's deletion (`keepData` dropped) — and Authentik's redis scaled to 0.
const STAGING_OVERLAY_PATCHES: &str = r#"patches:
  # postgres "moved" to 5433 on its Service only: its pod still listens on 5432.
  - target: {kind: Service, name: postgres}
    patch: |-
      - {op: replace, path: /spec/ports/0/targetPort, value: 5433}
  # The worker as root, as Authentik's docs run it for the Docker socket.
  - target: {kind: Deployment, name: authentik-worker}
    patch: |-
      - {op: replace, path: /spec/template/spec/securityContext, value: {runAsUser: 0, fsGroup: 1000}}
  # Redis's memory limit dropped ("it gets OOM-killed").
  - target: {kind: Deployment, name: redis}
    patch: |-
      - {op: remove, path: /spec/template/spec/containers/0/resources/limits/memory}
"#;

/// The checks of staging-infra that none of its breaks touches.
const STAGING_UNBROKEN: &[&str] = &[
    "authentik postgres accepts connections",
    "redis answers",
    "authentik api through the ingress",
    "authentik api through its service",
    "authentik gets its database settings",
    "authentik gets its secrets",
];

#[tokio::test]
async fn staging_infra_broken_fails_each_check_for_its_reason() {
    if !tools_for_stacks() {
        return;
    }
    let home = TestSandbox::new("sandbox");
    let example = Example::new(&home, "staging-infra", None, &["kind", "docker"]);
    example.edit("kdeck.yaml", "value: {provider: sandbox, name: sandbox, keepData: true}", "value: {provider: sandbox, name: sandbox}");
    example.edit("k8s/overlays/local/kustomization.yaml", "resources:\n  - ../../base\n", &format!("resources:\n  - ../../base\n{STAGING_OVERLAY_PATCHES}"));
    let sandbox = [("KDECK_FLAVOR", "sandbox")];

    // up with its checks: the stack is up, the broken ones fail, exit 1.
    let (code, out, err) = example.exec(&["up", "--timeout", "180s"], &sandbox);
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert_fails(
        &out,
        "postgres accepts connections",
        "svc/postgres → pod postgres-0:5433: no response: connection refused on port 5433 of pod postgres-0 (nothing listens there); \
         svc/postgres sends port 5432 to port 5433, which no container of pod postgres-0 declares (they declare 5432): the Service's targetPort may be wrong",
    );
    for words in [
        ": 2 finding(s): staging-infra/Pod/authentik-worker-",
        "container worker: runs as root (runAsUser 0); staging-infra/Pod/redis-",
        "container redis: no memory limit",
    ] {
        assert_fails(&out, "secret hygiene", words);
    }
    assert_ok(&out, STAGING_UNBROKEN);
    assert_ok(&out, &["authentik redis answers", "postgres data survives", "redis data survives"]);
    assert!(check_line(&out, "postgres data survives (across recreate)").is_some_and(|l| l.starts_with("skip ")), "{out}");
    assert!(failed_of(&err, 2, 13), "{err}");

    let client = home.client().await;
    let values = secret_values(&client, "staging-infra", &["postgres-secret", "authentik-secret"]).await;
    assert_none_printed(&values, &out, &err);
    // The cluster as the failures say: the Service's target port, a worker pod as root.
    let service = Api::<Service>::namespaced(client.clone(), "staging-infra").get("postgres").await.unwrap();
    assert_eq!(serde_json::to_value(&service.spec.unwrap().ports.unwrap()[0].target_port).unwrap(), 5433);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "staging-infra");
    let worker = pods.list(&ListParams::default().labels("app=authentik-worker")).await.unwrap().items.remove(0);
    assert_eq!(worker.spec.unwrap().security_context.unwrap().run_as_user, Some(0));

    // A server that is down: kubectl scale deploy/authentik-redis --replicas=0.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "staging-infra");
    deployments.patch("authentik-redis", &PatchParams::default(), &Patch::Merge(serde_json::json!({"spec": {"replicas": 0}}))).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !pods.list(&ListParams::default().labels("app=authentik-redis")).await.unwrap().items.is_empty() {
        assert!(std::time::Instant::now() < deadline, "authentik-redis's pod is still there");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "staging-infra");
    let uid_before = claims.get("data-postgres-0").await.unwrap().metadata.uid.unwrap();

    // verify, across a recreate: without keepData the claims are new ones, and the data is gone.
    let (code, out, err) = example.exec(&["verify", "--recreate", "--yes"], &sandbox);
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert_fails(
        &out,
        "authentik redis answers",
        "no pods for svc/authentik-redis in namespace staging-infra (context sandbox); selector used: app=authentik-redis; labels of pods in namespace staging-infra: ",
    );
    assert!(!check_line(&out, "authentik redis answers").unwrap().contains("app=authentik-redis ("), "no pod has the label");
    assert_fails(&out, "postgres accepts connections", "connection refused on port 5433 of pod postgres-0");
    assert_fails(&out, "secret hygiene", "container worker: runs as root (runAsUser 0)");
    for (check, claim) in [("postgres data survives", "data-postgres-0"), ("redis data survives", "redis-data")] {
        assert_fails(
            &out,
            &format!("{check} (across recreate)"),
            &format!(
                "is gone after the cluster was recreated: the data did not persist (claim {claim} was deleted with the cluster and is a new one now; keep volumes' data across a recreate with stack.cluster.keepData: true)"
            ),
        );
    }
    assert_ok(&out, STAGING_UNBROKEN);
    assert_ok(&out, &["postgres data survives", "redis data survives"]);
    assert!(failed_of(&err, 5, 13), "{err}");
    let client = home.client().await;
    let values = [values, secret_values(&client, "staging-infra", &["postgres-secret", "authentik-secret"]).await].concat();
    assert_none_printed(&values, &out, &err);
    // The claim is a new object, and the recreated stack has its redis back.
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "staging-infra");
    assert_ne!(claims.get("data-postgres-0").await.unwrap().metadata.uid.unwrap(), uid_before);
    let status = Api::<Deployment>::namespaced(client.clone(), "staging-infra").get("authentik-redis").await.unwrap().status.unwrap();
    assert_eq!(status.ready_replicas, Some(1));
    let _ = example.run(&["down", "--delete-cluster", "--delete-data", "--yes"], &sandbox);
}

/// The backend's start: the key printed (the mistake under test), then a server
/// for its probes. The sandbox runs a container's command for real only with
/// the run-command annotation; python3's http.server stands in for uvicorn,
/// answering /health and /ready as files.
const LEAKY_COMMAND: &str = r#"
          command: [sh, -c, 'echo "taskflow: starting; chat enabled with OPENAI_API_KEY=$OPENAI_API_KEY"; cd /tmp && touch health ready && exec python3 -m http.server 8000']"#;

#[tokio::test]
async fn taskflow_broken_fails_each_check_for_its_reason() {
    if !tools_for_stacks() {
        return;
    }
    let home = TestSandbox::new("sandbox");
    let bin = standin_docker(home.dir.path());
    let example = Example::new(&home, "taskflow", Some(&bin), &["docker"]);
    let key = "sk-test-canary-8e41d0a6c2";
    // The key baked into the backend's image, "for a quick test".
    example.edit(
        "backend/Dockerfile",
        "ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1\n",
        &format!("ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1\nENV OPENAI_API_KEY={key}\n"),
    );
    // The backend logs its key as it starts.
    let chart = "charts/backend/templates/deployment.yaml";
    example.edit(
        chart,
        "          imagePullPolicy: {{ .Values.image.pullPolicy }}",
        &format!("          imagePullPolicy: {{{{ .Values.image.pullPolicy }}}}{LEAKY_COMMAND}"),
    );
    example.edit(chart, "      annotations:\n", "      annotations:\n        sandbox.kdeck.dev/run-command: \"true\"\n");
    // The backend's Service renamed in dev; the frontend still calls http://backend-service:8000.
    example.edit("charts/backend/values-dev.yaml", "service:\n  type: NodePort\n", "service:\n  type: NodePort\n  name: api-service\n");

    let log = home.dir.path().join("standin.log");
    let images = home.dir.path().join("images");
    std::fs::create_dir_all(&images).unwrap();
    let env = [("OPENAI_API_KEY", key), ("STANDIN_LOG", log.to_str().unwrap()), ("STANDIN_IMAGES", images.to_str().unwrap())];
    let (code, out, err) = example.exec(&["up", "--timeout", "120s"], &env);
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(!out.contains(key) && !err.contains(key), "the key was printed:\n{out}\n{err}");

    // The renamed Service: the frontend cannot resolve the name it calls, and the checks through it fail.
    assert_fails(&out, "frontend reaches backend by name", "backend-service does not resolve in pod frontend-");
    assert_fails(&out, "backend pod ready", "svc/backend-service:8000/ready: status 404 (expected 200): services \"backend-service\" not found");
    assert_fails(&out, "backend health through the service", "/health: status 404 (expected 200): services \"backend-service\" not found");
    assert_fails(
        &out,
        "backend port forwarded",
        "svc/backend-service not found in namespace taskflow; services in namespace taskflow: api-service, frontend-service",
    );
    // The key in the backend's log and in its image's ENV; the place and the Secret named, never the value.
    for words in [
        ": 2 finding(s): taskflow/Pod/backend-",
        "container backend: its log (last 1000 lines) holds the value of Secret taskflow/openai-secret key api-key",
        "image taskflow-backend:1.0.0: ENV OPENAI_API_KEY holds the value of Secret taskflow/openai-secret key api-key",
    ] {
        assert_fails(&out, "no secret in logs or images, non-root, limits", words);
    }
    assert_ok(
        &out,
        &[
            "frontend pod ready",
            "frontend port forwarded",
            "backend config from its ConfigMap",
            "backend key from its Secret",
            "frontend config from its ConfigMap",
        ],
    );
    assert!(failed_of(&err, 5, 10), "{err}");

    // The cluster as the failures say: the key really is in the backend's log, the Service has its new name.
    let client = home.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "taskflow");
    let backend = pods.list(&ListParams::default().labels("app.kubernetes.io/name=backend")).await.unwrap().items.remove(0);
    let pod_log = pods.logs(&backend.metadata.name.unwrap(), &LogParams::default()).await.unwrap();
    assert!(pod_log.contains(&format!("OPENAI_API_KEY={key}")), "{pod_log}");
    let services: Api<Service> = Api::namespaced(client.clone(), "taskflow");
    assert!(services.get_opt("backend-service").await.unwrap().is_none() && services.get_opt("api-service").await.unwrap().is_some());
    let config = std::fs::read_to_string(images.join("taskflow-backend:1.0.0.env")).unwrap();
    assert!(config.contains(&format!("\"OPENAI_API_KEY={key}\"")), "the image built from the broken Dockerfile: {config}");
    let _ = example.run(&["down", "--delete-cluster", "--yes"], &env);
}
