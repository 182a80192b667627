//! `kdeck verify` (and `kdeck up` running it) against a stack on a sandbox the
//! stack itself starts: nginx answers through the service proxy and the ingress
//! address, PostgreSQL's handshake and Redis's PING (with AUTH from a Secret)
//! through port-forwards kdeck opens, exec and env checks — all green; then
//! broken variants, each failing for its own reason while the others still run,
//! and never a secret value in the output.

mod common;

use std::path::PathBuf;
use std::process::Output;

use common::TestSandbox;
use k8s_openapi::api::core::v1::{Secret, Service};
use kube::Api;
use kube::api::PostParams;

use common::project::{Project, stderr, stdout};

const APP: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web-config}
data: {LOG_LEVEL: info, GREETING: hello}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: nginx
          image: nginx:1.27
          ports: [{containerPort: 80}]
          envFrom: [{configMapRef: {name: web-config}}]
          env: [{name: MODE, value: dev}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 80}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  rules:
    - http:
        paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: pg}
spec:
  serviceName: pg
  selector: {matchLabels: {app: pg}}
  template:
    metadata: {labels: {app: pg}}
    spec:
      containers:
        - name: postgres
          image: postgres:16
          ports: [{containerPort: 5432, name: postgres}]
          env: [{name: POSTGRES_PASSWORD, valueFrom: {secretKeyRef: {name: db-secret, key: password}}}]
---
apiVersion: v1
kind: Service
metadata: {name: pg}
spec:
  selector: {app: pg}
  ports: [{port: 5432, targetPort: postgres}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: redis}
spec:
  selector: {matchLabels: {app: redis}}
  template:
    metadata: {labels: {app: redis}}
    spec:
      containers:
        - name: redis
          image: redis:7
          args: ["--requirepass", "$(REDIS_PASSWORD)"]
          ports: [{containerPort: 6379}]
          env: [{name: REDIS_PASSWORD, valueFrom: {secretKeyRef: {name: redis-secret, key: password}}}]
---
apiVersion: v1
kind: Service
metadata: {name: redis}
spec:
  selector: {app: redis}
  ports: [{port: 6379, targetPort: 6379}]
"#;

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
"#;

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
    assert_eq!(text.lines().count(), 8, "{text}");
    assert!(text.lines().all(|l| l.starts_with("ok ")), "{text}");
    assert!(line(&text, "web answers").contains("svc/web:80/: status 200"), "{text}");
    assert!(line(&text, "ingress").contains("status 200"), "{text}");
    assert!(line(&text, "database accepts connections").contains("svc/pg → pod pg-0:5432: accepting connections"), "{text}");
    assert!(line(&text, "cache").contains("PONG"), "{text}");
    assert!(line(&text, "shell in web").contains("exit code 0, stdout contains \"hello from\""), "{text}");
    assert!(line(&text, "config injected").contains("2 variable(s) from ConfigMap web-config in 1 container(s)"), "{text}");
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

    project.write("kdeck.yaml", &stack("verify-shop", BROKEN));
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
    assert!(stderr(&out).contains("9 of 10 check(s) failed"), "{}", stderr(&out));
    assert_no_secret(&out, &values);

    let out = project.kdeck(&["verify", "-o", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["checks"].as_array().unwrap().iter().filter(|c| c["ok"] == false).count(), 9);
    assert_no_secret(&out, &values);

    // up with a failing check: the stack is up, the result is "failed", exit 1; --no-verify skips them.
    let out = project.kdeck(&["up", "-o", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["result"], "failed");
    assert_eq!(report["checks"].as_array().unwrap().len(), 10);
    assert!(report["error"]["message"].as_str().unwrap().contains("9 of 10 check(s) failed"), "{report}");
    assert_no_secret(&out, &values);
    let out = project.kdeck(&["up", "--no-verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains("FAIL"), "{}", stdout(&out));
}

#[test]
fn bad_checks_are_refused_with_their_place() {
    let home = TestSandbox::new("verify-bad");
    let project = Project::new(&home, &[("kdeck.yaml", &stack("verify-bad", "    - {name: web, http: {service: web}}\n")), ("k8s/app.yaml", APP)]);
    let out = project.kdeck(&["verify"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("stack.verify[0].http.port: missing"), "{}", stderr(&out));
    let out = project.kdeck(&["up", "--dry-run"]);
    assert_eq!(out.status.code(), Some(2), "up checks them before anything: {}", stderr(&out));

    project.write("kdeck.yaml", &stack("verify-bad", "    - {name: dns, dns: {from: deploy/web}}\n"));
    let out = project.kdeck(&["verify"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("kdeck.yaml:") && stderr(&out).contains("dns"), "line and column, and the key: {}", stderr(&out));

    project.write("kdeck.yaml", &stack("verify-bad", "    - {name: two, tcp: {port: 1, pod: a}, redis: {port: 2, pod: a}}\n"));
    let out = project.kdeck(&["verify"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("stack.verify[0]: check \"two\" has several kinds (tcp, redis)"), "{}", stderr(&out));
}

/// The program's path on the host's PATH.
fn which(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join(program)).find(|p| p.is_file())
}

/// Debian's server binaries: `/usr/lib/postgresql/<version>/bin`, the newest.
fn postgres_bin() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir("/usr/lib/postgresql").ok()?.flatten().map(|e| e.path().join("bin")).filter(|d| d.join("postgres").is_file()).collect();
    dirs.sort_by_key(|d| d.parent().and_then(|v| v.file_name()).and_then(|v| v.to_str()).and_then(|v| v.parse::<u32>().ok()));
    dirs.pop()
}

/// As in sandbox_real_pods.rs: skipped where the server is missing, except in CI.
fn installed(what: &str, found: Option<PathBuf>) -> Option<PathBuf> {
    if found.is_some() {
        return found;
    }
    let message = format!("{what} is not installed on this machine");
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("{message}; CI installs it (.ci/run)");
    }
    eprintln!("skipped: {message}");
    None
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
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
    assert!(line(&text, "nothing there").starts_with("FAIL ") && line(&text, "nothing there").contains("connection refused"), "{text}");
    let secret = Api::<Secret>::namespaced(home.client().await, "real").get("redis-secret").await.unwrap();
    let value = String::from_utf8(secret.data.unwrap()["password"].0.clone()).unwrap();
    assert!(!text.contains(&value) && !stderr(&out).contains(&value));
}
