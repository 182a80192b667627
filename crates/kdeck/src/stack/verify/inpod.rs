//! Commands the checks run inside a pod (`dns`, `persistence`, `env`): an argument
//! vector through the API's `pods/exec` (never a user's text in a shell), its exit
//! code, stdout and stderr kept to be judged — never printed, as they may hold
//! values — and whether the program is there at all, so a check can try the
//! next tool the image may have.

use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, AttachParams};
use tokio::io::AsyncReadExt;

use crate::cluster::Cluster;
use crate::cluster::target::{self, Target};
use crate::stack::tunnel::said;

/// Output kept per stream.
const KEEP: u64 = 1024 * 1024;

/// A container of a pod the checks run commands in.
pub struct InPod<'a> {
    cluster: &'a Cluster,
    pub namespace: String,
    pub pod: Pod,
    pub container: String,
}

/// What a command did.
#[derive(Debug, Default)]
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// The API's message when the command failed to start or exited non-zero.
    pub status: String,
}

impl Ran {
    /// The program is not in the image (126/127, or the runtime's "not found").
    pub fn missing(&self) -> bool {
        let status = self.status.to_ascii_lowercase();
        matches!(self.code, 126 | 127) || status.contains("executable file not found") || status.contains("no such file or directory")
    }

    /// The first line of stderr (else of the status), cut short: for messages, when
    /// the command cannot have printed a value.
    pub fn why(&self) -> String {
        let text = if self.stderr.trim().is_empty() { &self.status } else { &self.stderr };
        let line = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("no message");
        line.chars().take(160).collect()
    }
}

impl<'a> InPod<'a> {
    /// The first ready pod of `target` and its container (`wanted`, else the default one).
    pub async fn of(cluster: &'a Cluster, namespace: &str, target: &Target, wanted: Option<&str>) -> Result<InPod<'a>, String> {
        let pod = target.ready_pod(cluster, namespace).await.map_err(|e| said(&e))?;
        Self::at(cluster, namespace, pod, wanted)
    }

    /// `pod` and its container (`wanted`, else the default one).
    pub fn at(cluster: &'a Cluster, namespace: &str, pod: Pod, wanted: Option<&str>) -> Result<InPod<'a>, String> {
        let container = target::container(&pod, wanted, "name one with container:").map_err(|e| said(&e))?;
        Ok(InPod { cluster, namespace: namespace.to_string(), pod, container })
    }

    pub fn name(&self) -> String {
        self.pod.name_any()
    }

    /// `pod NAME (container C)`.
    pub fn describe(&self) -> String {
        format!("pod {} (container {})", self.name(), self.container)
    }

    /// Runs `argv` to its end.
    pub async fn run(&self, argv: &[&str]) -> Result<Ran, String> {
        let client = self.cluster.streaming_client().map_err(|e| said(&e))?;
        let pods: Api<Pod> = Api::namespaced(client, &self.namespace);
        let params = AttachParams::default().container(&self.container).stdin(false).stdout(true).stderr(true);
        let what = format!("exec in {}/{} (container {})", self.namespace, self.name(), self.container);
        let mut attached = pods.exec(&self.name(), argv.iter().copied(), &params).await.map_err(|e| said(&self.cluster.error(&what, e)))?;
        let read = |stream: Option<tokio::io::ReadHalf<tokio::io::SimplexStream>>| async move {
            let mut kept = Vec::new();
            if let Some(stream) = stream {
                let _ = stream.take(KEEP).read_to_end(&mut kept).await;
            }
            String::from_utf8_lossy(&kept).to_string()
        };
        let status = attached.take_status();
        let (stdout, stderr) = tokio::join!(read(attached.stdout()), read(attached.stderr()));
        let status = match status {
            Some(status) => status.await,
            None => None,
        };
        let _ = attached.join().await;
        let message = status.as_ref().and_then(|s| s.message.clone()).unwrap_or_default();
        let code = crate::ops::exec::exit_code(status).ok_or_else(|| format!("{what}: the connection ended without an exit status"))?;
        Ok(Ran { code, stdout, stderr, status: message })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_programs_are_told_apart() {
        assert!(Ran { code: 127, ..Default::default() }.missing());
        let runtime = Ran { code: 1, status: "OCI runtime exec failed: exec: \"nc\": executable file not found in $PATH".into(), ..Default::default() };
        assert!(runtime.missing());
        assert!(!Ran { code: 2, stderr: "x".into(), ..Default::default() }.missing());
        assert_eq!(Ran { code: 1, stderr: "\n  nc: bad address 'x'\nmore".into(), ..Default::default() }.why(), "nc: bad address 'x'");
    }
}
