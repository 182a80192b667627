//! ServiceAccount tokens, as a real cluster gives them to pods:
//!
//! - [`admission`]: the ServiceAccount admission plugin — every new pod runs as an
//!   existing account and, unless told otherwise, gets the projected
//!   `kube-api-access-*` volume (token, root CA, namespace);
//! - [`token`]: signed, bound tokens (`system:serviceaccount:NS:NAME`) and their
//!   authentication; they have the read-only user's rights (see `api::auth`);
//! - [`request`]: the TokenRequest subresource (`kubectl create token`), which the
//!   kubelet's projection uses too (`kubelet::exec::files`).

pub mod admission;
pub mod request;
pub mod token;

/// Where the admission plugin mounts the token volume.
pub const MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// The token volume's name, before its random suffix.
pub const VOLUME_PREFIX: &str = "kube-api-access";
/// The tokens' issuer, and the API server's audience (kind's and kubeadm's default).
pub const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
pub const AUDIENCE: &str = ISSUER;
/// The lifetime the token volume asks for (`WarnOnlyBoundTokenExpirationSeconds`).
pub const WARN_ONLY_EXPIRATION: i64 = 3607;
/// What such a pod-bound token is really valid for: a year.
pub const EXTENDED_EXPIRATION: i64 = 365 * 24 * 60 * 60;
/// A TokenRequest's lifetime when it names none.
pub const DEFAULT_EXPIRATION: i64 = 3600;

/// The user name a ServiceAccount authenticates as.
pub fn username(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

/// Its groups, as the real authenticator gives them.
pub fn groups(namespace: &str) -> Vec<String> {
    vec!["system:serviceaccounts".into(), format!("system:serviceaccounts:{namespace}"), "system:authenticated".into()]
}

/// For the modules' tests: a sandbox API over an empty store, with namespace `team`.
#[cfg(test)]
pub(crate) fn test_rest() -> crate::rest::Rest {
    let rest = crate::rest::Rest::new(std::sync::Arc::new(crate::store::Store::new()), crate::resources::Catalogue::new());
    let ns = rest.catalogue.find("", "v1", "namespaces").unwrap();
    rest.create(&ns, None, serde_json::json!({"metadata": {"name": "team"}}), &Default::default()).unwrap();
    rest
}
