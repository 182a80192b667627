//! Language models, defined once for every command that may use one (`kdeck
//! diagnose --explain` and `kdeck ask`, which calls kdeck's tools through the
//! providers' tool calling): an OpenAI-compatible endpoint
//! (OpenAI, Azure, vLLM, LM Studio, llama.cpp's server, Ollama's OpenAI API),
//! Anthropic, or Ollama.
//!
//! Settings come from flags, else the environment (`KDECK_LLM_PROVIDER`,
//! `KDECK_LLM_MODEL`, `OPENAI_BASE_URL`, `OPENAI_API_KEY`, `ANTHROPIC_API_KEY`,
//! `OLLAMA_HOST`), else the `llm:` section of kdeck.yaml. API keys come only from
//! the environment and are never printed. Nothing here is called unless a command
//! was asked to use a model; callers send only text that went through redaction.
//!
//! Requests go through kube's HTTP client (hyper with rustls, already in the
//! binary): a kube `Client` pointed at the model's base URL is a plain HTTPS client.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// How long one answer may take.
const TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Any OpenAI-compatible chat completions endpoint.
    Openai,
    Anthropic,
    /// Ollama, through its OpenAI-compatible API.
    Ollama,
}

/// The `llm:` section of kdeck.yaml.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LlmConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<Provider>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The endpoint's base URL (`https://api.openai.com/v1`, `http://localhost:11434`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
}

/// What the command line says (flags win over the environment and the file).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct LlmArgs {
    /// The model provider (else KDECK_LLM_PROVIDER, else kdeck.yaml's llm.provider).
    #[arg(long, value_enum, value_name = "PROVIDER")]
    pub llm_provider: Option<Provider>,
    /// The model (else KDECK_LLM_MODEL, else llm.model, else the provider's small default).
    #[arg(long, value_name = "MODEL")]
    pub llm_model: Option<String>,
    /// The endpoint (else OPENAI_BASE_URL / OLLAMA_HOST, else llm.baseUrl, else the provider's).
    #[arg(long, value_name = "URL")]
    pub llm_base_url: Option<String>,
}

/// A model to talk to.
#[derive(Clone)]
pub struct Model {
    pub provider: Provider,
    pub model: String,
    pub base_url: String,
    api_key: Option<String>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} {} at {} (key {})", self.provider, self.model, self.base_url, if self.api_key.is_some() { "set" } else { "unset" })
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

impl Model {
    /// The model the flags, the environment and the project name, in that order.
    pub fn resolve(args: &LlmArgs, file: Option<&LlmConfig>) -> Result<Model, String> {
        let file = file.cloned().unwrap_or_default();
        let provider = match (args.llm_provider, env("KDECK_LLM_PROVIDER"), file.provider) {
            (Some(p), _, _) => p,
            (None, Some(text), _) => match text.to_ascii_lowercase().as_str() {
                "openai" => Provider::Openai,
                "anthropic" => Provider::Anthropic,
                "ollama" => Provider::Ollama,
                other => return Err(format!("KDECK_LLM_PROVIDER={other:?} is not a provider kdeck knows: openai, anthropic or ollama")),
            },
            (None, None, Some(p)) => p,
            (None, None, None) => {
                return Err(
                    "no model is configured: set KDECK_LLM_PROVIDER (openai, anthropic, ollama) or llm.provider in kdeck.yaml, or pass --llm-provider".into()
                );
            }
        };
        let (default_model, env_url, default_url, key_var) = match provider {
            Provider::Openai => ("gpt-4o-mini", env("OPENAI_BASE_URL"), "https://api.openai.com/v1", Some("OPENAI_API_KEY")),
            Provider::Anthropic => ("claude-3-5-haiku-latest", None, "https://api.anthropic.com", Some("ANTHROPIC_API_KEY")),
            Provider::Ollama => {
                ("llama3.1", env("OLLAMA_HOST").map(|h| if h.contains("://") { h } else { format!("http://{h}") }), "http://localhost:11434", None)
            }
        };
        let model = args.llm_model.clone().or_else(|| env("KDECK_LLM_MODEL")).or(file.model).unwrap_or_else(|| default_model.to_string());
        let base_url = args.llm_base_url.clone().or(env_url).or(file.base_url).unwrap_or_else(|| default_url.to_string());
        let base_url = base_url.trim_end_matches('/').to_string();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(format!("the model endpoint {base_url:?} is not an http:// or https:// URL"));
        }
        let api_key = key_var.and_then(env);
        if provider == Provider::Anthropic && api_key.is_none() {
            return Err("ANTHROPIC_API_KEY is not set".into());
        }
        Ok(Model { provider, model, base_url, api_key })
    }

    /// The model's answer to `user` under `system`, as text.
    pub async fn complete(&self, system: &str, user: &str) -> Result<String, String> {
        let reply = self.chat(system, &[Message::User(user.to_string())], &[]).await?;
        reply.text.filter(|t| !t.is_empty()).ok_or_else(|| "the model's answer has no text".to_string())
    }

    /// One turn of a conversation with tools: the model's text and the tools it calls.
    pub async fn chat(&self, system: &str, messages: &[Message], tools: &[ToolSpec]) -> Result<Reply, String> {
        let (path, body) = match self.provider {
            Provider::Anthropic => ("/v1/messages", self.anthropic_body(system, messages, tools)),
            Provider::Openai | Provider::Ollama => {
                let path = if self.provider == Provider::Ollama && !self.base_url.ends_with("/v1") { "/v1/chat/completions" } else { "/chat/completions" };
                (path, self.openai_body(system, messages, tools))
            }
        };
        let text = self.post(path, &body).await?;
        let answer: Value = serde_json::from_str(&text).map_err(|_| format!("the model endpoint answered something that is not JSON: {}", short(&text)))?;
        if let Some(error) = answer.get("error").filter(|e| !e.is_null()) {
            let message = error["message"].as_str().map(str::to_string).unwrap_or_else(|| error.to_string());
            return Err(format!("the model endpoint answered an error: {}", short(&message)));
        }
        let reply = match self.provider {
            Provider::Anthropic => anthropic_reply(&answer),
            _ => openai_reply(&answer),
        };
        reply.ok_or_else(|| format!("the model's answer has neither text nor tool calls: {}", short(&text)))
    }

    fn openai_body(&self, system: &str, messages: &[Message], tools: &[ToolSpec]) -> Value {
        let mut sent = vec![json!({"role": "system", "content": system})];
        for message in messages {
            match message {
                Message::User(text) => sent.push(json!({"role": "user", "content": text})),
                Message::Assistant(reply) => {
                    let calls: Vec<Value> = reply
                        .calls
                        .iter()
                        .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.raw_arguments}}))
                        .collect();
                    let mut m = json!({"role": "assistant", "content": reply.text});
                    if !calls.is_empty() {
                        m["tool_calls"] = Value::Array(calls);
                    }
                    sent.push(m);
                }
                Message::ToolResult { id, content, .. } => sent.push(json!({"role": "tool", "tool_call_id": id, "content": content})),
            }
        }
        let mut body = json!({"model": self.model, "temperature": 0, "messages": sent});
        if !tools.is_empty() {
            body["tools"] = tools
                .iter()
                .map(|t| json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}))
                .collect();
        }
        body
    }

    fn anthropic_body(&self, system: &str, messages: &[Message], tools: &[ToolSpec]) -> Value {
        let mut sent: Vec<Value> = Vec::new();
        for message in messages {
            match message {
                Message::User(text) => sent.push(json!({"role": "user", "content": text})),
                Message::Assistant(reply) => {
                    let mut blocks: Vec<Value> = reply.text.iter().filter(|t| !t.is_empty()).map(|t| json!({"type": "text", "text": t})).collect();
                    blocks.extend(reply.calls.iter().map(|c| {
                        let input = c.arguments.clone().ok().filter(Value::is_object).unwrap_or_else(|| json!({}));
                        json!({"type": "tool_use", "id": c.id, "name": c.name, "input": input})
                    }));
                    sent.push(json!({"role": "assistant", "content": blocks}));
                }
                Message::ToolResult { id, content, .. } => {
                    let block = json!({"type": "tool_result", "tool_use_id": id, "content": content});
                    // Results of one turn's calls go together in one user message.
                    let open = sent.last_mut().filter(|last| last["role"] == "user").and_then(|last| last["content"].as_array_mut());
                    match open {
                        Some(blocks) => blocks.push(block),
                        None => sent.push(json!({"role": "user", "content": [block]})),
                    }
                }
            }
        }
        let mut body = json!({"model": self.model, "max_tokens": 1500, "system": system, "messages": sent});
        if !tools.is_empty() {
            body["tools"] = tools.iter().map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters})).collect();
        }
        body
    }

    /// POSTs `body` to the endpoint's `path`; the answer's text.
    async fn post(&self, path: &str, body: &Value) -> Result<String, String> {
        let mut config = kube::Config::new(self.base_url.parse().map_err(|e| format!("the model endpoint {:?}: {e}", self.base_url))?);
        config.read_timeout = Some(TIMEOUT);
        config.connect_timeout = Some(Duration::from_secs(10));
        let client = kube::Client::try_from(config).map_err(|e| format!("cannot reach the model endpoint: {e}"))?;
        let mut request = http::Request::post(path).header("content-type", "application/json");
        match (self.provider, &self.api_key) {
            (Provider::Anthropic, Some(key)) => request = request.header("x-api-key", key).header("anthropic-version", "2023-06-01"),
            (_, Some(key)) => request = request.header("authorization", format!("Bearer {key}")),
            _ => {}
        }
        let request = request.body(serde_json::to_vec(body).unwrap_or_default()).map_err(|e| e.to_string())?;
        tokio::time::timeout(TIMEOUT, client.request_text(request))
            .await
            .map_err(|_| format!("the model did not answer within {}s", TIMEOUT.as_secs()))?
            .map_err(|e| format!("the model endpoint {} failed: {}", self.base_url, short(&e.to_string())))
    }
}

/// A tool as a model is offered it.
#[derive(Clone, Debug)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// The JSON schema of its arguments.
    pub parameters: Value,
}

/// A tool the model asks to call.
#[derive(Clone, Debug)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The arguments as the model wrote them.
    pub raw_arguments: String,
    /// Parsed, or why they are not JSON.
    pub arguments: Result<Value, String>,
}

/// What the model answered in one turn.
#[derive(Clone, Debug, Default)]
pub struct Reply {
    pub text: Option<String>,
    pub calls: Vec<ToolCall>,
}

/// A message of a conversation after the system prompt.
#[derive(Clone, Debug)]
pub enum Message {
    User(String),
    Assistant(Reply),
    ToolResult { id: String, name: String, content: String },
}

fn parse_arguments(raw: &str) -> Result<Value, String> {
    match serde_json::from_str::<Value>(if raw.trim().is_empty() { "{}" } else { raw }) {
        Ok(value) if value.is_object() => Ok(value),
        Ok(_) => Err("the arguments are not a JSON object".into()),
        Err(e) => Err(format!("the arguments are not JSON: {e}")),
    }
}

fn openai_reply(answer: &Value) -> Option<Reply> {
    let message = &answer["choices"][0]["message"];
    if !message.is_object() {
        return None;
    }
    let text = message["content"].as_str().map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
    let calls: Vec<ToolCall> = message["tool_calls"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, c)| {
            let raw = match &c["function"]["arguments"] {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            ToolCall {
                id: c["id"].as_str().map(str::to_string).unwrap_or_else(|| format!("call-{i}")),
                name: c["function"]["name"].as_str().unwrap_or_default().to_string(),
                arguments: parse_arguments(&raw),
                raw_arguments: raw,
            }
        })
        .collect();
    (text.is_some() || !calls.is_empty()).then_some(Reply { text, calls })
}

fn anthropic_reply(answer: &Value) -> Option<Reply> {
    let blocks = answer["content"].as_array()?;
    let text: Vec<&str> = blocks.iter().filter(|b| b["type"] == "text").filter_map(|b| b["text"].as_str()).collect();
    let text = Some(text.join("\n").trim().to_string()).filter(|t| !t.is_empty());
    let calls: Vec<ToolCall> = blocks
        .iter()
        .filter(|b| b["type"] == "tool_use")
        .map(|b| {
            let input = b["input"].clone();
            ToolCall {
                id: b["id"].as_str().unwrap_or_default().to_string(),
                name: b["name"].as_str().unwrap_or_default().to_string(),
                raw_arguments: input.to_string(),
                arguments: if input.is_object() { Ok(input) } else { Err("the arguments are not a JSON object".into()) },
            }
        })
        .collect();
    (text.is_some() || !calls.is_empty()).then_some(Reply { text, calls })
}

/// At most 200 characters of a message from elsewhere.
fn short(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &one_line[..at]),
        None => one_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_calls_are_read_from_both_formats_and_bad_arguments_kept_as_errors() {
        let openai = json!({"choices": [{"message": {"content": null, "tool_calls": [
            {"id": "a", "function": {"name": "diagnose", "arguments": "{\"namespace\": \"demo\"}"}},
            {"id": "b", "function": {"name": "scale", "arguments": "{not json"}}]}}]});
        let reply = openai_reply(&openai).unwrap();
        assert_eq!(reply.calls[0].arguments, Ok(json!({"namespace": "demo"})));
        assert!(reply.calls[1].arguments.as_ref().unwrap_err().contains("not JSON"));
        let anthropic = json!({"content": [{"type": "text", "text": "Looking."}, {"type": "tool_use", "id": "t1", "name": "list", "input": {"kind": "pods"}}]});
        let reply = anthropic_reply(&anthropic).unwrap();
        assert_eq!((reply.text.as_deref(), reply.calls[0].name.as_str()), (Some("Looking."), "list"));
        assert!(openai_reply(&json!({"choices": []})).is_none(), "neither text nor calls");
    }

    #[test]
    fn tool_results_are_sent_in_each_providers_shape() {
        let call = ToolCall { id: "t1".into(), name: "list".into(), raw_arguments: "{}".into(), arguments: Ok(json!({})) };
        let messages = vec![
            Message::User("q".into()),
            Message::Assistant(Reply { text: None, calls: vec![call.clone(), ToolCall { id: "t2".into(), ..call }] }),
            Message::ToolResult { id: "t1".into(), name: "list".into(), content: "r1".into() },
            Message::ToolResult { id: "t2".into(), name: "list".into(), content: "r2".into() },
        ];
        let model = |provider| Model { provider, model: "m".into(), base_url: "http://x".into(), api_key: None };
        let anthropic = model(Provider::Anthropic).anthropic_body("s", &messages, &[]);
        assert_eq!(anthropic["messages"].as_array().unwrap().len(), 3, "both results in one user turn: {anthropic}");
        assert_eq!(anthropic["messages"][2]["content"][1]["tool_use_id"], "t2");
        let openai = model(Provider::Openai).openai_body("s", &messages, &[]);
        assert_eq!(openai["messages"][2]["tool_calls"][1]["id"], "t2");
        assert_eq!(openai["messages"][4], json!({"role": "tool", "tool_call_id": "t2", "content": "r2"}));
    }
}
