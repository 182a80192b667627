//! `kdeck verify`: the checks of `stack.verify`, run against what is deployed —
//! concurrently (at most [`CONCURRENCY`] at once), each bounded by its timeout —
//! into one [`CheckResult`] per check: ok or not, how long it took, and a detail
//! that says, on failure, what was expected and what was seen. A check that fails
//! never stops the others.
//!
//! The pieces: [`plan`] (the configuration checked, places named), [`super::tunnel`]
//! (target → ready pod → port-forward, shared by `tcp`, `postgres`, `redis` and `kdeck forward`),
//! [`conn`] (those three protocols), [`http`] (service proxy and plain URLs),
//! [`inpod`] (commands in a pod) under [`pods`] (`exec`), [`env`], [`dns`] and
//! [`persistence`], [`hygiene`] (`secretHygiene`) and [`recreate`] (`--recreate`).

pub mod conn;
use super::tunnel as forward;
pub mod dns;
pub mod env;
pub mod http;
pub mod hygiene;
pub mod inpod;
pub mod persistence;
pub mod pgwire;
pub mod plan;
pub mod pods;
pub mod recreate;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::Serialize;

use self::plan::{Check, Planned, Protocol};
use super::StackDef;
use super::provider;
use crate::cluster::Cluster;
use crate::cluster::target::{Target, Workload};
use crate::error::{Error, Result};

/// How many checks run at once.
pub const CONCURRENCY: usize = 4;

/// One check's outcome (the JSON of `kdeck verify -o json` and of `up`'s `checks`).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckResult {
    pub name: String,
    pub kind: String,
    pub ok: bool,
    /// Not run (and not a failure): the `acrossRecreate` part without `--recreate`.
    pub skipped: bool,
    pub seconds: f64,
    pub detail: String,
}

impl CheckResult {
    /// `ok   name (0.3s): detail` (`FAIL`, `skip`).
    pub fn line(&self) -> String {
        let state = match (self.ok, self.skipped) {
            (_, true) => "skip",
            (true, false) => "ok",
            (false, false) => "FAIL",
        };
        format!("{state:<4} {} ({:.1}s): {}", self.name, self.seconds, self.detail)
    }
}

/// The checks named in `only` (all when empty); an unknown name lists the known ones.
pub fn select(planned: Vec<Planned>, only: &[String]) -> Result<Vec<Planned>> {
    if planned.is_empty() {
        return Err(Error::usage("the stack declares no checks (stack.verify is empty)")
            .hint("declare some: verify: [ { name: web answers, http: { service: web, port: 80 } } ] (see the README's stack.verify)"));
    }
    if let Some(unknown) = only.iter().find(|name| !planned.iter().any(|p| &p.name == *name)) {
        let known: Vec<String> = planned.iter().map(|p| format!("{:?}", p.name)).collect();
        return Err(Error::usage(format!("no check named {unknown:?} in stack.verify")).hint(format!("the checks: {}", known.join(", "))));
    }
    Ok(planned.into_iter().filter(|p| only.is_empty() || only.contains(&p.name)).collect())
}

/// What the checks need: the cluster, a client that does not retry (an answer is
/// the result), and the provider's ingress address.
pub struct Env {
    pub cluster: Cluster,
    probe: kube::Client,
    pub ingress: Option<String>,
    pub provider: String,
    /// `--recreate`: the `acrossRecreate` parts run after the checks (not reported as skipped).
    pub recreate: bool,
    /// The markers `persistence` checks left for the recreate.
    markers: Mutex<Vec<persistence::Marker>>,
}

impl Env {
    pub async fn new(cluster: &Cluster, ingress: Option<String>, provider: &str) -> Result<Env> {
        // A second connection whose retry deadline is already past: the one retry
        // layer, retrying nothing (a 503 through the service proxy is the answer).
        let probe = Cluster::connect(Some(&cluster.context)).await?;
        probe.retries.set_deadline(tokio::time::Instant::now());
        Ok(Env { cluster: cluster.clone(), probe: probe.client, ingress, provider: provider.to_string(), recreate: false, markers: Mutex::default() })
    }
}

/// The names of the checks with an `acrossRecreate` part.
fn across_recreate(planned: &[Planned]) -> Vec<String> {
    planned.iter().filter(|p| matches!(p.check, Check::Persistence { across_recreate: true, .. })).map(|p| p.name.clone()).collect()
}

/// The checks `kdeck verify` runs: those named in `only` (else all); with
/// `recreate`, at least one of them must have an `acrossRecreate` part.
pub fn selected(def: &StackDef, only: &[String], recreate: bool) -> Result<Vec<Planned>> {
    let planned = select(plan::plan(def), only)?;
    if recreate && across_recreate(&planned).is_empty() {
        return Err(Error::usage("--recreate: no check to run has a persistence part across a recreate")
            .hint("declare one: persistence: { workload: sts/NAME, path: /data, acrossRecreate: true }"));
    }
    Ok(planned)
}

/// `kdeck verify`: the [`selected`] checks on the stack's cluster; with `recreate`,
/// then the `acrossRecreate` parts (the caller confirmed).
pub async fn verify(def: &StackDef, planned: Vec<Planned>, default_timeout: Duration, recreate: bool) -> Result<(String, Vec<CheckResult>)> {
    let across = across_recreate(&planned);
    let mut target = provider::target(&def.config.cluster, &def.name).await?;
    if target.provider == crate::project::stack::Provider::Kind {
        target.ingress = provider::kind::ingress_address_of(def, &target.name);
    }
    let cluster = Cluster::connect(Some(&target.context)).await?;
    let mut env = Env::new(&cluster, target.ingress.clone(), target.provider.name()).await?;
    env.recreate = recreate;
    let mut results = run(&env, planned, default_timeout).await;
    if recreate {
        let markers = env.markers.lock().map(|mut m| std::mem::take(&mut *m)).unwrap_or_default();
        // Progress on stderr when someone watches it.
        let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
        results.extend(recreate::recreate(def, &across, markers, progress).await);
    }
    Ok((target.context, results))
}

/// Runs `planned`, at most [`CONCURRENCY`] at once; results in the order declared,
/// then (without `env.recreate`) the skipped `acrossRecreate` parts.
pub async fn run(env: &Env, planned: Vec<Planned>, default_timeout: Duration) -> Vec<CheckResult> {
    let across = across_recreate(&planned);
    let mut results: Vec<CheckResult> = futures::stream::iter(planned).map(|p| run_one(env, p, default_timeout)).buffered(CONCURRENCY).collect().await;
    if !env.recreate {
        results.extend(across.iter().map(|name| recreate::skipped(name)));
    }
    results
}

async fn run_one(env: &Env, planned: Planned, default_timeout: Duration) -> CheckResult {
    let least = if planned.kind == "persistence" { plan::PERSISTENCE_TIMEOUT } else { Duration::ZERO };
    let timeout = planned.timeout.unwrap_or(default_timeout.max(least));
    let started = Instant::now();
    let outcome = match tokio::time::timeout(timeout, check(env, &planned.name, &planned.check)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(format!("timed out after {} (the check's timeout; set `timeout:` on it for more)", seconds_text(timeout))),
    };
    let (ok, detail) = match outcome {
        Ok(detail) => (true, detail),
        Err(detail) => (false, detail),
    };
    CheckResult { name: planned.name, kind: planned.kind.to_string(), ok, skipped: false, seconds: started.elapsed().as_secs_f64(), detail }
}

fn seconds_text(d: Duration) -> String {
    if d.subsec_millis() == 0 { format!("{}s", d.as_secs()) } else { format!("{:.1}s", d.as_secs_f64()) }
}

async fn check(env: &Env, name: &str, check: &Check) -> std::result::Result<String, String> {
    let cluster = &env.cluster;
    match check {
        Check::Proxy { namespace, service, port, path, expect } => http::proxy(&env.probe, namespace, service, *port, path, expect).await,
        Check::Url { url, host, insecure, expect } => {
            let url = http::expand(url, env.ingress.as_deref(), &env.provider)?;
            http::url(&url, host.as_deref(), *insecure, expect).await
        }
        Check::Port { protocol, namespace, target, port, password, login } => {
            // The password first: a missing Secret is said before any connection.
            let password = match password {
                Some(secret) => Some((format!("Secret {namespace}/{} key {}", secret.name, secret.key), conn::password(cluster, namespace, secret).await?)),
                None => None,
            };
            let (pod, on_pod) = forward::resolve(cluster, namespace, target, *port).await?;
            let pod_name = kube::ResourceExt::name_any(&pod);
            let mut opened = forward::Forward::open(cluster, namespace, &pod_name, on_pod).await?;
            let via = if matches!(target, Target::Pod(_)) { String::new() } else { format!("{target} → ") };
            let result = match protocol {
                Protocol::Tcp => conn::tcp(&mut opened).await,
                Protocol::Postgres => match login {
                    Some((user, database)) => {
                        let login = pgwire::Login { user, database, password: password.as_ref().map(|(from, p)| (from.as_str(), p.as_str())) };
                        pgwire::select_one(&mut opened.stream, &login).await
                    }
                    None => conn::postgres(&mut opened).await,
                },
                Protocol::Redis => conn::redis(&mut opened, password.as_ref().map(|(from, p)| (from.as_str(), p.clone()))).await,
            };
            let secret = password.as_ref().map(|(_, p)| p.as_str());
            let note = match target {
                Target::Workload(Workload::Service, service) => conn::undeclared_target(service, *port, &pod, on_pod).map(|n| format!("; {n}")),
                _ => None,
            };
            result
                .map(|ok| conn::redact(&format!("{via}pod {pod_name}:{on_pod}: {ok}"), secret))
                .map_err(|e| conn::redact(&format!("{via}pod {pod_name}:{on_pod}: {e}{}", note.unwrap_or_default()), secret))
        }
        Check::Exec { namespace, target, container, command, exit_code, stdout_contains } => {
            let spec = pods::ExecSpec {
                namespace,
                target,
                container: container.as_deref(),
                command,
                exit_code: *exit_code,
                stdout_contains: stdout_contains.as_deref(),
            };
            pods::exec(cluster, &spec).await
        }
        Check::Env { namespace, target, source, variables } => env::env(cluster, namespace, target, source, variables).await,
        Check::Dns { namespace, from, container, service, port } => dns::check(cluster, namespace, from, container.as_deref(), service, *port).await,
        Check::Persistence { namespace, target, container, path, across_recreate } => {
            let (detail, marker) = persistence::check(cluster, name, namespace, target, container.as_deref(), path, *across_recreate && env.recreate).await?;
            if let (Some(marker), Ok(mut markers)) = (marker, env.markers.lock()) {
                markers.push(marker);
            }
            Ok(detail)
        }
        Check::Hygiene(scope) => hygiene::check(cluster, scope).await,
        Check::Invalid { message } => Err(message.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_lines_say_ok_fail_or_skip() {
        let result = |ok, skipped| CheckResult { name: "db".into(), kind: "persistence".into(), ok, skipped, seconds: 0.25, detail: "d".into() };
        assert_eq!(result(true, false).line(), "ok   db (0.2s): d");
        assert_eq!(result(false, false).line(), "FAIL db (0.2s): d");
        assert_eq!(
            recreate::skipped("db").line(),
            "skip db (across recreate) (0.0s): skipped: it deletes and recreates the cluster; run `kdeck verify --recreate`"
        );
        assert_eq!(result(true, true).line().split_whitespace().next(), Some("skip"));
    }
}
