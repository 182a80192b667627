//! `kdeck mcp`: the tool registry as an MCP server (the `rmcp` SDK), over stdio or
//! Streamable HTTP.
//!
//! Read tools by default. With `--allow-changes`, a change tool makes its plan and
//! asks the user through the client's MCP elicitation (the client shows the plan
//! and its user accepts or declines); only an accepted plan is applied. A second
//! tool call never counts as a confirmation (clients auto-approve calls), so a
//! client without elicitation gets the plan and nothing is applied. Results,
//! plans and errors are redacted by the registry.
//!
//! Elicitation is a request from server to client, which MCP's handshake
//! protocol versions (up to 2025-11-25) carry; kdeck offers those versions.
//!
//! HTTP: loopback only, a bearer token required on every request, and a request
//! whose `Origin` is not a loopback origin refused (the DNS-rebinding rule of MCP's
//! Streamable HTTP transport).

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ProtocolVersion, ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Resource, ResourceContents, ServerCapabilities, ServerConfig, Tool,
    ToolAnnotations,
};
use rmcp::service::{ElicitationError, RequestContext, RoleServer};
use rmcp::{ErrorData as McpError, ServerHandler, ServiceExt};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use super::tools::{self, Call, Outcome, Tools};
use crate::error::{Error, Result};

/// What the client's user answers to a plan.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Confirmation {
    /// true to apply the plan shown, false to leave the cluster as it is.
    pub apply: bool,
}
rmcp::elicit_safe!(Confirmation);

#[derive(Clone)]
pub struct Server {
    tools: Arc<Tools>,
    allow_changes: bool,
}

impl Server {
    pub fn new(tools: Tools, allow_changes: bool) -> Server {
        Server { tools: Arc::new(tools), allow_changes }
    }

    fn listed(&self) -> Vec<Tool> {
        tools::TOOLS
            .iter()
            .filter(|t| self.allow_changes || !t.change)
            .map(|t| {
                let schema = match t.schema() {
                    Value::Object(map) => map,
                    _ => Default::default(),
                };
                let annotations = ToolAnnotations::new().read_only(!t.change).destructive(t.change).open_world(false);
                Tool::new(t.name, t.description, schema).with_annotations(annotations)
            })
            .collect()
    }

    /// A tool call, answered as a result (errors included: the model reads them).
    async fn call(&self, name: &str, arguments: &Value, context: &RequestContext<RoleServer>) -> std::result::Result<CallToolResult, McpError> {
        if tools::find(name).is_none() {
            return Err(McpError::invalid_params(format!("unknown tool {name:?}"), None));
        }
        let call = match Call::parse(name, arguments) {
            Ok(call) => call,
            Err(e) => return Ok(failed(&e)),
        };
        if call.is_change() && !self.allow_changes {
            return Ok(failed(
                &Error::usage(format!("{name} changes the cluster, and this kdeck mcp server only reads; nothing was planned or changed"))
                    .hint("start it with `kdeck mcp --allow-changes` to have changes planned and applied after the user confirms them"),
            ));
        }
        let pending = match self.tools.run(&call).await {
            Ok(Outcome::Read(text)) => return Ok(CallToolResult::success(vec![ContentBlock::text(text)])),
            Ok(Outcome::Planned(pending)) => pending,
            Err(e) => return Ok(failed(&e)),
        };
        let plan = self.tools.plan_text(&pending).await;
        if pending.plan().items.is_empty() {
            return Ok(CallToolResult::success(vec![ContentBlock::text(format!("nothing to do; nothing was changed\n{plan}"))]));
        }
        let shown = call.shown(&self.tools.namespace);
        let table = self.tools.redactor(None).await.scrub(&pending.plan().table());
        let question = format!("kdeck plans `{shown}` on context {}:\n\n{table}\nApply this plan?", self.tools.cluster.context);
        let not_applied = |why: &str| Ok(CallToolResult::success(vec![ContentBlock::text(format!("not applied: {why}; nothing was changed\n{plan}"))]));
        match context.peer.elicit::<Confirmation>(question).await {
            Ok(Some(Confirmation { apply: true })) => match self.tools.apply(pending).await {
                Ok(result) => Ok(CallToolResult::success(vec![ContentBlock::text(format!("applied after the user confirmed\n{plan}\n{result}"))])),
                Err(e) => Ok(failed(&e)),
            },
            Ok(_) => not_applied("the user did not confirm it"),
            Err(ElicitationError::UserDeclined) => not_applied("the user declined it"),
            Err(ElicitationError::UserCancelled) => not_applied("the user cancelled"),
            Err(ElicitationError::CapabilityNotSupported) => not_applied(&format!(
                "this client cannot ask its user to confirm (it has no MCP elicitation), so kdeck only plans `{shown}`; confirm it from a client with elicitation, or make the change yourself after checking the plan"
            )),
            Err(e) => not_applied(&format!("the confirmation failed ({e})")),
        }
    }

    /// The resources: the diagnosis of the default namespace, and the stack's status
    /// when the working directory's kdeck.yaml has a stack.
    fn resources(&self) -> Vec<Resource> {
        let ns = &self.tools.namespace;
        let mut resources = vec![
            Resource::new(format!("kdeck://diagnosis/{ns}"), format!("diagnosis-{ns}"))
                .with_description(format!("kdeck diagnose -n {ns} -o json: root causes, chains, evidence and fixes"))
                .with_mime_type("application/json"),
        ];
        let has_stack = crate::project::ProjectArgs::default().load().is_ok_and(|p| p.config.stack.is_some());
        if has_stack {
            resources.push(
                Resource::new("kdeck://stack", "stack")
                    .with_description("kdeck status -o json: the stack's resources and their readiness")
                    .with_mime_type("application/json"),
            );
        }
        resources
    }
}

fn failed(error: &Error) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(tools::error_text(error))])
}

impl ServerHandler for Server {
    fn get_info(&self) -> ServerConfig {
        let mode = if self.allow_changes { "Changes are planned and applied only after the user confirms the plan." } else { "This server only reads." };
        ServerConfig::new(ServerCapabilities::builder().enable_tools().enable_resources().build())
            .with_server_info(Implementation::new("kdeck", env!("CARGO_PKG_VERSION")))
            .with_protocol_version(ProtocolVersion::V_2025_11_25)
            .with_instructions(format!(
                "kdeck's Kubernetes tools for context {} (default namespace {}). For 'why is X broken', call diagnose first. {mode} Secret values are never shown.",
                self.tools.cluster.context, self.tools.namespace
            ))
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Cow::Borrowed(ProtocolVersion::known_up_to(&ProtocolVersion::V_2025_11_25))
    }

    async fn list_tools(&self, _: Option<PaginatedRequestParams>, _: RequestContext<RoleServer>) -> std::result::Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(self.listed()))
    }

    async fn call_tool(&self, request: CallToolRequestParams, context: RequestContext<RoleServer>) -> std::result::Result<CallToolResponse, McpError> {
        let arguments = request.arguments.map(Value::Object).unwrap_or(Value::Null);
        self.call(&request.name, &arguments, &context).await.map(CallToolResponse::from)
    }

    async fn list_resources(&self, _: Option<PaginatedRequestParams>, _: RequestContext<RoleServer>) -> std::result::Result<ListResourcesResult, McpError> {
        Ok(ListResourcesResult::with_all_items(self.resources()))
    }

    async fn read_resource(&self, request: ReadResourceRequestParams, _: RequestContext<RoleServer>) -> std::result::Result<ReadResourceResponse, McpError> {
        let uri = request.uri.as_str();
        let call = if uri == "kdeck://stack" {
            Call::parse("stack_status", &Value::Null)
        } else if let Some(ns) = uri.strip_prefix("kdeck://diagnosis/") {
            Call::parse("diagnose", &serde_json::json!({"namespace": ns}))
        } else {
            return Err(McpError::resource_not_found(format!("no resource {uri:?}: kdeck serves kdeck://diagnosis/NAMESPACE and kdeck://stack"), None));
        };
        let call = call.map_err(|e| McpError::invalid_params(tools::error_text(&e), None))?;
        match self.tools.run(&call).await {
            Ok(Outcome::Read(text)) => Ok(ReadResourceResult::new(vec![ResourceContents::text(text, uri).with_mime_type("application/json")]).into()),
            Ok(Outcome::Planned(_)) => Err(McpError::internal_error("a resource never plans a change", None)),
            Err(e) => Err(McpError::internal_error(tools::error_text(&e), None)),
        }
    }
}

/// Serves MCP on stdin/stdout until the client closes it.
pub async fn serve_stdio(server: Server) -> Result<()> {
    let running = server.serve(rmcp::transport::stdio()).await.map_err(|e| Error::failure(format!("the MCP session could not start: {e}")))?;
    running.waiting().await.map_err(|e| Error::failure(format!("the MCP session ended with an error: {e}")))?;
    Ok(())
}

/// Whether an `Origin` header names this machine (`http://127.0.0.1:8080`,
/// `http://localhost`, `http://[::1]:3000`); anything else is refused.
pub fn loopback_origin(origin: &str) -> bool {
    let Some(rest) = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://")) else { return false };
    let port_ok = |port: &str| !port.is_empty() && port.chars().all(|c| c.is_ascii_digit());
    let host = match rest.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((host, "")) => host,
            Some((host, tail)) if tail.strip_prefix(':').is_some_and(port_ok) => host,
            _ => return false,
        },
        None => match rest.split_once(':') {
            None => rest,
            Some((host, port)) if port_ok(port) => host,
            Some(_) => return false,
        },
    };
    matches!(host, "127.0.0.1" | "localhost" | "::1")
}
/// A new bearer token: 32 random bytes, hex.
pub fn new_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares without stopping at the first different byte.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

type Body = http_body_util::combinators::BoxBody<bytes::Bytes, std::convert::Infallible>;

fn refusal(status: u16, message: &str) -> http::Response<Body> {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32001, "message": message}}).to_string();
    let mut response = http::Response::new(Full::new(bytes::Bytes::from(body)).boxed());
    *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::FORBIDDEN);
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    if status == 401 {
        response.headers_mut().insert(http::header::WWW_AUTHENTICATE, http::HeaderValue::from_static("Bearer"));
    }
    response
}

/// Serves MCP's Streamable HTTP at `http://ADDR/mcp` (loopback only) until interrupted.
pub async fn serve_http(server: Server, listen: SocketAddr, token: String, ready: impl FnOnce(SocketAddr)) -> Result<()> {
    use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager};
    if !listen.ip().is_loopback() {
        return Err(
            Error::usage(format!("--listen {listen} is not a loopback address")).hint("kdeck mcp listens on 127.0.0.1 or [::1] only: --listen 127.0.0.1:PORT")
        );
    }
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| Error::failure(format!("cannot listen on {listen}: {e}")))?;
    let address = listener.local_addr().map_err(|e| Error::failure(e.to_string()))?;
    let config = StreamableHttpServerConfig::default();
    let service = StreamableHttpService::new(move || Ok(server.clone()), Arc::new(LocalSessionManager::default()), config);
    let expected = Arc::new(format!("Bearer {token}"));
    ready(address);
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(_) => continue,
        };
        let service = service.clone();
        let expected = expected.clone();
        tokio::spawn(async move {
            let handle = hyper::service::service_fn(move |request: http::Request<hyper::body::Incoming>| {
                let mut service = service.clone();
                let expected = expected.clone();
                async move {
                    let authorized = request.headers().get(http::header::AUTHORIZATION).is_some_and(|v| same(v.as_bytes(), expected.as_bytes()));
                    let origin_ok = request.headers().get(http::header::ORIGIN).is_none_or(|o| o.to_str().is_ok_and(loopback_origin));
                    let response = if !origin_ok {
                        refusal(403, "Origin refused: kdeck mcp answers only pages served from this machine (loopback)")
                    } else if !authorized {
                        refusal(401, "a bearer token is required: the one kdeck mcp printed when it started (Authorization: Bearer TOKEN)")
                    } else if request.uri().path() != "/mcp" {
                        refusal(404, "kdeck mcp serves MCP at /mcp")
                    } else {
                        use tower::Service;
                        match service.call(request).await {
                            Ok(response) => response,
                            Err(never) => match never {},
                        }
                    };
                    Ok::<_, std::convert::Infallible>(response)
                }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new()).serve_connection(io, handle).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_origins_pass() {
        for ok in ["http://127.0.0.1:6274", "http://localhost", "https://localhost:8443", "http://[::1]:3000"] {
            assert!(loopback_origin(ok), "{ok}");
        }
        for bad in
            ["http://evil.example", "http://127.0.0.1.evil.example", "http://localhost.evil:80", "null", "http://[::2]:1", "file://", "http://localhost:80x"]
        {
            assert!(!loopback_origin(bad), "{bad}");
        }
    }

    #[test]
    fn tokens_are_long_and_compared_whole() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(same(a.as_bytes(), a.as_bytes()) && !same(a.as_bytes(), b.as_bytes()) && !same(a.as_bytes(), &a.as_bytes()[..10]));
    }
}
