//! Fault injection for reliability tests: a spec such as
//! `seed=42,429=0.2:1s,500=0.1,slow=0.3:800ms,drop=0.05,watch-cut=0.5:2s,only=pods`
//! makes the API server answer some requests with 429 (and `Retry-After`), 500 or
//! 503, delay them, close their connection without an answer, or end their watch
//! streams early (quietly, or with a 410 Expired ERROR event).
//!
//! Which request gets which fault is a pure function of the seed and the request's
//! number: requests that may be faulted are counted from 0 (the count restarts
//! whenever a spec is set), so a client that sends its requests one at a time sees
//! the same faults on every run with the same seed.
//!
//! Never faulted: `/healthz`, `/livez`, `/readyz`, `/version`, discovery (`/api`,
//! `/apis`, `/openapi`), the sandbox's own `/kdeck/...` endpoints, exec and attach,
//! and requests refused before they reach a resource (401, 403, 404 paths).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use http::{HeaderValue, Response};
use serde_json::json;

use crate::api::body::{Body, error_response, full};
use crate::rest::ApiError;

/// The kinds of fault, as written in a spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `429`: 429 TooManyRequests with `Retry-After` (the argument, default 1s).
    TooManyRequests,
    /// `500`: 500 InternalError.
    InternalError,
    /// `503`: 503 ServiceUnavailable.
    ServiceUnavailable,
    /// `403`: 403 Forbidden, as to credentials without the right (namespace-scoped RBAC).
    Forbidden,
    /// `slow`: the request is handled after a delay (the argument, default 1s).
    Slow,
    /// `drop`: the connection is closed without an answer.
    Drop,
    /// `watch-cut`: a watch stream ends without an error after the argument (default 1s).
    WatchCut,
    /// `watch-410`: a watch stream sends an ERROR event with a 410 Expired Status and
    /// ends, after the argument (default 0s: at once).
    WatchExpired,
}

impl Kind {
    pub const ALL: [Kind; 8] =
        [Kind::TooManyRequests, Kind::InternalError, Kind::ServiceUnavailable, Kind::Forbidden, Kind::Slow, Kind::Drop, Kind::WatchCut, Kind::WatchExpired];

    pub fn name(self) -> &'static str {
        match self {
            Kind::TooManyRequests => "429",
            Kind::InternalError => "500",
            Kind::ServiceUnavailable => "503",
            Kind::Forbidden => "403",
            Kind::Slow => "slow",
            Kind::Drop => "drop",
            Kind::WatchCut => "watch-cut",
            Kind::WatchExpired => "watch-410",
        }
    }

    fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The argument's default for the kinds that take one.
    fn default_arg(self) -> Option<Duration> {
        match self {
            Kind::TooManyRequests | Kind::Slow | Kind::WatchCut => Some(Duration::from_secs(1)),
            Kind::WatchExpired => Some(Duration::ZERO),
            Kind::InternalError | Kind::ServiceUnavailable | Kind::Forbidden | Kind::Drop => None,
        }
    }

    /// Kinds of one group share the same requests: one draw picks at most one of them,
    /// so their rates must add up to at most 1.
    fn group(self) -> Group {
        match self {
            Kind::TooManyRequests | Kind::InternalError | Kind::ServiceUnavailable | Kind::Forbidden | Kind::Drop => Group::Response,
            Kind::Slow => Group::Slow,
            Kind::WatchCut | Kind::WatchExpired => Group::Watch,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Group {
    Response = 0,
    Slow = 1,
    Watch = 2,
}

/// The verbs `verbs=` accepts.
pub const VERBS: [&str; 8] = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"];
const OPTIONS: [&str; 3] = ["seed", "only", "verbs"];

/// One fault of a spec: its kind, rate (0 to 1) and argument (for the kinds that take one).
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub kind: Kind,
    pub rate: f64,
    pub arg: Option<Duration>,
}

/// A parsed fault spec. `Display` writes it back in the spec syntax, with every
/// default filled in.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultSpec {
    pub seed: u64,
    /// In the order given; within a group, earlier rules take the lower part of the draw.
    pub rules: Vec<Rule>,
    /// Resource plurals the faults are limited to; empty: all resources.
    pub only: Vec<String>,
    /// Verbs the faults are limited to; empty: all verbs.
    pub verbs: Vec<String>,
}

/// A spec that does not parse: the message names the item and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("fault spec {spec:?}: {}{message}", item.as_ref().map(|(n, text)| format!("item {n} ({text:?}): ")).unwrap_or_default())]
pub struct SpecError {
    pub spec: String,
    /// The 1-based position and text of the item at fault, if one is.
    pub item: Option<(usize, String)>,
    pub message: String,
}

impl FaultSpec {
    /// Parses comma-separated `KIND=RATE[:ARG]` items and `seed=N`, `only=R[+R…]`,
    /// `verbs=V[+V…]` options.
    pub fn parse(text: &str) -> Result<FaultSpec, SpecError> {
        let whole = |message: String| SpecError { spec: text.to_string(), item: None, message };
        if text.trim().is_empty() {
            return Err(whole(format!("is empty; give at least one fault, e.g. 503=0.1 (kinds: {})", kind_names())));
        }
        let mut spec = FaultSpec { seed: 0, rules: Vec::new(), only: Vec::new(), verbs: Vec::new() };
        let mut seen: Vec<(&str, usize)> = Vec::new();
        for (i, raw) in text.split(',').enumerate() {
            let item = raw.trim();
            let at = |message: String| SpecError { spec: text.to_string(), item: Some((i + 1, item.to_string())), message };
            if item.is_empty() {
                return Err(at("is empty (two commas in a row, or one at the end?)".into()));
            }
            let Some((key, value)) = item.split_once('=').map(|(k, v)| (k.trim(), v.trim())) else {
                return Err(at("expected KIND=RATE[:ARG] or OPTION=VALUE".into()));
            };
            let kind = Kind::from_name(key);
            if kind.is_none() && !OPTIONS.contains(&key) {
                return Err(at(format!("unknown fault kind {key:?}; known kinds: {}; options: {}", kind_names(), OPTIONS.join(", "))));
            }
            if let Some((_, first)) = seen.iter().find(|(k, _)| *k == key) {
                return Err(at(format!("{key} is given twice (also item {first})")));
            }
            seen.push((key, i + 1));
            match (kind, key) {
                (Some(kind), _) => spec.rules.push(parse_rule(kind, value).map_err(at)?),
                (None, "seed") => spec.seed = value.parse().map_err(|_| at(format!("seed must be a whole number from 0 to {}, got {value:?}", u64::MAX)))?,
                (None, "only") => spec.only = parse_list(value, "resource", |r| is_resource_name(r).then_some(())).map_err(at)?,
                (None, _) => spec.verbs = parse_list(value, "verb", |v| VERBS.contains(&v).then_some(())).map_err(at)?,
            }
        }
        if spec.rules.is_empty() {
            return Err(whole(format!("names no fault; give at least one of: {}", kind_names())));
        }
        for group in [Group::Response, Group::Watch] {
            let rules: Vec<&Rule> = spec.rules.iter().filter(|r| r.kind.group() == group).collect();
            let sum: f64 = rules.iter().map(|r| r.rate).sum();
            if sum > 1.0 + 1e-9 {
                let names: Vec<&str> = rules.iter().map(|r| r.kind.name()).collect();
                return Err(whole(format!(
                    "the rates of {} add up to {}, more than 1 (each request gets at most one of them)",
                    names.join(" and "),
                    (sum * 1e6).round() / 1e6
                )));
            }
        }
        Ok(spec)
    }

    /// Whether requests for `resource` (a plural) with `verb` may be faulted.
    pub fn applies(&self, resource: &str, verb: &str) -> bool {
        (self.only.is_empty() || self.only.iter().any(|r| r == resource)) && (self.verbs.is_empty() || self.verbs.iter().any(|v| v == verb))
    }

    /// The faults of the `n`-th faultable request (counted from 0): a pure function of
    /// the seed, `n` and the verb.
    /// The faults of the n-th faultable request; `stream` says it is a watch or a
    /// followed log, which alone can get the stream faults.
    pub fn decide(&self, n: u64, stream: bool) -> Decision {
        let pick = |group: Group| {
            let draw = unit(self.seed, n, group as u64);
            let mut upper = 0.0;
            self.rules.iter().filter(|r| r.kind.group() == group).find(|r| {
                upper += r.rate;
                draw < upper
            })
        };
        let delay = pick(Group::Slow).and_then(|r| r.arg);
        let mut fault = pick(Group::Response);
        if fault.is_none() && stream {
            fault = pick(Group::Watch);
        }
        let fault = fault.map(|r| {
            let arg = r.arg.unwrap_or_default();
            match r.kind {
                Kind::TooManyRequests => Fault::TooManyRequests { retry_after: arg },
                Kind::InternalError => Fault::InternalError,
                Kind::ServiceUnavailable => Fault::ServiceUnavailable,
                Kind::Forbidden => Fault::Forbidden,
                Kind::Drop => Fault::Drop,
                Kind::WatchCut => Fault::Watch(WatchFault::Cut { after: arg }),
                // (slow is its own group and never picked here)
                Kind::WatchExpired | Kind::Slow => Fault::Watch(WatchFault::Expired { after: arg }),
            }
        });
        Decision { delay, fault }
    }
}

fn parse_rule(kind: Kind, value: &str) -> Result<Rule, String> {
    let (rate_text, arg_text) = match value.split_once(':') {
        Some((r, a)) => (r.trim(), Some(a.trim())),
        None => (value, None),
    };
    let rate = rate_text
        .parse::<f64>()
        .ok()
        .filter(|r| (0.0..=1.0).contains(r))
        .ok_or_else(|| format!("rate {rate_text:?} is not a number from 0 to 1 (the share of requests that get the fault)"))?;
    let arg = match (arg_text, kind.default_arg()) {
        (Some(a), None) => return Err(format!("{} takes no argument, got \":{a}\"", kind.name())),
        (Some(a), Some(_)) => Some(parse_duration(a)?),
        (None, default) => default,
    };
    Ok(Rule { kind, rate, arg })
}

/// `800ms`, `2s`, `1.5s`, `1m`; kept to the millisecond.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("bad duration {text:?}: use a number with ms, s or m, e.g. 800ms or 2s");
    let (number, unit_ms) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1e3)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60e3)
    } else {
        return Err(bad());
    };
    if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(bad());
    }
    let ms = number.parse::<f64>().map_err(|_| bad())? * unit_ms;
    if !(0.0..=86_400e3).contains(&ms) {
        return Err(format!("duration {text:?} is longer than a day"));
    }
    Ok(Duration::from_millis(ms.round() as u64))
}

fn parse_list(value: &str, what: &str, check: impl Fn(&str) -> Option<()>) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for part in value.split('+').map(str::trim) {
        if part.is_empty() {
            return Err(format!("an empty {what} name; separate several with +"));
        }
        if check(part).is_none() {
            return Err(if what == "verb" {
                format!("unknown verb {part:?}; known verbs: {}", VERBS.join(", "))
            } else {
                format!("{part:?} is not a resource name (a plural such as pods or configmaps)")
            });
        }
        out.push(part.to_string());
    }
    Ok(out)
}

fn is_resource_name(name: &str) -> bool {
    name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
}

fn kind_names() -> String {
    Kind::ALL.map(Kind::name).join(", ")
}

fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) { format!("{}s", ms / 1000) } else { format!("{ms}ms") }
}

impl fmt::Display for FaultSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seed={}", self.seed)?;
        for rule in &self.rules {
            write!(f, ",{}={}", rule.kind.name(), rule.rate)?;
            if let Some(arg) = rule.arg {
                write!(f, ":{}", format_duration(arg))?;
            }
        }
        if !self.only.is_empty() {
            write!(f, ",only={}", self.only.join("+"))?;
        }
        if !self.verbs.is_empty() {
            write!(f, ",verbs={}", self.verbs.join("+"))?;
        }
        Ok(())
    }
}

/// splitmix64's finaliser: a well-mixed 64-bit hash.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A number in [0, 1) drawn from (seed, request number, group).
fn unit(seed: u64, n: u64, stream: u64) -> f64 {
    let h = mix(mix(mix(seed) ^ n) ^ stream);
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// What happens to one request.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Decision {
    /// Handle it after this delay (`slow`).
    pub delay: Option<Duration>,
    pub fault: Option<Fault>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fault {
    TooManyRequests { retry_after: Duration },
    InternalError,
    ServiceUnavailable,
    Forbidden,
    Drop,
    Watch(WatchFault),
}

/// How a watch stream is ended early.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum WatchFault {
    /// The stream ends after this time, with no error event.
    Cut { after: Duration },
    /// After this time the stream sends an ERROR event with a 410 Expired Status and ends.
    Expired { after: Duration },
}

/// The faults a running sandbox injects, replaceable at any time; cheap to clone
/// (clones share the spec).
#[derive(Clone, Default)]
pub struct Faults(Arc<RwLock<Option<Arc<Plan>>>>);

struct Plan {
    spec: FaultSpec,
    /// How many faultable requests came since the spec was set.
    requests: AtomicU64,
}

impl Faults {
    /// Sets (or with `None` clears) the spec, restarting the request count, and
    /// says so on stderr (the sandbox's log).
    pub fn set(&self, spec: Option<FaultSpec>) {
        match &spec {
            Some(spec) => eprintln!("kdeck sandbox: injecting faults: {spec}"),
            None if self.spec().is_some() => eprintln!("kdeck sandbox: no longer injecting faults"),
            None => {}
        }
        let plan = spec.map(|spec| Arc::new(Plan { spec, requests: AtomicU64::new(0) }));
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = plan;
    }

    pub fn spec(&self) -> Option<FaultSpec> {
        self.plan().map(|p| p.spec.clone())
    }

    fn plan(&self) -> Option<Arc<Plan>> {
        self.0.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The faults of the next request for `resource` (a plural) with `verb`.
    pub fn decide(&self, resource: &str, verb: &str, stream: bool) -> Decision {
        match self.plan() {
            Some(plan) if plan.spec.applies(resource, verb) => plan.spec.decide(plan.requests.fetch_add(1, Ordering::Relaxed), stream),
            _ => Decision::default(),
        }
    }

    /// Runs the faults of a request before it is handled: waits out a delay, then
    /// either answers for it (`Err`, a response to send as is) or lets it through
    /// with the watch fault it gets, if any.
    pub(crate) async fn before(&self, resource: &str, verb: &str, stream: bool) -> Result<Option<WatchFault>, Response<Body>> {
        let decision = self.decide(resource, verb, stream);
        if let Some(delay) = decision.delay {
            tokio::time::sleep(delay).await;
        }
        match decision.fault {
            None => Ok(None),
            Some(Fault::Watch(w)) => Ok(Some(w)),
            Some(Fault::Drop) => {
                let mut resp = Response::new(full(bytes::Bytes::new()));
                resp.extensions_mut().insert(DropConnection);
                Err(resp)
            }
            Some(Fault::TooManyRequests { retry_after }) => {
                let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                let mut err = ApiError::new(429, "TooManyRequests", "Too many requests, please try again later. (fault injected by kdeck sandbox)");
                err.details = Some(json!({"retryAfterSeconds": seconds}));
                let mut resp = error_response(&err);
                resp.headers_mut().insert(http::header::RETRY_AFTER, HeaderValue::from(seconds));
                Err(resp)
            }
            Some(Fault::InternalError) => Err(error_response(&ApiError::internal("Internal error occurred: fault injected by kdeck sandbox"))),
            Some(Fault::Forbidden) => Err(error_response(&ApiError::forbidden("forbidden: the request is refused (fault injected by kdeck sandbox)"))),
            Some(Fault::ServiceUnavailable) => Err(error_response(&ApiError::new(
                503,
                "ServiceUnavailable",
                "the server is currently unable to handle the request (fault injected by kdeck sandbox)",
            ))),
        }
    }
}

/// Marks a response that must not be sent: the server closes its connection instead.
#[derive(Clone, Copy, Debug)]
pub struct DropConnection;

/// Whether the server must close the connection instead of sending `resp`.
pub fn drops_connection<B>(resp: &Response<B>) -> bool {
    resp.extensions().get::<DropConnection>().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        FaultSpec::parse(text).unwrap_err().to_string()
    }

    #[test]
    fn parses_a_full_spec_and_writes_it_back() {
        let text = "seed=42, 429=0.2:1s,500=0.1,503=0.05,slow=0.3:800ms,drop=0.05,watch-cut=0.5:2s,watch-410=0.3,only=pods+configmaps,verbs=get+list+watch";
        let spec = FaultSpec::parse(text).unwrap();
        assert_eq!(spec.seed, 42);
        assert_eq!(spec.rules.len(), 7);
        assert_eq!(spec.rules[0], Rule { kind: Kind::TooManyRequests, rate: 0.2, arg: Some(Duration::from_secs(1)) });
        assert_eq!(spec.rules[3], Rule { kind: Kind::Slow, rate: 0.3, arg: Some(Duration::from_millis(800)) });
        assert_eq!(spec.rules[4], Rule { kind: Kind::Drop, rate: 0.05, arg: None });
        assert_eq!(spec.only, ["pods", "configmaps"]);
        assert_eq!(spec.verbs, ["get", "list", "watch"]);
        let written = spec.to_string();
        assert_eq!(
            written,
            "seed=42,429=0.2:1s,500=0.1,503=0.05,slow=0.3:800ms,drop=0.05,watch-cut=0.5:2s,watch-410=0.3:0s,only=pods+configmaps,verbs=get+list+watch"
        );
        assert_eq!(FaultSpec::parse(&written).unwrap(), spec);
    }

    #[test]
    fn fills_in_defaults() {
        let spec = FaultSpec::parse("429=1,slow=0.5,watch-cut=0.1,watch-410=0.1").unwrap();
        assert_eq!(spec.to_string(), "seed=0,429=1:1s,slow=0.5:1s,watch-cut=0.1:1s,watch-410=0.1:0s");
        assert_eq!(FaultSpec::parse("slow=1:1.5s").unwrap().rules[0].arg, Some(Duration::from_millis(1500)));
        assert_eq!(FaultSpec::parse("slow=1:2m").unwrap().rules[0].arg, Some(Duration::from_secs(120)));
    }

    #[test]
    fn bad_specs_say_where() {
        assert_eq!(
            err("seed=1,429=0.1,slo=0.1"),
            "fault spec \"seed=1,429=0.1,slo=0.1\": item 3 (\"slo=0.1\"): unknown fault kind \"slo\"; known kinds: 429, 500, 503, 403, slow, drop, watch-cut, watch-410; options: seed, only, verbs"
        );
        assert_eq!(
            err("500=1.5"),
            "fault spec \"500=1.5\": item 1 (\"500=1.5\"): rate \"1.5\" is not a number from 0 to 1 (the share of requests that get the fault)"
        );
        assert!(err("500=-0.1").contains("rate \"-0.1\" is not a number from 0 to 1"));
        assert!(err("500=NaN").contains("rate \"NaN\""));
        assert_eq!(
            err("slow=0.1:fast"),
            "fault spec \"slow=0.1:fast\": item 1 (\"slow=0.1:fast\"): bad duration \"fast\": use a number with ms, s or m, e.g. 800ms or 2s"
        );
        assert!(err("slow=0.1:10").contains("bad duration \"10\""));
        assert!(err("slow=0.1:-1s").contains("bad duration \"-1s\""));
        assert_eq!(err("429=0.1,500=0.1,429=0.2"), "fault spec \"429=0.1,500=0.1,429=0.2\": item 3 (\"429=0.2\"): 429 is given twice (also item 1)");
        assert!(err("seed=1,seed=2,500=1").contains("item 2 (\"seed=2\"): seed is given twice (also item 1)"));
        assert!(err("500=0.1:1s").contains("item 1 (\"500=0.1:1s\"): 500 takes no argument, got \":1s\""));
        assert!(err("seed=x,500=1").contains("item 1 (\"seed=x\"): seed must be a whole number"));
        assert!(err("500=1,verbs=get+fetch").contains("item 2 (\"verbs=get+fetch\"): unknown verb \"fetch\"; known verbs: get, list, watch"));
        assert!(err("500=1,only=Pods").contains("\"Pods\" is not a resource name"));
        assert!(err("500=1,only=pods+").contains("an empty resource name"));
        assert!(err("500=1,,503=1").contains("item 2 (\"\"): is empty"));
        assert!(err("500").contains("item 1 (\"500\"): expected KIND=RATE[:ARG] or OPTION=VALUE"));
        assert_eq!(err(" "), "fault spec \" \": is empty; give at least one fault, e.g. 503=0.1 (kinds: 429, 500, 503, 403, slow, drop, watch-cut, watch-410)");
        assert!(err("seed=3,only=pods").contains(": names no fault; give at least one of: 429, 500"));
        assert_eq!(
            err("429=0.5,drop=0.4,503=0.2"),
            "fault spec \"429=0.5,drop=0.4,503=0.2\": the rates of 429 and drop and 503 add up to 1.1, more than 1 (each request gets at most one of them)"
        );
        assert!(err("watch-cut=0.6,watch-410=0.6").contains("the rates of watch-cut and watch-410 add up to 1.2"));
        // Kinds of different groups may each have rate 1.
        assert!(FaultSpec::parse("slow=1,500=1,watch-cut=1").is_ok());
    }

    #[test]
    fn decisions_are_a_pure_function_of_seed_and_request_number() {
        let spec = FaultSpec::parse("seed=42,500=0.5").unwrap();
        let run = |spec: &FaultSpec| (0..200).map(|n| spec.decide(n, false).fault.is_some()).collect::<Vec<_>>();
        let first = run(&spec);
        assert_eq!(first, run(&spec));
        let hits = first.iter().filter(|h| **h).count();
        assert!((70..=130).contains(&hits), "about half of 200 requests fault, got {hits}");
        let other = run(&FaultSpec::parse("seed=43,500=0.5").unwrap());
        assert_ne!(first, other, "another seed gives another sequence");

        // The runtime holder counts requests from 0 again whenever a spec is set.
        let faults = Faults::default();
        let sequence = |faults: &Faults| (0..50).map(|_| faults.decide("pods", "get", false).fault.is_some()).collect::<Vec<_>>();
        faults.set(Some(spec.clone()));
        let a = sequence(&faults);
        faults.set(Some(spec));
        assert_eq!(a, sequence(&faults));
        assert_eq!(a, first[..50]);
    }

    #[test]
    fn rates_of_zero_and_one_are_exact_and_groups_are_independent() {
        let spec = FaultSpec::parse("seed=5,500=1,slow=0:1s,watch-410=1").unwrap();
        for n in 0..100 {
            let d = spec.decide(n, true);
            assert_eq!(d, Decision { delay: None, fault: Some(Fault::InternalError) });
        }
        let spec = FaultSpec::parse("seed=5,slow=1:250ms,watch-cut=1:2s").unwrap();
        let d = spec.decide(7, true);
        assert_eq!(d, Decision { delay: Some(Duration::from_millis(250)), fault: Some(Fault::Watch(WatchFault::Cut { after: Duration::from_secs(2) })) });
        // Watch faults only for watches.
        assert_eq!(spec.decide(7, false).fault, None);
        // Shares of one group split the draw: 429 and 503 at 0.5 each cover every request.
        let spec = FaultSpec::parse("seed=9,429=0.5:3s,503=0.5").unwrap();
        let faults: Vec<Fault> = (0..100).map(|n| spec.decide(n, false).fault.unwrap()).collect();
        assert!(faults.contains(&Fault::TooManyRequests { retry_after: Duration::from_secs(3) }));
        assert!(faults.contains(&Fault::ServiceUnavailable));
    }

    #[test]
    fn only_and_verbs_limit_what_is_faulted_and_counted() {
        let faults = Faults::default();
        faults.set(Some(FaultSpec::parse("500=1,only=configmaps,verbs=list").unwrap()));
        assert_eq!(faults.decide("pods", "list", false).fault, None);
        assert_eq!(faults.decide("configmaps", "get", false).fault, None);
        assert_eq!(faults.decide("configmaps", "list", false).fault, Some(Fault::InternalError));
        assert_eq!(faults.0.read().unwrap().as_ref().unwrap().requests.load(Ordering::Relaxed), 1);
        faults.set(None);
        assert_eq!(faults.decide("configmaps", "list", false), Decision::default());
        assert!(faults.spec().is_none());
    }
}
