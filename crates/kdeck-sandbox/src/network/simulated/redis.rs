//! The simulated Redis server: RESP2, in multibulk and inline form, as Redis 7
//! parses and words it.
//!
//! Commands: `PING [message]`, `ECHO`, `AUTH [user] password` (checked against the
//! `--requirepass` of the container's command line; `default` is the only user),
//! `HELLO [2 [AUTH user password] [SETNAME name]]` (RESP3 is answered `NOPROTO`),
//! `INFO [section]` (`# Server` with `redis_version` from the image tag, `#
//! Clients`, `# Replication` with `role:master`, `# Keyspace`), `SELECT 0..15`,
//! `QUIT`. Anything else is `-ERR unknown command '…', with args beginning with: …`.
//! No data is kept: there is no `GET` or `SET`.

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::network::Conn;
use crate::rest::Rest;

/// Redis refuses inline requests (and multibulk count lines) longer than this.
const INLINE_MAX: usize = 64 * 1024;
/// The longest argument accepted (Redis allows 512 MB; a simulation needs less).
const BULK_MAX: usize = 16 * 1024 * 1024;
const MULTIBULK_MAX: i64 = 1024 * 1024;

#[derive(Clone, Debug, Default)]
pub struct Config {
    /// `--requirepass` of the server's command line, if any.
    pub requirepass: Option<String>,
    pub version: String,
    pub port: u16,
    /// When the container started (unix seconds), for `uptime_in_seconds`.
    pub started: Option<i64>,
}

impl Config {
    pub fn of(rest: &Rest, pod: &Value, container: &Value) -> Self {
        let env = super::container::environment(rest, pod, container);
        let argv = super::container::argv(container, &env);
        let image = container["image"].as_str().unwrap_or_default();
        // Bitnami's images take the password from their environment instead.
        let requirepass = super::container::option_value(&argv, "--requirepass")
            .or_else(|| image.contains("bitnami/").then(|| super::container::env_var(&env, "REDIS_PASSWORD").map(str::to_string)).flatten())
            .filter(|p| !p.is_empty());
        let mut version = super::tag_version(image);
        if version.is_empty() {
            version = vec![7, 2, 4];
        }
        version.resize(3, 0);
        let port = super::container::option_value(&argv, "--port").and_then(|p| p.parse().ok()).unwrap_or(6379);
        let name = container["name"].as_str().unwrap_or_default();
        let started = pod["status"]["containerStatuses"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["name"] == name)
            .and_then(|s| s["state"]["running"]["startedAt"].as_str())
            .and_then(crate::time::parse_rfc3339);
        Config { requirepass, version: version.iter().map(u32::to_string).collect::<Vec<_>>().join("."), port, started }
    }
}

pub async fn serve(mut conn: impl Conn, config: &Config) {
    let mut session = Session { config, authenticated: config.requirepass.is_none() };
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        loop {
            match parse(&buf) {
                Ok(Some((args, used))) => {
                    buf.drain(..used);
                    if args.is_empty() {
                        continue;
                    }
                    let (reply, quit) = session.run(&args);
                    if conn.write_all(&reply).await.is_err() || quit {
                        let _ = conn.shutdown().await;
                        return;
                    }
                }
                Ok(None) => break,
                Err(problem) => {
                    // Redis answers a protocol error and closes the connection.
                    let _ = conn.write_all(format!("-ERR Protocol error: {problem}\r\n").as_bytes()).await;
                    let _ = conn.shutdown().await;
                    return;
                }
            }
        }
        match conn.read(&mut chunk).await {
            Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return,
        }
    }
}

/// A command's arguments and the bytes it took; None when more are needed.
type Parsed = Result<Option<(Vec<Vec<u8>>, usize)>, String>;

/// One command from the front of `buf`: its arguments (empty for a blank line) and
/// how many bytes it took; None when more bytes are needed.
fn parse(buf: &[u8]) -> Parsed {
    if buf.is_empty() {
        return Ok(None);
    }
    if buf[0] == b'*' { multibulk(buf) } else { inline(buf) }
}

/// The line starting at `from`, without its `\r\n`, and where the next one starts.
fn line(buf: &[u8], from: usize) -> Option<(&[u8], usize)> {
    let rest = buf.get(from..)?;
    let end = rest.windows(2).position(|w| w == b"\r\n")?;
    Some((&rest[..end], from + end + 2))
}

fn number(text: &[u8]) -> Option<i64> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

fn multibulk(buf: &[u8]) -> Parsed {
    let Some((count, mut at)) = line(buf, 1) else {
        return if buf.len() > INLINE_MAX { Err("too big mbulk count string".into()) } else { Ok(None) };
    };
    let count = number(count).filter(|n| *n <= MULTIBULK_MAX).ok_or("invalid multibulk length")?;
    let mut args = Vec::new();
    for _ in 0..count.max(0) {
        let Some(&first) = buf.get(at) else { return Ok(None) };
        if first != b'$' {
            return Err(format!("expected '$', got '{}'", char::from(first)));
        }
        let Some((len, start)) = line(buf, at + 1) else {
            return if buf.len() - at > INLINE_MAX { Err("too big bulk count string".into()) } else { Ok(None) };
        };
        let len = number(len).and_then(|n| usize::try_from(n).ok()).filter(|n| *n <= BULK_MAX).ok_or("invalid bulk length")?;
        if buf.len() < start + len + 2 {
            return Ok(None);
        }
        args.push(buf[start..start + len].to_vec());
        at = start + len + 2;
    }
    Ok(Some((args, at)))
}

fn inline(buf: &[u8]) -> Parsed {
    let Some(end) = buf.iter().position(|b| *b == b'\n') else {
        return if buf.len() > INLINE_MAX { Err("too big inline request".into()) } else { Ok(None) };
    };
    let text = buf[..end].strip_suffix(b"\r").unwrap_or(&buf[..end]);
    let args = split_args(text).ok_or("unbalanced quotes in request")?;
    Ok(Some((args, end + 1)))
}

/// Redis's `sdssplitargs`: words separated by blanks; "double quotes" with `\n`,
/// `\r`, `\t`, `\b`, `\a` and `\xHH` escapes; 'single quotes' with `\'`. A closing
/// quote must end the word. None on unbalanced quotes.
fn split_args(text: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut args = Vec::new();
    let mut i = 0;
    let blank = |b: u8| matches!(b, b' ' | b'\n' | b'\r' | b'\t' | 0x0b | 0x0c | 0);
    loop {
        while i < text.len() && blank(text[i]) {
            i += 1;
        }
        if i >= text.len() {
            return Some(args);
        }
        let mut word = Vec::new();
        let mut quote: Option<u8> = None;
        loop {
            let Some(&c) = text.get(i) else {
                if quote.is_some() {
                    return None;
                }
                break;
            };
            match quote {
                Some(b'"') if c == b'\\' && text.get(i + 1) == Some(&b'x') && hex(text.get(i + 2)).is_some() && hex(text.get(i + 3)).is_some() => {
                    word.push(hex(text.get(i + 2)).unwrap_or(0) * 16 + hex(text.get(i + 3)).unwrap_or(0));
                    i += 3;
                }
                Some(b'"') if c == b'\\' && i + 1 < text.len() => {
                    i += 1;
                    word.push(match text[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                }
                Some(b'\'') if c == b'\\' && text.get(i + 1) == Some(&b'\'') => {
                    i += 1;
                    word.push(b'\'');
                }
                Some(q) if c == q => {
                    // The closing quote must be followed by a blank or the end.
                    if text.get(i + 1).is_some_and(|b| !blank(*b)) {
                        return None;
                    }
                    i += 1;
                    break;
                }
                Some(_) => word.push(c),
                None if blank(c) => break,
                None if c == b'"' || c == b'\'' => quote = Some(c),
                None => word.push(c),
            }
            i += 1;
        }
        args.push(word);
    }
}

fn hex(b: Option<&u8>) -> Option<u8> {
    char::from(*b?).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

struct Session<'a> {
    config: &'a Config,
    authenticated: bool,
}

fn simple(text: &str) -> Vec<u8> {
    format!("+{text}\r\n").into_bytes()
}

fn error(text: &str) -> Vec<u8> {
    // An error is one line: line breaks in what it quotes become spaces.
    format!("-{}\r\n", text.replace(['\r', '\n'], " ")).into_bytes()
}

fn bulk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("${}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

fn wrong_arity(command: &str) -> Vec<u8> {
    error(&format!("ERR wrong number of arguments for '{command}' command"))
}

const NOAUTH: &str = "NOAUTH Authentication required.";
const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

impl Session<'_> {
    /// The reply to one command, and whether the connection ends after it.
    fn run(&mut self, args: &[Vec<u8>]) -> (Vec<u8>, bool) {
        let text = |i: usize| String::from_utf8_lossy(&args[i]).into_owned();
        let name = text(0).to_ascii_lowercase();
        if !self.authenticated && !matches!(name.as_str(), "auth" | "hello" | "quit") {
            return (error(NOAUTH), false);
        }
        let reply = match (name.as_str(), args.len()) {
            ("quit", _) => return (simple("OK"), true),
            ("ping", 1) => simple("PONG"),
            ("ping", 2) => bulk(&args[1]),
            ("ping", _) => wrong_arity("ping"),
            ("echo", 2) => bulk(&args[1]),
            ("echo", _) => wrong_arity("echo"),
            ("auth", 2) => self.auth(None, &args[1]),
            ("auth", 3) => self.auth(Some(&args[1]), &args[2]),
            ("auth", _) => wrong_arity("auth"),
            ("hello", _) => self.hello(&args[1..]),
            ("info", 1 | 2) => bulk(self.info(args.get(1).map(|s| String::from_utf8_lossy(s).to_ascii_lowercase()).as_deref()).as_bytes()),
            ("select", 2) => match number(&args[1]) {
                Some(0..=15) => simple("OK"),
                Some(_) => error("ERR DB index is out of range"),
                None => error("ERR value is not an integer or out of range"),
            },
            ("select", _) => wrong_arity("select"),
            _ => unknown(args),
        };
        (reply, false)
    }

    fn auth(&mut self, user: Option<&[u8]>, password: &[u8]) -> Vec<u8> {
        let default_user = user.is_none_or(|u| u == b"default");
        match &self.config.requirepass {
            None if user.is_none() => {
                error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
            }
            // Without requirepass the default user takes any password.
            None if default_user => simple("OK"),
            Some(pass) if default_user && pass.as_bytes() == password => {
                self.authenticated = true;
                simple("OK")
            }
            _ => error(WRONGPASS),
        }
    }

    fn hello(&mut self, args: &[Vec<u8>]) -> Vec<u8> {
        if let Some(version) = args.first() {
            match number(version) {
                Some(2) => {}
                Some(3) => return error("NOPROTO unsupported protocol version (the kdeck sandbox's simulated Redis speaks RESP2 only)"),
                Some(_) => return error("NOPROTO unsupported protocol version"),
                None => return error("ERR Protocol version is not an integer or out of range"),
            }
        }
        let mut options = args.iter().skip(1);
        while let Some(option) = options.next() {
            match option.to_ascii_lowercase().as_slice() {
                b"auth" => {
                    let (Some(user), Some(password)) = (options.next(), options.next()) else {
                        return error(&format!("ERR Syntax error in HELLO option '{}'", String::from_utf8_lossy(option)));
                    };
                    if self.config.requirepass.is_some() || user.as_slice() != b"default" {
                        let reply = self.auth(Some(user), password);
                        if reply.starts_with(b"-") {
                            return reply;
                        }
                    }
                }
                b"setname" if options.next().is_some() => {}
                _ => return error(&format!("ERR Syntax error in HELLO option '{}'", String::from_utf8_lossy(option))),
            }
        }
        if !self.authenticated {
            return error(
                "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
            );
        }
        let mut out = b"*14\r\n".to_vec();
        for item in [&b"server"[..], b"redis", b"version", self.config.version.as_bytes(), b"proto"] {
            out.extend(bulk(item));
        }
        out.extend_from_slice(b":2\r\n");
        out.extend(bulk(b"id"));
        out.extend_from_slice(b":1\r\n");
        for item in [&b"mode"[..], b"standalone", b"role", b"master", b"modules"] {
            out.extend(bulk(item));
        }
        out.extend_from_slice(b"*0\r\n");
        out
    }

    fn info(&self, section: Option<&str>) -> String {
        let uptime = self.config.started.map_or(0, |s| (crate::time::unix_secs() - s).max(0));
        let sections = [
            (
                "server",
                format!(
                    "# Server\r\nredis_version:{}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_mode:standalone\r\nos:Linux\r\narch_bits:64\r\ntcp_port:{}\r\nuptime_in_seconds:{uptime}\r\nuptime_in_days:{}\r\n",
                    self.config.version,
                    self.config.port,
                    uptime / 86_400
                ),
            ),
            ("clients", "# Clients\r\nconnected_clients:1\r\nblocked_clients:0\r\n".to_string()),
            ("replication", "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n".to_string()),
            ("keyspace", "# Keyspace\r\n".to_string()),
        ];
        let wanted = |name: &str| matches!(section, None | Some("all" | "default" | "everything")) || section == Some(name);
        sections.iter().filter(|(name, _)| wanted(name)).map(|(_, text)| text.as_str()).collect::<Vec<_>>().join("\r\n")
    }
}

/// Redis 7's wording: the command as typed, then the start of its arguments.
fn unknown(args: &[Vec<u8>]) -> Vec<u8> {
    let name: String = String::from_utf8_lossy(&args[0]).chars().take(128).collect();
    let mut quoted = String::new();
    for arg in &args[1..] {
        if quoted.len() >= 128 {
            break;
        }
        let room = 128 - quoted.len();
        let arg: String = String::from_utf8_lossy(arg).chars().take(room).collect();
        quoted.push_str(&format!("'{arg}' "));
    }
    error(&format!("ERR unknown command '{name}', with args beginning with: {quoted}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(config: &Config, input: &[u8]) -> String {
        let mut session = Session { config, authenticated: config.requirepass.is_none() };
        let mut buf = input.to_vec();
        let mut out = Vec::new();
        while let Ok(Some((args, used))) = parse(&buf) {
            buf.drain(..used);
            if !args.is_empty() {
                out.extend(session.run(&args).0);
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn ping_in_both_forms() {
        let config = Config::default();
        assert_eq!(run(&config, b"*1\r\n$4\r\nPING\r\n"), "+PONG\r\n");
        assert_eq!(run(&config, b"ping \"hello world\"\r\n"), "$11\r\nhello world\r\n");
        assert_eq!(run(&config, b"PING\nPING\n"), "+PONG\r\n+PONG\r\n");
        assert_eq!(run(&config, b"\r\nping a b\r\n"), "-ERR wrong number of arguments for 'ping' command\r\n");
    }

    #[test]
    fn auth_as_redis_6_and_later_words_it() {
        let config = Config { requirepass: Some("s3cret".into()), ..Config::default() };
        assert_eq!(run(&config, b"PING\r\n"), "-NOAUTH Authentication required.\r\n");
        assert_eq!(run(&config, b"AUTH nope\r\n"), "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
        assert_eq!(run(&config, b"AUTH other s3cret\r\n"), "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
        assert_eq!(run(&config, b"AUTH s3cret\r\nPING\r\n"), "+OK\r\n+PONG\r\n");
        assert_eq!(run(&config, b"AUTH default s3cret\r\nPING\r\n"), "+OK\r\n+PONG\r\n");
        assert!(run(&config, b"HELLO 2\r\n").starts_with("-NOAUTH HELLO must be called"));
        assert!(run(&config, b"HELLO 2 AUTH default s3cret\r\n").starts_with("*14\r\n$6\r\nserver\r\n"));
        assert!(run(&config, b"HELLO 3\r\n").starts_with("-NOPROTO"));
        let open = Config::default();
        assert!(run(&open, b"AUTH x\r\n").starts_with("-ERR AUTH <password> called without any password configured"));
    }

    #[test]
    fn unknown_commands_info_and_select() {
        let config = Config { version: "7.2.4".into(), port: 6379, ..Config::default() };
        assert_eq!(run(&config, b"GET k\r\n"), "-ERR unknown command 'GET', with args beginning with: 'k' \r\n");
        assert_eq!(run(&config, b"FLUSHALL\r\n"), "-ERR unknown command 'FLUSHALL', with args beginning with: \r\n");
        let info = run(&config, b"INFO server\r\n");
        assert!(info.contains("# Server\r\nredis_version:7.2.4\r\n") && !info.contains("# Clients"), "{info}");
        assert!(run(&config, b"INFO\r\n").contains("role:master"));
        assert_eq!(
            run(&config, b"SELECT 3\r\nSELECT 99\r\nSELECT x\r\n"),
            "+OK\r\n-ERR DB index is out of range\r\n-ERR value is not an integer or out of range\r\n"
        );
        // A name with a line break cannot write a frame of its own.
        assert_eq!(run(&config, b"*1\r\n$7\r\nNO\r\n+OK\r\n").matches("\r\n").count(), 1);
    }

    #[test]
    fn protocol_errors_and_partial_input() {
        assert_eq!(parse(b"*2\r\n$4\r\nECHO\r\n$3\r\nab"), Ok(None));
        assert_eq!(parse(b"*1\r\n:4\r\n"), Err("expected '$', got ':'".to_string()));
        assert_eq!(parse(b"*x\r\n"), Err("invalid multibulk length".to_string()));
        assert_eq!(parse(b"*1\r\n$-5\r\n"), Err("invalid bulk length".to_string()));
        assert_eq!(parse(b"echo \"unbalanced\r\n"), Err("unbalanced quotes in request".to_string()));
        assert_eq!(parse(b"echo \"a\"b\r\n"), Err("unbalanced quotes in request".to_string()));
        assert_eq!(split_args(b"set \"\\x41\\n\" 'it\\'s'"), Some(vec![b"set".to_vec(), b"A\n".to_vec(), b"it's".to_vec()]));
        assert_eq!(parse(&vec![b'a'; INLINE_MAX + 1]), Err("too big inline request".to_string()));
    }

    #[test]
    fn no_input_makes_it_panic() {
        // A small deterministic fuzz: every prefix and many mutations of valid requests.
        let seeds: [&[u8]; 5] =
            [b"*2\r\n$4\r\nAUTH\r\n$6\r\ns3cret\r\n", b"PING \"a\\x4\" 'b\\'\r\n", b"*-1\r\n*0\r\n", b"HELLO 2 AUTH default x SETNAME y\r\n", b"$\r\n*\r\n"];
        let config = Config { requirepass: Some("s3cret".into()), ..Config::default() };
        let mut state = 0x2545_f491u32;
        for seed in seeds {
            for cut in 0..=seed.len() {
                let _ = run(&config, &seed[..cut]);
            }
            for _ in 0..500 {
                let mut input = seed.to_vec();
                for _ in 0..3 {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    let at = state as usize % input.len();
                    input[at] = (state >> 8) as u8;
                }
                let _ = run(&config, &input);
            }
        }
    }
}
