//! `kdeck mcp` driven by the official Python MCP SDK (`mcp`, installed by
//! scripts/install-clients as `python-k8s`) as a real client, over stdio and
//! Streamable HTTP, against a sandbox seeded `demo`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{TestSandbox, installed, which};
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use serde_json::{Value, json};

/// The demo's Secret value, which must never reach a client.
const SECRET_VALUE: &str = "demo-password";

/// The Python interpreter that has the MCP SDK, or None (skipped; a failure under CI).
fn python_with_mcp() -> Option<PathBuf> {
    let found = which("python-k8s").filter(|p| Command::new(p).args(["-c", "import mcp"]).output().is_ok_and(|o| o.status.success()));
    installed("the Python MCP SDK (python-k8s with `mcp`, from scripts/install-clients)", found)
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/conformance.d/mcp_client.py")
}

/// Runs the client script with `steps`; its JSON answer, one entry per step.
fn client(python: &PathBuf, sandbox: &TestSandbox, args: &[&str], steps: Value) -> Vec<Value> {
    let mut child = Command::new(python)
        .arg(script())
        .args(args)
        .env("KDECK_HOME", sandbox.home())
        .env("KUBECONFIG", sandbox.kubeconfig())
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the MCP client");
    child.stdin.take().unwrap().write_all(steps.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the MCP client failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let all = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(!all.contains(SECRET_VALUE), "a Secret's value reached the MCP client: {all}");
    serde_json::from_str::<Vec<Value>>(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

async fn replicas(sandbox: &TestSandbox, name: &str) -> i32 {
    let api: Api<Deployment> = Api::namespaced(sandbox.client().await, "demo");
    api.get(name).await.unwrap().spec.unwrap().replicas.unwrap_or(1)
}

fn text(step: &Value) -> &str {
    step["text"].as_str().unwrap_or_else(|| panic!("no text: {step}"))
}

/// The steps both transports run with --allow-changes: list, diagnose, read a
/// Secret, a change accepted (applied) and one declined (not applied).
fn change_steps(accepted: i32, declined: i32) -> Value {
    json!([
        {"do": "list_tools"},
        {"do": "call", "tool": "diagnose", "arguments": {"namespace": "demo"}},
        {"do": "call", "tool": "get", "arguments": {"kind": "secret", "name": "postgres-credentials", "namespace": "demo"}},
        {"do": "call", "tool": "describe", "arguments": {"kind": "sts", "name": "postgres", "namespace": "demo"}},
        {"do": "call", "tool": "scale", "arguments": {"target": "deploy/web", "replicas": accepted, "namespace": "demo"}, "confirm": "accept"},
        {"do": "call", "tool": "scale", "arguments": {"target": "deploy/redis", "replicas": declined, "namespace": "demo"}, "confirm": "decline"},
        {"do": "call", "tool": "logs", "arguments": {"target": "deploy/web; rm -rf /", "namespace": "demo"}},
        {"do": "list_resources"},
        {"do": "read_resource", "uri": "kdeck://diagnosis/demo"},
    ])
}

async fn check_change_steps(sandbox: &TestSandbox, out: &[Value], accepted: i32) {
    let tools: Vec<&str> = out[0]["tools"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    for tool in ["diagnose", "list", "get", "describe", "logs", "events", "rollout_status", "top", "scale", "delete_pod", "hr_restart"] {
        assert!(tools.contains(&tool), "{tool} is listed: {tools:?}");
    }
    assert_eq!(out[0]["readOnly"]["diagnose"], true);
    assert_eq!(out[0]["readOnly"]["scale"], false);
    assert!(text(&out[1]).contains("localhost-dependency") && text(&out[1]).contains("configmap/api-config"), "{}", text(&out[1]));
    assert!(text(&out[2]).contains("POSTGRES_PASSWORD") && text(&out[2]).contains("values are never shown"), "keys only: {}", text(&out[2]));
    assert!(text(&out[3]).contains("postgres-credentials"), "{}", text(&out[3]));
    // Accepted: the client was asked with the plan, and the plan was applied.
    let asked = out[4]["elicited"][0]["message"].as_str().unwrap_or_default();
    assert!(asked.contains(&format!("replicas 1 → {accepted}")) && asked.contains("deployment/web"), "the plan is what the user is asked: {}", out[4]);
    assert!(text(&out[4]).starts_with("applied after the user confirmed"), "{}", out[4]);
    assert_eq!(replicas(sandbox, "web").await, accepted, "the accepted plan was applied");
    // Declined: asked, not applied.
    assert!(out[5]["elicited"][0]["message"].as_str().unwrap_or_default().contains("deployment/redis"), "{}", out[5]);
    assert!(text(&out[5]).starts_with("not applied: the user declined it"), "{}", out[5]);
    assert_eq!(replicas(sandbox, "redis").await, 1, "a declined plan changes nothing");
    // Shell metacharacters: refused before any request, as an error the model reads.
    assert_eq!(out[6]["isError"], true);
    assert!(text(&out[6]).contains("invalid target name \"web; rm -rf /\""), "{}", out[6]);
    assert_eq!(out[7]["resources"], json!(["kdeck://diagnosis/demo"]));
    assert!(out[8]["text"].as_str().unwrap_or_default().contains("\"rule\": \"localhost-dependency\""), "{}", out[8]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_drives_kdeck_mcp_over_stdio() {
    let Some(python) = python_with_mcp() else { return };
    let sandbox = TestSandbox::start_seeded("mcpstdio", "demo");
    let kdeck = common::BIN;
    let serve = [kdeck, "mcp", "--context", "mcpstdio", "-n", "demo"];

    // Read-only by default: no change tool listed, a change called anyway is refused.
    let read_only = [&["stdio"][..], &serve[..]].concat();
    let out = client(
        &python,
        &sandbox,
        &read_only,
        json!([{"do": "list_tools"}, {"do": "call", "tool": "scale", "arguments": {"target": "deploy/redis", "replicas": 3}, "confirm": "accept"}]),
    );
    let tools = out[0]["tools"].as_array().unwrap();
    assert!(tools.contains(&json!("diagnose")) && !tools.contains(&json!("scale")), "read tools only: {tools:?}");
    assert_eq!(out[1]["isError"], true, "{}", out[1]);
    assert!(text(&out[1]).contains("only reads") && text(&out[1]).contains("--allow-changes"), "{}", out[1]);
    assert_eq!(out[1]["elicited"], json!([]), "nothing was even planned");
    assert_eq!(replicas(&sandbox, "redis").await, 1);

    let allowed = [&read_only[..], &["--allow-changes"][..]].concat();
    let out = client(&python, &sandbox, &allowed, change_steps(2, 3));
    check_change_steps(&sandbox, &out, 2).await;

    // A client without elicitation gets the plan, never an apply.
    let out = client(
        &python,
        &sandbox,
        &allowed,
        json!([{"do": "no_elicitation_call", "tool": "scale", "arguments": {"target": "deploy/redis", "replicas": 4, "namespace": "demo"}}]),
    );
    assert!(text(&out[0]).contains("cannot ask its user to confirm") && text(&out[0]).contains("replicas 1 → 4"), "{}", out[0]);
    assert_eq!(replicas(&sandbox, "redis").await, 1, "no confirmation, no change");
}

#[test]
fn malformed_json_rpc_on_stdio_is_answered_with_an_error_and_the_server_goes_on() {
    let sandbox = TestSandbox::start_seeded("mcpbad", "demo");
    let mut child = sandbox.kdeck().args(["mcp", "--context", "mcpbad"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "1"}}});
    let lines = [
        "this is not json".to_string(),
        "{\"jsonrpc\": \"2.0\", \"id\": 7, \"method\": 12}".to_string(),
        initialize.to_string(),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string(),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "no_such_tool", "arguments": {}}}).to_string(),
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"}).to_string(),
    ];
    for line in &lines {
        writeln!(stdin, "{line}").unwrap();
    }
    stdin.flush().unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut answers: Vec<Value> = Vec::new();
    let started = std::time::Instant::now();
    // Requests are handled concurrently: answers may come in any order.
    while !(answers.iter().any(|a| a["id"] == 2) && answers.iter().any(|a| a["id"] == 3)) && started.elapsed() < Duration::from_secs(30) {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if let Ok(answer) = serde_json::from_str(&line) {
            answers.push(answer);
        }
    }
    drop(stdin);
    let _ = child.kill();
    let _ = child.wait();
    let by_id = |id: i64| answers.iter().find(|a| a["id"] == id).cloned().unwrap_or(Value::Null);
    assert!(by_id(1)["result"]["serverInfo"]["name"] == "kdeck", "initialize after garbage still works: {answers:?}");
    assert!(by_id(2)["error"]["message"].as_str().unwrap_or_default().contains("unknown tool"), "{answers:?}");
    assert!(answers.iter().any(|a| a["error"]["code"] == -32600 || a["error"]["code"] == -32700), "garbage is answered with an error: {answers:?}");
    assert!(by_id(3)["result"]["tools"].as_array().is_some_and(|t| !t.is_empty()), "the server goes on: {answers:?}");
}

/// Starts `kdeck mcp --transport http`; the process, its URL and token.
fn start_http(sandbox: &TestSandbox, extra: &[&str]) -> (std::process::Child, String, String) {
    let mut child = sandbox
        .kdeck()
        .args(["mcp", "--transport", "http", "--listen", "127.0.0.1:0", "--context", "mcphttp", "-n", "demo"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stderr.take().unwrap());
    let (mut url, mut token) = (String::new(), String::new());
    let mut line = String::new();
    while token.is_empty() && reader.read_line(&mut line).unwrap_or(0) > 0 {
        if let Some(rest) = line.split("at http://").nth(1) {
            url = format!("http://{}", rest.split_whitespace().next().unwrap_or_default());
        }
        if let Some(rest) = line.strip_prefix("kdeck mcp: bearer token: ") {
            token = rest.trim().to_string();
        }
        line.clear();
    }
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    assert!(url.ends_with("/mcp") && token.len() == 64, "url {url:?}, token {token:?}");
    (child, url, token)
}

/// A raw HTTP POST; the status code and the body.
fn post(url: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let address = url.trim_start_matches("http://").split('/').next().unwrap();
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut request = format!(
        "POST /mcp HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let status = answer.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, answer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_drives_kdeck_mcp_over_streamable_http_with_a_token_and_loopback_origins() {
    let Some(python) = python_with_mcp() else { return };
    let sandbox = TestSandbox::start_seeded("mcphttp", "demo");
    let (mut server, url, token) = start_http(&sandbox, &["--allow-changes"]);

    let out = client(&python, &sandbox, &["http", &url, &token], change_steps(3, 2));
    check_change_steps(&sandbox, &out, 3).await;

    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "1"}}})
    .to_string();
    let bearer = format!("Bearer {token}");
    let (status, body) = post(&url, &[], &initialize);
    assert_eq!(status, 401, "no token: {body}");
    assert!(body.to_ascii_lowercase().contains("www-authenticate: bearer"), "{body}");
    assert_eq!(post(&url, &[("Authorization", "Bearer wrong")], &initialize).0, 401);
    let (status, body) = post(&url, &[("Authorization", &bearer), ("Origin", "http://evil.example")], &initialize);
    assert_eq!(status, 403, "a foreign Origin is refused (DNS rebinding): {body}");
    let (status, body) = post(&url, &[("Authorization", &bearer), ("Origin", "http://localhost:6274")], &initialize);
    assert_eq!(status, 200, "a loopback Origin with the token passes: {body}");
    let (status, body) = post(&url, &[("Authorization", &bearer)], "{not json");
    assert!((400..500).contains(&status), "malformed JSON-RPC is a client error, not a crash: {status} {body}");
    assert_eq!(post(&url, &[("Authorization", &bearer)], &initialize).0, 200, "and the server goes on");
    assert!(server.try_wait().unwrap().is_none(), "kdeck mcp is still running");
    let _ = server.kill();
    let _ = server.wait();

    // Only loopback addresses are served.
    let out = sandbox.run(&["mcp", "--transport", "http", "--listen", "0.0.0.0:0", "--context", "mcphttp"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a loopback address"), "{}", String::from_utf8_lossy(&out.stderr));
}
