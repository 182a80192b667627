//! Every command of every example's README, run as written, in order, on a fresh
//! sandbox (the README starts it): the examples say what works.
//!
//! Lines marked `(needs Docker)` run only where a Docker engine answers (and
//! `(needs Docker and kind)` only where kind is on PATH too); a line whose
//! comment says it `asks` is run without a terminal and must refuse without
//! `--yes` (exit 2), as the README says. Every other line must succeed.
//!
//! Then the two stacks of issue 13 on their own: staging-infra (its kind plan,
//! then up on a sandbox) and taskflow (its images built by a stand-in docker),
//! each all green, with the cluster's state checked afterwards.

mod common;

use std::path::PathBuf;

use common::example::{Example, check_result, copy_dir, examples_dir, on_path, standin_docker, tools_for_stacks};

/// The shell commands of the ```sh blocks of `readme`, with their comments.
fn commands(readme: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut in_block = false;
    for line in readme.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block && line.trim() == "```sh";
            continue;
        }
        if !in_block || line.trim().is_empty() {
            continue;
        }
        let (command, comment) = match line.find(" #") {
            Some(i) => (line[..i].trim(), line[i + 2..].trim()),
            None => (line.trim(), ""),
        };
        out.push((command.to_string(), comment.to_string()));
    }
    out
}

fn docker_answers() -> bool {
    std::process::Command::new("docker").arg("info").output().is_ok_and(|o| o.status.success())
}

#[test]
fn every_example_readme_command_works_as_written() {
    // `kdeck up` renders kustomize: kustomize or kubectl must be there (CI installs them).
    if !on_path("kubectl") && !on_path("kustomize") {
        assert!(std::env::var_os("CI").is_none_or(|v| v.is_empty()), "kubectl is not on PATH; CI installs it (scripts/install-clients)");
        eprintln!("skipped: neither kubectl nor kustomize is on PATH (scripts/install-clients installs them)");
        return;
    }
    let examples = examples_dir();
    let mut ran = 0;
    for example in std::fs::read_dir(&examples).unwrap().flatten() {
        let readme = example.path().join("README.md");
        let Ok(text) = std::fs::read_to_string(&readme) else { continue };
        // Helm charts (taskflow) are installed with helm (CI installs it).
        if example.path().join("charts").is_dir() && !on_path("helm") {
            assert!(std::env::var_os("CI").is_none_or(|v| v.is_empty()), "helm is not on PATH; CI installs it (scripts/install-clients)");
            eprintln!("skipped {}: helm is not on PATH", example.path().display());
            continue;
        }
        let home = common::TestSandbox::new("sandbox");
        let dir = home.dir.path().join("example");
        copy_dir(&example.path(), &dir);
        // `kdeck` on PATH is the binary under test.
        let bin: PathBuf = home.dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink(common::BIN, bin.join("kdeck")).unwrap();
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
        for (command, comment) in commands(&text) {
            if comment.contains("needs Docker") && !docker_answers() {
                eprintln!("skipped (no Docker engine): {command}");
                continue;
            }
            if comment.contains("needs Docker and kind") && !on_path("kind") {
                eprintln!("skipped (kind is not on PATH): {command}");
                continue;
            }
            let mut shell = std::process::Command::new("sh");
            shell
                .arg("-c")
                .arg(&command)
                .current_dir(&dir)
                .env("PATH", &path)
                .env("KDECK_HOME", home.home())
                .env("KUBECONFIG", home.kubeconfig())
                .env("NO_COLOR", "1")
                .env_remove("KDECK_FLAVOR")
                .env_remove("KDECK_CONTEXT")
                .stdin(std::process::Stdio::null());
            let out = shell.output().unwrap();
            let said = format!(
                "{}: `{command}`\n--- stdout ---\n{}--- stderr ---\n{}",
                readme.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            if comment.contains("asks") {
                assert_eq!(out.status.code(), Some(2), "{said}");
                assert!(String::from_utf8_lossy(&out.stderr).contains("refusing without --yes"), "{said}");
            } else {
                assert!(out.status.success(), "{said}");
            }
            ran += 1;
        }
        let _ = home.run(&["sandbox", "delete", "--name", "sandbox"]);
    }
    assert!(ran >= 12, "the examples' commands ran ({ran})");
}

#[test]
fn commands_are_read_from_sh_blocks_with_their_comments() {
    let text = "intro\n```sh\nkdeck up   # starts it\n\nkdeck tasks\n```\n```yaml\nnot: this\n```\n";
    assert_eq!(commands(text), [("kdeck up".to_string(), "starts it".to_string()), ("kdeck tasks".to_string(), String::new())]);
}

fn assert_all_ok(text: &str, expected: &[&str]) {
    for name in expected {
        assert_eq!(check_result(text, name), Some("ok"), "check {name:?} is not ok:\n{text}");
    }
    assert!(!text.lines().any(|l| l.starts_with("FAIL ")), "a check failed:\n{text}");
}

fn pod_ready(pod: &k8s_openapi::api::core::v1::Pod) -> bool {
    pod.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

const STAGING_CHECKS: &[&str] = &[
    "postgres accepts connections",
    "authentik postgres accepts connections",
    "redis answers",
    "authentik redis answers",
    "authentik api through the ingress",
    "authentik api through its service",
    "postgres data survives",
    "redis data survives",
    "authentik gets its database settings",
    "authentik gets its secrets",
    "secret hygiene",
];

#[tokio::test]
async fn staging_infra_plans_kind_and_comes_up_green_on_a_sandbox() {
    use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
    use k8s_openapi::api::core::v1::{Namespace, PersistentVolumeClaim, Pod};
    use k8s_openapi::api::networking::v1::Ingress;
    use kube::Api;

    if !tools_for_stacks() {
        return;
    }
    let home = common::TestSandbox::new("sandbox");
    // No kind and no docker on PATH: the dry run calls no tool.
    let example = Example::new(&home, "staging-infra", None, &["kind", "docker"]);

    let (ok, plan, err) = example.run(&["up", "--dry-run"], &[]);
    assert!(ok, "{plan}\n{err}");
    assert!(plan.contains("dry run: stack staging on kind \"staging\" (context kind-staging): cluster would be created or started"), "{plan}");
    for line in [
        "secret staging-infra/postgres-secret: create",
        "secret staging-infra/authentik-secret: create",
        // ingress: nginx: the pinned manifest, not downloaded by a dry run.
        "  ingress controller ingress-nginx v1.15.1 (kind manifest): would be downloaded (not in the cache), verified, applied and waited for",
        "    https://raw.githubusercontent.com/kubernetes/ingress-nginx/dbb11b92ddb77bee9c35e462479129354c84f939/deploy/static/provider/kind/deploy.yaml (sha256 2a3ae008c8786431115502644e77ab398fdebfb721a5d1195ed3089cde3299df)",
        "kustomize k8s/overlays/local",
        "create     Namespace/staging-core",
        "create     StatefulSet/postgres -n staging-infra",
        "create     StatefulSet/authentik-postgres -n staging-infra",
        "create     Deployment/authentik-server -n staging-infra",
        "create     Ingress/authentik -n staging-infra",
    ] {
        assert!(plan.contains(line), "{line:?} not in the plan:\n{plan}");
    }

    // The sandbox flavor: up, every check green.
    let sandbox = [("KDECK_FLAVOR", "sandbox")];
    let (ok, out, err) = example.run(&["up", "--timeout", "180s"], &sandbox);
    assert!(ok, "{out}\n{err}");
    assert_all_ok(&out, STAGING_CHECKS);
    assert!(out.contains("stack staging is ready"), "{out}");

    // The cluster as the checklist expects it.
    let client = home.client().await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for name in ["staging-core", "staging-ai", "staging-web"] {
        let ns = namespaces.get(name).await.unwrap();
        let labels = ns.metadata.labels.unwrap();
        assert_eq!((labels["environment"].as_str(), labels["status"].as_str()), ("staging", "placeholder"), "{name}");
        assert!(ns.metadata.annotations.unwrap().values().any(|v| v.contains("README.md#deploying-the-")), "{name}");
    }
    assert_eq!(namespaces.get("staging-infra").await.unwrap().metadata.labels.unwrap()["status"], "active");
    let sts: Api<StatefulSet> = Api::namespaced(client.clone(), "staging-infra");
    let postgres = sts.get("postgres").await.unwrap();
    let spec = postgres.spec.unwrap();
    let container = &spec.template.spec.as_ref().unwrap().containers[0];
    assert_eq!(container.image.as_deref(), Some("pgvector/pgvector:pg15"));
    let limits = container.resources.as_ref().unwrap().limits.as_ref().unwrap();
    assert_eq!((limits["cpu"].0.as_str(), limits["memory"].0.as_str()), ("500m", "512Mi"));
    let claim = &spec.volume_claim_templates.unwrap()[0];
    assert_eq!(claim.spec.as_ref().unwrap().resources.as_ref().unwrap().requests.as_ref().unwrap()["storage"].0, "10Gi");
    for name in ["postgres", "authentik-postgres"] {
        let status = sts.get(name).await.unwrap().status.unwrap();
        assert_eq!(status.ready_replicas, Some(1), "{name}");
    }
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "staging-infra");
    for (name, replicas) in [("redis", 1), ("authentik-redis", 1), ("authentik-server", 2), ("authentik-worker", 1)] {
        let status = deployments.get(name).await.unwrap().status.unwrap();
        assert_eq!(status.ready_replicas, Some(replicas), "{name}");
    }
    let pods = Api::<Pod>::namespaced(client.clone(), "staging-infra").list(&Default::default()).await.unwrap();
    assert_eq!(pods.items.len(), 7, "{:?}", pods.items.iter().map(|p| p.metadata.name.clone()).collect::<Vec<_>>());
    assert!(pods.items.iter().all(pod_ready), "every pod of staging-infra is ready");
    let claims = Api::<PersistentVolumeClaim>::namespaced(client.clone(), "staging-infra").list(&Default::default()).await.unwrap();
    let mut names = claims.items.iter().filter_map(|c| c.metadata.name.clone()).collect::<Vec<_>>();
    names.sort();
    assert_eq!(names, ["authentik-media", "authentik-redis-data", "data-authentik-postgres-0", "data-postgres-0", "redis-data"]);
    let ingress = Api::<Ingress>::namespaced(client.clone(), "staging-infra").get("authentik").await.unwrap();
    assert_eq!(ingress.metadata.annotations.unwrap()["nginx.ingress.kubernetes.io/rewrite-target"], "/$2");
    let spec = ingress.spec.unwrap();
    assert_eq!(spec.ingress_class_name.as_deref(), Some("nginx"));
    assert_eq!(spec.rules.unwrap()[0].http.as_ref().unwrap().paths[0].path.as_deref(), Some("/auth(/|$)(.*)"));

    // The data survives a deleted cluster too (keepData), and the checks stay green.
    let (ok, out, err) = example.run(&["verify", "--recreate", "--yes"], &sandbox);
    assert!(ok, "{out}\n{err}");
    assert_all_ok(&out, &["postgres data survives (across recreate)", "redis data survives (across recreate)", "authentik api through the ingress"]);
    let _ = example.run(&["down", "--delete-cluster", "--delete-data", "--yes"], &sandbox);
}

/// The `ENV` names and values of a Dockerfile's last stage, as docker would
/// record them (`NAME=value`).
fn last_stage_env(dockerfile: &str) -> Vec<String> {
    let last = dockerfile.rsplit("\nFROM ").next().unwrap();
    let mut env = Vec::new();
    for line in last.lines().filter_map(|l| l.strip_prefix("ENV ")) {
        for pair in line.split_whitespace() {
            env.push(pair.to_string());
        }
    }
    env
}

const TASKFLOW_CHECKS: &[&str] = &[
    "backend pod ready",
    "frontend pod ready",
    "backend health through the service",
    "backend port forwarded",
    "frontend port forwarded",
    "frontend reaches backend by name",
    "backend config from its ConfigMap",
    "backend key from its Secret",
    "frontend config from its ConfigMap",
    "no secret in logs or images, non-root, limits",
];

#[tokio::test]
async fn taskflow_builds_installs_both_releases_and_passes_its_checklist() {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Service};
    use kube::Api;

    if !tools_for_stacks() {
        return;
    }
    let home = common::TestSandbox::new("sandbox");
    let bin = standin_docker(home.dir.path());
    let example = Example::new(&home, "taskflow", Some(&bin), &["docker"]);
    let log = home.dir.path().join("standin.log");
    let images = home.dir.path().join("images");
    std::fs::create_dir_all(&images).unwrap();
    let mut configs = Vec::new();
    for (image, dockerfile) in [("taskflow-backend:1.0.0", "backend/Dockerfile"), ("taskflow-frontend:1.0.0", "frontend/Dockerfile")] {
        let text = std::fs::read_to_string(example.dir.join(dockerfile)).unwrap();
        assert!(text.matches("\nFROM ").count() + usize::from(text.starts_with("FROM ")) >= 2, "{dockerfile} is multi-stage");
        assert!(text.contains("\nUSER 1001\n"), "{dockerfile} runs as uid 1001");
        let env = last_stage_env(&text);
        for pair in &env {
            let name = pair.split('=').next().unwrap().to_uppercase();
            assert!(!["KEY", "SECRET", "TOKEN", "PASSWORD", "DATABASE_URL", "API_URL"].iter().any(|w| name.contains(w)), "{dockerfile}: ENV {name}");
        }
        configs.push((image, env.iter().map(|e| format!("\"{e}\"")).collect::<Vec<_>>().join(",")));
    }
    let key = "sk-test-canary-3f9c1b7e5d";
    let env = [("OPENAI_API_KEY", key), ("STANDIN_LOG", log.to_str().unwrap()), ("STANDIN_IMAGES", images.to_str().unwrap())];

    // Without the key in the environment, up refuses before changing anything.
    let (ok, out, err) = example.run(&["up", "--timeout", "120s"], &env[1..]);
    assert!(!ok && err.contains("the environment variable OPENAI_API_KEY is not set"), "{out}\n{err}");

    let (ok, out, err) = example.run(&["up", "--timeout", "120s"], &env);
    assert!(ok, "{out}\n{err}");
    assert_all_ok(&out, TASKFLOW_CHECKS);
    assert!(!out.contains(key) && !err.contains(key), "the key was printed");
    let hygiene = out.lines().find(|l| l.contains("no secret in logs or images")).unwrap();
    assert!(hygiene.contains("or 2 image(s)") && !hygiene.contains("not inspected"), "both images inspected: {hygiene}");
    // The images' config is their Dockerfile's last stage's ENV, as the stand-in built them.
    for (image, quoted) in configs {
        assert_eq!(std::fs::read_to_string(images.join(format!("{image}.env"))).unwrap().trim_end(), quoted, "{image}");
    }
    let calls = std::fs::read_to_string(&log).unwrap();
    let root = example.dir.display();
    for build in [
        format!("docker build -t taskflow-backend:1.0.0 -f {root}/backend/Dockerfile {root}/backend"),
        format!("docker build -t taskflow-frontend:1.0.0 -f {root}/frontend/Dockerfile {root}/frontend"),
    ] {
        assert!(calls.lines().any(|l| l == build), "{build:?} not among the calls:\n{calls}");
    }

    // The cluster: two releases' objects, Services with ClusterIPs (NodePort in dev), env from ConfigMap and Secret.
    let client = home.client().await;
    let services: Api<Service> = Api::namespaced(client.clone(), "taskflow");
    for (name, port) in [("backend-service", 8000), ("frontend-service", 3000)] {
        let spec = services.get(name).await.unwrap().spec.unwrap();
        assert!(spec.cluster_ip.as_deref().is_some_and(|ip| !ip.is_empty() && ip != "None"), "{name} has a ClusterIP");
        assert_eq!(spec.type_.as_deref(), Some("NodePort"), "{name}");
        assert_eq!(spec.ports.unwrap()[0].port, port, "{name}");
    }
    let configs: Api<ConfigMap> = Api::namespaced(client.clone(), "taskflow");
    let backend = configs.get("backend-config").await.unwrap().data.unwrap();
    assert!(["DATABASE_URL", "ENVIRONMENT", "LOG_LEVEL"].iter().all(|k| backend.contains_key(*k)), "{backend:?}");
    assert_eq!(configs.get("frontend-config").await.unwrap().data.unwrap()["NEXT_PUBLIC_API_URL"], "http://backend-service:8000");
    let secret = Api::<Secret>::namespaced(client.clone(), "taskflow").get("openai-secret").await.unwrap();
    assert_eq!(secret.data.unwrap()["api-key"].0, key.as_bytes());
    let pods: Api<Pod> = Api::namespaced(client.clone(), "taskflow");
    let list = pods.list(&Default::default()).await.unwrap();
    assert_eq!(list.items.len(), 2);
    for pod in &list.items {
        assert!(pod_ready(pod), "{:?} is ready", pod.metadata.name);
        let spec = pod.spec.as_ref().unwrap();
        assert_eq!(spec.security_context.as_ref().unwrap().run_as_user, Some(1001));
        assert!(spec.containers[0].resources.as_ref().unwrap().limits.is_some());
    }

    // helm upgrade --set replicaCount=2, as a task: two ready backend pods, still green.
    let (ok, out, err) = example.run(&["run", "scale", "--", "2"], &env);
    assert!(ok && out.contains("backend scaled to 2 replica(s)"), "{out}\n{err}");
    let status = Api::<Deployment>::namespaced(client.clone(), "taskflow").get("backend").await.unwrap().status.unwrap();
    assert_eq!(status.ready_replicas, Some(2));
    let (ok, out, err) = example.run(&["run", "log-level", "--", "warning"], &env);
    assert!(ok, "{out}\n{err}");
    assert_eq!(configs.get("backend-config").await.unwrap().data.unwrap()["LOG_LEVEL"], "warning");
    let (ok, out, err) = example.run(&["verify"], &env);
    assert!(ok, "{out}\n{err}");
    assert_all_ok(&out, TASKFLOW_CHECKS);
    assert!(!out.contains(key) && !err.contains(key), "the key was printed");
    let _ = example.run(&["down", "--delete-cluster", "--yes"], &env);
}
