//! `kdeck ask "QUESTION"`: a model answers with kdeck's tools (see `ai::ask`).

use std::io::{IsTerminal, Write};

use clap::Args;

use crate::ai::ask::{self, Confirm};
use crate::ai::tools::Tools;
use crate::cluster::ClusterArgs;
use crate::error::{Error, ExitCode, Result};
use crate::ui::{self, OutputFormat};

#[derive(Debug, Args)]
pub struct AskArgs {
    /// The question, in plain language ("why is the api not ready?", "scale web to 2 replicas").
    #[arg(value_name = "QUESTION", required = true, num_args = 1..)]
    question: Vec<String>,
    /// The model (else KDECK_LLM_MODEL, else llm.model in kdeck.yaml).
    #[arg(long, value_name = "MODEL")]
    model: Option<String>,
    /// Show the plans of changes and apply none (the command then ends with exit code 1).
    #[arg(long)]
    dry_run: bool,
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
    #[command(flatten)]
    llm: crate::llm::LlmArgs,
}

impl AskArgs {
    pub async fn run(mut self, cluster: &ClusterArgs) -> Result<()> {
        ui::want_json(self.output);
        let namespace = cluster.one_namespace("kdeck ask")?;
        let question = self.question.join(" ").trim().to_string();
        if question.is_empty() {
            return Err(Error::usage("the question is empty").hint("kdeck ask \"why is the api not ready?\" -n demo"));
        }
        if self.model.is_some() {
            self.llm.llm_model = self.model.clone();
        }
        let model = crate::llm::Model::resolve(&self.llm, crate::project::llm_config()?.as_ref())
            .map_err(|why| ask::no_model_hint().into_iter().fold(Error::usage(format!("kdeck ask needs a model: {why}")), |e, h| e.hint(h)))?;
        let cluster = cluster.connect().await?;
        let tools = Tools::new(cluster, namespace);
        let confirm = match (self.dry_run, std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
            (true, _) => Confirm::DryRun,
            (false, true) => Confirm::Terminal,
            (false, false) => Confirm::NoTerminal,
        };
        let text = self.output == OutputFormat::Text;
        let say = |line: &str| {
            if text {
                eprintln!("{line}");
            }
        };
        let ask_yes = |shown: &str| {
            eprint!("apply `{shown}`? Type \"yes\" to apply: ");
            let _ = std::io::stderr().flush();
            let mut answer = String::new();
            let _ = std::io::stdin().read_line(&mut answer);
            answer.trim() == "yes"
        };
        let report = ask::ask(&model, &tools, &question, confirm, say, ask_yes).await;
        match self.output {
            OutputFormat::Text => print!("{}", report.text()),
            OutputFormat::Json => ui::print_json(&report.json()),
        }
        if report.unconfirmed_changes > 0 {
            let why = if self.dry_run { "--dry-run" } else { "there is no terminal to confirm on" };
            return Err(Error::new(ExitCode::Failure, format!("{} planned change(s) not applied ({why})", report.unconfirmed_changes))
                .hint("run kdeck ask on a terminal to confirm a plan, or make the change yourself after checking it"));
        }
        if report.answer.is_none() {
            return Err(Error::failure(report.note.clone().unwrap_or_else(|| "the model gave no answer".into())));
        }
        Ok(())
    }
}
