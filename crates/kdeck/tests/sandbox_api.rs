//! The sandbox's Kubernetes API through kube-rs: CRUD, selectors, pagination, watch,
//! patches, subresources, CRDs, deletion semantics and errors. Every test checks the
//! cluster's state afterwards, not only that a call succeeded.

mod common;

use std::time::Duration;

use common::{TestSandbox, api_error};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Service};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use serde_json::{Value, json};

fn cm(name: &str, labels: Value) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}, "data": {"k": "v"}})).unwrap()
}

fn deployment(name: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]}},
        }
    }))
    .unwrap()
}

#[tokio::test]
async fn crud_with_generation_and_optimistic_concurrency() {
    let sandbox = TestSandbox::start("crud");
    let client = sandbox.client().await;
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let created = api.create(&PostParams::default(), &deployment("web", 1)).await.unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    assert!(created.metadata.uid.is_some() && created.metadata.creation_timestamp.is_some());
    // Defaults a real server fills in.
    let spec = created.spec.as_ref().unwrap();
    assert_eq!(spec.strategy.as_ref().unwrap().type_.as_deref(), Some("RollingUpdate"));
    assert_eq!(spec.template.spec.as_ref().unwrap().containers[0].image_pull_policy.as_deref(), Some("IfNotPresent"));
    // A spec change bumps generation; a label-only change does not.
    let scaled = api.patch("web", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 3}}))).await.unwrap();
    assert_eq!(scaled.metadata.generation, Some(2));
    let labelled = api.patch("web", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}}))).await.unwrap();
    assert_eq!(labelled.metadata.generation, Some(2));
    api.delete("web", &DeleteParams::default()).await.unwrap();
    assert_eq!(api_error(api.get("web").await).0, 404);

    // Optimistic concurrency, on an object no controller writes to.
    let configmaps: Api<ConfigMap> = Api::namespaced(client, "default");
    let original = configmaps.create(&PostParams::default(), &cm("occ", json!({}))).await.unwrap();
    let mut changed = original.clone();
    changed.data = Some([("k".to_string(), "first".to_string())].into());
    configmaps.replace("occ", &PostParams::default(), &changed).await.unwrap();
    // The same resourceVersion again is stale: 409 Conflict, and nothing changes.
    changed.data = Some([("k".to_string(), "second".to_string())].into());
    let (code, reason, _) = api_error(configmaps.replace("occ", &PostParams::default(), &changed).await);
    assert_eq!((code, reason.as_str()), (409, "Conflict"));
    assert_eq!(configmaps.get("occ").await.unwrap().data.unwrap()["k"], "first");
}

#[tokio::test]
async fn list_filters_by_labels_and_fields_and_pages() {
    let sandbox = TestSandbox::start("list");
    let api: Api<ConfigMap> = Api::namespaced(sandbox.client().await, "default");
    for (name, tier) in [("a", "web"), ("b", "web"), ("c", "db"), ("d", "cache"), ("e", "web")] {
        api.create(&PostParams::default(), &cm(name, json!({"tier": tier, "app": "shop"}))).await.unwrap();
    }
    let names = |list: kube::core::ObjectList<ConfigMap>| list.items.into_iter().map(|c| c.metadata.name.unwrap()).collect::<Vec<_>>();
    assert_eq!(names(api.list(&ListParams::default().labels("tier=web")).await.unwrap()), ["a", "b", "e"]);
    assert_eq!(names(api.list(&ListParams::default().labels("tier in (db,cache)")).await.unwrap()), ["c", "d"]);
    assert_eq!(names(api.list(&ListParams::default().labels("app=shop,tier!=web")).await.unwrap()), ["c", "d"]);
    // Only the root CA every namespace holds has no tier.
    assert_eq!(names(api.list(&ListParams::default().labels("!tier")).await.unwrap()), ["kube-root-ca.crt"]);
    assert_eq!(names(api.list(&ListParams::default().fields("metadata.name=d")).await.unwrap()), ["d"]);

    let first = api.list(&ListParams::default().labels("app=shop").limit(2)).await.unwrap();
    let token = first.metadata.continue_.clone().expect("a continue token");
    // With a selector the real server does not count what remains (etcd's count would include objects it drops).
    assert_eq!(first.metadata.remaining_item_count, None);
    assert_eq!(names(first), ["a", "b"]);
    let second = api.list(&ListParams::default().labels("app=shop").limit(2).continue_token(&token)).await.unwrap();
    assert_eq!(names(second), ["c", "d"]);

    let (code, _, message) = api_error(api.list(&ListParams::default().labels("tier in (web")).await);
    assert_eq!(code, 400, "{message}");
    let (code, _, message) = api_error(api.list(&ListParams::default().fields("data.k=v")).await);
    assert!(code == 400 && message.contains("not supported"), "{message}");
}

#[tokio::test]
async fn watch_sees_changes_in_order_and_resumes_from_a_version() {
    let sandbox = TestSandbox::start("watch");
    let client = sandbox.client().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let start = api.list(&ListParams::default()).await.unwrap().metadata.resource_version.unwrap();
    let stream = api.watch(&WatchParams::default().labels("w=1").timeout(10), &start).await.unwrap();
    let writer = api.clone();
    tokio::spawn(async move {
        writer.create(&PostParams::default(), &cm("w", json!({"w": "1"}))).await.unwrap();
        writer.create(&PostParams::default(), &cm("ignored", json!({"w": "2"}))).await.unwrap();
        writer.patch("w", &PatchParams::default(), &Patch::Merge(json!({"data": {"k": "changed"}}))).await.unwrap();
        // Leaving the selector looks like a deletion to this watcher.
        writer.patch("w", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"w": "gone"}}}))).await.unwrap();
    });
    let events: Vec<WatchEvent<ConfigMap>> =
        tokio::time::timeout(Duration::from_secs(10), stream.take(3).try_collect()).await.expect("three events in time").unwrap();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| match e {
            WatchEvent::Added(_) => "ADDED",
            WatchEvent::Modified(_) => "MODIFIED",
            WatchEvent::Deleted(_) => "DELETED",
            WatchEvent::Bookmark(_) => "BOOKMARK",
            WatchEvent::Error(_) => "ERROR",
        })
        .collect();
    assert_eq!(kinds, ["ADDED", "MODIFIED", "DELETED"]);

    // Resuming from the first event's version replays what came after it.
    let WatchEvent::Added(first) = &events[0] else { unreachable!() };
    let from = first.metadata.resource_version.clone().unwrap();
    let replay: Vec<WatchEvent<ConfigMap>> = api.watch(&WatchParams::default().timeout(5), &from).await.unwrap().take(3).try_collect().await.unwrap();
    assert!(matches!(&replay[0], WatchEvent::Added(c) if c.metadata.name.as_deref() == Some("ignored")));
}

#[tokio::test]
async fn all_four_patch_types_and_server_side_apply() {
    let sandbox = TestSandbox::start("patch");
    let api: Api<Deployment> = Api::namespaced(sandbox.client().await, "default");
    api.create(&PostParams::default(), &deployment("app", 1)).await.unwrap();

    let strategic = json!({"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "busybox:1.36"}]}}}});
    let d = api.patch("app", &PatchParams::default(), &Patch::Strategic(strategic)).await.unwrap();
    let names: Vec<_> = d.spec.unwrap().template.spec.unwrap().containers.into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["sidecar", "main"], "strategic merge merges containers by name, new ones first as on a real server");

    let d = api.patch("app", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 4}}))).await.unwrap();
    assert_eq!(d.spec.unwrap().replicas, Some(4));

    let apply = PatchParams::apply("tests").force();
    let config = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "applied", "labels": {"a": "1", "b": "2"}},
        "spec": {"selector": {"matchLabels": {"app": "applied"}}, "template": {"metadata": {"labels": {"app": "applied"}}, "spec": {"containers": [{"name": "c", "image": "redis:7"}]}}}});
    let created = api.patch("applied", &apply, &Patch::Apply(&config)).await.unwrap();
    assert_eq!(created.metadata.labels.as_ref().unwrap().len(), 2);
    let mut smaller = config.clone();
    smaller["metadata"]["labels"] = json!({"a": "1"});
    let reapplied = api.patch("applied", &apply, &Patch::Apply(&smaller)).await.unwrap();
    assert_eq!(reapplied.metadata.labels.unwrap().keys().collect::<Vec<_>>(), ["a"], "a label no longer applied is removed");
    let managers: Vec<_> = reapplied.metadata.managed_fields.unwrap().into_iter().map(|m| (m.manager.unwrap(), m.operation.unwrap())).collect();
    assert!(managers.contains(&("tests".into(), "Apply".into())), "{managers:?}");
}

/// Creates a CRD for `widgets.example.com` with status and scale subresources and
/// returns an API for its objects once they are served.
async fn widgets(client: &kube::Client) -> Api<DynamicObject> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}},
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}
    }))
    .unwrap();
    crds.create(&PostParams::default(), &crd).await.unwrap();
    let resource = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("example.com", "v1", "Widget"), "widgets");
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &resource);
    for _ in 0..20 {
        if api.list(&ListParams::default()).await.is_ok() {
            return api;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("widgets were not served within a second");
}

#[tokio::test]
async fn scale_and_status_subresources() {
    let sandbox = TestSandbox::start("subres");
    let api = widgets(&sandbox.client().await).await;
    let widget: DynamicObject =
        serde_json::from_value(json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "s"}, "spec": {"replicas": 2}})).unwrap();
    api.create(&PostParams::default(), &widget).await.unwrap();
    let scale = api.get_scale("s").await.unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(2));
    api.patch_scale("s", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 5}}))).await.unwrap();
    assert_eq!(api.get("s").await.unwrap().data["spec"]["replicas"], 5);

    // Status is written only through /status; the main endpoint keeps it.
    api.patch_status("s", &PatchParams::default(), &Patch::Merge(json!({"status": {"replicas": 5, "ready": 4}}))).await.unwrap();
    let generation = api.get("s").await.unwrap().metadata.generation;
    api.patch("s", &PatchParams::default(), &Patch::Merge(json!({"status": {"ready": 0}}))).await.unwrap();
    let now = api.get("s").await.unwrap();
    assert_eq!((now.data["status"]["replicas"].clone(), now.data["status"]["ready"].clone()), (json!(5), json!(4)));
    assert_eq!(now.metadata.generation, generation, "status writes do not bump generation");
    assert_eq!(api.get_scale("s").await.unwrap().status.unwrap().replicas, 5);
}

#[tokio::test]
async fn custom_resource_definitions_are_served_and_removed() {
    let sandbox = TestSandbox::start("crd");
    let client = sandbox.client().await;
    // Served within a second of the CRD's creation (the helper waits at most that).
    let widgets = widgets(&client).await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = crds.get("widgets.example.com").await.unwrap();
    assert!(crd.status.unwrap().conditions.unwrap().into_iter().any(|c| c.type_ == "Established" && c.status == "True"));

    let widget: DynamicObject =
        serde_json::from_value(json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"size": 3}})).unwrap();
    let created = widgets.create(&PostParams::default(), &widget).await.unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    widgets.patch_status("w1", &PatchParams::default(), &Patch::Merge(json!({"status": {"ready": true}}))).await.unwrap();
    let fetched = widgets.get("w1").await.unwrap();
    assert_eq!(fetched.data["status"]["ready"], true);
    assert_eq!(fetched.data["spec"]["size"], 3);
    let (code, _, _) = api_error(widgets.patch("w1", &PatchParams::default(), &Patch::Strategic(json!({"spec": {"size": 4}}))).await);
    assert_eq!(code, 415, "strategic merge is not served for custom resources");

    crds.delete("widgets.example.com", &DeleteParams::default()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(api_error(widgets.get("w1").await).0, 404);
}

#[tokio::test]
async fn finalizers_hold_deletion_until_removed() {
    let sandbox = TestSandbox::start("final");
    let api: Api<ConfigMap> = Api::namespaced(sandbox.client().await, "default");
    let mut held = cm("held", json!({}));
    held.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    api.create(&PostParams::default(), &held).await.unwrap();
    api.delete("held", &DeleteParams::default()).await.unwrap();
    let marked = api.get("held").await.unwrap();
    assert!(marked.metadata.deletion_timestamp.is_some(), "still there, marked for deletion");
    api.patch("held", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"finalizers": null}}))).await.unwrap();
    assert_eq!(api_error(api.get("held").await).0, 404);
}

#[tokio::test]
async fn garbage_collection_follows_owner_references() {
    let sandbox = TestSandbox::start("gc");
    let api: Api<ConfigMap> = Api::namespaced(sandbox.client().await, "default");
    let owned_by = |owner: &ConfigMap, name: &str| -> ConfigMap {
        let mut c = cm(name, json!({}));
        c.metadata.owner_references = Some(vec![k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            name: owner.metadata.name.clone().unwrap(),
            uid: owner.metadata.uid.clone().unwrap(),
            ..Default::default()
        }]);
        c
    };
    let owner = api.create(&PostParams::default(), &cm("owner", json!({}))).await.unwrap();
    api.create(&PostParams::default(), &owned_by(&owner, "child")).await.unwrap();
    api.delete("owner", &DeleteParams::background()).await.unwrap();
    wait_gone(&api, "child").await;

    let owner = api.create(&PostParams::default(), &cm("owner2", json!({}))).await.unwrap();
    api.create(&PostParams::default(), &owned_by(&owner, "orphan")).await.unwrap();
    api.delete("owner2", &DeleteParams::orphan()).await.unwrap();
    wait_gone(&api, "owner2").await;
    let orphan = api.get("orphan").await.unwrap();
    assert!(orphan.metadata.owner_references.unwrap_or_default().is_empty(), "orphaned dependents lose the reference");

    let owner = api.create(&PostParams::default(), &cm("owner3", json!({}))).await.unwrap();
    api.create(&PostParams::default(), &owned_by(&owner, "child3")).await.unwrap();
    api.delete("owner3", &DeleteParams::foreground()).await.unwrap();
    wait_gone(&api, "owner3").await;
    assert_eq!(api_error(api.get("child3").await).0, 404, "foreground deletion removes dependents first");
}

async fn wait_gone(api: &Api<ConfigMap>, name: &str) {
    for _ in 0..50 {
        if api.get_opt(name).await.unwrap().is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{name} was not deleted");
}

#[tokio::test]
async fn deleting_a_namespace_empties_and_removes_it() {
    let sandbox = TestSandbox::start("nsdel");
    let client = sandbox.client().await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "tmp"}})).unwrap()).await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "tmp");
    api.create(&PostParams::default(), &cm("inside", json!({}))).await.unwrap();
    namespaces.delete("tmp", &DeleteParams::default()).await.unwrap();
    for _ in 0..50 {
        if namespaces.get_opt("tmp").await.unwrap().is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(namespaces.get_opt("tmp").await.unwrap().is_none());
    let all: Api<ConfigMap> = Api::all(client);
    assert!(all.list(&ListParams::default().fields("metadata.namespace=tmp")).await.unwrap().items.is_empty());
    let (code, _, _) = api_error(api.create(&PostParams::default(), &cm("late", json!({}))).await);
    assert_eq!(code, 404, "no content in a namespace that does not exist");
}

#[tokio::test]
async fn validation_errors_and_dry_run_change_nothing() {
    let sandbox = TestSandbox::start("valid");
    let client = sandbox.client().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let (code, reason, message) = api_error(api.create(&PostParams::default(), &cm("Not_Valid", json!({}))).await);
    assert_eq!((code, reason.as_str()), (422, "Invalid"));
    assert!(message.contains("metadata.name: Invalid value: \"Not_Valid\""), "{message}");

    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let mut no_image = deployment("noimage", 1);
    no_image.spec.as_mut().unwrap().template.spec.as_mut().unwrap().containers[0].image = None;
    let (code, _, message) = api_error(deployments.create(&PostParams::default(), &no_image).await);
    assert!(code == 422 && message.contains("spec.template.spec.containers[0].image: Required value"), "{message}");

    deployments.create(&PostParams::default(), &deployment("fixed", 1)).await.unwrap();
    let (code, _, message) =
        api_error(deployments.patch("fixed", &PatchParams::default(), &Patch::Merge(json!({"spec": {"selector": {"matchLabels": {"app": "other"}}}}))).await);
    assert!(code == 422 && message.contains("field is immutable"), "{message}");

    let dry = PostParams { dry_run: true, ..Default::default() };
    let preview = api.create(&dry, &cm("preview", json!({}))).await.unwrap();
    assert_eq!(preview.metadata.name.as_deref(), Some("preview"));
    assert!(api.get_opt("preview").await.unwrap().is_none(), "a dry run stores nothing");

    let (code, reason, message) =
        api_error(api.create(&PostParams::default(), &cm("fixed", json!({}))).await.and(api.create(&PostParams::default(), &cm("fixed", json!({}))).await));
    assert_eq!((code, reason.as_str(), message.as_str()), (409, "AlreadyExists", "configmaps \"fixed\" already exists"));
}

#[tokio::test]
async fn services_get_a_cluster_ip() {
    let sandbox = TestSandbox::start("svc");
    let api: Api<Service> = Api::namespaced(sandbox.client().await, "default");
    let svc: Service = serde_json::from_value(json!({"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})).unwrap();
    let created = api.create(&PostParams::default(), &svc).await.unwrap();
    let spec = created.spec.unwrap();
    assert!(spec.cluster_ip.unwrap().starts_with("10.96."));
    assert_eq!(spec.ports.unwrap()[0].target_port, Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(80)));
}

#[tokio::test]
async fn readonly_token_reads_but_cannot_write() {
    let sandbox = TestSandbox::start("ro");
    let admin: Api<ConfigMap> = Api::namespaced(sandbox.client().await, "default");
    admin.create(&PostParams::default(), &cm("visible", json!({}))).await.unwrap();
    let readonly: Api<ConfigMap> = Api::namespaced(sandbox.readonly_client().await, "default");
    assert!(readonly.get("visible").await.is_ok());
    let (code, reason, message) = api_error(readonly.create(&PostParams::default(), &cm("nope", json!({}))).await);
    assert_eq!((code, reason.as_str()), (403, "Forbidden"));
    assert!(message.contains("cannot create resource \"configmaps\""), "{message}");
    assert_eq!(api_error(readonly.delete("visible", &DeleteParams::default()).await).0, 403);
    assert_eq!(api_error(readonly.patch("visible", &PatchParams::default(), &Patch::Merge(json!({"data": {"x": "y"}}))).await).0, 403);
    assert!(admin.get_opt("nope").await.unwrap().is_none());
    assert_eq!(admin.get("visible").await.unwrap().data.unwrap().len(), 1);
}

/// Raw requests: what typed clients never send.
#[tokio::test]
async fn malformed_requests_get_status_errors_and_the_server_keeps_serving() {
    let sandbox = TestSandbox::start("raw");
    let client = sandbox.client().await;
    let send = |method: &str, path: &str, content_type: &str, body: &[u8]| {
        http::Request::builder().method(method).uri(path).header("content-type", content_type).body(body.to_vec()).unwrap()
    };
    let status = |r: kube::Result<String>| match r {
        Err(kube::Error::Api(s)) => (s.code, s.reason.clone()),
        other => panic!("expected an error, got {other:?}"),
    };
    let cms = "/api/v1/namespaces/default/configmaps";
    assert_eq!(status(client.request_text(send("POST", cms, "application/json", b"{not json")).await), (400, "BadRequest".into()));
    assert_eq!(status(client.request_text(send("POST", cms, "text/plain", b"hello")).await), (415, "UnsupportedMediaType".into()));
    assert_eq!(status(client.request_text(send("POST", cms, "application/vnd.kubernetes.protobuf", b"k8s\0garbage")).await).0, 400);
    let mismatched = br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"other"}}"#;
    assert_eq!(status(client.request_text(send("PUT", &format!("{cms}/named"), "application/json", mismatched)).await).0, 400);
    let wrong_kind = br#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"}}"#;
    assert_eq!(status(client.request_text(send("POST", cms, "application/json", wrong_kind)).await).0, 400);
    assert_eq!(status(client.request_text(send("PATCH", &format!("{cms}/x"), "application/json", b"{}")).await).0, 415);
    assert_eq!(status(client.request_text(send("GET", "/apis/nope.example.com/v1/things", "application/json", b"")).await).0, 404);
    // Still serving, and nothing was stored (the namespace holds only its root CA).
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let names: Vec<_> = api.list(&ListParams::default()).await.unwrap().items.into_iter().map(|c| c.metadata.name.unwrap()).collect();
    assert_eq!(names, ["kube-root-ca.crt"]);
}

#[tokio::test]
async fn requests_without_a_valid_token_are_unauthorized() {
    let sandbox = TestSandbox::start("auth");
    let config: Value = serde_saphyr::from_str(&std::fs::read_to_string(sandbox.kubeconfig()).unwrap()).unwrap();
    let server = config["clusters"][0]["cluster"]["server"].as_str().unwrap().to_string();
    let mut kc = kube::config::Kubeconfig::read_from(sandbox.kubeconfig()).unwrap();
    for user in &mut kc.auth_infos {
        if let Some(info) = user.auth_info.as_mut() {
            info.token = Some("wrong".to_string().into());
        }
    }
    let options = kube::config::KubeConfigOptions { context: Some("auth".into()), ..Default::default() };
    let cfg = kube::Config::from_custom_kubeconfig(kc, &options).await.unwrap();
    assert_eq!(cfg.cluster_url.to_string().trim_end_matches('/'), server);
    let client = kube::Client::try_from(cfg).unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    assert_eq!(api_error(api.list(&ListParams::default()).await).0, 401);
}

#[tokio::test]
async fn dry_run_updates_patches_and_deletes_change_nothing() {
    let sandbox = TestSandbox::start("dry");
    let api: Api<ConfigMap> = Api::namespaced(sandbox.client().await, "default");
    let original = api.create(&PostParams::default(), &cm("keep", json!({"a": "1"}))).await.unwrap();
    let mut changed = original.clone();
    changed.data = Some([("k".to_string(), "replaced".to_string())].into());
    let previewed = api.replace("keep", &PostParams { dry_run: true, ..Default::default() }, &changed).await.unwrap();
    assert_eq!(previewed.data.unwrap()["k"], "replaced");
    let patch = PatchParams { dry_run: true, ..Default::default() };
    api.patch("keep", &patch, &Patch::Merge(json!({"data": {"k": "patched"}}))).await.unwrap();
    api.delete("keep", &DeleteParams { dry_run: true, ..Default::default() }).await.unwrap();
    let now = api.get("keep").await.unwrap();
    assert_eq!(now.data.unwrap()["k"], "v");
    assert_eq!(now.metadata.resource_version, original.metadata.resource_version);
}

#[tokio::test]
async fn delete_collection_removes_only_what_the_selector_matches() {
    let sandbox = TestSandbox::start("coll");
    let api: Api<ConfigMap> = Api::namespaced(sandbox.client().await, "default");
    for (name, team) in [("a", "x"), ("b", "x"), ("c", "y")] {
        api.create(&PostParams::default(), &cm(name, json!({"team": team}))).await.unwrap();
    }
    api.delete_collection(&DeleteParams::default(), &ListParams::default().labels("team=x")).await.unwrap();
    let left: Vec<_> = api.list(&ListParams::default()).await.unwrap().items.into_iter().map(|c| c.metadata.name.unwrap()).collect();
    assert_eq!(left, ["c", "kube-root-ca.crt"]);
}

#[tokio::test]
async fn watch_with_send_initial_events_ends_the_initial_state_with_a_bookmark() {
    let sandbox = TestSandbox::start("initial");
    let client = sandbox.client().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    api.create(&PostParams::default(), &cm("one", json!({}))).await.unwrap();
    api.create(&PostParams::default(), &cm("two", json!({}))).await.unwrap();
    let path =
        "/api/v1/namespaces/default/configmaps?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=2";
    let request = http::Request::get(path).body(Vec::new()).unwrap();
    let lines: Vec<Value> = futures::AsyncBufReadExt::lines(client.request_stream(request).await.unwrap())
        .take(4)
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect()
        .await;
    let kinds: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    // The two ConfigMaps and the namespace's root CA, then the bookmark.
    assert_eq!(kinds, ["ADDED", "ADDED", "ADDED", "BOOKMARK"]);
    assert_eq!(lines[3]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");
    // Without allowWatchBookmarks the request is invalid, as on a real server.
    let bad = http::Request::get("/api/v1/namespaces/default/configmaps?watch=true&sendInitialEvents=true").body(Vec::new()).unwrap();
    assert!(matches!(client.request_text(bad).await, Err(kube::Error::Api(s)) if s.code == 422));
}
