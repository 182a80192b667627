//! ServiceAccount tokens in pods, as a real cluster gives them, end to end through
//! kube-rs and the kdeck binary: the admission plugin's `kube-api-access-*` volume
//! and mounts (or none with `automountServiceAccountToken: false`, and a refusal
//! for an account that does not exist), the files an exec sees with their modes,
//! tokens that authenticate as `system:serviceaccount:NS:NAME` with read-only
//! rights (never the admin's), TokenRequest, tokens outliving a restart, and
//! in-cluster clients inside a pod reaching the API server at the `kubernetes`
//! Service — curl, Python's urllib, and the Python client's
//! `load_incluster_config()` in a pod that runs for real.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use common::{TestSandbox, api_error, exec, wait_object, wait_pod, which};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::authentication::v1::{SelfSubjectReview, TokenRequest};
use k8s_openapi::api::core::v1::{ConfigMap, Event, Namespace, PersistentVolumeClaim, Pod, ServiceAccount};
use kube::api::{Api, DeleteParams, ListParams, LogParams, PostParams};
use serde_json::{Value, json};

const MOUNT: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

fn running(pod: &Pod) -> bool {
    pod.status.as_ref().and_then(|s| s.container_statuses.as_ref()).is_some_and(|cs| cs.iter().all(|c| c.state.as_ref().is_some_and(|s| s.running.is_some())))
}

async fn namespace(client: &kube::Client, name: &str) {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": name}})).unwrap()).await.unwrap();
}

async fn create_pod(pods: &Api<Pod>, pod: Value) -> kube::Result<Pod> {
    pods.create(&PostParams::default(), &serde_json::from_value(pod).unwrap()).await
}

/// A client of this sandbox that authenticates with `token`.
async fn client_with_token(sandbox: &TestSandbox, token: &str) -> kube::Client {
    let config = kube::config::Kubeconfig::read_from(sandbox.kubeconfig()).unwrap();
    let cluster = config.clusters.iter().find(|c| c.name == sandbox.name).and_then(|c| c.cluster.clone()).unwrap();
    let text = json!({
        "apiVersion": "v1", "kind": "Config", "current-context": "sa",
        "clusters": [{"name": "sa", "cluster": {"server": cluster.server, "certificate-authority-data": cluster.certificate_authority_data}}],
        "users": [{"name": "sa", "user": {"token": token}}],
        "contexts": [{"name": "sa", "context": {"cluster": "sa", "user": "sa"}}],
    });
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&text.to_string()).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await.unwrap();
    kube::Client::try_from(config).unwrap()
}

/// The sandbox's own tokens and CA, from the kubeconfig it wrote.
fn kubeconfig_secrets(sandbox: &TestSandbox) -> (Vec<String>, String) {
    let config: Value = serde_saphyr::from_str(&std::fs::read_to_string(sandbox.kubeconfig()).unwrap()).unwrap();
    let tokens = config["users"].as_array().unwrap().iter().filter_map(|u| u["user"]["token"].as_str().map(str::to_string)).collect();
    let cluster = config["clusters"].as_array().unwrap().iter().find(|c| c["name"] == sandbox.name.as_str()).unwrap();
    let ca = base64::engine::general_purpose::STANDARD.decode(cluster["cluster"]["certificate-authority-data"].as_str().unwrap()).unwrap();
    (tokens, String::from_utf8(ca).unwrap())
}

/// How the pod's root shows as the owner of the files the kubelet writes: itself
/// when the sandbox runs as root, else the pod's user (the one id mapped).
fn pod_root() -> &'static str {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 { "0" } else { "65534" }
}

async fn whoami(client: &kube::Client) -> Value {
    let reviews: Api<SelfSubjectReview> = Api::all(client.clone());
    let review = reviews.create(&PostParams::default(), &SelfSubjectReview::default()).await.unwrap();
    serde_json::to_value(review.status.unwrap().user_info.unwrap()).unwrap()
}

/// Whether the token is refused as a credential (401).
async fn unauthorized(sandbox: &TestSandbox, token: &str) -> bool {
    let pods: Api<Pod> = Api::namespaced(client_with_token(sandbox, token).await, "default");
    matches!(pods.list(&ListParams::default()).await, Err(kube::Error::Api(s)) if s.code == 401)
}

#[tokio::test]
async fn pods_get_their_service_account_token_and_exec_shows_it() {
    let sandbox = TestSandbox::start("sa-volume");
    let client = sandbox.client().await;
    namespace(&client, "team").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "team");
    let created = create_pod(
        &pods,
        json!({"metadata": {"name": "web"}, "spec": {
            "initContainers": [{"name": "init", "image": "busybox"}],
            "containers": [{"name": "app", "image": "nginx", "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
            "volumes": [{"name": "data", "emptyDir": {}}]}}),
    )
    .await
    .unwrap();

    // The create answer already has what the admission plugin wrote.
    let spec = serde_json::to_value(created.spec.unwrap()).unwrap();
    let volume = &spec["volumes"][1];
    let name = volume["name"].as_str().unwrap();
    let suffix = name.strip_prefix("kube-api-access-").expect("the plugin's volume name");
    assert!(suffix.len() == 5 && suffix.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()), "{name}");
    assert_eq!(
        volume["projected"],
        json!({"defaultMode": 420, "sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
        ]})
    );
    let mount = json!({"name": name, "readOnly": true, "mountPath": MOUNT});
    assert_eq!(spec["initContainers"][0]["volumeMounts"], json!([mount]));
    assert_eq!(spec["containers"][0]["volumeMounts"][1], mount, "after the container's own mounts");
    assert_eq!(spec["serviceAccountName"], "default");

    // Exec shows the three files, with the volume's mode.
    wait_pod(&pods, "web", "running", running).await;
    let out = exec(&pods, "web", &["cat", &format!("{MOUNT}/namespace")]).await;
    assert_eq!((out.code, out.stdout.as_str()), (0, "team"), "{}", out.stderr);
    let out = exec(&pods, "web", &["stat", "-c", "%n %a %u", &format!("{MOUNT}/ca.crt"), &format!("{MOUNT}/namespace"), &format!("{MOUNT}/token")]).await;
    let want = ["ca.crt", "namespace", "token"].map(|f| format!("{MOUNT}/{f} 644 {}\n", pod_root())).concat();
    assert_eq!(out.stdout, want, "{}", out.stderr);
    let (own_tokens, ca) = kubeconfig_secrets(&sandbox);
    assert_eq!(exec(&pods, "web", &["cat", &format!("{MOUNT}/ca.crt")]).await.stdout, ca, "the sandbox CA");
    let token = exec(&pods, "web", &["cat", &format!("{MOUNT}/token")]).await.stdout;

    // The token is the account's own: never the sandbox's tokens, anywhere in the pod.
    let everything = exec(&pods, "web", &["sh", "-c", &format!("cat {MOUNT}/*; env")]).await.stdout;
    assert_eq!(own_tokens.len(), 2, "the admin and read-only tokens");
    for own in &own_tokens {
        assert!(!everything.contains(own.as_str()), "a sandbox token is in the pod");
    }
    let as_pod = client_with_token(&sandbox, &token).await;
    let me = whoami(&as_pod).await;
    assert_eq!(me["username"], "system:serviceaccount:team:default");
    assert_eq!(me["groups"], json!(["system:serviceaccounts", "system:serviceaccounts:team", "system:authenticated"]));
    assert_eq!(me["extra"]["authentication.kubernetes.io/pod-name"], json!(["web"]));
    let default_sa = Api::<ServiceAccount>::namespaced(client.clone(), "team").get("default").await.unwrap();
    assert_eq!(me["uid"].as_str(), default_sa.metadata.uid.as_deref());

    // Read-only: it reads, and a write is refused as RBAC refuses it.
    let pod_pods: Api<Pod> = Api::namespaced(as_pod.clone(), "team");
    assert_eq!(pod_pods.list(&ListParams::default()).await.unwrap().items.len(), 1);
    let configmaps: Api<ConfigMap> = Api::namespaced(as_pod.clone(), "team");
    let (code, reason, message) =
        api_error(configmaps.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "x"}})).unwrap()).await);
    assert_eq!((code, reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        message,
        "configmaps is forbidden: User \"system:serviceaccount:team:default\" cannot create resource \"configmaps\" in API group \"\" in the namespace \"team\""
    );

    // Bound to the pod: gone with it.
    pods.delete("web", &DeleteParams { grace_period_seconds: Some(0), ..Default::default() }).await.unwrap();
    for _ in 0..100 {
        if pods.get_opt("web").await.unwrap().is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(unauthorized(&sandbox, &token).await, "a deleted pod's token still works");
}

#[tokio::test]
async fn automount_false_missing_accounts_and_private_tokens_as_the_plugin_does() {
    let sandbox = TestSandbox::start("sa-admission");
    let client = sandbox.client().await;
    namespace(&client, "team").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "team");
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "team");
    let pod = |name: &str, spec: Value| {
        let mut pod = json!({"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
        pod["spec"].as_object_mut().unwrap().extend(spec.as_object().unwrap().clone());
        pod
    };
    let volumes = |pod: &Pod| pod.spec.as_ref().unwrap().volumes.clone().unwrap_or_default();

    let off = create_pod(&pods, pod("off", json!({"automountServiceAccountToken": false}))).await.unwrap();
    assert!(volumes(&off).is_empty() && off.spec.unwrap().containers[0].volume_mounts.is_none(), "the pod says no");
    accounts
        .create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "quiet"}, "automountServiceAccountToken": false})).unwrap())
        .await
        .unwrap();
    assert!(volumes(&create_pod(&pods, pod("quiet", json!({"serviceAccountName": "quiet"}))).await.unwrap()).is_empty(), "the account says no");
    let mine = create_pod(&pods, pod("mine", json!({"serviceAccountName": "quiet", "automountServiceAccountToken": true}))).await.unwrap();
    assert_eq!(volumes(&mine).len(), 1, "the pod's choice wins over the account's");

    // An account that does not exist: refused as the plugin refuses it.
    let (code, reason, message) = api_error(create_pod(&pods, pod("lost", json!({"serviceAccountName": "ghost"}))).await);
    assert_eq!((code, reason.as_str()), (403, "Forbidden"));
    assert_eq!(message, "pods \"lost\" is forbidden: error looking up service account team/ghost: serviceaccount \"ghost\" not found");

    // A Deployment waiting for its account: FailedCreate, then its pod once the account exists.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "team");
    let deployment = json!({"metadata": {"name": "late"}, "spec": {"selector": {"matchLabels": {"app": "late"}},
        "template": {"metadata": {"labels": {"app": "late"}}, "spec": {"serviceAccountName": "late", "containers": [{"name": "c", "image": "nginx"}]}}}});
    deployments.create(&PostParams::default(), &serde_json::from_value(deployment).unwrap()).await.unwrap();
    let events: Api<Event> = Api::namespaced(client.clone(), "team");
    let mut failed = None;
    for _ in 0..100 {
        failed = events.list(&ListParams::default()).await.unwrap().items.into_iter().find(|e| e.reason.as_deref() == Some("FailedCreate"));
        if failed.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let failed = failed.expect("a FailedCreate event");
    let text = failed.message.unwrap();
    assert!(
        text.starts_with("Error creating: pods \"late-")
            && text.ends_with("-\" is forbidden: error looking up service account team/late: serviceaccount \"late\" not found"),
        "{text}"
    );
    assert_eq!(failed.type_.as_deref(), Some("Warning"));
    // The ReplicaSet's ReplicaFailure condition reaches the Deployment, as rollout checks read it.
    let failure = |d: &Deployment| {
        let conditions = d.status.as_ref().and_then(|s| s.conditions.clone()).unwrap_or_default();
        conditions.into_iter().find(|c| c.type_ == "ReplicaFailure").map(|c| (c.status, c.reason.unwrap_or_default(), c.message.unwrap_or_default()))
    };
    let stuck = wait_object(&deployments, "late", "ReplicaFailure", |d| failure(d).is_some()).await;
    let (status, reason, message) = failure(&stuck).unwrap();
    assert_eq!((status.as_str(), reason.as_str()), ("True", "FailedCreate"));
    assert!(message.ends_with("serviceaccount \"late\" not found"), "{message}");
    accounts.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "late"}})).unwrap()).await.unwrap();
    let mut started = false;
    for _ in 0..100 {
        if !pods.list(&ListParams::default().labels("app=late")).await.unwrap().items.is_empty() {
            started = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(started, "the ReplicaSet tried again once the account existed");
    wait_object(&deployments, "late", "ReplicaFailure cleared", |d| failure(d).is_none()).await;

    // A pod whose containers share a user gets its token private to that user.
    create_pod(&pods, pod("private", json!({"securityContext": {"runAsUser": 1000}}))).await.unwrap();
    wait_pod(&pods, "private", "running", running).await;
    let out = exec(&pods, "private", &["stat", "-c", "%a %u", &format!("{MOUNT}/token"), &format!("{MOUNT}/ca.crt")]).await;
    let root = if pod_root() == "0" { "0" } else { "1000" };
    assert_eq!(out.stdout, format!("600 1000\n644 {root}\n"), "{}", out.stderr);
    let out = exec(&pods, "private", &["cat", &format!("{MOUNT}/token")]).await;
    assert!(out.code == 0 && out.stdout.starts_with("eyJ"), "its user reads it: {}", out.stderr);
}

#[tokio::test]
async fn token_requests_authenticate_as_the_account_and_outlive_a_restart() {
    let sandbox = TestSandbox::start("sa-tokens");
    let client = sandbox.client().await;
    namespace(&client, "team").await;
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "team");
    accounts.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "robot"}})).unwrap()).await.unwrap();

    // What `kubectl create token robot` sends: an empty spec, defaulted.
    let answer = accounts.create_token_request("robot", &PostParams::default(), &TokenRequest::default()).await.unwrap();
    let spec = serde_json::to_value(&answer.spec).unwrap();
    assert_eq!(spec, json!({"audiences": ["https://kubernetes.default.svc.cluster.local"], "expirationSeconds": 3600}));
    let status = answer.status.unwrap();
    let left = status.expiration_timestamp.0.duration_since(k8s_openapi::jiff::Timestamp::now()).as_secs();
    assert!((3590..=3600).contains(&left), "expires in {left}s");
    let token = status.token;
    let as_robot = client_with_token(&sandbox, &token).await;
    assert_eq!(whoami(&as_robot).await["username"], "system:serviceaccount:team:robot");
    let robot_accounts: Api<ServiceAccount> = Api::namespaced(as_robot.clone(), "team");
    assert_eq!(robot_accounts.list(&ListParams::default()).await.unwrap().items.len(), 2, "robot and default");
    let (code, _, message) = api_error(robot_accounts.delete("robot", &DeleteParams::default()).await);
    assert_eq!(code, 403, "{message}");

    // Read-only users may not mint tokens; lifetimes under 10 minutes are invalid.
    let readonly: Api<ServiceAccount> = Api::namespaced(sandbox.readonly_client().await, "team");
    let (code, _, message) = api_error(readonly.create_token_request("robot", &PostParams::default(), &TokenRequest::default()).await);
    assert_eq!(code, 403);
    assert_eq!(
        message,
        "serviceaccounts \"robot\" is forbidden: User \"sa-tokens-readonly\" cannot create resource \"serviceaccounts/token\" in API group \"\" in the namespace \"team\""
    );
    let short: TokenRequest = serde_json::from_value(json!({"spec": {"audiences": [], "expirationSeconds": 60}})).unwrap();
    let (code, reason, message) = api_error(accounts.create_token_request("robot", &PostParams::default(), &short).await);
    assert_eq!((code, reason.as_str()), (422, "Invalid"));
    assert_eq!(
        message,
        "TokenRequest.authentication.k8s.io \"\" is invalid: spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes"
    );
    let (code, _, message) = api_error(accounts.create_token_request("nobody", &PostParams::default(), &TokenRequest::default()).await);
    assert_eq!((code, message.as_str()), (404, "serviceaccounts \"nobody\" not found"));
    // Another audience is not the API server's: such a token is no credential here.
    let vault: TokenRequest = serde_json::from_value(json!({"spec": {"audiences": ["vault"]}})).unwrap();
    let vault = accounts.create_token_request("robot", &PostParams::default(), &vault).await.unwrap().status.unwrap().token;
    assert!(unauthorized(&sandbox, &vault).await);

    // A pod's token, and the TokenRequest's, still work after a restart.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "team");
    create_pod(&pods, json!({"metadata": {"name": "web"}, "spec": {"serviceAccountName": "robot", "containers": [{"name": "c", "image": "nginx"}]}}))
        .await
        .unwrap();
    wait_pod(&pods, "web", "running", running).await;
    let pod_token = exec(&pods, "web", &["cat", &format!("{MOUNT}/token")]).await.stdout;
    sandbox.stop();
    sandbox.start_again();
    for token in [&token, &pod_token] {
        let again = client_with_token(&sandbox, token).await;
        assert_eq!(whoami(&again).await["username"], "system:serviceaccount:team:robot", "after a restart");
    }

    // The account deleted: its tokens are no credential, and its running pod goes
    // on without one (exec still works); made again, it does not inherit them.
    let client = sandbox.client().await;
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "team");
    accounts.delete("robot", &DeleteParams::default()).await.unwrap();
    assert!(unauthorized(&sandbox, &token).await);
    assert!(unauthorized(&sandbox, &pod_token).await);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "team");
    let out = exec(&pods, "web", &["ls", MOUNT]).await;
    assert_eq!((out.code, out.stdout.as_str()), (0, "ca.crt\nnamespace\n"), "{}", out.stderr);
    accounts.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "robot"}})).unwrap()).await.unwrap();
    assert!(unauthorized(&sandbox, &token).await);
    assert!(unauthorized(&sandbox, &pod_token).await);
}

/// The Python packages `python-k8s`'s `kubernetes` client imports, linked (or
/// copied) into `into`; None without that interpreter.
fn python_client_into(into: &Path) -> Option<()> {
    let python = which("python-k8s")?;
    let script = "import os, sys, kubernetes.config, kubernetes.client\n\
        site = os.path.dirname(os.path.dirname(kubernetes.__file__))\n\
        print(site)\n\
        print('\\n'.join(sorted({m.__file__[len(site) + 1:].split('/')[0] for m in list(sys.modules.values()) if (getattr(m, '__file__', None) or '').startswith(site + '/')})))\n";
    let out = std::process::Command::new(python).args(["-c", script]).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let mut lines = text.lines();
    let site = PathBuf::from(lines.next()?);
    for top in lines {
        link_tree(&site.join(top), &into.join(top));
    }
    Some(())
}

/// Hard-links the files of `from` into `to` (copying across filesystems).
fn link_tree(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap().flatten() {
            link_tree(&entry.path(), &to.join(entry.file_name()));
        }
    } else if std::fs::hard_link(from, to).is_err() {
        std::fs::copy(from, to).unwrap();
    }
}

/// Python that reads its own pod through the API with the mounted token and CA,
/// and tries a write; `base` is a Python expression for the server's URL.
fn urllib_client(base: &str) -> String {
    format!(
        "import json, os, ssl, urllib.request, urllib.error\n\
         base = {base}\n\
         d = '{MOUNT}/'\n\
         ns = open(d + 'namespace').read()\n\
         ctx = ssl.create_default_context(cafile=d + 'ca.crt')\n\
         auth = {{'Authorization': 'Bearer ' + open(d + 'token').read()}}\n\
         pod = json.load(urllib.request.urlopen(urllib.request.Request(base + '/api/v1/namespaces/%s/pods/%s' % (ns, os.environ['HOSTNAME']), headers=auth), context=ctx))\n\
         print('serviceAccount', pod['spec']['serviceAccountName'])\n\
         try:\n    urllib.request.urlopen(urllib.request.Request(base + '/api/v1/namespaces/%s/configmaps' % ns, data=b'{{\"metadata\": {{\"name\": \"x\"}}}}', headers=dict(auth, **{{'Content-Type': 'application/json'}})), context=ctx)\n    print('created')\n\
         except urllib.error.HTTPError as e:\n    print('refused', e.code)\n"
    )
}

/// The Python client, as an application in a pod starts it.
const INCLUSTER_CLIENT: &str = "import os, sys\n\
    sys.path.insert(0, '/deps')\n\
    from kubernetes import client, config\n\
    config.load_incluster_config()\n\
    v1 = client.CoreV1Api()\n\
    ns = open('/var/run/secrets/kubernetes.io/serviceaccount/namespace').read()\n\
    print('serviceAccount', v1.read_namespaced_pod(os.environ['HOSTNAME'], ns).spec.service_account_name)\n\
    try:\n    v1.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name='x')))\n    print('created')\n\
    except client.ApiException as e:\n    print('refused', e.status)\n";

#[tokio::test]
async fn in_cluster_clients_reach_the_api_server_from_inside_pods() {
    let sandbox = TestSandbox::start_with_args("sa-incluster", &["--run-commands"]);
    let client = sandbox.client().await;
    namespace(&client, "team").await;
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "team");
    accounts.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "reader"}})).unwrap()).await.unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "team");

    // An exec: the kubelet's variables, curl and Python at the Service's names.
    create_pod(&pods, json!({"metadata": {"name": "shell"}, "spec": {"serviceAccountName": "reader", "containers": [{"name": "c", "image": "python"}]}}))
        .await
        .unwrap();
    wait_pod(&pods, "shell", "running", running).await;
    let env = exec(&pods, "shell", &["env"]).await.stdout;
    for var in [
        "KUBERNETES_SERVICE_HOST=10.96.0.1",
        "KUBERNETES_SERVICE_PORT=443",
        "KUBERNETES_SERVICE_PORT_HTTPS=443",
        "KUBERNETES_PORT=tcp://10.96.0.1:443",
        "KUBERNETES_PORT_443_TCP=tcp://10.96.0.1:443",
        "KUBERNETES_PORT_443_TCP_PROTO=tcp",
        "KUBERNETES_PORT_443_TCP_PORT=443",
        "KUBERNETES_PORT_443_TCP_ADDR=10.96.0.1",
    ] {
        assert!(env.lines().any(|l| l == var), "{var} missing from:\n{env}");
    }
    let out = exec(&pods, "shell", &["python3", "-c", &urllib_client("'https://kubernetes.default.svc'")]).await;
    assert_eq!(out.stdout, "serviceAccount reader\nrefused 403\n", "{}", out.stderr);
    if which("curl").is_some() {
        let curl = format!(
            "curl -sS --max-time 10 --cacert {MOUNT}/ca.crt -H \"Authorization: Bearer $(cat {MOUNT}/token)\" https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT/api"
        );
        let out = exec(&pods, "shell", &["sh", "-c", &curl]).await;
        let versions: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {} {}", out.stdout, out.stderr));
        assert_eq!(versions["kind"], "APIVersions");
    }

    // A pod that runs for real: the Python client's in-cluster configuration when
    // it is installed (its packages given to the pod on a claim), else urllib.
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "team");
    let claim = json!({"metadata": {"name": "deps"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}});
    claims.create(&PostParams::default(), &serde_json::from_value(claim).unwrap()).await.unwrap();
    let deps = sandbox.home().join("sandboxes").join(&sandbox.name).join("volumes/pvc/team/deps");
    std::fs::create_dir_all(&deps).unwrap();
    let script = match python_client_into(&deps) {
        Some(()) => INCLUSTER_CLIENT.to_string(),
        None => {
            common::installed("the Python client (python-k8s)", None);
            urllib_client("'https://%s:%s' % (os.environ['KUBERNETES_SERVICE_HOST'], os.environ['KUBERNETES_SERVICE_PORT'])")
        }
    };
    let app = json!({"metadata": {"name": "app", "annotations": {"sandbox.kdeck.dev/run-command": "true"}}, "spec": {
        "serviceAccountName": "reader", "restartPolicy": "Never",
        "containers": [{"name": "app", "image": "python", "command": ["python3", "-c", script], "env": [{"name": "PYTHONDONTWRITEBYTECODE", "value": "1"}],
            "volumeMounts": [{"name": "deps", "mountPath": "/deps", "readOnly": true}]}],
        "volumes": [{"name": "deps", "persistentVolumeClaim": {"claimName": "deps"}}]}});
    create_pod(&pods, app).await.unwrap();
    let done =
        wait_object(&pods, "app", "finished", |p| p.status.as_ref().and_then(|s| s.phase.as_deref()).is_some_and(|p| p == "Succeeded" || p == "Failed")).await;
    let log = pods.logs("app", &LogParams::default()).await.unwrap();
    assert_eq!(done.status.unwrap().phase.as_deref(), Some("Succeeded"), "{log}");
    assert_eq!(log, "serviceAccount reader\nrefused 403\n");
}
