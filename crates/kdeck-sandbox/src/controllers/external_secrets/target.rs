//! The target Secret: creating, updating or deleting it as the ExternalSecret's
//! creation and deletion policies say, with the owner, labels, annotations and data
//! it should have.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use super::hash::{data_hash, owner_label};
use super::provider::fetch;
use super::spec::{CreationPolicy, DeletionPolicy, Spec};
use super::store::resolve_store;
use super::template::render;
use super::{GROUP, SOURCE, secrets};
use crate::controllers::events;
use crate::controllers::objects::{self, name, namespace};
use crate::resources::ResourceInfo;
use crate::rest::{DeleteOptions, Rest, Subresource, WriteOptions};

const LABEL_MANAGED: &str = "reconcile.external-secrets.io/managed";
const LABEL_OWNER: &str = "reconcile.external-secrets.io/created-by";
const ANNOTATION_DATA_HASH: &str = "reconcile.external-secrets.io/data-hash";

// Condition messages, as the real controller writes them.
const MSG_SYNCED: &str = "secret synced";
const MSG_SYNCED_RETAIN: &str = "secret retained due to DeletionPolicy=Retain";
const MSG_DELETED: &str = "secret deleted due to DeletionPolicy=Delete";
const MSG_MISSING: &str = "secret will not be created due to CreationPolicy=Merge";
const MSG_GET_DATA: &str = "could not get secret data from provider";
const MSG_DELETE_SECRET: &str = "could not delete secret";
const MSG_DELETE_ORPHANED: &str = "could not delete orphaned secrets";
const MSG_UPDATE_SECRET: &str = "could not update secret";
const MSG_UPDATE_IMMUTABLE: &str = "could not update secret, target is immutable";
const MSG_BECOME_OWNER: &str = "failed to take ownership of target secret";
const MSG_IS_OWNED: &str = "target is owned by another ExternalSecret";

/// A failed sync: the condition message (before the error; may be empty) and the
/// error (the event's message).
#[derive(Debug)]
pub(super) struct Failure {
    pub(super) message: &'static str,
    pub(super) error: String,
}

impl Failure {
    fn new(message: &'static str, error: impl Into<String>) -> Self {
        Failure { message, error: error.into() }
    }
}

pub(super) enum Outcome {
    /// Ready True with this reason and message; `binding` names the target Secret.
    Done {
        reason: &'static str,
        message: &'static str,
        binding: Option<String>,
    },
    Failed(Failure),
    /// Lost a race with another writer: look again shortly.
    Retry,
}

pub(super) fn sync(rest: &Rest, secrets_info: &ResourceInfo, es: &Value, spec: &Spec, existing: Option<&Value>) -> Outcome {
    let entries = match resolve_store(rest, es, spec) {
        Ok(entries) => entries,
        Err(e) => return Outcome::Failed(Failure::new(MSG_GET_DATA, e)),
    };
    let fetched = match fetch(spec, &entries) {
        Ok(fetched) => fetched,
        Err(e) => return Outcome::Failed(Failure::new(MSG_GET_DATA, e)),
    };
    for notice in &fetched.skipped {
        events::normal(rest, es, &SOURCE, "Deleted", notice);
    }
    let ns = namespace(es);
    let target = spec.target_name.as_str();
    if fetched.data.is_empty() {
        match spec.deletion {
            DeletionPolicy::Delete => {
                if spec.creation != CreationPolicy::Owner {
                    return Outcome::Failed(Failure::new(
                        MSG_DELETE_SECRET,
                        format!("unable to delete secret {target}: creationPolicy={:?} is not Owner", spec.creation),
                    ));
                }
                if existing.is_some() {
                    if let Err(e) = rest.delete(secrets_info, Some(ns), target, &DeleteOptions::default())
                        && e.code != 404
                    {
                        return Outcome::Failed(Failure::new(MSG_DELETE_SECRET, e.message));
                    }
                    events::normal(rest, es, &SOURCE, "Deleted", MSG_DELETED);
                }
                return Outcome::Done { reason: "SecretDeleted", message: MSG_DELETED, binding: None };
            }
            DeletionPolicy::Retain => return Outcome::Done { reason: "SecretSynced", message: MSG_SYNCED_RETAIN, binding: None },
            DeletionPolicy::Merge => {}
        }
    }
    let field_manager = format!("externalsecrets.{GROUP}/{}", name(es));
    let opts = WriteOptions { field_manager: Some(field_manager), ..Default::default() };
    match spec.creation {
        CreationPolicy::None => return Outcome::Done { reason: "SecretSynced", message: MSG_SYNCED, binding: None },
        CreationPolicy::Merge if existing.is_none() => return Outcome::Done { reason: "SecretMissing", message: MSG_MISSING, binding: None },
        CreationPolicy::Owner => {
            if let Err(e) = delete_orphans(rest, secrets_info, es, target) {
                return Outcome::Failed(Failure::new(MSG_DELETE_ORPHANED, e));
            }
        }
        CreationPolicy::Merge | CreationPolicy::Orphan => {}
    }
    let mut secret = existing.cloned().unwrap_or_else(|| json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": target, "namespace": ns}}));
    if let Err(failure) = mutate(es, spec, &fetched.data, &mut secret) {
        return Outcome::Failed(failure);
    }
    let done = Outcome::Done { reason: "SecretSynced", message: MSG_SYNCED, binding: Some(target.to_string()) };
    let Some(existing) = existing else {
        return match rest.create(secrets_info, Some(ns), secret, &opts) {
            Ok(_) => {
                events::normal(rest, es, &SOURCE, "Created", "secret created");
                done
            }
            Err(e) if e.code == 409 => Outcome::Retry,
            Err(e) => Outcome::Failed(Failure::new(MSG_UPDATE_SECRET, format!("unable to create secret {target}: {}", e.message))),
        };
    };
    if secret == *existing {
        return done;
    }
    if existing["immutable"] == true && (existing["data"] != secret["data"] || existing["type"] != secret["type"]) {
        return Outcome::Failed(Failure::new(MSG_UPDATE_IMMUTABLE, format!("unable to update secret {target}: secret is immutable")));
    }
    match rest.update(secrets_info, Some(ns), target, secret, Subresource::Main, &opts) {
        Ok(_) => {
            events::normal(rest, es, &SOURCE, "Updated", "secret updated");
            done
        }
        Err(e) if e.code == 409 => Outcome::Retry,
        Err(e) => Outcome::Failed(Failure::new(MSG_UPDATE_SECRET, format!("unable to update secret {target}: {}", e.message))),
    }
}

/// Deletes Secrets this ExternalSecret created under another name (the target was
/// renamed), found by the created-by label.
fn delete_orphans(rest: &Rest, secrets_info: &ResourceInfo, es: &Value, target: &str) -> Result<(), String> {
    let ns = namespace(es);
    let owner = owner_label(es);
    let (orphans, _) = rest.store.list(&secrets(), Some(ns), None, |e| e.index.labels.get(LABEL_OWNER) == Some(&owner) && e.index.name != target);
    for orphan in orphans {
        match rest.delete(secrets_info, Some(ns), &orphan.index.name, &DeleteOptions::default()) {
            Ok(_) => events::normal(rest, es, &SOURCE, "Deleted", "secret deleted because it was orphaned"),
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e.message),
        }
    }
    Ok(())
}

/// A Secret's data, decoded.
fn secret_data(secret: &Value) -> BTreeMap<String, Vec<u8>> {
    secret["data"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), STANDARD.decode(v.as_str().unwrap_or_default()).unwrap_or_default())).collect())
        .unwrap_or_default()
}

fn string_map(v: &Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// Makes `secret` what this ExternalSecret wants it to be: owner, labels and
/// annotations, data (through the template), type, and the bookkeeping labels.
fn mutate(es: &Value, spec: &Spec, data: &BTreeMap<String, Vec<u8>>, secret: &mut Value) -> Result<(), Failure> {
    let es_name = name(es);
    let is_es = |r: &Value| r["kind"] == "ExternalSecret" && r["apiVersion"].as_str().is_some_and(|v| v.starts_with(&format!("{GROUP}/")));
    let controller = secret["metadata"]["ownerReferences"].as_array().and_then(|refs| refs.iter().find(|r| r["controller"] == true)).cloned();
    let owner_is_es = controller.as_ref().is_some_and(is_es);
    let owner_is_current = owner_is_es && controller.as_ref().is_some_and(|c| c["name"] == es_name);
    if owner_is_es && !owner_is_current {
        let other = controller.as_ref().and_then(|c| c["name"].as_str()).unwrap_or_default();
        return Err(Failure::new(MSG_IS_OWNED, format!("unable to mutate secret {}: secret is owned by another ExternalSecret: {other}", spec.target_name)));
    }
    let mut refs: Vec<Value> = secret["metadata"]["ownerReferences"].as_array().cloned().unwrap_or_default();
    if spec.creation == CreationPolicy::Owner {
        if let Some(c) = controller.as_ref().filter(|_| !owner_is_es) {
            let error = format!(
                "could not set controller reference on secret: Object {}/{} is already owned by another {} controller {}",
                namespace(es),
                spec.target_name,
                c["kind"].as_str().unwrap_or_default(),
                c["name"].as_str().unwrap_or_default()
            );
            return Err(Failure::new(MSG_BECOME_OWNER, error));
        }
        refs.retain(|r| !(is_es(r) && r["name"] == es_name));
        refs.push(objects::controller_reference(es));
    } else if owner_is_current {
        refs.retain(|r| !(is_es(r) && r["name"] == es_name));
    }
    if refs.is_empty() {
        secret["metadata"].as_object_mut().map(|m| m.remove("ownerReferences"));
    } else {
        secret["metadata"]["ownerReferences"] = Value::Array(refs);
    }

    // Labels and annotations: the template's, or without one the ExternalSecret's own.
    let mut labels = string_map(&secret["metadata"]["labels"]);
    let mut annotations = string_map(&secret["metadata"]["annotations"]);
    let source = match &spec.template {
        Some(template) => &template["metadata"],
        None => &es["metadata"],
    };
    labels.extend(string_map(&source["labels"]));
    annotations.extend(string_map(&source["annotations"]));

    let mut out: BTreeMap<String, Vec<u8>> = if spec.creation == CreationPolicy::Merge { secret_data(secret) } else { BTreeMap::new() };
    match &spec.template {
        None => out.extend(data.clone()),
        Some(template) => {
            if let Some(t) = template["type"].as_str().filter(|t| !t.is_empty()) {
                secret["type"] = json!(t);
            }
            if template["templateFrom"].as_array().is_some_and(|t| !t.is_empty()) {
                return Err(Failure::new(
                    MSG_UPDATE_SECRET,
                    "could not apply template: spec.target.template.templateFrom is not simulated by the kdeck sandbox",
                ));
            }
            let templated = template["data"].as_object().filter(|d| !d.is_empty());
            match templated {
                None => out.extend(data.clone()),
                Some(items) => {
                    for (k, v) in items {
                        let rendered = render(v.as_str().unwrap_or_default(), data)
                            .map_err(|e| Failure::new(MSG_UPDATE_SECRET, format!("could not apply template: could not execute template: {e}")))?;
                        out.insert(k.clone(), rendered);
                    }
                    if template["mergePolicy"] == "Merge" {
                        out.extend(data.clone());
                    }
                }
            }
        }
    }
    if secret["type"].as_str().is_none_or(str::is_empty) {
        secret["type"] = json!("Opaque");
    }
    if spec.immutable {
        secret["immutable"] = json!(true);
    }

    if spec.creation == CreationPolicy::Owner {
        labels.insert(LABEL_OWNER.into(), json!(owner_label(es)));
    } else {
        labels.remove(LABEL_OWNER);
    }
    labels.insert(LABEL_MANAGED.into(), json!("true"));
    annotations.insert(ANNOTATION_DATA_HASH.into(), json!(data_hash(&out)));
    secret["metadata"]["labels"] = Value::Object(labels);
    secret["metadata"]["annotations"] = Value::Object(annotations);
    let encoded: Map<String, Value> = out.iter().map(|(k, v)| (k.clone(), json!(STANDARD.encode(v)))).collect();
    if encoded.is_empty() {
        secret.as_object_mut().map(|s| s.remove("data"));
    } else {
        secret["data"] = Value::Object(encoded);
    }
    Ok(())
}

/// Whether the target Secret is as the last sync left it (the real `isSecretValid`).
pub(super) fn secret_valid(secret: Option<&Value>, spec: &Spec) -> bool {
    // Orphaned Secrets are left alone until the next refresh; with None there is none.
    if matches!(spec.creation, CreationPolicy::Orphan | CreationPolicy::None) {
        return true;
    }
    let Some(secret) = secret else { return false };
    secret["metadata"]["labels"][LABEL_MANAGED] == "true" && secret["metadata"]["annotations"][ANNOTATION_DATA_HASH] == data_hash(&secret_data(secret)).as_str()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::{bytes, spec_of};
    use super::*;

    #[test]
    fn target_secret_validity_uses_the_managed_label_and_data_hash() {
        let spec = spec_of(json!({"secretStoreRef": {"name": "s"}, "dataFrom": [{"extract": {"key": "k"}}]}));
        let data = BTreeMap::from([("a".to_string(), bytes("1"))]);
        let mut secret = json!({"metadata": {"name": "es", "namespace": "default"}});
        let es = json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": "es", "namespace": "default", "uid": "u1"}});
        mutate(&es, &spec, &data, &mut secret).expect("mutated");
        assert!(secret_valid(Some(&secret), &spec));
        assert_eq!(secret["data"]["a"], "MQ==");
        assert_eq!(secret["type"], "Opaque");
        assert_eq!(secret["metadata"]["ownerReferences"][0]["uid"], "u1");
        let mut edited = secret.clone();
        edited["data"]["a"] = json!("Mg==");
        assert!(!secret_valid(Some(&edited), &spec));
        assert!(!secret_valid(None, &spec));
    }
}
