//! The kind, minikube, k3d and docker paths of `kdeck up` / `down`, against
//! stand-in binaries that record their argv (one line per call) and answer what
//! kdeck asks. Creating a "cluster" starts a real kdeck sandbox under the context
//! the tool would have written (`kind-N`, `N`, `k3d-N`), so `up` applies to it.

mod common;

use std::path::Path;

use common::TestSandbox;
use common::standins::{Project, Standins};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::Api;

use common::project::{stderr, stdout};

const CONFIG_MAP: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app-config}\ndata: {LOG_LEVEL: info}\n";
const DOCKERFILE: &str = "FROM scratch\nCOPY . /\n";

const KIND_STACK: &str = r#"
stack:
  name: demo
  cluster: {provider: kind, name: demo, config: kind.yaml, ingress: nginx, ingressManifest: ingress-nginx.yaml, keepData: true}
  images:
    - {name: "app:1", context: app, args: {VERSION: "1", TOKEN: hush-hush-build-token}}
  deploy:
    - namespace: demo
      manifests: [k8s/*.yaml]
"#;

/// The user's own kind config: kdeck keeps every entry and does not duplicate
/// their port 80 mapping.
const USER_KIND_CONFIG: &str = r#"
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
networking: {ipFamily: ipv4}
nodes:
  - role: control-plane
    extraPortMappings:
      - {containerPort: 80, hostPort: 80, protocol: TCP}
      - {containerPort: 30080, hostPort: 30080}
  - role: worker
    labels: {tier: apps}
"#;

#[tokio::test]
async fn kind_is_created_with_the_merged_config_gets_the_images_and_is_deleted() {
    let home = TestSandbox::new("kind-demo");
    let project = Project::new(
        &home,
        &["kind", "docker"],
        &[
            ("kdeck.yaml", KIND_STACK),
            ("kind.yaml", USER_KIND_CONFIG),
            ("app/Dockerfile", DOCKERFILE),
            ("k8s/config.yaml", CONFIG_MAP),
            ("ingress-nginx.yaml", common::ingress::MANIFEST),
        ],
    );

    // The dry run lists the builds and runs nothing.
    let plan = project.kdeck(&["up", "--dry-run"]);
    assert!(plan.status.success(), "{}\n{}", stdout(&plan), stderr(&plan));
    assert!(
        stdout(&plan).contains(
            "image app:1: would run: docker build -t app:1 -f app/Dockerfile --build-arg TOKEN=… --build-arg VERSION=… app; then: kind load docker-image app:1 --name demo"
        ),
        "{}",
        stdout(&plan)
    );
    assert!(!stdout(&plan).contains("hush-hush") && !stderr(&plan).contains("hush-hush"), "build-arg values are never shown");
    assert_eq!(project.standins.calls(), Vec::<String>::new(), "a dry run calls no tool");

    let out = project.kdeck(&["up", "--timeout", "60s"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains("cluster: kind \"demo\" (context kind-demo): created"), "{}", stderr(&out));
    assert!(stdout(&out).contains("stack demo is ready"), "{}", stdout(&out));
    assert!(!stdout(&out).contains("hush-hush") && !stderr(&out).contains("hush-hush"));
    // ingress: nginx with a local copy of the manifest (stack_ingress.rs has the download).
    assert!(
        stdout(&out).contains(
            "ingress controller: ingress-nginx (ingress-nginx.yaml), from ingress-nginx.yaml, applied as it is (not the pinned v1.15.1 kind manifest)"
        ),
        "{}",
        stdout(&out)
    );
    let merged = project.path(".kdeck/kind/demo.yaml");
    assert_eq!(
        project.standins.calls(),
        [
            "kind get clusters".to_string(),
            format!("kind create cluster --name demo --config {merged}"),
            "docker info --format {{.ServerVersion}}".to_string(),
            format!(
                "docker build -t app:1 -f {} --build-arg TOKEN=hush-hush-build-token --build-arg VERSION=1 {}",
                project.path("app/Dockerfile"),
                project.path("app")
            ),
            "kind load docker-image app:1 --name demo".to_string(),
        ]
    );

    // The merged config: the user's entries, the volumes mount on every node, the
    // ingress ports (80 once) and the node label on the control plane.
    let config: serde_json::Value = serde_saphyr::from_str(&std::fs::read_to_string(&merged).unwrap()).unwrap();
    let volumes = project.path(".kdeck/volumes/demo");
    assert!(Path::new(&volumes).is_dir(), "the volumes directory exists before kind mounts it");
    assert_eq!(config["kind"], "Cluster");
    assert_eq!(config["networking"]["ipFamily"], "ipv4");
    let nodes = config["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2);
    for node in nodes {
        assert_eq!(node["extraMounts"], serde_json::json!([{"hostPath": volumes, "containerPath": "/var/local-path-provisioner"}]), "{node}");
    }
    let ports: Vec<(i64, i64)> =
        nodes[0]["extraPortMappings"].as_array().unwrap().iter().map(|m| (m["containerPort"].as_i64().unwrap(), m["hostPort"].as_i64().unwrap())).collect();
    assert_eq!(ports, [(80, 80), (30080, 30080), (443, 443)]);
    let patch = nodes[0]["kubeadmConfigPatches"][0].as_str().unwrap();
    assert!(patch.contains("kind: InitConfiguration") && patch.contains("node-labels: \"ingress-ready=true\""), "{patch}");
    assert_eq!(nodes[1]["labels"]["tier"], "apps");
    assert!(nodes[1].get("extraPortMappings").is_none() && nodes[1].get("kubeadmConfigPatches").is_none());

    // keepData: StorageClass standard replaced, claims kept in <namespace>/<claim>.
    let client = common::client_for(&home.kubeconfig(), "kind-demo").await;
    let class = Api::<StorageClass>::all(client.clone()).get("standard").await.unwrap();
    assert_eq!(class.reclaim_policy.as_deref(), Some("Retain"));
    assert_eq!(class.volume_binding_mode.as_deref(), Some("WaitForFirstConsumer"));
    assert_eq!(class.parameters.unwrap()["pathPattern"], "{{ .PVC.Namespace }}/{{ .PVC.Name }}");
    assert!(!class.provisioner.is_empty(), "the provisioner is kept");
    assert!(Api::<ConfigMap>::namespaced(client.clone(), "demo").get_opt("app-config").await.unwrap().is_some(), "the stack was applied to kind-demo");

    // A second up reuses the cluster: nothing created, the images built and loaded again.
    project.standins.clear();
    let out = project.kdeck(&["up", "--skip-build"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains("(context kind-demo): already running"), "{}", stderr(&out));
    assert_eq!(
        project.standins.calls(),
        ["kind get clusters", "docker info --format {{.ServerVersion}}", "kind load docker-image app:1 --name demo"],
        "--skip-build builds nothing and still loads"
    );

    project.standins.clear();
    let out = project.kdeck(&["down", "--delete-cluster", "--yes"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(project.standins.calls(), ["kind delete cluster --name demo"]);
    assert!(stdout(&out).contains(&format!("kind cluster \"demo\" deleted; its volumes' data is kept in {volumes}")), "{}", stdout(&out));
    assert!(Path::new(&volumes).is_dir(), "the data stays on the host");
}

#[tokio::test]
async fn kind_load_falls_back_to_an_archive_with_the_containerd_image_store() {
    let home = TestSandbox::new("kind-fallback");
    let stack = "stack:\n  cluster: {provider: kind, name: fallback}\n  images: [{name: \"app:2\", context: app}]\n  deploy: [{namespace: fb, manifests: [k8s/*.yaml]}]\n";
    let mut project = Project::new(&home, &["kind", "docker"], &[("kdeck.yaml", stack), ("app/Dockerfile", DOCKERFILE), ("k8s/config.yaml", CONFIG_MAP)]);
    project.env.push(("KIND_CONTAINERD_STORE", "1".into()));

    let out = project.kdeck(&["up", "-o", "json"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["images"][0]["name"], "app:2");
    assert!(report["images"][0]["action"].as_str().unwrap().contains("docker save + kind load image-archive"), "{report}");
    let archive = project.path(".kdeck/kind/fallback-image.tar");
    let calls = project.standins.calls();
    assert_eq!(
        calls[calls.len() - 3..],
        [
            "kind load docker-image app:2 --name fallback".to_string(),
            format!("docker save -o {archive} app:2"),
            format!("kind load image-archive {archive} --name fallback"),
        ]
    );
    assert!(!Path::new(&archive).exists(), "the archive is removed once loaded");
    // Neither keepData nor ingress: the merged config is the minimal one.
    let config: serde_json::Value = serde_saphyr::from_str(&std::fs::read_to_string(project.path(".kdeck/kind/fallback.yaml")).unwrap()).unwrap();
    assert_eq!(config, serde_json::json!({"kind": "Cluster", "apiVersion": "kind.x-k8s.io/v1alpha4", "nodes": [{"role": "control-plane"}]}));
}

#[tokio::test]
async fn minikube_and_k3d_are_created_loaded_and_deleted() {
    let home = TestSandbox::new("mk");
    let _k3d = home.sibling("k3d-kd");
    let minikube = "stack:\n  name: shop\n  cluster: {provider: minikube, name: mk, keepData: true}\n  images: [{name: \"api:3\", context: ., dockerfile: api.Dockerfile}]\n  deploy: [{namespace: shop, manifests: [k8s/*.yaml]}]\n";
    let project = Project::new(
        &home,
        &["minikube", "k3d", "docker"],
        &[
            ("kdeck.yaml", minikube),
            ("api.Dockerfile", DOCKERFILE),
            ("k8s/config.yaml", CONFIG_MAP),
            ("k3d.yaml", "apiVersion: k3d.io/v1alpha5\nkind: Simple\n"),
        ],
    );

    let out = project.kdeck(&["up"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains("cluster: minikube \"mk\" (context mk): created"), "{}", stderr(&out));
    let volumes = project.path(".kdeck/volumes/mk");
    assert_eq!(
        project.standins.calls(),
        [
            "minikube profile list -o json".to_string(),
            format!("minikube start -p mk --mount --mount-string {volumes}:/tmp/hostpath-provisioner"),
            "docker info --format {{.ServerVersion}}".to_string(),
            format!("docker build -t api:3 -f {} {}", project.path("api.Dockerfile"), project.dir.display()),
            "minikube image load api:3 -p mk".to_string(),
        ]
    );
    assert!(Path::new(&volumes).is_dir());
    project.standins.clear();
    let out = project.kdeck(&["up"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!project.standins.calls().iter().any(|c| c.starts_with("minikube start")), "a running profile is reused: {:?}", project.standins.calls());
    project.standins.clear();
    let out = project.kdeck(&["down", "--delete-cluster", "--yes"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(project.standins.calls(), ["minikube delete -p mk"]);

    project.write("kdeck.yaml", &minikube.replace("provider: minikube, name: mk", "provider: k3d, name: kd, config: k3d.yaml"));
    project.standins.clear();
    let out = project.kdeck(&["up"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains("cluster: k3d \"kd\" (context k3d-kd): created"), "{}", stderr(&out));
    let calls = project.standins.calls();
    assert_eq!(calls[0], "k3d cluster list -o json");
    assert_eq!(
        calls[1],
        format!(
            "k3d cluster create kd --config {} --volume {}:/var/lib/rancher/k3s/storage@all --kubeconfig-switch-context=false",
            project.path("k3d.yaml"),
            project.path(".kdeck/volumes/kd")
        )
    );
    assert_eq!(calls.last().unwrap(), "k3d image import api:3 -c kd");
    project.standins.clear();
    let out = project.kdeck(&["down", "--delete-cluster", "--yes"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(project.standins.calls(), ["k3d cluster delete kd"]);
}

#[tokio::test]
async fn a_missing_tool_is_named_with_where_to_get_it() {
    let home = TestSandbox::new("kind-nodocker");
    for (provider, page) in [("kind", "kind.sigs.k8s.io"), ("minikube", "minikube.sigs.k8s.io"), ("k3d", "k3d.io")] {
        let stack = format!("stack:\n  cluster: {{provider: {provider}, name: nodocker}}\n  deploy: [{{manifests: [k8s/*.yaml]}}]\n");
        let project = Project::new(&home, &[], &[("kdeck.yaml", &stack), ("k8s/config.yaml", CONFIG_MAP)]);
        let out = project.kdeck(&["up"]);
        assert_eq!(out.status.code(), Some(2), "{provider}: {}", stderr(&out));
        assert!(stderr(&out).contains(&format!("needs `{provider}`, which is not on PATH")), "{}", stderr(&out));
        assert!(stderr(&out).contains(page), "{}", stderr(&out));
    }

    // kind without docker: the images cannot be built or loaded.
    let stack = "stack:\n  cluster: {provider: kind, name: nodocker}\n  images: [{name: \"app:1\", context: app}]\n  deploy: [{manifests: [k8s/*.yaml]}]\n";
    let project = Project::new(&home, &["kind"], &[("kdeck.yaml", stack), ("app/Dockerfile", DOCKERFILE)]);
    let out = project.kdeck(&["up"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("stack.images with provider kind needs `docker`, which is not on PATH"), "{}", stderr(&out));
    // docker there, its engine not running.
    let mut project = Project::new(&home, &["kind", "docker"], &[]);
    project.env.push(("DOCKER_NO_ENGINE", "1".into()));
    let out = project.kdeck(&["up"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("docker's engine does not answer (Cannot connect to the Docker daemon."), "{}", stderr(&out));
    assert!(!project.standins.calls().iter().any(|c| c.starts_with("docker build")));
}

#[tokio::test]
async fn the_sandbox_takes_images_as_present_and_a_failed_build_shows_its_last_lines() {
    let home = TestSandbox::new("images-sb");
    let stack = "stack:\n  cluster: {name: images-sb}\n  images: [{name: \"app:1\", context: app}]\n  deploy: [{namespace: sb, manifests: [k8s/*.yaml]}]\n";
    let mut project = Project::new(&home, &[], &[("kdeck.yaml", stack), ("app/Dockerfile", DOCKERFILE), ("k8s/config.yaml", CONFIG_MAP)]);

    let out = project.kdeck(&["up"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains("images: the sandbox takes them as present; nothing built (docker is not on PATH)"), "{}", stderr(&out));

    project.standins = Standins::new(home.dir.path(), &["docker"]);
    project.env.push(("DOCKER_FAIL_BUILD", "1".into()));
    let out = project.kdeck(&["up"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("docker build -t app:1 (stack.images[0]) failed (exit 1)"), "{err}");
    assert!(err.contains("ERROR: failed to solve: process \"/bin/sh -c make\" did not complete successfully"), "{err}");
    assert!(err.contains("#30 step 30 of the build") && !err.contains("#5 step 5 of the build"), "the last lines only: {err}");
}
