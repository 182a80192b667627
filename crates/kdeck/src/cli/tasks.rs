//! `kdeck tasks`: the project's tasks, and where each can run right now.

use std::collections::BTreeMap;

use clap::Args;
use serde_json::json;

use crate::error::Result;
use crate::project::ProjectArgs;
use crate::tasks::resolve;
use crate::tasks::script::Body;
use crate::ui::{self, OutputFormat};

#[derive(Debug, Args)]
pub struct TasksArgs {
    #[command(flatten)]
    project: ProjectArgs,
    #[arg(long, short = 'o', value_enum, default_value_t = OutputFormat::Text)]
    output: OutputFormat,
}

impl TasksArgs {
    pub fn run(self) -> Result<()> {
        crate::ui::want_json(self.output);
        let project = self.project.load()?;
        let tasks = project.tasks();
        let executors: Vec<_> = tasks.iter().map(|(name, task)| resolve::executors(&project, name, task)).collect();
        if self.output == OutputFormat::Json {
            let list = tasks.iter().zip(&executors).map(|((name, task), executors)| {
                let executors: Vec<_> = executors.iter().map(|(k, why)| json!({"name": k.name(), "available": why.is_none(), "reason": why})).collect();
                json!({"name": name, "description": task.description, "component": task.component, "pre": task.pre, "executors": executors})
            });
            ui::print_json(&json!(list.collect::<Vec<_>>()));
            return Ok(());
        }
        let mut rows = Vec::new();
        // (executor, why) → the tasks it concerns: one line per reason, not per task.
        let mut unavailable: BTreeMap<(&str, String), Vec<&str>> = BTreeMap::new();
        for ((name, task), executors) in tasks.iter().zip(&executors) {
            let runnable = Body::from_task(task.script.as_deref(), task.command.as_ref()).is_some();
            let available: Vec<&str> = executors.iter().filter(|(_, why)| why.is_none()).map(|(k, _)| k.name()).collect();
            let shown = if !runnable {
                "(runs its pre tasks)".to_string()
            } else if available.is_empty() {
                "none".to_string()
            } else {
                available.join(", ")
            };
            rows.push(vec![name.clone(), task.component.clone().unwrap_or_else(|| "-".into()), shown, task.description.clone().unwrap_or_default()]);
            if runnable {
                for (kind, why) in executors.iter().filter_map(|(k, why)| Some((k, why.as_ref()?))) {
                    unavailable.entry((kind.name(), why.clone())).or_default().push(name.as_str());
                }
            }
        }
        if rows.is_empty() {
            println!("{} defines no tasks", project.file.display());
            return Ok(());
        }
        print!("{}", ui::table(&["TASK", "COMPONENT", "EXECUTORS", "DESCRIPTION"], &rows));
        if !unavailable.is_empty() {
            println!("\nNot available here:");
            for ((kind, why), tasks) in &unavailable {
                println!("  {kind} for {}: {why}", tasks.join(", "));
            }
        }
        Ok(())
    }
}
