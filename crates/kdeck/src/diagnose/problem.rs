//! A problem as diagnosis reports it: the root cause first, the chain of objects
//! from what the user sees down to it, the evidence for each step, and the fix.

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    pub fn word(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One piece of evidence: where it was read and what it says.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Evidence {
    /// `event`, `log`, `condition`, `field`, `state`.
    pub kind: &'static str,
    /// The object it is about (`pod/api-7f9c-x2`, `configmap/api-config`).
    pub object: String,
    pub text: String,
}

impl Evidence {
    pub fn new(kind: &'static str, object: impl Into<String>, text: impl Into<String>) -> Self {
        Evidence { kind, object: object.into(), text: text.into() }
    }
}

/// One link of the chain: an object and its state.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Link {
    pub object: String,
    pub state: String,
}

/// The root cause: the object to change, and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RootCause {
    /// The rule that named it (`crash-loop`, `localhost-dependency`, `image-pull`, …).
    pub rule: &'static str,
    pub object: String,
    pub summary: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// Stable across runs: rule, namespace and root object.
    pub id: String,
    pub severity: Severity,
    pub namespace: String,
    pub root_cause: RootCause,
    /// From what the user sees (an Ingress, a Service) down to the root cause.
    pub chain: Vec<Link>,
    pub evidence: Vec<Evidence>,
    /// Commands or concrete changes, in order.
    pub fix: Vec<String>,
    /// The objects the problem touches (pods, workloads, Services), for grouping and targets.
    pub affected: Vec<String>,
    /// How many identical problems this one stands for (evicted pods of one node: one problem).
    pub count: usize,
    /// A model's wording of the problem (`--explain`), marked as such.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Explanation>,
}

/// What a model said about a problem: shown apart from kdeck's own findings.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Explanation {
    pub model: String,
    pub text: String,
}

impl Problem {
    pub fn new(severity: Severity, namespace: &str, rule: &'static str, object: impl Into<String>, summary: impl Into<String>) -> Self {
        let object = object.into();
        Problem {
            id: format!("{rule}/{namespace}/{object}"),
            severity,
            namespace: namespace.to_string(),
            root_cause: RootCause { rule, object, summary: summary.into() },
            chain: Vec::new(),
            evidence: Vec::new(),
            fix: Vec::new(),
            affected: Vec::new(),
            count: 1,
            explanation: None,
        }
    }

    pub fn link(mut self, object: impl Into<String>, state: impl Into<String>) -> Self {
        self.chain.push(Link { object: object.into(), state: state.into() });
        self
    }

    pub fn evidence(mut self, evidence: Evidence) -> Self {
        if !self.evidence.contains(&evidence) {
            self.evidence.push(evidence);
        }
        self
    }

    pub fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix.push(fix.into());
        self
    }

    pub fn affects(mut self, object: impl Into<String>) -> Self {
        let object = object.into();
        if !self.affected.contains(&object) {
            self.affected.push(object);
        }
        self
    }

    /// Whether the problem is about `object` (`deploy/api`) in `namespace`, as its
    /// root cause, a link of its chain or an affected object.
    pub fn touches(&self, namespace: &str, object: &str) -> bool {
        self.namespace == namespace
            && (self.root_cause.object == object || self.chain.iter().any(|l| l.object == object) || self.affected.iter().any(|a| a == object))
    }
}

/// Merges problems with the same id (the same root cause reached from several pods
/// or workloads): one problem, the count summed, the chains and evidence of the
/// first kept with the others' affected objects added. Sorted: errors first, then
/// by namespace and id.
pub fn group(problems: Vec<Problem>) -> Vec<Problem> {
    let mut out: Vec<Problem> = Vec::new();
    for problem in problems {
        match out.iter_mut().find(|p| p.id == problem.id) {
            Some(first) => {
                for fix in problem.fix {
                    if !first.fix.contains(&fix) {
                        first.fix.push(fix);
                    }
                }
                if first.chain.is_empty() {
                    first.chain = problem.chain;
                }
                for object in problem.affected {
                    if !first.affected.contains(&object) {
                        first.affected.push(object);
                    }
                }
                for evidence in problem.evidence {
                    if first.evidence.len() < MAX_EVIDENCE && !first.evidence.contains(&evidence) {
                        first.evidence.push(evidence);
                    }
                }
                first.severity = first.severity.max(problem.severity);
            }
            None => out.push(problem),
        }
    }
    for problem in &mut out {
        // How many instances it stands for: the pods it touches, else one.
        problem.count = problem.affected.iter().filter(|a| a.starts_with("pod/")).count().max(1);
    }
    out.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.namespace.cmp(&b.namespace)).then_with(|| a.id.cmp(&b.id)));
    out
}

/// Evidence kept per problem once grouped: enough to convince, not a dump.
const MAX_EVIDENCE: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_root_cause_from_two_workloads_is_one_problem_counting_both() {
        let a = Problem::new(Severity::Error, "shop", "missing-secret", "secret/db", "missing").affects("deploy/api");
        let b = Problem::new(Severity::Error, "shop", "missing-secret", "secret/db", "missing").affects("deploy/worker");
        let c = Problem::new(Severity::Warning, "shop", "no-limits", "deploy/api", "no limits");
        let grouped = group(vec![c, a, b]);
        assert_eq!(grouped.len(), 2);
        assert_eq!(grouped[0].root_cause.rule, "missing-secret", "errors first");
        assert_eq!(grouped[0].count, 1, "no pod among them: one instance");
        assert_eq!(grouped[0].affected, ["deploy/api", "deploy/worker"]);
        assert!(grouped[0].touches("shop", "deploy/worker"));
        assert!(!grouped[0].touches("other", "deploy/worker"));
    }
}
