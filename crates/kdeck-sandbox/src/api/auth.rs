//! Bearer tokens and what each may do. A sandbox has two users of its own: an
//! admin, and a read-only user for checking that tools behave when they lack
//! rights. ServiceAccount tokens (those in pods, and TokenRequest's; see
//! [`crate::serviceaccount`]) authenticate as `system:serviceaccount:NS:NAME` with
//! the read-only user's rights: a pod never holds cluster-admin.

use serde_json::{Map, Value, json};

use crate::store::Store;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Admin,
    ReadOnly,
}

#[derive(Clone, Debug)]
pub struct User {
    pub name: String,
    pub role: Role,
    /// The user's uid (a ServiceAccount's), empty for the sandbox's own users.
    pub uid: String,
    pub groups: Vec<String>,
    /// What the authenticator adds (a ServiceAccount token's credential id, pod, node).
    pub extra: Map<String, Value>,
}

impl User {
    fn own(name: String, role: Role) -> User {
        let groups = match role {
            Role::Admin => vec!["system:masters".into(), "system:authenticated".into()],
            Role::ReadOnly => vec!["system:authenticated".into()],
        };
        User { name, role, uid: String::new(), groups, extra: Map::new() }
    }
}

#[derive(Clone, Debug)]
pub struct Tokens {
    pub admin: String,
    pub readonly: String,
    pub cluster_name: String,
}

impl Tokens {
    /// Who the `Authorization` header's bearer token is; ServiceAccount tokens are
    /// checked against the objects they name in `store`.
    pub fn user(&self, authorization: Option<&str>, store: &Store) -> Option<User> {
        // As the apiserver's bearer authenticator reads it: the scheme in any case
        // (the Python client sends `bearer`), the token up to the next space.
        let mut parts = authorization?.trim().splitn(3, ' ');
        let (scheme, token) = (parts.next()?, parts.next()?);
        if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
            return None;
        }
        // Compare without short-circuiting on the first differing byte.
        let same = |a: &str, b: &str| a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0;
        if same(token, &self.admin) {
            Some(User::own(format!("{}-admin", self.cluster_name), Role::Admin))
        } else if same(token, &self.readonly) {
            Some(User::own(format!("{}-readonly", self.cluster_name), Role::ReadOnly))
        } else if crate::serviceaccount::token::looks_like_jwt(token) {
            let who = crate::serviceaccount::token::authenticate(token, store, crate::time::unix_secs())?;
            Some(User {
                name: crate::serviceaccount::username(&who.namespace, &who.name),
                role: Role::ReadOnly,
                uid: who.uid,
                groups: crate::serviceaccount::groups(&who.namespace),
                extra: who.extra,
            })
        } else {
            None
        }
    }
}

/// Reviews that everyone may create: they only ask about the caller's own rights.
pub fn is_self_review(group: &str) -> bool {
    matches!(group, "authorization.k8s.io" | "authentication.k8s.io")
}

pub fn allows(role: Role, verb: &str, group: &str) -> bool {
    match role {
        Role::Admin => true,
        Role::ReadOnly => matches!(verb, "get" | "list" | "watch") || (verb == "create" && is_self_review(group)),
    }
}

/// The answer to a SelfSubjectAccessReview, filled into the request object.
pub fn review_access(user: &User, mut review: Value) -> Value {
    let attrs = &review["spec"]["resourceAttributes"];
    let verb = attrs["verb"].as_str().or_else(|| review["spec"]["nonResourceAttributes"]["verb"].as_str()).unwrap_or("get").to_string();
    let group = attrs["group"].as_str().unwrap_or_default().to_string();
    let allowed = allows(user.role, &verb, &group) || verb == "*" && user.role == Role::Admin;
    review["status"] = if allowed {
        json!({"allowed": true, "reason": format!("user {} may {verb}", user.name)})
    } else {
        // RBAC denials carry no reason; kubectl then prints a bare "no".
        json!({"allowed": false})
    };
    review
}

/// The rules a SelfSubjectRulesReview reports for the caller.
pub fn rules_review(user: &User, mut review: Value) -> Value {
    let verbs: Vec<&str> = match user.role {
        Role::Admin => vec!["*"],
        Role::ReadOnly => vec!["get", "list", "watch"],
    };
    review["status"] = json!({
        "resourceRules": [
            {"verbs": verbs, "apiGroups": ["*"], "resources": ["*"]},
            {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]},
        ],
        "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": ["*"]}],
        "incomplete": false,
    });
    review
}

/// The answer to a SelfSubjectReview (`kubectl auth whoami`): who the caller is.
pub fn self_subject(user: &User, mut review: Value) -> Value {
    let mut info = json!({"username": user.name});
    if !user.uid.is_empty() {
        info["uid"] = json!(user.uid);
    }
    info["groups"] = json!(user.groups);
    if !user.extra.is_empty() {
        info["extra"] = Value::Object(user.extra.clone());
    }
    review["status"] = json!({"userInfo": info});
    review
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_as_the_apiserver_reads_them() {
        let tokens = Tokens { admin: "admintoken".into(), readonly: "readtoken".into(), cluster_name: "c".into() };
        let store = Store::new();
        let user = |header: &str| tokens.user(Some(header), &store).map(|u| u.name);
        assert_eq!(user("Bearer admintoken").as_deref(), Some("c-admin"));
        // The Python client writes the scheme in lower case.
        assert_eq!(user("bearer readtoken").as_deref(), Some("c-readonly"));
        assert_eq!(user("  BEARER admintoken  ").as_deref(), Some("c-admin"));
        for refused in ["Basic admintoken", "Bearer", "Bearer ", "Bearer admintokenx", "admintoken"] {
            assert_eq!(user(refused), None, "{refused:?}");
        }
    }
}
