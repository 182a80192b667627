//! A project's `kdeck.yaml`: finding, parsing and checking it ([`load`]), its
//! flavors ([`flavor`]), `${…}` references ([`expand`]), which values are secret
//! ([`secret`]), its JSON schema ([`schema`]) and the fully resolved configuration
//! `kdeck config` prints ([`shown`]).

pub mod config;
pub mod expand;
pub mod flavor;
pub mod load;
pub mod schema;
pub mod secret;
pub mod shown;
pub mod stack;
pub mod suggest;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;

use crate::error::{Error, Result};
pub use suggest::nearest;

use config::{Component, Config, Task};

/// Which project file, and which flavor of it.
#[derive(Args, Debug, Clone, Default)]
pub struct ProjectArgs {
    /// The project file (default: kdeck.yaml in this directory or the nearest parent).
    #[arg(short = 'f', long = "file", value_name = "FILE", global = true)]
    pub file: Option<PathBuf>,
    /// Use this flavor of the project file (one of its `flavors`).
    #[arg(long, env = "KDECK_FLAVOR", value_name = "NAME", global = true)]
    pub flavor: Option<String>,
}

impl ProjectArgs {
    /// The project: the file given with -f, else the one found from the current directory.
    pub fn load(&self) -> Result<Project> {
        let file = match &self.file {
            Some(file) => file.clone(),
            None => {
                let cwd = std::env::current_dir().map_err(|e| Error::failure(format!("cannot read the current directory: {e}")))?;
                load::find(&cwd)?
            }
        };
        // An empty KDECK_FLAVOR means no flavor, as unset variables do in the shell.
        Project::open(&file, self.flavor.as_deref().filter(|f| !f.is_empty()))
    }
}

/// The context the project in the current directory (or a parent) sets for
/// every command: `defaults.kubernetes.context`, expanded. None without a project
/// file or without the setting. A project file that is there but broken is an
/// error: acting on another cluster than the project names would be worse.
pub fn default_context() -> Result<Option<String>> {
    let Ok(cwd) = std::env::current_dir() else { return Ok(None) };
    let Ok(file) = load::find(&cwd) else { return Ok(None) };
    let flavor = std::env::var("KDECK_FLAVOR").ok().filter(|f| !f.is_empty());
    Project::open(&file, flavor.as_deref())?.context()
}

/// The `llm:` section of the project in the current directory (or a parent), if any.
pub fn llm_config() -> Result<Option<crate::llm::LlmConfig>> {
    let Ok(cwd) = std::env::current_dir() else { return Ok(None) };
    let Ok(file) = load::find(&cwd) else { return Ok(None) };
    let flavor = std::env::var("KDECK_FLAVOR").ok().filter(|f| !f.is_empty());
    Ok(Project::open(&file, flavor.as_deref())?.config.llm)
}

/// A loaded project.
#[derive(Clone, Debug)]
pub struct Project {
    /// The project file.
    pub file: PathBuf,
    /// Its directory: component paths and compose files are relative to it.
    pub root: PathBuf,
    /// The configuration in effect (after the flavor).
    pub config: Config,
    /// The file's configuration before the flavor; None without a flavor.
    pub base: Option<Config>,
    /// The flavor applied, if any.
    pub flavor: Option<String>,
}

impl Project {
    /// Reads, checks and flavors a project file.
    pub fn open(file: &Path, flavor: Option<&str>) -> Result<Project> {
        let text = std::fs::read_to_string(file).map_err(|e| Error::usage(format!("cannot read {}: {e}", file.display())))?;
        let mut loaded = load::load(&text, &file.display().to_string(), flavor)?;
        // What this process's environment makes secret, for every expansion of the project's strings.
        let known = std::sync::Arc::new(secret::Known::of(&loaded.config, &expand::env_var));
        secret::attach(&mut loaded.config, known);
        let dir = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        // Absolute, so that it stays right whatever directory a task runs in.
        let root = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        Ok(Project { file: file.to_path_buf(), root, config: loaded.config, base: loaded.base, flavor: flavor.map(str::to_string) })
    }

    /// Every task by name: top-level ones under their name, a component's as
    /// `component:task` with `component` set.
    pub fn tasks(&self) -> BTreeMap<String, Task> {
        declared(&self.config).map(|d| (d.name.clone(), d.effective())).collect()
    }

    /// The task with this name.
    pub fn task(&self, name: &str) -> Result<Task> {
        let mut tasks = self.tasks();
        if let Some(task) = tasks.remove(name) {
            return Ok(task);
        }
        let suggestion = suggest_task(name, tasks.keys().map(String::as_str));
        Err(Error::usage(format!("no task `{name}` in {}{suggestion}", self.file.display())).hint("`kdeck tasks` lists them"))
    }

    /// The component with this name.
    pub fn component(&self, name: &str) -> Result<&Component> {
        self.config.components.get(name).ok_or_else(|| {
            let suggestion = suggest::did_you_mean(name, self.config.components.keys().map(String::as_str));
            Error::usage(format!("no component `{name}` in {}{suggestion}", self.file.display()))
        })
    }

    /// The context the project names (`defaults.kubernetes.context`, expanded).
    pub fn context(&self) -> Result<Option<String>> {
        let Some(context) = &self.config.defaults.kubernetes.context else { return Ok(None) };
        let scope = expand::Scope::process_env(vec![&self.config.vars]);
        Ok(Some(expand::expand(context, &scope, "defaults.kubernetes.context")?.text))
    }

    /// The configuration with every string expanded (process environment and
    /// vars) and secrets masked, as `kdeck config` shows it.
    pub fn resolved(&self) -> Result<serde_json::Value> {
        shown::shown(&self.config, &expand::env_var)
    }
}

/// A task as the file declares it.
pub(crate) struct Declared<'c> {
    /// How it is run: `task`, or `component:task`.
    pub name: String,
    /// Its key in the file.
    pub key: &'c str,
    /// Where it is in the file, e.g. `components.api.tasks.migrate`.
    pub place: String,
    /// The task as written.
    pub task: &'c Task,
    /// The component it is declared under.
    pub under: Option<&'c str>,
}

impl Declared<'_> {
    /// The task as run: a component's task belongs to that component.
    pub fn effective(&self) -> Task {
        match self.under {
            Some(component) => Task { component: Some(component.to_string()), ..self.task.clone() },
            None => self.task.clone(),
        }
    }
}

/// Every task, top-level ones first.
pub(crate) fn declared(config: &Config) -> impl Iterator<Item = Declared<'_>> {
    let top = config.tasks.iter().map(|(key, task)| Declared { name: key.clone(), key, place: format!("tasks.{key}"), task, under: None });
    let nested = config.components.iter().flat_map(|(component, c)| {
        c.tasks.iter().map(move |(key, task)| Declared {
            name: format!("{component}:{key}"),
            key,
            place: format!("components.{component}.tasks.{key}"),
            task,
            under: Some(component.as_str()),
        })
    });
    top.chain(nested)
}

/// " (did you mean …?)" for a task name that does not exist: `api:migrate` for
/// `migrate` (a likelier slip than a typo), else the nearest name.
pub(crate) fn suggest_task<'a>(name: &str, names: impl IntoIterator<Item = &'a str> + Clone) -> String {
    let suffix = format!(":{name}");
    let qualified: Vec<String> = names.clone().into_iter().filter(|n| n.ends_with(&suffix)).map(|n| format!("`{n}`")).collect();
    if qualified.is_empty() { suggest::did_you_mean(name, names) } else { format!(" (did you mean {}?)", qualified.join(" or ")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "
components:
  api:
    tasks:
      migrate: {script: ./migrate}
      seed: {script: ./seed, component: api}
tasks:
  build: {script: make}
  test: {script: make test}
";

    fn project() -> Project {
        let config = load::load_str(FILE, "kdeck.yaml", None).unwrap();
        Project { file: "kdeck.yaml".into(), root: ".".into(), config, base: None, flavor: None }
    }

    #[test]
    fn component_tasks_are_flattened() {
        let tasks = project().tasks();
        assert_eq!(tasks.keys().collect::<Vec<_>>(), ["api:migrate", "api:seed", "build", "test"]);
        assert_eq!(tasks["api:migrate"].component.as_deref(), Some("api"));
        assert_eq!(tasks["build"].component, None);
        assert_eq!(project().task("api:seed").unwrap().script.as_deref(), Some("./seed"));
    }

    #[test]
    fn unknown_tasks_get_the_nearest_names() {
        let e = project().task("biuld").unwrap_err();
        assert_eq!(e.message, "no task `biuld` in kdeck.yaml (did you mean `build`?)");
        assert_eq!(e.hints, ["`kdeck tasks` lists them"]);
        assert_eq!(e.code, crate::error::ExitCode::Usage);
        assert!(project().task("migrate").unwrap_err().message.contains("did you mean `api:migrate`?"));
        assert!(!project().task("deploy-everything").unwrap_err().message.contains("did you mean"));
        assert!(project().component("apj").unwrap_err().message.contains("did you mean `api`?"));
        assert!(project().component("api").is_ok());
    }
}
