//! `local`: the task on this machine, in the component's directory, under
//! `bash -euo pipefail` (or `sh -eu` where there is no bash).

use std::path::PathBuf;

use super::run_process;
use crate::error::{Error, Result};
use crate::tasks::output::Output;
use crate::tasks::resolve::{Resolved, find_program};
use crate::tasks::script::{ARGV0, Body};

pub struct Local {
    argv: Vec<String>,
    dir: PathBuf,
}

pub fn prepare(resolved: &Resolved, plan: &mut Vec<(&'static str, String)>) -> Result<Local> {
    let in_dir = |workdir: &Option<String>| match workdir {
        Some(workdir) => resolved.local_dir.join(workdir),
        None => resolved.local_dir.clone(),
    };
    let (dir, shown) = (in_dir(&resolved.workdir), in_dir(&resolved.workdir_shown));
    if !dir.is_dir() {
        return Err(Error::usage(format!("task {}: the working directory {} does not exist", resolved.name, shown.display())));
    }
    let shell: Vec<String> = if find_program("bash").is_some() {
        ["bash", "-euo", "pipefail", "-c"].map(String::from).to_vec()
    } else {
        ["sh", "-eu", "-c"].map(String::from).to_vec()
    };
    let argv: Vec<String> = match &resolved.body {
        Body::Script(script) => shell.iter().cloned().chain([script.clone(), ARGV0.to_string()]).chain(resolved.args.iter().cloned()).collect(),
        Body::Argv(argv) => argv.iter().chain(&resolved.args).cloned().collect(),
    };
    plan.push(("directory", shown.display().to_string()));
    plan.push(("command", resolved.body_shown.describe(&shell.join(" "), &resolved.args)));
    Ok(Local { argv, dir })
}

impl Local {
    pub async fn run(&self, resolved: &Resolved, output: &Output) -> Result<i32> {
        run_process(&self.argv, &self.dir, resolved, output).await
    }
}
