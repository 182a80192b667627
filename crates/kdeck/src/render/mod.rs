//! Rendering: kustomize directories, Helm charts and plain manifest files turned
//! into the Kubernetes objects they stand for, each with where it came from.
//! Shared by the stack commands (`up`, `render`, `down`) and by `kdeck lint`, which
//! also wants each object's file and line ([`located`]).
//!
//! kdeck shells out here only to the ecosystem's own tools: `kustomize build`
//! (or `kubectl kustomize` when only kubectl is installed) and `helm template`.
//! Arguments are passed as argv, never through a shell.

pub mod located;
pub mod tools;

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, Result};
use crate::project::stack::{DeployStep, HelmStep, Stack};
pub use located::Origin;
pub use tools::{Tool, which};

/// One rendered object and its origin (`kustomize k8s/overlays/local`).
#[derive(Clone, Debug)]
pub struct Manifest {
    pub object: Value,
    pub source: String,
    /// The file and lines it was read from, when parsed with [`parse_located`].
    pub origin: Option<Origin>,
}

impl Manifest {
    pub fn kind(&self) -> &str {
        self.object["kind"].as_str().unwrap_or_default()
    }
    pub fn name(&self) -> &str {
        self.object["metadata"]["name"].as_str().unwrap_or_default()
    }
    pub fn namespace(&self) -> Option<&str> {
        self.object["metadata"]["namespace"].as_str()
    }
    /// `Deployment/api -n shop`, `Namespace/shop`.
    pub fn describe(&self) -> String {
        describe(&self.object)
    }
}

/// `Kind/name` with ` -n namespace` for namespaced objects.
pub fn describe(object: &Value) -> String {
    let kind = object["kind"].as_str().unwrap_or("?");
    let name = object["metadata"]["name"].as_str().unwrap_or("?");
    match object["metadata"]["namespace"].as_str() {
        Some(ns) => format!("{kind}/{name} -n {ns}"),
        None => format!("{kind}/{name}"),
    }
}

/// A Helm step, resolved: what `helm upgrade --install` gets.
#[derive(Clone, Debug)]
pub struct HelmRelease {
    pub release: String,
    pub namespace: String,
    /// The chart: an absolute directory, or a reference helm resolves (`repo/chart`, `oci://…`).
    pub chart: String,
    pub version: Option<String>,
    pub values: Vec<PathBuf>,
    pub set: Vec<(String, String)>,
}

impl HelmRelease {
    /// The arguments after `helm template`/`helm upgrade --install`: release, chart and values.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec![self.release.clone(), self.chart.clone(), "--namespace".into(), self.namespace.clone()];
        if let Some(version) = &self.version {
            args.extend(["--version".into(), version.clone()]);
        }
        for file in &self.values {
            args.extend(["--values".into(), file.display().to_string()]);
        }
        for (key, value) in &self.set {
            args.extend(["--set".into(), format!("{key}={value}")]);
        }
        args
    }
}

/// What one deploy step renders to.
#[derive(Clone, Debug)]
pub struct RenderedStep {
    /// `kustomize k8s/overlays/local`, `helm charts/backend (release backend)`, `manifests k8s/extra/*.yaml`.
    pub title: String,
    /// The objects: applied by kdeck, or (for Helm) installed by helm and waited on by kdeck.
    pub manifests: Vec<Manifest>,
    /// Set for a Helm step: Helm's objects are Helm's.
    pub helm: Option<HelmRelease>,
    pub wait: bool,
}

/// Renders every deploy step of `stack`, paths relative to `root` (kdeck.yaml's directory).
pub fn render(root: &Path, stack: &Stack) -> Result<Vec<RenderedStep>> {
    stack.deploy.iter().enumerate().map(|(index, step)| render_step(root, index, step)).collect()
}

pub fn render_step(root: &Path, index: usize, step: &DeployStep) -> Result<RenderedStep> {
    let place = format!("stack.deploy[{index}]");
    let namespace = step.namespace.as_deref();
    if let Some(ns) = namespace {
        crate::cluster::names::validate_namespace(ns).map_err(|e| Error::usage(format!("{place}.namespace: {}", e.message)))?;
    }
    let wait = step.wait.unwrap_or(true);
    match (&step.kustomize, &step.helm, &step.manifests) {
        (Some(dir), None, None) => {
            let path = existing(root, dir, &format!("{place}.kustomize"))?;
            let source = format!("kustomize {dir}");
            Ok(RenderedStep { manifests: kustomize(&path, &source, namespace)?, title: source, helm: None, wait })
        }
        (None, Some(helm), None) => {
            let release = helm_release(root, &place, helm, namespace)?;
            let source = format!("helm {} (release {})", helm.chart, release.release);
            let manifests = helm_template(&release, &source)?;
            Ok(RenderedStep { title: source, manifests, helm: Some(release), wait })
        }
        (None, None, Some(patterns)) => {
            let mut manifests = Vec::new();
            for (i, pattern) in patterns.iter().enumerate() {
                let files = glob(root, pattern).map_err(|e| Error::usage(format!("{place}.manifests[{i}]: {e}")))?;
                if files.is_empty() {
                    return Err(Error::usage(format!("{place}.manifests[{i}]: no file matches {pattern:?} (relative to {})", root.display())));
                }
                for file in files {
                    let text = std::fs::read_to_string(&file).map_err(|e| Error::usage(format!("cannot read {}: {e}", file.display())))?;
                    manifests.extend(parse_located(&text, &located::shown(&file), namespace)?);
                }
            }
            Ok(RenderedStep { title: format!("manifests {}", patterns.join(", ")), manifests, helm: None, wait })
        }
        _ => Err(Error::usage(format!("{place}: a deploy step takes exactly one of kustomize, helm or manifests"))),
    }
}

/// `kustomize build dir`: each object located in the resource file that declares
/// it, when one of the kustomization's own files does (else the kustomization).
pub fn kustomize(dir: &Path, source: &str, namespace: Option<&str>) -> Result<Vec<Manifest>> {
    let text = tools::kustomize_build(dir)?;
    let mut manifests = parse_located(&text, source, namespace)?;
    located::kustomize_origins(dir, &mut manifests);
    Ok(manifests)
}

/// `helm template`: each object located in the template helm says it came from (`# Source:`).
pub fn helm_template(release: &HelmRelease, source: &str) -> Result<Vec<Manifest>> {
    let text = tools::helm_template(release)?;
    let mut manifests = parse_located(&text, source, Some(&release.namespace))?;
    located::helm_origins(&text, Path::new(&release.chart), &mut manifests);
    Ok(manifests)
}

fn helm_release(root: &Path, place: &str, helm: &HelmStep, namespace: Option<&str>) -> Result<HelmRelease> {
    let local = root.join(&helm.chart);
    // A path that exists is a chart directory (or archive); `repo/chart` and `oci://` are helm's to resolve.
    let looks_local = local.exists() || helm.chart.starts_with('.') || helm.chart.starts_with('/');
    let chart = if looks_local { existing(root, &helm.chart, &format!("{place}.helm.chart"))?.display().to_string() } else { helm.chart.clone() };
    let release = match &helm.release {
        Some(r) => r.clone(),
        None => Path::new(&helm.chart).file_name().and_then(|n| n.to_str()).unwrap_or("release").to_string(),
    };
    crate::cluster::names::validate_name("Helm release", &release).map_err(|e| Error::usage(format!("{place}.helm.release: {}", e.message)))?;
    let namespace = helm.namespace.as_deref().or(namespace).unwrap_or("default").to_string();
    let mut values = Vec::new();
    for (i, file) in helm.values.iter().enumerate() {
        values.push(existing(root, file, &format!("{place}.helm.values[{i}]"))?);
    }
    Ok(HelmRelease { release, namespace, chart, version: helm.version.clone(), values, set: helm.set.iter().map(|(k, v)| (k.clone(), v.clone())).collect() })
}

/// `root/relative`, which must exist.
fn existing(root: &Path, relative: &str, place: &str) -> Result<PathBuf> {
    let path = root.join(relative);
    if path.exists() { Ok(path) } else { Err(Error::usage(format!("{place}: {relative} does not exist (relative to {})", root.display()))) }
}

/// Parses multi-document YAML into objects (empty documents and `List`s
/// flattened), giving namespaced objects without a namespace `namespace`.
pub fn parse(text: &str, source: &str, namespace: Option<&str>) -> Result<Vec<Manifest>> {
    let docs: Vec<Option<Value>> = serde_saphyr::from_multiple_with_options(text, options(text))
        .map_err(|e| Error::usage(format!("{source}: not valid YAML: {}", first_line(&e.to_string()))))?;
    let mut items = Vec::new();
    for doc in docs.into_iter().flatten() {
        if doc["kind"].as_str().is_some_and(|k| k.ends_with("List")) && doc["items"].is_array() {
            items.extend(doc["items"].as_array().cloned().unwrap_or_default().into_iter().map(|o| (o, None)));
        } else {
            items.push((doc, None));
        }
    }
    objects(items, source, namespace)
}

/// As [`parse`], each object with its [`Origin`] in `file` (the name shown): its
/// document's line and its fields' lines. Invalid YAML is reported as `file:line:column`.
pub fn parse_located(text: &str, file: &str, namespace: Option<&str>) -> Result<Vec<Manifest>> {
    let docs: Vec<Option<serde_saphyr::Spanned<located::Node>>> = serde_saphyr::from_multiple_with_options(text, options(text)).map_err(|e| {
        let at = e.location().map(|l| format!(":{}:{}", l.line(), l.column())).unwrap_or_default();
        Error::usage(format!("{file}{at}: not valid YAML: {}", first_line(&e.to_string())))
    })?;
    let origin = |node: &serde_saphyr::Spanned<located::Node>| {
        let mut fields = std::collections::BTreeMap::new();
        located::Node::lines(node, &mut String::new(), &mut fields);
        Origin { file: file.to_string(), line: located::line(node), fields: std::sync::Arc::new(fields) }
    };
    let mut items = Vec::new();
    for doc in docs.into_iter().flatten() {
        let value = doc.value.to_value();
        if value["kind"].as_str().is_some_and(|k| k.ends_with("List")) && value["items"].is_array() {
            if let located::Node::Map(entries) = &doc.value
                && let Some((_, list)) = entries.iter().find(|(k, _)| k == "items")
                && let located::Node::Seq(list) = &list.value
            {
                items.extend(list.iter().map(|item| (item.value.to_value(), Some(origin(item)))));
            }
        } else {
            items.push((value, Some(origin(&doc))));
        }
    }
    objects(items, file, namespace)
}

/// The parser's budget, grown with the input: its defaults (1,024 documents,
/// 250,000 nodes) stop renders of a few thousand objects, which charts and
/// generated manifests reach. What stays bounded: per byte of input, and aliases
/// (the expansion attacks the budget is for) at their default caps.
fn options(text: &str) -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_documents = budget.max_documents.max(text.len() / 8);
    budget.max_nodes = budget.max_nodes.max(text.len());
    budget.max_events = budget.max_events.max(text.len() * 2);
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options
}

/// Checks parsed documents are objects and defaults their namespace.
fn objects(items: Vec<(Value, Option<Origin>)>, source: &str, namespace: Option<&str>) -> Result<Vec<Manifest>> {
    let mut out = Vec::new();
    for (mut object, origin) in items {
        if object.is_null() {
            continue;
        }
        let at = origin.as_ref().map(|o| format!(":{}", o.line)).unwrap_or_default();
        if !object.is_object() || object["apiVersion"].as_str().is_none() || object["kind"].as_str().is_none() {
            return Err(Error::usage(format!("{source}{at}: a document without apiVersion and kind")));
        }
        if object["metadata"]["name"].as_str().is_none_or(str::is_empty) {
            return Err(Error::usage(format!("{source}{at}: a {} without metadata.name", object["kind"].as_str().unwrap_or("?"))));
        }
        if let Some(ns) = namespace
            && object["metadata"]["namespace"].is_null()
            && !cluster_scoped(object["kind"].as_str().unwrap_or_default())
        {
            object["metadata"]["namespace"] = Value::String(ns.to_string());
        }
        out.push(Manifest { object, source: source.to_string(), origin });
    }
    Ok(out)
}

/// Built-in kinds that live outside namespaces (the cluster's discovery decides
/// for the rest when applying).
pub fn cluster_scoped(kind: &str) -> bool {
    matches!(
        kind,
        "Namespace"
            | "Node"
            | "PersistentVolume"
            | "StorageClass"
            | "CustomResourceDefinition"
            | "ClusterRole"
            | "ClusterRoleBinding"
            | "PriorityClass"
            | "IngressClass"
            | "RuntimeClass"
            | "CSIDriver"
            | "APIService"
            | "ValidatingWebhookConfiguration"
            | "MutatingWebhookConfiguration"
            | "ValidatingAdmissionPolicy"
            | "ValidatingAdmissionPolicyBinding"
    )
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}

/// Files matching `pattern` (relative to `root`; `*` and `?` in the last component
/// only), sorted.
fn glob(root: &Path, pattern: &str) -> std::result::Result<Vec<PathBuf>, String> {
    let path = root.join(pattern);
    let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| format!("{pattern:?} names no file"))?;
    if !name.contains(['*', '?']) {
        return Ok(if path.is_file() { vec![path] } else { Vec::new() });
    }
    let dir = path.parent().unwrap_or(root);
    if dir.to_string_lossy().contains(['*', '?']) {
        return Err(format!("{pattern:?}: wildcards are allowed in the file name only"));
    }
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> =
        entries.flatten().map(|e| e.path()).filter(|p| p.is_file() && p.file_name().and_then(|n| n.to_str()).is_some_and(|n| wildcard(name, n))).collect();
    files.sort();
    Ok(files)
}

/// Shell-style matching of `*` and `?`.
fn wildcard(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    go(&pattern.chars().collect::<Vec<_>>(), &name.chars().collect::<Vec<_>>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_lists_and_default_namespaces() {
        let text = "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Service, metadata: {name: s, namespace: other}}\n";
        let objects = parse(text, "x.yaml", Some("shop")).unwrap();
        let described: Vec<String> = objects.iter().map(Manifest::describe).collect();
        assert_eq!(described, ["ConfigMap/a -n shop", "Namespace/shop", "Service/s -n other"]);
    }

    #[test]
    fn documents_without_kind_or_name_are_refused() {
        assert!(parse("apiVersion: v1\nmetadata: {name: a}\n", "x.yaml", None).unwrap_err().message.contains("without apiVersion and kind"));
        assert!(parse("apiVersion: v1\nkind: ConfigMap\n", "x.yaml", None).unwrap_err().message.contains("ConfigMap without metadata.name"));
        assert!(parse("a: [", "x.yaml", None).unwrap_err().message.starts_with("x.yaml: not valid YAML"));
    }

    #[test]
    fn located_objects_carry_their_document_and_field_lines() {
        let text = "# a comment\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Service, metadata: {name: s}, spec: {ports: [{port: 80}]}}\n";
        let objects = parse_located(text, "x.yaml", None).unwrap();
        let origin = objects[0].origin.as_ref().unwrap();
        assert_eq!((origin.file.as_str(), origin.line_of("data.k"), origin.line_of("metadata.name")), ("x.yaml", 7, 5));
        assert_eq!(origin.line_of("spec.template.missing"), origin.line, "a path not written: the document's line");
        assert_eq!(objects[1].origin.as_ref().unwrap().line_of("spec.ports[0].port"), 12, "List items are located too");
        let err = parse_located("a: 1\nb: [\n", "y.yaml", None).unwrap_err();
        assert!(err.message.starts_with("y.yaml:") && err.message.contains(": not valid YAML"), "{}", err.message);
    }

    #[test]
    fn renders_of_thousands_of_objects_parse() {
        let text: String = (0..3000).map(|i| format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}}}\ndata: {{a: b, c: d}}\n")).collect();
        assert_eq!(parse(&text, "big", None).unwrap().len(), 3000);
        assert_eq!(parse_located(&text, "big", None).unwrap().len(), 3000);
    }

    #[test]
    fn wildcards() {
        assert!(wildcard("*.yaml", "a.yaml"));
        assert!(wildcard("a?.yml", "ab.yml"));
        assert!(!wildcard("*.yaml", "a.yml"));
        assert!(wildcard("*", ""));
    }

    #[test]
    fn helm_arguments() {
        let release = HelmRelease {
            release: "api".into(),
            namespace: "shop".into(),
            chart: "/c".into(),
            version: None,
            values: vec!["/v.yaml".into()],
            set: vec![("replicaCount".into(), "1".into())],
        };
        assert_eq!(release.args().join(" "), "api /c --namespace shop --values /v.yaml --set replicaCount=1");
    }
}
