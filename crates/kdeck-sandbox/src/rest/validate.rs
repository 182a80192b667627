//! The validation users meet first: names, label keys and values, required fields,
//! immutable fields. Messages follow the real apimachinery validators word for word.

use serde_json::Value;

use super::error::Cause;
use crate::resources::ResourceInfo;

const DNS1123_LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1035_LABEL_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

fn is_label_char(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-'
}

pub fn dns1123_label(s: &str) -> Result<(), String> {
    let b = s.as_bytes();
    if b.len() > 63 {
        return Err("must be no more than 63 characters".into());
    }
    let ok = !b.is_empty() && b.iter().all(|&c| is_label_char(c)) && b[0] != b'-' && b[b.len() - 1] != b'-';
    if ok { Ok(()) } else { Err(DNS1123_LABEL_MSG.into()) }
}

pub fn dns1035_label(s: &str) -> Result<(), String> {
    dns1123_label(s).map_err(|_| DNS1035_LABEL_MSG.to_string())?;
    if s.as_bytes()[0].is_ascii_lowercase() { Ok(()) } else { Err(DNS1035_LABEL_MSG.into()) }
}

pub fn dns1123_subdomain(s: &str) -> Result<(), String> {
    if s.len() > 253 {
        return Err("must be no more than 253 characters".into());
    }
    if !s.is_empty() && s.split('.').all(|part| dns1123_label(part).is_ok()) { Ok(()) } else { Err(DNS1123_SUBDOMAIN_MSG.into()) }
}

/// RBAC objects and a few others only need to be usable as a URL path segment.
pub fn path_segment(s: &str) -> Result<(), String> {
    if s == "." || s == ".." {
        return Err(format!("may not be '{s}'"));
    }
    if s.contains('/') || s.contains('%') {
        return Err("may not contain '/' or '%'".into());
    }
    Ok(())
}

/// A label key or annotation key: `[prefix/]name`.
pub fn qualified_name(s: &str) -> Result<(), String> {
    let (prefix, name) = match s.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    if let Some(prefix) = prefix {
        dns1123_subdomain(prefix).map_err(|e| format!("prefix part {e}"))?;
    }
    let b = name.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')".into())
    }
}

pub fn label_value(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Ok(());
    }
    let b = s.as_bytes();
    let ok = b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')".into())
    }
}

/// The name rule a resource's objects follow.
pub fn name_rule(info: &ResourceInfo) -> fn(&str) -> Result<(), String> {
    match (info.group.as_str(), info.plural.as_str()) {
        ("", "namespaces") => dns1123_label,
        ("", "services") => dns1035_label,
        ("rbac.authorization.k8s.io", _) | ("authorization.k8s.io", _) => path_segment,
        _ if info.is_custom() => path_segment,
        _ => dns1123_subdomain,
    }
}

/// Validates an object about to be created or updated. `old` is the stored object on update.
pub fn validate(info: &ResourceInfo, obj: &Value, old: Option<&Value>) -> Vec<Cause> {
    let mut causes = Vec::new();
    let meta = &obj["metadata"];
    for list in ["finalizers", "ownerReferences"] {
        if !meta[list].is_null() && !meta[list].is_array() {
            causes.push(Cause::invalid(format!("metadata.{list}"), &meta[list].to_string(), "must be a list"));
        }
    }
    let name = meta["name"].as_str().unwrap_or_default();
    if name.is_empty() {
        causes.push(Cause::required("metadata.name"));
    } else if let Err(e) = name_rule(info)(name) {
        causes.push(Cause::invalid("metadata.name", name, e));
    }
    for (field, check) in [("labels", true), ("annotations", false)] {
        if !meta[field].is_null() && !meta[field].is_object() {
            causes.push(Cause::invalid(format!("metadata.{field}"), &meta[field].to_string(), "must be a map of string keys to string values"));
        }
        if let Some(map) = meta[field].as_object() {
            for (k, v) in map {
                if let Err(e) = qualified_name(k) {
                    causes.push(Cause::invalid(format!("metadata.{field}"), k, e));
                }
                match v.as_str() {
                    Some(v) if check => {
                        if let Err(e) = label_value(v) {
                            causes.push(Cause::invalid("metadata.labels".to_string(), v, e));
                        }
                    }
                    Some(_) => {}
                    None => causes.push(Cause::invalid(format!("metadata.{field}"), k, "value must be a string")),
                }
            }
        }
    }
    kind_rules(info, obj, &mut causes);
    if let Some(old) = old {
        immutable_rules(info, obj, old, &mut causes);
    }
    causes
}

fn kind_rules(info: &ResourceInfo, obj: &Value, causes: &mut Vec<Cause>) {
    match (info.group.as_str(), info.plural.as_str()) {
        ("", "pods") => pod_spec(&obj["spec"], "spec", causes),
        ("", "podtemplates") => pod_spec(&obj["template"]["spec"], "template.spec", causes),
        ("apps", "deployments" | "replicasets" | "statefulsets" | "daemonsets") => workload(obj, causes),
        ("batch", "jobs") => job(&obj["spec"], "spec", causes),
        ("batch", "cronjobs") => {
            if obj["spec"]["schedule"].as_str().unwrap_or_default().is_empty() {
                causes.push(Cause::required("spec.schedule"));
            }
            job(&obj["spec"]["jobTemplate"]["spec"], "spec.jobTemplate.spec", causes);
        }
        ("", "services") => service(&obj["spec"], causes),
        ("", "configmaps") | ("", "secrets") => {
            for field in ["data", "binaryData", "stringData"] {
                for key in obj[field].as_object().into_iter().flatten().map(|(k, _)| k) {
                    let ok = !key.is_empty() && key.len() <= 253 && key.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'));
                    if !ok {
                        causes.push(Cause::invalid(format!("{field}[{key}]"), key, "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"));
                    }
                }
            }
        }
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            if let Err(e) = crate::resources::infos_from_crd(obj) {
                causes.push(Cause::invalid("spec", "", e));
            } else {
                let spec = &obj["spec"];
                let expected = format!("{}.{}", spec["names"]["plural"].as_str().unwrap_or_default(), spec["group"].as_str().unwrap_or_default());
                let name = obj["metadata"]["name"].as_str().unwrap_or_default();
                if name != expected {
                    causes.push(Cause::invalid("metadata.name", name, "must be spec.names.plural+\".\"+spec.group".to_string()));
                }
            }
        }
        _ => {}
    }
}

fn pod_spec(spec: &Value, path: &str, causes: &mut Vec<Cause>) {
    match spec["containers"].as_array() {
        Some(containers) if !containers.is_empty() => {
            for (i, c) in containers.iter().enumerate() {
                container(c, &format!("{path}.containers[{i}]"), causes);
            }
        }
        _ => causes.push(Cause::required(format!("{path}.containers"))),
    }
    for (i, c) in spec["initContainers"].as_array().into_iter().flatten().enumerate() {
        container(c, &format!("{path}.initContainers[{i}]"), causes);
    }
    if let Some(policy) = spec["restartPolicy"].as_str()
        && !matches!(policy, "Always" | "OnFailure" | "Never")
    {
        causes.push(Cause::unsupported(format!("{path}.restartPolicy"), policy, &["Always", "OnFailure", "Never"]));
    }
}

fn container(c: &Value, path: &str, causes: &mut Vec<Cause>) {
    match c["name"].as_str() {
        Some(name) if !name.is_empty() => {
            if let Err(e) = dns1123_label(name) {
                causes.push(Cause::invalid(format!("{path}.name"), name, e));
            }
        }
        _ => causes.push(Cause::required(format!("{path}.name"))),
    }
    if c["image"].as_str().unwrap_or_default().trim().is_empty() {
        causes.push(Cause::required(format!("{path}.image")));
    }
}

fn workload(obj: &Value, causes: &mut Vec<Cause>) {
    let spec = &obj["spec"];
    let selector = &spec["selector"];
    if !selector.is_object() {
        causes.push(Cause::required("spec.selector"));
    } else {
        match super::selector::LabelSelector::from_object(selector) {
            Err(e) => causes.push(Cause::invalid("spec.selector", "", e)),
            Ok(sel) if sel.is_empty() => causes.push(Cause::invalid("spec.selector", "", "empty selector is invalid for deployment")),
            Ok(sel) => {
                let labels = spec["template"]["metadata"]["labels"]
                    .as_object()
                    .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
                    .unwrap_or_default();
                if !sel.matches(&labels) {
                    let shown = serde_json::to_string(&spec["template"]["metadata"]["labels"]).unwrap_or_default();
                    causes.push(Cause::invalid("spec.template.metadata.labels", &shown, "`selector` does not match template `labels`"));
                }
            }
        }
    }
    pod_spec(&spec["template"]["spec"], "spec.template.spec", causes);
}

fn job(spec: &Value, path: &str, causes: &mut Vec<Cause>) {
    let pod = &spec["template"]["spec"];
    pod_spec(pod, &format!("{path}.template.spec"), causes);
    if let Some(policy) = pod["restartPolicy"].as_str()
        && !matches!(policy, "OnFailure" | "Never")
    {
        causes.push(Cause::unsupported(format!("{path}.template.spec.restartPolicy"), policy, &["OnFailure", "Never"]));
    }
}

fn service(spec: &Value, causes: &mut Vec<Cause>) {
    let kind = spec["type"].as_str().unwrap_or("ClusterIP");
    if !matches!(kind, "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName") {
        causes.push(Cause::unsupported("spec.type", kind, &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]));
    }
    let headless = spec["clusterIP"].as_str() == Some("None");
    let ports = spec["ports"].as_array().map(Vec::len).unwrap_or(0);
    if ports == 0 && kind != "ExternalName" && !headless {
        causes.push(Cause::required("spec.ports"));
    }
    for (i, p) in spec["ports"].as_array().into_iter().flatten().enumerate() {
        let port = p["port"].as_i64().unwrap_or(0);
        if !(1..=65535).contains(&port) {
            causes.push(Cause::invalid(format!("spec.ports[{i}].port"), &port.to_string(), "must be between 1 and 65535, inclusive"));
        }
        if ports > 1 && p["name"].as_str().unwrap_or_default().is_empty() {
            causes.push(Cause::required(format!("spec.ports[{i}].name")));
        }
    }
    if kind == "ExternalName" && spec["externalName"].as_str().unwrap_or_default().is_empty() {
        causes.push(Cause::required("spec.externalName"));
    }
}

fn immutable_rules(info: &ResourceInfo, obj: &Value, old: &Value, causes: &mut Vec<Cause>) {
    let mut same = |path: &[&str], field: &str| {
        let (mut a, mut b) = (obj, old);
        for p in path {
            a = &a[*p];
            b = &b[*p];
        }
        if a != b {
            causes.push(Cause::immutable(field));
        }
    };
    match (info.group.as_str(), info.plural.as_str()) {
        ("apps", "deployments" | "replicasets" | "statefulsets" | "daemonsets") => same(&["spec", "selector"], "spec.selector"),
        ("batch", "jobs") => {
            same(&["spec", "selector"], "spec.selector");
            same(&["spec", "template"], "spec.template");
            same(&["spec", "completions"], "spec.completions");
        }
        ("", "services") if obj["spec"]["type"] != "ExternalName" && old["spec"]["type"] != "ExternalName" && obj["spec"]["clusterIP"].is_string() => {
            same(&["spec", "clusterIP"], "spec.clusterIP");
        }
        ("", "configmaps" | "secrets") if old["immutable"] == true => {
            same(&["data"], "data");
            same(&["binaryData"], "binaryData");
            if obj["immutable"] != true {
                causes.push(Cause::forbidden("immutable", "field is immutable when `immutable` is set"));
            }
        }
        ("", "persistentvolumeclaims") => {
            same(&["spec", "accessModes"], "spec.accessModes");
            same(&["spec", "storageClassName"], "spec.storageClassName");
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_dns_rules() {
        assert!(dns1123_subdomain("web-1.example").is_ok());
        assert!(dns1123_subdomain("Web").is_err());
        assert!(dns1123_subdomain("-web").is_err());
        assert!(dns1123_label("a.b").is_err());
        assert!(dns1035_label("1abc").is_err());
        assert!(dns1123_label(&"a".repeat(64)).is_err());
        assert!(qualified_name("app.kubernetes.io/name").is_ok());
        assert!(qualified_name("bad key").is_err());
        assert!(label_value("").is_ok());
        assert!(label_value("-x").is_err());
    }
}
