//! A `postgres` check with credentials: logs in as libpq does — trust, cleartext
//! `password`, `md5` or `SCRAM-SHA-256` (the server's signature checked), whatever
//! the server asks for — then runs `SELECT 1` and expects the row `1`. No client
//! binary; the password comes from a Secret and is never shown (the caller
//! redacts every line with it as well).

use rand::Rng;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::conn::error_fields;

/// Who logs in: user, database, and the password with where it came from.
pub struct Login<'a> {
    pub user: &'a str,
    pub database: &'a str,
    pub password: Option<(&'a str, &'a str)>,
}

/// One backend message: its tag and body (at most 1 MiB).
async fn receive(stream: &mut (impl AsyncRead + Unpin)) -> Result<(u8, Vec<u8>), String> {
    let tag = stream.read_u8().await.map_err(|e| format!("no response: {e}"))?;
    let length = stream.read_u32().await.map_err(|e| format!("a cut-short answer: {e}"))?;
    let length = usize::try_from(length).unwrap_or(usize::MAX).saturating_sub(4);
    if length > 1 << 20 {
        return Err(format!("not a PostgreSQL answer: a message of {length} bytes"));
    }
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.map_err(|e| format!("a cut-short answer: {e}"))?;
    Ok((tag, body))
}

/// A frontend message: a tag (none for the startup message) and its body.
async fn send(stream: &mut (impl AsyncWrite + Unpin), tag: Option<u8>, body: &[u8]) -> Result<(), String> {
    let mut message = Vec::with_capacity(body.len() + 5);
    message.extend(tag);
    message.extend_from_slice(&u32::try_from(body.len() + 4).unwrap_or(u32::MAX).to_be_bytes());
    message.extend_from_slice(body);
    stream.write_all(&message).await.map_err(|e| format!("sending to the server: {e}"))
}

fn cstrings(pairs: &[&str]) -> Vec<u8> {
    pairs.iter().flat_map(|s| s.bytes().chain(std::iter::once(0))).collect()
}

fn be_u32(body: &[u8]) -> u32 {
    body.get(..4).map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// The server's error, worded for the check: a refused login names where the
/// password came from (never the password).
fn refused(body: &[u8], login: &Login<'_>) -> String {
    let (code, message) = error_fields(body);
    match (code.as_str(), login.password) {
        ("28P01" | "28000", Some((from, _))) => format!("the database refused the credentials from {from}: {message} ({code})"),
        _ => format!("{message} ({code})"),
    }
}

/// Logs in and runs `SELECT 1`; says what answered.
pub async fn select_one(stream: &mut (impl AsyncRead + AsyncWrite + Unpin), login: &Login<'_>) -> Result<String, String> {
    let mut startup = 196_608u32.to_be_bytes().to_vec();
    startup.extend(cstrings(&["user", login.user, "database", login.database, "application_name", "kdeck verify"]));
    startup.push(0);
    send(stream, None, &startup).await?;
    let password = || login.password.map(|(_, p)| p).ok_or_else(|| "the server asks for a password: give the check a passwordSecret".to_string());
    let mut scram: Option<(String, String)> = None;
    let mut expected_final = None;
    let mut method = "trust";
    loop {
        let (tag, body) = receive(stream).await?;
        match (tag, be_u32(&body)) {
            (b'R', 0) => {}
            (b'R', 3) => {
                method = "password";
                send(stream, Some(b'p'), &cstrings(&[password()?])).await?;
            }
            (b'R', 5) => {
                method = "md5";
                let salt = body.get(4..8).ok_or("a cut-short md5 request")?;
                let inner = kdeck_sandbox::md5::hex(&kdeck_sandbox::md5::digest(format!("{}{}", password()?, login.user).as_bytes()));
                let mut outer = inner.into_bytes();
                outer.extend_from_slice(salt);
                let answer = format!("md5{}", kdeck_sandbox::md5::hex(&kdeck_sandbox::md5::digest(&outer)));
                send(stream, Some(b'p'), &cstrings(&[&answer])).await?;
            }
            (b'R', 10) => {
                method = "SCRAM-SHA-256";
                let offered = String::from_utf8_lossy(&body[4..]).split('\0').any(|m| m == "SCRAM-SHA-256");
                if !offered {
                    return Err("the server offers no SASL mechanism kdeck speaks (SCRAM-SHA-256)".into());
                }
                password()?;
                let nonce: String = rand::rng().sample_iter(rand::distr::Alphanumeric).take(24).map(char::from).collect();
                let first_bare = format!("n=,r={nonce}");
                let first = format!("n,,{first_bare}");
                let mut initial = cstrings(&["SCRAM-SHA-256"]);
                initial.extend_from_slice(&u32::try_from(first.len()).unwrap_or(0).to_be_bytes());
                initial.extend_from_slice(first.as_bytes());
                send(stream, Some(b'p'), &initial).await?;
                scram = Some((first_bare, nonce));
            }
            (b'R', 11) => {
                let (first_bare, nonce) = scram.as_ref().ok_or("a SCRAM continuation before it started")?;
                let server_first = String::from_utf8_lossy(&body[4..]).to_string();
                let server_nonce = server_first.split(',').next().and_then(|r| r.strip_prefix("r=")).unwrap_or_default().to_string();
                if !server_nonce.starts_with(nonce.as_str()) {
                    return Err("the server's SCRAM nonce does not extend kdeck's".into());
                }
                let without_proof = format!("c=biws,r={server_nonce}");
                let (proof, verifier) = kdeck_sandbox::network::simulated::scram::client::proof(password()?, first_bare, &server_first, &without_proof)
                    .ok_or("a malformed SCRAM message from the server")?;
                expected_final = Some(verifier);
                send(stream, Some(b'p'), format!("{without_proof},p={proof}").as_bytes()).await?;
            }
            (b'R', 12) => {
                if expected_final.as_deref() != Some(String::from_utf8_lossy(&body[4..]).as_ref()) {
                    return Err("the server's SCRAM signature is wrong: it does not know the password".into());
                }
            }
            (b'R', other) => return Err(format!("the server asks for an authentication kdeck does not speak (code {other})")),
            (b'E', _) => return Err(refused(&body, login)),
            (b'Z', _) => break,
            // ParameterStatus, BackendKeyData, notices.
            (b'S' | b'K' | b'N', _) => {}
            (other, _) => return Err(format!("not a PostgreSQL answer: a message starting with byte 0x{other:02x}")),
        }
    }
    send(stream, Some(b'Q'), &cstrings(&["SELECT 1"])).await?;
    let mut value = None;
    loop {
        let (tag, body) = receive(stream).await?;
        match tag {
            b'D' => {
                // One column: its length, then its text.
                let length = usize::try_from(be_u32(body.get(2..).unwrap_or_default())).unwrap_or(0);
                value = body.get(6..6 + length).map(|v| String::from_utf8_lossy(v).to_string());
            }
            b'E' => return Err(format!("SELECT 1 failed: {}", refused(&body, login))),
            b'Z' => break,
            _ => {}
        }
    }
    let _ = send(stream, Some(b'X'), &[]).await;
    match value.as_deref() {
        Some("1") => Ok(format!("SELECT 1 answered 1 (user {}, database {}, {method} authentication)", login.user, login.database)),
        Some(other) => Err(format!("SELECT 1 answered {other:?}, not 1")),
        None => Err("SELECT 1 answered no row".into()),
    }
}
