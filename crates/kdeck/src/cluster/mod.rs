//! Clusters: kubeconfig files, contexts, clients, name validation, and discovery of
//! the custom resources kdeck operates on.

pub mod access;
pub mod client;
pub mod connect;
pub mod crds;
pub mod delete;
pub mod kubeconfig;
pub mod listing;
pub mod locate;
pub mod names;
pub mod target;
pub mod wait;

use std::path::Path;

pub use connect::{Cluster, ClusterArgs, NamespaceArgs};

/// The label saying why kdeck created an object (`browse-pvc`, `task`).
pub const PURPOSE_LABEL: &str = "kdeck.dev/purpose";
/// The standard label naming the tool that manages an object.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";

use crate::error::{Error, Result};

/// The hint of a "not found" error: what exists instead (the first 20), e.g.
/// `claims in namespace app: data, cache`.
pub async fn existing_names<K>(api: &kube::Api<K>, what: &str, place: &str) -> String
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    use kube::ResourceExt;
    match api.list(&kube::api::ListParams::default().limit(20)).await {
        Ok(list) if list.items.is_empty() => format!("there are no {what} {place}"),
        Ok(list) => format!("{what} {place}: {}", list.items.iter().map(|o| o.name_any()).collect::<Vec<_>>().join(", ")),
        Err(_) => format!("the {what} {place} could not be listed"),
    }
}

/// A kube-rs client for `context` in the kubeconfig at `path`. The context must exist.
pub async fn client_for(path: &Path, context: &str) -> Result<kube::Client> {
    let config = kubeconfig::Kubeconfig::load(path)?;
    let names = config.context_names();
    if !names.iter().any(|n| n == context) {
        return Err(Error::not_found(format!("context {context:?} is not in the kubeconfig {}", path.display())).hint(connect::contexts_hint(&names)));
    }
    let raw = kube::config::Kubeconfig::read_from(path).map_err(|e| Error::usage(format!("cannot read the kubeconfig {}: {e}", path.display())))?;
    let options = kube::config::KubeConfigOptions { context: Some(context.to_string()), ..Default::default() };
    let config = kube::Config::from_custom_kubeconfig(raw, &options).await.map_err(|e| Error::usage(format!("context {context:?}: {e}")))?;
    client::build(config, &client::Retries::new(), false).map_err(|e| Error::failure(format!("cannot create a client for context {context:?}: {e}")))
}

/// What a kdeck sandbox says of itself (`GET /kdeck/info`); None for any other cluster.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SandboxInfo {
    #[serde(default)]
    pub sandbox: String,
    /// Whether pods that opt in really run their command (`sandbox start --run-commands`).
    #[serde(default)]
    pub run_commands: bool,
}

/// Asks the cluster whether it is a kdeck sandbox. A real cluster answers 404 (or
/// refuses): that is None, not an error.
pub async fn sandbox_info(cluster: &Cluster) -> Option<SandboxInfo> {
    let request = http::Request::get("/kdeck/info").body(Vec::new()).ok()?;
    let text = cluster.client.request_text(request).await.ok()?;
    serde_json::from_str(&text).ok()
}
