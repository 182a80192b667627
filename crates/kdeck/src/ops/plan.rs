//! Plans: plain data saying what an operation will change and why. Printed by
//! `--dry-run` (a table, or JSON with `-o json`), then applied.

use serde::Serialize;

use crate::ui;

#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    /// The operation, as its command is named (`cleanse-pods`).
    pub operation: &'static str,
    pub context: String,
    pub items: Vec<PlanItem>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PlanItem {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// What will be done to it (`delete`, `annotate force-sync=…`).
    pub change: String,
    /// Why (`Evicted`, `selected by app=web`).
    pub reason: String,
    /// The object the plan was made for: a change to another object of the same
    /// name (or to this one, when `resourceVersion` is set) is refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    #[serde(rename = "resourceVersion", skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    /// The exact change, for machines (`-o json`); the table says it in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<serde_json::Value>,
}

impl PlanItem {
    pub fn new(kind: &str, namespace: String, name: String, change: String, reason: String) -> Self {
        PlanItem { kind: kind.into(), namespace, name, change, reason, uid: None, resource_version: None, patch: None }
    }

    /// The precondition of deleting the planned object.
    pub fn precondition(&self) -> crate::cluster::delete::Precondition {
        crate::cluster::delete::Precondition { uid: self.uid.clone().unwrap_or_default(), resource_version: self.resource_version.clone() }
    }
}

impl Plan {
    pub fn new(operation: &'static str, context: &str) -> Self {
        Plan { operation, context: context.to_string(), items: Vec::new() }
    }

    pub fn table(&self) -> String {
        let rows: Vec<Vec<String>> =
            self.items.iter().map(|i| vec![i.namespace.clone(), format!("{}/{}", i.kind.to_lowercase(), i.name), i.change.clone(), i.reason.clone()]).collect();
        ui::table(&["NAMESPACE", "NAME", "CHANGE", "REASON"], &rows)
    }

    /// The dry-run output: the plan, and a line saying nothing was changed.
    pub fn print_dry_run(&self, format: ui::OutputFormat) {
        match format {
            ui::OutputFormat::Json => ui::print_json(&serde_json::json!({"dryRun": true, "plan": self})),
            ui::OutputFormat::Text => {
                if self.items.is_empty() {
                    println!("nothing to do (context {})", self.context);
                } else {
                    print!("{}", self.table());
                }
                eprintln!("dry run: {} change(s) planned on context {}, nothing changed", self.items.len(), self.context);
            }
        }
    }
}
