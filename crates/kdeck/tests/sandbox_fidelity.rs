//! The sandbox answers as kube-apiserver and the controller-manager do where real
//! clients look: Status bodies byte for byte, create and delete responses,
//! per-namespace defaults, Secret `stringData`, JSON patch `test` of `null`, and
//! endpoints of named target ports. Every test speaks to the sandbox through
//! kube-rs, the raw ones through its HTTP client as any client would.

mod common;

use std::time::Duration;

use base64::Engine;
use common::{TestSandbox, api_error, wait_object};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Endpoints, Pod, Secret, Service, ServiceAccount};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

fn cm(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"k": "v"}})).unwrap()
}

/// Sends one request through the client and returns the status code and the exact body.
async fn raw(client: &kube::Client, method: &str, path: &str, content_type: &str, body: Vec<u8>) -> (u16, String) {
    let request = http::Request::builder().method(method).uri(path).header("Content-Type", content_type).body(kube::client::Body::from(body)).unwrap();
    let response = client.send(request).await.expect("request sent");
    let code = response.status().as_u16();
    let bytes = response.into_body().collect_bytes().await.expect("body read");
    (code, String::from_utf8(bytes.to_vec()).unwrap())
}

/// A protobuf ConfigMap body, as client-go's protobuf serializer writes one
/// (`k8s\0` and a runtime.Unknown holding the object).
fn protobuf_configmap(name: &str) -> Vec<u8> {
    fn field(number: u8, bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![(number << 3) | 2];
        let mut len = bytes.len();
        while len >= 0x80 {
            out.push((len as u8) | 0x80);
            len >>= 7;
        }
        out.push(len as u8);
        out.extend_from_slice(bytes);
        out
    }
    let type_meta = [field(1, b"v1"), field(2, b"ConfigMap")].concat();
    let object = field(1, &field(1, name.as_bytes())); // ConfigMap.metadata.name
    let unknown = [field(1, &type_meta), field(2, &object)].concat();
    [b"k8s\0".to_vec(), unknown].concat()
}

#[tokio::test]
async fn a_create_of_an_existing_object_names_it_for_json_and_protobuf_bodies() {
    let sandbox = TestSandbox::start("fid-exists");
    let client = sandbox.client().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    api.create(&PostParams::default(), &cm("cm1")).await.unwrap();
    let (code, reason, message) = api_error(api.create(&PostParams::default(), &cm("cm1")).await);
    assert_eq!((code, reason.as_str(), message.as_str()), (409, "AlreadyExists", "configmaps \"cm1\" already exists"));

    let path = "/api/v1/namespaces/default/configmaps";
    let (code, _) = raw(&client, "POST", path, "application/vnd.kubernetes.protobuf", protobuf_configmap("pb1")).await;
    assert_eq!(code, 201);
    let (code, body) = raw(&client, "POST", path, "application/vnd.kubernetes.protobuf", protobuf_configmap("pb1")).await;
    assert_eq!(code, 409);
    assert_eq!(
        body,
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"configmaps \\\"pb1\\\" already exists\",\"reason\":\"AlreadyExists\",\"details\":{\"name\":\"pb1\",\"kind\":\"configmaps\"},\"code\":409}\n"
    );
}

/// The bodies kube-apiserver 1.35 writes for these errors: metav1.Status's field
/// order, empty fields left out, a newline at the end.
#[tokio::test]
async fn error_bodies_are_the_real_servers_byte_for_byte() {
    let sandbox = TestSandbox::start("fid-status");
    let client = sandbox.client().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let created = api.create(&PostParams::default(), &cm("occ")).await.unwrap();
    let path = "/api/v1/namespaces/default/configmaps";
    let status = |rest: &str| format!("{{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{{}},\"status\":\"Failure\",{rest}}}\n");

    let body = serde_json::to_vec(&cm("occ")).unwrap();
    assert_eq!(
        raw(&client, "POST", path, "application/json", body).await,
        (
            409,
            status(
                "\"message\":\"configmaps \\\"occ\\\" already exists\",\"reason\":\"AlreadyExists\",\"details\":{\"name\":\"occ\",\"kind\":\"configmaps\"},\"code\":409"
            )
        )
    );
    assert_eq!(
        raw(&client, "GET", &format!("{path}/missing"), "application/json", Vec::new()).await,
        (
            404,
            status(
                "\"message\":\"configmaps \\\"missing\\\" not found\",\"reason\":\"NotFound\",\"details\":{\"name\":\"missing\",\"kind\":\"configmaps\"},\"code\":404"
            )
        )
    );

    // A replace carrying a resourceVersion that is no longer current.
    let mut changed = created.clone();
    changed.data = Some([("k".to_string(), "first".to_string())].into());
    api.replace("occ", &PostParams::default(), &changed).await.unwrap();
    let stale = serde_json::to_vec(&created).unwrap();
    assert_eq!(
        raw(&client, "PUT", &format!("{path}/occ"), "application/json", stale).await,
        (
            409,
            status(
                "\"message\":\"Operation cannot be fulfilled on configmaps \\\"occ\\\": the object has been modified; please apply your changes to the latest version and try again\",\"reason\":\"Conflict\",\"details\":{\"name\":\"occ\",\"kind\":\"configmaps\"},\"code\":409"
            )
        )
    );

    let rule = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    let body = serde_json::to_vec(&cm("Bad_Name")).unwrap();
    assert_eq!(
        raw(&client, "POST", path, "application/json", body).await,
        (
            422,
            status(&format!(
                "\"message\":\"ConfigMap \\\"Bad_Name\\\" is invalid: metadata.name: Invalid value: \\\"Bad_Name\\\": {rule}\",\"reason\":\"Invalid\",\"details\":{{\"name\":\"Bad_Name\",\"kind\":\"ConfigMap\",\"causes\":[{{\"reason\":\"FieldValueInvalid\",\"message\":\"Invalid value: \\\"Bad_Name\\\": {rule}\",\"field\":\"metadata.name\"}}]}},\"code\":422"
            ))
        )
    );

    let readonly = sandbox.readonly_client().await;
    let body = serde_json::to_vec(&cm("ro")).unwrap();
    assert_eq!(
        raw(&readonly, "POST", path, "application/json", body).await,
        (
            403,
            status(
                "\"message\":\"configmaps is forbidden: User \\\"fid-status-readonly\\\" cannot create resource \\\"configmaps\\\" in API group \\\"\\\" in the namespace \\\"default\\\"\",\"reason\":\"Forbidden\",\"details\":{\"kind\":\"configmaps\"},\"code\":403"
            )
        )
    );
}

#[tokio::test]
async fn creating_a_pod_answers_it_pending_with_its_qos_class_and_account() {
    let sandbox = TestSandbox::start("fid-pod");
    let pods: Api<Pod> = Api::namespaced(sandbox.client().await, "default");
    let pod = |name: &str, resources: Value| -> Pod {
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": {"containers": [{"name": "main", "image": "nginx:1.27", "resources": resources}]}}))
            .unwrap()
    };
    for (name, resources, qos) in [
        ("best", json!({}), "BestEffort"),
        ("burst", json!({"requests": {"cpu": "100m"}}), "Burstable"),
        ("sure", json!({"limits": {"cpu": "250m", "memory": "64Mi"}}), "Guaranteed"),
    ] {
        let created = pods.create(&PostParams::default(), &pod(name, resources)).await.unwrap();
        // The ServiceAccount admission's default.
        assert_eq!(created.spec.as_ref().unwrap().service_account_name.as_deref(), Some("default"), "{name}");
        let status = created.status.expect("the create response carries a status");
        assert_eq!(status.phase.as_deref(), Some("Pending"), "{name}");
        assert_eq!(status.qos_class.as_deref(), Some(qos), "{name}");
    }
    // Limits without requests request the limits (the Pod's defaulting).
    let sure = pods.get("sure").await.unwrap();
    let resources = sure.spec.unwrap().containers[0].resources.clone().unwrap();
    assert_eq!(resources.requests, resources.limits);
}

/// The CA the kubeconfig trusts for this sandbox, as PEM.
fn kubeconfig_ca(sandbox: &TestSandbox) -> String {
    let config = kube::config::Kubeconfig::read_from(sandbox.kubeconfig()).unwrap();
    let cluster = config.clusters.iter().find(|c| c.name == sandbox.name).and_then(|c| c.cluster.clone()).unwrap();
    let data = cluster.certificate_authority_data.unwrap();
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(data).unwrap()).unwrap()
}

#[tokio::test]
async fn every_namespace_gets_its_default_service_account_and_root_ca() {
    let sandbox = TestSandbox::start("fid-defaults");
    let client = sandbox.client().await;
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    namespaces.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "team"}})).unwrap()).await.unwrap();
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "team");
    let first = wait_object(&accounts, "default", "created with the namespace", |_| true).await;
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "team");
    let ca = wait_object(&configmaps, "kube-root-ca.crt", "published", |_| true).await;
    assert_eq!(ca.data.as_ref().unwrap()["ca.crt"], kubeconfig_ca(&sandbox), "the sandbox's CA");
    assert!(ca.metadata.annotations.unwrap()["kubernetes.io/description"].starts_with("Contains a CA bundle"));

    // Deleted, both come back; changed, the CA is put back.
    accounts.delete("default", &DeleteParams::default()).await.unwrap();
    let uid = first.metadata.uid.clone();
    wait_object(&accounts, "default", "recreated", |sa| sa.metadata.uid != uid).await;
    configmaps.patch("kube-root-ca.crt", &PatchParams::default(), &Patch::Merge(json!({"data": {"ca.crt": "not a CA"}}))).await.unwrap();
    let want = kubeconfig_ca(&sandbox);
    wait_object(&configmaps, "kube-root-ca.crt", "the CA put back", |c| c.data.as_ref().is_some_and(|d| d["ca.crt"] == want)).await;
    configmaps.delete("kube-root-ca.crt", &DeleteParams::default()).await.unwrap();
    wait_object(&configmaps, "kube-root-ca.crt", "recreated", |c| c.data.as_ref().is_some_and(|d| d["ca.crt"] == want)).await;

    // The system namespaces have them too, and `default` has the Service `kubernetes`.
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        wait_object(&Api::<ServiceAccount>::namespaced(client.clone(), ns), "default", "in a system namespace", |_| true).await;
        wait_object(&Api::<ConfigMap>::namespaced(client.clone(), ns), "kube-root-ca.crt", "in a system namespace", |_| true).await;
    }
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let kubernetes = wait_object(&services, "kubernetes", "the API server's Service", |_| true).await;
    let spec = kubernetes.spec.unwrap();
    assert_eq!(spec.cluster_ip.as_deref(), Some("10.96.0.1"));
    let port = &spec.ports.unwrap()[0];
    assert_eq!((port.name.as_deref(), port.port), (Some("https"), 443));
    let api_port = sandbox_port(&sandbox);
    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), "default");
    let ep = wait_object(&endpoints, "kubernetes", "the API server's address", |_| true).await;
    assert_eq!(ep.subsets.unwrap()[0].ports.as_ref().unwrap()[0].port, i32::from(api_port));

    // A namespace being deleted is emptied, defaults included, and goes.
    namespaces.delete("team", &DeleteParams::default()).await.unwrap();
    for _ in 0..100 {
        if namespaces.get_opt("team").await.unwrap().is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the namespace was never removed: its defaults came back while it was terminating");
}

fn sandbox_port(sandbox: &TestSandbox) -> u16 {
    let config = kube::config::Kubeconfig::read_from(sandbox.kubeconfig()).unwrap();
    let cluster = config.clusters.iter().find(|c| c.name == sandbox.name).and_then(|c| c.cluster.clone()).unwrap();
    cluster.server.unwrap().rsplit(':').next().unwrap().trim_end_matches('/').parse().unwrap()
}

#[tokio::test]
async fn a_secrets_string_data_is_merged_into_data_and_never_returned() {
    let sandbox = TestSandbox::start("fid-secret");
    let secrets: Api<Secret> = Api::namespaced(sandbox.client().await, "default");
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let data = |s: &Secret| -> Value { serde_json::to_value(s.data.clone().unwrap()).unwrap() };
    let secret: Secret =
        serde_json::from_value(json!({"metadata": {"name": "s"}, "data": {"kept": b64("old"), "user": b64("old")}, "stringData": {"user": "admin"}})).unwrap();
    let created = secrets.create(&PostParams::default(), &secret).await.unwrap();
    assert!(created.string_data.is_none(), "stringData is never returned");
    assert_eq!(data(&created), json!({"kept": b64("old"), "user": b64("admin")}));

    let mut replaced = created.clone();
    replaced.string_data = Some([("password".to_string(), "s3cret".to_string())].into());
    let replaced = secrets.replace("s", &PostParams::default(), &replaced).await.unwrap();
    assert!(replaced.string_data.is_none());
    assert_eq!(data(&replaced)["password"], b64("s3cret"));

    let patched = secrets.patch("s", &PatchParams::default(), &Patch::Merge(json!({"stringData": {"token": "t"}}))).await.unwrap();
    assert_eq!(data(&patched)["token"], b64("t"));
    let applied = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "applied"}, "stringData": {"url": "https://x"}});
    let applied = secrets.patch("applied", &PatchParams::apply("fidelity-test"), &Patch::Apply(applied)).await.unwrap();
    assert_eq!(data(&applied), json!({"url": b64("https://x")}));
    let stored = secrets.get("s").await.unwrap();
    assert!(stored.string_data.is_none());
    assert_eq!(data(&stored).as_object().unwrap().len(), 4);
}

#[tokio::test]
async fn a_delete_that_removes_at_once_answers_a_success_status() {
    let sandbox = TestSandbox::start("fid-delete");
    let client = sandbox.client().await;
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let created = configmaps.create(&PostParams::default(), &cm("gone")).await.unwrap();
    let uid = created.metadata.uid.clone().unwrap();
    let (code, body) = raw(&client, "DELETE", "/api/v1/namespaces/default/configmaps/gone", "application/json", Vec::new()).await;
    assert_eq!(code, 200);
    assert_eq!(
        body,
        format!(
            "{{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{{}},\"status\":\"Success\",\"details\":{{\"name\":\"gone\",\"kind\":\"configmaps\",\"uid\":\"{uid}\"}}}}\n"
        )
    );
    // Through kube-rs: the Status side of the answer, with the group for a named group.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let web: Deployment = serde_json::from_value(json!({"metadata": {"name": "web"}, "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]}}}}))
    .unwrap();
    deployments.create(&PostParams::default(), &web).await.unwrap();
    let status = deployments.delete("web", &DeleteParams::default()).await.unwrap().right().expect("a Status");
    let details = status.details.unwrap();
    assert_eq!((details.name.as_str(), details.group.as_str(), details.kind.as_str()), ("web", "apps", "deployments"));

    // An object that lingers (a finalizer) is answered with the object, marked.
    let held: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "held", "finalizers": ["example.com/hold"]}})).unwrap();
    configmaps.create(&PostParams::default(), &held).await.unwrap();
    let marked = configmaps.delete("held", &DeleteParams::default()).await.unwrap().left().expect("the object");
    assert!(marked.metadata.deletion_timestamp.is_some());
    // Pods answer with the pod: terminating gracefully, and also when removed at once.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]}})).unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    wait_object(&pods, "p", "running", |p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")).await;
    let terminating = pods.delete("p", &DeleteParams::default()).await.unwrap().left().expect("the pod");
    assert!(terminating.metadata.deletion_timestamp.is_some());
    let removed = pods.delete("p", &DeleteParams::default().grace_period(0)).await.unwrap();
    assert!(removed.is_left(), "pods return the deleted object: {removed:?}");
}

/// kube-runtime's finalizer helper sends `test /metadata/finalizers null` before
/// adding the first finalizer; the real server's JSON patch accepts it.
#[tokio::test]
async fn a_json_patch_test_of_null_on_a_missing_path_passes() {
    let sandbox = TestSandbox::start("fid-patch");
    let client = sandbox.client().await;
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    configmaps.create(&PostParams::default(), &cm("fin")).await.unwrap();
    let path = "/api/v1/namespaces/default/configmaps/fin";
    let first = json!([
        {"op": "test", "path": "/metadata/finalizers", "value": null},
        {"op": "add", "path": "/metadata/finalizers", "value": ["example.com/cleanup"]},
    ]);
    let (code, body) = raw(&client, "PATCH", path, "application/json-patch+json", serde_json::to_vec(&first).unwrap()).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(configmaps.get("fin").await.unwrap().metadata.finalizers, Some(vec!["example.com/cleanup".to_string()]));
    // Now the test of null fails, as it does on a real server, and nothing changes.
    let again = json!([
        {"op": "test", "path": "/metadata/finalizers", "value": null},
        {"op": "add", "path": "/metadata/finalizers/-", "value": "example.com/other"},
    ]);
    let (code, body) = raw(&client, "PATCH", path, "application/json-patch+json", serde_json::to_vec(&again).unwrap()).await;
    assert_eq!(code, 422, "{body}");
    assert_eq!(configmaps.get("fin").await.unwrap().metadata.finalizers.unwrap().len(), 1);
}

#[tokio::test]
async fn a_pod_without_the_named_target_port_is_no_endpoint() {
    let sandbox = TestSandbox::start("fid-endpoints");
    let client = sandbox.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for (name, port_name) in [("serves", "http"), ("other", "metrics")] {
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": name, "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "main", "image": "nginx:1.27", "ports": [{"name": port_name, "containerPort": 8080}]}]}}))
        .unwrap();
        pods.create(&PostParams::default(), &pod).await.unwrap();
    }
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let svc: Service =
        serde_json::from_value(json!({"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": "http"}]}}))
            .unwrap();
    services.create(&PostParams::default(), &svc).await.unwrap();
    let ready = |p: &Pod| p.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    wait_object(&pods, "serves", "ready", ready).await;
    wait_object(&pods, "other", "ready", ready).await;
    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), "default");
    let addresses = |e: &Endpoints| e.subsets.iter().flatten().flat_map(|s| s.addresses.iter().flatten()).count();
    let ep = wait_object(&endpoints, "web", "the ready pod listed", |e| addresses(e) == 1).await;
    let subsets = ep.subsets.unwrap();
    assert_eq!(subsets.len(), 1, "{subsets:?}");
    assert_eq!(subsets[0].addresses.as_ref().unwrap()[0].target_ref.as_ref().unwrap().name.as_deref(), Some("serves"));
    assert_eq!(subsets[0].ports.as_ref().unwrap()[0].port, 8080);
    assert!(subsets[0].not_ready_addresses.is_none());
    // No slice has a port without a number; the pod that serves is in the slice with the port.
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");
    let list = slices.list(&ListParams::default().labels("kubernetes.io/service-name=web")).await.unwrap().items;
    assert!(list.iter().flat_map(|s| s.ports.iter().flatten()).all(|p| p.port == Some(8080)), "{list:?}");
    let with_port = list.iter().find(|s| s.ports.as_ref().is_some_and(|p| !p.is_empty())).expect("a slice with the port");
    let names: Vec<_> = with_port.endpoints.iter().filter_map(|e| e.target_ref.as_ref()?.name.clone()).collect();
    assert_eq!(names, ["serves"]);
}

/// GETs `path` with an Accept header; the answer's Content-Type and JSON body.
async fn discover(client: &kube::Client, path: &str, accept: &str) -> (String, Value) {
    let request = http::Request::builder().uri(path).header("Accept", accept).body(kube::client::Body::from(Vec::new())).unwrap();
    let response = client.send(request).await.expect("request sent");
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let bytes = response.into_body().collect_bytes().await.expect("body read");
    (content_type, serde_json::from_slice(&bytes).expect("JSON"))
}

#[tokio::test]
async fn aggregated_discovery_lists_every_group_and_resource_when_asked_for() {
    let sandbox = TestSandbox::start("fid-discovery");
    let client = sandbox.client().await;
    // What kubectl 1.35 sends: v2, then v2beta1, then the legacy documents.
    let accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
    let (content_type, apis) = discover(&client, "/apis", accept).await;
    assert_eq!(content_type, "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList");
    assert_eq!((apis["kind"].as_str(), apis["apiVersion"].as_str()), (Some("APIGroupDiscoveryList"), Some("apidiscovery.k8s.io/v2")));
    let group = |doc: &Value, name: &str| {
        doc["items"].as_array().unwrap().iter().find(|g| g["metadata"]["name"] == name).cloned().unwrap_or_else(|| panic!("group {name}"))
    };
    let apps = group(&apis, "apps");
    let deployments = apps["versions"][0]["resources"].as_array().unwrap().iter().find(|r| r["resource"] == "deployments").cloned().unwrap();
    assert_eq!(apps["versions"][0]["version"], "v1");
    assert_eq!(deployments["responseKind"], json!({"group": "apps", "version": "v1", "kind": "Deployment"}));
    assert_eq!((deployments["scope"].as_str(), deployments["singularResource"].as_str()), (Some("Namespaced"), Some("deployment")));
    assert_eq!(deployments["shortNames"], json!(["deploy"]));
    let scale = deployments["subresources"].as_array().unwrap().iter().find(|s| s["subresource"] == "scale").cloned().unwrap();
    assert_eq!(scale["responseKind"], json!({"group": "autoscaling", "version": "v1", "kind": "Scale"}));
    // The preferred version first (autoscaling/v2), and no core group under /apis.
    assert_eq!(group(&apis, "autoscaling")["versions"][0]["version"], "v2");
    assert!(apis["items"].as_array().unwrap().iter().all(|g| g["metadata"]["name"].is_string()));

    let (_, core) = discover(&client, "/api", accept).await;
    assert_eq!(core["items"].as_array().unwrap().len(), 1, "only the core group");
    let pods = core["items"][0]["versions"][0]["resources"].as_array().unwrap().iter().find(|r| r["resource"] == "pods").cloned().unwrap();
    let subresources: Vec<&str> = pods["subresources"].as_array().unwrap().iter().filter_map(|s| s["subresource"].as_str()).collect();
    assert!(subresources.contains(&"exec") && subresources.contains(&"log"), "{subresources:?}");

    // A client that knows only v2beta1 gets it; one that asks for nothing special, the legacy list.
    let (content_type, beta) = discover(&client, "/apis", "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList").await;
    assert!(content_type.contains("v=v2beta1") && beta["apiVersion"] == "apidiscovery.k8s.io/v2beta1");
    let (content_type, legacy) = discover(&client, "/apis", "application/json").await;
    assert!(content_type.starts_with("application/json") && legacy["kind"] == "APIGroupList", "{content_type}");

    // A CRD's group appears as soon as it is served.
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> = Api::all(client.clone());
    let crd = serde_json::from_value(json!({
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced", "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}
    }))
    .unwrap();
    crds.create(&PostParams::default(), &crd).await.unwrap();
    let mut found = false;
    for _ in 0..50 {
        let (_, apis) = discover(&client, "/apis", accept).await;
        if apis["items"].as_array().unwrap().iter().any(|g| g["metadata"]["name"] == "example.com") {
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(found, "the CRD's group is listed");
}

#[tokio::test]
async fn every_served_group_version_has_its_apiservice_and_clients_may_add_their_own() {
    let sandbox = TestSandbox::start("fid-apiservices");
    let client = sandbox.client().await;
    let ar = kube::api::ApiResource::from_gvk_with_plural(&kube::core::GroupVersionKind::gvk("apiregistration.k8s.io", "v1", "APIService"), "apiservices");
    let services: Api<kube::api::DynamicObject> = Api::all_with(client.clone(), &ar);
    let apps = services.get("v1.apps").await.expect("v1.apps is registered");
    assert_eq!(apps.data["spec"]["group"], "apps");
    assert!(apps.data["spec"]["service"].is_null(), "served locally");
    let available = apps.data["status"]["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Available").cloned().unwrap();
    assert_eq!((available["status"].as_str(), available["reason"].as_str()), (Some("True"), Some("Local")));
    let metrics = services.get("v1beta1.metrics.k8s.io").await.unwrap();
    assert_eq!(metrics.data["spec"]["service"]["name"], "metrics-server");

    // A CRD's group gets one while it is served.
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> = Api::all(client.clone());
    let crd = serde_json::from_value(json!({
        "metadata": {"name": "gadgets.example.org"},
        "spec": {"group": "example.org", "scope": "Namespaced", "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}
    }))
    .unwrap();
    crds.create(&PostParams::default(), &crd).await.unwrap();
    let registered = |present: bool| {
        let services = services.clone();
        async move {
            for _ in 0..50 {
                if services.get_opt("v1.example.org").await.unwrap().is_some() == present {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            false
        }
    };
    assert!(registered(true).await, "v1.example.org appears");
    crds.delete("gadgets.example.org", &DeleteParams::default()).await.unwrap();
    assert!(registered(false).await, "and goes with its CRD");

    // One a client creates (an adapter's) is kept as written.
    let adapter: kube::api::DynamicObject = serde_json::from_value(json!({
        "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": {"name": "v1beta1.custom.metrics.k8s.io"},
        "spec": {"group": "custom.metrics.k8s.io", "version": "v1beta1", "service": {"namespace": "monitoring", "name": "prometheus-adapter"}, "groupPriorityMinimum": 100, "versionPriority": 100}
    }))
    .unwrap();
    services.create(&PostParams::default(), &adapter).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(services.get("v1beta1.custom.metrics.k8s.io").await.unwrap().data["spec"]["service"]["name"], "prometheus-adapter");
}

#[tokio::test]
async fn a_watch_asked_for_as_a_table_sends_tables_with_the_columns_once() {
    use futures::{AsyncBufReadExt, TryStreamExt};
    let sandbox = TestSandbox::start("fid-watch-table");
    let client = sandbox.client().await;
    let request = http::Request::builder()
        .uri("/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=5")
        .header("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
        .body(Vec::new())
        .unwrap();
    let lines = client.request_stream(request).await.expect("watch");
    let mut lines = lines.lines();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let mut events = Vec::new();
    // The initial kube-root-ca.crt, then one created.
    while events.len() < 2 {
        if events.len() == 1 {
            cms.create(&PostParams::default(), &cm("watched")).await.unwrap();
        }
        let line = lines.try_next().await.unwrap().expect("an event");
        events.push(serde_json::from_str::<Value>(&line).unwrap());
    }
    let (first, second) = (&events[0]["object"], &events[1]["object"]);
    assert_eq!((first["kind"].as_str(), second["kind"].as_str()), (Some("Table"), Some("Table")));
    let names: Vec<&str> =
        first["columnDefinitions"].as_array().expect("the first event defines the columns").iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names, ["Name", "Data", "Age"]);
    assert!(second["columnDefinitions"].is_null(), "later events do not repeat them: {second}");
    assert_eq!(second["rows"][0]["cells"][0], "watched");
    assert_eq!(second["rows"][0]["cells"][1], 1, "the Data column");
}

#[tokio::test]
async fn core_and_events_k8s_io_events_are_one_store() {
    use k8s_openapi::api::core::v1::Event as CoreEvent;
    use k8s_openapi::api::events::v1::Event;
    let sandbox = TestSandbox::start("fid-events");
    let client = sandbox.client().await;
    let new_api: Api<Event> = Api::namespaced(client.clone(), "default");
    let core: Api<CoreEvent> = Api::namespaced(client.clone(), "default");

    // Recorded with events.k8s.io (as client-go's broadcaster and kube-rs's Recorder do).
    let recorded: Event = serde_json::from_value(json!({
        "metadata": {"name": "web.reconciled"},
        "eventTime": "2026-12-07T10:00:00.000000Z",
        "reportingController": "example.com/operator", "reportingInstance": "operator-0",
        "action": "Reconcile", "reason": "Synced", "note": "web is in sync", "type": "Normal",
        "regarding": {"kind": "Deployment", "namespace": "default", "name": "web", "apiVersion": "apps/v1"}
    }))
    .unwrap();
    let created = new_api.create(&PostParams::default(), &recorded).await.unwrap();
    assert_eq!(created.note.as_deref(), Some("web is in sync"), "answered in the events.k8s.io shape");
    // ... and seen as a core Event, fields mapped.
    let as_core = core.get("web.reconciled").await.expect("the same event through core v1");
    assert_eq!(as_core.message.as_deref(), Some("web is in sync"));
    assert_eq!(as_core.involved_object.name.as_deref(), Some("web"));
    assert_eq!(as_core.reporting_component.as_deref(), Some("example.com/operator"));
    assert_eq!(as_core.reason.as_deref(), Some("Synced"));

    // A core Event (the kubelet's) through events.k8s.io.
    let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "evented"}, "spec": {"containers": [{"name": "app", "image": "nginx"}]}})).unwrap();
    Api::<Pod>::namespaced(client.clone(), "default").create(&PostParams::default(), &pod).await.unwrap();
    let mut seen = None;
    for _ in 0..50 {
        let listed = new_api.list(&ListParams::default()).await.unwrap().items;
        if let Some(e) =
            listed.into_iter().find(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("evented") && e.reason.as_deref() == Some("Scheduled"))
        {
            seen = Some(e);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let scheduled = seen.expect("the scheduler's core Event, listed through events.k8s.io");
    assert!(scheduled.note.as_deref().is_some_and(|n| n.starts_with("Successfully assigned default/evented")), "{scheduled:?}");
    // The core list holds the recorded one too.
    let names: Vec<String> = core.list(&ListParams::default()).await.unwrap().items.into_iter().filter_map(|e| e.metadata.name).collect();
    assert!(names.iter().any(|n| n == "web.reconciled"), "{names:?}");
}
