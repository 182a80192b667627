//! Each pod's own network view, end to end through kube-rs and the kdeck binary:
//! execs of a pod share its `localhost`; pods running for real listen on the same
//! port without colliding; inside a pod every Service resolves by its names (and a
//! headless one to its pods) and answers on its ports from a ready endpoint; a
//! Service without one refuses; a Service made later resolves too; views go with
//! their pods and with the sandbox, even killed; and nothing of it listens on the
//! host off loopback.

mod common;

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use common::{TestSandbox, exec, wait_pod};
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{Api, AttachParams, DeleteParams, PostParams};
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;

const RUN_COMMAND: &str = "sandbox.kdeck.dev/run-command";

/// Runs python `code` in the pod and returns what it printed.
async fn python(pods: &Api<Pod>, pod: &str, code: &str) -> String {
    let out = exec(pods, pod, &["python3", "-c", code]).await;
    assert_eq!(out.code, 0, "{code}: {}", out.stderr);
    out.stdout.trim().to_string()
}

/// Python that fetches `url` (retrying while the server starts) and prints the body.
fn fetch(url: &str) -> String {
    format!(
        "import time, urllib.request\nerr = None\nfor _ in range(50):\n    try:\n        print(urllib.request.urlopen({url:?}, timeout=3).read().decode().strip()); break\n    except Exception as e:\n        err = e; time.sleep(0.2)\nelse:\n    print('failed:', err)\n"
    )
}

/// Python that resolves each name and prints `name=address` lines.
fn resolve(names: &[&str]) -> String {
    format!(
        "import socket\nfor n in {names:?}:\n    try:\n        print(n + '=' + socket.gethostbyname(n))\n    except OSError as e:\n        print(n + '=error ' + str(e))\n"
    )
}

fn running(pod: &Pod) -> bool {
    pod.status.as_ref().and_then(|s| s.container_statuses.as_ref()).is_some_and(|cs| cs.iter().all(|c| c.state.as_ref().is_some_and(|s| s.running.is_some())))
}

fn ready(pod: &Pod) -> bool {
    pod.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

async fn create(pods: &Api<Pod>, pod: Value) -> Pod {
    let name = pod["metadata"]["name"].as_str().unwrap().to_string();
    pods.create(&PostParams::default(), &serde_json::from_value(pod).unwrap()).await.unwrap();
    wait_pod(pods, &name, "running and ready", |p| running(p) && ready(p)).await
}

fn pod_ip(pod: &Pod) -> String {
    pod.status.as_ref().and_then(|s| s.pod_ip.clone()).expect("a pod IP")
}

/// A pod whose command serves HTTP on 8000 for real, answering `/id` with `id`.
fn server(name: &str, id: &str, extra: Value) -> Value {
    let script = format!("mkdir -p /tmp/www && echo {id} > /tmp/www/id && exec python3 -m http.server 8000 --bind 0.0.0.0 --directory /tmp/www");
    let mut pod = json!({"metadata": {"name": name, "labels": {"app": name}, "annotations": {RUN_COMMAND: "true"}},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "web", "image": "python", "command": ["sh", "-c", script],
            "ports": [{"name": "http", "containerPort": 8000}]}]}});
    if let (Some(spec), Some(extra)) = (pod["spec"].as_object_mut(), extra.as_object()) {
        spec.extend(extra.clone());
    }
    pod
}

async fn service(services: &Api<Service>, name: &str, spec: Value) -> Service {
    services.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap()).await.unwrap()
}

fn cluster_ip(service: &Service) -> String {
    service.spec.as_ref().and_then(|s| s.cluster_ip.clone()).expect("a cluster IP")
}

fn data_dir(sandbox: &TestSandbox) -> PathBuf {
    sandbox.home().join("sandboxes").join(&sandbox.name)
}

/// The pid serving the sandbox, from its record.
fn sandbox_pid(sandbox: &TestSandbox) -> i32 {
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(sandbox.home().join("sandboxes").join(format!("{}.json", sandbox.name))).unwrap()).unwrap();
    record["pid"].as_i64().and_then(|p| i32::try_from(p).ok()).expect("a running sandbox")
}

/// The sandbox's network broker (a child named kdeck-netns), once it has one.
fn broker_of(pid: i32) -> Option<i32> {
    let entries = std::fs::read_dir("/proc").ok()?;
    entries.flatten().filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok()).find(|child| {
        let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
        let parent = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<i32>().ok());
        parent == Some(pid) && std::fs::read_to_string(format!("/proc/{child}/comm")).is_ok_and(|c| c.trim() == "kdeck-netns")
    })
}

/// The links of the node namespace (the broker lives there).
fn node_links(broker: i32) -> Vec<String> {
    let dev = std::fs::read_to_string(format!("/proc/{broker}/net/dev")).unwrap_or_default();
    dev.lines().skip(2).filter_map(|l| l.split(':').next()).map(|n| n.trim().to_string()).filter(|n| n.starts_with("kdeck")).collect()
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.rsplit_once(')').is_some_and(|(_, r)| r.trim_start().starts_with('Z')))
}

/// The local addresses of the sockets `pid` holds that listen in the host's
/// network namespace (from /proc/PID/net/tcp and tcp6, matched by inode).
fn host_listeners(pid: i32) -> Vec<String> {
    let inodes: HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter_map(|l| l.to_str()?.strip_prefix("socket:[")?.strip_suffix(']').map(str::to_string))
        .collect();
    let mut out = Vec::new();
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // local_address, state 0A (LISTEN), inode
            if fields.len() > 9 && fields[3] == "0A" && inodes.contains(fields[9]) {
                out.push(fields[1].to_string());
            }
        }
    }
    out
}

/// 127.0.0.1 or ::1 (and IPv4-mapped 127.0.0.1), as /proc/net/tcp* writes them.
fn is_loopback(hex: &str) -> bool {
    let address = hex.split(':').next().unwrap_or_default();
    matches!(address, "0100007F" | "00000000000000000000000001000000" | "0000000000000000FFFF00000100007F")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execs_of_a_pod_share_its_network_and_it_goes_with_the_pod() {
    let sandbox = TestSandbox::start("net-shared");
    let pods: Api<Pod> = Api::namespaced(sandbox.client().await, "default");
    create(&pods, json!({"metadata": {"name": "shell"}, "spec": {"containers": [{"name": "app", "image": "busybox"}]}})).await;

    // One exec listens on the pod's localhost; another reaches it there.
    let listener = "import socket\ns = socket.socket()\ns.bind(('127.0.0.1', 7000))\ns.listen(1)\nprint('ready', flush=True)\nc, _ = s.accept()\nc.sendall(b'hello from the first exec')\nc.close()\n";
    let mut first = pods.exec("shell", ["python3", "-c", listener], &AttachParams::default()).await.expect("exec upgraded");
    let status = first.take_status().expect("status future");
    let mut lines = tokio::io::BufReader::new(first.stdout().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await.expect("the listener started").unwrap();
    assert_eq!(line.as_deref(), Some("ready"));
    let got = python(&pods, "shell", "import socket\nc = socket.create_connection(('127.0.0.1', 7000))\nprint(c.recv(100).decode())").await;
    assert_eq!(got, "hello from the first exec");
    let status = tokio::time::timeout(Duration::from_secs(10), status).await.expect("the first exec ended");
    assert_eq!(status.and_then(|s| s.status).as_deref(), Some("Success"));

    // The pod has its IP on eth0, and a view of its own: the host's ports are not there.
    let pod = pods.get("shell").await.unwrap();
    let out = exec(&pods, "shell", &["cat", "/proc/net/fib_trie"]).await;
    assert!(out.stdout.contains(&pod_ip(&pod)), "{}", out.stdout);
    let record: Value = serde_json::from_str(&std::fs::read_to_string(sandbox.home().join("sandboxes/net-shared.json")).unwrap()).unwrap();
    let api_port: u16 = record["server"].as_str().and_then(|s| s.rsplit(':').next()?.parse().ok()).expect("the API's port");
    let out = exec(&pods, "shell", &["cat", "/proc/net/tcp"]).await;
    assert!(!out.stdout.contains(&format!(":{api_port:04X} ")), "the host's listener is visible in the pod: {}", out.stdout);

    // The view and its files go with the pod.
    let pid = sandbox_pid(&sandbox);
    let broker = broker_of(pid).expect("the sandbox has a network broker once a pod has a view");
    assert_eq!(node_links(broker).len(), 1, "one veth pair for the one view");
    let uid = pod.metadata.uid.clone().unwrap();
    assert!(data_dir(&sandbox).join("network").join(&uid).join("hosts").exists());
    pods.delete("shell", &DeleteParams { grace_period_seconds: Some(0), ..Default::default() }).await.unwrap();
    for _ in 0..50 {
        if node_links(broker).is_empty() && !data_dir(&sandbox).join("network").join(&uid).exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(node_links(broker).is_empty(), "the view's link is gone: {:?}", node_links(broker));
    assert!(!data_dir(&sandbox).join("network").join(&uid).exists(), "the view's files are gone");

    // Killed, the sandbox takes its broker (and so every view) with it.
    create(&pods, json!({"metadata": {"name": "again"}, "spec": {"containers": [{"name": "app", "image": "busybox"}]}})).await;
    assert_eq!(exec(&pods, "again", &["true"]).await.code, 0);
    // SAFETY: signalling the sandbox this test started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    for _ in 0..50 {
        if !alive(broker) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!alive(broker), "the broker outlived a killed sandbox");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_resolve_and_answer_inside_pods() {
    let sandbox = TestSandbox::start_with_args("net-services", &["--run-commands"]);
    let client = sandbox.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let services: Api<Service> = Api::namespaced(client.clone(), "default");

    // Two pods running for real both listen on 8000: each in its own view.
    let one = create(&pods, server("one", "one", json!({}))).await;
    let two = create(&pods, server("two", "two", json!({}))).await;
    let svc_one = service(&services, "one", json!({"selector": {"app": "one"}, "ports": [{"port": 80, "targetPort": "http"}]})).await;
    service(&services, "two", json!({"selector": {"app": "two"}, "ports": [{"port": 8080, "targetPort": 8000}]})).await;
    // A headless Service whose pod is `db-0.db`.
    create(&pods, server("db-0", "db", json!({"hostname": "db-0", "subdomain": "db"}))).await;
    service(&services, "db", json!({"clusterIP": "None", "selector": {"app": "db-0"}, "ports": [{"port": 8000}]})).await;
    // A Service nothing ready backs.
    let nobody = service(&services, "nobody", json!({"selector": {"app": "nobody"}, "ports": [{"port": 80}]})).await;
    create(&pods, json!({"metadata": {"name": "client"}, "spec": {"containers": [{"name": "app", "image": "busybox"}]}})).await;

    // Each Service by each of its names, reaching its own pod.
    assert_eq!(python(&pods, "client", &fetch("http://one/id")).await, "one");
    assert_eq!(python(&pods, "client", &fetch("http://one.default:80/id")).await, "one");
    assert_eq!(python(&pods, "client", &fetch("http://two.default.svc:8080/id")).await, "two");
    assert_eq!(python(&pods, "client", &fetch("http://two.default.svc.cluster.local:8080/id")).await, "two");
    // Pod to pod, directly.
    assert_eq!(python(&pods, "client", &fetch(&format!("http://{}:8000/id", pod_ip(&two)))).await, "two");
    // busybox-style tools too (wget through the libc resolver).
    let out = exec(&pods, "client", &["wget", "-qO-", "http://one/id"]).await;
    assert_eq!((out.code, out.stdout.trim()), (0, "one"), "{}", out.stderr);

    let names = ["one", "one.default", "one.default.svc", "one.default.svc.cluster.local", "db", "db-0.db", "db-0.db.default.svc.cluster.local"];
    let resolved = python(&pods, "client", &resolve(&names)).await;
    let db_ip = pod_ip(&pods.get("db-0").await.unwrap());
    let one_ip = cluster_ip(&svc_one);
    let expected: Vec<String> = names.iter().map(|n| format!("{n}={}", if n.starts_with("db") { &db_ip } else { &one_ip })).collect();
    assert_eq!(resolved.lines().collect::<Vec<_>>(), expected);
    assert_eq!(python(&pods, "client", &fetch("http://db-0.db:8000/id")).await, "db");
    let out = exec(&pods, "client", &["cat", "/etc/resolv.conf"]).await;
    assert!(out.stdout.contains("search default.svc.cluster.local svc.cluster.local cluster.local"), "{}", out.stdout);

    // No ready endpoint: refused.
    let refused = format!(
        "import socket\ntry:\n    socket.create_connection(({:?}, 80), timeout=5)\n    print('connected')\nexcept ConnectionRefusedError:\n    print('refused')\n",
        cluster_ip(&nobody)
    );
    assert_eq!(python(&pods, "client", &refused).await, "refused");

    // A Service made now resolves and answers in the pod that already runs.
    service(&services, "late", json!({"selector": {"app": "one"}, "ports": [{"port": 9000, "targetPort": 8000}]})).await;
    let wait_late = "import socket, time\nfor _ in range(50):\n    try:\n        print(socket.gethostbyname('late')); break\n    except OSError:\n        time.sleep(0.1)\nelse:\n    print('unresolved')\n";
    let late = python(&pods, "client", wait_late).await;
    assert_ne!(late, "unresolved");
    assert_eq!(python(&pods, "client", &fetch("http://late:9000/id")).await, "one");

    // The two real pods were never in each other's way.
    for (pod, name) in [(&one, "one"), (&two, "two")] {
        let now = pods.get(name).await.unwrap();
        assert!(running(&now), "{name} still serves");
        assert_eq!(now.metadata.uid, pod.metadata.uid);
    }

    // On the host, the sandbox listens on loopback only: Services and pods are
    // served in namespaces of their own.
    let listeners = host_listeners(sandbox_pid(&sandbox));
    assert!(!listeners.is_empty(), "the API's own listener is seen");
    assert!(listeners.iter().all(|l| is_loopback(l)), "{listeners:?}");
}
