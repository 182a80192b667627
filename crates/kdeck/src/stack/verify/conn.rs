//! `tcp`, `postgres` and `redis` checks over a port-forward kdeck opens itself,
//! speaking the protocols' first words with no client binary:
//!
//! - `tcp`: the forward connects (the kubelet dials the pod's port when the forward
//!   opens; a refusal comes back on the forward's error channel).
//! - `postgres`: a StartupMessage (protocol 3.0, user and database `postgres`),
//!   judged as `pg_isready` (libpq's `PQping`) judges it: an authentication request
//!   (`R`) or an error other than `57P03` (cannot connect now) means the server
//!   accepts connections; `57P03` means it rejects them; no answer is no response.
//! - `redis`: `PING` in RESP, expecting `+PONG`; `-NOAUTH` without a password is
//!   "needs AUTH"; with `passwordSecret`, `AUTH` first. The password is read from
//!   the Secret and never shown (any server text is redacted before it is).

use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::ResourceExt;
use kube::api::Api;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::cluster::Cluster;
use crate::project::stack::SecretKey;
use crate::stack::tunnel::Forward;

/// How long a silent server is given to refuse before the connection counts as open.
const SETTLE: Duration = Duration::from_millis(700);

pub async fn tcp(forward: &mut Forward) -> Result<String, String> {
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(SETTLE, forward.stream.read(&mut byte)).await;
    match read {
        // Silent and still open: what a listening server that waits for the client does.
        Err(_) => Ok(format!("port {} of pod {} accepts connections", forward.port, forward.pod)),
        Ok(Ok(n)) if n > 0 => Ok(format!("port {} of pod {} accepts connections (the server spoke first)", forward.port, forward.pod)),
        Ok(Ok(_)) => match forward.error(Duration::from_secs(1)).await {
            Some(error) => Err(error),
            None => Ok(format!("port {} of pod {} accepted the connection (and closed it)", forward.port, forward.pod)),
        },
        Ok(Err(e)) => Err(format!("port {} of pod {}: {e}", forward.port, forward.pod)),
    }
}

/// A note for a check through svc/`service` port `port` that failed on port
/// `on_pod` of `pod`, when no container of the pod declares that port (and some
/// port is declared): the Service's targetPort may be wrong.
pub fn undeclared_target(service: &str, port: u16, pod: &Pod, on_pod: u16) -> Option<String> {
    let declared: Vec<i32> = pod.spec.iter().flat_map(|s| &s.containers).flat_map(|c| c.ports.iter().flatten()).map(|p| p.container_port).collect();
    if declared.is_empty() || declared.contains(&i32::from(on_pod)) {
        return None;
    }
    let declared: Vec<String> = declared.iter().map(i32::to_string).collect();
    Some(format!(
        "svc/{service} sends port {port} to port {on_pod}, which no container of pod {} declares (they declare {}): the Service's targetPort may be wrong",
        pod.name_any(),
        declared.join(", ")
    ))
}

/// The StartupMessage pg_isready sends (protocol 3.0), for user and database `postgres`.
pub fn startup_message() -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&196_608u32.to_be_bytes());
    for (key, value) in [("user", "postgres"), ("database", "postgres"), ("application_name", "kdeck verify")] {
        body.extend_from_slice(key.as_bytes());
        body.push(0);
        body.extend_from_slice(value.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut message = u32::try_from(body.len() + 4).unwrap_or(u32::MAX).to_be_bytes().to_vec();
    message.extend_from_slice(&body);
    message
}

/// An ErrorResponse's fields: (SQLSTATE code, message).
pub fn error_fields(body: &[u8]) -> (String, String) {
    let (mut code, mut message) = (String::new(), String::new());
    for field in body.split(|b| *b == 0) {
        let Some((&tag, value)) = field.split_first() else { continue };
        let value = String::from_utf8_lossy(value).to_string();
        match tag {
            b'C' => code = value,
            b'M' => message = value,
            _ => {}
        }
    }
    (code, message)
}

/// What pg_isready would say of the server's first answer (its tag and body).
pub fn judge_postgres(tag: u8, body: &[u8]) -> Result<String, String> {
    match tag {
        b'R' => Ok("accepting connections (the server asked for authentication)".into()),
        b'v' => Ok("accepting connections (the server negotiated the protocol version)".into()),
        b'E' => {
            let (code, message) = error_fields(body);
            if code == "57P03" {
                Err(format!("rejecting connections: {message} (57P03)"))
            } else {
                Ok(format!("accepting connections (the server answered {code}: {message})"))
            }
        }
        other => Err(format!(
            "not a PostgreSQL answer: a message starting with byte 0x{other:02x}, where an authentication request (R) or an error (E) was expected"
        )),
    }
}

pub async fn postgres(forward: &mut Forward) -> Result<String, String> {
    let io = |e: std::io::Error| e.to_string();
    if let Err(e) = forward.stream.write_all(&startup_message()).await {
        return Err(format!("sending the startup message: {}", io(e)));
    }
    let mut tag = [0u8; 1];
    match forward.stream.read(&mut tag).await {
        Ok(0) => return Err(format!("no response: {}", forward.why_closed().await)),
        Ok(_) => {}
        Err(e) => return Err(format!("no response: {}", io(e))),
    }
    let length = forward.stream.read_u32().await.map_err(|e| format!("a cut-short answer: {}", io(e)))?;
    let length = usize::try_from(length).unwrap_or(usize::MAX).saturating_sub(4).min(64 * 1024);
    let mut body = vec![0u8; length];
    forward.stream.read_exact(&mut body).await.map_err(|e| format!("a cut-short answer: {}", io(e)))?;
    judge_postgres(tag[0], &body)
}

/// A RESP command.
fn command(words: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", words.len()).into_bytes();
    for word in words {
        out.extend_from_slice(format!("${}\r\n", word.len()).as_bytes());
        out.extend_from_slice(word);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// One reply line, without its `\r\n` (at most 4 KiB), with the secret redacted.
async fn reply(forward: &mut Forward, secret: Option<&str>) -> Result<String, String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\r\n") && line.len() < 4096 {
        match forward.stream.read(&mut byte).await {
            Ok(0) if line.is_empty() => return Err(format!("no response: {}", forward.why_closed().await)),
            Ok(0) => break,
            Ok(_) => line.push(byte[0]),
            Err(e) => return Err(format!("no response: {e}")),
        }
    }
    let text = String::from_utf8_lossy(&line).trim_end().to_string();
    Ok(redact(&text, secret))
}

pub use crate::redact::mask_known as redact;

/// The password from `key` of Secret `name`, for AUTH; never shown.
pub async fn password(cluster: &Cluster, namespace: &str, secret: &SecretKey) -> Result<String, String> {
    let api: Api<Secret> = Api::namespaced(cluster.client.clone(), namespace);
    let found =
        api.get_opt(&secret.name).await.map_err(|e| crate::stack::tunnel::said(&cluster.error(&format!("reading Secret {namespace}/{}", secret.name), e)))?;
    let Some(found) = found else { return Err(format!("passwordSecret: Secret {namespace}/{} not found", secret.name)) };
    let data = found.data.unwrap_or_default();
    match data.get(&secret.key) {
        Some(value) => {
            String::from_utf8(value.0.clone()).map_err(|_| format!("passwordSecret: key {} of Secret {namespace}/{} is not text", secret.key, secret.name))
        }
        None => {
            let keys: Vec<&str> = data.keys().map(String::as_str).collect();
            Err(format!("passwordSecret: Secret {namespace}/{} has no key {} (its keys: {})", secret.name, secret.key, keys.join(", ")))
        }
    }
}

/// `PING` (after `AUTH` with `password`); `from` names the Secret for messages.
pub async fn redis(forward: &mut Forward, password: Option<(&str, String)>) -> Result<String, String> {
    let secret = password.as_ref().map(|(_, p)| p.as_str());
    let mut note = String::new();
    if let Some((from, password)) = &password {
        let auth = command(&[b"AUTH", password.as_bytes()]);
        forward.stream.write_all(&auth).await.map_err(|e| format!("sending AUTH: {e}"))?;
        let answer = reply(forward, secret).await?;
        if answer.contains("without any password configured") || answer.contains("no password is set") {
            note = " (the server needs no password)".into();
        } else if answer != "+OK" {
            return Err(format!("the password from {from} was refused: {}", answer.trim_start_matches('-')));
        }
    }
    forward.stream.write_all(&command(&[b"PING"])).await.map_err(|e| format!("sending PING: {e}"))?;
    let answer = reply(forward, secret).await?;
    if answer == "+PONG" {
        return Ok(format!("PONG{note}"));
    }
    if answer.starts_with("-NOAUTH") {
        return Err("needs AUTH: the server requires a password; give passwordSecret: {name, key}".into());
    }
    Err(format!("expected +PONG, got {answer}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_startup_message_is_protocol_3() {
        let m = startup_message();
        assert_eq!(u32::from_be_bytes(m[0..4].try_into().unwrap()) as usize, m.len());
        assert_eq!(&m[4..8], &[0, 3, 0, 0]);
        assert!(m.windows(14).any(|w| w == b"user\0postgres\0"));
        assert_eq!(m.last(), Some(&0));
    }

    #[test]
    fn answers_are_judged_as_pg_isready_judges_them() {
        assert!(judge_postgres(b'R', &[0, 0, 0, 10]).is_ok());
        assert!(judge_postgres(b'E', b"SFATAL\0C28P01\0Mpassword authentication failed for user \"postgres\"\0\0").is_ok());
        let starting = judge_postgres(b'E', b"SFATAL\0C57P03\0Mthe database system is starting up\0\0").unwrap_err();
        assert_eq!(starting, "rejecting connections: the database system is starting up (57P03)");
        assert!(judge_postgres(b'H', b"").unwrap_err().contains("0x48"));
    }

    #[test]
    fn a_service_port_sent_where_the_pod_declares_none_is_noted() {
        let pod: Pod = serde_json::from_value(serde_json::json!({"metadata": {"name": "pg-0"},
            "spec": {"containers": [{"name": "pg", "ports": [{"name": "postgres", "containerPort": 5432}]}]}}))
        .unwrap();
        assert_eq!(
            undeclared_target("pg", 5432, &pod, 5433).as_deref(),
            Some("svc/pg sends port 5432 to port 5433, which no container of pod pg-0 declares (they declare 5432): the Service's targetPort may be wrong")
        );
        assert_eq!(undeclared_target("pg", 5432, &pod, 5432), None);
        let bare: Pod = serde_json::from_value(serde_json::json!({"spec": {"containers": [{"name": "pg"}]}})).unwrap();
        assert_eq!(undeclared_target("pg", 5432, &bare, 5433), None, "nothing declared: nothing to compare");
    }

    #[test]
    fn resp_commands_and_redaction() {
        assert_eq!(command(&[b"AUTH", b"pw"]), b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n");
        assert_eq!(redact("-ERR bad s3cret here", Some("s3cret")), "-ERR bad ****** here");
    }
}
