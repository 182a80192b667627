//! Malformed bodies thrown at every write verb of a few resources: each answered
//! with a `Status` (a 4xx, or a 2xx where the mutation still made a valid object),
//! never a 5xx, a hang or a dropped connection; afterwards the server still serves,
//! every stored object still reads back, and the controllers still reconcile.
//!
//! The bodies are mutations of valid JSON, YAML and protobuf bodies, drawn from a
//! seeded generator so a failure can be replayed: the seed is in the failure
//! message, and `KDECK_FUZZ_SEED` / `KDECK_FUZZ_ROUNDS` set them.

mod common;

use std::time::Duration;

use common::{TestSandbox, wait_object};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Endpoints;
use kube::Api;
use kube::api::PostParams;
use serde_json::{Value, json};

/// xorshift64*: small, seeded, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const JUNK: &[&[u8]] =
    &[b"\0", b"\xff\xfe", b"{", b"}", b"[", b"\"", b"\\", b"\\u0000", b":", b",", b"null", b"1e999", b"-", b"\xc3\x28", b"\t", b"*x", b"&a", b"!!binary"];

/// A value of another type than the one it replaces.
fn odd_value(rng: &mut Rng) -> Value {
    match rng.below(11) {
        0 => Value::Null,
        1 => json!(1e308),
        2 => json!(-1),
        3 => json!("s"),
        4 => json!([]),
        5 => json!({}),
        6 => json!(true),
        7 => json!(1.5),
        8 => json!("\u{0}\u{ffff}"),
        9 => json!([{"a": [null, {"b": -9_223_372_036_854_775_808i64}]}]),
        _ => json!(u64::MAX),
    }
}

/// Every node of `v`, as JSON pointers.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                pointers(child, format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                pointers(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

/// One mutation of `base` (a JSON body): bytes cut, flipped, inserted, repeated, or a
/// field's value swapped for another type.
fn mutate(base: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut b = base.to_vec();
    let at = rng.below(b.len() + 1);
    match rng.below(6) {
        0 => b.truncate(at),
        1 if !b.is_empty() => {
            let i = at.min(b.len() - 1);
            b[i] = rng.next() as u8;
        }
        2 => {
            let junk = JUNK[rng.below(JUNK.len())];
            b.splice(at..at, junk.iter().copied());
        }
        3 => {
            let end = (at + rng.below(40)).min(b.len());
            b.drain(at..end);
        }
        4 => {
            let end = (at + rng.below(60)).min(b.len());
            let piece = b[at..end].to_vec();
            b.splice(at..at, piece);
        }
        _ => {
            if let Ok(mut v) = serde_json::from_slice::<Value>(base) {
                let mut all = Vec::new();
                pointers(&v, String::new(), &mut all);
                let pick = all[rng.below(all.len())].clone();
                if pick.is_empty() {
                    v = odd_value(rng);
                } else if let Some(slot) = v.pointer_mut(&pick) {
                    *slot = odd_value(rng);
                }
                b = serde_json::to_vec(&v).unwrap();
            }
        }
    }
    b
}

/// Bodies no mutation makes by chance.
fn nasty() -> Vec<(&'static str, Vec<u8>)> {
    let deep = |n: usize| [vec![b'['; n], vec![b']'; n]].concat();
    let laughs = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n\
         b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n\
         d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n\
         f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n\
         h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\ni: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
    vec![
        ("empty", Vec::new()),
        ("null", b"null".to_vec()),
        ("a list", b"[]".to_vec()),
        ("a number", b"1".to_vec()),
        ("a string", b"\"s\"".to_vec()),
        ("deep nesting", deep(100_000)),
        ("deep objects", ["{\"a\":".repeat(50_000), "1".into(), "}".repeat(50_000)].concat().into_bytes()),
        ("not UTF-8", b"{\"metadata\":{\"name\":\"\xff\xfe\"}}".to_vec()),
        ("duplicate keys", br#"{"metadata":{"name":"a","name":"b"},"metadata":{"name":"c"}}"#.to_vec()),
        ("huge number", br#"{"metadata":{"name":"n","generation":1e400}}"#.to_vec()),
        ("yaml aliases", laughs.as_bytes().to_vec()),
        ("yaml tabs", b"metadata:\n\tname: x\n".to_vec()),
        ("yaml documents", b"metadata: {name: a}\n---\nmetadata: {name: b}\n".to_vec()),
        ("yaml merge keys", b"base: &b {name: x}\nmetadata:\n  <<: *b\n".to_vec()),
    ]
}

struct Target {
    /// Collection path.
    path: &'static str,
    /// A valid object, named `fuzz-target` (created first, the target of PUT and PATCH).
    object: Value,
}

fn targets() -> Vec<Target> {
    let labels = json!({"app": "fuzz"});
    let pod_spec = json!({"containers": [{"name": "c", "image": "busybox:1.36", "command": ["sleep", "3600"],
        "ports": [{"containerPort": 80, "name": "http"}], "env": [{"name": "A", "value": "b"}],
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "32Mi"}}}]});
    vec![
        Target {
            path: "/api/v1/namespaces/fuzz/configmaps",
            object: json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fuzz-target", "labels": labels}, "data": {"a": "1", "b": "two"}}),
        },
        Target {
            path: "/api/v1/namespaces/fuzz/secrets",
            object: json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "fuzz-target"}, "type": "Opaque", "data": {"k": "dmFsdWU="}, "stringData": {"s": "t"}}),
        },
        Target {
            path: "/api/v1/namespaces/fuzz/pods",
            object: json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "fuzz-target", "labels": labels}, "spec": pod_spec}),
        },
        Target {
            path: "/api/v1/namespaces/fuzz/services",
            object: json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "fuzz-target"},
                "spec": {"selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]}}),
        },
        Target {
            path: "/apis/apps/v1/namespaces/fuzz/deployments",
            object: json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "fuzz-target"},
                "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
                    "template": {"metadata": {"labels": labels}, "spec": pod_spec}}}),
        },
        Target {
            path: "/apis/fuzz.kdeck.dev/v1/namespaces/fuzz/widgets",
            object: json!({"apiVersion": "fuzz.kdeck.dev/v1", "kind": "Widget", "metadata": {"name": "fuzz-target"}, "spec": {"size": 3, "color": "red", "parts": ["a", "b"]}}),
        },
    ]
}

const WIDGET_CRD: &str = r#"{"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
 "metadata": {"name": "widgets.fuzz.kdeck.dev"},
 "spec": {"group": "fuzz.kdeck.dev", "scope": "Namespaced", "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
  "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object", "properties": {
    "spec": {"type": "object", "properties": {"size": {"type": "integer", "maximum": 10}, "color": {"type": "string", "enum": ["red", "blue"]},
      "parts": {"type": "array", "items": {"type": "string"}}}}}}}}]}}"#;

/// One request: (method, path, content type).
fn requests(t: &Target) -> Vec<(&'static str, String, &'static str)> {
    let one = format!("{}/fuzz-target", t.path);
    let mut r = vec![
        ("POST", t.path.to_string(), "application/json"),
        ("POST", format!("{}?dryRun=All&fieldValidation=Strict", t.path), "application/json"),
        ("POST", t.path.to_string(), "application/yaml"),
        ("PUT", one.clone(), "application/json"),
        ("PATCH", one.clone(), "application/merge-patch+json"),
        ("PATCH", one.clone(), "application/json-patch+json"),
        ("PATCH", format!("{one}?fieldManager=fuzz&force=true"), "application/apply-patch+yaml"),
        ("PATCH", format!("{one}/status"), "application/merge-patch+json"),
    ];
    if !t.path.starts_with("/apis/fuzz.") {
        r.push(("PATCH", one.clone(), "application/strategic-merge-patch+json"));
        r.push(("POST", t.path.to_string(), "application/vnd.kubernetes.protobuf"));
        r.push(("PUT", one, "application/vnd.kubernetes.protobuf"));
    }
    r
}

/// A JSON patch made from a mutated object: operations on its fields, some odd.
fn json_patch(object: &Value, rng: &mut Rng) -> Vec<u8> {
    let mut all = Vec::new();
    pointers(object, String::new(), &mut all);
    let ops: Vec<Value> = (0..1 + rng.below(3))
        .map(|_| {
            let path = all[rng.below(all.len())].clone();
            match rng.below(6) {
                0 => json!({"op": "remove", "path": path}),
                1 => json!({"op": "add", "path": format!("{path}/-"), "value": odd_value(rng)}),
                2 => json!({"op": "replace", "path": path, "value": odd_value(rng)}),
                3 => json!({"op": "move", "from": path, "path": "/metadata/name"}),
                4 => json!({"op": "test", "path": path, "value": null}),
                _ => json!({"op": "copy", "from": "/", "path": path}),
            }
        })
        .collect();
    let body = serde_json::to_vec(&ops).unwrap();
    if rng.below(3) == 0 { mutate(&body, rng) } else { body }
}

struct Sent {
    method: &'static str,
    path: String,
    content_type: &'static str,
    body: Vec<u8>,
}

impl std::fmt::Display for Sent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = String::from_utf8_lossy(&self.body[..self.body.len().min(300)]).into_owned();
        write!(f, "{} {} ({}, {} bytes): {shown:?}", self.method, self.path, self.content_type, self.body.len())
    }
}

async fn send(client: &kube::Client, sent: &Sent) -> Result<(u16, Vec<u8>), String> {
    let request = http::Request::builder()
        .method(sent.method)
        .uri(&sent.path)
        .header("content-type", sent.content_type)
        .header("accept", "application/json")
        .body(sent.body.clone())
        .unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(20), client.send(request.map(kube::client::Body::from)))
        .await
        .map_err(|_| "no answer within 20 s".to_string())?
        .map_err(|e| format!("the connection failed: {e}"))?;
    let status = answer.status().as_u16();
    let body = tokio::time::timeout(Duration::from_secs(20), http_body_util::BodyExt::collect(answer.into_body()))
        .await
        .map_err(|_| "the body did not end within 20 s".to_string())?
        .map_err(|e| format!("the body broke off: {e}"))?
        .to_bytes()
        .to_vec();
    Ok((status, body))
}

#[tokio::test]
async fn malformed_bodies_at_every_write_verb_get_status_answers_and_the_server_carries_on() {
    let seed: u64 = std::env::var("KDECK_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x6b64_6563_6b21);
    let rounds: usize = std::env::var("KDECK_FUZZ_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(12);
    let sandbox = TestSandbox::start("fuzz");
    let client = sandbox.client().await;

    let setup = [
        ("/api/v1/namespaces", json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fuzz"}}).to_string()),
        ("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", WIDGET_CRD.to_string()),
    ];
    for (path, body) in setup {
        let sent = Sent { method: "POST", path: path.into(), content_type: "application/json", body: body.into_bytes() };
        let (status, answer) = send(&client, &sent).await.unwrap();
        assert_eq!(status, 201, "{sent}: {}", String::from_utf8_lossy(&answer));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let targets = targets();
    let mut protobuf = Vec::new();
    for t in &targets {
        let sent = Sent { method: "POST", path: t.path.into(), content_type: "application/json", body: serde_json::to_vec(&t.object).unwrap() };
        let (status, answer) = send(&client, &sent).await.unwrap();
        assert_eq!(status, 201, "{sent}: {}", String::from_utf8_lossy(&answer));
        // The same object as protobuf, to mutate for the protobuf requests.
        let get = http::Request::builder()
            .uri(format!("{}/fuzz-target", t.path))
            .header("accept", "application/vnd.kubernetes.protobuf")
            .body(Vec::new())
            .unwrap()
            .map(kube::client::Body::from);
        let answer = client.send(get).await.unwrap();
        protobuf.push(http_body_util::BodyExt::collect(answer.into_body()).await.unwrap().to_bytes().to_vec());
    }

    let mut rng = Rng(seed | 1);
    let (mut sent_count, mut refused, mut accepted) = (0usize, 0usize, 0usize);
    let mut failures = Vec::new();
    let nasties = nasty();
    for _ in 0..rounds {
        for (t, proto) in targets.iter().zip(&protobuf) {
            for (method, path, content_type) in requests(t) {
                let valid = serde_json::to_vec(&t.object).unwrap();
                let body = match content_type {
                    "application/json-patch+json" => json_patch(&t.object, &mut rng),
                    "application/vnd.kubernetes.protobuf" => mutate(proto, &mut rng),
                    "application/yaml" | "application/apply-patch+yaml" if rng.below(2) == 0 => {
                        let yaml = serde_json::from_slice::<Value>(&mutate(&valid, &mut rng)).map(|v| serde_yaml_text(&v));
                        yaml.unwrap_or_else(|_| mutate(&valid, &mut rng))
                    }
                    _ => mutate(&valid, &mut rng),
                };
                // Every fifth request, one of the nasty bodies, in turn.
                let body = if sent_count % 5 == 0 { nasties[(sent_count / 5) % nasties.len()].1.clone() } else { body };
                let sent = Sent { method, path, content_type, body };
                sent_count += 1;
                match send(&client, &sent).await {
                    Ok((status, answer)) if status >= 500 => failures.push(format!("{status} for {sent}: {}", String::from_utf8_lossy(&answer))),
                    Ok((status, answer)) if status >= 400 => {
                        refused += 1;
                        let doc: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
                        if doc["kind"] != "Status" || doc["code"] != status || doc["message"].as_str().is_none_or(str::is_empty) {
                            failures.push(format!("{status} without a Status naming the problem for {sent}: {}", String::from_utf8_lossy(&answer)));
                        }
                    }
                    Ok(_) => accepted += 1,
                    Err(why) => failures.push(format!("{why} for {sent}")),
                }
            }
        }
    }
    assert!(failures.is_empty(), "seed {seed}: {} of {sent_count} requests failed:\n{}", failures.len(), failures.join("\n"));
    assert!(refused > sent_count / 2, "most mutations are refused ({refused} of {sent_count}; {accepted} accepted)");

    // Still serving: every stored object of every resource reads back as JSON.
    for t in &targets {
        let sent = Sent { method: "GET", path: t.path.into(), content_type: "application/json", body: Vec::new() };
        let (status, answer) = send(&client, &sent).await.unwrap();
        assert_eq!(status, 200, "{sent}: {}", String::from_utf8_lossy(&answer));
        let list: Value = serde_json::from_slice(&answer).unwrap();
        assert!(list["items"].as_array().is_some_and(|i| !i.is_empty()), "{list}");
    }
    // And the controllers still run: a new Deployment gets its ready pod, its Service an endpoint.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "fuzz");
    let labels = json!({"app": "after"});
    let fresh: Deployment = serde_json::from_value(json!({"metadata": {"name": "after"}, "spec": {"replicas": 1, "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]}}}}))
    .unwrap();
    deployments.create(&PostParams::default(), &fresh).await.unwrap();
    let service = Sent {
        method: "POST",
        path: "/api/v1/namespaces/fuzz/services".into(),
        content_type: "application/json",
        body: json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "after"}, "spec": {"selector": labels, "ports": [{"port": 80}]}})
            .to_string()
            .into_bytes(),
    };
    assert_eq!(send(&client, &service).await.unwrap().0, 201);
    wait_object(&deployments, "after", "one ready replica", |d: &Deployment| d.status.as_ref().and_then(|s| s.ready_replicas) == Some(1)).await;
    let endpoints: Api<Endpoints> = Api::namespaced(client, "fuzz");
    wait_object(&endpoints, "after", "a ready address", |e: &Endpoints| {
        e.subsets.as_ref().is_some_and(|s| s.iter().any(|s| s.addresses.as_ref().is_some_and(|a| !a.is_empty())))
    })
    .await;
}

/// `v` as YAML text (block style, as people write it).
fn serde_yaml_text(v: &Value) -> Vec<u8> {
    fn write(v: &Value, indent: usize, out: &mut String) {
        let pad = "  ".repeat(indent);
        match v {
            Value::Object(map) if !map.is_empty() => {
                for (k, child) in map {
                    match child {
                        Value::Object(m) if !m.is_empty() => {
                            out.push_str(&format!("{pad}{}:\n", serde_json::to_string(k).unwrap()));
                            write(child, indent + 1, out);
                        }
                        Value::Array(a) if !a.is_empty() => {
                            out.push_str(&format!("{pad}{}:\n", serde_json::to_string(k).unwrap()));
                            write(child, indent + 1, out);
                        }
                        _ => out.push_str(&format!("{pad}{}: {}\n", serde_json::to_string(k).unwrap(), child)),
                    }
                }
            }
            Value::Array(items) if !items.is_empty() => {
                for item in items {
                    out.push_str(&format!("{pad}- {}\n", item));
                }
            }
            other => out.push_str(&format!("{pad}{other}\n")),
        }
    }
    let mut out = String::new();
    write(v, 0, &mut out);
    out.into_bytes()
}
