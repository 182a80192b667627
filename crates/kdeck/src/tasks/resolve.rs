//! From a task in `kdeck.yaml` and the command line to everything needed to run
//! it: the executor (and why), the expanded script, env, working directory, and
//! where it runs — nothing looked up in a cluster yet. Executors finish the job
//! (pick the pod, check permissions) in their `prepare`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cluster::names;
use crate::cluster::target::Target;
use crate::error::{Error, Result};
use crate::project::config::{Component, ExecutorKind, Task};
use crate::project::expand::{self, Scope};
use crate::project::{Project, secret};
use crate::tasks::script::{Body, EnvVar, is_env_name};

/// What the command line says about every task it runs.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub executor: Option<ExecutorKind>,
    pub namespace: Option<String>,
    pub context: Option<String>,
    /// Arguments after `--`, for the tasks named on the command line.
    pub args: Vec<String>,
}

/// A setting and where it came from (shown in plans).
#[derive(Clone, Debug, PartialEq)]
pub struct Sourced {
    pub value: String,
    pub source: String,
}

#[derive(Clone, Debug)]
pub struct Resolved {
    pub name: String,
    pub executor: ExecutorKind,
    /// Why this executor (listed first, picked with -x, …).
    pub choice: String,
    /// An executor preferred over this one is not available here (said when it runs).
    pub fallback: bool,
    pub body: Body,
    /// The body as plans and logs show it: secret references masked.
    pub body_shown: Body,
    pub args: Vec<String>,
    pub env: Vec<EnvVar>,
    pub workdir: Option<String>,
    pub workdir_shown: Option<String>,
    pub interactive: bool,
    pub timeout: Option<Duration>,
    /// The question asked before the task runs (secrets masked), and the word that answers it.
    pub confirm: Option<(String, String)>,
    /// Where the task is declared (`tasks.x`, `components.c.tasks.x`), for hints.
    pub place: String,
    /// The project root: where compose runs, where task logs go.
    pub root: PathBuf,
    /// The component's directory: where local tasks run (before `workdir`).
    pub local_dir: PathBuf,
    pub compose: Option<ComposeTarget>,
    pub kube: Option<KubeTarget>,
}

#[derive(Clone, Debug)]
pub struct ComposeTarget {
    pub service: String,
    pub file: Option<PathBuf>,
}

#[derive(Clone, Debug)]
pub struct KubeTarget {
    /// None: the kubeconfig's current context.
    pub context: Option<Sourced>,
    /// None: the context's namespace, else `default`.
    pub namespace: Option<Sourced>,
    pub workload: Target,
    pub container: Option<String>,
    /// What to set to choose a container for good.
    pub container_hint: String,
}

/// The executors a task may use, in order of preference, each with the reason it
/// cannot be used right now (None: available).
pub fn executors(project: &Project, name: &str, task: &Task) -> Vec<(ExecutorKind, Option<String>)> {
    let component = task.component.as_deref().and_then(|c| project.config.components.get(c));
    let mut listed = if task.executors.is_empty() { implied_executors(component) } else { task.executors.clone() };
    if task.executors.is_empty()
        && let Some(preferred) = project.config.defaults.executor
        && let Some(at) = listed.iter().position(|k| *k == preferred)
    {
        listed[..=at].rotate_right(1);
    }
    listed.into_iter().map(|kind| (kind, unavailable(kind, project, name, task, component))).collect()
}

/// Without a list: the compose container if there is one, the local machine, and
/// the cluster if the component has a workload there.
fn implied_executors(component: Option<&Component>) -> Vec<ExecutorKind> {
    let mut kinds = Vec::new();
    if component.is_some_and(|c| c.compose.is_some()) {
        kinds.push(ExecutorKind::Container);
    }
    kinds.push(ExecutorKind::Local);
    if component.is_some_and(|c| c.kubernetes.is_some()) {
        kinds.push(ExecutorKind::Kubernetes);
    }
    kinds
}

fn unavailable(kind: ExecutorKind, project: &Project, name: &str, task: &Task, component: Option<&Component>) -> Option<String> {
    let component_name = task.component.as_deref().unwrap_or_default();
    match kind {
        ExecutorKind::Local => {
            let dir = component_dir(project, component);
            if !dir.is_dir() {
                return Some(format!("the component's directory {} does not exist", dir.display()));
            }
            (find_program("bash").is_none() && find_program("sh").is_none()).then(|| "neither bash nor sh is on PATH".to_string())
        }
        ExecutorKind::Container => {
            if component.and_then(|c| c.compose.as_ref()).is_none() {
                return Some(if task.component.is_none() {
                    format!("task {name} has no component")
                } else {
                    format!("component {component_name} has no compose service (components.{component_name}.compose.service)")
                });
            }
            crate::tasks::executors::container::engine().clone().err()
        }
        ExecutorKind::Kubernetes | ExecutorKind::Job => {
            if component.and_then(|c| c.kubernetes.as_ref()).is_some() {
                return None;
            }
            Some(if task.component.is_none() {
                format!("task {name} has no component")
            } else {
                format!("component {component_name} has no Kubernetes workload (components.{component_name}.kubernetes)")
            })
        }
    }
}

/// The executor to use: the one asked for (which must be listed and available),
/// else the first available one.
pub fn choose(project: &Project, name: &str, task: &Task, options: &RunOptions) -> Result<(ExecutorKind, String, bool)> {
    let candidates = executors(project, name, task);
    let listed = || candidates.iter().map(|(k, _)| k.name()).collect::<Vec<_>>().join(", ");
    if let Some(wanted) = options.executor {
        return match candidates.iter().find(|(k, _)| *k == wanted) {
            Some((_, None)) => Ok((wanted, "picked with -x".to_string(), false)),
            Some((_, Some(why))) => Err(Error::usage(format!("task {name} cannot run with the {} executor: {why}", wanted.name()))),
            None => Err(Error::usage(format!("task {name} does not run with the {} executor; it runs with: {}", wanted.name(), listed()))
                .hint(format!("list it under {}.executors to allow it", task_place(project, name)))),
        };
    }
    match candidates.iter().position(|(_, why)| why.is_none()) {
        Some(0) => Ok((candidates[0].0, format!("first of: {}", listed()), false)),
        Some(at) => {
            let skipped: Vec<String> = candidates[..at].iter().map(|(k, why)| format!("{}: {}", k.name(), why.as_deref().unwrap_or_default())).collect();
            Ok((candidates[at].0, format!("first available of: {} (not {})", listed(), skipped.join("; ")), true))
        }
        None => {
            let reasons: Vec<String> = candidates.iter().map(|(k, why)| format!("{}: {}", k.name(), why.as_deref().unwrap_or_default())).collect();
            Err(Error::usage(format!("task {name} has no executor available here")).hint(reasons.join("; ")))
        }
    }
}

/// Resolves one task; None for a task that only groups its `pre` tasks. `args`
/// go to the tasks named on the command line only.
pub fn resolve(project: &Project, name: &str, options: &RunOptions, args: &[String]) -> Result<Option<Resolved>> {
    let task = project.task(name)?;
    let place = task_place(project, name);
    let Some(raw_body) = Body::from_task(task.script.as_deref(), task.command.as_ref()) else {
        if !task.pre.is_empty() {
            return Ok(None);
        }
        return Err(Error::usage(format!("task {name} has nothing to run (no script or command)")));
    };
    let (executor, choice, fallback) = choose(project, name, &task, options)?;
    let scope = Scope::process_env(vec![&task.vars, &project.config.vars]);
    let text = |value: &str, at: &str| expand::expand(value, &scope, &format!("{place}.{at}"));
    // What is run, and what is shown of it: the same text with secret references masked.
    let both = |value: &str, at: &str| -> Result<(String, String)> {
        let at = format!("{place}.{at}");
        Ok((expand::expand(value, &scope, &at)?.text, expand::expand_masked(value, &scope, &at)?.text))
    };
    let (body, body_shown) = match raw_body {
        Body::Script(script) => {
            let (run, shown) = both(&script, if task.script.is_some() { "script" } else { "command" })?;
            (Body::Script(run), Body::Script(shown))
        }
        Body::Argv(argv) => {
            let words: Vec<(String, String)> = argv.iter().enumerate().map(|(i, a)| both(a, &format!("command[{i}]"))).collect::<Result<_>>()?;
            let (run, shown): (Vec<String>, Vec<String>) = words.into_iter().unzip();
            (Body::Argv(run), Body::Argv(shown))
        }
    };
    let mut env = Vec::new();
    for (key, value) in &task.env {
        if !is_env_name(key) {
            return Err(Error::usage(format!("{place}.env: {key:?} is not a valid environment variable name")));
        }
        let expanded = text(value, &format!("env.{key}"))?;
        env.push(EnvVar { name: key.clone(), value: expanded.text, secret: expanded.secret || secret::looks_secret(key) });
    }
    let (workdir, workdir_shown) = match task.workdir.as_deref().map(|w| both(w, "workdir")).transpose()? {
        Some((run, shown)) => (Some(run), Some(shown)),
        None => (None, None),
    };
    let confirm = match &task.confirm {
        Some(c) => Some((both(&c.message, "confirm.message")?.1, text(c.expect.as_deref().unwrap_or("yes"), "confirm.expect")?.text)),
        None => None,
    };
    let timeout = task.timeout.as_deref().map(|t| names::parse_duration(&format!("{place}.timeout"), t)).transpose()?;
    let component = task.component.as_deref().map(|c| project.component(c)).transpose()?;
    let compose = component.and_then(|c| c.compose.as_ref()).map(|c| {
        Ok::<_, Error>(ComposeTarget {
            service: text(&c.service, "compose.service")?.text,
            file: c.file.as_deref().map(|f| text(f, "compose.file").map(|e| project.root.join(e.text))).transpose()?,
        })
    });
    let kube = match (executor, component) {
        (ExecutorKind::Kubernetes | ExecutorKind::Job, Some(component)) => {
            Some(kube_target(project, task.component.as_deref().unwrap_or_default(), component, options, &scope)?)
        }
        _ => None,
    };
    Ok(Some(Resolved {
        name: name.to_string(),
        executor,
        choice,
        fallback,
        body,
        body_shown,
        args: args.to_vec(),
        env,
        workdir,
        workdir_shown,
        interactive: task.interactive,
        timeout,
        confirm,
        place,
        root: project.root.clone(),
        local_dir: component_dir(project, component),
        compose: compose.transpose()?,
        kube,
    }))
}

fn kube_target(project: &Project, component_name: &str, component: &Component, options: &RunOptions, scope: &Scope) -> Result<KubeTarget> {
    let Some(spec) = &component.kubernetes else { return Err(Error::usage(format!("component {component_name} has no Kubernetes workload"))) };
    let place = format!("components.{component_name}.kubernetes");
    let expand = |value: &str, at: &str| expand::expand(value, scope, at).map(|e| e.text);
    let defaults = &project.config.defaults.kubernetes;
    let workload = if let Some(selector) = &spec.selector {
        Target::selector(&expand(selector, &format!("{place}.selector"))?)?
    } else if let Some(deployment) = &spec.deployment {
        let name = expand(deployment, &format!("{place}.deployment"))?;
        names::validate_name("deployment", &name)?;
        Target::Workload(crate::cluster::target::Workload::Deployment, name)
    } else if let Some(label) = &defaults.selector_label {
        Target::selector(&format!("{}={component_name}", expand(label, "defaults.kubernetes.selectorLabel")?))?
    } else {
        names::validate_name("deployment", component_name)?;
        Target::Workload(crate::cluster::target::Workload::Deployment, component_name.to_string())
    };
    let context = match &options.context {
        Some(c) => Some(Sourced { value: c.clone(), source: "--context".into() }),
        None => project.context()?.map(|value| Sourced { value, source: "defaults.kubernetes.context".into() }),
    };
    let namespace = namespace(project, component_name, options, &expand)?;
    if let Some(ns) = &namespace {
        names::validate_namespace(&ns.value).map_err(|e| Error::usage(format!("{} (from {})", e.message, ns.source)))?;
    }
    Ok(KubeTarget {
        context,
        namespace,
        workload,
        container: spec.container.as_deref().map(|c| expand(c, &format!("{place}.container"))).transpose()?,
        container_hint: format!("set components.{component_name}.kubernetes.container in kdeck.yaml"),
    })
}

/// Namespace precedence: flag > KDECK_NAMESPACE / K8S_NAMESPACE > flavor > config;
/// None leaves it to the kubeconfig context (else `default`).
fn namespace(project: &Project, component: &str, options: &RunOptions, expand: &dyn Fn(&str, &str) -> Result<String>) -> Result<Option<Sourced>> {
    if let Some(ns) = &options.namespace {
        return Ok(Some(Sourced { value: ns.clone(), source: "--namespace".into() }));
    }
    for var in ["KDECK_NAMESPACE", "K8S_NAMESPACE"] {
        if let Some(ns) = std::env::var(var).ok().filter(|v| !v.is_empty()) {
            return Ok(Some(Sourced { value: ns, source: var.into() }));
        }
    }
    let configured = |config: &crate::project::config::Config| -> Option<(String, String)> {
        let in_component = config.components.get(component).and_then(|c| c.kubernetes.as_ref()).and_then(|k| k.namespace.clone());
        match in_component {
            Some(ns) => Some((ns, format!("components.{component}.kubernetes.namespace"))),
            None => config.defaults.kubernetes.namespace.clone().map(|ns| (ns, "defaults.kubernetes.namespace".to_string())),
        }
    };
    let Some((raw, at)) = configured(&project.config) else { return Ok(None) };
    let value = expand(&raw, &at)?;
    let from_flavor = match (&project.flavor, &project.base) {
        (Some(flavor), Some(base)) if configured(base).map(|(ns, _)| ns) != Some(raw.clone()) => Some(flavor),
        _ => None,
    };
    let source = match from_flavor {
        Some(flavor) => format!("flavor {flavor} ({at})"),
        None => at,
    };
    Ok(Some(Sourced { value, source }))
}

fn component_dir(project: &Project, component: Option<&Component>) -> PathBuf {
    match component.and_then(|c| c.path.as_deref()) {
        Some(path) => project.root.join(path),
        None => project.root.clone(),
    }
}

/// Where a task is declared, as a dotted path for messages.
pub fn task_place(project: &Project, name: &str) -> String {
    match name.split_once(':') {
        Some((component, task)) if project.config.components.get(component).is_some_and(|c| c.tasks.contains_key(task)) => {
            format!("components.{component}.tasks.{task}")
        }
        _ => format!("tasks.{name}"),
    }
}

/// The program's path on PATH, if it is there.
pub fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
