//! The lint report as text (grouped by file, in line order), JSON (a stable
//! shape) and SARIF 2.1.0 (one result per finding, at its file and line).

use serde_json::{Value, json};

use super::rules::{RULES, find};
use super::{Report, Severity};
use crate::ui::sarif;

impl Report {
    pub fn count(&self, severity: Severity) -> usize {
        self.findings.iter().filter(|f| f.severity == severity).count()
    }

    fn summary(&self) -> Value {
        json!({
            "errors": self.count(Severity::Error),
            "warnings": self.count(Severity::Warning),
            "info": self.count(Severity::Info),
            "objects": self.objects,
            "dockerfiles": self.dockerfiles,
            "inputErrors": self.errors.len(),
        })
    }

    pub fn json(&self) -> Value {
        json!({"findings": self.findings, "errors": self.errors, "summary": self.summary()})
    }

    pub fn text(&self) -> String {
        let mut out = String::new();
        let mut file: Option<&str> = None;
        let mut explained = std::collections::BTreeSet::new();
        for f in &self.findings {
            if file != Some(f.file.as_str()) {
                if file.is_some() {
                    out.push('\n');
                }
                out.push_str(&format!("{}\n", f.file));
                file = Some(&f.file);
            }
            let mut place: Vec<String> = Vec::new();
            if let Some(object) = &f.object {
                place.push(object.clone());
            }
            if let Some(container) = &f.container {
                place.push(format!("container {container}"));
            }
            let place = if place.is_empty() { String::new() } else { format!("{}: ", place.join(", ")) };
            out.push_str(&format!("  {:>4}  {:<7}  {}  {place}{}\n", f.line, f.severity.word(), f.rule, f.message));
            if let Some(field) = &f.field {
                out.push_str(&format!("{:15}field: {field}\n", ""));
            }
            // Why and fix once per rule: later findings of the rule refer to it.
            if explained.insert(f.rule) {
                out.push_str(&format!("{:15}why:   {}\n{:15}fix:   {}\n", "", f.why, "", f.fix));
            }
        }
        if !self.findings.is_empty() {
            out.push('\n');
        }
        let (errors, warnings, info) = (self.count(Severity::Error), self.count(Severity::Warning), self.count(Severity::Info));
        let looked_at = format!("{} object(s), {} Dockerfile(s)", self.objects, self.dockerfiles);
        out.push_str(&match errors + warnings + info {
            0 => format!("no findings in {looked_at}\n"),
            _ => format!("{errors} error(s), {warnings} warning(s), {info} info in {looked_at}\n"),
        });
        out
    }

    pub fn sarif(&self) -> Value {
        let mut ids: Vec<&str> = self.findings.iter().map(|f| f.rule).collect();
        ids.sort_unstable();
        ids.dedup();
        let rules: Vec<sarif::Rule<'_>> =
            ids.iter().filter_map(|id| find(id)).map(|r| sarif::Rule { id: r.id, description: r.why, help: Some(format!("Fix: {}", r.fix)) }).collect();
        let uris: Vec<String> = self.findings.iter().map(|f| sarif::uri(&f.file)).collect();
        let messages: Vec<String> = self
            .findings
            .iter()
            .map(|f| match (&f.object, &f.container) {
                (Some(object), Some(container)) => format!("{object} (container {container}): {}", f.message),
                (Some(object), None) => format!("{object}: {}", f.message),
                _ => f.message.clone(),
            })
            .collect();
        let results: Vec<sarif::Result<'_>> = self
            .findings
            .iter()
            .zip(uris.iter().zip(&messages))
            .map(|(f, (uri, message))| sarif::Result {
                rule: f.rule,
                level: match f.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                    Severity::Info => "note",
                },
                message,
                locations: vec![sarif::Location::File { uri, line: f.line }],
                fingerprint: None,
                properties: json!({"object": f.object, "container": f.container, "field": f.field, "fix": f.fix}),
            })
            .collect();
        sarif::log(&rules, &results)
    }
}

/// Every rule as a table: `--list-rules`.
pub fn rules_text() -> String {
    let rows: Vec<Vec<String>> =
        RULES.iter().map(|r| vec![r.id.to_string(), r.family.word().to_string(), r.severity.word().to_string(), r.why.to_string()]).collect();
    crate::ui::table(&["RULE", "FAMILY", "SEVERITY", "WHY"], &rows)
}
