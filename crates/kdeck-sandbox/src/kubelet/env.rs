//! A container's environment as the kubelet builds it: `env` values and
//! `valueFrom` references (ConfigMap and Secret keys, pod fields), `envFrom`, and
//! the Services' variables (`KUBERNETES_SERVICE_HOST`, `FOO_PORT_80_TCP`, …).
//! A reference to something missing is the error the real kubelet reports as
//! `CreateContainerConfigError`.

use base64::Engine;
use serde_json::Value;

use crate::rest::Rest;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EnvError {
    #[error("{kind} \"{name}\" not found")]
    Missing { kind: &'static str, name: String },
    #[error("couldn't find key {key} in {kind} {namespace}/{name}")]
    MissingKey { kind: &'static str, namespace: String, name: String, key: String },
    /// A token volume's ServiceAccount is gone (as the kubelet's mount words it).
    #[error("failed to fetch token: serviceaccounts \"{0}\" not found")]
    NoServiceAccount(String),
}

/// Reads a ConfigMap's or Secret's data as text (Secret values decoded).
fn source(rest: &Rest, namespace: &str, kind: &'static str, name: &str) -> Result<serde_json::Map<String, Value>, EnvError> {
    let (plural, secret) = if kind == "secret" { ("secrets", true) } else { ("configmaps", false) };
    let info = rest.catalogue.find("", "v1", plural).ok_or(EnvError::Missing { kind, name: name.to_string() })?;
    let obj = rest.get(&info, Some(namespace), name).map_err(|_| EnvError::Missing { kind, name: name.to_string() })?;
    let mut data = obj["data"].as_object().cloned().unwrap_or_default();
    if secret {
        for value in data.values_mut() {
            let decoded =
                value.as_str().and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok()).map(|b| String::from_utf8_lossy(&b).into_owned());
            *value = Value::String(decoded.unwrap_or_default());
        }
        for (k, v) in obj["stringData"].as_object().into_iter().flatten() {
            data.insert(k.clone(), v.clone());
        }
    }
    Ok(data)
}

fn key_ref(rest: &Rest, namespace: &str, kind: &'static str, r: &Value) -> Result<Option<String>, EnvError> {
    let name = r["name"].as_str().unwrap_or_default();
    let key = r["key"].as_str().unwrap_or_default();
    let optional = r["optional"] == true;
    match source(rest, namespace, kind, name) {
        Ok(data) => match data.get(key).and_then(Value::as_str) {
            Some(v) => Ok(Some(v.to_string())),
            None if optional => Ok(None),
            None => Err(EnvError::MissingKey {
                kind: if kind == "secret" { "Secret" } else { "ConfigMap" },
                namespace: namespace.into(),
                name: name.into(),
                key: key.into(),
            }),
        },
        Err(_) if optional => Ok(None),
        Err(e) => Err(e),
    }
}

pub(crate) fn field_ref(pod: &Value, path: &str) -> Option<String> {
    let value = match path {
        "metadata.name" => &pod["metadata"]["name"],
        "metadata.namespace" => &pod["metadata"]["namespace"],
        "metadata.uid" => &pod["metadata"]["uid"],
        "spec.nodeName" => &pod["spec"]["nodeName"],
        "spec.serviceAccountName" => &pod["spec"]["serviceAccountName"],
        "status.podIP" => &pod["status"]["podIP"],
        "status.hostIP" => &pod["status"]["hostIP"],
        other => {
            let (map, key) = other
                .strip_prefix("metadata.labels['")
                .map(|k| ("labels", k))
                .or_else(|| other.strip_prefix("metadata.annotations['").map(|k| ("annotations", k)))?;
            &pod["metadata"][map][key.trim_end_matches("']")]
        }
    };
    value.as_str().map(str::to_string)
}

/// The environment of `container` in `pod`, in the order the kubelet builds it
/// (envFrom first, then env, later entries winning).
pub fn resolve(rest: &Rest, pod: &Value, container: &Value) -> Result<Vec<(String, String)>, EnvError> {
    let namespace = pod["metadata"]["namespace"].as_str().unwrap_or_default();
    let services = service_env(rest, pod);
    let mut vars: Vec<(String, String)> = Vec::new();
    fn set(vars: &mut Vec<(String, String)>, name: String, value: String) {
        match vars.iter_mut().find(|(n, _)| *n == name) {
            Some(existing) => existing.1 = value,
            None => vars.push((name, value)),
        }
    }
    for from in container["envFrom"].as_array().into_iter().flatten() {
        let prefix = from["prefix"].as_str().unwrap_or_default();
        let (kind, r) = if from["secretRef"].is_object() { ("secret", &from["secretRef"]) } else { ("configmap", &from["configMapRef"]) };
        match source(rest, namespace, kind, r["name"].as_str().unwrap_or_default()) {
            Ok(data) => data.iter().for_each(|(k, v)| set(&mut vars, format!("{prefix}{k}"), v.as_str().unwrap_or_default().to_string())),
            Err(_) if r["optional"] == true => {}
            Err(e) => return Err(e),
        }
    }
    for var in container["env"].as_array().into_iter().flatten() {
        let name = var["name"].as_str().unwrap_or_default().to_string();
        let from = &var["valueFrom"];
        let value = if from.is_object() {
            if from["configMapKeyRef"].is_object() {
                key_ref(rest, namespace, "configmap", &from["configMapKeyRef"])?
            } else if from["secretKeyRef"].is_object() {
                key_ref(rest, namespace, "secret", &from["secretKeyRef"])?
            } else {
                field_ref(pod, from["fieldRef"]["fieldPath"].as_str().unwrap_or_default())
            }
        } else {
            // `$(NAME)` of a variable defined before it (or of the Services' variables)
            // is expanded, `$$` is a literal `$`, as the kubelet does; values from a
            // reference are taken as they are.
            let text = var["value"].as_str().unwrap_or_default();
            Some(if text.contains('$') {
                let known: Vec<(String, String)> = services.iter().chain(vars.iter()).cloned().collect();
                expand(text, &known)
            } else {
                text.to_string()
            })
        };
        if let Some(value) = value {
            set(&mut vars, name, value);
        }
    }
    for (name, value) in services {
        if !vars.iter().any(|(n, _)| *n == name) {
            vars.push((name, value));
        }
    }
    Ok(vars)
}

/// The Services' variables, as the kubelet adds them after the container's own:
/// for the `kubernetes` Service of `default` always, and with `enableServiceLinks`
/// (the default) for every Service of the pod's namespace that has a cluster IP
/// (`envvars.FromServices`: `FOO_SERVICE_HOST`, `FOO_SERVICE_PORT`,
/// `FOO_SERVICE_PORT_<NAME>`, and Docker's link variables `FOO_PORT`,
/// `FOO_PORT_80_TCP`, `…_PROTO`, `…_PORT`, `…_ADDR`). Sorted by name.
pub fn service_env(rest: &Rest, pod: &Value) -> Vec<(String, String)> {
    let namespace = pod["metadata"]["namespace"].as_str().unwrap_or_default();
    let key = crate::resources::ResourceKey::new("", "services");
    let mut services: std::collections::BTreeMap<String, Value> = std::collections::BTreeMap::new();
    if let Some(master) = rest.store.get(&key, &("default".to_string(), "kubernetes".to_string())) {
        services.insert("kubernetes".into(), master.value());
    }
    if pod["spec"]["enableServiceLinks"] != false {
        for entry in rest.store.list(&key, Some(namespace), None, |_| true).0 {
            services.insert(entry.index.name.clone(), entry.value());
        }
    }
    let mut vars = Vec::new();
    for (name, service) in &services {
        let ip = service["spec"]["clusterIP"].as_str().unwrap_or_default();
        let ports = service["spec"]["ports"].as_array().cloned().unwrap_or_default();
        if ip.is_empty() || ip == "None" || ports.is_empty() {
            continue;
        }
        let prefix = name.to_uppercase().replace('-', "_");
        let number = |p: &Value| p["port"].as_i64().unwrap_or_default();
        vars.push((format!("{prefix}_SERVICE_HOST"), ip.to_string()));
        vars.push((format!("{prefix}_SERVICE_PORT"), number(&ports[0]).to_string()));
        for port in &ports {
            if let Some(port_name) = port["name"].as_str().filter(|n| !n.is_empty()) {
                vars.push((format!("{prefix}_SERVICE_PORT_{}", port_name.to_uppercase().replace('-', "_")), number(port).to_string()));
            }
        }
        for (i, port) in ports.iter().enumerate() {
            let protocol = port["protocol"].as_str().filter(|p| !p.is_empty()).unwrap_or("TCP");
            let lower = protocol.to_lowercase();
            let url = format!("{lower}://{ip}:{}", number(port));
            if i == 0 {
                vars.push((format!("{prefix}_PORT"), url.clone()));
            }
            let port_prefix = format!("{prefix}_PORT_{}_{}", number(port), protocol.to_uppercase());
            vars.push((format!("{port_prefix}_PROTO"), lower));
            vars.push((format!("{port_prefix}_PORT"), number(port).to_string()));
            vars.push((format!("{port_prefix}_ADDR"), ip.to_string()));
            vars.push((port_prefix, url));
        }
    }
    vars.sort();
    vars.dedup_by(|a, b| a.0 == b.0);
    vars
}

/// The ConfigMap or Secret a volume needs that does not exist, if any (a
/// projected volume's sources too).
pub fn missing_volume_source(rest: &Rest, pod: &Value, volume: &Value) -> Option<EnvError> {
    if let Some(sources) = volume["projected"]["sources"].as_array() {
        return sources.iter().find_map(|s| missing_volume_source(rest, pod, s));
    }
    let namespace = pod["metadata"]["namespace"].as_str().unwrap_or_default();
    if volume["serviceAccountToken"].is_object() {
        let account = pod["spec"]["serviceAccountName"].as_str().filter(|n| !n.is_empty()).unwrap_or("default");
        let key = crate::resources::ResourceKey::new("", "serviceaccounts");
        let exists = rest.store.get(&key, &(namespace.to_string(), account.to_string())).is_some();
        return (!exists).then(|| EnvError::NoServiceAccount(account.to_string()));
    }
    let (kind, name, optional) = if volume["configMap"].is_object() {
        ("configmap", volume["configMap"]["name"].as_str(), volume["configMap"]["optional"] == true)
    } else if volume["secret"].is_object() {
        // A secret volume names it secretName, a projected source name.
        let spec = &volume["secret"];
        ("secret", spec["secretName"].as_str().or(spec["name"].as_str()), spec["optional"] == true)
    } else {
        return None;
    };
    if optional {
        return None;
    }
    source(rest, namespace, kind, name.unwrap_or_default()).err()
}

/// `$(VAR)` references in a command or argument replaced from the container's
/// environment, as the kubelet does; `$$` is a literal `$`, and a reference to an
/// unknown variable is left as written.
pub fn expand(word: &str, env: &[(String, String)]) -> String {
    let mut out = String::with_capacity(word.len());
    let mut rest = word;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(')
            && let Some(close) = inner.find(')')
        {
            let name = &inner[..close];
            match env.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v.as_str()) {
                Some(value) => out.push_str(value),
                None => out.push_str(&rest[at..at + close + 3]),
            }
            rest = &inner[close + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}
