//! `kdeck completions SHELL` and `kdeck man`: shell completion scripts and the man
//! page, both generated from the command definitions so they never drift.

use clap::{Args, CommandFactory, ValueEnum};

use super::Cli;
use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for, e.g. `source <(kdeck completions bash)`. Names
    /// (contexts, namespaces, pods, releases, claims, tasks) are completed live.
    shell: Shell,
}

impl CompletionsArgs {
    pub fn run(self) -> Result<()> {
        use clap_complete::env::EnvCompleter;
        // The registration of dynamic completion: the shell runs `COMPLETE=SHELL kdeck -- WORDS…`.
        let shell: &dyn EnvCompleter = match self.shell {
            Shell::Bash => &clap_complete::env::Bash,
            Shell::Zsh => &clap_complete::env::Zsh,
            Shell::Fish => &clap_complete::env::Fish,
        };
        let name = Cli::command().get_name().to_string();
        shell
            .write_registration("COMPLETE", &name, &name, &name, &mut std::io::stdout())
            .map_err(|e| Error::failure(format!("cannot write the completion script: {e}")))
    }
}

/// Prints the man page (roff) for kdeck and its commands: `kdeck man | man -l -`.
pub fn man() -> Result<()> {
    let command = Cli::command();
    let mut out = std::io::stdout().lock();
    let fail = |e: std::io::Error| Error::failure(format!("cannot write the man page: {e}"));
    clap_mangen::Man::new(command.clone()).render(&mut out).map_err(fail)?;
    // One section per command, so `kdeck man` is the whole reference.
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("kdeck-{}", sub.get_name());
        let page = sub.clone().name(name.clone()).bin_name(format!("kdeck {}", sub.get_name()));
        clap_mangen::Man::new(page).title(name).render(&mut out).map_err(fail)?;
    }
    Ok(())
}
