//! `exec`: a command in a workload's first ready pod (see [`super::inpod`]), judged
//! by its exit code and stdout — which is searched, never shown.

use super::inpod::InPod;
use crate::cluster::Cluster;
use crate::cluster::target::Target;

pub struct ExecSpec<'a> {
    pub namespace: &'a str,
    pub target: &'a Target,
    pub container: Option<&'a str>,
    pub command: &'a [String],
    pub exit_code: i32,
    pub stdout_contains: Option<&'a str>,
}

pub async fn exec(cluster: &Cluster, spec: &ExecSpec<'_>) -> Result<String, String> {
    let pod = InPod::of(cluster, spec.namespace, spec.target, spec.container).await?;
    let argv: Vec<&str> = spec.command.iter().map(String::as_str).collect();
    let ran = pod.run(&argv).await?;
    let where_ = format!("in {}", pod.describe());
    let code = ran.code;
    if code != spec.exit_code {
        let missing = if ran.missing() { format!(": {} is not in the image", argv[0]) } else { String::new() };
        return Err(format!("exit code {code} (expected {}){missing} {where_}", spec.exit_code));
    }
    if let Some(text) = spec.stdout_contains {
        if !ran.stdout.contains(text) {
            return Err(format!("exit code {code}, but stdout ({} bytes) does not contain {text:?} {where_}", ran.stdout.len()));
        }
        return Ok(format!("exit code {code}, stdout contains {text:?} {where_}"));
    }
    Ok(format!("exit code {code} {where_}"))
}
