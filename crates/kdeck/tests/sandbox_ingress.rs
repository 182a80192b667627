//! The sandbox's network from the host, end to end: the ingress address (routing
//! by host, path and pathType as ingress-nginx does, rewrites with capture
//! groups, the default backend, 503 without endpoints, the status address),
//! NodePorts and LoadBalancer addresses on loopback and what happens when their
//! ports are taken, `--ingress-port`, and that nothing listens on anything but
//! loopback.

mod common;
mod loopback;

use std::net::{SocketAddr, TcpListener};

use common::TestSandbox;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use kube::api::Api;
use loopback::{
    Answer, client_program, create, deployment, events, eventually, http, ingress_address, listening_sockets, loopback, node_port, run_client, service, status,
};
use serde_json::{Value, json};

fn path(path: &str, kind: &str, service: &str, port: u16) -> Value {
    json!({"path": path, "pathType": kind, "backend": {"service": {"name": service, "port": {"number": port}}}})
}

fn ingress(name: &str, annotations: Value, class: Option<&str>, rules: Value) -> Value {
    let mut ingress =
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name, "annotations": annotations}, "spec": {"rules": rules}});
    if let Some(class) = class {
        ingress["spec"]["ingressClassName"] = json!(class);
    }
    ingress
}

/// The Deployment a whoami-style answer came from (`Hostname: api-…`), and the request line it saw.
fn reached(answer: &Answer) -> (String, String) {
    let line = |prefix: &str| answer.body.lines().find(|l| l.starts_with(prefix)).unwrap_or_default().to_string();
    let host = line("Hostname: ");
    let app = host.trim_start_matches("Hostname: ").split('-').next().unwrap_or_default().to_string();
    let request = answer.body.lines().find(|l| l.ends_with(" HTTP/1.1")).unwrap_or_default().to_string();
    (app, request)
}

#[tokio::test]
async fn the_ingress_address_routes_by_host_and_path_and_rewrites() {
    let sandbox = TestSandbox::start("ingress");
    let client = sandbox.client().await;
    let address = ingress_address(&sandbox);
    assert!(address.ip().is_loopback());
    create(
        &client,
        &[
            deployment("web", 2, json!({"name": "whoami", "image": "traefik/whoami:v1.10", "ports": [{"name": "http", "containerPort": 80}]})),
            service("web", "web", "ClusterIP", json!([{"port": 80, "targetPort": "http"}])),
            deployment("api", 1, json!({"name": "api", "image": "example/api:1.4", "ports": [{"name": "http", "containerPort": 8080}]})),
            service("api", "api", "ClusterIP", json!([{"name": "http", "port": 8080, "targetPort": "http"}])),
            service("empty", "nothing-has-this-label", "ClusterIP", json!([{"port": 80}])),
            ingress(
                "site",
                json!({}),
                None,
                json!([{"host": "site.test", "http": {"paths": [path("/api", "Prefix", "api", 8080), path("/only", "Exact", "api", 8080), path("/", "ImplementationSpecific", "web", 80)]}}]),
            ),
            ingress("wild", json!({}), Some("nginx"), json!([{"host": "*.apps.test", "http": {"paths": [path("/", "Prefix", "web", 80)]}}])),
            ingress(
                "rewrite",
                json!({"nginx.ingress.kubernetes.io/use-regex": "true", "nginx.ingress.kubernetes.io/rewrite-target": "/$2"}),
                Some("nginx"),
                json!([{"host": "rw.test", "http": {"paths": [path("/auth(/|$)(.*)", "ImplementationSpecific", "api", 8080)]}}]),
            ),
            ingress(
                "broken",
                json!({}),
                Some("nginx"),
                json!([{"host": "broken.test", "http": {"paths": [path("/", "Prefix", "nothere", 80), path("/empty", "Prefix", "empty", 80)]}}]),
            ),
            ingress("elsewhere", json!({}), Some("traefik"), json!([{"host": "traefik.test", "http": {"paths": [path("/", "Prefix", "web", 80)]}}])),
        ],
    )
    .await;
    let get =
        |host: &'static str, path: &'static str| async move { http(address, "GET", host, path, b"").await.unwrap_or_else(|e| panic!("{host}{path}: {e}")) };
    // Both backends ready.
    eventually("api is reachable", || async { (reached(&get("site.test", "/api").await).0 == "api").then_some(()) }).await;
    eventually("web is reachable", || async { (reached(&get("site.test", "/").await).0 == "web").then_some(()) }).await;

    for (host, path, app, request) in [
        ("site.test", "/api/users?page=2", "api", "GET /api/users?page=2 HTTP/1.1"),
        ("site.test", "/api", "api", "GET /api HTTP/1.1"),
        ("site.test", "/apix", "web", "GET /apix HTTP/1.1"),
        ("site.test", "/only", "api", "GET /only HTTP/1.1"),
        ("site.test", "/only/more", "web", "GET /only/more HTTP/1.1"),
        ("SITE.test:80", "/api/x", "api", "GET /api/x HTTP/1.1"),
        ("blog.apps.test", "/anything", "web", "GET /anything HTTP/1.1"),
        ("rw.test", "/auth/login?next=%2F", "api", "GET /login?next=%2F HTTP/1.1"),
        ("rw.test", "/auth", "api", "GET / HTTP/1.1"),
        ("rw.test", "/AUTH/Users", "api", "GET /Users HTTP/1.1"),
    ] {
        let answer = http(address, "GET", host, path, b"").await.unwrap();
        assert_eq!(answer.status, 200, "{host}{path}: {answer:?}");
        assert_eq!(reached(&answer), (app.to_string(), request.to_string()), "{host}{path}");
        assert_eq!(answer.header("server"), Some("nginx"));
    }
    // What ingress-nginx tells the backend.
    let answer = get("site.test", "/api/headers").await;
    for header in [
        "Host: site.test".to_string(),
        "X-Real-Ip: 127.0.0.1".into(),
        "X-Forwarded-For: 127.0.0.1".into(),
        "X-Forwarded-Host: site.test".into(),
        format!("X-Forwarded-Port: {}", address.port()),
        "X-Forwarded-Proto: http".into(),
        "X-Forwarded-Scheme: http".into(),
        "X-Scheme: http".into(),
    ] {
        assert!(answer.body.lines().any(|l| l == header), "{header} in {}", answer.body);
    }
    assert!(answer.body.lines().any(|l| l.starts_with("X-Request-Id: ")));
    // A request body goes through.
    let posted = http(address, "POST", "site.test", "/api/upload", &vec![b'x'; 300_000]).await.unwrap();
    assert_eq!(reached(&posted), ("api".into(), "POST /api/upload HTTP/1.1".into()));
    assert!(posted.body.lines().any(|l| l == "Content-Length: 300000"), "{}", posted.body);

    // The default backend, and 503 without a Service or endpoints.
    for (host, path) in [("unknown.test", "/"), ("a.b.apps.test", "/"), ("apps.test", "/"), ("traefik.test", "/")] {
        let answer = http(address, "GET", host, path, b"").await.unwrap();
        assert_eq!(answer.status, 404, "{host}{path}");
        assert!(answer.body.contains("<head><title>404 Not Found</title></head>") && answer.body.contains("<hr><center>nginx</center>"), "{}", answer.body);
    }
    for path in ["/", "/empty/x"] {
        let answer = http(address, "GET", "broken.test", path, b"").await.unwrap();
        assert_eq!(answer.status, 503, "broken.test{path}");
        assert!(answer.body.contains("<title>503 Service Temporarily Unavailable</title>"));
    }
    if let Some(curl) = client_program("curl") {
        let url = format!("http://{address}/auth/from-curl");
        let (ok, out) = run_client(&curl, &["-sS", "--max-time", "5", "-H", "Host: rw.test", &url], &[]);
        assert!(ok && out.contains("GET /from-curl HTTP/1.1"), "curl through the ingress: {out}");
    }

    // Statuses, the class and its default.
    let ingresses: Api<Ingress> = Api::default_namespaced(client.clone());
    for name in ["site", "wild", "rewrite", "broken"] {
        eventually("the ingress's status address", || async {
            let status = ingresses.get(name).await.ok()?.status?.load_balancer?.ingress?;
            (status.first()?.ip.as_deref() == Some("127.0.0.1")).then_some(())
        })
        .await;
    }
    let site = ingresses.get("site").await.unwrap();
    assert_eq!(site.spec.unwrap().ingress_class_name.as_deref(), Some("nginx"), "the default class is given to an Ingress without one");
    assert!(
        ingresses.get("elsewhere").await.unwrap().status.and_then(|s| s.load_balancer).and_then(|l| l.ingress).is_none(),
        "another class's Ingress is left alone"
    );
    let class = Api::<IngressClass>::all(client.clone()).get("nginx").await.unwrap();
    assert_eq!(class.spec.unwrap().controller.as_deref(), Some("k8s.io/ingress-nginx"));
    assert_eq!(class.metadata.annotations.unwrap()["ingressclass.kubernetes.io/is-default-class"], "true");
}

/// A free port of the NodePort range, held by the returned listener.
fn hold_node_port() -> (TcpListener, u16) {
    for port in 31_500..32_700 {
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)) {
            return (listener, port);
        }
    }
    panic!("no free port in 31500-32700");
}

#[tokio::test]
async fn node_ports_and_load_balancers_listen_on_loopback_and_report_taken_ports() {
    let sandbox = TestSandbox::start("exposed");
    let client = sandbox.client().await;
    let (_held, taken_node_port) = hold_node_port();
    // Held on every address, so a LoadBalancer cannot have it on any 127.0.0.N.
    let everywhere = TcpListener::bind("0.0.0.0:0").unwrap();
    let taken_lb_port = everywhere.local_addr().unwrap().port();
    create(
        &client,
        &[
            deployment("web", 1, json!({"name": "whoami", "image": "traefik/whoami:v1.10", "ports": [{"name": "http", "containerPort": 80}]})),
            service("web-np", "web", "NodePort", json!([{"port": 80, "targetPort": "http"}])),
            service("web-lb", "web", "LoadBalancer", json!([{"name": "http", "port": 8088, "targetPort": "http"}])),
            service("web-lb2", "web", "LoadBalancer", json!([{"name": "http", "port": 8088, "targetPort": "http"}])),
            service("clash", "web", "NodePort", json!([{"port": 80, "targetPort": "http", "nodePort": taken_node_port}])),
            service(
                "lb-clash",
                "web",
                "LoadBalancer",
                json!([{"name": "a", "port": taken_lb_port, "targetPort": "http"}, {"name": "b", "port": 8089, "targetPort": "http"}]),
            ),
        ],
    )
    .await;
    let node_port = node_port(&client, "web-np").await;
    assert!((30000..=32767).contains(&node_port));
    let answer = eventually("the NodePort answers", || async { http(SocketAddr::from(([127, 0, 0, 1], node_port)), "GET", "np", "/np", b"").await.ok() }).await;
    assert!(answer.body.contains("GET /np HTTP/1.1"), "{}", answer.body);

    // Each LoadBalancer has its own address 127.0.0.N (N ≥ 2), reachable on its port.
    let services: Api<Service> = Api::default_namespaced(client.clone());
    let lb_ip = |name: &'static str| {
        let services = services.clone();
        async move {
            let ingress = services.get(name).await.ok()?.status?.load_balancer?.ingress?.first()?.clone();
            assert_eq!(ingress.ip_mode.as_deref(), Some("VIP"));
            ingress.ip.and_then(|ip| ip.parse::<std::net::Ipv4Addr>().ok())
        }
    };
    let first = eventually("web-lb has an address", || lb_ip("web-lb")).await;
    let second = eventually("web-lb2 has an address", || lb_ip("web-lb2")).await;
    for ip in [first, second] {
        assert!(ip.is_loopback() && ip.octets()[3] >= 2, "{ip}");
        let answer = eventually("the load balancer answers", || async { http(SocketAddr::from((ip, 8088)), "GET", "lb", "/lb", b"").await.ok() }).await;
        assert!(answer.body.contains("GET /lb HTTP/1.1"));
    }
    assert_ne!(first, second, "each LoadBalancer has its own address");

    // Taken ports: events, the log, the status; the sandbox goes on.
    let messages = eventually("a FailedToListen event for the taken nodePort", || async {
        let m = events(&client, "clash", "FailedToListen").await;
        (!m.is_empty()).then_some(m)
    })
    .await;
    assert_eq!(messages[0], format!("cannot listen on 127.0.0.1:{taken_node_port} for nodePort of port 80: address already in use"));
    let lb = eventually("lb-clash reports its port", || async {
        let ingress = services.get("lb-clash").await.ok()?.status?.load_balancer?.ingress?.first()?.clone();
        ingress.ports.filter(|p| !p.is_empty())
    })
    .await;
    assert_eq!(lb[0].port, i32::from(taken_lb_port));
    assert_eq!(lb[0].error.as_deref(), Some("sandbox.kdeck.dev/AddressInUse"));
    assert_eq!((lb[1].port, lb[1].error.as_deref()), (8089, None));
    let messages = eventually("a FailedToListen event for the LoadBalancer", || async {
        let m = events(&client, "lb-clash", "FailedToListen").await;
        (!m.is_empty()).then_some(m)
    })
    .await;
    assert!(messages[0].contains(&format!(":{taken_lb_port} for the load balancer's port \"a\": address already in use")), "{messages:?}");
    let log = std::fs::read_to_string(sandbox.home().join("sandboxes/exposed/sandbox.log")).unwrap();
    assert!(log.contains(&format!("service default/clash: cannot listen on 127.0.0.1:{taken_node_port}")), "{log}");
    assert!(status(&sandbox)["running"] == true);

    // Every socket the sandbox listens on is loopback.
    let pid = u32::try_from(status(&sandbox)["pid"].as_u64().unwrap()).unwrap();
    let sockets = listening_sockets(pid);
    let ingress = ingress_address(&sandbox);
    for expected in [ingress, SocketAddr::from(([127, 0, 0, 1], node_port)), SocketAddr::from((first, 8088))] {
        assert!(sockets.contains(&expected), "{expected} among {sockets:?}");
    }
    assert!(sockets.iter().all(loopback), "non-loopback listeners: {sockets:?}");
    drop(everywhere);
}

#[tokio::test]
async fn the_ingress_port_is_kept_across_restarts_and_a_taken_one_is_refused() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let sandbox = TestSandbox::start_with_args("ingress-port", &["--ingress-port", &port.to_string()]);
    assert_eq!(status(&sandbox)["ingress"], format!("http://127.0.0.1:{port}"));
    let text = sandbox.run(&["sandbox", "status", "--name", "ingress-port"]);
    assert!(
        String::from_utf8_lossy(&text.stdout).lines().any(|l| l == format!("ingress     http://127.0.0.1:{port}")),
        "{}",
        String::from_utf8_lossy(&text.stdout)
    );
    let answer = http(SocketAddr::from(([127, 0, 0, 1], port)), "GET", "nothing.test", "/", b"").await.unwrap();
    assert_eq!(answer.status, 404);
    // Another sandbox cannot have it.
    let other = sandbox.sibling("ingress-port-2");
    let out = sandbox.run(&["sandbox", "start", "--detach", "--name", &other.name, "--ingress-port", &port.to_string()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("cannot listen on 127.0.0.1:{port} for the ingress address")), "{err}");
    // Stopped and started again without the flag: the same address.
    sandbox.stop();
    assert_eq!(status(&sandbox)["ingress"], format!("http://127.0.0.1:{port}"), "a stopped sandbox still shows its address");
    sandbox.start_again();
    assert_eq!(status(&sandbox)["ingress"], format!("http://127.0.0.1:{port}"));
    assert_eq!(http(SocketAddr::from(([127, 0, 0, 1], port)), "GET", "n", "/", b"").await.unwrap().status, 404);
}
