//! `stack.verify` checked before anything runs: exactly one kind per check, the
//! fields that kind needs, names that are valid Kubernetes names, durations that
//! parse. Each error names its place (`stack.verify[2].http.port`).

use std::time::Duration;

use crate::cluster::names;
use crate::cluster::target::{Target, Workload};
use crate::error::{Error, Result};
use crate::project::stack::{EnvCheck, ExecCheck, HttpCheck, PortCheck, SecretKey, Stack, VerifyCheck};

/// The default timeout of one check.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// One check, ready to run.
#[derive(Clone, Debug)]
pub struct Planned {
    pub name: String,
    /// `http`, `tcp`, `postgres`, `redis`, `exec`, `env`.
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
    /// A plain `http://` URL (`${stack:ingress}` not yet expanded).
    Url {
        url: String,
        host: Option<String>,
        expect: Expect,
    },
    Port {
        protocol: Protocol,
        namespace: String,
        target: Target,
        port: u16,
        password: Option<SecretKey>,
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
}

fn bad(place: &str, what: impl std::fmt::Display) -> Error {
    Error::usage(format!("{place}: {what}")).hint("see the README's `stack.verify` reference")
}

/// Every check of `stack`, validated. `default_namespace`: the namespace of checks that name none.
pub fn plan(stack: &Stack) -> Result<Vec<Planned>> {
    let default_namespace = stack.deploy.iter().find_map(|s| s.namespace.clone()).unwrap_or_else(|| "default".into());
    let mut planned: Vec<Planned> = Vec::new();
    for (index, check) in stack.verify.iter().enumerate() {
        let place = format!("stack.verify[{index}]");
        let one = plan_one(check, &place, &default_namespace)?;
        if planned.iter().any(|p| p.name == one.name) {
            return Err(bad(&format!("{place}.name"), format!("{:?} is used by another check; names must be unique", one.name)));
        }
        planned.push(one);
    }
    Ok(planned)
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
    ]
    .into_iter()
    .filter_map(|(k, set)| set.then_some(k))
    .collect();
    let kind = match kinds.as_slice() {
        [one] => *one,
        [] => return Err(bad(place, format!("check {:?} has no kind: give one of http, tcp, postgres, redis, exec, env", check.name))),
        many => return Err(bad(place, format!("check {:?} has several kinds ({}); give exactly one per check", check.name, many.join(", ")))),
    };
    let here = format!("{place}.{kind}");
    let check_kind = match kind {
        "http" => http(check.http.as_ref().unwrap_or(&HttpCheck::default()), &here, default_namespace)?,
        "exec" => exec(check.exec.as_ref().unwrap_or(&ExecCheck::default()), &here, default_namespace)?,
        "env" => env(check.env.as_ref().unwrap_or(&EnvCheck::default()), &here, default_namespace)?,
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
    };
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
            if !probe.starts_with("http://") {
                return Err(bad(&format!("{place}.url"), format!("{url:?}: only plain http:// URLs (or ${{stack:ingress}}…) are checked for now")));
            }
            if let Some(host) = &spec.host
                && (host.is_empty() || host.chars().any(|c| c.is_control() || c.is_whitespace()))
            {
                return Err(bad(&format!("{place}.host"), format!("{host:?} is not a host name")));
            }
            Ok(Check::Url { url: url.clone(), host: spec.host.clone(), expect })
        }
        (None, Some(service)) => {
            if spec.host.is_some() {
                return Err(bad(&format!("{place}.host"), "only with url: the API's service proxy sends its own Host header"));
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
        if protocol != Protocol::Redis {
            return Err(bad(&format!("{place}.passwordSecret"), "only redis checks take a password (for now)"));
        }
        name(&format!("{place}.passwordSecret.name"), &secret.name)?;
        if secret.key.is_empty() {
            return Err(bad(&format!("{place}.passwordSecret.key"), "missing"));
        }
    }
    Ok(Check::Port {
        protocol,
        namespace: namespace(place, &spec.namespace, default_namespace)?,
        target,
        port: spec.port,
        password: spec.password_secret.clone(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(yaml: &str) -> Stack {
        serde_saphyr::from_str(yaml).unwrap()
    }

    fn error(yaml: &str) -> String {
        plan(&stack(yaml)).unwrap_err().message
    }

    #[test]
    fn checks_are_planned_with_defaults() {
        let planned = plan(&stack(
            "deploy: [{namespace: shop, manifests: [a.yaml]}]\nverify:\n  - {name: web, http: {service: web, port: 80}}\n  - {name: db, timeout: 5s, postgres: {workload: sts/pg, namespace: data, port: 5432}}\n",
        ))
        .unwrap();
        assert_eq!(planned.len(), 2);
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
        assert!(error("verify: [{name: a, http: {url: 'https://x'}}]").starts_with("stack.verify[0].http.url:"));
        assert!(error("verify: [{name: a, http: {service: Web_1, port: 80}}]").starts_with("stack.verify[0].http.service:"));
        assert!(error("verify: [{name: a, exec: {workload: api, command: [true]}}]").starts_with("stack.verify[0].exec.workload:"));
        assert!(error("verify: [{name: a, timeout: soon, env: {workload: deploy/a, configMap: c, variables: [X]}}]").starts_with("stack.verify[0].timeout:"));
        assert!(error("verify: [{name: a, tcp: {port: 1, pod: p, passwordSecret: {name: s, key: k}}}]").contains("only redis"));
        assert!(error("verify: [{name: a, tcp: {port: 1, pod: p}}, {name: a, tcp: {port: 2, pod: p}}]").starts_with("stack.verify[1].name:"));
    }
}
