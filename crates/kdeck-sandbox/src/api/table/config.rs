//! What a namespace is configured with and who may use it: ConfigMaps, Secrets,
//! ServiceAccounts, ResourceQuotas, RoleBindings and ClusterRoleBindings.

use serde_json::Map;

use super::duration::Ctx;
use super::obj::{Obj, non_empty, quantity_text};
use super::{AGE, Col, NAME, Row, cells, col, wide};

#[rustfmt::skip]
pub(super) const CONFIG_MAP_COLUMNS: &[Col] = &[
    NAME,
    col("Data", "string", "Data contains the configuration data."),
    AGE,
];

pub(super) fn config_map_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    let count = o.map(&["data"]).map_or(0, Map::len) + o.map(&["binaryData"]).map_or(0, Map::len);
    Row::from(cells![o.name(), count, o.age(ctx)])
}

#[rustfmt::skip]
pub(super) const SECRET_COLUMNS: &[Col] = &[
    NAME,
    col("Type", "string", "Used to facilitate programmatic handling of secret data."),
    col("Data", "string", "Data contains the secret data."),
    AGE,
];

/// Only the type and how many keys: never a value.
pub(super) fn secret_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    // The server merges write-only stringData into data on write; count the union in
    // case the object was stored as written.
    let mut keys: Vec<&String> = o.map(&["data"]).into_iter().flat_map(Map::keys).collect();
    keys.extend(o.map(&["stringData"]).into_iter().flat_map(Map::keys));
    keys.sort();
    keys.dedup();
    // The API server defaults an empty type to Opaque.
    let kind = o.opt_str(&["type"]).and_then(non_empty).unwrap_or("Opaque");
    Row::from(cells![o.name(), kind, keys.len(), o.age(ctx)])
}

#[rustfmt::skip]
pub(super) const SERVICE_ACCOUNT_COLUMNS: &[Col] = &[
    NAME,
    col("Secrets", "string", "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use."),
    AGE,
];

pub(super) fn service_account_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    Row::from(cells![o.name(), o.list(&["secrets"]).len(), o.age(ctx)])
}

#[rustfmt::skip]
pub(super) const RESOURCE_QUOTA_COLUMNS: &[Col] = &[
    NAME,
    col("Request", "string", "Request represents a minimum amount of cpu/memory that a container may consume."),
    col("Limit", "string", "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node."),
    AGE,
];

/// `resource: used/hard` for every hard limit, `limits.*` in the Limit column.
pub(super) fn resource_quota_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    let used = o.child(&["status", "used"]);
    let mut requests = Vec::new();
    let mut limits = Vec::new();
    // serde_json's map iterates in key order, which is the printer's sort.
    for (resource, hard) in o.map(&["status", "hard"]).into_iter().flatten() {
        let used = used.at(&[resource.as_str()]).map_or_else(|| "0".to_string(), quantity_text);
        let entry = format!("{resource}: {used}/{}", quantity_text(hard));
        match resource.split_once('.') {
            Some(("limits", _)) => limits.push(entry),
            _ => requests.push(entry),
        }
    }
    Row::from(cells![o.name(), requests.join(", "), limits.join(", "), o.age(ctx)])
}

#[rustfmt::skip]
pub(super) const ROLE_BINDING_COLUMNS: &[Col] = &[
    NAME,
    col("Role", "string", "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace."),
    AGE,
    wide("Users", "string", "Users in the roleBinding"),
    wide("Groups", "string", "Groups in the roleBinding"),
    wide("ServiceAccounts", "string", "ServiceAccounts in the roleBinding"),
];

#[rustfmt::skip]
pub(super) const CLUSTER_ROLE_BINDING_COLUMNS: &[Col] = &[
    NAME,
    col("Role", "string", "RoleRef can only reference a ClusterRole in the global namespace."),
    AGE,
    wide("Users", "string", "Users in the clusterRoleBinding"),
    wide("Groups", "string", "Groups in the clusterRoleBinding"),
    wide("ServiceAccounts", "string", "ServiceAccounts in the clusterRoleBinding"),
];

/// Role bindings and cluster role bindings: `Kind/name` of the role, then subjects.
pub(super) fn role_binding_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    let mut users = Vec::new();
    let mut groups = Vec::new();
    let mut service_accounts = Vec::new();
    for subject in o.list(&["subjects"]).iter().map(Obj) {
        match subject.str(&["kind"]) {
            "ServiceAccount" => service_accounts.push(format!("{}/{}", subject.str(&["namespace"]), subject.str(&["name"]))),
            "User" => users.push(subject.str(&["name"]).to_string()),
            "Group" => groups.push(subject.str(&["name"]).to_string()),
            _ => {}
        }
    }
    Row::from(cells![
        o.name(),
        format!("{}/{}", o.str(&["roleRef", "kind"]), o.str(&["roleRef", "name"])),
        o.age(ctx),
        users.join(", "),
        groups.join(", "),
        service_accounts.join(", "),
    ])
}

#[cfg(test)]
mod tests {
    use crate::api::table::testing::{row, table};
    use serde_json::json;

    #[test]
    fn secret_and_config_map_show_counts_only() {
        let secret = json!({"metadata": {"name": "creds"}, "type": "kubernetes.io/basic-auth",
            "data": {"username": "YWRtaW4=", "password": "aHVudGVyMg=="}, "stringData": {"password": "hunter2", "token": "t0k3n"}});
        let t = table("", "secrets", &[secret]);
        assert_eq!(t["rows"][0]["cells"], json!(["creds", "kubernetes.io/basic-auth", 3, "<unknown>"]));
        let text = t["rows"][0].to_string();
        for value in ["YWRtaW4=", "aHVudGVyMg==", "hunter2", "t0k3n"] {
            assert!(!text.contains(value), "{value} leaked into {text}");
        }
        assert_eq!(row("", "secrets", json!({}))[1..3], [json!("Opaque"), json!(0)]);

        let cm = json!({"metadata": {"name": "cfg"}, "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}});
        assert_eq!(row("", "configmaps", cm)[1], 3);
        let sa = json!({"metadata": {"name": "default"}, "secrets": [{"name": "tok"}]});
        assert_eq!(row("", "serviceaccounts", sa)[1], 1);
    }

    #[test]
    fn role_binding_rows() {
        let rb = json!({"metadata": {"name": "admins"}, "roleRef": {"kind": "ClusterRole", "name": "admin"},
            "subjects": [{"kind": "User", "name": "alice"}, {"kind": "User", "name": "bob"},
                         {"kind": "Group", "name": "ops"}, {"kind": "ServiceAccount", "namespace": "ci", "name": "deployer"}]});
        let cells = row("rbac.authorization.k8s.io", "rolebindings", rb);
        assert_eq!(cells[1], "ClusterRole/admin");
        assert_eq!(cells[3..], [json!("alice, bob"), json!("ops"), json!("ci/deployer")]);
    }
}
