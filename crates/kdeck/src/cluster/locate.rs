//! Finding a named object, the same way in every command: in the namespace given
//! with `-n`; without `-n`, in the context's namespace, and when it is not there, a
//! unique match across namespaces is used and named (several: listed).

use std::collections::BTreeSet;

use kube::ResourceExt;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};

use super::{Cluster, names};
use crate::error::{Error, Result};

/// Where to look for the object.
#[derive(Clone, Copy, Debug)]
pub enum Scope<'a> {
    /// `-n NAMESPACE`: there and nowhere else.
    Given(&'a str),
    /// No `-n`: the context's namespace first, then a unique match anywhere.
    Default(&'a str),
}

/// The object `kind` named `name` (`kind` is how messages name it: `HelmRelease`).
/// `say` is told when a unique match was found outside the default namespace.
pub async fn named(cluster: &Cluster, resource: &ApiResource, kind: &str, name: &str, scope: Scope<'_>, say: impl FnOnce(&str)) -> Result<DynamicObject> {
    names::validate_name(kind, name)?;
    let home = match scope {
        Scope::Given(ns) | Scope::Default(ns) => ns,
    };
    let api: Api<DynamicObject> = Api::namespaced_with(cluster.client.clone(), home, resource);
    if let Some(found) = api.get_opt(name).await.map_err(|e| cluster.error(&format!("reading {kind} {home}/{name}"), e))? {
        return Ok(found);
    }
    let all: Api<DynamicObject> = Api::all_with(cluster.client.clone(), resource);
    // Reading across namespaces may be forbidden (namespace-scoped RBAC): then only
    // the namespace asked for is known.
    let everywhere = all.list(&ListParams::default()).await.map(|l| l.items).unwrap_or_default();
    let mut same_name: Vec<DynamicObject> = everywhere.iter().filter(|o| o.name_any() == name).cloned().collect();
    let not_found = |place: &str| Error::not_found(format!("{kind} {name:?} not found {place} (context {})", cluster.context));
    match scope {
        Scope::Given(ns) if same_name.is_empty() => {
            let here: Vec<DynamicObject> = everywhere.into_iter().filter(|o| o.namespace().as_deref() == Some(ns)).collect();
            let hint = if here.is_empty() {
                format!("there are no {kind}s in namespace {ns}")
            } else {
                format!("{kind}s in namespace {ns}: {}", here.iter().map(|o| o.name_any()).take(20).collect::<Vec<_>>().join(", "))
            };
            Err(not_found(&format!("in namespace {ns}")).hint(hint))
        }
        Scope::Given(ns) => Err(not_found(&format!("in namespace {ns}")).hint(format!("it exists in: {}", namespaces_of(&same_name)))),
        Scope::Default(_) if same_name.len() == 1 => {
            let found = same_name.remove(0);
            say(&format!("{kind} {name} is not in namespace {home}; using {}/{name}", found.namespace().unwrap_or_default()));
            Ok(found)
        }
        Scope::Default(_) if same_name.is_empty() => Err(not_found(&format!("in namespace {home} or any other")).hint(candidates(kind, &everywhere))),
        Scope::Default(_) => Err(Error::usage(format!("{kind} {name:?} is not in namespace {home} but in several others: {}", namespaces_of(&same_name)))
            .hint("pick one with -n NAMESPACE")),
    }
}

fn namespaces_of(objects: &[DynamicObject]) -> String {
    objects.iter().map(|o| o.namespace().unwrap_or_default()).collect::<Vec<_>>().join(", ")
}

/// `HelmReleases: ns/a, ns/b` (the first 20), or that there are none.
fn candidates(kind: &str, objects: &[DynamicObject]) -> String {
    if objects.is_empty() {
        return format!("there are no {kind}s kdeck may see");
    }
    let names: BTreeSet<String> = objects.iter().map(|o| format!("{}/{}", o.namespace().unwrap_or_default(), o.name_any())).collect();
    let shown: Vec<String> = names.iter().take(20).cloned().collect();
    let more = if names.len() > shown.len() { format!(" (and {} more)", names.len() - shown.len()) } else { String::new() };
    format!("{kind}s: {}{more}", shown.join(", "))
}
