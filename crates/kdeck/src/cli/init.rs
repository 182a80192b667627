//! `kdeck init`: files that connect kdeck to the tools a project already uses.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::error::Result;
use crate::taskfile;

#[derive(Debug, Subcommand)]
pub enum InitCommand {
    /// Write .taskfiles/kubernetes/Taskfile.yaml (task k8s:…) and include it from the root Taskfile.
    Taskfile(TaskfileArgs),
}

#[derive(Debug, Args)]
pub struct TaskfileArgs {
    /// The project root (where the root Taskfile is).
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Overwrite a generated Taskfile that was edited.
    #[arg(long)]
    force: bool,
}

impl InitCommand {
    pub fn run(self) -> Result<()> {
        match self {
            InitCommand::Taskfile(args) => {
                let report = taskfile::write(&args.dir, args.force)?;
                for line in &report.lines {
                    eprintln!("{line}");
                }
                if let Some(manual) = &report.manual_include {
                    println!("{manual}");
                }
                eprintln!("try: task --list");
                Ok(())
            }
        }
    }
}
