//! Running a project's tasks (`kdeck run`): the graph of `pre` tasks, where each
//! task runs ([`resolve`], [`executors`]), its output ([`output`], [`log_file`]).
//!
//! Everything that can be checked is checked before the first task starts: the
//! graph, every task's expansion and executor, the confirmations. A kubernetes or
//! job task picks its pod when it starts, since a `pre` task may change the pods.

pub mod executors;
pub mod graph;
pub mod log_file;
pub mod output;
pub mod resolve;
pub mod script;

use std::collections::BTreeMap;
use std::time::Instant;

use crate::error::{Error, ExitCode, Result};
use crate::interrupt::Interrupt;
use crate::project::Project;
use crate::tasks::graph::Outcome;
use crate::tasks::output::Output;
use crate::tasks::resolve::{Resolved, RunOptions};
use crate::ui;

/// How `kdeck run` runs its tasks.
#[derive(Clone, Debug, Default)]
pub struct RunSettings {
    pub options: RunOptions,
    pub dry_run: bool,
    pub yes: bool,
    /// Tasks run at once (at least 1).
    pub jobs: usize,
    pub keep_going: bool,
    /// Print the dry-run plan as JSON.
    pub json: bool,
}

pub async fn run(project: &Project, roots: &[String], settings: &RunSettings) -> Result<()> {
    let graph::Graph { ordered, pre } = graph::order(roots, &|name| project.task(name).map(|t| t.pre))?;
    let mut resolved: BTreeMap<String, Resolved> = BTreeMap::new();
    for name in &ordered {
        // The arguments after -- are for the tasks named on the command line.
        let args = if roots.contains(name) { settings.options.args.as_slice() } else { &[] };
        if let Some(task) = resolve::resolve(project, name, &settings.options, args)? {
            resolved.insert(name.clone(), task);
        }
    }
    if settings.dry_run {
        return print_plans(&ordered, &resolved, settings.json).await;
    }
    // Every question before the first task starts, so a "no" leaves nothing half done.
    for task in ordered.iter().filter_map(|name| resolved.get(name)) {
        if let Some((message, word)) = &task.confirm {
            ui::confirm_word(&format!("{}: {message}", task.name), word, settings.yes)?;
        }
    }
    let prefixed = settings.jobs > 1 && resolved.len() > 1;
    // From here a signal stops the run (and what its tasks started) instead of kdeck.
    let interrupt = Interrupt::listen()?;
    let outcomes = graph::schedule(&ordered, &pre, settings.jobs, settings.keep_going, |name| {
        let task = resolved.get(&name).cloned();
        let interrupt = interrupt.clone();
        async move {
            if let Some(code) = interrupt.received() {
                return Err(Interrupt::error(code));
            }
            match task {
                Some(task) => run_one(task, prefixed, &interrupt).await,
                None => Ok(()),
            }
        }
    })
    .await;
    summarize(&ordered, outcomes)
}

/// Prepares and runs one task, with its output prefixed (when several run at once)
/// and logged. A non-zero exit is an error carrying the task's exit code.
async fn run_one(task: Resolved, prefixed: bool, interrupt: &Interrupt) -> Result<()> {
    let (root, name, prefix) = (task.root.clone(), task.name.clone(), prefixed.then(|| task.name.clone()));
    let fallback = task.fallback.then(|| format!("kdeck: {} runs with the {} executor, the {}", task.name, task.executor.name(), task.choice));
    let prepared = executors::prepare(task).await.map_err(|unprepared| unprepared.error)?;
    // The log is rotated only for a run that starts, so a failed start keeps the last one.
    let output = Output::new(prefix, log_file::open(&root, &name));
    if let Some(note) = fallback {
        output.note(&note);
    }
    output.log_bytes(format!("# kdeck run {}\n{}", prepared.task, prepared.plan_text()).as_bytes());
    let started = Instant::now();
    let code = prepared.run(&output, interrupt).await;
    let elapsed = started.elapsed().as_secs_f64();
    match code {
        Ok(0) => {
            output.log_bytes(format!("# exit code 0 after {elapsed:.1}s\n").as_bytes());
            Ok(())
        }
        Ok(code) => {
            output.log_bytes(format!("# exit code {code} after {elapsed:.1}s\n").as_bytes());
            Err(Error::new(ExitCode::Remote(u8::try_from(code).unwrap_or(1)), format!("task {} failed with exit code {code}", prepared.task)))
        }
        Err(e) => {
            output.log_bytes(format!("# failed after {elapsed:.1}s: {}\n", e.message).as_bytes());
            Err(e)
        }
    }
}

/// Every task's plan; preparing finds the pods and checks permissions, changing
/// nothing. A task that could not run (its namespace does not exist, say) still
/// shows its plan with the problem marked; the dry run then fails with the first
/// such problem.
async fn print_plans(ordered: &[String], resolved: &BTreeMap<String, Resolved>, json: bool) -> Result<()> {
    let mut plans = Vec::new();
    let mut first_problem: Option<Error> = None;
    for name in ordered {
        let Some(task) = resolved.get(name) else {
            if !json {
                println!("{name}\n  (runs only its pre tasks)\n");
            }
            continue;
        };
        let (text, document) = match executors::prepare(task.clone()).await {
            Ok(prepared) => (prepared.plan_text(), prepared.plan_json()),
            Err(unprepared) => {
                let shown = (unprepared.plan_text(name), unprepared.plan_json(name));
                first_problem.get_or_insert(unprepared.error);
                shown
            }
        };
        match json {
            true => plans.push(document),
            false => println!("{text}"),
        }
    }
    if json {
        ui::print_json(&serde_json::Value::Array(plans));
    }
    match first_problem {
        Some(error) => Err(Error { message: format!("the dry run found a problem: {}", error.message), ..error }),
        None => Ok(()),
    }
}

/// Ok when every task succeeded; else the first failure's error (and exit code),
/// naming the other failures and the tasks that did not run.
fn summarize(ordered: &[String], mut outcomes: BTreeMap<String, Outcome>) -> Result<()> {
    let skipped: Vec<&str> = ordered.iter().filter(|n| outcomes.get(*n) == Some(&Outcome::Skipped)).map(String::as_str).collect();
    let mut failed = ordered.iter().filter_map(|name| match outcomes.remove(name) {
        Some(Outcome::Failed(error)) => Some((name, error)),
        _ => None,
    });
    let Some((_, mut error)) = failed.next() else { return Ok(()) };
    for (name, other) in failed {
        error = error.hint(format!("also failed: {name}: {}", other.message));
    }
    if !skipped.is_empty() {
        error = error.hint(format!("not run: {}", skipped.join(", ")));
    }
    Err(error)
}
