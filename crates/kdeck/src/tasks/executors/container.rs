//! `container`: the task in the component's running docker compose service, with
//! `docker compose exec`. Environment values reach docker through its own
//! environment (`-e NAME`), never its command line.

use std::process::Stdio;

use super::run_process;
use crate::error::{Error, Result};
use crate::tasks::output::Output;
use crate::tasks::resolve::{Resolved, find_program};
use crate::tasks::script::remote_shell;

pub struct Container {
    argv: Vec<String>,
}

pub fn prepare(resolved: &Resolved, plan: &mut Vec<(&'static str, String)>) -> Result<Container> {
    let Some(compose) = &resolved.compose else {
        return Err(Error::usage(format!("task {}: its component has no compose service", resolved.name)));
    };
    if let Err(why) = engine() {
        return Err(
            Error::failure(format!("task {}: {why}", resolved.name)).hint("start Docker and the compose services (docker compose up -d), or run with -x local")
        );
    }
    let mut argv: Vec<String> = vec!["docker".into(), "compose".into()];
    if let Some(file) = &compose.file {
        argv.extend(["-f".into(), file.display().to_string()]);
    }
    argv.push("exec".into());
    if !resolved.interactive {
        argv.push("-T".into());
    }
    for var in &resolved.env {
        argv.extend(["-e".into(), var.name.clone()]);
    }
    if let Some(dir) = &resolved.workdir {
        argv.extend(["-w".into(), dir.clone()]);
    }
    argv.push(compose.service.clone());
    argv.extend(remote_shell(&resolved.body, &resolved.args, &[], None));
    plan.push(("service", compose.service.clone()));
    if let Some(file) = &compose.file {
        plan.push(("compose file", file.display().to_string()));
    }
    plan.push(("directory", resolved.workdir_shown.clone().unwrap_or_else(|| "(the container's)".into())));
    plan.push(("command", resolved.body_shown.describe("sh -euc", &resolved.args)));
    Ok(Container { argv })
}

/// Whether a docker engine answers (`docker info` does only then), asked once per
/// run: Err says why not, in a line.
pub fn engine() -> &'static std::result::Result<(), String> {
    static ENGINE: std::sync::OnceLock<std::result::Result<(), String>> = std::sync::OnceLock::new();
    ENGINE.get_or_init(|| {
        let Some(docker) = find_program("docker") else { return Err("docker is not on PATH".into()) };
        let out = std::process::Command::new(docker).args(["info", "--format", "{{.ServerVersion}}"]).stdin(Stdio::null()).output();
        match out {
            Ok(out) if out.status.success() => Ok(()),
            Ok(out) => {
                let why = String::from_utf8_lossy(&out.stderr).lines().find(|l| !l.trim().is_empty()).unwrap_or("no answer").trim().to_string();
                Err(format!("the docker engine is not running: {why}"))
            }
            Err(e) => Err(format!("cannot run docker: {e}")),
        }
    })
}

impl Container {
    pub async fn run(&self, resolved: &Resolved, output: &Output) -> Result<i32> {
        run_process(&self.argv, &resolved.root, resolved, output).await
    }
}
