//! `kdeck ask`: a question answered by a model that calls kdeck's tools.
//!
//! The loop: the model gets the question and the registry's tools; each tool call
//! is shown as it happens (`→ diagnose -n demo`), checked, and run — reads at once,
//! their results redacted before they are sent; a change only as its plan, shown to
//! the person, and applied only when they type `yes` on a terminal (never without
//! a terminal, never with `--dry-run`: then the command ends non-zero). The number
//! of turns is bounded. The answer is shown as the model's, followed by the
//! evidence kdeck gathered itself.

use serde::Serialize;
use serde_json::{Value, json};

use super::tools::{self, Call, Outcome, Tools};
use crate::llm::{Message, Model, Reply, ToolSpec};

/// Turns with the model, at most.
pub const MAX_STEPS: usize = 8;

const SYSTEM: &str = "You answer questions about a Kubernetes cluster with kdeck's tools. \
Call tools to get facts; never guess names, states or values. For 'why is X not ready/working', call diagnose first. \
'backend' or 'frontend' in a question may name a workload of another name: list what exists. \
To change something, call the change tool: kdeck shows its plan to the user, who decides; say what the plan does. \
Masked values (******) are secrets: never guess them. Answer briefly, in plain language.";

/// How a change is confirmed.
pub enum Confirm {
    /// Ask on the terminal: the person types `yes`.
    Terminal,
    /// No terminal to ask on.
    NoTerminal,
    /// `--dry-run`.
    DryRun,
}

/// One tool call as it happened.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// The call as a command line, or the tool's name and raw arguments when refused.
    pub call: String,
    pub tool: String,
    /// read, planned, applied, declined, notApplied, refused, failed.
    pub outcome: String,
    /// What kdeck found (redacted), or why it failed.
    pub result: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub question: String,
    pub model: String,
    /// The model's final answer (scrubbed), if it gave one.
    pub answer: Option<String>,
    pub steps: Vec<Step>,
    /// Why the conversation ended without an answer, if it did.
    pub note: Option<String>,
    /// Changes the model planned that were not applied because nobody could confirm.
    pub unconfirmed_changes: usize,
}

/// Runs the conversation. `say` is told each call as it happens and each plan;
/// `ask_yes` asks the person to type `yes` to the given plan (terminal only).
pub async fn ask(model: &Model, tools: &Tools, question: &str, confirm: Confirm, mut say: impl FnMut(&str), mut ask_yes: impl FnMut(&str) -> bool) -> Report {
    let specs: Vec<ToolSpec> =
        tools::TOOLS.iter().map(|t| ToolSpec { name: t.name.to_string(), description: t.description.to_string(), parameters: t.schema() }).collect();
    let system = format!("{SYSTEM} The context is {}; the default namespace is {}.", tools.cluster.context, tools.namespace);
    let mut messages = vec![Message::User(question.to_string())];
    let mut report = Report { question: question.to_string(), model: model.model.clone(), answer: None, steps: Vec::new(), note: None, unconfirmed_changes: 0 };
    let redactor = tools.redactor(None).await;
    for _ in 0..MAX_STEPS {
        let reply = match model.chat(&system, &messages, &specs).await {
            Ok(reply) => reply,
            Err(e) => {
                report.note = Some(format!("the model could not answer: {e}"));
                return report;
            }
        };
        if reply.calls.is_empty() {
            report.answer = reply.text.map(|t| redactor.scrub(&t));
            return report;
        }
        messages.push(Message::Assistant(Reply { text: reply.text.clone(), calls: reply.calls.clone() }));
        for call in &reply.calls {
            let step = run_call(tools, call, &confirm, &mut say, &mut ask_yes).await;
            if step.outcome == "notApplied" {
                report.unconfirmed_changes += 1;
            }
            messages.push(Message::ToolResult { id: call.id.clone(), name: call.name.clone(), content: step.result.clone() });
            report.steps.push(step);
        }
    }
    report.note = Some(format!("the model did not finish within {MAX_STEPS} turns; what kdeck found is below"));
    report
}

async fn run_call(tools: &Tools, call: &crate::llm::ToolCall, confirm: &Confirm, say: &mut impl FnMut(&str), ask_yes: &mut impl FnMut(&str) -> bool) -> Step {
    let refused = |why: String| {
        let shown = format!("{} {}", call.name, call.raw_arguments.chars().take(200).collect::<String>());
        Step { call: shown, tool: call.name.clone(), outcome: "refused".into(), result: format!("refused: {why}") }
    };
    let arguments = match &call.arguments {
        Ok(arguments) => arguments,
        Err(why) => {
            say(&format!("→ {} (refused: {why})", call.name));
            return refused(why.clone());
        }
    };
    let parsed = match Call::parse(&call.name, arguments) {
        Ok(parsed) => parsed,
        Err(e) => {
            let why = tools::error_text(&e);
            say(&format!("→ {} (refused: {why})", call.name));
            return refused(why);
        }
    };
    let shown = parsed.shown(&tools.namespace);
    say(&format!("→ {shown}"));
    let step = |outcome: &str, result: String| Step { call: shown.clone(), tool: call.name.clone(), outcome: outcome.into(), result };
    let pending = match tools.run(&parsed).await {
        Ok(Outcome::Read(text)) => return step("read", text),
        Ok(Outcome::Planned(pending)) => pending,
        Err(e) => return step("failed", format!("failed: {}", tools::error_text(&e))),
    };
    let plan = tools.plan_text(&pending).await;
    if pending.plan().items.is_empty() {
        return step("planned", format!("nothing to do; nothing was changed\n{plan}"));
    }
    let table = tools.redactor(None).await.scrub(&pending.plan().table());
    say(&format!("plan ({} on context {}):\n{}", pending.plan().operation, tools.cluster.context, table.trim_end()));
    let why_not = match confirm {
        Confirm::DryRun => Some("--dry-run"),
        Confirm::NoTerminal => Some("there is no terminal to confirm it on"),
        Confirm::Terminal => None,
    };
    if let Some(why) = why_not {
        say(&format!("not applied: {why}"));
        return step("notApplied", format!("the plan was shown to the user and NOT applied ({why}); nothing was changed\n{plan}"));
    }
    if !ask_yes(&shown) {
        say("not applied: the user did not confirm");
        return step("declined", format!("the user declined the plan; nothing was changed\n{plan}"));
    }
    match tools.apply(pending).await {
        Ok(result) => {
            say("applied");
            step("applied", format!("the user confirmed and the plan was applied\n{result}"))
        }
        Err(e) => step("failed", format!("applying failed: {}", tools::error_text(&e))),
    }
}

impl Report {
    /// The answer marked as the model's, then the evidence kdeck gathered.
    pub fn text(&self) -> String {
        let mut out = String::new();
        match &self.answer {
            Some(answer) => out.push_str(&format!("Answer (from the model {}, not checked by kdeck):\n{}\n", self.model, answer.trim())),
            None => out.push_str("No answer from the model.\n"),
        }
        if let Some(note) = &self.note {
            out.push_str(&format!("note: {note}\n"));
        }
        if !self.steps.is_empty() {
            out.push_str("\nEvidence kdeck gathered:\n");
            for step in &self.steps {
                out.push_str(&format!("→ {} [{}]\n", step.call, step.outcome));
                for line in evidence(&step.result) {
                    out.push_str(&format!("    {line}\n"));
                }
            }
        }
        out
    }

    pub fn json(&self) -> Value {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        value["answeredBy"] = json!("model");
        value
    }
}

/// A few lines that say what a result holds: a diagnosis's root causes, a
/// list's names, else its first lines.
fn evidence(result: &str) -> Vec<String> {
    let Ok(value) = serde_json::from_str::<Value>(result) else {
        return result.lines().take(3).map(|l| l.chars().take(160).collect()).collect();
    };
    if let Some(problems) = value["problems"].as_array() {
        if problems.is_empty() {
            return vec!["no problems found".into()];
        }
        return problems
            .iter()
            .take(6)
            .map(|p| format!("{}: {}", p["severity"].as_str().unwrap_or_default(), p["rootCause"]["summary"].as_str().unwrap_or_default()))
            .collect();
    }
    if let Some(items) = value["items"].as_array() {
        let names: Vec<&str> = items.iter().filter_map(|i| i["name"].as_str().or(i["pod"].as_str())).take(15).collect();
        return vec![format!("{} {}: {}", value["count"].as_u64().unwrap_or(items.len() as u64), value["kind"].as_str().unwrap_or("items"), names.join(", "))];
    }
    if let Some(message) = value["message"].as_str() {
        return vec![message.to_string()];
    }
    if let Some(logs) = value["logs"].as_array() {
        return logs
            .iter()
            .take(3)
            .map(|l| {
                let last = l["lines"].as_array().and_then(|lines| lines.last()).and_then(Value::as_str).unwrap_or_default();
                format!(
                    "{} {}: last line: {}",
                    l["pod"].as_str().unwrap_or_default(),
                    l["container"].as_str().unwrap_or_default(),
                    last.chars().take(120).collect::<String>()
                )
            })
            .collect();
    }
    let compact = value.to_string();
    vec![compact.chars().take(160).collect()]
}

/// What to say when no model is configured.
pub fn no_model_hint() -> Vec<String> {
    vec![
        "a local model works: install Ollama, `ollama pull llama3.1`, then KDECK_LLM_PROVIDER=ollama (OLLAMA_HOST if it is not on localhost:11434)".into(),
        "or KDECK_LLM_PROVIDER=openai with OPENAI_API_KEY (and OPENAI_BASE_URL for any OpenAI-compatible server), or anthropic with ANTHROPIC_API_KEY; or llm: in kdeck.yaml".into(),
        "without a model, `kdeck diagnose -n NAMESPACE` answers the most common question — why something is not working — on its own".into(),
    ]
}
