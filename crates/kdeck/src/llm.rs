//! Language models, defined once for every command that may use one (`kdeck
//! diagnose --explain` now, `kdeck ask` later): an OpenAI-compatible endpoint
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
        let (path, body) = match self.provider {
            Provider::Anthropic => {
                ("/v1/messages", json!({"model": self.model, "max_tokens": 600, "system": system, "messages": [{"role": "user", "content": user}]}))
            }
            Provider::Openai | Provider::Ollama => {
                let path = if self.provider == Provider::Ollama && !self.base_url.ends_with("/v1") { "/v1/chat/completions" } else { "/chat/completions" };
                (path, json!({"model": self.model, "temperature": 0, "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}]}))
            }
        };
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
        let request = request.body(serde_json::to_vec(&body).unwrap_or_default()).map_err(|e| e.to_string())?;
        let text = tokio::time::timeout(TIMEOUT, client.request_text(request))
            .await
            .map_err(|_| format!("the model did not answer within {}s", TIMEOUT.as_secs()))?
            .map_err(|e| format!("the model endpoint {} failed: {}", self.base_url, short(&e.to_string())))?;
        let answer: Value = serde_json::from_str(&text).map_err(|_| format!("the model endpoint answered something that is not JSON: {}", short(&text)))?;
        let content = match self.provider {
            Provider::Anthropic => answer["content"][0]["text"].as_str(),
            _ => answer["choices"][0]["message"]["content"].as_str(),
        };
        content.map(|c| c.trim().to_string()).filter(|c| !c.is_empty()).ok_or_else(|| format!("the model's answer has no text: {}", short(&text)))
    }
}

/// At most 200 characters of a message from elsewhere.
fn short(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &one_line[..at]),
        None => one_line,
    }
}
