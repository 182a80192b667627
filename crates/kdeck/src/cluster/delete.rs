//! Deletes that cannot hit the wrong object. Every delete kdeck issues from a plan
//! names the object it planned for by uid — and by resourceVersion when the plan
//! read state that may change — so an object replaced or changed between the plan
//! and the delete is left alone and reported "changed since planned, skipped",
//! never deleted and never retried blindly.

use kube::api::{Api, DeleteParams, Preconditions};
use serde::de::DeserializeOwned;

/// The object a plan was made for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Precondition {
    pub uid: String,
    /// Also require this version (the plan depends on state that may change).
    pub resource_version: Option<String>,
}

impl Precondition {
    pub fn uid(uid: impl Into<String>) -> Self {
        Precondition { uid: uid.into(), resource_version: None }
    }

    /// The uid and resourceVersion of `obj`.
    pub fn exact<K: kube::Resource>(obj: &K) -> Self {
        let meta = obj.meta();
        Precondition { uid: meta.uid.clone().unwrap_or_default(), resource_version: meta.resource_version.clone() }
    }
}

/// What became of a planned delete.
#[derive(Debug)]
pub enum Deleted {
    /// The object is being deleted (or is gone).
    Yes,
    /// It was already gone: nothing to do.
    AlreadyGone,
    /// It is not the object (or not the state) the plan was made for; left alone.
    Changed(String),
}

/// Deletes `name` if it is still the object `precondition` names. Transient
/// failures are retried by the client's retry layer (a repeat is safe: the
/// precondition makes it refuse or find the object gone).
pub async fn planned<K>(api: &Api<K>, name: &str, precondition: &Precondition, params: &DeleteParams) -> kube::Result<Deleted>
where
    K: kube::Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let mut params = params.clone();
    params.preconditions =
        Some(Preconditions { uid: Some(precondition.uid.clone()).filter(|u| !u.is_empty()), resource_version: precondition.resource_version.clone() });
    match api.delete(name, &params).await {
        Ok(_) => Ok(Deleted::Yes),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(Deleted::AlreadyGone),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(Deleted::Changed(status.message)),
        Err(e) => Err(e),
    }
}
