//! The external tools rendering and stacks shell out to (helm, kustomize,
//! kubectl's kustomize), found on PATH and run with argv — never a shell — their
//! failures reported with the tool's own last words.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::HelmRelease;
use crate::error::{Error, Result};

/// An external tool and where to get it.
#[derive(Clone, Copy, Debug)]
pub struct Tool {
    pub name: &'static str,
    pub install: &'static str,
}

pub const HELM: Tool = Tool { name: "helm", install: "install helm 3.8+ (https://helm.sh/docs/intro/install/)" };
pub const KUSTOMIZE: Tool = Tool { name: "kustomize", install: "install kustomize or kubectl (which includes it: `kubectl kustomize`)" };

/// The executable `name` on PATH (the one lookup kdeck has: `tasks::resolve::find_program`).
pub fn which(name: &str) -> Option<PathBuf> {
    crate::tasks::resolve::find_program(name)
}

impl Tool {
    /// The tool's path, or an error saying how to get it.
    pub fn find(&self, needed_for: &str) -> Result<PathBuf> {
        which(self.name).ok_or_else(|| Error::usage(format!("{needed_for} needs `{}`, which is not on PATH", self.name)).hint(self.install))
    }
}

/// Runs `program args…` and returns its stdout; a failure carries the last lines
/// of its stderr, introduced by `what`.
pub fn run(program: &Path, args: &[String], what: &str) -> Result<String> {
    let output = Command::new(program).args(args).output().map_err(|e| Error::failure(format!("{what}: cannot run {}: {e}", program.display())))?;
    if output.status.success() {
        return String::from_utf8(output.stdout).map_err(|_| Error::failure(format!("{what}: the output is not UTF-8")));
    }
    Err(Error::failure(format!("{what} failed ({}):\n{}", exit_text(&output.status), last_lines(&String::from_utf8_lossy(&output.stderr), 12))))
}

fn exit_text(status: &std::process::ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exit {code}"),
        None => "killed by a signal".to_string(),
    }
}

/// The last `n` non-empty lines of `text`, indented.
pub fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(n);
    lines[start..].iter().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n")
}

/// `kustomize build DIR`, else `kubectl kustomize DIR`.
pub fn kustomize_build(dir: &Path) -> Result<String> {
    let what = format!("kustomize build {}", dir.display());
    if let Some(kustomize) = which("kustomize") {
        return run(&kustomize, &["build".into(), dir.display().to_string()], &what);
    }
    if let Some(kubectl) = which("kubectl") {
        return run(&kubectl, &["kustomize".into(), dir.display().to_string()], &what);
    }
    Err(Error::usage(format!("rendering {} needs `kustomize` or `kubectl`, and neither is on PATH", dir.display())).hint(KUSTOMIZE.install))
}

/// `helm template …`: the release's objects as helm would install them.
pub fn helm_template(release: &HelmRelease) -> Result<String> {
    let helm = HELM.find(&format!("the Helm release {}", release.release))?;
    let mut args = vec!["template".to_string()];
    args.extend(release.args());
    run(&helm, &args, &format!("helm template {}", release.release))
}

/// `helm lint CHART …`: helm's own findings (`[ERROR] templates/: …`, `[WARNING] …`,
/// `[INFO] …`), printed whether or not helm calls the chart failed.
pub fn helm_lint(chart: &Path, values: &[PathBuf], set: &[(String, String)]) -> Result<String> {
    let helm = HELM.find(&format!("linting the chart {}", chart.display()))?;
    let mut args = vec!["lint".to_string(), chart.display().to_string()];
    for file in values {
        args.extend(["--values".into(), file.display().to_string()]);
    }
    for (key, value) in set {
        args.extend(["--set".into(), format!("{key}={value}")]);
    }
    let output = Command::new(&helm).args(&args).output().map_err(|e| Error::failure(format!("helm lint: cannot run {}: {e}", helm.display())))?;
    Ok(format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)))
}
