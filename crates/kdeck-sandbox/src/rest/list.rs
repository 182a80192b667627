//! LIST as kube-apiserver 1.35 serves it: `limit`/`continue` pages read from the
//! state at the first page's resourceVersion, `resourceVersion` with
//! `resourceVersionMatch`, and the real server's answers when a version is too old
//! or not reached yet.
//!
//! The rules, from k8s.io/apiserver (pkg/storage/cacher/delegator.go,
//! watch_cache.go, pkg/storage/etcd3/store.go and errors.go):
//!
//! - no `resourceVersion`: the latest state (a consistent read);
//! - `resourceVersion=0` (alone or `NotOlderThan`): any state, so the latest; the
//!   watch cache then ignores `limit` and answers the whole list;
//! - `resourceVersion=N` with `NotOlderThan`, or without a match and without a
//!   limit: the latest state, once it has reached N;
//! - `resourceVersion=N` with `Exact`, or without a match but with a limit: the
//!   state at N;
//! - `continue`: the state at the token's resourceVersion, from its start key; a
//!   token from a 410 (resourceVersion -1) continues from the latest state.
//!
//! A state older than the store's history ([`crate::store::HISTORY_LEN`] changes by
//! default) answers `410 Expired`, as after etcd's compaction — with a fresh
//! `continue` token in the Status's metadata for a continued list. A version the
//! store has not reached within 3 s answers `504 Timeout` ("Too large resource
//! version"), as the watch cache does.

use std::ops::Bound;
use std::time::Duration;

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::selector::{FieldSelector, LabelSelector};
use super::{ApiError, Cause, Rest, needs_conversion, present};
use crate::resources::ResourceInfo;
use crate::store::{Entry, ObjectName, PageRequest, StoreError};

/// How long a list waits for the store to reach the resourceVersion it asks for
/// (the watch cache's `blockTimeout`).
const FRESH_WITHIN: Duration = Duration::from_secs(3);

const EXPIRED: &str = "The resourceVersion for the provided list is too old.";
const INCONSISTENT_CONTINUE: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

/// Go's `base64.RawURLEncoding`: no padding, and trailing bits are not checked.
const TOKEN_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_encode_padding(false).with_decode_allow_trailing_bits(true).with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    /// A positive `limit`.
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
    /// `resourceVersion`, when given and not empty.
    pub resource_version: Option<String>,
    /// `resourceVersionMatch`, when given and not empty.
    pub resource_version_match: Option<String>,
    /// `sendInitialEvents` was given (a watch parameter, refused on a list).
    pub send_initial_events: bool,
}

pub struct Listing {
    pub items: Vec<Entry>,
    pub resource_version: u64,
    pub continue_token: Option<String>,
    pub remaining: Option<usize>,
}

/// The continue token, as `k8s.io/apiserver/pkg/storage` encodes it: base64 (URL
/// alphabet, no padding) of `{"v":"meta.k8s.io/v1","rv":…,"start":…}`, where
/// `start` is the key to resume from, relative to the list's prefix
/// (`NAMESPACE/NAME\0` across namespaces, `NAME\0` within one).
#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
struct ContinueToken {
    v: String,
    rv: i64,
    start: String,
}

/// Which state a list reads.
struct Plan {
    /// The resourceVersion to read at; `None`: the latest.
    at: Option<u64>,
    /// The store must have reached this version before the read.
    fresh: u64,
    /// Where a continued list resumes.
    start: Option<Start>,
    limit: Option<usize>,
}

struct Start {
    /// The token's start key (without a leading `/`), for the token of a 410.
    key: String,
    /// The same position in (namespace, name) order.
    from: ObjectName,
}

impl Rest {
    /// Lists as [`Rest::list_fresh`] does, without waiting: a version the store has
    /// not reached is answered at once.
    pub fn list(&self, info: &ResourceInfo, ns: Option<&str>, query: &ListQuery) -> Result<Listing, ApiError> {
        let plan = plan(info, ns, query)?;
        self.read(info, ns, query, &plan)
    }

    /// Lists objects as the real server does, waiting (3 s at most) for a
    /// resourceVersion the store has not reached yet.
    pub async fn list_fresh(&self, info: &ResourceInfo, ns: Option<&str>, query: &ListQuery) -> Result<Listing, ApiError> {
        let plan = plan(info, ns, query)?;
        if plan.fresh > self.store.resource_version() {
            self.store.wait_for(plan.fresh, tokio::time::Instant::now() + FRESH_WITHIN).await;
        }
        self.read(info, ns, query, &plan)
    }

    fn read(&self, info: &ResourceInfo, ns: Option<&str>, query: &ListQuery, plan: &Plan) -> Result<Listing, ApiError> {
        let current = self.store.resource_version();
        if plan.fresh > current {
            return Err(too_large(plan.fresh, current));
        }
        let ns = if info.namespaced { ns } else { None };
        // Counts of what follows are given only for unfiltered lists (etcd's count
        // includes objects a selector would drop).
        let unfiltered = query.labels.is_empty() && query.fields.is_empty();
        let request = PageRequest {
            namespace: ns,
            start: plan.start.as_ref().map_or(Bound::Unbounded, |s| Bound::Included(&s.from)),
            at: plan.at,
            limit: plan.limit,
            count_rest: plan.limit.is_some() && unfiltered,
        };
        let keep = |e: &Entry| {
            query.labels.matches(&e.index.labels)
                && (query.fields.is_empty() || query.fields.matches(&(e.index.namespace.clone(), e.index.name.clone()), &e.index))
        };
        let page = self.store.page(&info.key(), &request, keep).map_err(|e| match e {
            StoreError::Expired { .. } => match &plan.start {
                Some(start) => continue_expired(&start.key),
                None => ApiError::expired(EXPIRED),
            },
            StoreError::TooNew { requested, current } => too_large(requested, current),
            other => ApiError::internal(other.to_string()),
        })?;
        let continue_token = match page.items.last() {
            Some(last) if page.more => Some(encode_continue(page.rv as i64, &start_key(info, ns, last))),
            _ => None,
        };
        let mut items = page.items;
        if needs_conversion(info) {
            for item in &mut items {
                let mut obj = item.value();
                present(info, &mut obj);
                item.raw = Bytes::from(serde_json::to_vec(&obj).unwrap_or_default());
            }
        }
        Ok(Listing { items, resource_version: page.rv, continue_token, remaining: page.rest })
    }
}

/// Decides the state a list reads from its parameters, refusing what the real
/// server refuses, in its order: the options' validation (422), then the continue
/// token and the resourceVersion (400).
fn plan(info: &ResourceInfo, ns: Option<&str>, query: &ListQuery) -> Result<Plan, ApiError> {
    validate(query)?;
    let rv = query.resource_version.as_deref();
    // With resourceVersion "0" the watch cache answers the whole list.
    let limit = if rv == Some("0") { None } else { query.limit };
    if let Some(token) = &query.continue_token {
        let (key, token_rv) = decode_continue(token).map_err(|why| ApiError::bad_request(format!("invalid continue token: continue key is not valid{why}")))?;
        if rv.is_some_and(|rv| rv != "0") {
            return Err(ApiError::bad_request("specifying resource version is not allowed when using continue"));
        }
        let at = u64::try_from(token_rv).ok();
        let from = position(info, ns, &key);
        return Ok(Plan { at, fresh: at.unwrap_or(0), start: Some(Start { key, from }), limit });
    }
    let Some(text) = rv else { return Ok(Plan { at: None, fresh: 0, start: None, limit }) };
    let version = parse_uint(text).map_err(|why| {
        ApiError::bad_request(format!("invalid resource version: resourceVersion: Invalid value: {text:?}: strconv.ParseUint: parsing {text:?}: {why}"))
    })?;
    let exact = match query.resource_version_match.as_deref() {
        Some("Exact") => true,
        // The legacy rule: a version with a limit is read exactly.
        None => query.limit.is_some() && version > 0,
        _ => false,
    };
    Ok(Plan { at: exact.then_some(version), fresh: version, start: None, limit })
}

/// `ValidateListOptions` (k8s.io/apimachinery/pkg/apis/meta/internalversion/validation).
fn validate(query: &ListQuery) -> Result<(), ApiError> {
    let mut causes = Vec::new();
    if let Some(wanted) = query.resource_version_match.as_deref() {
        if query.resource_version.is_none() {
            causes.push(Cause::forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden unless resourceVersion is provided"));
        }
        if query.continue_token.is_some() {
            causes.push(Cause::forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden when continue is provided"));
        }
        if wanted != "Exact" && wanted != "NotOlderThan" {
            causes.push(Cause::unsupported("resourceVersionMatch", wanted, &["Exact", "NotOlderThan", ""]));
        }
        if wanted == "Exact" && query.resource_version.as_deref() == Some("0") {
            causes.push(Cause::forbidden("resourceVersionMatch", "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\""));
        }
    }
    if query.send_initial_events {
        causes.push(Cause::forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list"));
    }
    if causes.is_empty() { Ok(()) } else { Err(ApiError::invalid("ListOptions", "meta.k8s.io", "", causes)) }
}

/// Go's `strconv.ParseUint(s, 10, 64)`: digits only; the reason when not.
fn parse_uint(text: &str) -> Result<u64, &'static str> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err("invalid syntax");
    }
    text.parse().map_err(|_| "value out of range")
}

/// The 504 of a resourceVersion the store has not reached (the watch cache's
/// `NewTooLargeResourceVersionError`).
fn too_large(requested: u64, current: u64) -> ApiError {
    ApiError {
        details: Some(json!({"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}], "retryAfterSeconds": 1})),
        ..ApiError::new(504, "Timeout", format!("Timeout: Too large resource version: {requested}, current: {current}"))
    }
}

/// The 410 of a continue token whose version is no longer kept: a token that
/// continues from the same key in the latest state (resourceVersion -1).
fn continue_expired(key: &str) -> ApiError {
    ApiError { continue_token: Some(encode_continue(-1, key)), ..ApiError::expired(INCONSISTENT_CONTINUE) }
}

/// The key after `last`, relative to the list's prefix.
fn start_key(info: &ResourceInfo, ns: Option<&str>, last: &Entry) -> String {
    if info.namespaced && ns.is_none() { format!("{}/{}\0", last.index.namespace, last.index.name) } else { format!("{}\0", last.index.name) }
}

/// A start key as a position in (namespace, name) order: at or after it.
fn position(info: &ResourceInfo, ns: Option<&str>, key: &str) -> ObjectName {
    match (info.namespaced, ns) {
        (true, Some(ns)) => (ns.to_string(), key.to_string()),
        (true, None) => match key.split_once('/') {
            Some((ns, name)) => (ns.to_string(), name.to_string()),
            None => (key.to_string(), String::new()),
        },
        (false, _) => (String::new(), key.to_string()),
    }
}

fn encode_continue(rv: i64, key: &str) -> String {
    let token = ContinueToken { v: "meta.k8s.io/v1".into(), rv, start: key.to_string() };
    TOKEN_BASE64.encode(serde_json::to_vec(&token).unwrap_or_default())
}

/// The token's start key (relative, without a leading `/`) and resourceVersion, or
/// why it is not valid (`storage.DecodeContinue`), to follow "continue key is not valid".
fn decode_continue(token: &str) -> Result<(String, i64), String> {
    let bytes = TOKEN_BASE64.decode(token).map_err(|e| {
        let at = match e {
            base64::DecodeError::InvalidByte(at, _) | base64::DecodeError::InvalidLastSymbol(at, _) => at,
            base64::DecodeError::InvalidLength(len) => len.saturating_sub(1),
            base64::DecodeError::InvalidPadding => token.find('=').unwrap_or(0),
        };
        format!(": illegal base64 data at input byte {at}")
    })?;
    let token: ContinueToken = serde_json::from_slice(&bytes).map_err(|e| format!(": {e}"))?;
    if token.v != "meta.k8s.io/v1" {
        return Err(format!(": server does not recognize this encoded version {}", token.v));
    }
    if token.rv == 0 {
        return Err(": incorrect encoded start resourceVersion (version meta.k8s.io/v1)".into());
    }
    if token.start.is_empty() {
        return Err(": encoded start key empty (version meta.k8s.io/v1)".into());
    }
    // As path.Clean would leave it: no empty, `.` or `..` segment (so the key
    // cannot reach outside the list's prefix).
    let key = token.start.strip_prefix('/').unwrap_or(&token.start);
    if !key.is_empty() && key.split('/').any(|segment| matches!(segment, "" | "." | "..")) {
        return Err(format!(": {}", token.start));
    }
    Ok((key.to_string(), token.rv))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_the_real_servers() {
        // What kube-apiserver sends for `kubectl get pods -A --chunk-size=1` after pod a/x at revision 42.
        let token = encode_continue(42, "a/x\0");
        assert_eq!(token, "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6NDIsInN0YXJ0IjoiYS94XHUwMDAwIn0");
        assert_eq!(decode_continue(&token).unwrap(), ("a/x\0".to_string(), 42));
        assert_eq!(decode_continue(&encode_continue(-1, "x\0")).unwrap(), ("x\0".to_string(), -1));
    }

    #[test]
    fn bad_tokens_say_why_as_the_real_server_does() {
        let token = |json: &str| TOKEN_BASE64.encode(json);
        assert_eq!(decode_continue("ab=c").unwrap_err(), ": illegal base64 data at input byte 2");
        assert_eq!(
            decode_continue(&token(r#"{"v":"meta.k8s.io/v1","rv":0,"start":"x"}"#)).unwrap_err(),
            ": incorrect encoded start resourceVersion (version meta.k8s.io/v1)"
        );
        assert_eq!(decode_continue(&token(r#"{"v":"meta.k8s.io/v1","rv":3}"#)).unwrap_err(), ": encoded start key empty (version meta.k8s.io/v1)");
        assert_eq!(decode_continue(&token(r#"{"v":"v9","rv":3,"start":"x"}"#)).unwrap_err(), ": server does not recognize this encoded version v9");
        assert_eq!(decode_continue(&token(r#"{"v":"meta.k8s.io/v1","rv":3,"start":"../x"}"#)).unwrap_err(), ": ../x");
    }

    #[test]
    fn resource_versions_parse_as_go_parses_them() {
        assert_eq!(parse_uint("17"), Ok(17));
        assert_eq!(parse_uint("+1"), Err("invalid syntax"));
        assert_eq!(parse_uint("-1"), Err("invalid syntax"));
        assert_eq!(parse_uint("99999999999999999999"), Err("value out of range"));
    }
}
