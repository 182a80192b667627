//! The simulated PostgreSQL server against a small client written from the
//! protocol's documentation (real `psql` and `pg_isready` are run by the
//! end-to-end tests).

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use super::*;

fn config(method: Method) -> Config {
    Config { user: "app".into(), password: Some("demo-password".into()), database: "app".into(), method, version: "16.0".into() }
}

struct Client {
    conn: DuplexStream,
}

impl Client {
    fn start(config: Config) -> Client {
        let (client, server) = tokio::io::duplex(64 * 1024);
        tokio::spawn(async move { serve(server, &config).await });
        Client { conn: client }
    }

    async fn startup(&mut self, params: &[(&str, &str)]) {
        let mut body = 196_608u32.to_be_bytes().to_vec();
        for (k, v) in params {
            cstring(&mut body, k);
            cstring(&mut body, v);
        }
        body.push(0);
        let mut packet = u32::try_from(body.len() + 4).unwrap().to_be_bytes().to_vec();
        packet.extend(body);
        self.conn.write_all(&packet).await.unwrap();
    }

    async fn send(&mut self, tag: u8, body: &[u8]) {
        let mut packet = vec![tag];
        packet.extend_from_slice(&u32::try_from(body.len() + 4).unwrap().to_be_bytes());
        packet.extend_from_slice(body);
        self.conn.write_all(&packet).await.unwrap();
    }

    /// The next message, or None at the end of the connection.
    async fn receive(&mut self) -> Option<(u8, Vec<u8>)> {
        let tag = self.conn.read_u8().await.ok()?;
        let len = self.conn.read_u32().await.ok()?;
        let mut body = vec![0u8; len as usize - 4];
        self.conn.read_exact(&mut body).await.ok()?;
        Some((tag, body))
    }

    /// Messages until ReadyForQuery (included) or the end; their types as text.
    async fn until_ready(&mut self) -> (String, Vec<(u8, Vec<u8>)>) {
        let mut all = Vec::new();
        while let Some((tag, body)) = self.receive().await {
            all.push((tag, body));
            if tag == b'Z' {
                break;
            }
        }
        (all.iter().map(|(t, _)| char::from(*t)).collect(), all)
    }

    async fn auth_code(&mut self) -> (u32, Vec<u8>) {
        let (tag, body) = self.receive().await.expect("an answer");
        assert_eq!(tag, b'R', "an authentication request, got {:?}", String::from_utf8_lossy(&body));
        (u32::from_be_bytes(body[..4].try_into().unwrap()), body[4..].to_vec())
    }

    async fn password(&mut self, password: &str) {
        let mut body = Vec::new();
        cstring(&mut body, password);
        self.send(b'p', &body).await;
    }

    async fn scram(&mut self, password: &str) {
        let (code, mechanisms) = self.auth_code().await;
        assert_eq!((code, mechanisms.as_slice()), (10, &b"SCRAM-SHA-256\0\0"[..]));
        let first_bare = "n=,r=fyko+d2lbbFgONRv9qkxdawL";
        let first = format!("n,,{first_bare}");
        let mut body = Vec::new();
        cstring(&mut body, "SCRAM-SHA-256");
        body.extend_from_slice(&u32::try_from(first.len()).unwrap().to_be_bytes());
        body.extend_from_slice(first.as_bytes());
        self.send(b'p', &body).await;
        let (code, server_first) = self.auth_code().await;
        assert_eq!(code, 11);
        let server_first = String::from_utf8(server_first).unwrap();
        let nonce = server_first.split(',').next().unwrap().trim_start_matches("r=");
        let without_proof = format!("c=biws,r={nonce}");
        let (proof, _) = crate::network::simulated::scram::client::proof(password, first_bare, &server_first, &without_proof).expect("a server-first-message");
        self.send(b'p', format!("{without_proof},p={proof}").as_bytes()).await;
    }
}

fn error_fields(body: &[u8]) -> (String, String) {
    let text = String::from_utf8_lossy(body);
    let field = |f: char| text.split('\0').find_map(|s| s.strip_prefix(f)).unwrap_or_default().to_string();
    (field('C'), field('M'))
}

#[tokio::test]
async fn scram_with_the_right_password_then_select_1() {
    let mut c = Client::start(config(Method::Scram));
    // What psql sends first: an SSLRequest, answered N.
    c.conn.write_all(&[0, 0, 0, 8, 4, 210, 22, 47]).await.unwrap();
    assert_eq!(c.conn.read_u8().await.unwrap(), b'N');
    c.startup(&[("user", "app"), ("database", "app"), ("application_name", "psql")]).await;
    c.scram("demo-password").await;
    let (code, server_final) = c.auth_code().await;
    assert_eq!(code, 12);
    assert!(server_final.starts_with(b"v="));
    assert_eq!(c.auth_code().await.0, 0);
    let (types, messages) = c.until_ready().await;
    assert_eq!(types, "SSSSSSSSSSSSSKZ");
    assert!(messages.iter().any(|(_, b)| b.as_slice() == b"server_version\x0016.0\x00"));
    c.send(b'Q', b"select  1 ;\0").await;
    let (types, messages) = c.until_ready().await;
    assert_eq!(types, "TDCZ");
    assert_eq!(messages[1].1, b"\x00\x01\x00\x00\x00\x011");
    assert_eq!(messages[2].1, b"SELECT 1\0");
    c.send(b'Q', b"SELECT * FROM pg_database\0").await;
    let (types, messages) = c.until_ready().await;
    assert_eq!(types, "EZ");
    let (code, message) = error_fields(&messages[0].1);
    assert_eq!(code, "0A000");
    assert!(message.contains("not a database"), "{message}");
    c.send(b'X', &[]).await;
    assert!(c.receive().await.is_none());
}

#[tokio::test]
async fn a_wrong_password_fails_as_postgresql_words_it() {
    for method in [Method::Scram, Method::Md5, Method::Password] {
        let mut c = Client::start(config(method));
        c.startup(&[("user", "app")]).await;
        match method {
            Method::Scram => c.scram("wrong").await,
            _ => {
                c.auth_code().await;
                c.password("md5 or not, wrong").await;
            }
        }
        let (tag, body) = c.receive().await.unwrap();
        assert_eq!(tag, b'E', "{method:?}");
        assert_eq!(error_fields(&body), ("28P01".to_string(), "password authentication failed for user \"app\"".to_string()), "{method:?}");
        assert!(c.receive().await.is_none(), "the connection ends");
    }
}

#[tokio::test]
async fn md5_and_cleartext_with_the_right_password() {
    let mut c = Client::start(config(Method::Md5));
    c.startup(&[("user", "app")]).await;
    let (code, salt) = c.auth_code().await;
    assert_eq!((code, salt.len()), (5, 4));
    let inner = crate::md5::hex(b"demo-passwordapp");
    let mut outer = inner.into_bytes();
    outer.extend_from_slice(&salt);
    c.password(&format!("md5{}", crate::md5::hex(&outer))).await;
    assert_eq!(c.auth_code().await.0, 0);
    assert!(c.until_ready().await.0.ends_with("KZ"));

    let mut c = Client::start(config(Method::Password));
    c.startup(&[("user", "app")]).await;
    assert_eq!(c.auth_code().await.0, 3);
    c.password("demo-password").await;
    assert_eq!(c.auth_code().await.0, 0);
}

#[tokio::test]
async fn trust_knows_its_roles_and_databases() {
    let mut c = Client::start(config(Method::Trust));
    c.startup(&[("user", "app"), ("database", "postgres")]).await;
    assert_eq!(c.auth_code().await.0, 0);
    assert!(c.until_ready().await.0.ends_with("KZ"));
    let mut c = Client::start(config(Method::Trust));
    c.startup(&[("user", "bob")]).await;
    assert_eq!(c.auth_code().await.0, 0);
    let (tag, body) = c.receive().await.unwrap();
    assert_eq!((tag, error_fields(&body)), (b'E', ("28000".to_string(), "role \"bob\" does not exist".to_string())));
    let mut c = Client::start(config(Method::Trust));
    c.startup(&[("user", "app"), ("database", "nope")]).await;
    c.auth_code().await;
    let (_, body) = c.receive().await.unwrap();
    assert_eq!(error_fields(&body).0, "3D000");
}

#[tokio::test]
async fn the_extended_protocol_answers_select_1() {
    let mut c = Client::start(config(Method::Trust));
    c.startup(&[("user", "app")]).await;
    c.until_ready().await;
    c.send(b'P', b"s1\0SELECT 1\0\0\0").await;
    c.send(b'B', b"\0s1\0\0\0\0\0\0\0").await;
    c.send(b'D', b"P\0").await;
    c.send(b'E', b"\0\0\0\0\0").await;
    c.send(b'S', &[]).await;
    assert_eq!(c.until_ready().await.0, "12TDCZ");
    // An unsupported statement fails at Parse, and what follows is skipped until Sync.
    c.send(b'P', b"\0DELETE FROM t\0\0\0").await;
    c.send(b'B', b"\0\0\0\0\0\0\0\0").await;
    c.send(b'E', b"\0\0\0\0\0").await;
    c.send(b'S', &[]).await;
    assert_eq!(c.until_ready().await.0, "EZ");
    // An empty query, as pgx's ping sends it.
    c.send(b'Q', b"-- ping\0").await;
    assert_eq!(c.until_ready().await.0, "IZ");
}

#[tokio::test]
async fn protocol_errors_end_the_session_and_nothing_panics() {
    let mut c = Client::start(config(Method::Trust));
    c.conn.write_all(&[0, 0, 0, 8, 0, 2, 0, 0]).await.unwrap();
    let (tag, body) = c.receive().await.unwrap();
    assert_eq!((tag, error_fields(&body).0), (b'E', "0A000".to_string()));
    let mut c = Client::start(config(Method::Trust));
    c.startup(&[("database", "app")]).await;
    let (_, body) = c.receive().await.unwrap();
    assert_eq!(error_fields(&body).0, "28000");
    // Deterministic mutations of a whole session's bytes.
    let mut session = Vec::new();
    for part in
        [&[0u8, 0, 0, 8, 4, 210, 22, 47][..], b"\0\0\0\x15\0\x03\0\0user\0app\0\0", b"p\0\0\0\x0bsecret\0", b"Q\0\0\0\x0dselect 1\0", b"P\0\0\0\x08\0x\0\0\0"]
    {
        session.extend_from_slice(part);
    }
    let mut state = 0x9e37_79b9u32;
    for round in 0..300 {
        let mut input = session.clone();
        for _ in 0..(1 + round % 4) {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let at = state as usize % input.len();
            input[at] = (state >> 8) as u8;
        }
        input.truncate(state as usize % (input.len() + 1));
        for method in [Method::Trust, Method::Scram, Method::Md5] {
            let (mut client, server) = tokio::io::duplex(1 << 16);
            let config = config(method);
            let server = tokio::spawn(async move { serve(server, &config).await });
            let _ = client.write_all(&input).await;
            let _ = client.shutdown().await;
            let mut sink = Vec::new();
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), client.read_to_end(&mut sink)).await;
            drop(client);
            assert!(server.await.is_ok(), "the server task did not panic on {input:?}");
        }
    }
}

#[test]
fn queries_that_are_answered() {
    let c = config(Method::Trust);
    assert!(matches!(answer("SELECT 1", &c), Ok(Answer::Rows(..))));
    assert!(matches!(answer("  select\n1;; ", &c), Ok(Answer::Rows(..))));
    assert!(matches!(answer("select version();", &c), Ok(Answer::Rows(..))));
    assert_eq!(answer("SET extra_float_digits = 3", &c), Ok(Answer::Command("SET")));
    assert_eq!(answer(";", &c), Ok(Answer::Empty));
    assert!(answer("select 2", &c).is_err());
}
