//! The sandbox's External Secrets controller, end to end through kube-rs: stores
//! with the `fake` provider, ExternalSecrets syncing into Secrets, the refresh
//! policies and the force-sync annotation.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{TestSandbox, wait_object};
use k8s_openapi::api::core::v1::{Event, Namespace, Secret};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use serde_json::{Value, json};

fn resource(version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("external-secrets.io", version, kind), plural)
}

fn external_secrets(client: &kube::Client, ns: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), ns, &resource("v1", "ExternalSecret", "externalsecrets"))
}

fn secret_stores(client: &kube::Client, ns: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), ns, &resource("v1", "SecretStore", "secretstores"))
}

fn cluster_secret_stores(client: &kube::Client) -> Api<DynamicObject> {
    Api::all_with(client.clone(), &resource("v1", "ClusterSecretStore", "clustersecretstores"))
}

fn object(api_version: &str, kind: &str, name: &str, spec: Value) -> DynamicObject {
    serde_json::from_value(json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name}, "spec": spec})).unwrap()
}

/// A store spec with the fake provider holding `data` (key → value).
fn fake_store(data: &[(&str, &str)]) -> Value {
    let entries: Vec<Value> = data.iter().map(|(k, v)| json!({"key": k, "value": v})).collect();
    json!({"provider": {"fake": {"data": entries}}})
}

async fn create(api: &Api<DynamicObject>, kind: &str, name: &str, spec: Value) -> DynamicObject {
    api.create(&PostParams::default(), &object("external-secrets.io/v1", kind, name, spec)).await.unwrap()
}

async fn merge(api: &Api<DynamicObject>, name: &str, patch: Value) {
    api.patch(name, &PatchParams::default(), &Patch::Merge(patch)).await.unwrap();
}

/// `kubectl annotate es <name> force-sync=<value> --overwrite`.
async fn force_sync(api: &Api<DynamicObject>, name: &str, value: &str) {
    merge(api, name, json!({"metadata": {"annotations": {"force-sync": value}}})).await;
}

/// The Ready condition as (status, reason, message).
fn ready(obj: &DynamicObject) -> Option<(String, String, String)> {
    let c = obj.data["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == "Ready")?;
    Some((c["status"].as_str()?.into(), c["reason"].as_str()?.into(), c["message"].as_str().unwrap_or_default().into()))
}

fn status_field(obj: &DynamicObject, field: &str) -> String {
    obj.data["status"][field].as_str().unwrap_or_default().to_string()
}

fn is_synced(obj: &DynamicObject) -> bool {
    ready(obj).is_some_and(|(s, r, _)| s == "True" && r == "SecretSynced")
}

fn expected(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The Secret's data, decoded, as strings.
fn values(secret: &Secret) -> BTreeMap<String, String> {
    secret.data.clone().unwrap_or_default().into_iter().map(|(k, v)| (k, String::from_utf8(v.0).unwrap())).collect()
}

fn value(secret: &Secret, key: &str) -> Option<String> {
    values(secret).get(key).cloned()
}

/// Events about the named object in `ns`, as (type, reason, message).
async fn events_about(client: &kube::Client, ns: &str, name: &str) -> Vec<(String, String, String)> {
    let events: Api<Event> = Api::namespaced(client.clone(), ns);
    events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.involved_object.name.as_deref() == Some(name))
        .map(|e| (e.type_.unwrap_or_default(), e.reason.unwrap_or_default(), e.message.unwrap_or_default()))
        .collect()
}

#[tokio::test]
async fn an_external_secret_syncs_a_fake_store_into_a_secret_and_force_sync_refreshes_it() {
    let sandbox = TestSandbox::start_seeded("eso-sync", "crds");
    let client = sandbox.client().await;
    let stores = secret_stores(&client, "default");
    let ess = external_secrets(&client, "default");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");

    create(
        &stores,
        "SecretStore",
        "vault",
        fake_store(&[("/db/user", "admin"), ("/db/password", "hunter2"), ("/db/config", r#"{"host": "db.local", "port": 5432}"#)]),
    )
    .await;
    let store = wait_object(&stores, "vault", "Ready", |s| ready(s).is_some_and(|r| r.0 == "True")).await;
    assert_eq!(ready(&store).unwrap(), ("True".into(), "Valid".into(), "store validated".into()));
    assert_eq!(store.data["status"]["capabilities"], "ReadWrite");

    let spec = json!({
        "refreshInterval": "1h",
        "secretStoreRef": {"name": "vault", "kind": "SecretStore"},
        "target": {"name": "db-credentials"},
        "data": [
            {"secretKey": "username", "remoteRef": {"key": "/db/user"}},
            {"secretKey": "password", "remoteRef": {"key": "/db/password"}},
            {"secretKey": "host", "remoteRef": {"key": "/db/config", "property": "host"}},
        ],
        "dataFrom": [{"extract": {"key": "/db/config"}}],
    });
    let created = create(&ess, "ExternalSecret", "db", spec).await;
    let es = wait_object(&ess, "db", "synced", is_synced).await;
    assert_eq!(ready(&es).unwrap().2, "secret synced");
    assert_eq!(es.data["status"]["binding"]["name"], "db-credentials");
    let first_rv = status_field(&es, "syncedResourceVersion");
    let first_refresh = status_field(&es, "refreshTime");
    assert!(first_rv.starts_with("1-") && first_rv.len() == 2 + 32, "syncedResourceVersion {first_rv}");
    assert!(first_refresh.ends_with('Z'), "refreshTime {first_refresh}");

    let secret = secrets.get("db-credentials").await.unwrap();
    assert_eq!(values(&secret), expected(&[("host", "db.local"), ("password", "hunter2"), ("port", "5432"), ("username", "admin")]));
    assert_eq!(secret.type_.as_deref(), Some("Opaque"));
    let owner = &secret.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!((owner.kind.as_str(), owner.name.as_str(), owner.controller), ("ExternalSecret", "db", Some(true)));
    assert_eq!(Some(&owner.uid), created.metadata.uid.as_ref());
    assert_eq!(secret.metadata.labels.as_ref().unwrap()["reconcile.external-secrets.io/managed"], "true");
    let first_hash = secret.metadata.annotations.as_ref().unwrap()["reconcile.external-secrets.io/data-hash"].clone();
    assert_eq!(first_hash.len(), 32);
    assert!(events_about(&client, "default", "db").await.contains(&("Normal".into(), "Created".into(), "secret created".into())));

    // The same object through the deprecated v1beta1 version.
    let beta: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &resource("v1beta1", "ExternalSecret", "externalsecrets"));
    let old = beta.get("db").await.unwrap();
    assert_eq!(old.types.as_ref().unwrap().api_version, "external-secrets.io/v1beta1");
    assert_eq!(status_field(&old, "syncedResourceVersion"), first_rv);
    assert!(is_synced(&old));
    assert_eq!(beta.list(&ListParams::default()).await.unwrap().items.len(), 1);

    // A changed provider value is not picked up before the refresh interval…
    merge(
        &stores,
        "vault",
        json!({"spec": fake_store(&[("/db/user", "admin"), ("/db/password", "swordfish"), ("/db/config", r#"{"host": "db.local", "port": 5432}"#)])}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let unchanged = secrets.get("db-credentials").await.unwrap();
    assert_eq!(value(&unchanged, "password").as_deref(), Some("hunter2"));
    // Nothing was written since the sync: no loop on the controller's own writes.
    assert_eq!(unchanged.metadata.resource_version, secret.metadata.resource_version);
    assert_eq!(ess.get("db").await.unwrap().metadata.resource_version, es.metadata.resource_version);

    // …but is by the force-sync annotation convention.
    force_sync(&ess, "db", "1700000000").await;
    let secret = wait_object(&secrets, "db-credentials", "the new password", |s| value(s, "password").as_deref() == Some("swordfish")).await;
    assert_ne!(secret.metadata.annotations.as_ref().unwrap()["reconcile.external-secrets.io/data-hash"], first_hash);
    // Without a template, the ExternalSecret's annotations are copied, as ESO does.
    assert_eq!(secret.metadata.annotations.as_ref().unwrap()["force-sync"], "1700000000");
    let es = wait_object(&ess, "db", "a new sync recorded", |e| status_field(e, "syncedResourceVersion") != first_rv).await;
    let second_rv = status_field(&es, "syncedResourceVersion");
    assert!(second_rv.starts_with("1-"), "annotations do not bump the generation: {second_rv}");
    assert!(status_field(&es, "refreshTime") > first_refresh, "refreshTime moved on from {first_refresh}");
    assert!(events_about(&client, "default", "db").await.contains(&("Normal".into(), "Updated".into(), "secret updated".into())));

    // A target Secret edited behind the controller's back is put back.
    merge_secret(&secrets, "db-credentials", json!({"data": {"password": "aGFja2Vk"}})).await;
    wait_object(&secrets, "db-credentials", "repaired", |s| value(s, "password").as_deref() == Some("swordfish")).await;

    // Deleting the ExternalSecret collects the Secret it owns.
    ess.delete("db", &DeleteParams::default()).await.unwrap();
    for _ in 0..100 {
        if secrets.get_opt("db-credentials").await.unwrap().is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the owned secret outlived its ExternalSecret");
}

async fn merge_secret(api: &Api<Secret>, name: &str, patch: Value) {
    api.patch(name, &PatchParams::default(), &Patch::Merge(patch)).await.unwrap();
}

#[tokio::test]
async fn sync_errors_are_reported_on_the_external_secret() {
    let sandbox = TestSandbox::start_seeded("eso-errors", "crds");
    let client = sandbox.client().await;
    let stores = secret_stores(&client, "default");
    let ess = external_secrets(&client, "default");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");
    let failed = |e: &DynamicObject| ready(e).is_some_and(|(s, r, _)| s == "False" && r == "SecretSyncedError");

    // The store does not exist (yet).
    let spec = json!({"secretStoreRef": {"name": "vault"}, "data": [{"secretKey": "token", "remoteRef": {"key": "/api/token"}}]});
    create(&ess, "ExternalSecret", "api", spec).await;
    let es = wait_object(&ess, "api", "failed", failed).await;
    let message = ready(&es).unwrap().2;
    assert!(message.contains(r#"could not get SecretStore "vault""#) && message.contains("not found"), "{message}");
    // One attempt, one event: the controller's own status write does not requeue it.
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let warnings: Vec<Event> =
        events.list(&ListParams::default()).await.unwrap().items.into_iter().filter(|e| e.reason.as_deref() == Some("UpdateFailed")).collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].count, Some(1));

    // The store exists but lacks the key: the error names it.
    create(&stores, "SecretStore", "vault", fake_store(&[("/api/other", "x")])).await;
    let es = wait_object(&ess, "api", "failed on the key", |e| failed(e) && ready(e).unwrap().2.contains("/api/token")).await;
    let message = ready(&es).unwrap().2;
    assert!(message.starts_with("could not get secret data from provider"), "{message}");
    assert!(message.contains("Secret does not exist"), "{message}");
    assert!(secrets.get_opt("api").await.unwrap().is_none());
    let events = events_about(&client, "default", "api").await;
    assert!(events.iter().any(|(t, r, m)| t == "Warning" && r == "UpdateFailed" && m.contains("/api/token")), "{events:?}");

    // Adding the key to the store is enough: the failing ExternalSecret retries.
    merge(&stores, "vault", json!({"spec": fake_store(&[("/api/other", "x"), ("/api/token", "t0k3n")])})).await;
    wait_object(&ess, "api", "synced", is_synced).await;
    let secret = secrets.get("api").await.unwrap();
    assert_eq!(value(&secret, "token").as_deref(), Some("t0k3n"));

    // A store without the fake provider is not Ready, and says why.
    create(&stores, "SecretStore", "aws", json!({"provider": {"aws": {"service": "SecretsManager", "region": "eu-west-1"}}})).await;
    let aws = wait_object(&stores, "aws", "not ready", |s| ready(s).is_some_and(|r| r.0 == "False")).await;
    let (_, reason, message) = ready(&aws).unwrap();
    assert_eq!(reason, "InvalidProviderConfig");
    assert!(message.contains("aws") && message.contains("fake"), "{message}");
    let spec = json!({"secretStoreRef": {"name": "aws"}, "data": [{"secretKey": "token", "remoteRef": {"key": "/api/token"}}]});
    create(&ess, "ExternalSecret", "via-aws", spec).await;
    let es = wait_object(&ess, "via-aws", "failed", failed).await;
    assert!(ready(&es).unwrap().2.contains("the desired SecretStore aws is not ready"), "{:?}", ready(&es));

    // What the admission webhook would refuse is reported, not acted on.
    let spec = json!({"refreshInterval": "soon", "secretStoreRef": {"name": "vault"}, "data": [{"secretKey": "token", "remoteRef": {"key": "/api/token"}}]});
    create(&ess, "ExternalSecret", "bad-interval", spec).await;
    let es = wait_object(&ess, "bad-interval", "failed", failed).await;
    assert!(ready(&es).unwrap().2.contains(r#"time: invalid duration "soon""#), "{:?}", ready(&es));
    let spec = json!({"secretStoreRef": {"name": "vault"}, "data": [{"remoteRef": {"key": "/api/token"}}]});
    create(&ess, "ExternalSecret", "no-key", spec).await;
    let es = wait_object(&ess, "no-key", "failed", failed).await;
    assert!(ready(&es).unwrap().2.contains("spec.data[0].secretKey: Required value"), "{:?}", ready(&es));
    assert!(secrets.get_opt("bad-interval").await.unwrap().is_none() && secrets.get_opt("no-key").await.unwrap().is_none());
}

#[tokio::test]
async fn refresh_policies_decide_when_to_read_the_provider_again() {
    let sandbox = TestSandbox::start_seeded("eso-refresh", "crds");
    let client = sandbox.client().await;
    let stores = secret_stores(&client, "default");
    let ess = external_secrets(&client, "default");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");
    create(&stores, "SecretStore", "vault", fake_store(&[("/token", "one")])).await;
    let es_spec = |policy: &str, interval: &str| json!({"refreshPolicy": policy, "refreshInterval": interval, "secretStoreRef": {"name": "vault"}, "data": [{"secretKey": "token", "remoteRef": {"key": "/token"}}]});
    create(&ess, "ExternalSecret", "once", es_spec("CreatedOnce", "1s")).await;
    create(&ess, "ExternalSecret", "on-change", es_spec("OnChange", "1s")).await;
    create(&ess, "ExternalSecret", "periodic", es_spec("Periodic", "1s")).await;
    create(&ess, "ExternalSecret", "never", es_spec("Periodic", "0")).await;
    for name in ["once", "on-change", "periodic", "never"] {
        wait_object(&ess, name, "synced", is_synced).await;
        assert_eq!(value(&secrets.get(name).await.unwrap(), "token").as_deref(), Some("one"), "{name}");
    }
    let synced_once = status_field(&ess.get("once").await.unwrap(), "syncedResourceVersion");

    merge(&stores, "vault", json!({"spec": fake_store(&[("/token", "two")])})).await;
    // Periodic with a 1s interval refreshes on its own.
    wait_object(&secrets, "periodic", "refreshed", |s| value(s, "token").as_deref() == Some("two")).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for name in ["once", "on-change", "never"] {
        assert_eq!(value(&secrets.get(name).await.unwrap(), "token").as_deref(), Some("one"), "{name} must not refresh on a timer");
    }

    // The force-sync annotation: OnChange refreshes, CreatedOnce and an interval of 0 do not.
    for name in ["once", "on-change", "never"] {
        force_sync(&ess, name, "1").await;
    }
    wait_object(&secrets, "on-change", "refreshed", |s| value(s, "token").as_deref() == Some("two")).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(value(&secrets.get("once").await.unwrap(), "token").as_deref(), Some("one"));
    assert_eq!(value(&secrets.get("never").await.unwrap(), "token").as_deref(), Some("one"));
    assert_eq!(status_field(&ess.get("once").await.unwrap(), "syncedResourceVersion"), synced_once);

    // CreatedOnce still recreates a deleted target, from the provider's current data.
    secrets.delete("once", &DeleteParams::default()).await.unwrap();
    let secret = wait_object(&secrets, "once", "recreated", |_| true).await;
    assert_eq!(value(&secret, "token").as_deref(), Some("two"));
}

#[tokio::test]
async fn a_cluster_secret_store_serves_several_namespaces() {
    let sandbox = TestSandbox::start_seeded("eso-cluster", "crds");
    let client = sandbox.client().await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for ns in ["team-a", "team-b"] {
        namespaces.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap()).await.unwrap();
    }
    let stores = cluster_secret_stores(&client);
    create(&stores, "ClusterSecretStore", "shared", fake_store(&[("/shared/api-key", "k3y"), ("/shared/config", r#"{"region": "eu", "tier": "gold"}"#)])).await;
    let store = wait_object(&stores, "shared", "Ready", |s| ready(s).is_some_and(|r| r.0 == "True")).await;
    assert_eq!(ready(&store).unwrap().1, "Valid");

    let spec = json!({
        "secretStoreRef": {"name": "shared", "kind": "ClusterSecretStore"},
        "target": {"name": "shared-config", "template": {"type": "kubernetes.io/basic-auth", "metadata": {"labels": {"team": "yes"}}}},
        "data": [{"secretKey": "api-key", "remoteRef": {"key": "/shared/api-key"}}],
        "dataFrom": [{"extract": {"key": "/shared/config"}}],
    });
    for ns in ["team-a", "team-b"] {
        let ess = external_secrets(&client, ns);
        create(&ess, "ExternalSecret", "config", spec.clone()).await;
        wait_object(&ess, "config", "synced", is_synced).await;
        let secret = Api::<Secret>::namespaced(client.clone(), ns).get("shared-config").await.unwrap();
        assert_eq!(values(&secret), expected(&[("api-key", "k3y"), ("region", "eu"), ("tier", "gold")]), "{ns}");
        assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/basic-auth"));
        assert_eq!(secret.metadata.labels.as_ref().unwrap()["team"], "yes");
    }

    // Conditions restrict which namespaces may use the store.
    let team_a = external_secrets(&client, "team-a");
    let before = status_field(&team_a.get("config").await.unwrap(), "syncedResourceVersion");
    merge(&stores, "shared", json!({"spec": {"conditions": [{"namespaces": ["team-a"]}]}})).await;
    force_sync(&external_secrets(&client, "team-b"), "config", "2").await;
    let denied = wait_object(&external_secrets(&client, "team-b"), "config", "denied", |e| ready(e).is_some_and(|r| r.0 == "False")).await;
    assert!(ready(&denied).unwrap().2.contains(r#"using cluster store "shared" is not allowed from namespace "team-b""#), "{:?}", ready(&denied));
    force_sync(&team_a, "config", "2").await;
    wait_object(&team_a, "config", "re-synced", |e| is_synced(e) && status_field(e, "syncedResourceVersion") != before).await;
}
