//! `--explain`: a model words each problem for a person. It gets only the
//! problem's structured evidence — already scrubbed by the redactor, never a
//! whole object — and its answer is scrubbed again and shown marked as the
//! model's. The deterministic report stands without it: when the model is down or
//! answers garbage, the report says so under the problems.

use futures::StreamExt;
use serde_json::json;

use super::problem::{Explanation, Problem};
use crate::llm::Model;
use crate::redact::Redactor;

/// Problems explained per run, at most (the first, errors first).
const MAX_EXPLAINED: usize = 10;
/// Requests to the model at once.
const CONCURRENT: usize = 4;

const SYSTEM: &str = "You explain Kubernetes problems to the engineer who has to fix them. \
You get one problem found by a deterministic analyzer: its root cause, the chain of objects from what the user sees \
down to the cause, the evidence, and the fix. In at most four sentences of plain language, say what is happening \
and why, and what to do. Use only the facts given; do not invent names, values or commands. Masked values (******) are secrets: \
never guess them.";

/// Explains the problems in place; returns a note when the model could not. With
/// `anonymize`, object, container and namespace names are sent as masks (`OBJ3`,
/// `NS1`: stable within the run) and put back in the answers.
pub async fn explain(model: &Model, problems: &mut [Problem], redactor: &Redactor, anonymize: bool) -> Option<String> {
    let masks = if anonymize { Masks::of(problems) } else { Masks::default() };
    let asked: Vec<(usize, String)> = problems
        .iter()
        .enumerate()
        .take(MAX_EXPLAINED)
        .map(|(i, p)| {
            let facts = json!({"rootCause": p.root_cause, "chain": p.chain, "evidence": p.evidence, "fix": p.fix, "count": p.count});
            (i, masks.mask(&serde_json::to_string_pretty(&facts).unwrap_or_default()))
        })
        .collect();
    let answers: Vec<(usize, Result<String, String>)> =
        futures::stream::iter(asked.into_iter().map(|(i, facts)| async move { (i, model.complete(SYSTEM, &facts).await) }))
            .buffer_unordered(CONCURRENT)
            .collect()
            .await;
    let mut failure = None;
    for (i, answer) in answers {
        match answer {
            Ok(text) => problems[i].explanation = Some(Explanation { model: model.model.clone(), text: redactor.scrub(&masks.restore(&text)) }),
            Err(e) => failure = failure.or(Some(e)),
        }
    }
    let skipped = problems.len().saturating_sub(MAX_EXPLAINED);
    match (failure, skipped) {
        (Some(e), _) => Some(format!("the model could not explain every problem: {e}; the report above is kdeck's own and complete")),
        (None, 0) => None,
        (None, n) => Some(format!("the model explained the first {MAX_EXPLAINED} problems; {n} more are not explained")),
    }
}

/// Names replaced by masks for the model, and back. Kubernetes names are lowercase,
/// so upper-case masks never collide with one; longer names are replaced first, so
/// `api-config` is not masked as `api` + `-config`.
#[derive(Default)]
struct Masks {
    /// (name, mask), longest name first.
    pairs: Vec<(String, String)>,
}

impl Masks {
    fn of(problems: &[Problem]) -> Masks {
        let mut objects: Vec<String> = Vec::new();
        let mut namespaces: Vec<String> = Vec::new();
        for p in problems {
            if !p.namespace.is_empty() && !namespaces.contains(&p.namespace) {
                namespaces.push(p.namespace.clone());
            }
            let references =
                std::iter::once(&p.root_cause.object).chain(p.chain.iter().map(|l| &l.object)).chain(&p.affected).chain(p.evidence.iter().map(|e| &e.object));
            let mut names: Vec<&str> = references
                .map(|reference| match reference.split_once(['/', ' ']) {
                    Some((_, name)) => name,
                    None => reference.as_str(),
                })
                .collect();
            // Objects named inside evidence and fixes (`… (deploy/api)`), too.
            let texts =
                p.evidence.iter().map(|e| e.text.as_str()).chain(p.fix.iter().map(String::as_str)).chain(std::iter::once(p.root_cause.summary.as_str()));
            names.extend(texts.flat_map(named_objects));
            for name in names {
                if name.len() > 1 && !objects.iter().any(|o| o == name) {
                    objects.push(name.to_string());
                }
            }
        }
        let mut pairs: Vec<(String, String)> = objects.into_iter().enumerate().map(|(i, n)| (n, format!("OBJ{}", i + 1))).collect();
        pairs.extend(namespaces.into_iter().enumerate().map(|(i, n)| (n, format!("NS{}", i + 1))));
        pairs.sort_by_key(|(name, _)| std::cmp::Reverse(name.len()));
        Masks { pairs }
    }

    fn mask(&self, text: &str) -> String {
        self.pairs.iter().fold(text.to_string(), |text, (name, mask)| text.replace(name.as_str(), mask))
    }

    /// Masks back to names, the longest mask first (`OBJ12` before `OBJ1`).
    fn restore(&self, text: &str) -> String {
        let mut by_mask: Vec<&(String, String)> = self.pairs.iter().collect();
        by_mask.sort_by_key(|(_, mask)| std::cmp::Reverse(mask.len()));
        by_mask.iter().fold(text.to_string(), |text, (name, mask)| text.replace(mask.as_str(), name))
    }
}

/// The names in `kind/name` references inside free text.
fn named_objects(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| c.is_whitespace() || "()[],;:\"'`".contains(c)).filter_map(|token| {
        let (kind, name) = token.split_once('/')?;
        let name = name.trim_end_matches('.');
        let is_kind = !kind.is_empty() && kind.chars().all(|c| c.is_ascii_lowercase() || c == '.');
        let is_name = !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
        (is_kind && is_name).then_some(name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::problem::{Evidence, Severity};

    #[test]
    fn names_are_masked_for_the_model_and_put_back_in_its_answer() {
        let problem = Problem::new(Severity::Error, "shop", "localhost-dependency", "configmap/api-config", "api crash-loops")
            .link("deploy/api", "0/2 available")
            .link("container api", "exit 1")
            .affects("pod/api-7f9c-x2");
        let masks = Masks::of(std::slice::from_ref(&problem));
        let sent = masks.mask("configmap/api-config of deploy/api in shop; pod/api-7f9c-x2 container api");
        assert!(!sent.contains("api") && !sent.contains("shop"), "{sent}");
        assert_eq!(masks.restore(&sent), "configmap/api-config of deploy/api in shop; pod/api-7f9c-x2 container api");
        let answer = masks.restore(&format!("Fix {} first.", masks.mask("api-config")));
        assert_eq!(answer, "Fix api-config first.");
        // Names met only inside evidence text are masked too.
        let problem = Problem::new(Severity::Error, "shop", "service-selects-nothing", "service/db", "Service db selects app=pg").evidence(Evidence::new(
            "field",
            "pods of the namespace",
            "labels under the same keys: app=billing (deploy/billing)",
        ));
        let masks = Masks::of(std::slice::from_ref(&problem));
        assert!(!masks.mask("labels under the same keys: app=billing (deploy/billing)").contains("billing"));
    }
}
