//! `--explain`: a model words each problem for a person. It gets only the
//! problem's structured evidence — already scrubbed by the redactor, never a
//! whole object — and its answer is scrubbed again and shown marked as the
//! model's. The deterministic report stands without it: when the model is down or
//! answers garbage, the report says so under the problems.

use futures::StreamExt;
use serde_json::json;

use super::problem::{Explanation, Problem};
use super::redact::Redactor;
use crate::llm::Model;

/// Problems explained per run, at most (the first, errors first).
const MAX_EXPLAINED: usize = 10;
/// Requests to the model at once.
const CONCURRENT: usize = 4;

const SYSTEM: &str = "You explain Kubernetes problems to the engineer who has to fix them. \
You get one problem found by a deterministic analyzer: its root cause, the chain of objects from what the user sees \
down to the cause, the evidence, and the fix. In at most four sentences of plain language, say what is happening \
and why, and what to do. Use only the facts given; do not invent names, values or commands. Masked values (***) are secrets: \
never guess them.";

/// Explains the problems in place; returns a note when the model could not.
pub async fn explain(model: &Model, problems: &mut [Problem], redactor: &Redactor) -> Option<String> {
    let asked: Vec<(usize, String)> = problems
        .iter()
        .enumerate()
        .take(MAX_EXPLAINED)
        .map(|(i, p)| {
            let facts = json!({"rootCause": p.root_cause, "chain": p.chain, "evidence": p.evidence, "fix": p.fix, "count": p.count});
            (i, serde_json::to_string_pretty(&facts).unwrap_or_default())
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
            Ok(text) => problems[i].explanation = Some(Explanation { model: model.model.clone(), text: redactor.scrub(&text) }),
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
