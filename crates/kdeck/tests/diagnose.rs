//! `kdeck diagnose` end to end: the labelled broken scenarios (recall and
//! precision of root causes), the demo's text, JSON and SARIF reports and exit
//! codes, a fix that makes the problem go, and secrets that never show.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::TestSandbox;
use common::model::{self, StandInModel};
use common::project::{stderr, stdout};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

/// The root causes each namespace's annotation declares, as "RULE KIND/NAME".
async fn expected(sandbox: &TestSandbox) -> BTreeMap<String, BTreeSet<String>> {
    let namespaces: Api<Namespace> = Api::all(sandbox.client().await);
    let mut out = BTreeMap::new();
    for ns in namespaces.list(&ListParams::default()).await.unwrap() {
        let annotations = ns.metadata.annotations.unwrap_or_default();
        if let Some(label) = annotations.get("sandbox.kdeck.dev/expected-root-causes") {
            let causes = label.split(';').map(str::trim).filter(|c| !c.is_empty()).map(str::to_string).collect();
            out.insert(ns.metadata.name.unwrap(), causes);
        }
    }
    out
}

fn diagnose_json(sandbox: &TestSandbox, args: &[&str]) -> Value {
    let out = sandbox.run(&[&["diagnose", "-o", "json", "--fail-on", "never"], args].concat());
    assert!(out.status.success(), "diagnose failed: {}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(&out)))
}

/// The root causes reported, by namespace, as "RULE KIND/NAME".
fn found(report: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for p in report["problems"].as_array().unwrap() {
        let cause = format!("{} {}", p["rootCause"]["rule"].as_str().unwrap(), p["rootCause"]["object"].as_str().unwrap());
        out.entry(p["namespace"].as_str().unwrap().to_string()).or_default().insert(cause);
    }
    out
}

#[tokio::test]
async fn labelled_broken_scenarios_are_diagnosed_with_full_recall_and_no_false_alarm() {
    let sandbox = TestSandbox::start_seeded("broken", "broken:all");
    let seeded = sandbox.run(&["sandbox", "seed", "demo", "--name", "broken"]);
    assert!(seeded.status.success(), "{}", stderr(&seeded));
    let expected = expected(&sandbox).await;
    assert!(expected.len() >= 20, "the labelled set: {expected:?}");
    // The scenarios break on their own schedule (a crash after a second, a back-off):
    // diagnose until every expected cause shows, or a minute has passed.
    let started = Instant::now();
    let (report, found) = loop {
        let report = diagnose_json(&sandbox, &["-A"]);
        let found = found(&report);
        let all_there = expected.iter().all(|(ns, causes)| causes.iter().all(|c| found.get(ns).is_some_and(|f| f.contains(c))));
        if all_there || started.elapsed() > Duration::from_secs(60) {
            break (report, found);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    let mut table = String::from("| scenario | expected | found | missed | false alarms |\n|---|---|---|---|---|\n");
    let (mut expected_total, mut hits, mut reported, mut false_alarms) = (0, 0, 0, Vec::new());
    for (ns, causes) in &expected {
        let got = found.get(ns).cloned().unwrap_or_default();
        let missed: Vec<&String> = causes.difference(&got).collect();
        let extra: Vec<&String> = got.difference(causes).collect();
        expected_total += causes.len();
        hits += causes.len() - missed.len();
        reported += got.len();
        false_alarms.extend(extra.iter().map(|e| format!("{ns}: {e}")));
        table.push_str(&format!("| {ns} | {} | {} | {} | {} |\n", causes.len(), got.len(), missed.len(), extra.len()));
    }
    // Namespaces without a label (default, kube-system) must be quiet too.
    for (ns, got) in found.iter().filter(|(ns, _)| !expected.contains_key(*ns)) {
        reported += got.len();
        false_alarms.extend(got.iter().map(|e| format!("{ns}: {e}")));
    }
    let recall = hits as f64 / expected_total as f64;
    let precision = if reported == 0 { 1.0 } else { hits as f64 / reported as f64 };
    println!("{table}\nrecall {:.1} % ({hits}/{expected_total}), precision {:.1} % ({hits}/{reported})", recall * 100.0, precision * 100.0);
    assert_eq!(recall, 1.0, "every labelled root cause is found:\n{table}\n{}", serde_json::to_string_pretty(&report["problems"]).unwrap());
    assert!(precision >= 0.95, "precision {precision}: false alarms {false_alarms:?}");
    assert!(found.get("broken-healthy-lookalikes").is_none_or(BTreeSet::is_empty), "healthy look-alikes raise nothing: {false_alarms:?}");
    // Each problem carries its evidence and a fix.
    for p in report["problems"].as_array().unwrap() {
        assert!(!p["fix"].as_array().unwrap().is_empty(), "a fix for {p}");
        assert!(!p["evidence"].as_array().unwrap().is_empty() || !p["chain"].as_array().unwrap().is_empty(), "evidence for {p}");
    }
}

#[tokio::test]
async fn the_demo_report_names_root_causes_with_chain_evidence_and_fix_in_text_json_and_sarif() {
    let sandbox = TestSandbox::start_seeded("diag", "demo");
    // Wait until the api has crashed (its log is the evidence).
    let started = Instant::now();
    let text = loop {
        let out = sandbox.run(&["diagnose", "-n", "demo"]);
        let text = stdout(&out);
        if text.contains("localhost-dependency") || text.contains("crash-loops because") || started.elapsed() > Duration::from_secs(60) {
            assert_eq!(out.status.code(), Some(1), "errors found: exit 1\n{text}{}", stderr(&out));
            break text;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    // Root cause first, then the chain from the Service down to the ConfigMap, the evidence, the fix.
    let block: Vec<&str> = text.split("\n\n").filter(|b| b.contains("configmap/api-config")).collect();
    let block = block.first().unwrap_or_else(|| panic!("a block about configmap/api-config:\n{text}"));
    assert!(
        block.starts_with("ERROR configmap/api-config -n demo: container api crash-loops because ConfigMap api-config sets DATABASE_URL to localhost"),
        "{block}"
    );
    // Between two crashes a pod of the loop may be up for a moment: 0/2 or 1/2.
    assert!(block.contains("service/api (") && block.contains("→ deploy/api (") && block.contains("/2 available) → pod/api-"), "{block}");
    assert!(block.contains("→ configmap/api-config (DATABASE_URL points at localhost)"), "{block}");
    assert!(block.contains("FATAL: could not connect to the database at localhost:5432"), "the log line: {block}");
    assert!(block.contains("Service postgres (postgres.demo:5432)"), "{block}");
    assert!(block.contains("fix:      kubectl -n demo edit configmap api-config"), "{block}");
    assert!(text.contains("ERROR service/frontend -n demo: Service frontend selects app=frontend, which no pod or workload has"), "{text}");
    assert!(text.contains("ERROR secret/smtp-credentials -n demo"), "{text}");
    assert!(text.contains("ERROR deploy/worker -n demo: image \"registry.invalid/demo/worker:2.1\""), "{text}");
    assert!(text.contains("healthy in namespace demo:"), "healthy objects in one line: {text}");

    // JSON: the stable shape.
    let report = diagnose_json(&sandbox, &["-n", "demo"]);
    let problems = report["problems"].as_array().unwrap();
    assert_eq!(report["summary"]["errors"], problems.len());
    let api = problems.iter().find(|p| p["rootCause"]["object"] == "configmap/api-config").unwrap();
    for key in ["id", "severity", "namespace", "rootCause", "chain", "evidence", "fix", "affected", "count"] {
        assert!(api.get(key).is_some(), "{key} in {api}");
    }
    assert_eq!(api["id"], "localhost-dependency/demo/configmap/api-config");
    assert_eq!(api["count"], 2, "both api pods");
    assert!(api["evidence"].as_array().unwrap().iter().any(|e| e["kind"] == "log"), "{api}");

    // SARIF 2.1.0: one result per problem, located by namespace/kind/name.
    let out = sandbox.run(&["diagnose", "-n", "demo", "-o", "sarif"]);
    assert_eq!(out.status.code(), Some(1));
    let sarif: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), problems.len());
    let located: Vec<&str> = results.iter().map(|r| r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"].as_str().unwrap()).collect();
    assert!(located.contains(&"demo/configmap/api-config") && located.contains(&"demo/service/frontend"), "{located:?}");
    let rules: Vec<&str> = sarif["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert!(results.iter().all(|r| rules.contains(&r["ruleId"].as_str().unwrap())));

    // A target narrows the report to what it depends on; --fail-on never exits 0.
    let narrowed = diagnose_json(&sandbox, &["-n", "demo", "deploy/api"]);
    let ids: Vec<&str> = narrowed["problems"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["localhost-dependency/demo/configmap/api-config"]);
    let labelled = diagnose_json(&sandbox, &["-n", "demo", "-l", "app=worker"]);
    let ids: Vec<&str> = labelled["problems"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["image-pull/demo/deploy/worker"], "-l keeps the problems of labelled objects");
    let bad = sandbox.run(&["diagnose", "-n", "demo", "-l", "app in (x"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    let missing = sandbox.run(&["diagnose", "-n", "demo", "deploy/apj"]);
    assert_eq!(missing.status.code(), Some(3), "{}", stderr(&missing));
    assert!(stderr(&missing).contains("Deployment \"apj\" not found in namespace demo") && stderr(&missing).contains("deploy/api"), "{}", stderr(&missing));
    let bad = sandbox.run(&["diagnose", "-n", "demo", "wat"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("invalid target \"wat\""), "{}", stderr(&bad));

    // The fix the report gives works: point DATABASE_URL at the Service, restart, and the problem is gone.
    let client = sandbox.client().await;
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "demo");
    let patch = json!({"data": {"DATABASE_URL": "postgres://postgres.demo:5432/app"}});
    configmaps.patch("api-config", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    let pods: Api<Pod> = Api::namespaced(client, "demo");
    pods.delete_collection(&DeleteParams::default(), &ListParams::default().labels("app=api")).await.unwrap();
    let started = Instant::now();
    loop {
        let report = diagnose_json(&sandbox, &["-n", "demo", "deploy/api"]);
        if report["problems"].as_array().unwrap().is_empty() {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the api still has problems after the fix: {report}");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let out = sandbox.run(&["diagnose", "-n", "demo", "deploy/api"]);
    assert_eq!(out.status.code(), Some(0), "no problem: exit 0; {}", stdout(&out));
    assert!(stdout(&out).contains("no problems found in namespace demo"), "{}", stdout(&out));
}

// Two threads: the stand-in model serves while the test waits on kdeck.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_values_never_appear_in_the_report() {
    let sandbox = TestSandbox::start("secrets");
    let client = sandbox.client().await;
    let canary = "canary-Zq8vXw3T";
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "shop"}})).unwrap()).await.unwrap();
    let objects = [
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "shop"}, "stringData": {"password": canary}}),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "postgres", "namespace": "shop"}, "spec": {"selector": {"app": "pg"}, "ports": [{"port": 5432}]}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "api-config", "namespace": "shop"},
               "data": {"DATABASE_URL": format!("postgres://app:{canary}@localhost:5432/app")}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "namespace": "shop"}, "spec": {
            "replicas": 1, "selector": {"matchLabels": {"app": "api"}},
            "template": {"metadata": {"labels": {"app": "api"}, "annotations": {
                "sandbox.kdeck.dev/run-seconds": "1", "sandbox.kdeck.dev/exit-code": "1", "sandbox.kdeck.dev/backoff-seconds": "1",
                "sandbox.kdeck.dev/crash-log": format!("auth failed: password {canary} rejected; Authorization: Bearer {canary}x")}},
              "spec": {"containers": [{"name": "api", "image": "example/api:1", "envFrom": [{"configMapRef": {"name": "api-config"}}],
                "env": [{"name": "API_TOKEN", "value": format!("sk-live-{canary}")}]}]}}}}),
    ];
    for obj in objects {
        let resource = match obj["kind"].as_str().unwrap() {
            "Deployment" => kube::api::ApiResource::from_gvk_with_plural(&kube::core::GroupVersionKind::gvk("apps", "v1", "Deployment"), "deployments"),
            kind => kube::api::ApiResource::from_gvk_with_plural(&kube::core::GroupVersionKind::gvk("", "v1", kind), &format!("{}s", kind.to_lowercase())),
        };
        let api: Api<kube::api::DynamicObject> = Api::namespaced_with(sandbox.client().await, "shop", &resource);
        api.create(&PostParams::default(), &serde_json::from_value(obj).unwrap()).await.unwrap();
    }
    let started = Instant::now();
    let text = loop {
        let text = stdout(&sandbox.run(&["diagnose", "-n", "shop"]));
        if text.contains("auth failed") || started.elapsed() > Duration::from_secs(60) {
            break text;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    assert!(text.contains("auth failed: password ****** rejected"), "the log line, masked: {text}");
    assert!(text.contains("postgres://app:******@localhost:5432/app"), "the URL, its password masked: {text}");
    for format in ["text", "json", "sarif"] {
        let out = sandbox.run(&["diagnose", "-n", "shop", "-o", format]);
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert!(!all.contains(canary), "-o {format} shows the secret: {all}");
    }

    // --explain: a stand-in OpenAI-compatible server records what it is sent.
    let model = explaining_model().await;
    // Run until the api's crash shows (between two crashes its pod may look fine).
    let diagnose_with = |base_url: &str, flags: &[&str]| {
        let started = Instant::now();
        loop {
            let mut cmd = sandbox.kdeck();
            cmd.args(["diagnose", "-n", "shop"])
                .args(flags)
                .env("KDECK_LLM_PROVIDER", "openai")
                .env("OPENAI_BASE_URL", base_url)
                .env("OPENAI_API_KEY", "test-key-1234")
                .env("KDECK_LLM_MODEL", "stand-in-1");
            let out = cmd.output().unwrap();
            if stdout(&out).contains("ERROR configmap/api-config") || started.elapsed() > Duration::from_secs(30) {
                return out;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    };
    let diagnose_with_model = |base_url: &str, explain: bool| diagnose_with(base_url, if explain { &["--explain"][..] } else { &[] });
    diagnose_with_model(&model.url, false);
    assert_eq!(model.requests().len(), 0, "no call to a model without --explain, configured or not");
    let out = diagnose_with_model(&model.url, true);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "the problems decide the exit code: {text}{}", stderr(&out));
    assert!(text.contains("model:    (stand-in-1, worded by a model, not checked by kdeck)"), "{text}");
    assert!(text.contains("The api cannot reach its database"), "the model's words under the problem: {text}");
    let requests = model.requests();
    assert!(!requests.is_empty(), "the model was asked");
    assert!(requests.iter().any(|r| r.contains("auth failed: password ****** rejected")), "the redacted evidence is what is sent: {requests:?}");
    for request in &requests {
        assert!(request.contains("authorization: Bearer test-key-1234"), "the key goes in the header: {request}");
        assert!(!request.contains(canary), "a secret reached the model: {request}");
    }
    assert!(!text.contains(canary));
    // --anonymize: no object or namespace name reaches the model; its answer gets them back.
    let out = diagnose_with(&model.url, &["--explain", "--anonymize"]);
    let text = stdout(&out);
    let all = model.requests();
    let sent: Vec<&String> = all.iter().filter(|r| r.contains("OBJ1")).collect();
    assert!(!sent.is_empty());
    for request in &sent {
        let body = request.split("\r\n\r\n").nth(1).unwrap_or_default();
        for name in ["api-config", "postgres", "\\\"shop\\\"", "deploy/api"] {
            assert!(!body.contains(name), "{name} reached the model under --anonymize: {body}");
        }
    }
    assert!(text.contains(" in shop.") && !text.contains("OBJ1") && !text.contains("NS1"), "masks restored in the answer: {text}");
    let out = sandbox.run(&["diagnose", "-n", "shop", "--anonymize"]);
    assert_eq!(out.status.code(), Some(2), "--anonymize needs --explain: {}", stderr(&out));
    // A model endpoint that is down: the report still prints, with a note.
    let out = diagnose_with_model("http://127.0.0.1:9/v1", true);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("ERROR configmap/api-config -n shop") && stdout(&out).contains("note: the model could not explain"), "{}", stdout(&out));
}

/// The stand-in model of `--explain`: one fixed text, with the masks it was sent
/// (--anonymize) in it, to be restored.
async fn explaining_model() -> StandInModel {
    StandInModel::start(|body| {
        let masked = if body.contains("OBJ1") { " Look at OBJ1 in NS1." } else { "" };
        model::text(&format!("The api cannot reach its database because its settings point at itself.\nPoint them at the Service.{masked}"))
    })
    .await
}

#[tokio::test]
async fn home_ops_reports_its_declared_failures_and_leaves_its_healthy_releases_alone() {
    let sandbox = TestSandbox::start_seeded("homeops", "home-ops");
    let wanted = [
        ("observability", "helmrelease-failed helmrelease/loki"),
        ("storage", "externalsecret-error externalsecret/volsync-restic"),
        ("default", "unschedulable pod/gpu-job-pending"),
    ];
    let started = Instant::now();
    let report = loop {
        let report = diagnose_json(&sandbox, &["-A"]);
        let found = found(&report);
        let evicted = found.get("observability").is_some_and(|f| f.contains("evicted node/homeops-control-plane"));
        if evicted && wanted.iter().all(|(ns, cause)| found.get(*ns).is_some_and(|f| f.contains(*cause))) {
            break report;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "home-ops's failures: {}", serde_json::to_string_pretty(&report["problems"]).unwrap());
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let problems = report["problems"].as_array().unwrap();
    let loki = problems.iter().find(|p| p["rootCause"]["object"] == "helmrelease/loki").unwrap();
    assert!(loki["evidence"][0]["text"].as_str().unwrap().contains("missing required field \"selector\""), "Helm's message: {loki}");
    assert!(loki["fix"][0].as_str().unwrap().contains("kdeck hr-restart loki -n observability --reset"), "{loki}");
    // The healthy releases and secrets raise nothing, and are counted as healthy.
    for p in problems {
        for healthy in ["helmrelease/gatus", "helmrelease/grafana", "externalsecret/gatus", "externalsecret/grafana", "deploy/gatus"] {
            assert!(!p.to_string().contains(&format!("\"{healthy}\"")), "{healthy} is healthy: {p}");
        }
    }
    assert!(report["healthy"]["helmreleases"].as_u64().unwrap() >= 2, "{}", report["healthy"]);
    let out = sandbox.run(&["diagnose", "-n", "observability", "hr/gatus"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("no problems found in namespace observability"), "{}", stdout(&out));
    // Warnings alone pass by default and fail with --fail-on warning.
    let evicted = sandbox.run(&["diagnose", "-n", "observability", "--fail-on", "warning", "pod/grafana-image-renderer-evict"]);
    assert_eq!(evicted.status.code(), Some(1), "{}", stdout(&evicted));
    assert!(stdout(&evicted).starts_with("WARNING node/"), "{}", stdout(&evicted));
    let evicted = sandbox.run(&["diagnose", "-n", "observability", "pod/grafana-image-renderer-evict"]);
    assert_eq!(evicted.status.code(), Some(0), "{}", stdout(&evicted));
    // What may not be read is named under the report, which still says what it can.
    let faults = sandbox.run(&["sandbox", "faults", "403=1,only=secrets,verbs=list", "--name", "homeops"]);
    assert!(faults.status.success(), "{}", stderr(&faults));
    let out = sandbox.run(&["diagnose", "-n", "observability"]);
    assert_eq!(out.status.code(), Some(1), "loki still fails: {}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("helmrelease/loki"), "{}", stdout(&out));
    assert!(stdout(&out).contains("could not read Secret (forbidden") && stdout(&out).contains("the diagnosis may be incomplete there"), "{}", stdout(&out));
}
