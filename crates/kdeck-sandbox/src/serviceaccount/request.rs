//! `POST …/serviceaccounts/NAME/token` (TokenRequest, what `kubectl create token`
//! and the kubelet send), as kube-apiserver's TokenREST answers it: audiences
//! default to the API server's, `expirationSeconds` to 3600 (at least 600), a
//! `boundObjectRef` to a Pod, Secret or Node binds the token to that object (a pod
//! only to tokens of its own ServiceAccount), and the status carries the token and
//! its expiry. A pod-bound token asked for 3607 s — what the kubelet asks for the
//! `kube-api-access-*` volume — is valid for a year and warns after the 3607 s, as
//! upstream extends them so clients that do not reload the file keep working.

use serde_json::{Value, json};

use super::token::{self, Binding, Claims};
use super::{AUDIENCE, DEFAULT_EXPIRATION, EXTENDED_EXPIRATION, WARN_ONLY_EXPIRATION};
use crate::rest::{ApiError, Cause, Rest};

const GROUP: &str = "authentication.k8s.io";

fn get(rest: &Rest, plural: &str, ns: Option<&str>, name: &str) -> Result<Value, ApiError> {
    let info = rest.catalogue.find("", "v1", plural).ok_or_else(|| ApiError::internal(format!("{plural} are not served")))?;
    rest.get(&info, ns, name)
}

fn invalid(name: &str, cause: Cause) -> ApiError {
    ApiError::invalid("TokenRequest", GROUP, name, vec![cause])
}

/// The TokenRequest `body` for ServiceAccount `ns/name`, answered.
pub fn create(rest: &Rest, ns: &str, name: &str, body: Value) -> Result<Value, ApiError> {
    if !body.is_object() {
        return Err(ApiError::bad_request("the body of a TokenRequest must be an object"));
    }
    let meta = &body["metadata"];
    if let Some(named) = meta["name"].as_str().filter(|n| !n.is_empty() && *n != name) {
        return Err(invalid(name, Cause::invalid("metadata.name", named, "must match the service account name if specified")));
    }
    if let Some(other) = meta["namespace"].as_str().filter(|n| !n.is_empty() && *n != ns) {
        return Err(invalid(name, Cause::invalid("metadata.namespace", other, "must match the service account namespace if specified")));
    }
    let sa = get(rest, "serviceaccounts", Some(ns), name)?;
    let spec = &body["spec"];
    let audiences: Vec<String> = match spec["audiences"].as_array().filter(|a| !a.is_empty()) {
        Some(list) => list
            .iter()
            .map(|a| a.as_str().map(str::to_string).ok_or_else(|| ApiError::bad_request("spec.audiences must be strings")))
            .collect::<Result<_, _>>()?,
        None => vec![AUDIENCE.to_string()],
    };
    let expiration = match &spec["expirationSeconds"] {
        Value::Null => DEFAULT_EXPIRATION,
        v => v.as_i64().ok_or_else(|| ApiError::bad_request("spec.expirationSeconds must be an integer"))?,
    };
    let too = |detail: &str| {
        invalid("", Cause { field: "spec.expirationSeconds".into(), reason: "FieldValueInvalid", message: format!("Invalid value: {expiration}: {detail}") })
    };
    if expiration < 600 {
        return Err(too("may not specify a duration less than 10 minutes"));
    }
    if expiration > 1 << 32 {
        return Err(too("may not specify a duration larger than 2^32 seconds"));
    }
    let reference = &spec["boundObjectRef"];
    let binding = bind(rest, ns, name, reference)?;
    let now = crate::time::unix_secs();
    let token = sign(&sa, binding, audiences.clone(), expiration, now);
    let mut meta = json!({"name": name, "namespace": ns, "creationTimestamp": crate::time::rfc3339_unix(now)});
    if let Some(uid) = sa["metadata"]["uid"].as_str() {
        meta["uid"] = json!(uid);
    }
    Ok(json!({
        "kind": "TokenRequest",
        "apiVersion": format!("{GROUP}/v1"),
        "metadata": meta,
        "spec": {"audiences": audiences, "expirationSeconds": expiration, "boundObjectRef": if reference.is_object() { reference.clone() } else { Value::Null }},
        "status": {"token": token, "expirationTimestamp": crate::time::rfc3339_unix(now + expiration)},
    }))
}

/// Signs a token; a pod-bound one of the kubelet's 3607 s for the API server is
/// extended (see the module's comment).
fn sign(sa: &Value, binding: Binding, audiences: Vec<String>, expiration: i64, now: i64) -> String {
    let extend = binding.pod.is_some() && expiration == WARN_ONLY_EXPIRATION && audiences.iter().all(|a| a == AUDIENCE);
    let (expires_at, warn_after) = if extend { (now + EXTENDED_EXPIRATION, Some(now + expiration)) } else { (now + expiration, None) };
    let claims = Claims { service_account: sa, binding, audiences, issued_at: now, expires_at, warn_after };
    token::issue(&claims)
}

/// The object a `boundObjectRef` names, checked as TokenREST checks it.
fn bind(rest: &Rest, ns: &str, sa_name: &str, reference: &Value) -> Result<Binding, ApiError> {
    if !reference.is_object() {
        return Ok(Binding::default());
    }
    let text = |key: &str| reference[key].as_str().unwrap_or_default();
    let (kind, api_version, name, uid) = (text("kind"), text("apiVersion"), text("name"), text("uid"));
    let core = api_version == "v1";
    let (plural, scope) = match kind {
        "Pod" if core => ("pods", Some(ns)),
        "Secret" if core => ("secrets", Some(ns)),
        "Node" if core => ("nodes", None),
        _ => {
            let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
            return Err(ApiError::bad_request(format!("cannot bind token to object of type {group}/{version}, Kind={kind}")));
        }
    };
    let object = get(rest, plural, scope, name)?;
    let object_uid = object["metadata"]["uid"].as_str().unwrap_or_default().to_string();
    if !uid.is_empty() && uid != object_uid {
        let message = format!(
            "Operation cannot be fulfilled on {kind} \"{name}\": the UID in the bound object reference ({uid}) does not match the UID in record. The object might have been deleted and then recreated"
        );
        return Err(ApiError { details: Some(json!({"name": name, "kind": kind})), ..ApiError::new(409, "Conflict", message) });
    }
    let bound = Some((name.to_string(), object_uid));
    Ok(match kind {
        "Pod" => {
            if object["spec"]["serviceAccountName"] != sa_name {
                return Err(ApiError::bad_request(format!(
                    "cannot bind token for serviceaccount \"{sa_name}\" to pod running with different serviceaccount name."
                )));
            }
            Binding { pod: bound, node: node_of(rest, &object), secret: None }
        }
        "Secret" => Binding { secret: bound, ..Default::default() },
        _ => Binding { node: bound, ..Default::default() },
    })
}

/// The node a pod runs on, named in its tokens (with its uid when it exists).
fn node_of(rest: &Rest, pod: &Value) -> Option<(String, String)> {
    let node = pod["spec"]["nodeName"].as_str().filter(|n| !n.is_empty())?;
    let uid = get(rest, "nodes", None, node).ok().and_then(|n| n["metadata"]["uid"].as_str().map(str::to_string)).unwrap_or_default();
    Some((node.to_string(), uid))
}

/// The token the kubelet writes for a pod's `serviceAccountToken` projection: its
/// ServiceAccount's, bound to the pod, for the projection's audience and
/// `expirationSeconds`. Fails, as the kubelet's token request does, when the
/// ServiceAccount is gone.
pub fn for_pod(rest: &Rest, pod: &Value, projection: &Value) -> Result<String, ApiError> {
    let meta = &pod["metadata"];
    let ns = meta["namespace"].as_str().unwrap_or("default");
    let sa_name = pod["spec"]["serviceAccountName"].as_str().filter(|n| !n.is_empty()).unwrap_or("default");
    let sa = get(rest, "serviceaccounts", Some(ns), sa_name).map_err(|e| ApiError::bad_request(format!("failed to fetch token: {e}")))?;
    let audiences = match projection["audience"].as_str().filter(|a| !a.is_empty()) {
        Some(audience) => vec![audience.to_string()],
        None => vec![AUDIENCE.to_string()],
    };
    let expiration = projection["expirationSeconds"].as_i64().unwrap_or(DEFAULT_EXPIRATION);
    let pod_ref = (meta["name"].as_str().unwrap_or_default().to_string(), meta["uid"].as_str().unwrap_or_default().to_string());
    let binding = Binding { pod: Some(pod_ref), node: node_of(rest, pod), secret: None };
    Ok(sign(&sa, binding, audiences, expiration, crate::time::unix_secs()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn rest() -> Rest {
        let rest = super::super::test_rest();
        let sa = rest.catalogue.find("", "v1", "serviceaccounts").unwrap();
        rest.create(&sa, Some("team"), json!({"metadata": {"name": "robot"}}), &Default::default()).unwrap();
        rest
    }

    fn claims(token: &str) -> Value {
        let payload = token.split('.').nth(1).unwrap();
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
    }

    #[test]
    fn token_requests_are_defaulted_validated_and_answered() {
        let rest = rest();
        let answer = create(&rest, "team", "robot", json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest"})).unwrap();
        assert_eq!(answer["spec"], json!({"audiences": [AUDIENCE], "expirationSeconds": 3600, "boundObjectRef": null}));
        assert_eq!(answer["metadata"]["name"], "robot");
        let token = answer["status"]["token"].as_str().unwrap();
        let c = claims(token);
        assert_eq!(c["sub"], "system:serviceaccount:team:robot");
        assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 3600);
        let expiry = crate::time::parse_rfc3339(answer["status"]["expirationTimestamp"].as_str().unwrap()).unwrap();
        assert_eq!(expiry, c["exp"].as_i64().unwrap());

        let short = create(&rest, "team", "robot", json!({"spec": {"expirationSeconds": 599}})).unwrap_err();
        assert_eq!(short.code, 422);
        assert_eq!(
            short.message,
            "TokenRequest.authentication.k8s.io \"\" is invalid: spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes"
        );
        let missing = create(&rest, "team", "nobody", json!({})).unwrap_err();
        assert_eq!((missing.code, missing.message.as_str()), (404, "serviceaccounts \"nobody\" not found"));
        let renamed = create(&rest, "team", "robot", json!({"metadata": {"name": "other"}})).unwrap_err();
        assert_eq!(
            renamed.message,
            "TokenRequest.authentication.k8s.io \"robot\" is invalid: metadata.name: Invalid value: \"other\": must match the service account name if specified"
        );
        let odd = create(&rest, "team", "robot", json!({"spec": {"boundObjectRef": {"kind": "ConfigMap", "apiVersion": "v1", "name": "x"}}})).unwrap_err();
        assert_eq!(odd.message, "cannot bind token to object of type /v1, Kind=ConfigMap");
    }

    #[test]
    fn pod_tokens_are_bound_and_the_kubelets_are_extended() {
        let rest = rest();
        let pods = rest.catalogue.find("", "v1", "pods").unwrap();
        let pod = rest
            .create(
                &pods,
                Some("team"),
                json!({"metadata": {"name": "web"}, "spec": {"serviceAccountName": "robot", "containers": [{"name": "c", "image": "nginx"}]}}),
                &Default::default(),
            )
            .unwrap();
        let token = for_pod(&rest, &pod, &json!({"path": "token", "expirationSeconds": 3607})).unwrap();
        let c = claims(&token);
        assert_eq!(c["kubernetes.io"]["pod"], json!({"name": "web", "uid": pod["metadata"]["uid"]}));
        let iat = c["iat"].as_i64().unwrap();
        assert_eq!((c["exp"].as_i64().unwrap() - iat, c["kubernetes.io"]["warnafter"].as_i64().unwrap() - iat), (EXTENDED_EXPIRATION, 3607));
        // Another audience, or another lifetime: not extended.
        let c = claims(&for_pod(&rest, &pod, &json!({"path": "t", "audience": "vault", "expirationSeconds": 3607})).unwrap());
        assert_eq!((c["aud"].clone(), c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap()), (json!(["vault"]), 3607));

        let sa = rest.catalogue.find("", "v1", "serviceaccounts").unwrap();
        rest.create(&sa, Some("team"), json!({"metadata": {"name": "other"}}), &Default::default()).unwrap();
        let wrong = create(&rest, "team", "other", json!({"spec": {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "web"}}})).unwrap_err();
        assert_eq!(wrong.message, "cannot bind token for serviceaccount \"other\" to pod running with different serviceaccount name.");
        let stale =
            create(&rest, "team", "robot", json!({"spec": {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "web", "uid": "x"}}})).unwrap_err();
        assert_eq!(stale.code, 409);
    }
}
