//! kube-webhook-certgen (`registry.k8s.io/ingress-nginx/kube-webhook-certgen`:
//! the admission Jobs of ingress-nginx and of many charts). A simulated container
//! of that image does, as it exits, what the real tool does to the cluster:
//!
//! - `create --host=A,B --namespace=NS --secret-name=S [--cert-name=cert]
//!   [--key-name=key]`: unless Secret NS/S exists, a new CA and a serving
//!   certificate for the hosts, stored in it as `ca`, `cert` and `key`;
//! - `patch --webhook-name=W --namespace=NS --secret-name=S [--patch-validating]
//!   [--patch-mutating] [--patch-failure-policy=Fail|Ignore]`: the CA of that
//!   Secret put in the `caBundle` of every webhook of the Validating (and/or
//!   Mutating) WebhookConfiguration W, with the failure policy when given.
//!
//! What the real tool ends with `log.Fatal` ends the container with exit code 1
//! and that message (the Job's pod then restarts, as `restartPolicy: OnFailure`
//! says, and tries again). The sandbox calls no admission webhook: the
//! configurations are stored, and patched here, as a cluster's are.

use base64::Engine;
use serde_json::{Value, json};

use crate::rest::{Rest, Subresource, WriteOptions};

const TOOL: &str = "kube-webhook-certgen";

/// Whether `image` is kube-webhook-certgen (any registry, tag or digest).
pub fn is_certgen(image: &str) -> bool {
    let path = image.split('@').next().unwrap_or(image);
    let last = path.rsplit('/').next().unwrap_or(path);
    last.split(':').next() == Some(TOOL)
}

/// What the run of `container` of `pod` did to the cluster, if its image is
/// kube-webhook-certgen: Ok, or the message it ended with.
pub fn run(rest: &Rest, pod: &Value, container: &str) -> Option<Result<(), String>> {
    let spec = pod["spec"]["containers"].as_array()?.iter().find(|c| c["name"] == container)?;
    if !is_certgen(spec["image"].as_str().unwrap_or_default()) {
        return None;
    }
    let env = super::env::resolve(rest, pod, spec).unwrap_or_default();
    let word = |v: &Value| super::env::expand(v.as_str().unwrap_or_default(), &env);
    let mut words: Vec<String> = spec["command"].as_array().into_iter().flatten().chain(spec["args"].as_array().into_iter().flatten()).map(word).collect();
    // The image's entrypoint is the tool; a command naming it is the same.
    if words.first().is_some_and(|w| w.ends_with(TOOL)) {
        words.remove(0);
    }
    Some(execute(rest, &words).map_err(|message| json!({"level": "fatal", "msg": message}).to_string()))
}

/// The tool's flags: `--name=value` or `--name value` (`--name` alone: true).
struct Flags(Vec<(String, String)>);

impl Flags {
    fn parse(words: &[String]) -> Result<Flags, String> {
        let mut out = Vec::new();
        let mut rest = words.iter().peekable();
        while let Some(word) = rest.next() {
            let Some(flag) = word.strip_prefix("--") else { return Err(format!("unexpected argument {word:?}")) };
            match flag.split_once('=') {
                Some((name, value)) => out.push((name.to_string(), value.to_string())),
                None if BOOLEANS.contains(&flag) => out.push((flag.to_string(), "true".into())),
                None => match rest.next() {
                    Some(value) => out.push((flag.to_string(), value.clone())),
                    None => return Err(format!("flag needs an argument: --{flag}")),
                },
            }
        }
        Ok(Flags(out))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }

    fn required(&self, name: &str) -> Result<&str, String> {
        self.get(name).ok_or_else(|| format!("required flag(s) \"{name}\" not set"))
    }

    fn boolean(&self, name: &str, default: bool) -> Result<bool, String> {
        match self.get(name) {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => Err(format!("invalid argument {other:?} for \"--{name}\" flag: strconv.ParseBool: parsing {other:?}: invalid syntax")),
        }
    }
}

const BOOLEANS: &[&str] = &["patch-validating", "patch-mutating"];

fn execute(rest: &Rest, words: &[String]) -> Result<(), String> {
    let Some((command, flags)) = words.split_first() else { return Err("no command: create or patch".into()) };
    let flags = Flags::parse(flags)?;
    match command.as_str() {
        "create" => create(rest, &flags),
        "patch" => patch(rest, &flags),
        other => Err(format!("unknown command {other:?} for \"{TOOL}\"")),
    }
}

/// The `ca` of Secret `namespace/name`: None when there is no such Secret (one
/// without a `ca` is an error, as the tool says).
fn ca_of(rest: &Rest, namespace: &str, name: &str) -> Result<Option<String>, String> {
    let info = rest.catalogue.find("", "v1", "secrets").ok_or("secrets are not served")?;
    let Ok(secret) = rest.get(&info, Some(namespace), name) else { return Ok(None) };
    match secret["data"]["ca"].as_str() {
        Some(ca) => Ok(Some(ca.to_string())),
        None => Err("got secret, but it did not contain a 'ca' key".into()),
    }
}

fn create(rest: &Rest, flags: &Flags) -> Result<(), String> {
    let host = flags.required("host")?;
    let name = flags.required("secret-name")?;
    let namespace = flags.required("namespace")?;
    if ca_of(rest, namespace, name)?.is_some() {
        return Ok(());
    }
    let hosts: Vec<String> = host.split(',').map(str::to_string).collect();
    let (ca, cert, key) = crate::tls::Certificates::issue_for(&hosts).map_err(|e| format!("failed createCertificate: {e}"))?;
    let b64 = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    let mut data = serde_json::Map::new();
    data.insert("ca".into(), json!(b64(&ca)));
    data.insert(flags.get("cert-name").unwrap_or("cert").into(), json!(b64(&cert)));
    data.insert(flags.get("key-name").unwrap_or("key").into(), json!(b64(&key)));
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace}, "data": data});
    let info = rest.catalogue.find("", "v1", "secrets").ok_or("secrets are not served")?;
    rest.create(&info, Some(namespace), secret, &WriteOptions::default()).map(|_| ()).map_err(|e| format!("failed creating secret: {e}"))
}

fn patch(rest: &Rest, flags: &Flags) -> Result<(), String> {
    let name = flags.required("secret-name")?;
    let namespace = flags.required("namespace")?;
    let validating = flags.boolean("patch-validating", true)?;
    let mutating = flags.boolean("patch-mutating", true)?;
    if !validating && !mutating {
        return Err("patch-validating=false, patch-mutating=false. You must patch at least one kind of webhook, otherwise this command is a no-op".into());
    }
    let policy = match flags.get("patch-failure-policy") {
        None => None,
        Some(p @ ("Fail" | "Ignore")) => Some(p),
        Some(other) => return Err(format!("patch-failure-policy {other} is not valid")),
    };
    let Some(ca) = ca_of(rest, namespace, name)? else { return Err(format!("no secret with '{name}' in '{namespace}'")) };
    let webhook = flags.get("webhook-name").unwrap_or_default();
    for (wanted, resource, what) in [(validating, "validatingwebhookconfigurations", "validating"), (mutating, "mutatingwebhookconfigurations", "mutating")] {
        if !wanted {
            continue;
        }
        let info = rest.catalogue.find("admissionregistration.k8s.io", "v1", resource).ok_or(format!("{resource} are not served"))?;
        let mut config = rest.get(&info, None, webhook).map_err(|e| format!("failed getting {what} webhook: {e}"))?;
        for hook in config["webhooks"].as_array_mut().into_iter().flatten() {
            hook["clientConfig"]["caBundle"] = json!(ca);
            if let Some(policy) = policy {
                hook["failurePolicy"] = json!(policy);
            }
        }
        rest.update(&info, None, webhook, config, Subresource::Main, &WriteOptions::default()).map_err(|e| format!("failed patching {what} webhook: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_is_known_by_its_name() {
        assert!(is_certgen(
            "registry.k8s.io/ingress-nginx/kube-webhook-certgen:v1.6.9@sha256:01038e7de14b78d702d2849c3aad72fd25903c4765af63cf16aa3398f5d5f2dd"
        ));
        assert!(is_certgen("kube-webhook-certgen"));
        assert!(!is_certgen("registry.k8s.io/ingress-nginx/controller:v1.15.1"));
        assert!(!is_certgen("example.com/kube-webhook-certgen-fork:1"));
    }

    #[test]
    fn flags_parse_as_cobra_reads_them() {
        let words: Vec<String> = ["--host=a,b", "--namespace", "ns", "--patch-mutating=false", "--patch-validating"].map(String::from).to_vec();
        let flags = Flags::parse(&words).unwrap();
        assert_eq!(flags.get("host"), Some("a,b"));
        assert_eq!(flags.get("namespace"), Some("ns"));
        assert_eq!(flags.boolean("patch-mutating", true), Ok(false));
        assert_eq!(flags.boolean("patch-validating", false), Ok(true));
        assert_eq!(flags.required("secret-name").unwrap_err(), "required flag(s) \"secret-name\" not set");
        assert!(Flags::parse(&["--namespace".to_string()]).is_err());
        assert!(Flags::parse(&["stray".to_string()]).is_err());
    }
}
