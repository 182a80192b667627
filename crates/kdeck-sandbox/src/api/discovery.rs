//! Discovery (`/api`, `/apis`, `/api/v1`, `/apis/{group}/{version}`), `/version` and
//! the OpenAPI endpoints, all derived from the resource catalogue.
//!
//! Aggregated discovery (`apidiscovery.k8s.io` v2 and v2beta1, one document for
//! `/api` and one for `/apis` listing every group, version and resource) is served
//! when the Accept header asks for it, as kubectl 1.35 and client-go do first;
//! otherwise the legacy documents.

use serde_json::{Value, json};

use crate::resources::{Catalogue, ResourceInfo};

pub const KUBERNETES_VERSION: &str = "v1.35.0";

pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "35",
        "emulationMajor": "1",
        "emulationMinor": "35",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "34",
        "gitVersion": KUBERNETES_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.25.0",
        "compiler": "gc",
        "platform": format!("{}/{}", std::env::consts::OS, if std::env::consts::ARCH == "x86_64" { "amd64" } else { std::env::consts::ARCH }),
    })
}

pub fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

fn group_entry(name: &str, versions: &[String]) -> Value {
    let versions: Vec<Value> = versions.iter().map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v})).collect();
    json!({"name": name, "versions": versions, "preferredVersion": versions[0]})
}

pub fn group_list(catalogue: &Catalogue) -> Value {
    let groups: Vec<Value> = catalogue.groups().iter().filter(|(g, _)| !g.is_empty()).map(|(g, vs)| group_entry(g, vs)).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

pub fn group(catalogue: &Catalogue, name: &str) -> Option<Value> {
    let groups = catalogue.groups();
    let versions = groups.get(name).filter(|_| !name.is_empty())?;
    let mut entry = group_entry(name, versions);
    entry["kind"] = json!("APIGroup");
    entry["apiVersion"] = json!("v1");
    Some(entry)
}

/// (kind, group, version, verbs) of a subresource, when it differs from its parent's.
fn subresource_shape(sub: &str, parent: &ResourceInfo) -> (String, Option<(&'static str, &'static str)>, Vec<&'static str>) {
    match sub {
        "status" | "ephemeralcontainers" | "resize" => (parent.kind.clone(), None, vec!["get", "patch", "update"]),
        "scale" => ("Scale".into(), Some(("autoscaling", "v1")), vec!["get", "patch", "update"]),
        "log" => ("Pod".into(), None, vec!["get"]),
        "exec" => ("PodExecOptions".into(), None, vec!["create", "get"]),
        "attach" => ("PodAttachOptions".into(), None, vec!["create", "get"]),
        "portforward" => ("PodPortForwardOptions".into(), None, vec!["create", "get"]),
        "eviction" => ("Eviction".into(), Some(("policy", "v1")), vec!["create"]),
        "binding" => ("Binding".into(), None, vec!["create"]),
        "token" => ("TokenRequest".into(), Some(("authentication.k8s.io", "v1")), vec!["create"]),
        "finalize" => (parent.kind.clone(), None, vec!["update"]),
        "proxy" => (format!("{}ProxyOptions", parent.kind), None, vec!["create", "delete", "get", "patch", "update"]),
        _ => (parent.kind.clone(), None, vec!["get"]),
    }
}

pub fn resource_list(catalogue: &Catalogue, group: &str, version: &str) -> Option<Value> {
    let infos: Vec<ResourceInfo> = catalogue.all().into_iter().filter(|r| r.group == group && r.version == version).collect();
    if infos.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for r in &infos {
        let mut entry = json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": r.verbs,
        });
        if !r.short_names.is_empty() {
            entry["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            entry["categories"] = json!(r.categories);
        }
        resources.push(entry);
        for sub in &r.subresources {
            let (kind, gv, verbs) = subresource_shape(sub, r);
            let mut entry = json!({"name": format!("{}/{sub}", r.plural), "singularName": "", "namespaced": r.namespaced, "kind": kind, "verbs": verbs});
            if let Some((g, v)) = gv {
                entry["group"] = json!(g);
                entry["version"] = json!(v);
            }
            resources.push(entry);
        }
    }
    let group_version = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    Some(json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}))
}

/// The aggregated discovery version an Accept header asks for (`v2`, `v2beta1`), in
/// the client's order of preference; None when it asks for the legacy documents.
pub fn aggregated_version(accept: &str) -> Option<&'static str> {
    accept.split(',').find_map(|media| {
        let mut params = media.split(';').map(str::trim);
        if params.next() != Some("application/json") {
            return None;
        }
        let params: Vec<&str> = params.collect();
        if !params.contains(&"g=apidiscovery.k8s.io") || !params.contains(&"as=APIGroupDiscoveryList") {
            return None;
        }
        params.iter().find_map(|p| match *p {
            "v=v2" => Some("v2"),
            "v=v2beta1" => Some("v2beta1"),
            _ => None,
        })
    })
}

/// The media type of an aggregated discovery answer.
pub fn aggregated_media_type(version: &str) -> String {
    format!("application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList")
}

/// The `APIGroupDiscoveryList` of `/api` (`core`: the core group alone) or of
/// `/apis` (every named group), each version with its resources and subresources.
pub fn aggregated(catalogue: &Catalogue, core: bool, version: &str) -> Value {
    let infos = catalogue.all();
    let items: Vec<Value> = catalogue
        .groups()
        .iter()
        .filter(|(group, _)| group.is_empty() == core)
        .map(|(group, versions)| {
            let versions: Vec<Value> = versions
                .iter()
                .map(|v| {
                    let resources: Vec<Value> = infos.iter().filter(|r| &r.group == group && &r.version == v).map(aggregated_resource).collect();
                    json!({"version": v, "resources": resources, "freshness": "Current"})
                })
                .collect();
            let mut metadata = json!({"creationTimestamp": null});
            if !group.is_empty() {
                metadata["name"] = json!(group);
            }
            json!({"metadata": metadata, "versions": versions})
        })
        .collect();
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": format!("apidiscovery.k8s.io/{version}"), "metadata": {}, "items": items})
}

fn aggregated_resource(r: &ResourceInfo) -> Value {
    let kind = |group: &str, version: &str, kind: &str| json!({"group": group, "version": version, "kind": kind});
    let mut entry = json!({
        "resource": r.plural,
        "responseKind": kind(&r.group, &r.version, &r.kind),
        "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": r.singular,
        "verbs": r.verbs,
    });
    if !r.short_names.is_empty() {
        entry["shortNames"] = json!(r.short_names);
    }
    if !r.categories.is_empty() {
        entry["categories"] = json!(r.categories);
    }
    let subresources: Vec<Value> = r
        .subresources
        .iter()
        .map(|sub| {
            let (sub_kind, gv, verbs) = subresource_shape(sub, r);
            let (group, version) = gv.unwrap_or((&r.group, &r.version));
            json!({"subresource": sub, "responseKind": kind(group, version, &sub_kind), "verbs": verbs})
        })
        .collect();
    if !subresources.is_empty() {
        entry["subresources"] = json!(subresources);
    }
    entry
}

/// `/` lists the paths the server serves, as the real one does.
pub fn root_paths(catalogue: &Catalogue) -> Value {
    let mut paths = vec![
        "/api".to_string(),
        "/api/v1".into(),
        "/apis".into(),
        "/healthz".into(),
        "/livez".into(),
        "/readyz".into(),
        "/version".into(),
        "/openapi/v2".into(),
        "/openapi/v3".into(),
    ];
    for (group, versions) in catalogue.groups() {
        if group.is_empty() {
            continue;
        }
        paths.push(format!("/apis/{group}"));
        paths.extend(versions.iter().map(|v| format!("/apis/{group}/{v}")));
    }
    json!({"paths": paths})
}

/// An OpenAPI v2 document with no definitions: clients then validate nothing on
/// the client side and leave validation to the server.
pub fn openapi_v2() -> Value {
    json!({"swagger": "2.0", "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION}, "paths": {}, "definitions": {}})
}

pub fn openapi_v3() -> Value {
    json!({"paths": {}})
}
