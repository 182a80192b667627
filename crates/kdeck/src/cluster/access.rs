//! Checks made before acting, so a failure says what is missing instead of
//! surfacing halfway: does the namespace exist, may these credentials do this.

use k8s_openapi::api::authorization::v1::{ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, PostParams};

use super::Cluster;
use crate::error::{Error, Result};

/// A permission: `create` on `pods/exec` in the core group, say.
#[derive(Clone, Copy, Debug)]
pub struct Permission<'a> {
    pub verb: &'a str,
    pub group: &'a str,
    pub resource: &'a str,
    pub subresource: Option<&'a str>,
}

impl Permission<'_> {
    fn describe(&self) -> String {
        let resource = match self.subresource {
            Some(sub) => format!("{}/{sub}", self.resource),
            None => self.resource.to_string(),
        };
        if self.group.is_empty() { format!("{} {resource}", self.verb) } else { format!("{} {resource}.{}", self.verb, self.group) }
    }
}

/// Fails, naming the permission, when the credentials may not do this in the
/// namespace. A cluster that cannot answer the question is not held against the user.
pub async fn require(cluster: &Cluster, namespace: &str, permission: Permission<'_>) -> Result<()> {
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                namespace: Some(namespace.to_string()),
                verb: Some(permission.verb.to_string()),
                group: Some(permission.group.to_string()),
                resource: Some(permission.resource.to_string()),
                subresource: permission.subresource.map(str::to_string),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let api: Api<SelfSubjectAccessReview> = Api::all(cluster.client.clone());
    let Ok(answer) = api.create(&PostParams::default(), &review).await else { return Ok(()) };
    if answer.status.is_some_and(|s| s.allowed) {
        return Ok(());
    }
    Err(Error::failure(format!("context {:?} may not {} in namespace {namespace}", cluster.context, permission.describe())).hint(format!(
        "ask for a Role in {namespace} that grants verbs [{}] on {}",
        permission.verb,
        permission.describe().split_once(' ').map_or("", |(_, r)| r)
    )))
}

/// Fails, naming the nearest namespaces that exist, when `namespace` does not. If
/// the credentials may not read namespaces (namespace-scoped RBAC), kdeck goes on
/// and says the namespace could not be checked.
pub async fn require_namespace(cluster: &Cluster, namespace: &str) -> Result<()> {
    let api: Api<Namespace> = Api::all(cluster.client.clone());
    match api.get_opt(namespace).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => {
            let names: Vec<String> =
                api.list(&Default::default()).await.map(|l| l.items.into_iter().filter_map(|n| n.metadata.name).collect()).unwrap_or_default();
            let mut near: Vec<&str> = names.iter().map(String::as_str).filter(|n| crate::project::suggest::nearest(namespace, [*n]).is_some()).collect();
            if near.is_empty() {
                near = names.iter().map(String::as_str).take(20).collect();
            }
            let hint = if near.is_empty() { "the cluster has no namespaces kdeck may see".to_string() } else { format!("namespaces: {}", near.join(", ")) };
            Err(Error::not_found(format!("namespace {namespace:?} not found (context {})", cluster.context)).hint(hint))
        }
        Err(kube::Error::Api(status)) if status.code == 403 => {
            eprintln!("note: namespace {namespace} could not be checked (context {:?} may not read namespaces); going on", cluster.context);
            Ok(())
        }
        Err(_) => Ok(()),
    }
}
