//! `kdeck lint`, end to end: the real binary on files written by each test.
//! Every rule fires on a manifest (or Dockerfile) made to break it and stays
//! quiet on a near miss; the fixtures under tests/fixtures/lint produce exactly
//! the findings of their golden file; the examples lint clean.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

/// A Namespace, a Deployment and its Service that break no rule.
const CLEAN: &str = r#"apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  replicas: 1
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      automountServiceAccountToken: false
      securityContext: {runAsNonRoot: true, runAsUser: 10001}
      containers:
        - name: api
          image: shop/api:1.0.0
          ports: [{name: http, containerPort: 8080}]
          readinessProbe: {httpGet: {path: /healthz, port: http}}
          resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {memory: 128Mi}}
          securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
          env:
            - {name: LOG_LEVEL, value: info}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec:
  selector: {app: api}
  ports: [{port: 80, targetPort: http}]
"#;

/// A clean Dockerfile: pinned base, non-root user, a .dockerignore is written beside it.
const DOCKERFILE: &str = "FROM alpine:3.20\nRUN apk add --no-cache curl\nCOPY app /app\nUSER 10001\nCMD [\"/app\"]\n";

struct Dir {
    dir: tempfile::TempDir,
}

impl Dir {
    fn new(files: &[(&str, &str)]) -> Dir {
        let dir = Dir { dir: tempfile::tempdir().unwrap() };
        for (path, text) in files {
            dir.write(path, text);
        }
        dir
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    fn write(&self, path: &str, text: &str) {
        let file = self.dir.path().join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }
    fn lint(&self, args: &[&str]) -> Output {
        lint_in(self.path(), args)
    }
}

fn lint_in(dir: &Path, args: &[&str]) -> Output {
    std::process::Command::new(common::BIN).current_dir(dir).env("NO_COLOR", "1").arg("lint").args(args).output().unwrap()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// The rules of the findings of `kdeck lint -o json ARGS`.
fn rules_found(dir: &Dir, args: &[&str]) -> Vec<String> {
    let mut all = vec!["-o", "json", "--fail-on", "never"];
    all.extend(args);
    let out = dir.lint(&all);
    assert!(out.status.success(), "lint failed: {}", String::from_utf8_lossy(&out.stderr));
    json(&out)["findings"].as_array().unwrap().iter().map(|f| f["rule"].as_str().unwrap().to_string()).collect()
}

/// CLEAN with `from` replaced by `to` (which must be there), plus extra documents.
fn manifest(changes: &[(&str, &str)], extra: &str) -> String {
    let mut text = CLEAN.to_string();
    for (from, to) in changes {
        assert!(text.contains(from), "{from:?} is not in the clean manifest");
        text = text.replacen(from, to, 1);
    }
    if !extra.is_empty() {
        text.push_str("---\n");
        text.push_str(extra);
    }
    text
}

#[test]
fn the_clean_manifest_and_dockerfile_have_no_finding_at_all() {
    let dir = Dir::new(&[("app.yaml", CLEAN), ("Dockerfile", DOCKERFILE), (".dockerignore", ".git\n")]);
    let out = dir.lint(&["-o", "json", "--fail-on", "warning"]);
    assert_eq!(json(&out)["findings"], serde_json::json!([]), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(out.status.success());
}

/// (rule, firing changes, firing extra documents, near-miss changes, near-miss extra documents)
type Case = (&'static str, &'static [(&'static str, &'static str)], &'static str, &'static [(&'static str, &'static str)], &'static str);

const SC: &str = "securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}";
const READY: &str = "readinessProbe: {httpGet: {path: /healthz, port: http}}";
const ENV: &str = "- {name: LOG_LEVEL, value: info}";
const POD: &str = "automountServiceAccountToken: false";

const CASES: &[Case] = &[
    (
        "run-as-root",
        &[("securityContext: {runAsNonRoot: true, runAsUser: 10001}", "securityContext: {runAsNonRoot: false}")],
        "",
        &[("securityContext: {runAsNonRoot: true, runAsUser: 10001}", "securityContext: {runAsUser: 1000}")],
        "",
    ),
    (
        "privileged",
        &[(SC, "securityContext: {privileged: true, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}")],
        "",
        &[(SC, "securityContext: {privileged: false, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}")],
        "",
    ),
    ("privilege-escalation", &[("allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true")], "", &[], ""),
    ("capabilities-not-dropped", &[("drop: [ALL]", "drop: [NET_RAW]")], "", &[("drop: [ALL]", "drop: [all]")], ""),
    ("dangerous-capabilities", &[("drop: [ALL]", "drop: [ALL], add: [CAP_SYS_ADMIN]")], "", &[("drop: [ALL]", "drop: [ALL], add: [NET_BIND_SERVICE]")], ""),
    (
        "host-namespaces",
        &[(POD, "automountServiceAccountToken: false\n      hostPID: true")],
        "",
        &[(POD, "automountServiceAccountToken: false\n      hostNetwork: false")],
        "",
    ),
    (
        "host-path",
        &[(POD, "automountServiceAccountToken: false\n      volumes: [{name: sock, hostPath: {path: /var/run/docker.sock}}]")],
        "",
        &[(POD, "automountServiceAccountToken: false\n      volumes: [{name: tmp, emptyDir: {}}]")],
        "",
    ),
    ("writable-root-fs", &[("readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false")], "", &[], ""),
    ("automount-token", &[(POD, "automountServiceAccountToken: true")], "", &[(POD, "serviceAccountName: api")], ""),
    (
        "secret-in-env",
        &[(ENV, "- {name: DB_PASSWORD, value: s3cr3t-Passw0rd}")],
        "",
        &[(ENV, "- {name: DB_PASSWORD, value: changeme}\n            - {name: DB_PASSWORD_FILE, value: /run/secrets/db}")],
        "",
    ),
    (
        "secret-in-env",
        &[(ENV, "- {name: UPSTREAM, value: \"https://app:hunter2hunter2@api.internal/v1\"}")],
        "",
        &[(ENV, "- {name: UPSTREAM, value: \"https://api.internal/v1\"}")],
        "",
    ),
    (
        "secret-in-configmap",
        &[],
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: shop}\ndata:\n  GITHUB: ghp_abcdefghijklmnopqrstuvwx\n",
        &[],
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: shop}\ndata:\n  LOG_LEVEL: debug\n  DATABASE_URL: postgres://db:5432/app\n",
    ),
    (
        "secret-in-configmap",
        &[],
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: shop}\ndata:\n  app.ini: |\n    [db]\n    password = Tr0ub4dor-and-3\n",
        &[],
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: shop}\ndata:\n  app.ini: |\n    [db]\n    password = ${DB_PASSWORD}\n",
    ),
    (
        "secret-committed",
        &[],
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: shop}\nstringData: {password: Tr0ub4dor-and-3}\n",
        &[],
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: shop}\nstringData: {password: <set me>, username: app-user}\n",
    ),
    ("memory-limit-missing", &[("limits: {memory: 128Mi}", "limits: {cpu: 500m}")], "", &[], ""),
    (
        "requests-missing",
        &[("requests: {cpu: 100m, memory: 64Mi}, limits: {memory: 128Mi}", "limits: {memory: 128Mi}")],
        "",
        &[("requests: {cpu: 100m, memory: 64Mi}, limits: {memory: 128Mi}", "limits: {cpu: 100m, memory: 128Mi}")],
        "",
    ),
    ("readiness-probe-missing", &[(READY, "livenessProbe: {tcpSocket: {port: http}}")], "", &[], ""),
    (
        "liveness-same-as-readiness",
        &[(READY, "readinessProbe: {httpGet: {path: /healthz, port: http}}\n          livenessProbe: {httpGet: {path: /healthz, port: http}}")],
        "",
        &[(
            READY,
            "readinessProbe: {httpGet: {path: /healthz, port: http}}\n          livenessProbe: {httpGet: {path: /healthz, port: http}}\n          startupProbe: {httpGet: {path: /healthz, port: http}, failureThreshold: 30}",
        )],
        "",
    ),
    (
        "image-latest",
        &[("shop/api:1.0.0", "shop/api:latest\n          imagePullPolicy: IfNotPresent")],
        "",
        &[("shop/api:1.0.0", "registry.local:5000/shop/api@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")],
        "",
    ),
    ("image-latest", &[("shop/api:1.0.0", "registry.local:5000/shop/api")], "", &[("shop/api:1.0.0", "registry.local:5000/shop/api:2")], ""),
    (
        "pdb-blocks-eviction",
        &[],
        "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: api, namespace: shop}\nspec: {minAvailable: 1, selector: {matchLabels: {app: api}}}\n",
        &[],
        "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: api, namespace: shop}\nspec: {maxUnavailable: 1, selector: {matchLabels: {app: api}}}\n",
    ),
    (
        "no-spread",
        &[("replicas: 1", "replicas: 3")],
        "",
        &[
            ("replicas: 1", "replicas: 3"),
            (
                POD,
                "automountServiceAccountToken: false\n      topologySpreadConstraints: [{maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway, labelSelector: {matchLabels: {app: api}}}]",
            ),
        ],
        "",
    ),
    ("service-selects-nothing", &[("selector: {app: api}", "selector: {app: api-v2}")], "", &[("selector: {app: api}", "selector: {}")], ""),
    ("service-target-port", &[("targetPort: http", "targetPort: web")], "", &[("targetPort: http", "targetPort: 9090")], ""),
    ("ingress-missing-service", &[], INGRESS_TO_APII, &[], INGRESS_TO_API_80),
    ("ingress-missing-port", &[], INGRESS_TO_API_8080, &[], INGRESS_TO_API_80),
    (
        "ingress-class-missing",
        &[],
        INGRESS_TO_API_80,
        &[],
        "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: nginx}\nspec: {controller: k8s.io/ingress-nginx}\n---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web, namespace: shop}\nspec:\n  ingressClassName: nginx\n  defaultBackend: {service: {name: api, port: {number: 80}}}\n",
    ),
    (
        "missing-configmap",
        &[(ENV, "- {name: MODE, valueFrom: {configMapKeyRef: {name: settings, key: mode}}}")],
        "",
        &[(ENV, "- {name: MODE, valueFrom: {configMapKeyRef: {name: settings, key: mode, optional: true}}}")],
        "",
    ),
    (
        "missing-secret",
        &[(ENV, "- {name: DB_PASSWORD, valueFrom: {secretKeyRef: {name: db, key: password}}}")],
        "",
        &[(ENV, "- {name: DB_PASSWORD, valueFrom: {secretKeyRef: {name: db, key: password}}}")],
        "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: db, namespace: shop}\nspec:\n  secretStoreRef: {name: vault, kind: ClusterSecretStore}\n  data: [{secretKey: password, remoteRef: {key: db/password}}]\n",
    ),
    (
        "missing-key",
        &[(ENV, "- {name: MODE, valueFrom: {configMapKeyRef: {name: settings, key: mode}}}")],
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: shop}\ndata: {MODE: fast}\n",
        &[(ENV, "- {name: MODE, valueFrom: {configMapKeyRef: {name: settings, key: MODE}}}")],
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: shop}\ndata: {MODE: fast}\n",
    ),
    (
        "storage-class-missing",
        &[],
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data, namespace: shop}\nspec: {storageClassName: fast-ssd, accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n",
        &[],
        "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: fast-ssd}\nprovisioner: rancher.io/local-path\n---\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data, namespace: shop}\nspec: {storageClassName: fast-ssd, accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n",
    ),
    ("namespace-missing", &[("metadata: {name: shop}", "metadata: {name: shop-old}")], "", &[], ""),
    (
        "probe-port-missing",
        &[(READY, "readinessProbe: {httpGet: {path: /healthz, port: metrics}}")],
        "",
        &[(READY, "readinessProbe: {httpGet: {path: /healthz, port: 8080}}")],
        "",
    ),
];

const INGRESS_TO_APII: &str = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web, namespace: shop}\nspec:\n  rules: [{host: shop.local, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: apii, port: {number: 80}}}}]}}]\n";
const INGRESS_TO_API_80: &str = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web, namespace: shop}\nspec:\n  ingressClassName: nginx\n  rules: [{host: shop.local, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: api, port: {number: 80}}}}]}}]\n";
const INGRESS_TO_API_8080: &str = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web, namespace: shop}\nspec:\n  rules: [{host: shop.local, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: api, port: {number: 8080}}}}]}}]\n";

#[test]
fn every_manifest_rule_fires_on_its_case_and_not_on_the_near_miss() {
    for (rule, fire, fire_extra, miss, miss_extra) in CASES {
        let dir = Dir::new(&[("app.yaml", &manifest(fire, fire_extra))]);
        let found = rules_found(&dir, &["--rule", rule, "app.yaml"]);
        assert_eq!(found, [*rule], "{rule} should fire once on:\n{}", manifest(fire, fire_extra));
        let dir = Dir::new(&[("app.yaml", &manifest(miss, miss_extra))]);
        let found = rules_found(&dir, &["--rule", rule, "app.yaml"]);
        assert!(found.is_empty(), "{rule} should not fire on:\n{}\nfound {found:?}", manifest(miss, miss_extra));
    }
}

/// (rule, firing Dockerfile, near miss); a .dockerignore is beside each.
const DOCKER_CASES: &[(&str, &str, &str)] = &[
    (
        "dockerfile-root-user",
        "FROM alpine:3.20 AS build\nUSER app\nFROM alpine:3.20\nCOPY --from=build /a /a\n",
        "FROM alpine:3.20 AS build\nFROM alpine:3.20\nUSER 10001\n",
    ),
    ("dockerfile-root-user", "FROM alpine:3.20\nUSER app\nUSER root\n", "FROM alpine:3.20 AS base\nUSER 10001\nFROM base\nCMD [\"x\"]\n"),
    ("dockerfile-image-tag", "FROM alpine\nUSER 1\n", "ARG BASE=alpine:3.20\nFROM ${BASE} AS b\nFROM b\nUSER 1\n"),
    (
        "dockerfile-add-url",
        "FROM alpine:3.20\nADD https://example.com/tool.tgz /tmp/\nUSER 1\n",
        "FROM alpine:3.20\nADD --checksum=sha256:0123 https://example.com/tool.tgz /tmp/\nUSER 1\n",
    ),
    (
        "dockerfile-apt-get",
        "FROM debian:12\nRUN apt-get update && \\\n    apt-get install -y curl\nUSER 1\n",
        "FROM debian:12\nRUN apt-get update && \\\n    apt-get install -y --no-install-recommends curl && \\\n    rm -rf /var/lib/apt/lists/*\nUSER 1\n",
    ),
    (
        "dockerfile-secret",
        "FROM alpine:3.20\nENV OPENAI_API_KEY=sk-proj-abcdefghijklmnop1234\nUSER 1\n",
        "FROM alpine:3.20\nARG NPM_TOKEN\nENV TOKEN_FILE=/run/secrets/token LOG_LEVEL=info\nUSER 1\n",
    ),
    ("dockerfile-copies-secrets", "FROM alpine:3.20\nCOPY .env config/id_rsa /app/\nUSER 1\n", "FROM alpine:3.20\nCOPY .env.example /app/\nUSER 1\n"),
];

#[test]
fn every_dockerfile_rule_fires_on_its_case_and_not_on_the_near_miss() {
    for (rule, fire, miss) in DOCKER_CASES {
        let dir = Dir::new(&[("Dockerfile", fire), (".dockerignore", ".git\n")]);
        assert_eq!(rules_found(&dir, &["--rule", rule, "Dockerfile"]), [*rule], "{rule} should fire once on:\n{fire}");
        let dir = Dir::new(&[("Dockerfile", miss), (".dockerignore", ".git\n")]);
        assert_eq!(rules_found(&dir, &["--rule", rule, "Dockerfile"]), Vec::<String>::new(), "{rule} should not fire on:\n{miss}");
    }
    // A whole build context copied: only without a .dockerignore.
    let copy_all = "FROM alpine:3.20\nCOPY . /app\nUSER 1\n";
    let dir = Dir::new(&[("api/Dockerfile", copy_all)]);
    assert_eq!(rules_found(&dir, &["--rule", "dockerignore-missing", "api"]), ["dockerignore-missing"]);
    dir.write("api/.dockerignore", ".git\n.env\n");
    assert_eq!(rules_found(&dir, &["--rule", "dockerignore-missing", "api"]), Vec::<String>::new());
}

#[test]
fn findings_name_the_place_and_never_the_secret() {
    let text = manifest(
        &[(ENV, "- {name: DB_PASSWORD, value: s3cr3t-Passw0rd}")],
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: shop}\ndata: {password: VHIwdWI0ZG9yLWFuZC0z}\n",
    );
    let dir =
        Dir::new(&[("k8s/app.yaml", &text), ("Dockerfile", "FROM alpine:3.20\nENV API_TOKEN=ghp_abcdefghijklmnopqrstuvwx\nUSER 1\n"), (".dockerignore", "x")]);
    for format in ["text", "json", "sarif"] {
        let out = dir.lint(&["-o", format]);
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        for secret in ["s3cr3t-Passw0rd", "VHIwdWI0ZG9yLWFuZC0z", "Tr0ub4dor-and-3", "ghp_abcdefghijklmnopqrstuvwx"] {
            assert!(!all.contains(secret), "{format} output shows a secret:\n{all}");
        }
        assert_eq!(out.status.code(), Some(1), "errors found: exit 1");
    }
    let report = json(&dir.lint(&["-o", "json"]));
    let env = report["findings"].as_array().unwrap().iter().find(|f| f["rule"] == "secret-in-env").expect("secret-in-env");
    assert_eq!(env["file"], "k8s/app.yaml");
    assert_eq!(env["line"], 24, "the line of the env entry");
    assert_eq!(env["object"], "Deployment shop/api");
    assert_eq!(env["container"], "api");
    assert_eq!(env["field"], "spec.template.spec.containers[0].env[0].value");
    assert!(env["message"].as_str().unwrap().contains("DB_PASSWORD"), "{env}");
    let committed = report["findings"].as_array().unwrap().iter().find(|f| f["rule"] == "secret-committed").expect("secret-committed");
    assert_eq!((committed["file"].as_str(), committed["line"].as_u64()), (Some("k8s/app.yaml"), Some(36)));
    let docker = report["findings"].as_array().unwrap().iter().find(|f| f["rule"] == "dockerfile-secret").expect("dockerfile-secret");
    assert_eq!((docker["file"].as_str(), docker["line"].as_u64()), (Some("Dockerfile"), Some(2)));
}

#[test]
fn a_secret_in_a_git_ignored_file_is_not_committed() {
    let Some(git) = common::which("git") else { return eprintln!("skipped: git is not installed") };
    let secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: Tr0ub4dor-and-3}\n";
    let dir = Dir::new(&[("secrets.yaml", secret), (".gitignore", "secrets.yaml\n")]);
    assert!(std::process::Command::new(git).arg("init").arg("-q").current_dir(dir.path()).status().unwrap().success());
    assert_eq!(rules_found(&dir, &["--rule", "secret-committed", "secrets.yaml"]), Vec::<String>::new());
    dir.write(".gitignore", "other.yaml\n");
    assert_eq!(rules_found(&dir, &["--rule", "secret-committed", "secrets.yaml"]), ["secret-committed"]);
}

#[test]
fn configuration_and_annotations_turn_rules_off_and_unknown_rules_are_errors() {
    let fire = manifest(&[("readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false"), ("limits: {memory: 128Mi}", "limits: {}")], "");
    let dir = Dir::new(&[("app.yaml", &fire)]);
    assert_eq!(rules_found(&dir, &[]), ["memory-limit-missing", "writable-root-fs"]);
    assert_eq!(rules_found(&dir, &["--disable", "writable-root-fs"]), ["memory-limit-missing"]);
    // kdeck.yaml: disable one, make the other an error.
    dir.write("kdeck.yaml", "lint:\n  disable: [writable-root-fs]\n  severity: {memory-limit-missing: error}\n");
    let report = json(&dir.lint(&["-o", "json", "app.yaml"]));
    assert_eq!(report["findings"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!((report["findings"][0]["rule"].as_str(), report["findings"][0]["severity"].as_str()), (Some("memory-limit-missing"), Some("error")));
    assert_eq!(dir.lint(&["app.yaml"]).status.code(), Some(1), "an error now: exit 1");
    std::fs::remove_file(dir.path().join("kdeck.yaml")).unwrap();
    // The annotation, with a reason after '#'.
    let ignored = fire.replacen(
        "metadata: {name: api, namespace: shop}",
        "metadata:\n  name: api\n  namespace: shop\n  annotations: {kdeck.dev/lint-ignore: \"writable-root-fs, memory-limit-missing # the cache writes to /var/cache\"}",
        1,
    );
    dir.write("app.yaml", &ignored);
    assert_eq!(rules_found(&dir, &[]), Vec::<String>::new());
    assert!(dir.lint(&["--fail-on", "warning"]).status.success());
    // Unknown names: in the annotation, --rule, --disable and kdeck.yaml — exit 2, the rest still linted.
    dir.write("app.yaml", &ignored.replace("memory-limit-missing #", "memory-limit-mising #"));
    let out = dir.lint(&["-o", "json"]);
    assert_eq!(out.status.code(), Some(2));
    let report = json(&out);
    assert_eq!(report["findings"][0]["rule"], "memory-limit-missing", "still linted: {report}");
    assert!(report["errors"][0]["message"].as_str().unwrap().contains("did you mean memory-limit-missing"), "{report}");
    dir.write("app.yaml", &fire);
    for args in [&["--rule", "no-such-rule"][..], &["--disable", "no-such-rule"]] {
        let out = dir.lint(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("unknown rule \"no-such-rule\""), "{}", String::from_utf8_lossy(&out.stderr));
    }
    dir.write("kdeck.yaml", "lint: {severity: {no-such-rule: info}}\n");
    assert_eq!(dir.lint(&["app.yaml"]).status.code(), Some(2));
}

#[test]
fn bad_inputs_are_named_and_exit_2_while_the_rest_is_linted() {
    let dir = Dir::new(&[
        ("good.yaml", &manifest(&[("readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false")], "")),
        ("broken.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a\ndata: x\n"),
        ("Dockerfile", "FROM alpine:3.20\nRUNN echo\n"),
    ]);
    let out = dir.lint(&["-o", "json", ".", "missing.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let report = json(&out);
    assert_eq!(report["findings"][0]["rule"], "writable-root-fs", "the good file is still linted: {report}");
    let errors: Vec<String> =
        report["errors"].as_array().unwrap().iter().map(|e| format!("{}: {}", e["input"].as_str().unwrap(), e["message"].as_str().unwrap())).collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(errors[0].starts_with("Dockerfile:2: Dockerfile syntax: unknown instruction \"RUNN\""), "{errors:?}");
    let place: Vec<&str> = errors[1].split(": ").next().unwrap().split(':').collect();
    assert!(place.len() == 3 && place[0] == "broken.yaml" && place[1..].iter().all(|n| n.parse::<u32>().is_ok()), "file:line:column: {errors:?}");
    assert!(errors[1].contains(": not valid YAML"), "{errors:?}");
    assert!(errors[2].starts_with("missing.yaml: does not exist"), "{errors:?}");
    let stderr = String::from_utf8_lossy(&dir.lint(&["."]).stderr).to_string();
    assert!(stderr.contains("could not lint 2 input(s)") && stderr.contains("broken.yaml:") && stderr.contains("Dockerfile:2"), "{stderr}");
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lint")
}

/// helm, and kustomize or kubectl, on PATH; else skipped (a failure in CI, which installs them).
fn tools() -> bool {
    if common::which("helm").is_some() && (common::which("kubectl").is_some() || common::which("kustomize").is_some()) {
        return true;
    }
    common::installed("helm, and kubectl or kustomize,", None).is_some()
}

#[test]
fn the_fixtures_produce_exactly_the_golden_findings() {
    if !tools() {
        return;
    }
    let out = lint_in(&fixtures(), &["-o", "json", "."]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let report = json(&out);
    let golden: Value = serde_json::from_str(&std::fs::read_to_string(fixtures().join("golden.json")).unwrap()).unwrap();
    let got = serde_json::to_string_pretty(&report["findings"]).unwrap();
    assert_eq!(report["findings"], golden, "regenerate with: cd crates/kdeck/tests/fixtures/lint && kdeck lint -o json . | jq .findings > golden.json\n{got}");
    assert_eq!(report["errors"], serde_json::json!([]));
}

#[test]
fn sarif_locates_each_finding_at_its_file_and_line() {
    let dir = Dir::new(&[("k8s/app.yaml", &manifest(&[("targetPort: http", "targetPort: web")], ""))]);
    let sarif = json(&dir.lint(&["-o", "sarif"]));
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["ruleId"], "service-target-port");
    assert_eq!(results[0]["level"], "error");
    let location = &results[0]["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], "k8s/app.yaml");
    assert_eq!(location["region"]["startLine"], 31, "the targetPort's line");
    assert_eq!(sarif["runs"][0]["tool"]["driver"]["rules"][0]["id"], "service-target-port");
}

#[test]
fn the_examples_lint_clean_at_fail_on_warning() {
    if !tools() {
        return;
    }
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    // production-ready as a directory and as a stack; the others as the stacks they are (linted
    // as bare directories, the Secrets their stack.secrets create are missing).
    for (example, directory_too) in [("production-ready", true), ("staging-infra", false), ("taskflow", false)] {
        let dir = examples.join(example);
        let runs: &[&[&str]] =
            if directory_too { &[&["--fail-on", "warning", "."], &["--fail-on", "warning", "--stack"]] } else { &[&["--fail-on", "warning", "--stack"]] };
        for args in runs {
            let out = lint_in(&dir, args);
            assert!(String::from_utf8_lossy(&out.stdout).contains(" object(s)"), "examples/{example}: nothing linted");
            assert!(
                out.status.success(),
                "examples/{example}: kdeck lint {args:?}:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

#[test]
fn helm_lint_findings_are_included() {
    if !tools() {
        return;
    }
    let template = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: {{ .Release.Name }}}\ndata: {mode: {{ .Values.mode | quote }}}\n";
    let chart = "apiVersion: v2\nname: c\nversion: 0.1.0\n";
    let dir = Dir::new(&[("c/Chart.yaml", chart), ("c/values.yaml", "mode: fast\n"), ("c/templates/cm.yaml", template)]);
    assert_eq!(rules_found(&dir, &["--rule", "helm-lint", "c"]), ["helm-lint"], "helm: icon is recommended");
    dir.write("c/Chart.yaml", &format!("{chart}icon: https://example.com/icon.png\n"));
    assert_eq!(rules_found(&dir, &["--rule", "helm-lint", "c"]), Vec::<String>::new());
    // --set reaches helm template: the value lands in the rendered ConfigMap.
    let found = rules_found(&dir, &["--rule", "secret-in-configmap", "--set", "mode=postgres://u:pw-123456@db/app", "c"]);
    assert_eq!(found, ["secret-in-configmap"]);
}

#[test]
fn the_stack_is_linted_as_kdeck_up_renders_it() {
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec:\n  selector: {matchLabels: {app: api}}\n  template:\n    metadata: {labels: {app: api}}\n    spec:\n      containers:\n        - name: api\n          image: shop/api:1.0.0\n          env:\n            - {name: DB_PASSWORD, valueFrom: {secretKeyRef: {name: db, key: password}}}\n";
    let project = "stack:\n  name: shop\n  images: [{name: \"shop/api:1.0.0\", context: api}]\n  deploy:\n    - {namespace: shop, manifests: [k8s/*.yaml]}\n  secrets:\n    - {name: db, namespace: shop, generate: {password: 24}}\n";
    let dir = Dir::new(&[("kdeck.yaml", project), ("k8s/api.yaml", deployment), ("api/Dockerfile", "FROM alpine:3.20\nUSER 10001\n")]);
    let rules = ["run-as-root", "missing-secret", "namespace-missing", "dockerfile-root-user"].join(",");
    // The image's Dockerfile runs as 10001, stack.secrets makes db, kdeck up creates namespace shop.
    assert_eq!(rules_found(&dir, &["--stack", "--rule", &rules]), Vec::<String>::new());
    dir.write("api/Dockerfile", "FROM alpine:3.20\n");
    dir.write("kdeck.yaml", &project.replace("{name: db,", "{name: other,"));
    assert_eq!(rules_found(&dir, &["--stack", "--rule", &rules]), ["dockerfile-root-user", "run-as-root", "missing-secret"]);

    // The ingress controller kdeck up installs brings its IngressClass; without one, nothing does.
    let ingress = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web}\nspec:\n  ingressClassName: nginx\n  defaultBackend: {service: {name: api, port: {number: 80}}}\n";
    dir.write("k8s/ingress.yaml", ingress);
    let with = |ingress: &str| {
        project.replace("stack:\n  name: shop\n", &format!("stack:\n  name: shop\n  cluster: {{provider: kind, name: shop, ingress: {ingress}}}\n"))
    };
    dir.write("kdeck.yaml", &with("nginx"));
    assert_eq!(rules_found(&dir, &["--stack", "--rule", "ingress-class-missing"]), Vec::<String>::new());
    dir.write("kdeck.yaml", &with("none"));
    assert_eq!(rules_found(&dir, &["--stack", "--rule", "ingress-class-missing"]), ["ingress-class-missing"]);
}

#[test]
fn charts_that_do_not_render_and_kustomizations_that_do_not_build_are_named() {
    if !tools() {
        return;
    }
    let dir = Dir::new(&[
        ("chart/Chart.yaml", "apiVersion: v2\nname: chart\nversion: 0.1.0\n"),
        ("chart/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: {{ .Values.missing.name }}}\n"),
        ("kustomize/kustomization.yaml", "resources: [nothing-here.yaml]\n"),
        ("ok/app.yaml", &manifest(&[("readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false")], "")),
    ]);
    let out = dir.lint(&["-o", "json", "chart", "kustomize", "ok"]);
    assert_eq!(out.status.code(), Some(2));
    let report = json(&out);
    assert_eq!(report["findings"].as_array().unwrap().iter().filter(|f| f["rule"] == "writable-root-fs").count(), 1, "the rest is linted: {report}");
    let errors = report["errors"].as_array().unwrap();
    let about = |input: &str| errors.iter().find(|e| e["input"] == input).map(|e| e["message"].as_str().unwrap().to_string());
    let chart = about("chart").expect("the chart is named");
    assert!(chart.contains("helm template") && chart.contains("nil pointer"), "helm's message: {chart}");
    let kustomize = about("kustomize").expect("the kustomization is named");
    assert!(kustomize.contains("kustomize build") && kustomize.contains("nothing-here.yaml"), "kustomize's message: {kustomize}");
}

#[test]
fn the_readme_documents_every_rule() {
    let out = lint_in(Path::new("."), &["--list-rules"]);
    assert!(out.status.success());
    let listed = String::from_utf8_lossy(&out.stdout).to_string();
    let ids: Vec<&str> = listed.lines().skip(1).filter_map(|l| l.split_whitespace().next()).collect();
    assert!(ids.len() >= 37, "{listed}");
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "rule ids are unique");
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md")).unwrap();
    for id in ids {
        assert!(readme.contains(&format!("| `{id}` |")), "the README's rule table lacks {id}");
    }
}
