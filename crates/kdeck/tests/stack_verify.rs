//! `kdeck verify` (and `kdeck up` running it) against a stack on a sandbox the
//! stack itself starts: nginx answers through the service proxy and the ingress
//! address, PostgreSQL's handshake and Redis's PING (with AUTH from a Secret)
//! through port-forwards kdeck opens, exec and env checks — all green; then
//! broken variants, each failing for its own reason while the others still run,
//! and never a secret value in the output.

mod common;

use std::process::Output;

use common::{TestSandbox, free_port, installed, postgres_bin, which};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Service};
use kube::Api;
use kube::api::PostParams;

use common::project::{Project, stderr, stdout};

/// nginx, PostgreSQL and Redis (simulated), non-root with limits.
const APP: &str = include_str!("stack_verify/shop.yaml");

fn stack(cluster: &str, checks: &str) -> String {
    format!(
        r#"
stack:
  name: shop
  cluster: {{name: {cluster}}}
  secrets:
    - {{name: db-secret, namespace: shop, generate: {{password: 24}}}}
    - {{name: redis-secret, namespace: shop, generate: {{password: 24}}}}
  deploy:
    - namespace: shop
      manifests: [k8s/*.yaml]
  verify:
{checks}"#
    )
}

const GREEN: &str = r#"
    - name: web answers
      http: {service: web, port: 80, path: /, expect: {status: 200, bodyContains: "Welcome to nginx!"}}
    - name: ingress
      http: {url: "${stack:ingress}/", expect: {status: 200, bodyContains: "Welcome to nginx!", maxLatency: 5s}}
    - name: web port
      tcp: {service: web, port: 80}
    - name: database accepts connections
      postgres: {service: pg, port: 5432}
    - name: database by workload
      postgres: {workload: sts/pg, port: 5432}
    - name: cache
      redis: {service: redis, port: 6379, passwordSecret: {name: redis-secret, key: password}}
    - name: database login
      postgres: {service: pg, port: 5432, passwordSecret: {name: db-secret, key: password}}
    - name: shell in web
      exec: {workload: deploy/web, command: [sh, -c, "echo hello from web"], expect: {exitCode: 0, stdoutContains: "hello from"}}
    - name: config injected
      env: {workload: deploy/web, configMap: web-config, variables: [LOG_LEVEL, GREETING]}
"#;

const BROKEN: &str = r#"
    - name: web answers
      http: {service: web, port: 80, expect: {bodyContains: "Welcome to nginx!"}}
    - name: wrong service port
      http: {service: web, port: 81}
    - name: wrong pod port
      tcp: {workload: deploy/web, port: 9999}
    - name: ghost cache
      redis: {service: ghost, port: 6379}
    - name: ghost web
      http: {service: ghost, port: 6379}
    - name: cache without password
      redis: {service: redis, port: 6379}
    - name: exit code
      exec: {workload: deploy/web, command: [sh, -c, "exit 3"]}
    - name: env missing
      env: {workload: deploy/web, configMap: web-config, variables: [LOG_LEVEL, DATABASE_URL]}
    - name: env literal
      env: {workload: deploy/web, configMap: web-config, variables: [MODE]}
    - name: slow
      timeout: 1s
      exec: {workload: deploy/web, command: [sleep, "5"]}
    - name: database wrong password
      postgres: {service: pg, port: 5432, passwordSecret: {name: redis-secret, key: password}}
"#;

/// A check with an unknown kind: `verify` fails it at its place and runs the others.
const TYPO: &str = "    - name: typo\n      dnss: {from: deploy/web}\n";

/// The values of the stack's secrets, read from the cluster.
async fn secret_values(client: &kube::Client) -> Vec<String> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "shop");
    let mut values = Vec::new();
    for name in ["db-secret", "redis-secret"] {
        let secret = secrets.get(name).await.unwrap();
        values.push(String::from_utf8(secret.data.unwrap()["password"].0.clone()).unwrap());
    }
    values
}

fn assert_no_secret(out: &Output, values: &[String]) {
    for value in values {
        assert!(!stdout(out).contains(value.as_str()) && !stderr(out).contains(value.as_str()), "a secret value was printed");
    }
}

/// The result line of check `name`.
fn line<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines().find(|l| l.contains(&format!(" {name} ("))).unwrap_or_else(|| panic!("no line for {name}:\n{text}"))
}

#[tokio::test]
async fn verify_passes_on_a_working_stack_and_says_why_each_broken_check_fails() {
    let home = TestSandbox::new("verify-shop");
    let project = Project::new(&home, &[("kdeck.yaml", &stack("verify-shop", GREEN)), ("k8s/app.yaml", APP)]);

    // up runs the checks at its end and lists them.
    let out = project.kdeck(&["up", "--timeout", "120s"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(line(&text, "web answers").starts_with("ok "), "{text}");
    assert!(line(&text, "cache").starts_with("ok "), "{text}");
    assert!(text.contains("stack shop is ready"), "{text}");
    let client = home.client().await;
    let values = secret_values(&client).await;
    assert_no_secret(&out, &values);

    // verify on its own: all green, one line per check.
    let out = project.kdeck(&["verify"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 10, "{text}");
    assert!(text.lines().all(|l| l.starts_with("ok ")), "{text}");
    assert!(line(&text, "web answers").contains("svc/web:80/: status 200"), "{text}");
    assert!(line(&text, "ingress").contains("status 200"), "{text}");
    assert!(line(&text, "database accepts connections").contains("svc/pg → pod pg-0:5432: accepting connections"), "{text}");
    assert!(line(&text, "cache").contains("PONG"), "{text}");
    assert!(line(&text, "database login").contains("SELECT 1 answered 1 (user postgres, database postgres, SCRAM-SHA-256 authentication)"), "{text}");
    assert!(line(&text, "shell in web").contains("exit code 0, stdout contains \"hello from\""), "{text}");
    assert!(line(&text, "config injected").contains("2 variable(s) from ConfigMap web-config in 1 container(s)"), "{text}");
    assert!(line(&text, "config injected").contains("set and equal in 1 running container(s) of pod web-"), "{text}");
    assert!(line(&text, "secret hygiene").contains("value(s) of 2 Secret(s) found in none of the logs"), "on by default: {text}");
    assert_no_secret(&out, &values);

    // One check by name, as JSON.
    let out = project.kdeck(&["verify", "cache", "ingress", "-o", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["stack"], "shop");
    assert_eq!(doc["context"], "verify-shop");
    let checks = doc["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 2, "{doc}");
    assert_eq!(checks[0]["name"], "ingress", "in the order declared");
    assert_eq!(checks[1]["kind"], "redis");
    assert!(checks[1]["seconds"].as_f64().is_some() && checks[1]["ok"] == true && checks[1]["detail"].is_string());

    // An unknown name lists the known ones (exit 2).
    let out = project.kdeck(&["verify", "nope"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no check named \"nope\"") && stderr(&out).contains("\"web answers\""), "{}", stderr(&out));

    // A Service that selects nothing, made outside the stack (up would wait for its endpoints).
    let ghost: Service = serde_json::from_value(serde_json::json!({"metadata": {"name": "ghost"},
        "spec": {"selector": {"app": "nothing"}, "ports": [{"port": 6379}]}}))
    .unwrap();
    Api::<Service>::namespaced(client.clone(), "shop").create(&PostParams::default(), &ghost).await.unwrap();

    project.write("kdeck.yaml", &stack("verify-shop", &format!("{BROKEN}{TYPO}")));
    let out = project.kdeck(&["verify"]);
    assert_eq!(out.status.code(), Some(1), "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(line(&text, "web answers").starts_with("ok "), "the other checks still run: {text}");
    let fail = |name: &str, words: &str| {
        let l = line(&text, name);
        assert!(l.starts_with("FAIL ") && l.contains(words), "{name}: expected {words:?} in {l:?}");
    };
    fail("wrong service port", "status 503 (expected 200): no service port 81 found for service \"web\"");
    fail("wrong pod port", "connection refused on port 9999 of pod web-");
    fail("ghost cache", "no pods for svc/ghost in namespace shop");
    fail("ghost web", "status 503 (expected 200): no endpoints available for service \"ghost\"");
    fail("cache without password", "needs AUTH");
    fail("exit code", "exit code 3 (expected 0)");
    fail("env missing", "container nginx: envFrom ConfigMap web-config has no key for DATABASE_URL");
    fail("env literal", "container nginx: MODE is a literal env value (expected from ConfigMap web-config)");
    fail("slow", "timed out after 1s");
    fail(
        "database wrong password",
        "the database refused the credentials from Secret shop/redis-secret key password: password authentication failed for user \"postgres\" (28P01)",
    );
    // A check declared wrong fails at its place in kdeck.yaml; the others ran.
    fail("typo", "kdeck.yaml:37:13: stack.verify[11].dnss: unknown key `dnss` (valid keys here: name, timeout, http");
    assert!(stderr(&out).contains("11 of 13 check(s) failed"), "{}", stderr(&out));
    assert_no_secret(&out, &values);

    let out = project.kdeck(&["verify", "-o", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["checks"].as_array().unwrap().iter().filter(|c| c["ok"] == false).count(), 11);
    assert_no_secret(&out, &values);

    // up with a check declared wrong: refused before anything (exit 2).
    let out = project.kdeck(&["up"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("unknown key `dnss`"), "{}", stderr(&out));

    // up with a failing check: the stack is up, the result is "failed", exit 1; --no-verify skips them.
    project.write("kdeck.yaml", &stack("verify-shop", BROKEN));
    let out = project.kdeck(&["up", "-o", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["result"], "failed");
    assert_eq!(report["checks"].as_array().unwrap().len(), 12);
    assert!(report["error"]["message"].as_str().unwrap().contains("10 of 12 check(s) failed"), "{report}");
    assert_no_secret(&out, &values);
    let out = project.kdeck(&["up", "--no-verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains("FAIL"), "{}", stdout(&out));
}

#[test]
fn bad_checks_stop_up_before_anything_with_their_place() {
    let home = TestSandbox::new("verify-bad");
    let project = Project::new(&home, &[("kdeck.yaml", &stack("verify-bad", "    - {name: web, http: {service: web}}\n")), ("k8s/app.yaml", APP)]);
    let out = project.kdeck(&["up", "--dry-run"]);
    assert_eq!(out.status.code(), Some(2), "up checks them before anything: {}", stderr(&out));
    assert!(stderr(&out).contains("kdeck.yaml:12:25: stack.verify[0].http.port: missing"), "{}", stderr(&out));

    project.write("kdeck.yaml", &stack("verify-bad", "    - {name: dns, dns: {from: deploy/web}}\n"));
    let out = project.kdeck(&["up", "--dry-run"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("kdeck.yaml:12:") && stderr(&out).contains("stack.verify[0].dns: missing key `service`"),
        "line and column: {}",
        stderr(&out)
    );

    project.write("kdeck.yaml", &stack("verify-bad", "    - {name: two, tcp: {port: 1, pod: a}, redis: {port: 2, pod: a}}\n"));
    let out = project.kdeck(&["up", "--dry-run"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("stack.verify[0]: check \"two\" has several kinds (tcp, redis)"), "{}", stderr(&out));
}

#[tokio::test]
async fn redis_and_postgres_checks_speak_to_real_servers() {
    let Some(_) = installed("redis-server", which("redis-server")) else { return };
    let Some(bin) = installed("postgres (Debian's postgresql package)", postgres_bin()) else { return };
    let home = TestSandbox::new("verify-real");
    let (redis_port, pg_port) = (free_port(), free_port());
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let pg_script = format!(
        "test -s /var/lib/postgresql/data/PG_VERSION || initdb -D /var/lib/postgresql/data -U postgres --auth=trust; \
         exec postgres -D /var/lib/postgresql/data -p {pg_port} -k /tmp -c listen_addresses=127.0.0.1"
    );
    let manifests = format!(
        r#"
apiVersion: v1
kind: Namespace
metadata: {{name: real}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: redis}}
spec:
  selector: {{matchLabels: {{app: redis}}}}
  template:
    metadata: {{labels: {{app: redis}}, annotations: {{sandbox.kdeck.dev/run-command: "true"}}}}
    spec:
      containers:
        - name: redis
          image: redis:7
          command: [sh, -c, 'exec redis-server --port {redis_port} --save "" --appendonly no --requirepass "$REDIS_PASSWORD"']
          env: [{{name: REDIS_PASSWORD, valueFrom: {{secretKeyRef: {{name: redis-secret, key: password}}}}}}]
          readinessProbe: {{tcpSocket: {{port: {redis_port}}}, periodSeconds: 1}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: pg}}
spec:
  serviceName: pg
  selector: {{matchLabels: {{app: pg}}}}
  template:
    metadata: {{labels: {{app: pg}}, annotations: {{sandbox.kdeck.dev/run-command: "true"}}}}
    spec:
      securityContext: {{runAsUser: 999, runAsGroup: 999}}
      containers:
        - name: postgres
          image: postgres:16
          command: [sh, -c, "{pg_script}"]
          env: [{{name: PATH, value: "{path}"}}]
          volumeMounts: [{{name: data, mountPath: /var/lib/postgresql}}]
          readinessProbe: {{exec: {{command: [pg_isready, -h, 127.0.0.1, -p, "{pg_port}", -U, postgres]}}, periodSeconds: 1}}
  volumeClaimTemplates:
    - metadata: {{name: data}}
      spec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 1Gi}}}}}}
"#
    );
    let config = format!(
        r#"
stack:
  name: real
  cluster: {{name: verify-real}}
  secrets:
    - {{name: redis-secret, namespace: real, generate: {{password: 24}}}}
  deploy:
    - namespace: real
      manifests: [k8s/*.yaml]
  verify:
    - name: real redis
      redis: {{workload: deploy/redis, port: {redis_port}, passwordSecret: {{name: redis-secret, key: password}}}}
    - name: real redis without password
      redis: {{workload: deploy/redis, port: {redis_port}}}
    - name: real postgres
      postgres: {{workload: sts/pg, port: {pg_port}}}
    - name: real postgres query
      postgres: {{workload: sts/pg, port: {pg_port}, user: postgres}}
    - name: nothing there
      postgres: {{pod: pg-0, port: {}}}
"#,
        free_port()
    );
    let project = Project::new(&home, &[("kdeck.yaml", &config), ("k8s/app.yaml", &manifests)]);
    let out = project.kdeck(&["up", "--timeout", "120s", "--no-verify"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let out = project.kdeck(&["verify"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}\n{}", stderr(&out));
    assert!(line(&text, "real redis").starts_with("ok ") && line(&text, "real redis").contains("PONG"), "{text}");
    assert!(line(&text, "real redis without password").contains("needs AUTH"), "{text}");
    assert!(line(&text, "real postgres").starts_with("ok ") && line(&text, "real postgres").contains("accepting connections"), "{text}");
    assert!(line(&text, "real postgres query").contains("SELECT 1 answered 1 (user postgres, database postgres, trust authentication)"), "{text}");
    assert!(line(&text, "nothing there").starts_with("FAIL ") && line(&text, "nothing there").contains("connection refused"), "{text}");
    let secret = Api::<Secret>::namespaced(home.client().await, "real").get("redis-secret").await.unwrap();
    let value = String::from_utf8(secret.data.unwrap()["password"].0.clone()).unwrap();
    assert!(!text.contains(&value) && !stderr(&out).contains(&value));
}

/// The lab: a web Service, a client with env from a ConfigMap and a Secret, an
/// image with no tools, a StatefulSet with a claim and a pod with an emptyDir.
const LAB: &str = include_str!("stack_verify/lab.yaml");

fn lab_stack(cluster: &str, keep_data: bool, checks: &str) -> String {
    format!(
        "stack:\n  name: lab\n  cluster: {{name: {cluster}, keepData: {keep_data}}}\n  secrets:\n    - {{name: api-secret, namespace: lab, generate: {{api-key: 32}}}}\n  deploy:\n    - namespace: lab\n      manifests: [k8s/*.yaml]\n  verify:\n{checks}"
    )
}

const LAB_GREEN: &str = r#"    - name: client reaches web by name
      dns: {from: deploy/client, service: web, port: 80}
    - name: by its long name
      dns: {from: deploy/client, service: web.lab.svc.cluster.local, port: 80}
    - name: data survives
      persistence: {workload: sts/db, path: /var/lib/data}
    - name: config injected
      env: {workload: deploy/client, configMap: client-config, variables: [LOG_LEVEL]}
    - name: key injected
      env: {workload: deploy/client, secret: api-secret, variables: [API_KEY]}
"#;

const LAB_BROKEN: &str = r#"    - name: no such service
      dns: {from: deploy/client, service: no-such-service, port: 80}
    - name: nobody listens
      dns: {from: deploy/client, service: web, port: 81}
    - name: no tools
      dns: {from: deploy/bare, service: web, port: 80}
    - name: scratch survives
      persistence: {workload: deploy/scratch, path: /scratch}
    - name: token injected
      env: {workload: deploy/client, secret: api-secret, variables: [API_KEY, OPTIONAL_TOKEN]}
"#;

async fn api_key(client: &kube::Client) -> String {
    let secret = Api::<Secret>::namespaced(client.clone(), "lab").get("api-secret").await.unwrap();
    String::from_utf8(secret.data.unwrap()["api-key"].0.clone()).unwrap()
}

#[tokio::test]
async fn dns_persistence_env_and_hygiene_pass_and_fail_for_their_reasons() {
    let home = TestSandbox::new("verify-lab");
    let project = Project::new(&home, &[("kdeck.yaml", &lab_stack("verify-lab", false, LAB_GREEN)), ("k8s/app.yaml", LAB)]);
    let out = project.kdeck(&["up", "--timeout", "120s", "--no-verify"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let client = home.client().await;
    let key = api_key(&client).await;

    let out = project.kdeck(&["verify"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(line(&text, "client reaches web by name").contains("web resolves to "), "{text}");
    assert!(line(&text, "client reaches web by name").contains("and answers on port 80 (from pod client-"), "{text}");
    assert!(line(&text, "by its long name").starts_with("ok "), "{text}");
    assert!(line(&text, "data survives").contains("(claim data-db-0) survived the deletion of pod db-0: read back in pod db-0"), "{text}");
    assert!(line(&text, "key injected").contains("set and equal in 1 running container(s)"), "{text}");
    assert!(line(&text, "secret hygiene").starts_with("ok ") && line(&text, "secret hygiene").contains("1 value(s) of 1 Secret(s)"), "{text}");
    assert!(!text.contains(&key) && !stderr(&out).contains(&key), "the key was printed");

    // Images the stack builds: without docker, a note; with one whose ENV holds the key, a finding.
    let with_image = lab_stack("verify-lab", false, LAB_GREEN).replace("  deploy:", "  images: [{name: lab-app:1.0}]\n  deploy:");
    project.write("kdeck.yaml", &with_image);
    let bin = project.dir.join("standin-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let no_docker = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).filter(|d| !d.join("docker").exists()).collect::<Vec<_>>();
    let out = project.command(&["verify", "secret hygiene"]).env("PATH", std::env::join_paths(&no_docker).unwrap()).output().unwrap();
    assert!(
        out.status.success(),
        "{}
{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).contains("(image lab-app:1.0 not inspected: docker is not on PATH)"), "{}", stdout(&out));
    {
        use std::os::unix::fs::PermissionsExt;
        let script = "#!/bin/sh\ncase \"$1 $2\" in\n\"image inspect\") printf '%s\\n' \"$STANDIN_IMAGE_CONFIG\" ;;\n*) echo \"stand-in docker: unexpected: $*\" >&2; exit 1 ;;\nesac\n";
        std::fs::write(bin.join("docker"), script).unwrap();
        std::fs::set_permissions(bin.join("docker"), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let config = serde_json::json!({"Env": ["PATH=/usr/bin", format!("API_KEY={key}")], "Labels": {"maintainer": "lab"}}).to_string();
    let path = std::env::join_paths(std::iter::once(bin.clone()).chain(no_docker.clone())).unwrap();
    let out = project.command(&["verify", "secret hygiene"]).env("PATH", &path).env("STANDIN_IMAGE_CONFIG", &config).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("image lab-app:1.0: ENV API_KEY holds the value of Secret lab/api-secret key api-key"), "{}", stdout(&out));
    assert!(!stdout(&out).contains(&key) && !stderr(&out).contains(&key), "the key was printed");

    // Leaks and bad containers, made beside the stack in its namespace.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "lab");
    let leaky: Pod = serde_json::from_value(serde_json::json!({"metadata": {"name": "leaky", "annotations": {"sandbox.kdeck.dev/run-command": "true"}},
        "spec": {"securityContext": {"runAsNonRoot": true, "runAsUser": 1000}, "containers": [{"name": "app", "image": "busybox",
            "command": ["sh", "-c", "echo starting with key $API_KEY; exec sleep 3600"],
            "resources": {"limits": {"cpu": "100m", "memory": "32Mi"}},
            "env": [{"name": "API_KEY", "valueFrom": {"secretKeyRef": {"name": "api-secret", "key": "api-key"}}}]}]}}))
    .unwrap();
    pods.create(&PostParams::default(), &leaky).await.unwrap();
    let root: Pod = serde_json::from_value(serde_json::json!({"metadata": {"name": "rooted"},
        "spec": {"containers": [{"name": "app", "image": "busybox", "securityContext": {"runAsUser": 0},
            "env": [{"name": "PASTED", "value": format!("key={key}")}]}]}}))
    .unwrap();
    pods.create(&PostParams::default(), &root).await.unwrap();
    let cm: ConfigMap =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "leaky-config"}, "data": {"settings": format!("api_key: {key}\n")}})).unwrap();
    Api::<ConfigMap>::namespaced(client.clone(), "lab").create(&PostParams::default(), &cm).await.unwrap();
    common::wait_object_for(&pods, "leaky", "its log holds the key", std::time::Duration::from_secs(30), |p: &Pod| {
        p.status.as_ref().and_then(|s| s.container_statuses.as_ref()).is_some_and(|cs| cs.iter().all(|c| c.state.as_ref().is_some_and(|s| s.running.is_some())))
    })
    .await;

    project.write("kdeck.yaml", &lab_stack("verify-lab", false, LAB_BROKEN));
    let out = project.kdeck(&["verify"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}\n{}", stderr(&out));
    let fail = |name: &str, words: &str| {
        let l = line(&text, name);
        assert!(l.starts_with("FAIL ") && l.contains(words), "{name}: expected {words:?} in {l:?}");
    };
    fail("no such service", "no-such-service does not resolve in pod client-");
    fail("nobody listens", "web resolves to ");
    fail("nobody listens", "but port 81 does not answer");
    fail("no tools", "cannot check: pod bare-");
    fail("no tools", "has none of getent, nslookup, nc, wget, curl, python3");
    fail("scratch survives", "the data did not persist (/scratch is on volume tmp (emptyDir), which goes with its pod)");
    fail("token injected", "OPTIONAL_TOKEN is not set in the running container");
    let hygiene = line(&text, "secret hygiene");
    for words in [
        "lab/Pod/leaky container app: its log (last 1000 lines) holds the value of Secret lab/api-secret key api-key",
        "lab/ConfigMap/leaky-config key settings: holds the value of Secret lab/api-secret key api-key",
        "lab/Pod/rooted container app: the literal env value of PASTED holds the value of Secret lab/api-secret key api-key",
        "lab/Pod/rooted container app: runs as root (runAsUser 0)",
        "lab/Pod/rooted container app: no cpu or memory limit",
    ] {
        assert!(hygiene.starts_with("FAIL ") && hygiene.contains(words), "expected {words:?} in {hygiene}");
    }
    assert!(!text.contains(&key) && !stderr(&out).contains(&key), "the key was printed");

    // The secret hygiene check can be told what not to judge, or be disabled.
    let relaxed = format!("{LAB_GREEN}    - name: hygiene\n      secretHygiene: {{nonRoot: false, limits: false}}\n");
    project.write("kdeck.yaml", &lab_stack("verify-lab", false, &relaxed));
    let out = project.kdeck(&["verify", "hygiene"]);
    let hygiene = line(&stdout(&out), "hygiene").to_string();
    assert!(hygiene.contains("its log") && !hygiene.contains("runs as root") && !hygiene.contains("limit"), "{hygiene}");
    let off = format!("{LAB_GREEN}    - name: hygiene\n      secretHygiene: {{enabled: false}}\n");
    project.write("kdeck.yaml", &lab_stack("verify-lab", false, &off));
    let out = project.kdeck(&["verify", "-o", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["checks"].as_array().unwrap().iter().all(|c| c["kind"] != "secretHygiene"), "{doc}");
}

const ACROSS: &str = r#"    - name: data survives
      persistence: {workload: sts/db, path: /var/lib/data, acrossRecreate: true}
    - name: web port
      tcp: {service: web, port: 80}
    - name: hygiene
      secretHygiene: {enabled: false}
"#;

#[tokio::test]
async fn persistence_across_a_recreate_needs_kept_data() {
    let home = TestSandbox::new("verify-recreate");
    let project = Project::new(&home, &[("kdeck.yaml", &lab_stack("verify-recreate", false, ACROSS)), ("k8s/app.yaml", LAB)]);
    let out = project.kdeck(&["up", "--timeout", "120s"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(line(&text, "data survives").starts_with("ok "), "{text}");
    assert!(line(&text, "data survives (across recreate)").starts_with("skip ") && text.contains("run `kdeck verify --recreate`"), "{text}");

    // Nothing to recreate for among the checks named: refused before asking.
    let out = project.kdeck(&["verify", "--recreate", "--yes", "web port"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--recreate: no check to run has a persistence part across a recreate"), "{}", stderr(&out));

    // No terminal, no --yes: refused, nothing deleted.
    let out = project.kdeck(&["verify", "--recreate"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("refusing without --yes"), "{}", stderr(&out));

    // The cluster deleted with its data: the claim is a new one, the marker gone.
    let out = project.kdeck(&["verify", "--recreate", "--yes", "-o", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}\n{}", stdout(&out), stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let across = doc["checks"].as_array().unwrap().iter().find(|c| c["name"] == "data survives (across recreate)").cloned().unwrap();
    assert_eq!((across["ok"].clone(), across["skipped"].clone()), (serde_json::json!(false), serde_json::json!(false)), "{doc}");
    let detail = across["detail"].as_str().unwrap();
    assert!(detail.contains("the data did not persist (claim data-db-0 was deleted with the cluster and is a new one now"), "{detail}");

    // keepData: the volumes come back with the cluster, and so does the marker.
    project.write("kdeck.yaml", &lab_stack("verify-recreate", true, ACROSS));
    let out = project.kdeck(&["verify", "--recreate", "--yes"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(line(&text, "data survives (across recreate)").contains("survived the cluster's deletion: read back in pod db-0"), "{text}");
}
