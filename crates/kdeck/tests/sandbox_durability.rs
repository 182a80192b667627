//! The sandbox keeps every change it answered: a storm of concurrent creates is cut
//! by `kdeck sandbox stop` or by `kill -9`, the sandbox starts again, and every
//! create that was answered 2xx is there. Also: the data directory is private, and a
//! corrupt state file is refused with its line and left as it was.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::TestSandbox;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams};
use serde_json::{Value, json};

const CLIENTS: usize = 50;
/// How long the storm runs before it is cut.
const STORM_FOR: Duration = Duration::from_millis(1500);

/// What the clients saw: the names whose create was answered 2xx, and how many
/// creates failed before the cut (there should be none).
struct Storm {
    acknowledged: BTreeSet<String>,
    failed_early: usize,
}

/// Runs `CLIENTS` concurrent creators against the sandbox, calls `cut` after
/// `STORM_FOR`, and returns once every client has stopped (its sandbox is gone).
async fn storm(sandbox: &TestSandbox, cut: impl FnOnce() + Send + 'static) -> Storm {
    let client = sandbox.client().await;
    let cutting = Arc::new(AtomicBool::new(false));
    let cut_done = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..CLIENTS {
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
        let (cutting, cut_done) = (cutting.clone(), cut_done.clone());
        workers.push(tokio::spawn(async move {
            let (mut acknowledged, mut failed_early) = (Vec::new(), 0);
            for i in 0.. {
                if cut_done.load(Ordering::SeqCst) {
                    break;
                }
                let name = format!("storm-{w}-{i}");
                let cm: ConfigMap =
                    serde_json::from_value(json!({"metadata": {"name": name, "labels": {"storm": "yes"}}, "data": {"n": i.to_string()}})).unwrap();
                let result = tokio::time::timeout(Duration::from_secs(20), api.create(&PostParams::default(), &cm)).await;
                match result {
                    Ok(Ok(_)) => acknowledged.push(name),
                    // Once the cut began, failures are expected: the server is going away.
                    _ if cutting.load(Ordering::SeqCst) => tokio::time::sleep(Duration::from_millis(20)).await,
                    Ok(Err(e)) => {
                        failed_early += 1;
                        eprintln!("create {name} failed before the cut: {e}");
                    }
                    Err(_) => failed_early += 1,
                }
            }
            (acknowledged, failed_early)
        }));
    }
    tokio::time::sleep(STORM_FOR).await;
    cutting.store(true, Ordering::SeqCst);
    tokio::task::spawn_blocking(cut).await.unwrap();
    cut_done.store(true, Ordering::SeqCst);
    let mut storm = Storm { acknowledged: BTreeSet::new(), failed_early: 0 };
    for worker in workers {
        let (acknowledged, failed_early) = worker.await.unwrap();
        storm.acknowledged.extend(acknowledged);
        storm.failed_early += failed_early;
    }
    storm
}

/// Starts the sandbox again and checks that every acknowledged create is there.
async fn assert_all_kept(sandbox: &TestSandbox, storm: &Storm) {
    eprintln!("{} creates were answered 2xx before the cut", storm.acknowledged.len());
    assert_eq!(storm.failed_early, 0, "creates failed before the storm was cut");
    assert!(storm.acknowledged.len() > 100, "a real storm: only {} creates were answered", storm.acknowledged.len());
    sandbox.start_again();
    let api: Api<ConfigMap> = Api::namespaced(sandbox.client().await, "default");
    let list = api.list(&ListParams::default().labels("storm=yes")).await.expect("the state loads");
    let present: BTreeSet<String> = list.items.iter().filter_map(|c| c.metadata.name.clone()).collect();
    let lost: Vec<&String> = storm.acknowledged.difference(&present).collect();
    assert!(lost.is_empty(), "{} of {} acknowledged creates were lost, e.g. {:?}", lost.len(), storm.acknowledged.len(), &lost[..lost.len().min(5)]);
    // Nothing half-written: every object is whole.
    for cm in &list.items {
        assert!(cm.metadata.uid.is_some() && cm.metadata.resource_version.is_some() && cm.data.as_ref().is_some_and(|d| d.contains_key("n")), "{cm:?}");
    }
    // And the sandbox keeps working.
    let after: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "after-restart"}})).unwrap();
    api.create(&PostParams::default(), &after).await.expect("writes after the restart");
}

fn status(sandbox: &TestSandbox) -> Value {
    let out = sandbox.run(&["sandbox", "status", "--name", &sandbox.name, "-o", "json"]);
    serde_json::from_slice(&out.stdout).expect("status json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_graceful_stop_during_a_create_storm_keeps_every_acknowledged_create() {
    let sandbox = Arc::new(TestSandbox::start("storm-stop"));
    let stopper = sandbox.clone();
    let storm = storm(&sandbox, move || stopper.stop()).await;
    assert_eq!(status(&sandbox)["running"], false);
    assert_all_kept(&sandbox, &storm).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_during_a_create_storm_keeps_every_acknowledged_create() {
    let sandbox = TestSandbox::start("storm-kill");
    let pid = status(&sandbox)["pid"].as_i64().expect("a running sandbox has a pid") as i32;
    let storm = storm(&sandbox, move || {
        // SAFETY: sending SIGKILL to the sandbox process this test started.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
        while Path::new(&format!("/proc/{pid}")).exists() && !zombie(pid) {
            std::thread::sleep(Duration::from_millis(10));
        }
    })
    .await;
    let data = sandbox.home().join("sandboxes/storm-kill");
    assert!(data.join("journal.jsonl").exists(), "killed, the sandbox left its journal");
    assert_all_kept(&sandbox, &storm).await;
}

fn zombie(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).ok().and_then(|s| s.rsplit_once(')').map(|(_, rest)| rest.trim_start().starts_with('Z'))).unwrap_or(true)
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_and_its_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).permissions().mode() & 0o777;
    let sandbox = TestSandbox::start("private");
    let sandboxes = sandbox.home().join("sandboxes");
    let data = sandboxes.join("private");
    let api: Api<ConfigMap> = Api::namespaced(sandbox.client().await, "default");
    api.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "c"}})).unwrap()).await.unwrap();
    assert_eq!(mode(&sandboxes), 0o700, "the sandboxes directory");
    assert_eq!(mode(&data), 0o700, "the data directory");
    for file in ["journal.jsonl", "tokens.json", "ca.crt", "ca.key", "server.crt", "server.key", "sa.key", "sandbox.log"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    assert_eq!(mode(&sandboxes.join("private.json")), 0o600, "the record");
    sandbox.stop();
    assert_eq!(mode(&data.join("state.jsonl")), 0o600, "state.jsonl");

    // What an older kdeck left world-readable is tightened on the next start.
    fs::set_permissions(&data, fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(&sandboxes, fs::Permissions::from_mode(0o755)).unwrap();
    for file in ["state.jsonl", "tokens.json", "server.key", "ca.key", "sa.key"] {
        fs::set_permissions(data.join(file), fs::Permissions::from_mode(0o644)).unwrap();
    }
    sandbox.start_again();
    assert_eq!((mode(&sandboxes), mode(&data)), (0o700, 0o700));
    for file in ["state.jsonl", "tokens.json", "server.key", "ca.key", "sa.key"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file} after a restart");
    }
}

#[tokio::test]
async fn a_corrupt_state_file_is_refused_with_its_line_and_kept() {
    let sandbox = TestSandbox::start("corrupt");
    sandbox.stop();
    let state = sandbox.home().join("sandboxes/corrupt/state.jsonl");
    let mut text = fs::read_to_string(&state).unwrap();
    let line = text.lines().count() + 1;
    text.push_str(&json!({"group": "", "plural": "configmaps", "object": {"metadata": {"name": "has space", "namespace": "default", "uid": "u", "resourceVersion": "1"}}}).to_string());
    text.push('\n');
    fs::write(&state, &text).unwrap();

    let out = sandbox.run(&["sandbox", "start", "--detach", "--name", "corrupt"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("corrupt at line {line}")) && stderr.contains("\"has space\""), "{stderr}");
    assert_eq!(fs::read_to_string(&state).unwrap(), text, "the state file is left untouched");
}
