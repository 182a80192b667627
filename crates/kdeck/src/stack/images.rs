//! `stack.images`: built with `docker build` (paths relative to kdeck.yaml), then
//! loaded into the cluster by its provider's tool — `kind load docker-image`
//! (falling back to `docker save` + `kind load image-archive` when docker keeps
//! images in the containerd image store, which `kind load docker-image` cannot read),
//! `minikube image load`, `k3d image import`. The sandbox and `context` load
//! nothing: the sandbox takes images as present, and a context's cluster pulls
//! from a registry. Without a docker engine, builds are skipped for those two and
//! an error for the providers that load.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::StackDef;
use super::provider::{DOCKER, K3D, KIND, MINIKUBE, Target, absolute, run};
use crate::error::{Error, Result};
use crate::project::stack::{Image, Provider};

/// What became of one image (`-o json`: `images[]`).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageReport {
    pub name: String,
    /// What was (dry: would be) done, in words.
    pub action: String,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct ImageOptions {
    pub dry_run: bool,
    /// Build nothing; images already built are still loaded.
    pub skip_build: bool,
    /// Say each image's progress on stderr.
    pub progress: bool,
}

/// The sandbox's answer, whatever docker says.
pub const SANDBOX_NOTE: &str = "the sandbox takes them as present; nothing built";

/// Builds and loads the stack's images into `target` (dry: lists what would be done).
pub fn build_and_load(def: &StackDef, target: &Target, options: ImageOptions) -> Result<Vec<ImageReport>> {
    let images = &def.config.images;
    if images.is_empty() {
        return Ok(Vec::new());
    }
    let root = absolute(&def.root);
    let builds: Vec<Build> = images.iter().enumerate().map(|(i, image)| Build::of(&root, i, image)).collect::<Result<_>>()?;
    let loads = matches!(target.provider, Provider::Kind | Provider::Minikube | Provider::K3d);
    let say = |text: &str| {
        if options.progress {
            eprintln!("images: {text}");
        }
    };
    if options.dry_run {
        return Ok(builds.iter().map(|b| ImageReport { name: b.name.clone(), action: planned(b, target, options) }).collect());
    }
    // A docker engine is needed to build and to load; without one, the sandbox and
    // `context` go on (the sandbox takes images as present), the others cannot.
    let engine = match crate::render::tools::which(DOCKER.name) {
        None if loads => {
            return Err(
                Error::usage(format!("stack.images with provider {} needs `docker`, which is not on PATH", target.provider.name())).hint(DOCKER.install)
            );
        }
        None => Err("docker is not on PATH".to_string()),
        Some(docker) => match run(&docker, &["info", "--format", "{{.ServerVersion}}"], "docker info") {
            Ok(_) => Ok(docker),
            Err(e) if loads => {
                return Err(Error::usage(format!(
                    "stack.images with provider {}: docker's engine does not answer ({})",
                    target.provider.name(),
                    e.message.lines().skip(1).map(str::trim).collect::<Vec<_>>().join(" ")
                ))
                .hint("start Docker (`docker info` must work), or bring the stack up without building: kdeck up --skip-build"));
            }
            Err(_) => Err("`docker info` failed: no docker engine".to_string()),
        },
    };
    let docker = match engine {
        Ok(docker) => docker,
        Err(why) => {
            let action = match target.provider {
                Provider::Sandbox => format!("{SANDBOX_NOTE} ({why})"),
                _ => format!("nothing built ({why}); provider context loads nothing: the cluster pulls images from its registry"),
            };
            say(&action);
            return Ok(builds.iter().map(|b| ImageReport { name: b.name.clone(), action: action.clone() }).collect());
        }
    };
    let mut reports = Vec::new();
    for build in &builds {
        let mut done = Vec::new();
        if !options.skip_build {
            say(&format!("building {}", build.name));
            let args: Vec<&str> = build.args.iter().map(String::as_str).collect();
            run(&docker, &args, &format!("docker build -t {} (stack.images[{}])", build.name, build.index))?;
            done.push("built".to_string());
        }
        if loads {
            done.push(load(&root, &docker, target, &build.name)?);
        } else if target.provider == Provider::Sandbox {
            done.push("not loaded: the sandbox takes images as present".into());
        } else {
            done.push("not loaded: provider context's cluster pulls images from its registry".into());
        }
        let action = done.join("; ");
        say(&format!("{}: {action}", build.name));
        reports.push(ImageReport { name: build.name.clone(), action });
    }
    Ok(reports)
}

/// One `docker build`.
struct Build {
    index: usize,
    name: String,
    /// `build -t NAME -f DOCKERFILE [--build-arg K=V]… CONTEXT`.
    args: Vec<String>,
    /// The same for people: build-arg values left out (they may be tokens).
    shown: String,
}

impl Build {
    fn of(root: &Path, index: usize, image: &Image) -> Result<Build> {
        let at = format!("stack.images[{index}]");
        let name = &image.name;
        if name.is_empty() || name.starts_with('-') || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Error::usage(format!("{at}.name: {name:?} is not an image reference")).hint("for example: taskflow-backend:1.0.0"));
        }
        let context: PathBuf = root.join(&image.context).components().collect();
        if !context.is_dir() {
            return Err(Error::usage(format!("{at}.context: {} is not a directory (relative to {})", image.context, root.display())));
        }
        let dockerfile = match &image.dockerfile {
            Some(file) => root.join(file).components().collect(),
            None => context.join("Dockerfile"),
        };
        if !dockerfile.is_file() {
            let shown = image.dockerfile.clone().unwrap_or_else(|| format!("{}/Dockerfile", image.context));
            return Err(Error::usage(format!("{at}.dockerfile: {shown} does not exist (relative to {})", root.display())));
        }
        for key in image.args.keys() {
            if key.is_empty() || key.contains('=') || key.chars().any(char::is_whitespace) {
                return Err(Error::usage(format!("{at}.args: {key:?} is not a build argument name")));
            }
        }
        let mut args = vec!["build".to_string(), "-t".into(), name.clone(), "-f".into(), dockerfile.display().to_string()];
        let mut shown = format!("docker build -t {name} -f {}", image.dockerfile.clone().unwrap_or_else(|| format!("{}/Dockerfile", image.context)));
        for (key, value) in &image.args {
            args.extend(["--build-arg".into(), format!("{key}={value}")]);
            shown.push_str(&format!(" --build-arg {key}=…"));
        }
        args.push(context.display().to_string());
        shown.push_str(&format!(" {}", image.context));
        Ok(Build { index, name: name.clone(), args, shown })
    }
}

/// The dry run's words for one image.
fn planned(build: &Build, target: &Target, options: ImageOptions) -> String {
    let built = if options.skip_build { "not built (--skip-build)".to_string() } else { format!("would run: {}", build.shown) };
    let name = &build.name;
    let cluster = &target.name;
    match target.provider {
        Provider::Kind => format!("{built}; then: kind load docker-image {name} --name {cluster}"),
        Provider::Minikube => format!("{built}; then: minikube image load {name} -p {cluster}"),
        Provider::K3d => format!("{built}; then: k3d image import {name} -c {cluster}"),
        Provider::Sandbox => format!("{built}, if a docker engine runs; not loaded: {SANDBOX_NOTE} without one"),
        Provider::Context => format!("{built}, if a docker engine runs; not loaded (provider context)"),
    }
}

/// Loads `name` from docker into the cluster; returns what was done.
fn load(root: &Path, docker: &Path, target: &Target, name: &str) -> Result<String> {
    let cluster = target.name.as_str();
    match target.provider {
        Provider::Kind => {
            let kind = KIND.find("loading images into kind")?;
            match run(&kind, &["load", "docker-image", name, "--name", cluster], &format!("kind load docker-image {name}")) {
                Ok(_) => Ok("loaded (kind load docker-image)".into()),
                Err(e) if containerd_store(&e.message) => {
                    // docker keeps the image in the containerd image store: save it
                    // to an archive and load that instead.
                    // The archive goes beside the merged kind config (the project's,
                    // git-ignored), never to a shared temporary directory.
                    let path = root.join(".kdeck").join("kind").join(format!("{cluster}-image.tar"));
                    if let Some(dir) = path.parent() {
                        std::fs::create_dir_all(dir).map_err(|e| Error::failure(format!("cannot create {}: {e}", dir.display())))?;
                    }
                    let archive = path.display().to_string();
                    let loaded = run(docker, &["save", "-o", &archive, name], &format!("docker save {name}"))
                        .and_then(|_| run(&kind, &["load", "image-archive", &archive, "--name", cluster], &format!("kind load image-archive ({name})")));
                    let _ = std::fs::remove_file(&path);
                    loaded.map(|_| "loaded (docker save + kind load image-archive: docker uses the containerd image store)".into())
                }
                Err(e) => Err(e),
            }
        }
        Provider::Minikube => {
            let minikube = MINIKUBE.find("loading images into minikube")?;
            run(&minikube, &["image", "load", name, "-p", cluster], &format!("minikube image load {name}"))?;
            Ok("loaded (minikube image load)".into())
        }
        Provider::K3d => {
            let k3d = K3D.find("loading images into k3d")?;
            run(&k3d, &["image", "import", name, "-c", cluster], &format!("k3d image import {name}"))?;
            Ok("loaded (k3d image import)".into())
        }
        Provider::Sandbox | Provider::Context => Ok("not loaded".into()),
    }
}

/// Whether `kind load docker-image` failed because docker uses the containerd
/// image store (`ctr: content digest sha256:…: not found`).
fn containerd_store(message: &str) -> bool {
    message.contains("content digest") && message.contains("not found")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_containerd_store_failure_is_recognised() {
        assert!(containerd_store("kind load docker-image app failed (exit 1):\n  Command Output: ctr: content digest sha256:82014a: not found"));
        assert!(!containerd_store("kind load docker-image app failed (exit 1):\n  ERROR: image: \"app\" not present locally"));
    }

    #[test]
    fn builds_name_their_place_and_hide_argument_values() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("app")).unwrap();
        std::fs::write(root.path().join("app/Dockerfile"), "FROM scratch\n").unwrap();
        let image = Image { name: "app:1".into(), context: "app".into(), dockerfile: None, args: [("TOKEN".to_string(), "s3cret".to_string())].into() };
        let build = Build::of(root.path(), 0, &image).unwrap();
        assert_eq!(build.args[..3], ["build", "-t", "app:1"]);
        assert!(build.args.contains(&"TOKEN=s3cret".to_string()));
        assert!(!build.shown.contains("s3cret"), "{}", build.shown);
        let bad = Image { name: "--push".into(), ..image.clone() };
        assert!(Build::of(root.path(), 2, &bad).err().expect("refused").message.contains("stack.images[2].name"));
        let missing = Image { context: "nope".into(), ..image };
        assert!(Build::of(root.path(), 1, &missing).err().expect("refused").message.contains("stack.images[1].context"));
    }
}
