//! Paged lists and `resourceVersion`/`resourceVersionMatch` as kube-apiserver 1.35
//! serves them: every page read from the first page's snapshot, 410 Expired with a
//! fresh continue token once that snapshot is no longer kept, exact and
//! not-older-than reads, and the real refusals. Through kube-rs, the raw requests
//! through its HTTP client as any client sends them.

mod common;

use std::collections::BTreeMap;

use base64::Engine;
use common::{TestSandbox, api_error, wait_object};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams, ListParams, ObjectList, Patch, PatchParams, PostParams, VersionMatch};
use serde_json::{Value, json};

fn cm(name: &str, value: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"k": value}})).unwrap()
}

/// A namespace holding `names` (and its `kube-root-ca.crt`, waited for so the
/// listing does not change under the test).
async fn namespace_with(client: &kube::Client, ns: &str, names: &[&str]) -> Api<ConfigMap> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap()).await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    wait_object(&api, "kube-root-ca.crt", "published", |_| true).await;
    for name in names {
        api.create(&PostParams::default(), &cm(name, "1")).await.unwrap();
    }
    api
}

/// `name=value` of each item, and the list's resourceVersion, continue token and remaining count.
fn page(list: &ObjectList<ConfigMap>) -> (Vec<String>, String, Option<String>, Option<i64>) {
    let items = list
        .items
        .iter()
        .map(|c| {
            let value = c.data.as_ref().and_then(|d| d.get("k")).map_or("ca", String::as_str);
            format!("{}={value}", c.metadata.name.as_deref().unwrap_or_default())
        })
        .collect();
    let meta = &list.metadata;
    (items, meta.resource_version.clone().unwrap_or_default(), meta.continue_.clone().filter(|c| !c.is_empty()), meta.remaining_item_count)
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Sends a GET through the client; the status code and the exact body.
async fn get_raw(client: &kube::Client, path: &str) -> (u16, String) {
    let request = http::Request::builder().method("GET").uri(path).body(kube::client::Body::empty()).unwrap();
    let response = client.send(request).await.expect("request sent");
    let code = response.status().as_u16();
    let bytes = response.into_body().collect_bytes().await.expect("body read");
    (code, String::from_utf8(bytes.to_vec()).unwrap())
}

/// A client of the sandbox that does not retry 429, 503 and 504 answers.
async fn client_without_retries(sandbox: &TestSandbox) -> kube::Client {
    let raw = kube::config::Kubeconfig::read_from(sandbox.kubeconfig()).unwrap();
    let options = kube::config::KubeConfigOptions { context: Some(sandbox.name.clone()), ..Default::default() };
    let mut config = kube::Config::from_custom_kubeconfig(raw, &options).await.unwrap();
    config.default_retry = false;
    kube::Client::try_from(config).unwrap()
}

/// A Status body as kube-apiserver writes it.
fn status(metadata: &str, rest: &str) -> String {
    format!("{{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{{{metadata}}},\"status\":\"Failure\",{rest}}}\n")
}

/// The continue token the real server encodes: `{"v":…,"rv":…,"start":…}`, base64url without padding.
fn token(rv: i64, start: &str) -> String {
    let json = format!("{{\"v\":\"meta.k8s.io/v1\",\"rv\":{rv},\"start\":{}}}", serde_json::to_string(start).unwrap());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

#[tokio::test]
async fn continued_pages_are_read_from_the_first_pages_snapshot() {
    let sandbox = TestSandbox::start("page-snap");
    let client = sandbox.client().await;
    let api = namespace_with(&client, "paged", &["a", "b", "c", "d", "e", "f", "g", "h"]).await;

    let first = api.list(&ListParams::default().limit(3)).await.unwrap();
    let (items, rv, next, remaining) = page(&first);
    assert_eq!((items, remaining), (strings(&["a=1", "b=1", "c=1"]), Some(6)));
    let next = next.expect("a continue token");
    assert_eq!(next, token(rv.parse().unwrap(), "c\0"), "the token names the last key and the snapshot, as the real server's");
    let d_before = api.get("d").await.unwrap();

    // Between the pages: one created inside the next page's range, one updated,
    // one deleted, and one created after everything.
    api.create(&PostParams::default(), &cm("cc", "new")).await.unwrap();
    api.patch("d", &PatchParams::default(), &Patch::Merge(json!({"data": {"k": "2"}}))).await.unwrap();
    api.delete("e", &DeleteParams::default()).await.unwrap();
    api.create(&PostParams::default(), &cm("z", "new")).await.unwrap();

    let second = api.list(&ListParams::default().limit(3).continue_token(&next)).await.unwrap();
    let (items, second_rv, next, remaining) = page(&second);
    assert_eq!((items, &second_rv, remaining), (strings(&["d=1", "e=1", "f=1"]), &rv, Some(3)), "the snapshot, at the first page's version");
    assert_eq!(second.items[0].metadata.resource_version, d_before.metadata.resource_version, "d as it was, with its own resourceVersion");
    let third = api.list(&ListParams::default().limit(3).continue_token(&next.unwrap())).await.unwrap();
    let (items, third_rv, next, remaining) = page(&third);
    assert_eq!((items, &third_rv, next, remaining), (strings(&["g=1", "h=1", "kube-root-ca.crt=ca"]), &rv, None, None), "the last page ends the list");

    // A new list sees the changes.
    let (items, now, _, _) = page(&api.list(&ListParams::default()).await.unwrap());
    assert_eq!(items, strings(&["a=1", "b=1", "c=1", "cc=new", "d=2", "f=1", "g=1", "h=1", "kube-root-ca.crt=ca", "z=new"]));
    assert!(now.parse::<u64>().unwrap() > rv.parse::<u64>().unwrap());

    // Across namespaces, pages of one key each add up to the whole list; a
    // selector leaves the remaining count out, as the real server does.
    let all: Api<ConfigMap> = Api::all(client.clone());
    let whole: Vec<String> =
        all.list(&ListParams::default()).await.unwrap().items.iter().map(|c| format!("{:?}/{:?}", c.metadata.namespace, c.metadata.name)).collect();
    let mut paged = Vec::new();
    let mut params = ListParams::default().limit(2);
    loop {
        let list = all.list(&params).await.unwrap();
        paged.extend(list.items.iter().map(|c| format!("{:?}/{:?}", c.metadata.namespace, c.metadata.name)));
        match list.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(next) => params = params.continue_token(&next),
            None => break,
        }
    }
    assert_eq!(paged, whole);
    let selected = api.list(&ListParams::default().labels("absent!=x").limit(2)).await.unwrap();
    assert_eq!((selected.items.len(), selected.metadata.remaining_item_count), (2, None));
}

#[tokio::test]
async fn an_expired_snapshot_answers_410_with_a_token_that_continues_from_now() {
    // 300 changes kept: the writes below push the first page's version out.
    let sandbox = TestSandbox::start_with_args("page-gone", &["--history", "300"]);
    let client = sandbox.client().await;
    let api = namespace_with(&client, "gone", &["a", "b", "c", "d"]).await;
    let first = api.list(&ListParams::default().limit(2)).await.unwrap();
    let (_, rv, next, _) = page(&first);
    let next = next.unwrap();
    let old_rv: u64 = rv.parse().unwrap();

    api.create(&PostParams::default(), &cm("churn", "0")).await.unwrap();
    for i in 1..=320 {
        api.patch("churn", &PatchParams::default(), &Patch::Merge(json!({"data": {"k": i.to_string()}}))).await.unwrap();
    }
    api.delete("c", &DeleteParams::default()).await.unwrap();

    let (code, body) = get_raw(&client, &format!("/api/v1/namespaces/gone/configmaps?limit=2&continue={next}")).await;
    let fresh = token(-1, "b\0");
    let message = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";
    assert_eq!((code, body), (410, status(&format!("\"continue\":\"{fresh}\""), &format!("\"message\":\"{message}\",\"reason\":\"Expired\",\"code\":410"))));
    let (code, reason, _) = api_error(api.list(&ListParams::default().limit(2).continue_token(&next)).await);
    assert_eq!((code, reason.as_str()), (410, "Expired"), "kube-rs sees the 410");

    // The fresh token goes on from b in today's state, at today's version.
    let rest = api.list(&ListParams::default().limit(10).continue_token(&fresh)).await.unwrap();
    let (items, now, next, _) = page(&rest);
    assert_eq!((items, next), (strings(&["churn=320", "d=1", "kube-root-ca.crt=ca"]), None));
    assert!(now.parse::<u64>().unwrap() > old_rv + 300, "the current version, not the expired one: {now}");

    // An exact read of a version no longer kept is refused the same way.
    let (code, reason, message) = api_error(api.list(&ListParams::default().at(&rv).matching(VersionMatch::Exact)).await);
    assert_eq!((code, reason.as_str(), message.as_str()), (410, "Expired", "The resourceVersion for the provided list is too old."));
}

#[tokio::test]
async fn resource_version_and_its_match_read_as_the_real_server_reads() {
    let sandbox = TestSandbox::start("page-rvm");
    let client = sandbox.client().await;
    let api = namespace_with(&client, "rvm", &["a", "b"]).await;
    let before = api.list(&ListParams::default()).await.unwrap().metadata.resource_version.unwrap();
    api.create(&PostParams::default(), &cm("c", "1")).await.unwrap();
    api.patch("a", &PatchParams::default(), &Patch::Merge(json!({"data": {"k": "2"}}))).await.unwrap();

    // Exact: the state at that version, which it answers with.
    let exact = api.list(&ListParams::default().at(&before).matching(VersionMatch::Exact)).await.unwrap();
    let (items, rv, _, _) = page(&exact);
    assert_eq!((items, rv), (strings(&["a=1", "b=1", "kube-root-ca.crt=ca"]), before.clone()));
    // NotOlderThan: the latest state.
    let newer = api.list(&ListParams::default().at(&before).matching(VersionMatch::NotOlderThan)).await.unwrap();
    let (items, rv, _, _) = page(&newer);
    assert_eq!(items, strings(&["a=2", "b=1", "c=1", "kube-root-ca.crt=ca"]));
    assert!(rv.parse::<u64>().unwrap() > before.parse::<u64>().unwrap());
    // Without a match, a version with a limit is exact, one without a limit is "not older than".
    let (items, rv, next, remaining) = page(&api.list(&ListParams::default().at(&before).limit(2)).await.unwrap());
    assert_eq!((items, &rv, remaining), (strings(&["a=1", "b=1"]), &before, Some(1)));
    let (items, _, _, _) = page(&api.list(&ListParams { continue_token: next, ..ListParams::default() }).await.unwrap());
    assert_eq!(items, strings(&["kube-root-ca.crt=ca"]), "continued at that version");
    assert_eq!(page(&api.list(&ListParams::default().at(&before)).await.unwrap()).0.len(), 4);

    // resourceVersion=0: any state will do, and the watch cache ignores the limit.
    let (code, body) = get_raw(&client, "/api/v1/namespaces/rvm/configmaps?resourceVersion=0&limit=1").await;
    let list: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((code, list["items"].as_array().map(Vec::len), list["metadata"].get("continue")), (200, Some(4), None));

    // The real refusals, byte for byte.
    let path = "/api/v1/namespaces/rvm/configmaps";
    let invalid = |causes: &[(&str, &str)]| {
        let message = causes.iter().map(|(field, m)| format!("{field}: {m}")).collect::<Vec<_>>();
        let message = if message.len() == 1 { message[0].clone() } else { format!("[{}]", message.join(", ")) };
        let causes: Vec<String> = causes
            .iter()
            .map(|(field, m)| {
                let reason = if m.starts_with("Unsupported") { "FieldValueNotSupported" } else { "FieldValueForbidden" };
                format!("{{\"reason\":\"{reason}\",\"message\":{},\"field\":\"{field}\"}}", serde_json::to_string(m).unwrap())
            })
            .collect();
        let message = serde_json::to_string(&format!("ListOptions.meta.k8s.io \"\" is invalid: {message}")).unwrap();
        (
            422,
            status(
                "",
                &format!(
                    "\"message\":{message},\"reason\":\"Invalid\",\"details\":{{\"group\":\"meta.k8s.io\",\"kind\":\"ListOptions\",\"causes\":[{}]}},\"code\":422",
                    causes.join(",")
                ),
            ),
        )
    };
    assert_eq!(
        get_raw(&client, &format!("{path}?resourceVersionMatch=Exact")).await,
        invalid(&[("resourceVersionMatch", "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided")])
    );
    assert_eq!(
        get_raw(&client, &format!("{path}?resourceVersion=0&resourceVersionMatch=Exact")).await,
        invalid(&[("resourceVersionMatch", "Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"")])
    );
    assert_eq!(
        get_raw(&client, &format!("{path}?resourceVersion=1&resourceVersionMatch=Newest")).await,
        invalid(&[("resourceVersionMatch", "Unsupported value: \"Newest\": supported values: \"Exact\", \"NotOlderThan\", \"\"")])
    );
    let continued = token(before.parse().unwrap(), "a\0");
    assert_eq!(
        get_raw(&client, &format!("{path}?continue={continued}&resourceVersionMatch=NotOlderThan")).await,
        invalid(&[
            ("resourceVersionMatch", "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"),
            ("resourceVersionMatch", "Forbidden: resourceVersionMatch is forbidden when continue is provided"),
        ])
    );
    let bad_request =
        |message: &str| (400, status("", &format!("\"message\":{},\"reason\":\"BadRequest\",\"code\":400", serde_json::to_string(message).unwrap())));
    assert_eq!(
        get_raw(&client, &format!("{path}?continue={continued}&resourceVersion=5")).await,
        bad_request("specifying resource version is not allowed when using continue")
    );
    assert_eq!(
        get_raw(&client, &format!("{path}?resourceVersion=abc")).await,
        bad_request("invalid resource version: resourceVersion: Invalid value: \"abc\": strconv.ParseUint: parsing \"abc\": invalid syntax")
    );
    assert_eq!(
        get_raw(&client, &format!("{path}?limit=1&continue={}", token(0, "a\0"))).await,
        bad_request("invalid continue token: continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
    );

    // A version the sandbox has not reached: the watch cache waits 3 s, then 504
    // with Retry-After (which kube-rs's default client would follow, so not here).
    let future = before.parse::<u64>().unwrap() + 100_000;
    let started = std::time::Instant::now();
    let once = client_without_retries(&sandbox).await;
    let request =
        http::Request::builder().uri(format!("{path}?resourceVersion={future}&resourceVersionMatch=NotOlderThan")).body(kube::client::Body::empty()).unwrap();
    let response = once.send(request).await.expect("request sent");
    assert!(started.elapsed() >= std::time::Duration::from_secs(3), "waited for the version first");
    let (code, retry_after) = (response.status().as_u16(), response.headers().get("Retry-After").cloned());
    assert_eq!(retry_after.as_ref().map(|v| v.to_str().unwrap()), Some("1"));
    let body = String::from_utf8(response.into_body().collect_bytes().await.unwrap().to_vec()).unwrap();
    let current: BTreeMap<String, Value> = serde_json::from_str(&body).unwrap();
    let message = current["message"].as_str().unwrap_or_default().to_string();
    assert!(message.starts_with(&format!("Timeout: Too large resource version: {future}, current: ")), "{message}");
    assert_eq!(
        (code, body),
        (
            504,
            status(
                "",
                &format!(
                    "\"message\":{},\"reason\":\"Timeout\",\"details\":{{\"causes\":[{{\"reason\":\"ResourceVersionTooLarge\",\"message\":\"Too large resource version\"}}],\"retryAfterSeconds\":1}},\"code\":504",
                    serde_json::to_string(&message).unwrap()
                )
            )
        )
    );
}
