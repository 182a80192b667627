//! `stack.verify` checked before anything runs: exactly one kind per check, the
//! fields that kind needs, names that are valid Kubernetes names, durations that
//! parse. Each problem names its place (`kdeck.yaml:12:7: stack.verify[2].http.port`)
//! and makes that one check an [`Check::Invalid`] one, which fails when run while
//! the others still run; `up` refuses them all before changing anything ([`refuse`]).
//! The `secretHygiene` check is added unless an entry configures or disables it.

use std::time::Duration;

use super::hygiene::Scope;
use crate::cluster::names;
use crate::cluster::target::{Target, Workload};
use crate::error::{Error, Result};
use crate::project::stack::{DnsCheck, EnvCheck, ExecCheck, HttpCheck, PersistenceCheck, PortCheck, SecretKey, Stack, VerifyCheck};

/// The default timeout of one check.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The least time a `persistence` check that declares no timeout gets: a pod is replaced.
pub const PERSISTENCE_TIMEOUT: Duration = Duration::from_secs(120);

/// The name of the `secretHygiene` check the stack gets by default.
pub const HYGIENE_NAME: &str = "secret hygiene";

/// Log lines searched per container by default.
pub const LOG_LINES: u32 = 1000;

/// One check, ready to run.
#[derive(Clone, Debug)]
pub struct Planned {
    pub name: String,
    /// `http`, `tcp`, `postgres`, `redis`, `exec`, `env`, `dns`, `persistence`,
    /// `secretHygiene`, or `invalid` (a check whose kind is not known).
    pub kind: &'static str,
    /// The check's own timeout, if it declares one.
    pub timeout: Option<Duration>,
    pub check: Check,
}

#[derive(Clone, Debug)]
pub enum Check {
    /// Through the API's service proxy.
    Proxy {
        namespace: String,
        service: String,
        port: u16,
        path: String,
        expect: Expect,
    },
    /// An `http://` or `https://` URL (`${stack:ingress}` not yet expanded).
    Url {
        url: String,
        host: Option<String>,
        /// https: any certificate accepted.
        insecure: bool,
        expect: Expect,
    },
    Port {
        protocol: Protocol,
        namespace: String,
        target: Target,
        port: u16,
        password: Option<SecretKey>,
        /// postgres: (user, database) to log in as and run `SELECT 1`.
        login: Option<(String, String)>,
    },
    Exec {
        namespace: String,
        target: Target,
        container: Option<String>,
        command: Vec<String>,
        exit_code: i32,
        stdout_contains: Option<String>,
    },
    Env {
        namespace: String,
        target: Target,
        source: Source,
        variables: Vec<String>,
    },
    Dns {
        namespace: String,
        from: Target,
        container: Option<String>,
        service: String,
        port: u16,
    },
    Persistence {
        namespace: String,
        target: Target,
        container: Option<String>,
        path: String,
        across_recreate: bool,
    },
    Hygiene(Scope),
    /// A check declared wrong: it fails with this message when run.
    Invalid {
        message: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Postgres,
    Redis,
}

/// Where `env` variables must come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    ConfigMap(String),
    Secret(String),
}

impl Source {
    pub fn describe(&self) -> String {
        match self {
            Source::ConfigMap(name) => format!("ConfigMap {name}"),
            Source::Secret(name) => format!("Secret {name}"),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Expect {
    pub status: u16,
    pub body_contains: Option<String>,
    pub max_latency: Option<Duration>,
    /// (kubectl JSONPath, the value it must select), checked in the JSON body.
    pub json_path: Vec<(String, serde_json::Value)>,
}

fn bad(place: &str, what: impl std::fmt::Display) -> Error {
    Error::usage(format!("{place}: {what}")).hint("see the README's `stack.verify` reference")
}

/// Every check of the stack, validated.
pub fn plan(def: &crate::stack::StackDef) -> Vec<Planned> {
    plan_stack(&def.config, &def.name, &def.file.display().to_string())
}

/// Every check of `stack` (named `name`); `file` names kdeck.yaml in messages.
pub fn plan_stack(stack: &Stack, name: &str, file: &str) -> Vec<Planned> {
    let default_namespace = stack.deploy.iter().find_map(|s| s.namespace.clone()).unwrap_or_else(|| "default".into());
    let mut planned: Vec<Planned> = Vec::new();
    let mut hygiene_declared = false;
    for (index, entry) in stack.verify.iter().enumerate() {
        let place = format!("stack.verify[{index}]");
        let mut one = match &entry.check {
            Ok(check) => {
                hygiene_declared |= check.secret_hygiene.is_some();
                if check.secret_hygiene.as_ref().is_some_and(|h| !h.enabled) {
                    continue;
                }
                plan_one(check, &place, &default_namespace).unwrap_or_else(|e| {
                    // The key under the check the problem is at (`http` of `stack.verify[0].http.port`).
                    let key = e.message.strip_prefix(place.as_str()).and_then(|rest| rest.strip_prefix('.')).unwrap_or_default();
                    let key = key.split(['.', ':']).next().unwrap_or_default();
                    invalid(&check.name, "invalid", format!("{}: {}", placed(file, entry.place_of(key)), e.message))
                })
            }
            Err(bad) => {
                let at = placed(file, bad.at);
                let key = if bad.path.is_empty() { place.clone() } else { format!("{place}.{}", bad.path) };
                let name = bad.name.clone().unwrap_or_else(|| place.clone());
                invalid(&name, "invalid", format!("{at}: {key}: {}", bad.message))
            }
        };
        if planned.iter().any(|p| p.name == one.name) {
            one = invalid(
                &format!("{} ({place})", one.name),
                one.kind,
                format!("{}: {place}.name: {:?} is used by another check; names must be unique", placed(file, entry.place_of("name")), one.name),
            );
        }
        planned.push(one);
    }
    if !hygiene_declared && !planned.is_empty() && !planned.iter().any(|p| p.name == HYGIENE_NAME) {
        let check = Check::Hygiene(scope(true, true, LOG_LINES));
        planned.push(Planned { name: HYGIENE_NAME.into(), kind: "secretHygiene", timeout: None, check });
    }
    // The stack's namespaces and images, as far as kdeck.yaml says (the ApplySet says the rest).
    let mut namespaces: Vec<String> = vec![default_namespace];
    namespaces.extend(stack.deploy.iter().flat_map(|s| [s.namespace.clone(), s.helm.as_ref().and_then(|h| h.namespace.clone())]).flatten());
    namespaces.extend(planned.iter().filter_map(|p| p.namespace().map(str::to_string)));
    namespaces.sort();
    namespaces.dedup();
    for p in &mut planned {
        if let Check::Hygiene(scope) = &mut p.check {
            scope.stack = name.to_string();
            scope.namespaces = namespaces.clone();
            scope.images = stack.images.iter().map(|i| i.name.clone()).collect();
            scope.controller_namespaces = crate::stack::ingress::namespaces(&stack.cluster);
        }
    }
    planned
}

fn scope(non_root: bool, limits: bool, log_lines: u32) -> Scope {
    Scope { stack: String::new(), namespaces: Vec::new(), images: Vec::new(), non_root, limits, log_lines, controller_namespaces: Vec::new() }
}

impl Planned {
    /// The namespace the check looks in, if it names one.
    pub fn namespace(&self) -> Option<&str> {
        match &self.check {
            Check::Proxy { namespace, .. }
            | Check::Port { namespace, .. }
            | Check::Exec { namespace, .. }
            | Check::Env { namespace, .. }
            | Check::Dns { namespace, .. }
            | Check::Persistence { namespace, .. } => Some(namespace),
            Check::Url { .. } | Check::Hygiene(_) | Check::Invalid { .. } => None,
        }
    }
}

/// `FILE:LINE:COLUMN`, or the file alone.
fn placed(file: &str, at: Option<(u64, u64)>) -> String {
    at.map(|(line, column)| format!("{file}:{line}:{column}")).unwrap_or_else(|| file.to_string())
}

fn invalid(name: &str, kind: &'static str, message: String) -> Planned {
    Planned { name: name.to_string(), kind, timeout: None, check: Check::Invalid { message } }
}

/// `up`'s rule: any check declared wrong stops it before anything changes.
pub fn refuse(planned: &[Planned]) -> Result<()> {
    let problems: Vec<&str> = planned
        .iter()
        .filter_map(|p| match &p.check {
            Check::Invalid { message } => Some(message.as_str()),
            _ => None,
        })
        .collect();
    match problems.split_first() {
        None => Ok(()),
        Some((first, rest)) => {
            let error = Error::usage(first.to_string()).hint("see the README's `stack.verify` reference");
            Err(rest.iter().fold(error, |e, more| e.hint(format!("also: {more}"))))
        }
    }
}

fn plan_one(check: &VerifyCheck, place: &str, default_namespace: &str) -> Result<Planned> {
    if check.name.trim().is_empty() {
        return Err(bad(&format!("{place}.name"), "a check needs a name"));
    }
    if check.name.chars().any(char::is_control) {
        return Err(bad(&format!("{place}.name"), "control characters are not allowed"));
    }
    let timeout = match &check.timeout {
        Some(text) => Some(duration(&format!("{place}.timeout"), text)?),
        None => None,
    };
    let kinds: Vec<&'static str> = [
        ("http", check.http.is_some()),
        ("tcp", check.tcp.is_some()),
        ("postgres", check.postgres.is_some()),
        ("redis", check.redis.is_some()),
        ("exec", check.exec.is_some()),
        ("env", check.env.is_some()),
        ("dns", check.dns.is_some()),
        ("persistence", check.persistence.is_some()),
        ("secretHygiene", check.secret_hygiene.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, set)| set.then_some(k))
    .collect();
    let kind = match kinds.as_slice() {
        [one] => *one,
        [] => return Err(bad(place, format!("check {:?} has no kind: give one of {KINDS}", check.name))),
        many => return Err(bad(place, format!("check {:?} has several kinds ({}); give exactly one per check", check.name, many.join(", ")))),
    };
    let here = format!("{place}.{kind}");
    let check_kind = match kind {
        "http" => http(check.http.as_ref().unwrap_or(&HttpCheck::default()), &here, default_namespace)?,
        "exec" => exec(check.exec.as_ref().unwrap_or(&ExecCheck::default()), &here, default_namespace)?,
        "env" => env(check.env.as_ref().unwrap_or(&EnvCheck::default()), &here, default_namespace)?,
        "dns" => dns(check.dns.as_ref().unwrap_or(&DnsCheck::default()), &here, default_namespace)?,
        "persistence" => persistence(check.persistence.as_ref().unwrap_or(&PersistenceCheck::default()), &here, default_namespace)?,
        "secretHygiene" => {
            let spec = check.secret_hygiene.clone().unwrap_or_default();
            if spec.log_lines == Some(0) {
                return Err(bad(&format!("{here}.logLines"), "0 searches nothing; leave it out for 1000"));
            }
            Check::Hygiene(scope(spec.non_root, spec.limits, spec.log_lines.unwrap_or(LOG_LINES)))
        }
        _ => {
            let (protocol, spec) = match kind {
                "tcp" => (Protocol::Tcp, check.tcp.as_ref()),
                "postgres" => (Protocol::Postgres, check.postgres.as_ref()),
                _ => (Protocol::Redis, check.redis.as_ref()),
            };
            port(protocol, spec.unwrap_or(&PortCheck::default()), &here, default_namespace)?
        }
    };
    Ok(Planned { name: check.name.clone(), kind, timeout, check: check_kind })
}

/// The kinds, as `no kind` errors list them.
const KINDS: &str = "http, tcp, postgres, redis, exec, env, dns, persistence, secretHygiene";

fn duration(place: &str, text: &str) -> Result<Duration> {
    names::parse_duration(place, text).map_err(|_| bad(place, format!("{text:?} is not a duration (30s, 2m, 500ms)")))
}

fn namespace(place: &str, given: &Option<String>, default: &str) -> Result<String> {
    match given {
        Some(ns) => {
            names::validate_namespace(ns).map_err(|_| bad(&format!("{place}.namespace"), format!("{ns:?} is not a valid namespace name")))?;
            Ok(ns.clone())
        }
        None => Ok(default.to_string()),
    }
}

fn name(place: &str, text: &str) -> Result<String> {
    names::validate_name("name", text).map_err(|_| bad(place, format!("{text:?} is not a valid Kubernetes name")))?;
    Ok(text.to_string())
}

fn http(spec: &HttpCheck, place: &str, default_namespace: &str) -> Result<Check> {
    let expect = Expect {
        status: spec.expect.status.unwrap_or(200),
        body_contains: spec.expect.body_contains.clone(),
        max_latency: match &spec.expect.max_latency {
            Some(text) => Some(duration(&format!("{place}.expect.maxLatency"), text)?),
            None => None,
        },
        json_path: spec.expect.json_path.iter().map(|(path, value)| (path.clone(), value.clone())).collect(),
    };
    for (path, _) in &expect.json_path {
        if kdeck_sandbox::api::table::jsonpath::select(path, &serde_json::Value::Null).is_none() {
            return Err(bad(&format!("{place}.expect.jsonPath"), format!("{path:?} is not a JSONPath kubectl understands (as in {{.status.phase}})")));
        }
    }
    if !(100..=599).contains(&expect.status) {
        return Err(bad(&format!("{place}.expect.status"), format!("{} is not an HTTP status code", expect.status)));
    }
    match (&spec.url, &spec.service) {
        (Some(_), Some(_)) => Err(bad(place, "give either url or service (with port), not both")),
        (None, None) => Err(bad(place, "give url, or service and port")),
        (Some(url), None) => {
            for (key, set) in [("port", spec.port.is_some()), ("path", spec.path.is_some()), ("namespace", spec.namespace.is_some())] {
                if set {
                    return Err(bad(&format!("{place}.{key}"), "only with service (a url says it all)"));
                }
            }
            let probe = url.replace("${stack:ingress}", "http://127.0.0.1");
            if let Err(e) = super::http::parse_url(&probe) {
                return Err(bad(&format!("{place}.url"), e));
            }
            if spec.insecure && !probe.starts_with("https://") {
                return Err(bad(&format!("{place}.insecure"), "only with an https:// url"));
            }
            if let Some(host) = &spec.host
                && (host.is_empty() || host.chars().any(|c| c.is_control() || c.is_whitespace()))
            {
                return Err(bad(&format!("{place}.host"), format!("{host:?} is not a host name")));
            }
            Ok(Check::Url { url: url.clone(), host: spec.host.clone(), insecure: spec.insecure, expect })
        }
        (None, Some(service)) => {
            if spec.host.is_some() {
                return Err(bad(&format!("{place}.host"), "only with url: the API's service proxy sends its own Host header"));
            }
            if spec.insecure {
                return Err(bad(&format!("{place}.insecure"), "only with an https:// url"));
            }
            let port = match spec.port {
                Some(0) => return Err(bad(&format!("{place}.port"), "0 is not a port")),
                Some(port) => port,
                None => return Err(bad(&format!("{place}.port"), "missing: the Service port to ask")),
            };
            let path = spec.path.clone().unwrap_or_else(|| "/".into());
            if !path.starts_with('/') || path.chars().any(|c| c.is_control() || c == ' ') {
                return Err(bad(&format!("{place}.path"), format!("{path:?} must start with / and hold no spaces")));
            }
            Ok(Check::Proxy {
                namespace: namespace(place, &spec.namespace, default_namespace)?,
                service: name(&format!("{place}.service"), service)?,
                port,
                path,
                expect,
            })
        }
    }
}

/// `deploy/NAME`-style workloads (not a bare name, which would be a pod).
fn workload(place: &str, text: &str) -> Result<Target> {
    match Target::parse(text) {
        Ok(target @ Target::Workload(kind, _)) if kind != Workload::Service => Ok(target),
        Ok(Target::Pod(_)) if text.starts_with("pod/") || text.starts_with("po/") || text.starts_with("pods/") => Target::parse(text),
        Ok(_) => Err(bad(place, format!("{text:?}: name a workload as deploy/NAME, sts/NAME, ds/NAME, rs/NAME or job/NAME"))),
        Err(e) => Err(bad(place, e.message)),
    }
}

fn port(protocol: Protocol, spec: &PortCheck, place: &str, default_namespace: &str) -> Result<Check> {
    if spec.port == 0 {
        return Err(bad(&format!("{place}.port"), "0 is not a port"));
    }
    let target = match (&spec.service, &spec.pod, &spec.workload) {
        (Some(service), None, None) => Target::Workload(Workload::Service, name(&format!("{place}.service"), service)?),
        (None, Some(pod), None) => Target::Pod(name(&format!("{place}.pod"), pod)?),
        (None, None, Some(w)) => workload(&format!("{place}.workload"), w)?,
        _ => return Err(bad(place, "give exactly one of service, pod, workload")),
    };
    if let Some(secret) = &spec.password_secret {
        if protocol == Protocol::Tcp {
            return Err(bad(&format!("{place}.passwordSecret"), "only postgres and redis checks take a password"));
        }
        name(&format!("{place}.passwordSecret.name"), &secret.name)?;
        if secret.key.is_empty() {
            return Err(bad(&format!("{place}.passwordSecret.key"), "missing"));
        }
    }
    for (field, value) in [("user", &spec.user), ("database", &spec.database)] {
        match value {
            Some(_) if protocol != Protocol::Postgres => return Err(bad(&format!("{place}.{field}"), "only postgres checks log in")),
            Some(v) if v.is_empty() || v.len() > 63 || v.contains('\0') => return Err(bad(&format!("{place}.{field}"), "must be 1 to 63 characters")),
            _ => {}
        }
    }
    // A postgres check with credentials logs in and runs SELECT 1.
    let logs_in = protocol == Protocol::Postgres && (spec.password_secret.is_some() || spec.user.is_some() || spec.database.is_some());
    let login = logs_in.then(|| {
        let user = spec.user.clone().unwrap_or_else(|| "postgres".into());
        let database = spec.database.clone().unwrap_or_else(|| user.clone());
        (user, database)
    });
    Ok(Check::Port {
        protocol,
        namespace: namespace(place, &spec.namespace, default_namespace)?,
        target,
        port: spec.port,
        password: spec.password_secret.clone(),
        login,
    })
}

fn exec(spec: &ExecCheck, place: &str, default_namespace: &str) -> Result<Check> {
    let target = match (&spec.workload, &spec.pod) {
        (Some(w), None) => workload(&format!("{place}.workload"), w)?,
        (None, Some(pod)) => Target::Pod(name(&format!("{place}.pod"), pod)?),
        _ => return Err(bad(place, "give exactly one of workload, pod")),
    };
    if spec.command.is_empty() {
        return Err(bad(&format!("{place}.command"), "missing: the command as a list, e.g. [redis-cli, ping]"));
    }
    if let Some(container) = &spec.container {
        name(&format!("{place}.container"), container)?;
    }
    Ok(Check::Exec {
        namespace: namespace(place, &spec.namespace, default_namespace)?,
        target,
        container: spec.container.clone(),
        command: spec.command.clone(),
        exit_code: spec.expect.exit_code.unwrap_or(0),
        stdout_contains: spec.expect.stdout_contains.clone(),
    })
}

fn env(spec: &EnvCheck, place: &str, default_namespace: &str) -> Result<Check> {
    let target = workload(&format!("{place}.workload"), &spec.workload)?;
    let source = match (&spec.config_map, &spec.secret) {
        (Some(cm), None) => Source::ConfigMap(name(&format!("{place}.configMap"), cm)?),
        (None, Some(secret)) => Source::Secret(name(&format!("{place}.secret"), secret)?),
        _ => return Err(bad(place, "give exactly one of configMap, secret")),
    };
    if spec.variables.is_empty() {
        return Err(bad(&format!("{place}.variables"), "missing: the variables to look for"));
    }
    for (i, variable) in spec.variables.iter().enumerate() {
        if variable.is_empty() || variable.chars().any(|c| c.is_control() || c == '=' || c.is_whitespace()) {
            return Err(bad(&format!("{place}.variables[{i}]"), format!("{variable:?} is not a variable name")));
        }
    }
    Ok(Check::Env { namespace: namespace(place, &spec.namespace, default_namespace)?, target, source, variables: spec.variables.clone() })
}

fn container(place: &str, given: &Option<String>) -> Result<Option<String>> {
    if let Some(c) = given {
        name(&format!("{place}.container"), c)?;
    }
    Ok(given.clone())
}

fn dns(spec: &DnsCheck, place: &str, default_namespace: &str) -> Result<Check> {
    let from = workload(&format!("{place}.from"), &spec.from)?;
    // A DNS name: labels of a-z, 0-9 and '-', dot-separated (`db`, `db.data.svc.cluster.local`).
    let service = spec.service.trim_end_matches('.');
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    if service.is_empty() || service.len() > 253 || !service.split('.').all(label_ok) {
        return Err(bad(&format!("{place}.service"), format!("{:?} is not a DNS name (a Service name, or NAME.NAMESPACE…)", spec.service)));
    }
    if spec.port == 0 {
        return Err(bad(&format!("{place}.port"), "0 is not a port"));
    }
    Ok(Check::Dns {
        namespace: namespace(place, &spec.namespace, default_namespace)?,
        from,
        container: container(place, &spec.container)?,
        service: service.to_string(),
        port: spec.port,
    })
}

fn persistence(spec: &PersistenceCheck, place: &str, default_namespace: &str) -> Result<Check> {
    let target = workload(&format!("{place}.workload"), &spec.workload)?;
    if matches!(target, Target::Pod(_)) {
        return Err(bad(&format!("{place}.workload"), "a pod is not replaced when deleted: name its workload (sts/NAME, deploy/NAME)"));
    }
    let path = spec.path.trim_end_matches('/');
    if !spec.path.starts_with('/') || path.is_empty() || path.split('/').any(|part| part == "..") || path.chars().any(char::is_control) {
        return Err(bad(&format!("{place}.path"), format!("{:?}: an absolute directory on the volume (its mount path or below), without ..", spec.path)));
    }
    Ok(Check::Persistence {
        namespace: namespace(place, &spec.namespace, default_namespace)?,
        target,
        container: container(place, &spec.container)?,
        path: path.to_string(),
        across_recreate: spec.across_recreate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(yaml: &str) -> Stack {
        serde_saphyr::from_str(yaml).unwrap()
    }

    fn plan(stack: &Stack, file: &str) -> Vec<Planned> {
        plan_stack(stack, "s", file)
    }

    fn error(yaml: &str) -> String {
        let planned = plan(&stack(yaml), "kdeck.yaml");
        let message = refuse(&planned).unwrap_err().message;
        // After `kdeck.yaml:LINE:COLUMN: `.
        message.splitn(4, ':').nth(3).unwrap_or_default().trim_start().to_string()
    }

    #[test]
    fn checks_are_planned_with_defaults() {
        let planned = plan(
            &stack(
                "deploy: [{namespace: shop, manifests: [a.yaml]}]\nverify:\n  - {name: web, http: {service: web, port: 80}}\n  - {name: db, timeout: 5s, postgres: {workload: sts/pg, namespace: data, port: 5432}}\n",
            ),
            "kdeck.yaml",
        );
        assert_eq!(planned.len(), 3, "with the default secret hygiene check");
        assert_eq!((planned[2].name.as_str(), planned[2].kind), (HYGIENE_NAME, "secretHygiene"));
        match &planned[0].check {
            Check::Proxy { namespace, path, expect, .. } => assert_eq!((namespace.as_str(), path.as_str(), expect.status), ("shop", "/", 200)),
            other => panic!("{other:?}"),
        }
        assert_eq!(planned[1].timeout, Some(Duration::from_secs(5)));
        assert_eq!(planned[1].kind, "postgres");
    }

    #[test]
    fn bad_checks_name_their_place() {
        assert_eq!(error("verify: [{name: a, http: {service: web}}]"), "stack.verify[0].http.port: missing: the Service port to ask");
        assert!(error("verify: [{name: a}, {name: b}]").starts_with("stack.verify[0]: check \"a\" has no kind"));
        assert!(error("verify: [{name: a, tcp: {port: 1, service: x}, redis: {port: 2, service: x}}]").contains("several kinds (tcp, redis)"));
        assert!(error("verify: [{name: a, tcp: {port: 1}}]").contains("exactly one of service, pod, workload"));
        assert!(error("verify: [{name: a, http: {url: 'ftp://x'}}]").starts_with("stack.verify[0].http.url:"));
        assert!(error("verify: [{name: a, http: {url: 'http://x', insecure: true}}]").starts_with("stack.verify[0].http.insecure:"));
        assert!(error("verify: [{name: a, http: {service: Web_1, port: 80}}]").starts_with("stack.verify[0].http.service:"));
        assert!(
            error("verify: [{name: a, http: {service: web, port: 80, expect: {jsonPath: {'{.a[': x}}}}]").starts_with("stack.verify[0].http.expect.jsonPath:")
        );
        assert!(error("verify: [{name: a, exec: {workload: api, command: [true]}}]").starts_with("stack.verify[0].exec.workload:"));
        assert!(error("verify: [{name: a, timeout: soon, env: {workload: deploy/a, configMap: c, variables: [X]}}]").starts_with("stack.verify[0].timeout:"));
        assert!(error("verify: [{name: a, tcp: {port: 1, pod: p, passwordSecret: {name: s, key: k}}}]").contains("only postgres and redis"));
        assert!(error("verify: [{name: a, redis: {port: 1, pod: p, user: admin}}]").starts_with("stack.verify[0].redis.user: only postgres checks log in"));
        assert!(error("verify: [{name: a, postgres: {port: 1, pod: p, database: ''}}]").starts_with("stack.verify[0].postgres.database:"));
        assert!(error("verify: [{name: a, tcp: {port: 1, pod: p}}, {name: a, tcp: {port: 2, pod: p}}]").starts_with("stack.verify[1].name:"));
        assert!(error("verify: [{name: a, dns: {from: deploy/a, service: Bad_Name, port: 80}}]").starts_with("stack.verify[0].dns.service:"));
        assert!(error("verify: [{name: a, persistence: {workload: pod/p, path: /data}}]").contains("a pod is not replaced"));
        assert!(error("verify: [{name: a, persistence: {workload: sts/p, path: data}}]").starts_with("stack.verify[0].persistence.path:"));
    }

    #[test]
    fn bad_entries_become_failing_checks_and_the_others_stay() {
        let planned = plan(&stack("verify:\n  - {name: a, tcp: {port: 1, pod: p}}\n  - name: b\n    dns: {from: deploy/web}\n"), "kdeck.yaml");
        assert_eq!(planned.len(), 3);
        assert!(matches!(planned[0].check, Check::Port { .. }));
        match &planned[1].check {
            Check::Invalid { message } => assert_eq!(message, "kdeck.yaml:4:10: stack.verify[1].dns: missing key `service`"),
            other => panic!("{other:?}"),
        }
        assert!(refuse(&planned).is_err());
        let planned = plan(&stack("verify:\n  - name: a\n    http: {service: web}\n"), "kdeck.yaml");
        assert!(
            matches!(&planned[0].check, Check::Invalid { message } if message == "kdeck.yaml:3:11: stack.verify[0].http.port: missing: the Service port to ask")
        );
    }

    #[test]
    fn secret_hygiene_is_configured_or_disabled_by_its_entry() {
        let planned = plan(&stack("verify: [{name: a, tcp: {port: 1, pod: p}}, {name: h, secretHygiene: {enabled: false}}]"), "kdeck.yaml");
        assert_eq!(planned.len(), 1);
        let planned = plan(&stack("verify: [{name: h, secretHygiene: {limits: false, logLines: 50}}]"), "kdeck.yaml");
        match &planned[..] {
            [Planned { check: Check::Hygiene(scope), .. }] => {
                assert_eq!((scope.non_root, scope.limits, scope.log_lines, scope.stack.as_str()), (true, false, 50, "s"))
            }
            other => panic!("{other:?}"),
        }
        assert!(plan(&stack("verify: []"), "kdeck.yaml").is_empty());
    }
}
