//! The command line: one file per command, each an options struct that is
//! validated, then run.

pub mod sandbox;

use clap::{Parser, Subcommand};

use crate::error::Result;

#[derive(Debug, Parser)]
#[command(name = "kdeck", version, about = "One fast binary for the work people do around Kubernetes clusters", propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run, inspect and remove local sandbox clusters.
    #[command(subcommand)]
    Sandbox(sandbox::SandboxCommand),
}

impl Cli {
    pub async fn run(self) -> Result<()> {
        match self.command {
            Command::Sandbox(cmd) => cmd.run().await,
        }
    }
}
