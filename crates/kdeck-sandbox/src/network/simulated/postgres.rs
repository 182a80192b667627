//! The simulated PostgreSQL server: the frontend/backend protocol 3.0 up to a
//! session, and the smallest queries health checks send.
//!
//! - `SSLRequest` and `GSSENCRequest` are answered `N` (no TLS, no GSSAPI);
//!   `CancelRequest` closes; protocol 3.x newer than 3.0 gets
//!   `NegotiateProtocolVersion`.
//! - Authentication as the official image sets it up (`POSTGRES_HOST_AUTH_METHOD`,
//!   else `scram-sha-256` from PostgreSQL 14 on and `md5` before): `trust`,
//!   `password` (cleartext), `md5` or `scram-sha-256`, against `POSTGRES_USER`
//!   (default `postgres`) and `POSTGRES_PASSWORD` as the kubelet resolves them
//!   (Bitnami's `POSTGRESQL_USERNAME`/`POSTGRESQL_PASSWORD` too). A wrong password
//!   is `28P01 password authentication failed for user "…"`; another database than
//!   `POSTGRES_DB`, `postgres` or `template1` is `3D000`.
//! - Then `ParameterStatus` (server_version from the image tag, client_encoding,
//!   …), `BackendKeyData` and `ReadyForQuery`.
//! - Queries, simple or extended protocol: `SELECT 1` (any case, spacing,
//!   semicolons), `SELECT version()`, `SET …` (accepted, no effect) and empty
//!   queries. Anything else is an `ErrorResponse` saying so: there is no database.

use std::collections::HashMap;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::scram::Exchange;
use crate::network::Conn;
use crate::rest::Rest;

const SSL_REQUEST: u32 = 80_877_103;
const GSSENC_REQUEST: u32 = 80_877_104;
const CANCEL_REQUEST: u32 = 80_877_102;
/// PostgreSQL refuses longer startup packets.
const STARTUP_MAX: u32 = 10_000;
/// The longest message accepted (PostgreSQL allows 1 GB; a simulation needs less).
const MESSAGE_MAX: u32 = 16 * 1024 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Trust,
    Password,
    Md5,
    Scram,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub user: String,
    pub password: Option<String>,
    pub database: String,
    pub method: Method,
    pub version: String,
}

impl Config {
    pub fn of(rest: &Rest, pod: &Value, container: &Value) -> Self {
        let env = super::container::environment(rest, pod, container);
        let var = |names: &[&str]| names.iter().find_map(|n| super::container::env_var(&env, n)).filter(|v| !v.is_empty()).map(str::to_string);
        let user = var(&["POSTGRES_USER", "POSTGRESQL_USERNAME"]).unwrap_or_else(|| "postgres".into());
        let password = var(&["POSTGRES_PASSWORD", "POSTGRESQL_PASSWORD"]);
        let database = var(&["POSTGRES_DB", "POSTGRESQL_DATABASE"]).unwrap_or_else(|| user.clone());
        let image = container["image"].as_str().unwrap_or_default();
        let mut version = super::tag_version(image);
        let major = version.first().copied().filter(|m| (9..=40).contains(m)).unwrap_or(17);
        version = vec![major, version.get(1).copied().unwrap_or(0)];
        let method = match var(&["POSTGRES_HOST_AUTH_METHOD"]).as_deref() {
            Some("trust") => Method::Trust,
            Some("password") => Method::Password,
            Some("md5") => Method::Md5,
            Some(_) => Method::Scram,
            None if password.is_none() && var(&["ALLOW_EMPTY_PASSWORD"]).as_deref() == Some("yes") => Method::Trust,
            None if major >= 14 => Method::Scram,
            None => Method::Md5,
        };
        Config { user, password, database, method, version: format!("{}.{}", version[0], version[1]) }
    }
}

/// Why a session ended early: the connection, or a FATAL error already sent.
struct End;

type Step<T> = Result<T, End>;

struct Wire<C> {
    conn: C,
    out: Vec<u8>,
}

impl<C: Conn> Wire<C> {
    async fn u32(&mut self) -> Step<u32> {
        self.conn.read_u32().await.map_err(|_| End)
    }

    async fn bytes(&mut self, n: usize) -> Step<Vec<u8>> {
        let mut body = vec![0u8; n];
        self.conn.read_exact(&mut body).await.map_err(|_| End)?;
        Ok(body)
    }

    fn send(&mut self, tag: u8, body: &[u8]) {
        self.out.push(tag);
        self.out.extend_from_slice(&u32::try_from(body.len() + 4).unwrap_or(u32::MAX).to_be_bytes());
        self.out.extend_from_slice(body);
    }

    async fn flush(&mut self) -> Step<()> {
        let out = std::mem::take(&mut self.out);
        self.conn.write_all(&out).await.map_err(|_| End)?;
        self.conn.flush().await.map_err(|_| End)
    }

    fn error(&mut self, severity: &str, code: &str, message: &str, detail: Option<&str>) {
        let mut body = Vec::new();
        for (field, value) in [(b'S', severity), (b'V', severity), (b'C', code), (b'M', message)].into_iter().chain(detail.map(|d| (b'D', d))) {
            body.push(field);
            cstring(&mut body, value);
        }
        body.push(0);
        self.send(b'E', &body);
    }

    /// Sends a FATAL error and ends the session.
    async fn fatal<T>(&mut self, code: &str, message: &str, detail: Option<&str>) -> Step<T> {
        self.error("FATAL", code, message, detail);
        let _ = self.flush().await;
        let _ = self.conn.shutdown().await;
        Err(End)
    }

    /// The next typed message: (type, body).
    async fn message(&mut self) -> Step<(u8, Vec<u8>)> {
        let mut tag = [0u8; 1];
        self.conn.read_exact(&mut tag).await.map_err(|_| End)?;
        let len = self.u32().await?;
        if !(4..=MESSAGE_MAX).contains(&len) {
            return self.fatal("08P01", "invalid message length", None).await;
        }
        let body = self.bytes(len as usize - 4).await?;
        Ok((tag[0], body))
    }

    fn auth(&mut self, code: u32, data: &[u8]) {
        let mut body = code.to_be_bytes().to_vec();
        body.extend_from_slice(data);
        self.send(b'R', &body);
    }
}

fn cstring(out: &mut Vec<u8>, text: &str) {
    out.extend(text.bytes().filter(|b| *b != 0));
    out.push(0);
}

/// Reads a NUL-terminated string from the front of `data`, advancing it.
fn take_cstring(data: &mut &[u8]) -> Option<String> {
    let end = data.iter().position(|b| *b == 0)?;
    let text = String::from_utf8_lossy(&data[..end]).into_owned();
    *data = &data[end + 1..];
    Some(text)
}

pub async fn serve(conn: impl Conn, config: &Config) {
    let mut wire = Wire { conn, out: Vec::new() };
    let _ = session(&mut wire, config).await;
}

async fn session<C: Conn>(wire: &mut Wire<C>, config: &Config) -> Step<()> {
    let params = startup(wire).await?;
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let Some(user) = param("user").filter(|u| !u.is_empty()) else {
        return wire.fatal("28000", "no PostgreSQL user name specified in startup packet", None).await;
    };
    let database = param("database").filter(|d| !d.is_empty()).unwrap_or_else(|| user.clone());
    authenticate(wire, config, &user).await?;
    wire.auth(0, &[]);
    if user != config.user {
        return wire.fatal("28000", &format!("role \"{user}\" does not exist"), None).await;
    }
    if ![config.database.as_str(), "postgres", "template1"].contains(&database.as_str()) {
        return wire.fatal("3D000", &format!("database \"{database}\" does not exist"), None).await;
    }
    let application = param("application_name").unwrap_or_default();
    let encoding = param("client_encoding").filter(|e| !e.eq_ignore_ascii_case("auto")).unwrap_or_else(|| "UTF8".into());
    for (name, value) in [
        ("application_name", application.as_str()),
        ("client_encoding", encoding.as_str()),
        ("DateStyle", "ISO, MDY"),
        ("default_transaction_read_only", "off"),
        ("in_hot_standby", "off"),
        ("integer_datetimes", "on"),
        ("IntervalStyle", "postgres"),
        ("is_superuser", "on"),
        ("server_encoding", "UTF8"),
        ("server_version", config.version.as_str()),
        ("session_authorization", user.as_str()),
        ("standard_conforming_strings", "on"),
        ("TimeZone", "Etc/UTC"),
    ] {
        let mut body = Vec::new();
        cstring(&mut body, name);
        cstring(&mut body, value);
        wire.send(b'S', &body);
    }
    let key: [u8; 8] = rand::random();
    wire.send(b'K', &key);
    wire.send(b'Z', b"I");
    wire.flush().await?;
    queries(wire, config).await
}

/// The startup phase: encryption requests answered `N`, then the StartupMessage's parameters.
async fn startup<C: Conn>(wire: &mut Wire<C>) -> Step<Vec<(String, String)>> {
    loop {
        let len = wire.u32().await?;
        if !(8..=STARTUP_MAX).contains(&len) {
            return wire.fatal("08P01", "invalid length of startup packet", None).await;
        }
        let body = wire.bytes(len as usize - 4).await?;
        let code = u32::from_be_bytes([body[0], body[1], body[2], body[3]]);
        match code {
            SSL_REQUEST | GSSENC_REQUEST => {
                wire.conn.write_all(b"N").await.map_err(|_| End)?;
            }
            CANCEL_REQUEST => return Err(End),
            _ if code >> 16 == 3 => {
                let mut data = &body[4..];
                let mut params = Vec::new();
                loop {
                    let Some(name) = take_cstring(&mut data) else {
                        return wire.fatal("08P01", "invalid startup packet layout: expected terminator as last byte", None).await;
                    };
                    if name.is_empty() {
                        break;
                    }
                    let Some(value) = take_cstring(&mut data) else {
                        return wire.fatal("08P01", "invalid startup packet layout: expected terminator as last byte", None).await;
                    };
                    params.push((name, value));
                }
                // Newer minor versions and protocol options: say what this server speaks.
                let options: Vec<&String> = params.iter().map(|(k, _)| k).filter(|k| k.starts_with("_pq_.")).collect();
                if code & 0xffff > 0 || !options.is_empty() {
                    let mut body = 0u32.to_be_bytes().to_vec();
                    body.extend_from_slice(&u32::try_from(options.len()).unwrap_or(0).to_be_bytes());
                    options.iter().for_each(|o| cstring(&mut body, o));
                    wire.send(b'v', &body);
                }
                return Ok(params);
            }
            _ => {
                let message = format!("unsupported frontend protocol {}.{}: server supports 3.0 to 3.0", code >> 16, code & 0xffff);
                return wire.fatal("0A000", &message, None).await;
            }
        }
    }
}

/// The password the client proves it knows, if `user` is the configured role.
fn password_of<'a>(config: &'a Config, user: &str) -> Option<&'a str> {
    (user == config.user).then_some(config.password.as_deref()).flatten()
}

async fn authenticate<C: Conn>(wire: &mut Wire<C>, config: &Config, user: &str) -> Step<()> {
    let failed = format!("password authentication failed for user \"{user}\"");
    let expected = password_of(config, user);
    match config.method {
        Method::Trust => Ok(()),
        Method::Password | Method::Md5 => {
            let salt: [u8; 4] = rand::random();
            if config.method == Method::Password {
                wire.auth(3, &[]);
            } else {
                wire.auth(5, &salt);
            }
            wire.flush().await?;
            let given = password_message(wire).await?;
            let mut given = given.as_slice();
            let given = take_cstring(&mut given).unwrap_or_default();
            let right = match (config.method, expected) {
                (Method::Password, Some(expected)) => given == expected,
                (_, Some(expected)) => {
                    let inner = crate::md5::hex(format!("{expected}{user}").as_bytes());
                    let mut outer = inner.into_bytes();
                    outer.extend_from_slice(&salt);
                    given == format!("md5{}", crate::md5::hex(&outer))
                }
                (_, None) => false,
            };
            if right { Ok(()) } else { wire.fatal("28P01", &failed, None).await }
        }
        Method::Scram => {
            let mut mechanisms = Vec::new();
            cstring(&mut mechanisms, "SCRAM-SHA-256");
            mechanisms.push(0);
            wire.auth(10, &mechanisms);
            wire.flush().await?;
            let initial = password_message(wire).await?;
            let mut data = initial.as_slice();
            let mechanism = take_cstring(&mut data).unwrap_or_default();
            if mechanism != "SCRAM-SHA-256" {
                return wire.fatal("08P01", "client selected an invalid SASL authentication mechanism", None).await;
            }
            let first = match data.split_first_chunk::<4>() {
                Some((len, rest)) if i32::from_be_bytes(*len) >= 0 && rest.len() == i32::from_be_bytes(*len) as usize => {
                    String::from_utf8_lossy(rest).into_owned()
                }
                _ => return wire.fatal("08P01", "malformed SCRAM message", Some("The message is empty.")).await,
            };
            let exchange = match Exchange::start(&first, expected) {
                Ok((exchange, server_first)) => {
                    wire.auth(11, server_first.as_bytes());
                    wire.flush().await?;
                    exchange
                }
                Err(e) => return wire.fatal("08P01", "malformed SCRAM message", Some(&e.0)).await,
            };
            let last = password_message(wire).await?;
            match exchange.finish(&String::from_utf8_lossy(&last)) {
                Ok(Some(server_final)) => {
                    wire.auth(12, server_final.as_bytes());
                    Ok(())
                }
                Ok(None) => wire.fatal("28P01", &failed, None).await,
                Err(e) => wire.fatal("08P01", "malformed SCRAM message", Some(&e.0)).await,
            }
        }
    }
}

/// A PasswordMessage (or SASL response): its body.
async fn password_message<C: Conn>(wire: &mut Wire<C>) -> Step<Vec<u8>> {
    let (tag, body) = wire.message().await?;
    if tag != b'p' {
        return wire.fatal("08P01", &format!("expected password response, got message type {tag}"), None).await;
    }
    Ok(body)
}

/// What a query returns.
#[derive(Debug, PartialEq)]
enum Answer {
    /// Columns (name, type oid, type size), one row, the command tag.
    Rows(Vec<(&'static str, u32, i16)>, Vec<String>, &'static str),
    Command(&'static str),
    Empty,
}

const UNSUPPORTED: &str =
    "the kdeck sandbox simulates PostgreSQL's protocol, not a database: only SELECT 1, SELECT version() and SET are answered, and this query was not run";

fn answer(query: &str, config: &Config) -> Result<Answer, String> {
    let without_comments: String = query.lines().map(|l| l.split("--").next().unwrap_or_default()).collect::<Vec<_>>().join(" ");
    let words: Vec<String> = without_comments.split_whitespace().map(str::to_ascii_lowercase).collect();
    let normal = words.join(" ");
    let normal = normal.trim_end_matches([';', ' ']);
    match normal {
        "" => Ok(Answer::Empty),
        "select 1" => Ok(Answer::Rows(vec![("?column?", 23, 4)], vec!["1".into()], "SELECT 1")),
        "select version()" => Ok(Answer::Rows(
            vec![("version", 25, -1)],
            vec![format!("PostgreSQL {} on x86_64-pc-linux-gnu (simulated by the kdeck sandbox)", config.version)],
            "SELECT 1",
        )),
        set if set.starts_with("set ") || set.starts_with("reset ") => Ok(Answer::Command(if set.starts_with("set") { "SET" } else { "RESET" })),
        _ => Err(UNSUPPORTED.into()),
    }
}

fn row_description(wire: &mut Wire<impl Conn>, answer: &Answer) {
    let Answer::Rows(columns, _, _) = answer else {
        wire.send(b'n', &[]);
        return;
    };
    let mut body = i16::try_from(columns.len()).unwrap_or(0).to_be_bytes().to_vec();
    for (name, oid, size) in columns {
        cstring(&mut body, name);
        body.extend_from_slice(&0u32.to_be_bytes()); // table oid
        body.extend_from_slice(&0i16.to_be_bytes()); // column number
        body.extend_from_slice(&oid.to_be_bytes());
        body.extend_from_slice(&size.to_be_bytes());
        body.extend_from_slice(&(-1i32).to_be_bytes()); // type modifier
        body.extend_from_slice(&0i16.to_be_bytes()); // text format
    }
    wire.send(b'T', &body);
}

fn results(wire: &mut Wire<impl Conn>, answer: &Answer) {
    match answer {
        Answer::Rows(_, row, tag) => {
            let mut body = i16::try_from(row.len()).unwrap_or(0).to_be_bytes().to_vec();
            for value in row {
                body.extend_from_slice(&u32::try_from(value.len()).unwrap_or(0).to_be_bytes());
                body.extend_from_slice(value.as_bytes());
            }
            wire.send(b'D', &body);
            let mut complete = Vec::new();
            cstring(&mut complete, tag);
            wire.send(b'C', &complete);
        }
        Answer::Command(tag) => {
            let mut complete = Vec::new();
            cstring(&mut complete, tag);
            wire.send(b'C', &complete);
        }
        Answer::Empty => wire.send(b'I', &[]),
    }
}

/// The session after authentication: simple and extended queries until Terminate.
async fn queries<C: Conn>(wire: &mut Wire<C>, config: &Config) -> Step<()> {
    let mut statements: HashMap<String, String> = HashMap::new();
    let mut portals: HashMap<String, String> = HashMap::new();
    // After an error in the extended protocol, messages are skipped until Sync.
    let mut failed = false;
    loop {
        let (tag, body) = wire.message().await?;
        let mut data = body.as_slice();
        if failed && tag != b'S' && tag != b'X' {
            continue;
        }
        match tag {
            b'X' => return Err(End),
            b'Q' => {
                let query = take_cstring(&mut data).unwrap_or_default();
                let statements: Vec<&str> = query.split(';').filter(|s| !s.trim().is_empty()).collect();
                if statements.is_empty() {
                    wire.send(b'I', &[]);
                }
                for statement in statements {
                    match answer(statement, config) {
                        Ok(answer) => {
                            // The simple protocol describes rows only (no NoData).
                            if matches!(answer, Answer::Rows(..)) {
                                row_description(wire, &answer);
                            }
                            results(wire, &answer);
                        }
                        Err(message) => {
                            wire.error("ERROR", "0A000", &message, None);
                            break;
                        }
                    }
                }
                wire.send(b'Z', b"I");
                wire.flush().await?;
            }
            b'P' => {
                let name = take_cstring(&mut data).unwrap_or_default();
                let query = take_cstring(&mut data).unwrap_or_default();
                match answer(&query, config) {
                    Ok(_) => {
                        statements.insert(name, query);
                        wire.send(b'1', &[]);
                    }
                    Err(message) => {
                        wire.error("ERROR", "0A000", &message, None);
                        failed = true;
                    }
                }
            }
            b'B' => {
                let portal = take_cstring(&mut data).unwrap_or_default();
                let statement = take_cstring(&mut data).unwrap_or_default();
                match statements.get(&statement) {
                    Some(query) => {
                        portals.insert(portal, query.clone());
                        wire.send(b'2', &[]);
                    }
                    None => {
                        wire.error("ERROR", "26000", &format!("prepared statement \"{statement}\" does not exist"), None);
                        failed = true;
                    }
                }
            }
            b'D' => {
                let kind = data.first().copied().unwrap_or(0);
                data = data.get(1..).unwrap_or_default();
                let name = take_cstring(&mut data).unwrap_or_default();
                let query = if kind == b'S' { statements.get(&name) } else { portals.get(&name) };
                match query.map(|q| answer(q, config)) {
                    Some(Ok(answer)) => {
                        if kind == b'S' {
                            wire.send(b't', &0i16.to_be_bytes());
                        }
                        row_description(wire, &answer);
                    }
                    _ => {
                        let what = if kind == b'S' { "prepared statement" } else { "portal" };
                        wire.error("ERROR", if kind == b'S' { "26000" } else { "34000" }, &format!("{what} \"{name}\" does not exist"), None);
                        failed = true;
                    }
                }
            }
            b'E' => {
                let portal = take_cstring(&mut data).unwrap_or_default();
                match portals.get(&portal).map(|q| answer(q, config)) {
                    Some(Ok(answer)) => results(wire, &answer),
                    _ => {
                        wire.error("ERROR", "34000", &format!("portal \"{portal}\" does not exist"), None);
                        failed = true;
                    }
                }
            }
            b'C' => {
                let kind = data.first().copied().unwrap_or(0);
                data = data.get(1..).unwrap_or_default();
                let name = take_cstring(&mut data).unwrap_or_default();
                if kind == b'S' {
                    statements.remove(&name);
                } else {
                    portals.remove(&name);
                }
                wire.send(b'3', &[]);
            }
            b'S' => {
                failed = false;
                portals.clear();
                wire.send(b'Z', b"I");
                wire.flush().await?;
            }
            b'H' => wire.flush().await?,
            other => {
                return wire.fatal("08P01", &format!("invalid frontend message type {other}"), None).await;
            }
        }
    }
}

#[cfg(test)]
mod tests;
