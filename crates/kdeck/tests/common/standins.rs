//! Stand-in `kind`, `minikube`, `k3d` and `docker` for the stack tests: shell
//! scripts that record their argv (one line per call) and answer what kdeck asks.
//! Creating a "cluster" starts a real kdeck sandbox under the context the tool
//! would have written (`kind-N`, `N`, `k3d-N`), so `up` applies to it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Output;

use super::TestSandbox;

pub const KIND: &str = r#"#!/bin/sh
echo "kind $*" >> "$STANDIN_LOG"
name=kind
prev=
for a in "$@"; do [ "$prev" = "--name" ] && name="$a"; prev="$a"; done
case "$1 $2" in
"get clusters")
  if [ -s "$STANDIN_STATE/kind" ]; then cat "$STANDIN_STATE/kind"; else echo "No kind clusters found." >&2; fi ;;
"create cluster")
  "$KDECK_BIN" sandbox start --detach --name "kind-$name" >/dev/null || exit 1
  echo "$name" >> "$STANDIN_STATE/kind" ;;
"delete cluster")
  "$KDECK_BIN" sandbox delete --name "kind-$name" >/dev/null
  grep -vx "$name" "$STANDIN_STATE/kind" > "$STANDIN_STATE/kind.new"; mv "$STANDIN_STATE/kind.new" "$STANDIN_STATE/kind" ;;
"load docker-image")
  if [ -n "$KIND_CONTAINERD_STORE" ]; then
    echo "Image: \"$3\" with ID \"sha256:0f1e\" not yet present on node \"$name-control-plane\", loading..." >&2
    echo "ERROR: failed to load image: command \"docker exec --privileged -i $name-control-plane ctr --namespace=k8s.io images import --all-platforms --digests --snapshotter=overlayfs -\" failed with error: exit status 1" >&2
    echo "Command Output: ctr: content digest sha256:82014a3c: not found" >&2
    exit 1
  fi ;;
"load image-archive")
  [ -s "$3" ] || { echo "ERROR: no archive at $3" >&2; exit 1; } ;;
*) echo "stand-in kind: unexpected: $*" >&2; exit 1 ;;
esac
"#;

pub const MINIKUBE: &str = r#"#!/bin/sh
echo "minikube $*" >> "$STANDIN_LOG"
name=minikube
prev=
for a in "$@"; do [ "$prev" = "-p" ] && name="$a"; prev="$a"; done
case "$1" in
profile)
  if [ -s "$STANDIN_STATE/minikube" ]; then
    printf '{"invalid":[],"valid":[{"Name":"%s","Status":"Running"}]}\n' "$(cat "$STANDIN_STATE/minikube")"
  else
    echo '{"error":{"Fatal":"No minikube profile was found."}}'; exit 85
  fi ;;
start)
  "$KDECK_BIN" sandbox start --detach --name "$name" >/dev/null || exit 1
  echo "$name" > "$STANDIN_STATE/minikube" ;;
delete)
  "$KDECK_BIN" sandbox delete --name "$name" >/dev/null; rm -f "$STANDIN_STATE/minikube" ;;
image) ;;
*) echo "stand-in minikube: unexpected: $*" >&2; exit 1 ;;
esac
"#;

pub const K3D: &str = r#"#!/bin/sh
echo "k3d $*" >> "$STANDIN_LOG"
case "$1 $2" in
"cluster list")
  if [ -s "$STANDIN_STATE/k3d" ]; then
    printf '[{"name":"%s","serversRunning":1,"serversCount":1}]\n' "$(cat "$STANDIN_STATE/k3d")"
  else echo '[]'; fi ;;
"cluster create")
  "$KDECK_BIN" sandbox start --detach --name "k3d-$3" >/dev/null || exit 1
  echo "$3" > "$STANDIN_STATE/k3d" ;;
"cluster delete")
  "$KDECK_BIN" sandbox delete --name "k3d-$3" >/dev/null; rm -f "$STANDIN_STATE/k3d" ;;
"image import") ;;
*) echo "stand-in k3d: unexpected: $*" >&2; exit 1 ;;
esac
"#;

pub const DOCKER: &str = r##"#!/bin/sh
echo "docker $*" >> "$STANDIN_LOG"
case "$1" in
info)
  if [ -n "$DOCKER_NO_ENGINE" ]; then echo "Cannot connect to the Docker daemon. Is the docker daemon running?" >&2; exit 1; fi
  echo 27.3.1 ;;
build)
  if [ -n "$DOCKER_FAIL_BUILD" ]; then
    i=1; while [ $i -le 30 ]; do echo "#$i step $i of the build" >&2; i=$((i+1)); done
    echo 'ERROR: failed to solve: process "/bin/sh -c make" did not complete successfully: exit code: 2' >&2
    exit 1
  fi
  echo "naming to docker.io/library/app done" >&2 ;;
save)
  out=; prev=
  for a in "$@"; do [ "$prev" = "-o" ] && out="$a"; prev="$a"; done
  echo "an image archive" > "$out" ;;
*) echo "stand-in docker: unexpected: $*" >&2; exit 1 ;;
esac
"##;

/// A temporary `bin/` of stand-ins, and where they log and keep their state.
pub struct Standins {
    pub bin: PathBuf,
    pub log: PathBuf,
    pub state: PathBuf,
}

impl Standins {
    /// Writes the stand-ins `tools` (of kind, minikube, k3d, docker) into `dir/bin`.
    pub fn new(dir: &Path, tools: &[&str]) -> Standins {
        use std::os::unix::fs::PermissionsExt;
        let bin = dir.join("bin");
        let state = dir.join("standin-state");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(&state).unwrap();
        for tool in tools {
            let script = match *tool {
                "kind" => KIND,
                "minikube" => MINIKUBE,
                "k3d" => K3D,
                "docker" => DOCKER,
                other => panic!("no stand-in for {other}"),
            };
            let path = bin.join(tool);
            std::fs::write(&path, script).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        Standins { bin, log: dir.join("standin.log"), state }
    }

    /// The stand-ins first, then the directories of PATH that hold none of the
    /// real tools (so a stand-in left out is missing, not found elsewhere).
    pub fn path(&self) -> OsString {
        let rest = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .filter(|dir| ["kind", "minikube", "k3d", "docker"].iter().all(|t| !dir.join(t).exists()))
            .collect::<Vec<_>>();
        std::env::join_paths(std::iter::once(self.bin.clone()).chain(rest)).unwrap()
    }

    /// The calls recorded so far, one line each.
    pub fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log).unwrap_or_default().lines().map(str::to_string).collect()
    }

    pub fn clear(&self) {
        let _ = std::fs::remove_file(&self.log);
    }
}

/// The common project (kdeck.yaml and its files) with the stand-ins on PATH.
pub struct Project<'a> {
    pub inner: super::project::Project<'a>,
    pub standins: Standins,
    pub env: Vec<(&'static str, String)>,
}

impl<'a> std::ops::Deref for Project<'a> {
    type Target = super::project::Project<'a>;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl<'a> Project<'a> {
    pub fn new(home: &'a TestSandbox, tools: &[&str], files: &[(&str, &str)]) -> Self {
        Project { inner: super::project::Project::new(home, files), standins: Standins::new(home.dir.path(), tools), env: Vec::new() }
    }

    pub fn kdeck(&self, args: &[&str]) -> Output {
        let mut cmd = self.inner.command(args);
        cmd.env("PATH", self.standins.path())
            .env("STANDIN_LOG", &self.standins.log)
            .env("STANDIN_STATE", &self.standins.state)
            .env("KDECK_BIN", super::BIN)
            .env_remove("KIND_CONTAINERD_STORE")
            .env_remove("DOCKER_FAIL_BUILD")
            .env_remove("DOCKER_NO_ENGINE")
            .env_remove("KDECK_INGRESS_NGINX_URL")
            .env_remove("KDECK_INGRESS_NGINX_SHA256");
        cmd.envs(self.env.iter().map(|(k, v)| (*k, v.as_str())));
        cmd.output().unwrap()
    }

    /// `path` inside the project, as kdeck passes it to the tools.
    pub fn path(&self, path: &str) -> String {
        self.dir.join(path).display().to_string()
    }
}
