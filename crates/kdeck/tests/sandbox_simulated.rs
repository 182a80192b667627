//! The simulated servers of simulated containers, end to end: each reached from
//! the host through a NodePort Service (which dials the pod's port as
//! port-forward and the proxies do), with raw TCP clients and, where installed,
//! the real `redis-cli`, `pg_isready`, `psql` and `curl`.

mod common;
mod loopback;

use std::net::SocketAddr;

use common::TestSandbox;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use loopback::{client_program, create, deployment, eventually, http, node_port, redis, run_client, service};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

#[tokio::test]
async fn redis_answers_ping_and_checks_its_requirepass() {
    let sandbox = TestSandbox::start("sim-redis");
    let client = sandbox.client().await;
    create(
        &client,
        &[
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "redis"}, "stringData": {"password": "r3dis-pass"}}),
            deployment(
                "cache",
                1,
                json!({"name": "redis", "image": "redis:7.2.4", "args": ["--requirepass", "$(REDIS_PASSWORD)"],
                    "env": [{"name": "REDIS_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "redis", "key": "password"}}}],
                    "ports": [{"containerPort": 6379}]}),
            ),
            service("cache", "cache", "NodePort", json!([{"port": 6379}])),
        ],
    )
    .await;
    let addr = local(node_port(&client, "cache").await);
    // Until the pod is ready, the NodePort has no endpoint and resets connections.
    let first = eventually("redis answers", || async {
        let mut tcp = TcpStream::connect(addr).await.ok()?;
        tcp.write_all(b"PING\r\n").await.ok()?;
        let mut buf = [0u8; 64];
        let n = tcp.read(&mut buf).await.ok().filter(|n| *n > 0)?;
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    })
    .await;
    assert_eq!(first, "-NOAUTH Authentication required.\r\n", "an inline PING before AUTH");
    let replies =
        redis(addr, &[&["PING"], &["AUTH", "wrong"], &["AUTH", "r3dis-pass"], &["PING"], &["PING", "hello"], &["GET", "k"], &["INFO", "server"], &["QUIT"]])
            .await;
    assert_eq!(replies[0], "-NOAUTH Authentication required.");
    assert_eq!(replies[1], "-WRONGPASS invalid username-password pair or user is disabled.");
    assert_eq!(&replies[2..5], ["+OK", "+PONG", "hello"]);
    assert_eq!(replies[5], "-ERR unknown command 'GET', with args beginning with: 'k' ");
    assert!(replies[6].starts_with("# Server\r\nredis_version:7.2.4\r\n"), "{}", replies[6]);
    assert_eq!(replies[7], "+OK");

    if let Some(cli) = client_program("redis-cli") {
        let port = addr.port().to_string();
        let (ok, out) = run_client(&cli, &["-h", "127.0.0.1", "-p", &port, "-a", "r3dis-pass", "--no-auth-warning", "ping"], &[]);
        assert!(ok && out.trim() == "PONG", "redis-cli ping: {out}");
        let (_, out) = run_client(&cli, &["-h", "127.0.0.1", "-p", &port, "-a", "nope", "--no-auth-warning", "ping"], &[]);
        assert!(out.contains("WRONGPASS"), "redis-cli with a wrong password: {out}");
        let (_, out) = run_client(&cli, &["-h", "127.0.0.1", "-p", &port, "ping"], &[]);
        assert!(out.contains("NOAUTH Authentication required."), "redis-cli without a password: {out}");
    }

    // Inside the pod's own network (an exec makes it), the simulated server answers
    // on localhost too, as a real Redis would in its container.
    let probe = "import socket; s = socket.create_connection(('127.0.0.1', 6379)); s.sendall(b'PING\\r\\n'); print(s.recv(64).decode().strip())";
    let out = sandbox.run(&["exec", "deploy/cache", "--context", "sim-redis", "--", "python3", "-c", probe]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "-NOAUTH Authentication required.");
    if client_program("redis-cli").is_some() {
        let out = sandbox.run(&["exec", "deploy/cache", "--context", "sim-redis", "--", "redis-cli", "-a", "r3dis-pass", "--no-auth-warning", "ping"]);
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "PONG", "{}", String::from_utf8_lossy(&out.stderr));
    }
}

/// A PostgreSQL message: type, then its body.
async fn pg_message(tcp: &mut TcpStream) -> (u8, Vec<u8>) {
    let tag = tcp.read_u8().await.unwrap();
    let len = tcp.read_u32().await.unwrap();
    let mut body = vec![0u8; len as usize - 4];
    tcp.read_exact(&mut body).await.unwrap();
    (tag, body)
}

async fn pg_send(tcp: &mut TcpStream, tag: u8, body: &[u8]) {
    let mut packet = vec![tag];
    packet.extend_from_slice(&u32::try_from(body.len() + 4).unwrap().to_be_bytes());
    packet.extend_from_slice(body);
    tcp.write_all(&packet).await.unwrap();
}

async fn pg_startup(tcp: &mut TcpStream, user: &str) {
    let mut body = 196_608u32.to_be_bytes().to_vec();
    body.extend_from_slice(format!("user\0{user}\0database\0{user}\0\0").as_bytes());
    let mut packet = u32::try_from(body.len() + 4).unwrap().to_be_bytes().to_vec();
    packet.extend(body);
    tcp.write_all(&packet).await.unwrap();
}

#[tokio::test]
async fn postgres_authenticates_as_its_image_says_and_answers_select_1() {
    let sandbox = TestSandbox::start("sim-postgres");
    let client = sandbox.client().await;
    let env = |method: Option<&str>| {
        let mut env = vec![
            json!({"name": "POSTGRES_USER", "value": "app"}),
            json!({"name": "POSTGRES_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "pg", "key": "password"}}}),
        ];
        if let Some(method) = method {
            env.push(json!({"name": "POSTGRES_HOST_AUTH_METHOD", "value": method}));
        }
        env
    };
    create(
        &client,
        &[
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pg"}, "stringData": {"password": "pg-s3cret"}}),
            deployment(
                "pg",
                1,
                json!({"name": "postgres", "image": "pgvector/pgvector:pg16", "env": env(None), "ports": [{"name": "postgres", "containerPort": 5432}]}),
            ),
            service("pg", "pg", "NodePort", json!([{"port": 5432}])),
            deployment("pg-password", 1, json!({"name": "postgres", "image": "postgres:13", "env": env(Some("password")), "ports": [{"containerPort": 5432}]})),
            service("pg-password", "pg-password", "NodePort", json!([{"port": 5432}])),
        ],
    )
    .await;
    let scram = local(node_port(&client, "pg").await);
    let cleartext = local(node_port(&client, "pg-password").await);

    // A raw client, with cleartext passwords: SSLRequest refused, then a wrong and a right password.
    let mut tcp = eventually("postgres answers", || async {
        let mut tcp = TcpStream::connect(cleartext).await.ok()?;
        tcp.write_all(&[0, 0, 0, 8, 4, 210, 22, 47]).await.ok()?;
        (tcp.read_u8().await.ok()? == b'N').then_some(tcp)
    })
    .await;
    pg_startup(&mut tcp, "app").await;
    assert_eq!(pg_message(&mut tcp).await, (b'R', 3u32.to_be_bytes().to_vec()), "AuthenticationCleartextPassword");
    pg_send(&mut tcp, b'p', b"wrong\0").await;
    let (tag, body) = pg_message(&mut tcp).await;
    let text = String::from_utf8_lossy(&body);
    assert!(tag == b'E' && text.contains("C28P01\0") && text.contains("Mpassword authentication failed for user \"app\"\0"), "{text}");
    let mut tcp = TcpStream::connect(cleartext).await.unwrap();
    pg_startup(&mut tcp, "app").await;
    pg_message(&mut tcp).await;
    pg_send(&mut tcp, b'p', b"pg-s3cret\0").await;
    assert_eq!(pg_message(&mut tcp).await, (b'R', 0u32.to_be_bytes().to_vec()), "AuthenticationOk");
    let mut startup = Vec::new();
    loop {
        let (tag, body) = pg_message(&mut tcp).await;
        startup.push((tag, String::from_utf8_lossy(&body).into_owned()));
        if tag == b'Z' {
            break;
        }
    }
    assert!(startup.iter().any(|(t, b)| *t == b'S' && b == "server_version\u{0}13.0\u{0}"), "{startup:?}");
    assert!(startup.iter().any(|(t, _)| *t == b'K'), "BackendKeyData");
    pg_send(&mut tcp, b'Q', b"SELECT 1;\0").await;
    let kinds: Vec<u8> =
        [pg_message(&mut tcp).await, pg_message(&mut tcp).await, pg_message(&mut tcp).await, pg_message(&mut tcp).await].iter().map(|(t, _)| *t).collect();
    assert_eq!(kinds, b"TDCZ");
    pg_send(&mut tcp, b'X', &[]).await;

    // The real clients, with the image's default: SCRAM-SHA-256.
    let port = scram.port().to_string();
    if let Some(isready) = client_program("pg_isready") {
        let (ok, out) = run_client(&isready, &["-h", "127.0.0.1", "-p", &port], &[]);
        assert!(ok && out.contains("accepting connections"), "pg_isready: {out}");
    }
    if let Some(psql) = client_program("psql") {
        let args = ["-h", "127.0.0.1", "-p", &port, "-U", "app", "-d", "app", "-X", "-A", "-t", "-c", "select 1"];
        let (ok, out) = run_client(&psql, &args, &[("PGPASSWORD", "pg-s3cret"), ("PGCONNECT_TIMEOUT", "5")]);
        assert!(ok && out.trim() == "1", "psql -c 'select 1': {out}");
        let (ok, out) = run_client(&psql, &args, &[("PGPASSWORD", "wrong"), ("PGCONNECT_TIMEOUT", "5")]);
        assert!(!ok && out.contains("password authentication failed for user \"app\""), "psql with a wrong password: {out}");
        let (ok, out) =
            run_client(&psql, &["-h", "127.0.0.1", "-p", &port, "-U", "app", "-X", "-c", "select * from pg_tables"], &[("PGPASSWORD", "pg-s3cret")]);
        assert!(!ok && out.contains("not a database"), "an unsimulated query is refused plainly: {out}");
    }
}

#[tokio::test]
async fn http_servers_silent_ports_and_containers_that_do_not_run() {
    let sandbox = TestSandbox::start("sim-http");
    let client = sandbox.client().await;
    let mut crashing = deployment("crashing", 1, json!({"name": "app", "image": "example/api:1", "ports": [{"containerPort": 8080}]}));
    // It exits at once and is not restarted for 5 minutes.
    crashing["spec"]["template"]["metadata"]["annotations"] =
        json!({"sandbox.kdeck.dev/run-seconds": "0.2", "sandbox.kdeck.dev/exit-code": "1", "sandbox.kdeck.dev/backoff-seconds": "300"});
    create(
        &client,
        &[
            deployment("web", 1, json!({"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 80}]})),
            service("web", "web", "NodePort", json!([{"port": 80}])),
            deployment("broker", 1, json!({"name": "kafka", "image": "example/broker:3", "ports": [{"name": "kafka", "containerPort": 9092}]})),
            service("broker", "broker", "NodePort", json!([{"port": 9092}])),
            crashing,
            service("crashing", "crashing", "NodePort", json!([{"port": 8080}])),
        ],
    )
    .await;
    let web = local(node_port(&client, "web").await);
    let answer = eventually("nginx answers", || async { http(web, "GET", "web", "/", b"").await.ok() }).await;
    assert_eq!(answer.status, 200);
    assert!(answer.body.contains("<title>Welcome to nginx!</title>"), "{}", answer.body);
    assert_eq!(answer.header("server"), Some("nginx/1.27"));
    let head = http(web, "HEAD", "web", "/", b"").await.unwrap();
    assert_eq!((head.status, head.body.as_str()), (200, ""));
    assert_eq!(head.header("content-length"), Some(answer.body.len().to_string().as_str()), "HEAD says how long the GET answer is");
    let post = http(web, "POST", "web", "/form", &vec![b'x'; 200_000]).await.unwrap();
    assert_eq!(post.status, 200, "a body is read and dropped");
    // Two requests on one connection.
    let mut tcp = TcpStream::connect(web).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut raw = Vec::new();
    tcp.read_to_end(&mut raw).await.unwrap();
    assert_eq!(String::from_utf8_lossy(&raw).matches("HTTP/1.1 200 OK").count(), 2, "keep-alive");
    if let Some(curl) = client_program("curl") {
        let (ok, out) = run_client(&curl, &["-sS", "--max-time", "5", &format!("http://{web}/")], &[]);
        assert!(ok && out.contains("Welcome to nginx!"), "curl: {out}");
    }

    // A port of an unrecognised kind accepts and says nothing.
    let broker = local(node_port(&client, "broker").await);
    let mut tcp = eventually("the broker port accepts", || async {
        let mut tcp = TcpStream::connect(broker).await.ok()?;
        tcp.write_all(b"hello?").await.ok()?;
        let mut buf = [0u8; 16];
        // A reset or close would end the read at once; silence times out.
        tokio::time::timeout(std::time::Duration::from_millis(400), tcp.read(&mut buf)).await.is_err().then_some(tcp)
    })
    .await;
    tcp.write_all(b"more").await.unwrap();

    // A crash-looping container: no ready endpoint, so the connection ends at once without an answer.
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    eventually("the crashing pod waits to restart", || async {
        let list = pods.list(&ListParams::default().labels("app=crashing")).await.ok()?;
        let state = list.items.first()?.status.clone()?.container_statuses?.first()?.state.clone()?;
        state.waiting.filter(|w| w.reason.as_deref() == Some("CrashLoopBackOff"))
    })
    .await;
    let crashing = local(node_port(&client, "crashing").await);
    for _ in 0..3 {
        match http(crashing, "GET", "c", "/", b"").await {
            Err(_) => {}
            Ok(answer) => panic!("a container that does not run answered: {answer:?}"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
}
