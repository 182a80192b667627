//! Bearer tokens and what each may do. A sandbox has two users: an admin, and a
//! read-only user for checking that tools behave when they lack rights.

use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Admin,
    ReadOnly,
}

#[derive(Clone, Debug)]
pub struct User {
    pub name: String,
    pub role: Role,
}

#[derive(Clone, Debug)]
pub struct Tokens {
    pub admin: String,
    pub readonly: String,
    pub cluster_name: String,
}

impl Tokens {
    pub fn user(&self, authorization: Option<&str>) -> Option<User> {
        let token = authorization?.strip_prefix("Bearer ")?.trim();
        // Compare without short-circuiting on the first differing byte.
        let same = |a: &str, b: &str| a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0;
        if same(token, &self.admin) {
            Some(User { name: format!("{}-admin", self.cluster_name), role: Role::Admin })
        } else if same(token, &self.readonly) {
            Some(User { name: format!("{}-readonly", self.cluster_name), role: Role::ReadOnly })
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

pub fn self_subject(user: &User, mut review: Value) -> Value {
    let groups = match user.role {
        Role::Admin => json!(["system:masters", "system:authenticated"]),
        Role::ReadOnly => json!(["system:authenticated"]),
    };
    review["status"] = json!({"userInfo": {"username": user.name, "groups": groups}});
    review
}
