//! `kdeck config`: the project configuration as kdeck sees it (after the flavor,
//! `${…}` expanded, secrets masked), or the JSON schema of `kdeck.yaml`.

use clap::{Args, Subcommand, ValueEnum};

use crate::error::{Error, Result};
use crate::project::{ProjectArgs, schema};
use crate::ui;

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value = "yaml")]
    output: ConfigFormat,
    #[command(subcommand)]
    pub command: Option<ConfigCommand>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ConfigFormat {
    Yaml,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the JSON schema of kdeck.yaml (for editors: `# yaml-language-server: $schema=…`).
    Schema,
}

impl ConfigArgs {
    pub fn run(&self) -> Result<()> {
        if let Some(ConfigCommand::Schema) = self.command {
            print!("{}", schema::generate());
            return Ok(());
        }
        let resolved = self.project.load()?.resolved()?;
        match self.output {
            ConfigFormat::Json => ui::print_json(&resolved),
            ConfigFormat::Yaml => {
                print!("{}", serde_saphyr::to_string(&resolved).map_err(|e| Error::failure(format!("cannot write the configuration as YAML: {e}")))?)
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn parse(args: &[&str]) -> ConfigArgs {
        match Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{args:?}: {e}")).command {
            Command::Config(config) => config,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn arguments() {
        let args = parse(&["kdeck", "config"]);
        assert_eq!(args.output, ConfigFormat::Yaml);
        assert!(args.command.is_none());
        let args = parse(&["kdeck", "config", "-o", "json", "-f", "other.yaml", "--flavor", "prod"]);
        assert_eq!(args.output, ConfigFormat::Json);
        assert_eq!(args.project.file.as_deref(), Some(std::path::Path::new("other.yaml")));
        assert_eq!(args.project.flavor.as_deref(), Some("prod"));
        assert!(matches!(parse(&["kdeck", "config", "schema"]).command, Some(ConfigCommand::Schema)));
    }
}
