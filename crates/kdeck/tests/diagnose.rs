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

/// The problems of one namespace, once `done` holds for them (or after a minute).
async fn problems_until(sandbox: &TestSandbox, ns: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let problems = diagnose_json(sandbox, &["-n", ns])["problems"].as_array().unwrap().clone();
        if done(&problems) || started.elapsed() > Duration::from_secs(60) {
            return problems;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Every evidence text of a problem, one a line.
fn evidence(problem: &Value) -> String {
    problem["evidence"].as_array().unwrap().iter().map(|e| format!("{} {}: {}\n", e["kind"], e["object"], e["text"].as_str().unwrap())).collect()
}

fn seed(sandbox: &TestSandbox, name: &str, scenarios: &[&str]) {
    for scenario in scenarios {
        let out = sandbox.run(&["sandbox", "seed", scenario, "--name", name]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
}

#[tokio::test]
async fn usage_from_metrics_shows_memory_near_its_limit_cpu_throttled_requests_far_off_and_the_pace_of_oom_kills() {
    let sandbox = TestSandbox::start_seeded("usage", "broken:memory-leak");
    seed(&sandbox, "usage", &["broken:memory-near-limit", "broken:throttled", "broken:requests-far"]);
    let near = problems_until(&sandbox, "broken-memory-near-limit", |p| !p.is_empty()).await;
    assert_eq!(near.len(), 1, "{near:?}");
    assert_eq!((near[0]["rootCause"]["rule"].as_str(), near[0]["severity"].as_str()), (Some("memory-near-limit"), Some("warning")));
    let seen = evidence(&near[0]);
    assert!(seen.contains("memory 118Mi of its 128Mi limit (92 %)") && seen.contains("metrics.k8s.io keeps no history"), "{seen}");
    assert!(near[0]["fix"].to_string().contains("kdeck rightsize deploy/cache -n broken-memory-near-limit"), "{}", near[0]);
    let throttled = problems_until(&sandbox, "broken-throttled", |p| !p.is_empty()).await;
    assert_eq!(throttled[0]["rootCause"]["summary"], "container encoder uses 500m of its 500m CPU limit: it is throttled, and slows down");
    assert!(throttled[0]["fix"][0].as_str().unwrap().contains("set resources deploy/encoder -c encoder --limits=cpu="), "{}", throttled[0]);
    let far = problems_until(&sandbox, "broken-requests-far", |p| !p.is_empty()).await;
    assert_eq!(far[0]["rootCause"]["object"], "deploy/reports");
    assert!(evidence(&far[0]).contains("cpu: requests 1000m, uses 20m; memory: requests 1024Mi, uses 100Mi"), "{}", far[0]);
    assert!(far[0]["fix"][0].as_str().unwrap().starts_with("kdeck rightsize deploy/reports -n broken-requests-far"), "{}", far[0]);
    // Warnings pass by default and fail with --fail-on warning.
    assert_eq!(sandbox.run(&["diagnose", "-n", "broken-throttled"]).status.code(), Some(0));
    assert_eq!(sandbox.run(&["diagnose", "-n", "broken-throttled", "--fail-on", "warning"]).status.code(), Some(1));
    // A container killed for memory again and again: between two kills, what it uses and the last run's pace.
    let paced = "into this run; its last run was killed at the limit after";
    let leak = problems_until(&sandbox, "broken-memory-leak", |p| p.iter().any(|p| evidence(p).contains(paced))).await;
    assert_eq!(leak.len(), 1, "one problem: {leak:?}");
    assert_eq!(leak[0]["id"], "oom-killed/broken-memory-leak/deploy/indexer");
    let seen = evidence(&leak[0]);
    assert!(seen.contains(paced) && seen.contains("of its 128Mi limit"), "{seen}");
}

#[tokio::test]
async fn without_metrics_usage_is_not_checked_and_the_report_says_so_once() {
    let sandbox = TestSandbox::new("nometrics");
    let out = sandbox.run(&["sandbox", "start", "--detach", "--name", "nometrics", "--no-metrics", "--seed", "broken:memory-near-limit"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let note = "note: metrics.k8s.io is not served (no metrics-server): usage was not checked";
    let started = Instant::now();
    let out = loop {
        let out = sandbox.run(&["diagnose", "-A"]);
        if stdout(&out).contains(note) || started.elapsed() > Duration::from_secs(30) {
            break out;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "not an error: {text}{}", stderr(&out));
    assert_eq!(text.matches(note).count(), 1, "said once: {text}");
    assert!(!text.contains("WARNING") && !text.contains("could not read"), "{text}");
    let report = diagnose_json(&sandbox, &["-n", "broken-memory-near-limit"]);
    assert_eq!(report["notes"].as_array().unwrap().len(), 1, "{report}");
    assert!(report["problems"].as_array().unwrap().is_empty() && report["unreadable"].as_array().unwrap().is_empty(), "{report}");
}

#[tokio::test]
async fn a_networkpolicy_keeping_a_client_from_its_service_is_the_root_cause_with_the_rule_to_add() {
    let sandbox = TestSandbox::start_seeded("netpol", "broken:networkpolicy");
    seed(&sandbox, "netpol", &["broken:networkpolicy-deny", "broken:networkpolicy-egress"]);
    // An allow for other pods: the chain from the client to the policy, and the rule that lets it through.
    let ns = "broken-networkpolicy";
    problems_until(&sandbox, ns, |p| !p.is_empty()).await;
    let text = stdout(&sandbox.run(&["diagnose", "-n", ns]));
    assert!(
        text.starts_with("ERROR networkpolicy/api-ingress -n broken-networkpolicy: NetworkPolicy api-ingress (namespace broken-networkpolicy) admits no traffic from deploy/web to Service api.broken-networkpolicy, which container web reads as API_URL"),
        "{text}"
    );
    assert!(text.contains("→ container web (API_URL = http://api/v1) → service/api (ready endpoints, e.g. pod/api-"), "{text}");
    assert!(text.contains("→ networkpolicy/api-ingress (admits ingress only from pods app=frontend of its namespace on port 8080)"), "{text}");
    let rule = r#"{"from":[{"podSelector":{"matchLabels":{"app":"web"}}}],"ports":[{"port":8080}]}"#;
    assert!(
        text.contains(&format!(
            "fix:      kubectl -n {ns} edit networkpolicy api-ingress   # add to spec.ingress a rule for deploy/web (pods app=web): {rule}"
        )),
        "{text}"
    );
    assert!(!text.contains("deploy/frontend"), "the frontend is admitted: {text}");
    // A default deny: the Ingress and the worker crash-looping on it are one problem.
    let deny = problems_until(&sandbox, "broken-networkpolicy-deny", |p| {
        p.iter().any(|p| p["affected"].to_string().contains("ingress/shop") && p["chain"].to_string().contains("i/o timeout"))
    })
    .await;
    assert_eq!(deny.len(), 1, "{deny:?}");
    assert_eq!(deny[0]["rootCause"]["object"], "networkpolicy/default-deny");
    assert!(deny[0]["chain"].to_string().contains("i/o timeout"), "the crash is a link: {}", deny[0]);
    assert!(deny[0]["fix"].to_string().contains("allow-worker-to-shop"), "{}", deny[0]);
    // The client's own egress policy.
    let egress = problems_until(&sandbox, "broken-networkpolicy-egress", |p| !p.is_empty()).await;
    assert_eq!(egress.len(), 1, "the database is allowed: {egress:?}");
    assert!(egress[0]["rootCause"]["summary"].as_str().unwrap().contains("lets deploy/worker out to no pod of Service cache.broken-networkpolicy-egress"));
    assert!(evidence(&egress[0]).contains("lets egress out to pods app=db of its namespace on port 5432"), "{}", egress[0]);
    // The rule the report gives lets the client through: the problem goes.
    let policies: Api<k8s_openapi::api::networking::v1::NetworkPolicy> = Api::namespaced(sandbox.client().await, ns);
    let frontend: Value = serde_json::from_str(r#"{"from":[{"podSelector":{"matchLabels":{"app":"frontend"}}}],"ports":[{"port":8080}]}"#).unwrap();
    let patch = json!({"spec": {"ingress": [frontend, serde_json::from_str::<Value>(rule).unwrap()]}});
    policies.patch("api-ingress", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    let out = sandbox.run(&["diagnose", "-n", ns]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("no problems found in namespace broken-networkpolicy"), "{}", stdout(&out));
}

#[tokio::test]
async fn a_release_waiting_on_a_failed_dependency_is_one_problem_rooted_at_the_dependency() {
    let sandbox = TestSandbox::start_seeded("hrdeps", "broken:helmrelease-depends-on");
    let ns = "broken-helmrelease-depends-on";
    let problems = problems_until(&sandbox, ns, |p| p.iter().any(|p| p["chain"][0]["object"] == "helmrelease/app")).await;
    assert_eq!(problems.len(), 1, "{problems:?}");
    let p = &problems[0];
    assert_eq!(p["id"], "helmrelease-failed/broken-helmrelease-depends-on/helmrelease/db");
    assert_eq!(p["chain"][0], json!({"object": "helmrelease/app", "state": "DependencyNotReady, dependsOn helmrelease/db"}));
    assert_eq!(p["chain"][1]["object"], "helmrelease/db");
    assert!(p["chain"][1]["state"].as_str().unwrap().starts_with("not Ready: InstallFailed"), "{p}");
    assert!(evidence(p).contains("Ready=False DependencyNotReady: dependency 'broken-helmrelease-depends-on/db' is not ready"), "{p}");
    assert!(p["fix"][0].as_str().unwrap().contains("kdeck hr-restart db -n broken-helmrelease-depends-on --reset"), "{p}");
    // The waiting release as a target narrows to that same problem.
    let narrowed = diagnose_json(&sandbox, &["-n", ns, "hr/app"]);
    assert_eq!(narrowed["problems"].as_array().unwrap().len(), 1, "{narrowed}");
    // Fix the dependency: it installs, the waiting release follows, and nothing is left.
    let releases: Api<kube::api::DynamicObject> = Api::namespaced_with(
        sandbox.client().await,
        ns,
        &kube::api::ApiResource::from_gvk_with_plural(&kube::core::GroupVersionKind::gvk("helm.toolkit.fluxcd.io", "v2", "HelmRelease"), "helmreleases"),
    );
    let patch = json!({"metadata": {"annotations": {"sandbox.kdeck.dev/helm-fail": null}}});
    releases.patch("db", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    let out = sandbox.run(&["hr-restart", "db", "-n", ns, "--reset"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let left = problems_until(&sandbox, ns, <[Value]>::is_empty).await;
    assert!(left.is_empty(), "the release follows its dependency: {left:?}");
    assert_eq!(diagnose_json(&sandbox, &["-n", ns])["healthy"]["helmreleases"], 2);
}

#[tokio::test]
async fn a_bare_pod_stopped_at_its_deadline_is_reported() {
    let sandbox = TestSandbox::start_seeded("deadline", "broken:pod-deadline");
    let problems = problems_until(&sandbox, "broken-pod-deadline", |p| !p.is_empty()).await;
    assert_eq!(problems.len(), 1, "{problems:?}");
    let p = &problems[0];
    assert_eq!(p["id"], "pod-deadline-exceeded/broken-pod-deadline/pod/report");
    let seen = evidence(p);
    assert!(seen.contains("Failed, reason DeadlineExceeded: Pod was active on the node longer than the specified deadline"), "{seen}");
    assert!(seen.contains("activeDeadlineSeconds: 2"), "{seen}");
    assert!(p["fix"][0].as_str().unwrap().contains("kubectl -n broken-pod-deadline delete pod report"), "{p}");
}

#[tokio::test]
async fn sarif_results_carry_the_file_and_line_of_objects_from_the_stack_render() {
    let sandbox = TestSandbox::start_seeded("located", "demo");
    let project = tempfile::tempdir().unwrap();
    std::fs::create_dir(project.path().join("k8s")).unwrap();
    std::fs::write(project.path().join("kdeck.yaml"), "stack:\n  deploy:\n    - manifests: [k8s/*.yaml]\n      namespace: demo\n").unwrap();
    let manifests = "# The front door.\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-settings}\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: frontend\nspec:\n  selector: {app: frontend}\n  ports: [{port: 80}]\n";
    std::fs::write(project.path().join("k8s/front.yaml"), manifests).unwrap();
    let sarif = |dir: &std::path::Path| -> Value {
        let out = sandbox.kdeck().current_dir(dir).args(["diagnose", "-n", "demo", "-o", "sarif"]).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        serde_json::from_str(&stdout(&out)).unwrap()
    };
    let result = |log: &Value, rule: &str| log["runs"][0]["results"].as_array().unwrap().iter().find(|r| r["ruleId"] == rule).cloned().unwrap();
    // From a project whose stack renders the Service: its file and line first, the cluster's name after.
    let log = sarif(project.path());
    let frontend = result(&log, "service-selects-nothing");
    assert_eq!(
        frontend["locations"][0]["physicalLocation"],
        json!({"artifactLocation": {"uri": "k8s/front.yaml", "uriBaseId": "SRCROOT"}, "region": {"startLine": 6}})
    );
    assert_eq!(frontend["locations"][1]["logicalLocations"][0]["fullyQualifiedName"], "demo/service/frontend");
    // An object the stack does not render: named only.
    let worker = result(&log, "image-pull");
    assert_eq!(worker["locations"].as_array().unwrap().len(), 1, "{worker}");
    assert!(worker["locations"][0]["physicalLocation"].is_null(), "{worker}");
    // A stack that does not render: a notification, and every result named only.
    std::fs::write(project.path().join("kdeck.yaml"), "stack:\n  deploy:\n    - manifests: [k8s/missing-*.yaml]\n").unwrap();
    let log = sarif(project.path());
    assert!(log["runs"][0]["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"].as_str().unwrap().contains("could not be rendered"), "{log}");
    assert!(log["runs"][0]["results"].as_array().unwrap().iter().all(|r| r["locations"][0]["physicalLocation"].is_null()));
    // Outside any project: as before.
    let elsewhere = tempfile::tempdir().unwrap();
    let log = sarif(elsewhere.path());
    assert!(log["runs"][0]["invocations"].is_null() && result(&log, "service-selects-nothing")["locations"].as_array().unwrap().len() == 1, "{log}");
}

/// A CronJob whose run is stuck under `concurrencyPolicy: Forbid`: its schedule fires,
/// no Job starts; the root cause is the Job that never finishes. The CronJob's last
/// run is put 20 minutes back through its status, as a cluster would have it.
#[tokio::test]
async fn a_cronjob_that_missed_its_schedule_behind_a_stuck_job_is_reported() {
    use k8s_openapi::api::batch::v1::{CronJob, Job};
    let sandbox = TestSandbox::start("cron-missed");
    let client = sandbox.client().await;
    let ns = "nightly";
    Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap()).await.unwrap();
    let cronjobs: Api<CronJob> = Api::namespaced(client.clone(), ns);
    let template = json!({"spec": {"template": {"metadata": {"annotations": {"sandbox.kdeck.dev/run-seconds": "100000"}},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "report", "image": "example/report:1.0"}]}}}});
    let cj: CronJob = serde_json::from_value(json!({"metadata": {"name": "report"},
        "spec": {"schedule": "*/5 * * * *", "concurrencyPolicy": "Forbid", "jobTemplate": template}}))
    .unwrap();
    let cj = cronjobs.create(&PostParams::default(), &cj).await.unwrap();
    let uid = cj.metadata.uid.clone().unwrap();
    let mut job = template.clone();
    job["metadata"] =
        json!({"name": "report-stuck", "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "report", "uid": uid, "controller": true}]});
    Api::<Job>::namespaced(client.clone(), ns).create(&PostParams::default(), &serde_json::from_value(job).unwrap()).await.unwrap();
    let last = k8s_openapi::jiff::Timestamp::now() - k8s_openapi::jiff::SignedDuration::from_mins(20);
    let status = json!({"status": {"lastScheduleTime": last.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()}});
    cronjobs.patch_status("report", &PatchParams::default(), &Patch::Merge(&status)).await.unwrap();

    let problems =
        problems_until(&sandbox, ns, |p| p.iter().any(|p| p["rootCause"]["rule"] == "cronjob-missed" && evidence(p).contains("JobAlreadyActive"))).await;
    let p = problems.iter().find(|p| p["rootCause"]["rule"] == "cronjob-missed").unwrap_or_else(|| panic!("{problems:?}"));
    assert_eq!(p["id"], "cronjob-missed/nightly/job/report-stuck", "the stuck Job is the root cause: {p}");
    assert!(p["rootCause"]["summary"].as_str().unwrap().contains("cronjob/report missed its run of"), "{p}");
    assert!(p["rootCause"]["summary"].as_str().unwrap().contains("its Job report-stuck still runs and concurrencyPolicy is Forbid"), "{p}");
    let seen = evidence(p);
    assert!(seen.contains("schedule \"*/5 * * * *\", concurrencyPolicy Forbid"), "{seen}");
    assert!(seen.contains("Not starting job because prior execution is running and concurrency policy is Forbid"), "{seen}");
    assert!(p["fix"][0].as_str().unwrap().contains("kubectl -n nightly delete job report-stuck"), "{p}");

    // Suspended, it is not missing anything.
    cronjobs.patch("report", &PatchParams::default(), &Patch::Merge(&json!({"spec": {"suspend": true}}))).await.unwrap();
    let problems = problems_until(&sandbox, ns, |p| p.iter().all(|p| p["rootCause"]["rule"] != "cronjob-missed")).await;
    assert!(problems.iter().all(|p| p["rootCause"]["rule"] != "cronjob-missed"), "{problems:?}");
}
