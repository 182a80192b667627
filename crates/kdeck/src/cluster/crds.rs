//! The custom resources kdeck operates on, with their API version discovered from
//! the cluster: HelmRelease (helm.toolkit.fluxcd.io v2) and ExternalSecret
//! (external-secrets.io v1, falling back to v1beta1 on older installs).

use kube::api::ApiResource;
use kube::core::GroupVersionKind;

use super::connect::Cluster;
use crate::error::{Error, Result};

/// A custom resource kind and the versions kdeck understands, preferred first.
pub struct CustomKind {
    pub group: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub versions: &'static [&'static str],
    /// What installs it, for the error when it is missing.
    pub installed_by: &'static str,
}

pub const HELM_RELEASE: CustomKind =
    CustomKind { group: "helm.toolkit.fluxcd.io", kind: "HelmRelease", plural: "helmreleases", versions: &["v2"], installed_by: "Flux (helm-controller)" };

pub const EXTERNAL_SECRET: CustomKind = CustomKind {
    group: "external-secrets.io",
    kind: "ExternalSecret",
    plural: "externalsecrets",
    versions: &["v1", "v1beta1"],
    installed_by: "External Secrets Operator",
};

/// A custom resource's `Ready` condition as (status, reason, message); empty
/// strings for what it does not say.
pub fn ready_condition(obj: &kube::api::DynamicObject) -> (String, String, String) {
    let conditions = obj.data["status"]["conditions"].as_array();
    let ready = conditions.and_then(|c| c.iter().find(|c| c["type"] == "Ready"));
    let text = |k: &str| ready.and_then(|c| c[k].as_str()).unwrap_or_default().to_string();
    (text("status"), text("reason"), text("message"))
}

impl CustomKind {
    /// The resource at the first preferred version the cluster serves.
    pub async fn discover(&self, cluster: &Cluster) -> Result<ApiResource> {
        let missing = || {
            Error::not_found(format!("the cluster (context {:?}) does not serve {} ({})", cluster.context, self.kind, self.group))
                .hint(format!("is {} installed? its CRD is {}.{}", self.installed_by, self.plural, self.group))
        };
        let group = match kube::discovery::group(&cluster.client, self.group).await {
            Ok(group) => group,
            Err(kube::Error::Discovery(_)) => return Err(missing()),
            Err(kube::Error::Api(status)) if status.code == 404 => return Err(missing()),
            Err(e) => return Err(cluster.error(&format!("discovering {}", self.group), e)),
        };
        let served = group.versions().map(str::to_string).collect::<Vec<_>>();
        let version = self.versions.iter().find(|v| served.iter().any(|s| s == *v)).ok_or_else(|| {
            Error::not_found(format!("the cluster serves {} only at {}, which kdeck does not know", self.group, served.join(", "))).hint(format!(
                "kdeck understands {} {}",
                self.kind,
                self.versions.join(" and ")
            ))
        })?;
        let has_kind = group.versioned_resources(version).iter().any(|(r, _)| r.plural == self.plural);
        if !has_kind {
            return Err(missing());
        }
        Ok(ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(self.group, version, self.kind), self.plural))
    }
}
