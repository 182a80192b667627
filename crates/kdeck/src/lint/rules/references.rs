//! References inside one render: Services to workloads and their named ports,
//! Ingresses to Services and classes, pods to ConfigMaps, Secrets and their keys,
//! claims to StorageClasses, objects to Namespaces, probes to named ports.
//! Label and port matching are the ones diagnose uses on a live cluster.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

use super::{Render, Sink, at, containers, namespace, pod_labels, pod_paths, pod_spec};
use crate::diagnose::analyzers::network::{declares_port, port_names};
use crate::render::Manifest;
use crate::stack::readiness::selector;

/// Namespaces every cluster has.
const BUILT_IN_NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];

/// Keys of a ConfigMap or Secret of the render; None: any key may be there (made by an ExternalSecret's dataFrom).
type Keys = Option<BTreeSet<String>>;

#[derive(Default)]
struct Index<'a> {
    config_maps: BTreeMap<(&'a str, &'a str), Keys>,
    secrets: BTreeMap<(&'a str, &'a str), Keys>,
    services: BTreeMap<(&'a str, &'a str), &'a Manifest>,
    storage_classes: BTreeSet<&'a str>,
    ingress_classes: BTreeSet<&'a str>,
    namespaces: BTreeSet<&'a str>,
}

fn keys(object: &Value, fields: &[&str]) -> Keys {
    Some(fields.iter().flat_map(|f| object[*f].as_object().into_iter().flatten().map(|(k, _)| k.clone())).collect())
}

fn index(render: &Render) -> Index<'_> {
    let mut ix = Index::default();
    for o in &render.objects {
        let key = (namespace(o), o.name());
        match o.kind() {
            "ConfigMap" => {
                ix.config_maps.insert(key, keys(&o.object, &["data", "binaryData"]));
            }
            "Secret" => {
                ix.secrets.insert(key, keys(&o.object, &["data", "stringData"]));
            }
            "ExternalSecret" => {
                let target = o.object["spec"]["target"]["name"].as_str().unwrap_or(o.name());
                let data = o.object["spec"]["data"].as_array();
                let known = if o.object["spec"]["dataFrom"].is_null() && o.object["spec"]["target"]["template"].is_null() {
                    Some(data.into_iter().flatten().filter_map(|d| d["secretKey"].as_str().map(str::to_string)).collect())
                } else {
                    None
                };
                ix.secrets.insert((key.0, target), known);
            }
            "SealedSecret" => {
                let target = o.object["spec"]["template"]["metadata"]["name"].as_str().unwrap_or(o.name());
                ix.secrets.insert((key.0, target), keys(&o.object["spec"], &["encryptedData"]));
            }
            "Service" => {
                ix.services.insert(key, o);
            }
            "StorageClass" => {
                ix.storage_classes.insert(o.name());
            }
            "IngressClass" => {
                ix.ingress_classes.insert(o.name());
            }
            "Namespace" => {
                ix.namespaces.insert(o.name());
            }
            _ => {}
        }
    }
    ix.ingress_classes.extend(render.ingress_classes_elsewhere.iter().map(String::as_str));
    ix
}

/// The workloads of a render by namespace, and by (namespace, label, value) of their
/// pod template: a Service's candidates are those with its selector's first pair.
#[derive(Default)]
struct Workloads<'a> {
    by_namespace: HashMap<&'a str, Vec<&'a Manifest>>,
    by_label: HashMap<(&'a str, &'a str, &'a str), Vec<&'a Manifest>>,
}

impl<'a> Workloads<'a> {
    fn of(render: &'a Render) -> Self {
        let mut index = Workloads::default();
        for w in render.objects.iter().filter(|o| pod_spec(o).is_some()) {
            let ns = namespace(w);
            index.by_namespace.entry(ns).or_default().push(w);
            for (key, value) in pod_labels(w).as_object().into_iter().flatten() {
                if let Some(value) = value.as_str() {
                    index.by_label.entry((ns, key.as_str(), value)).or_default().push(w);
                }
            }
        }
        index
    }
}

pub fn check(render: &Render, sink: &mut Sink<'_>) {
    let ix = index(render);
    let workloads = Workloads::of(render);
    let mut namespace_reported = BTreeSet::new();
    for object in &render.objects {
        let ns = namespace(object);
        if !ns.is_empty()
            && !ix.namespaces.contains(ns)
            && !render.namespaces_elsewhere.contains(ns)
            && !BUILT_IN_NAMESPACES.contains(&ns)
            && namespace_reported.insert(ns)
        {
            sink.object("namespace-missing", object, "metadata.namespace", None, format!("namespace {ns} is used but the render does not create it"));
        }
        match object.kind() {
            "Service" => service(object, &workloads, sink),
            "Ingress" => ingress(object, &ix, sink),
            "PersistentVolumeClaim" => claim(object, "spec", &ix, sink),
            _ => {}
        }
        if object.kind() == "StatefulSet" {
            for i in 0..object.object["spec"]["volumeClaimTemplates"].as_array().map_or(0, Vec::len) {
                claim(object, &format!("spec.volumeClaimTemplates[{i}].spec"), &ix, sink);
            }
        }
        if pod_spec(object).is_some() {
            sources(render, object, &ix, sink);
            probes(object, sink);
        }
    }
}

/// The pod template (an object with `metadata` and `spec`) of a workload.
fn template(object: &Manifest) -> &Value {
    match pod_paths(object.kind()) {
        Some(("spec", _)) => &object.object,
        Some((spec, _)) => at(&object.object, spec.strip_suffix(".spec").unwrap_or(spec)),
        None => &Value::Null,
    }
}

fn service(service: &Manifest, workloads: &Workloads<'_>, sink: &mut Sink<'_>) {
    let Some(wanted) = service.object["spec"]["selector"].as_object().filter(|s| !s.is_empty()) else { return };
    let ns = namespace(service);
    let (key, value) = wanted.iter().next().map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default())).unwrap_or_default();
    let candidates = workloads.by_label.get(&(ns, key, value)).map(Vec::as_slice).unwrap_or_default();
    let selected: Vec<&&Manifest> = candidates.iter().filter(|w| selector::map_selects(wanted, pod_labels(w))).collect();
    if selected.is_empty() {
        let in_ns = workloads.by_namespace.get(ns).map(Vec::as_slice).unwrap_or_default();
        let mut nearest: Vec<String> = in_ns
            .iter()
            .filter_map(|w| {
                let labels = pod_labels(w);
                let pairs: Vec<String> = wanted.keys().filter_map(|k| labels[k].as_str().map(|v| format!("{k}={v}"))).collect();
                (!pairs.is_empty()).then(|| format!("{} ({} {})", pairs.join(","), w.kind(), w.name()))
            })
            .collect();
        nearest.truncate(5);
        let near = if nearest.is_empty() { String::new() } else { format!("; nearest: {}", nearest.join("; ")) };
        sink.object(
            "service-selects-nothing",
            service,
            "spec.selector",
            None,
            format!("selector {} matches no workload of the render{near}", selector::map_text(wanted)),
        );
        return;
    }
    for (i, port) in service.object["spec"]["ports"].as_array().into_iter().flatten().enumerate() {
        let Some(target) = port["targetPort"].as_str() else { continue };
        if !selected.iter().any(|w| declares_port(template(w), target)) {
            let declared: Vec<String> = selected.iter().flat_map(|w| port_names(template(w))).collect();
            let declared = if declared.is_empty() { "none".to_string() } else { declared.join(", ") };
            sink.object(
                "service-target-port",
                service,
                &format!("spec.ports[{i}].targetPort"),
                None,
                format!("targetPort {target:?} is declared by no selected container (they declare: {declared})"),
            );
        }
    }
}

fn ingress(ingress: &Manifest, ix: &Index<'_>, sink: &mut Sink<'_>) {
    let ns = namespace(ingress);
    let spec = &ingress.object["spec"];
    let mut backends: Vec<(String, &Value)> = Vec::new();
    if spec["defaultBackend"].is_object() {
        backends.push(("spec.defaultBackend".into(), &spec["defaultBackend"]));
    }
    for (i, rule) in spec["rules"].as_array().into_iter().flatten().enumerate() {
        for (j, path) in rule["http"]["paths"].as_array().into_iter().flatten().enumerate() {
            backends.push((format!("spec.rules[{i}].http.paths[{j}].backend"), &path["backend"]));
        }
    }
    for (field, backend) in backends {
        let Some(name) = backend["service"]["name"].as_str() else { continue };
        let port = &backend["service"]["port"];
        let Some(service) = ix.services.get(&(ns, name)) else {
            let known: Vec<&str> = ix.services.keys().filter(|(n, _)| *n == ns).map(|(_, s)| *s).collect();
            let known = if known.is_empty() { "none".to_string() } else { known.join(", ") };
            sink.object(
                "ingress-missing-service",
                ingress,
                &format!("{field}.service.name"),
                None,
                format!("backend Service {name} is not in the render (Services: {known})"),
            );
            continue;
        };
        let ports = service.object["spec"]["ports"].as_array().map(Vec::as_slice).unwrap_or_default();
        let (found, shown) = match (port["number"].as_i64(), port["name"].as_str()) {
            (Some(n), _) => (ports.iter().any(|p| p["port"].as_i64() == Some(n)), n.to_string()),
            (None, Some(p)) => (ports.iter().any(|sp| sp["name"] == p), p.to_string()),
            (None, None) => continue,
        };
        if !found {
            let served: Vec<String> =
                ports.iter().map(|p| p["name"].as_str().map_or_else(|| p["port"].to_string(), |n| format!("{n}/{}", p["port"]))).collect();
            sink.object(
                "ingress-missing-port",
                ingress,
                &format!("{field}.service.port"),
                None,
                format!("backend port {shown} is not a port of Service {name} (it serves {})", served.join(", ")),
            );
        }
    }
    let class = spec["ingressClassName"]
        .as_str()
        .map(|c| (c, "spec.ingressClassName"))
        .or_else(|| ingress.object["metadata"]["annotations"]["kubernetes.io/ingress.class"].as_str().map(|c| (c, "metadata.annotations")));
    if let Some((class, field)) = class
        && !ix.ingress_classes.contains(class)
    {
        sink.object("ingress-class-missing", ingress, field, None, format!("IngressClass {class} is not in the render; the cluster must provide it"));
    }
}

fn claim(object: &Manifest, spec: &str, ix: &Index<'_>, sink: &mut Sink<'_>) {
    let Some(class) = at(&object.object, spec)["storageClassName"].as_str().filter(|c| !c.is_empty()) else { return };
    if !ix.storage_classes.contains(class) {
        sink.object(
            "storage-class-missing",
            object,
            &format!("{spec}.storageClassName"),
            None,
            format!("StorageClass {class} is not in the render; the cluster must provide it"),
        );
    }
}

/// What a reference points at.
#[derive(Clone, Copy, PartialEq)]
enum Source {
    ConfigMap,
    Secret,
}

/// Every ConfigMap and Secret a workload reads (env, envFrom, volumes), checked against the render.
fn sources(render: &Render, object: &Manifest, ix: &Index<'_>, sink: &mut Sink<'_>) {
    let ns = namespace(object);
    let mut check = |source: Source, name: &str, key: Option<&str>, optional: bool, field: String, container: Option<&str>| {
        if optional {
            return;
        }
        let (map, kind) = match source {
            Source::ConfigMap => (&ix.config_maps, "ConfigMap"),
            Source::Secret => (&ix.secrets, "Secret"),
        };
        match map.get(&(ns, name)) {
            None if source == Source::Secret && render.secrets_elsewhere.contains(&(ns.to_string(), name.to_string())) => {}
            None => {
                let rule = if source == Source::Secret { "missing-secret" } else { "missing-configmap" };
                sink.object(rule, object, &field, container, format!("{kind} {name} is not in the render"));
            }
            Some(Some(keys)) => {
                if let Some(key) = key.filter(|k| !keys.contains(*k)) {
                    let known: Vec<&str> = keys.iter().map(String::as_str).collect();
                    sink.object("missing-key", object, &field, container, format!("{kind} {name} has no key {key:?} (keys: {})", known.join(", ")));
                }
            }
            Some(None) => {}
        }
    };
    for c in containers(object) {
        for (i, env) in c.value["env"].as_array().into_iter().flatten().enumerate() {
            for (field, source) in [("configMapKeyRef", Source::ConfigMap), ("secretKeyRef", Source::Secret)] {
                let r = &env["valueFrom"][field];
                if let Some(name) = r["name"].as_str() {
                    check(source, name, r["key"].as_str(), r["optional"] == true, format!("{}.env[{i}].valueFrom.{field}", c.path), Some(c.name));
                }
            }
        }
        for (i, from) in c.value["envFrom"].as_array().into_iter().flatten().enumerate() {
            for (field, source) in [("configMapRef", Source::ConfigMap), ("secretRef", Source::Secret)] {
                if let Some(name) = from[field]["name"].as_str() {
                    check(source, name, None, from[field]["optional"] == true, format!("{}.envFrom[{i}].{field}", c.path), Some(c.name));
                }
            }
        }
    }
    let Some((spec_path, spec)) = pod_spec(object) else { return };
    for (i, volume) in spec["volumes"].as_array().into_iter().flatten().enumerate() {
        let base = format!("{spec_path}.volumes[{i}]");
        let mut refs: Vec<(Source, &Value, &str, String)> = Vec::new();
        if volume["configMap"].is_object() {
            refs.push((Source::ConfigMap, &volume["configMap"], "name", format!("{base}.configMap")));
        }
        if volume["secret"].is_object() {
            refs.push((Source::Secret, &volume["secret"], "secretName", format!("{base}.secret")));
        }
        for (j, projected) in volume["projected"]["sources"].as_array().into_iter().flatten().enumerate() {
            if projected["configMap"].is_object() {
                refs.push((Source::ConfigMap, &projected["configMap"], "name", format!("{base}.projected.sources[{j}].configMap")));
            }
            if projected["secret"].is_object() {
                refs.push((Source::Secret, &projected["secret"], "name", format!("{base}.projected.sources[{j}].secret")));
            }
        }
        for (source, r, name_field, field) in refs {
            let Some(name) = r[name_field].as_str() else { continue };
            let optional = r["optional"] == true;
            check(source, name, None, optional, field.clone(), None);
            let present = match source {
                Source::ConfigMap => ix.config_maps.contains_key(&(ns, name)),
                Source::Secret => ix.secrets.contains_key(&(ns, name)),
            };
            for (k, item) in r["items"].as_array().into_iter().flatten().enumerate().filter(|_| present) {
                if let Some(key) = item["key"].as_str() {
                    check(source, name, Some(key), optional, format!("{field}.items[{k}].key"), None);
                }
            }
        }
    }
}

/// Probes on a named port the container does not declare.
fn probes(object: &Manifest, sink: &mut Sink<'_>) {
    for c in containers(object) {
        let declared: Vec<&str> = c.value["ports"].as_array().into_iter().flatten().filter_map(|p| p["name"].as_str()).collect();
        for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
            for handler in ["httpGet", "tcpSocket", "grpc"] {
                let Some(port) = c.value[probe][handler]["port"].as_str() else { continue };
                if !declared.contains(&port) {
                    sink.object(
                        "probe-port-missing",
                        object,
                        &format!("{}.{probe}.{handler}.port", c.path),
                        Some(c.name),
                        format!("{probe} of container {} uses port {port:?}, which the container does not declare", c.name),
                    );
                }
            }
        }
    }
}
