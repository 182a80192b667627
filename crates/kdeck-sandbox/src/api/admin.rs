//! The sandbox's own endpoints, beside the Kubernetes API:
//! - `GET /kdeck/info` (admin and read-only token) says what the sandbox is:
//!   `{"sandbox": "<name>", "runCommands": true|false, "version": "<kdeck
//!   version>", "kubernetesVersion": "v1.35.0"}` — `runCommands` tells whether
//!   pods that opt in with `sandbox.kdeck.dev/run-command` run their command
//!   (the sandbox was started with `--run-commands`) or stay simulated;
//! - `GET /kdeck/settled?timeout=SECONDS` waits (at most that long, default 0)
//!   until what is loaded has settled ([`crate::scenarios::settle`]) and answers
//!   `{"settled": true|false, "pending": ["Pod demo/api-1: ContainerCreating", …]}`;
//!
//! and, for the admin token only:
//! - `POST /kdeck/seed/{scenario}` loads a scenario into the running sandbox;
//! - `GET /kdeck/faults` answers the fault spec in force as text (empty: none),
//!   `PUT /kdeck/faults` sets one (the body is the spec text; 400 with the parse
//!   error if it does not parse; answers the spec with its defaults filled in),
//!   `DELETE /kdeck/faults` clears it (see [`crate::faults`]).
//!
//! They live outside `/api` and `/apis` so no Kubernetes client discovers them, and
//! are never faulted.

use http::{HeaderValue, Method, Request, header};
use serde_json::json;

use super::ApiServer;
use super::auth::{Role, User};
use super::body::{Body, json_response};
use crate::faults::FaultSpec;
use crate::rest::{ApiError, Rest};

/// The path prefix of the sandbox's own endpoints.
pub const PREFIX: &str = "kdeck";

pub async fn serve(api: &ApiServer, req: Request<crate::api::body::RequestBody>, user: &User, path: &[&str]) -> Result<http::Response<Body>, ApiError> {
    match (req.method(), path) {
        (&Method::GET, ["info"]) => return Ok(json_response(200, &info(api))),
        (&Method::GET, ["settled"]) => return settled(&api.rest, req.uri().query().unwrap_or_default()).await,
        _ => {}
    }
    if user.role != Role::Admin {
        return Err(ApiError::new(403, "Forbidden", "the sandbox's own endpoints need the admin token"));
    }
    match (req.method(), path) {
        (&Method::POST, ["seed", scenario]) => seed(&api.rest, scenario).await,
        (&Method::GET, ["faults"]) => Ok(text_response(api.faults.spec().map(|s| s.to_string()).unwrap_or_default())),
        (&Method::PUT, ["faults"]) => {
            let bytes = super::body::collect(req.into_body()).await?;
            let text = std::str::from_utf8(&bytes).map_err(|_| ApiError::bad_request("the fault spec is not valid UTF-8"))?;
            let spec = FaultSpec::parse(text.trim()).map_err(|e| ApiError::bad_request(e.to_string()))?;
            api.faults.set(Some(spec.clone()));
            Ok(text_response(spec.to_string()))
        }
        (&Method::DELETE, ["faults"]) => {
            api.faults.set(None);
            Ok(text_response(String::new()))
        }
        _ => Err(ApiError::new(404, "NotFound", format!("no sandbox endpoint {} /{PREFIX}/{}", req.method(), path.join("/")))),
    }
}

/// What `GET /kdeck/info` answers.
fn info(api: &ApiServer) -> serde_json::Value {
    json!({
        "sandbox": api.tokens.cluster_name,
        "runCommands": crate::kubelet::command::enabled(),
        "version": env!("CARGO_PKG_VERSION"),
        "kubernetesVersion": super::discovery::version()["gitVersion"],
    })
}

/// Loads a scenario; a large one (`scale:N`) takes seconds, so off the async threads.
async fn seed(rest: &Rest, scenario: &str) -> Result<http::Response<Body>, ApiError> {
    if !crate::scenarios::is_known(scenario) {
        return Err(ApiError::new(404, "NotFound", format!("unknown scenario {scenario:?}; {}", crate::scenarios::known_for(scenario))));
    }
    let (rest, name) = (rest.clone(), scenario.to_string());
    let started = std::time::Instant::now();
    tokio::task::spawn_blocking(move || crate::scenarios::load(&rest, &name))
        .await
        .map_err(|_| ApiError::internal("loading the scenario failed"))?
        .map_err(|e| ApiError::new(422, "Invalid", e))?;
    Ok(json_response(200, &json!({"scenario": scenario, "seconds": started.elapsed().as_secs_f64()})))
}

/// Waits until the cluster has settled, or the timeout; says what has not.
async fn settled(rest: &Rest, query: &str) -> Result<http::Response<Body>, ApiError> {
    let query = super::query::Query::parse(query);
    let seconds = match query.get("timeout") {
        Some(t) => t
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && (0.0..=3600.0).contains(s))
            .ok_or_else(|| ApiError::bad_request(format!("timeout must be a number of seconds from 0 to 3600, got {t:?}")))?,
        None => 0.0,
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs_f64(seconds);
    let pending = crate::scenarios::settle::wait(rest, deadline).await;
    Ok(json_response(200, &json!({"settled": pending.is_empty(), "pending": pending})))
}

fn text_response(text: String) -> http::Response<Body> {
    let mut resp = http::Response::new(super::body::full(text));
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    resp
}
