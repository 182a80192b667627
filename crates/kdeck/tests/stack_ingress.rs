//! The ingress controller `kdeck up` installs (`stack.cluster.ingress`):
//! ingress-nginx's upstream manifest, pinned by an immutable URL and its sha256,
//! downloaded once, verified, cached under KDECK_HOME, applied to the cluster
//! behind the stand-in kind or k3d and waited for before the stack's own steps;
//! k3d's bundled Traefik disabled or kept; `ingress: none`. A local server stands
//! for the pinned URL (KDECK_INGRESS_NGINX_URL with KDECK_INGRESS_NGINX_SHA256,
//! the checksum still required), serving a manifest shaped as upstream's.

mod common;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Namespace, Secret, Service};
use k8s_openapi::api::networking::v1::Ingress;
use kube::Api;
use kube::api::{DynamicObject, PostParams};
use kube::core::GroupVersionKind;
use serde_json::Value;

use common::TestSandbox;
use common::ingress::{MANIFEST, ManifestServer, sha256};
use common::project::{stderr, stdout};
use common::standins::Project;

/// The pinned manifests: what kdeck downloads when nothing overrides it.
const KIND_URL: &str =
    "https://raw.githubusercontent.com/kubernetes/ingress-nginx/dbb11b92ddb77bee9c35e462479129354c84f939/deploy/static/provider/kind/deploy.yaml";
const KIND_SHA256: &str = "2a3ae008c8786431115502644e77ab398fdebfb721a5d1195ed3089cde3299df";
const CLOUD_URL: &str =
    "https://raw.githubusercontent.com/kubernetes/ingress-nginx/dbb11b92ddb77bee9c35e462479129354c84f939/deploy/static/provider/cloud/deploy.yaml";
const CLOUD_SHA256: &str = "502fddca66b09c20dd48b6d0a792a9671cd663a3a0d2a8bda5ae990d13b6c5b2";

const URL_ENV: &str = "KDECK_INGRESS_NGINX_URL";
const SHA256_ENV: &str = "KDECK_INGRESS_NGINX_SHA256";

fn stack(cluster: &str) -> String {
    format!("stack:\n  name: web\n  cluster: {{{cluster}}}\n  deploy:\n    - namespace: web\n      manifests: [k8s/*.yaml]\n")
}

/// The stack's own step: a web server behind an Ingress of the class ingress-nginx serves.
const WEB: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:1.27", ports: [{name: http, containerPort: 80}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: http}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  ingressClassName: nginx
  rules: [{host: web.localtest.me, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}}]
"#;

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", stdout(out), stderr(out)))
}

fn cached(home: &TestSandbox, sha256: &str) -> std::path::PathBuf {
    home.home().join("cache").join("ingress-nginx").join(format!("{sha256}.yaml"))
}

#[tokio::test]
async fn kind_gets_the_pinned_ingress_nginx_downloaded_once_verified_and_waited_for_first() {
    let home = TestSandbox::new("kind-web");
    let mut project = Project::new(&home, &["kind"], &[("kdeck.yaml", &stack("provider: kind, name: web, ingress: nginx")), ("k8s/web.yaml", WEB)]);

    // The plan names the pinned manifest, downloads nothing and runs no tool.
    let plan = project.kdeck(&["up", "--dry-run"]);
    assert!(plan.status.success(), "{}\n{}", stdout(&plan), stderr(&plan));
    let text = stdout(&plan);
    assert!(
        text.contains("  ingress controller ingress-nginx v1.15.1 (kind manifest): would be downloaded (not in the cache), verified, applied and waited for"),
        "{text}"
    );
    assert!(text.contains(&format!("    {KIND_URL} (sha256 {KIND_SHA256})")), "{text}");
    let plan = json(&project.kdeck(&["up", "--dry-run", "-o", "json"]));
    assert_eq!(plan["ingressController"]["source"], KIND_URL);
    assert_eq!(plan["ingressController"]["sha256"], KIND_SHA256);
    assert_eq!(project.standins.calls(), Vec::<String>::new());
    assert!(!cached(&home, KIND_SHA256).exists());
    // So does doctor.
    let doctor = stdout(&project.kdeck(&["doctor"]));
    assert!(
        doctor.contains(&format!(
            "ok    ingress    ingress-nginx v1.15.1 (kind manifest): not in the cache yet; `kdeck up` downloads {KIND_URL} (sha256 {KIND_SHA256})"
        )),
        "{doctor}"
    );

    // Downloaded (from the stand-in of the pinned URL), verified, applied, waited for.
    let server = ManifestServer::start(MANIFEST);
    let checksum = sha256(MANIFEST.as_bytes());
    project.env.push((URL_ENV, server.url.clone()));
    project.env.push((SHA256_ENV, checksum.clone()));
    let out = project.kdeck(&["up", "--timeout", "120s"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(server.requests(), 1);
    let (out_text, err_text) = (stdout(&out), stderr(&out));
    assert!(err_text.contains(&format!("ingress: ingress-nginx v1.15.1 (kind manifest): downloaded, sha256 verified ({})", server.url)), "{err_text}");
    assert!(
        out_text
            .contains(&format!("ingress controller: ingress-nginx v1.15.1 (kind manifest), downloaded, sha256 verified ({}, sha256 {checksum})", server.url)),
        "{out_text}"
    );
    // The controller's step first, ready before the stack's own step was applied.
    let first = err_text.find("step 1/2 ingress-nginx v1.15.1 (kind manifest): 13 objects").expect(&err_text);
    let ready = err_text.find("Deployment/ingress-nginx-controller -n ingress-nginx ready").expect(&err_text);
    let second = err_text.find("step 2/2 manifests k8s/*.yaml").expect(&err_text);
    assert!(first < ready && ready < second, "{err_text}");
    for job in ["ingress-nginx-admission-create", "ingress-nginx-admission-patch"] {
        let line = out_text.lines().find(|l| l.starts_with(&format!("Job/{job} "))).unwrap_or_else(|| panic!("{job}: {out_text}"));
        assert!(line.contains("ingress-nginx") && line.contains(" ready"), "{line}");
    }
    assert!(out_text.contains("stack web is ready"), "{out_text}");
    assert!(out_text.contains("\ningress: http://127.0.0.1\n"), "the host port kind maps to the controller's 80: {out_text}");
    assert_eq!(std::fs::read_to_string(cached(&home, &checksum)).unwrap(), MANIFEST, "the verified manifest is cached by its checksum");
    let doctor = stdout(&project.kdeck(&["doctor"]));
    assert!(doctor.contains("ok    ingress    ingress-nginx v1.15.1 (kind manifest): from the cache, sha256 verified"), "{doctor}");

    // The cluster: the admission Jobs ran (certificate Secret made, webhook patched
    // with its CA) and are gone, the controller is available, the stack's Ingress admitted.
    let client = common::client_for(&home.kubeconfig(), "kind-web").await;
    let secret = Api::<Secret>::namespaced(client.clone(), "ingress-nginx").get("ingress-nginx-admission").await.unwrap();
    let data = secret.data.unwrap();
    assert!(["ca", "cert", "key"].iter().all(|k| data.contains_key(*k)), "{:?}", data.keys());
    assert!(String::from_utf8_lossy(&data["ca"].0).starts_with("-----BEGIN CERTIFICATE-----"));
    let gvk = GroupVersionKind::gvk("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration");
    let (resource, _) = kube::discovery::pinned_kind(&client, &gvk).await.unwrap();
    let webhook = Api::<DynamicObject>::all_with(client.clone(), &resource).get("ingress-nginx-admission").await.unwrap();
    let hook = &webhook.data["webhooks"][0];
    assert_eq!(hook["clientConfig"]["caBundle"].as_str(), Some(base64_of(&data["ca"].0).as_str()), "the patch Job put the CA in");
    assert_eq!(hook["failurePolicy"], "Fail");
    assert!(Api::<Job>::namespaced(client.clone(), "ingress-nginx").list(&Default::default()).await.unwrap().items.is_empty(), "ttlSecondsAfterFinished: 0");
    let controller = Api::<Deployment>::namespaced(client.clone(), "ingress-nginx").get("ingress-nginx-controller").await.unwrap();
    assert_eq!(controller.status.unwrap().available_replicas, Some(1));
    let labels = controller.metadata.labels.unwrap_or_default();
    assert!(labels.contains_key("applyset.kubernetes.io/part-of"), "a member of the stack's ApplySet: {labels:?}");
    let ingress = Api::<Ingress>::namespaced(client.clone(), "web").get("web").await.unwrap();
    assert!(ingress.status.and_then(|s| s.load_balancer).and_then(|l| l.ingress).is_some_and(|i| !i.is_empty()));

    // A second up reads the cache: no second download; the admission Jobs run again.
    let out = project.kdeck(&["up", "-o", "json"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(server.requests(), 1, "the cached manifest is used");
    let report = json(&out);
    assert_eq!(report["ingressController"]["action"], "from the cache, sha256 verified");
    assert_eq!(report["steps"][0]["title"], "ingress-nginx v1.15.1 (kind manifest)");
    let changes: Vec<(String, String)> =
        report["steps"][0]["objects"].as_array().unwrap().iter().map(|o| (o["kind"].as_str().unwrap().into(), o["change"].as_str().unwrap().into())).collect();
    assert!(changes.iter().filter(|(k, _)| k == "Job").all(|(_, c)| c == "create"), "removed by their TTL, created again: {changes:?}");
    assert!(changes.iter().filter(|(k, _)| k != "Job" && k != "ValidatingWebhookConfiguration").all(|(_, c)| c == "unchanged"), "{changes:?}");
    // (The sandbox's server-side apply owns lists whole, so kdeck's apply of the
    // webhook drops the caBundle the patch Job set — a real server keeps it, the
    // list being keyed by name — and the patch Job, run again, puts it back.)
    let webhook = Api::<DynamicObject>::all_with(client.clone(), &resource).get("ingress-nginx-admission").await.unwrap();
    assert_eq!(webhook.data["webhooks"][0]["clientConfig"]["caBundle"].as_str(), Some(base64_of(&data["ca"].0).as_str()), "the same CA: the Secret was kept");

    // A damaged cache entry is not used: downloaded again and verified.
    std::fs::write(cached(&home, &checksum), "tampered").unwrap();
    let out = project.kdeck(&["up", "--dry-run", "-o", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out)["ingressController"]["action"], "would be downloaded (not in the cache), verified, applied and waited for");
    assert_eq!(server.requests(), 1, "a dry run downloads nothing");

    // `down` removes the controller with the rest of what `up` applied.
    let out = project.kdeck(&["down", "--yes"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let namespace = Api::<Namespace>::all(client.clone()).get_opt("ingress-nginx").await.unwrap();
    assert!(namespace.is_none_or(|n| n.metadata.deletion_timestamp.is_some()), "ingress-nginx went with the stack");
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn a_checksum_mismatch_or_a_failed_download_is_refused_with_nothing_created() {
    let home = TestSandbox::new("kind-web");
    let mut project = Project::new(&home, &["kind"], &[("kdeck.yaml", &stack("provider: kind, name: web, ingress: nginx")), ("k8s/web.yaml", WEB)]);

    // The server's file is not the one pinned: refused, naming both checksums.
    let tampered = MANIFEST.replace("--patch-failure-policy=Fail", "--patch-failure-policy=Ignore");
    let server = ManifestServer::start(&tampered);
    let expected = sha256(MANIFEST.as_bytes());
    project.env.push((URL_ENV, server.url.clone()));
    project.env.push((SHA256_ENV, expected.clone()));
    let out = project.kdeck(&["up"]);
    assert_eq!(out.status.code(), Some(1), "{}\n{}", stdout(&out), stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "the ingress-nginx manifest downloaded from {} does not have its pinned checksum: expected sha256 {expected}, got {}; refused",
            server.url,
            sha256(tampered.as_bytes())
        )),
        "{err}"
    );
    assert!(err.contains("nothing was created, applied or cached"), "{err}");
    assert_eq!(server.requests(), 1);
    assert_eq!(project.standins.calls(), Vec::<String>::new(), "no cluster was created");
    assert!(!cached(&home, &expected).exists() && !cached(&home, &sha256(tampered.as_bytes())).exists());

    // Nothing answers there (offline): the URL and the ways out are named.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/deploy.yaml", closed.local_addr().unwrap());
    drop(closed);
    project.env.retain(|(k, _)| *k != URL_ENV);
    project.env.push((URL_ENV, url.clone()));
    let out = project.kdeck(&["up"]);
    assert_eq!(out.status.code(), Some(1), "{}\n{}", stdout(&out), stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(&format!("cannot download ingress-nginx's manifest from {url}: cannot connect to")), "{err}");
    assert!(err.contains("stack.cluster.ingress: none") && err.contains("stack.cluster.ingressManifest: PATH"), "{err}");
    assert_eq!(project.standins.calls(), Vec::<String>::new());

    // Half an override, or a checksum that is not one: bad input.
    project.env.retain(|(k, _)| *k != SHA256_ENV);
    let out = project.kdeck(&["up", "--dry-run"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("KDECK_INGRESS_NGINX_URL and KDECK_INGRESS_NGINX_SHA256 go together"), "{}", stderr(&out));
    project.env.push((SHA256_ENV, "abc".into()));
    let out = project.kdeck(&["up", "--dry-run"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("is not a sha256 (64 hexadecimal digits)"), "{}", stderr(&out));
}

#[tokio::test]
async fn k3d_disables_traefik_for_ingress_nginx_keeps_it_for_traefik_and_refuses_both_at_once() {
    let home = TestSandbox::new("k3d-kd");
    let mut project = Project::new(&home, &["k3d"], &[("kdeck.yaml", &stack("provider: k3d, name: kd, ingress: traefik")), ("k8s/web.yaml", WEB)]);
    let server = ManifestServer::start(MANIFEST);
    project.env.push((URL_ENV, server.url.clone()));
    project.env.push((SHA256_ENV, sha256(MANIFEST.as_bytes())));
    let without_web = |p: &Project| p.write("k8s/web.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\n");
    // k3d's Traefik serves the class traefik: the stack's Ingress is left out here.
    without_web(&project);

    // traefik: k3d's own, kept; nothing downloaded.
    let out = project.kdeck(&["up"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(project.standins.calls()[1], "k3d cluster create kd --kubeconfig-switch-context=false");
    assert_eq!(server.requests(), 0);

    // Switching that cluster to nginx: its Traefik (as k3s runs it) would hold the ports.
    let client = common::client_for(&home.kubeconfig(), "k3d-kd").await;
    let traefik: Service =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "traefik"}, "spec": {"type": "LoadBalancer", "ports": [{"name": "web", "port": 80}]}}))
            .unwrap();
    Api::<Service>::namespaced(client.clone(), "kube-system").create(&PostParams::default(), &traefik).await.unwrap();
    project.write("kdeck.yaml", &stack("provider: k3d, name: kd, ingress: nginx"));
    let out = project.kdeck(&["up"]);
    assert_eq!(out.status.code(), Some(2), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains("runs its bundled Traefik, which holds the ports 80 and 443 ingress-nginx needs"), "{}", stderr(&out));
    assert!(stderr(&out).contains("kdeck down --delete-cluster, then kdeck up"), "{}", stderr(&out));

    // Recreated by kdeck with nginx: Traefik disabled, the cloud manifest installed.
    let out = project.kdeck(&["down", "--delete-cluster", "--yes"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    project.standins.clear();
    project.write("k8s/web.yaml", WEB);
    let plan = project.kdeck(&["up", "--dry-run", "-o", "json"]);
    assert!(plan.status.success(), "{}", stderr(&plan));
    assert_eq!(json(&plan)["ingressController"]["controller"], "ingress-nginx v1.15.1 (cloud manifest)");
    let out = project.kdeck(&["up", "--timeout", "120s"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(
        project.standins.calls()[..2],
        ["k3d cluster list -o json".to_string(), "k3d cluster create kd --k3s-arg --disable=traefik@server:* --kubeconfig-switch-context=false".to_string()]
    );
    assert_eq!(server.requests(), 1);
    let client = common::client_for(&home.kubeconfig(), "k3d-kd").await;
    let controller = Api::<Deployment>::namespaced(client.clone(), "ingress-nginx").get("ingress-nginx-controller").await.unwrap();
    assert_eq!(controller.status.unwrap().available_replicas, Some(1));

    // Without the override, the pinned cloud manifest is what the plan shows.
    project.env.clear();
    let plan = json(&project.kdeck(&["up", "--dry-run", "-o", "json"]));
    assert_eq!((plan["ingressController"]["source"].as_str(), plan["ingressController"]["sha256"].as_str()), (Some(CLOUD_URL), Some(CLOUD_SHA256)));
}

#[tokio::test]
async fn ingress_none_installs_nothing_and_providers_refuse_what_they_cannot_have() {
    let home = TestSandbox::new("kind-web");
    let mut project = Project::new(
        &home,
        &["kind"],
        &[("kdeck.yaml", &stack("provider: kind, name: web, ingress: none")), ("k8s/web.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\n")],
    );
    let server = ManifestServer::start(MANIFEST);
    project.env.push((URL_ENV, server.url.clone()));
    project.env.push((SHA256_ENV, sha256(MANIFEST.as_bytes())));

    let out = project.kdeck(&["up", "-o", "json"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let report = json(&out);
    assert!(report.get("ingressController").is_none(), "{report}");
    assert_eq!(report["steps"].as_array().unwrap().len(), 1);
    assert_eq!(server.requests(), 0);
    let config: Value = serde_saphyr::from_str(&std::fs::read_to_string(project.path(".kdeck/kind/web.yaml")).unwrap()).unwrap();
    assert_eq!(config["nodes"], serde_json::json!([{"role": "control-plane"}]), "no ports or label for an ingress");
    let client = common::client_for(&home.kubeconfig(), "kind-web").await;
    assert!(Api::<Namespace>::all(client.clone()).get_opt("ingress-nginx").await.unwrap().is_none());

    for (cluster, words) in [
        ("provider: kind, name: web, ingress: traefik", "traefik is k3d's bundled controller; provider kind has no Traefik"),
        ("provider: sandbox, name: web, ingress: traefik", "provider sandbox has no Traefik"),
        ("provider: minikube, name: web, ingress: traefik", "provider minikube has no Traefik"),
        ("provider: context, name: kind-web, ingress: nginx", "provider context installs no ingress controller"),
        ("provider: kind, name: web, ingress: none, ingressManifest: x.yaml", "stack.cluster.ingressManifest: x.yaml: kdeck installs no ingress-nginx here"),
        ("provider: kind, name: web, ingress: nginx, ingressManifest: x.yaml", "stack.cluster.ingressManifest: x.yaml does not exist"),
    ] {
        project.write("kdeck.yaml", &stack(cluster));
        let out = project.kdeck(&["up"]);
        assert_eq!(out.status.code(), Some(2), "{cluster}: {}", stderr(&out));
        assert!(stderr(&out).contains(words), "{cluster}: {}", stderr(&out));
        let doctor = project.kdeck(&["doctor"]);
        assert_eq!(doctor.status.code(), Some(1), "{cluster}: {}", stdout(&doctor));
        assert!(stdout(&doctor).lines().any(|l| l.starts_with("FAIL  ingress") && l.contains(words)), "{cluster}: {}", stdout(&doctor));
    }
    assert_eq!(server.requests(), 0);
}
