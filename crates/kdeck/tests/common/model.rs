//! A stand-in OpenAI-compatible chat completions endpoint: it answers each request
//! with what the test's responder returns for the request's body, and keeps every
//! request (head and body) it got, so a test can check what a model was sent.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

pub struct StandInModel {
    pub url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl StandInModel {
    /// Answers each request with `respond(body)` (a chat completion).
    pub async fn start(respond: impl Fn(&str) -> Value + Send + Sync + 'static) -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let respond = Arc::new(respond);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let record = record.clone();
                let respond = respond.clone();
                tokio::spawn(async move {
                    let mut buffer = Vec::new();
                    loop {
                        // One request: the head, then Content-Length bytes of body.
                        let head_end = loop {
                            if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                                break at + 4;
                            }
                            let mut chunk = [0u8; 8192];
                            match socket.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                            }
                        };
                        let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
                        let length: usize = head
                            .lines()
                            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
                            .unwrap_or(0);
                        while buffer.len() < head_end + length {
                            let mut chunk = [0u8; 8192];
                            match socket.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                            }
                        }
                        let body = String::from_utf8_lossy(&buffer[head_end..head_end + length]).to_string();
                        buffer.drain(..head_end + length);
                        record.lock().unwrap().push(format!("{head}{body}"));
                        let answer = respond(&body).to_string();
                        let response = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}", answer.len());
                        if socket.write_all(response.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        StandInModel { url, seen }
    }

    /// Answers the requests with `script` in order, then with a final "done." text.
    pub async fn scripted(script: Vec<Value>) -> Self {
        let script = Mutex::new(VecDeque::from(script));
        Self::start(move |_| script.lock().unwrap().pop_front().unwrap_or_else(|| text("done."))).await
    }

    pub fn requests(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }

    /// The bodies of the requests, parsed.
    pub fn bodies(&self) -> Vec<Value> {
        self.requests().iter().map(|r| serde_json::from_str(r.split("\r\n\r\n").nth(1).unwrap_or_default()).unwrap_or(Value::Null)).collect()
    }
}

/// A chat completion that answers with text.
pub fn text(content: &str) -> Value {
    json!({"choices": [{"message": {"role": "assistant", "content": content}}]})
}

/// A chat completion that calls tools: (name, arguments) each; arguments that are a
/// string are sent as written (malformed ones included).
pub fn calls(calls: &[(&str, Value)]) -> Value {
    let calls: Vec<Value> = calls
        .iter()
        .enumerate()
        .map(|(i, (name, arguments))| {
            let arguments = match arguments {
                Value::String(raw) => raw.clone(),
                other => other.to_string(),
            };
            json!({"id": format!("call_{i}"), "type": "function", "function": {"name": name, "arguments": arguments}})
        })
        .collect();
    json!({"choices": [{"message": {"role": "assistant", "content": null, "tool_calls": calls}}]})
}
