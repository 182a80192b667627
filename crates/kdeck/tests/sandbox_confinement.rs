//! Exec is confined to its pod, end to end through kube-rs and the kdeck binary:
//! none of the host's secrets, files, /tmp or processes are reachable, the pod's
//! user and securityContext apply (ids mapped to unprivileged host ids when the
//! sandbox runs as root), and the tools a shell needs still run. Volume files get
//! the kubelet's modes and owners; `browse-pvc --rw` writes as the pod's user.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{TestSandbox, exec, wait_pod};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

/// What the pod's user is on the host when the sandbox runs as root.
const HOST_ID_BASE: u32 = 1_000_000_000;

fn running(pod: &Pod) -> bool {
    pod.status.as_ref().and_then(|s| s.container_statuses.as_ref()).is_some_and(|cs| cs.iter().all(|c| c.state.as_ref().is_some_and(|s| s.running.is_some())))
}

async fn create_running(pods: &Api<Pod>, pod: Value) -> Pod {
    let name = pod["metadata"]["name"].as_str().unwrap().to_string();
    pods.create(&PostParams::default(), &serde_json::from_value(pod).unwrap()).await.unwrap();
    wait_pod(pods, &name, "running", running).await
}

fn is_root() -> bool {
    // SAFETY: no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn data_dir(sandbox: &TestSandbox) -> PathBuf {
    sandbox.home().join("sandboxes").join(&sandbox.name)
}

#[tokio::test]
async fn exec_reaches_nothing_of_the_host() {
    let sandbox = TestSandbox::start("confine-host");
    let pods: Api<Pod> = Api::namespaced(sandbox.client().await, "default");
    create_running(&pods, json!({"metadata": {"name": "plain"}, "spec": {"containers": [{"name": "app", "image": "busybox"}]}})).await;

    // The host's shadow file is not there.
    assert!(Path::new("/etc/shadow").exists());
    let out = exec(&pods, "plain", &["head", "-2", "/etc/shadow"]).await;
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert!(out.stdout.is_empty() && out.stderr.contains("No such file"), "{}", out.stderr);

    // Nor the sandbox's data directory, its tokens included.
    let tokens = data_dir(&sandbox).join("tokens.json");
    let admin: Value = serde_json::from_str(&std::fs::read_to_string(&tokens).expect("the sandbox's tokens")).unwrap();
    let out = exec(&pods, "plain", &["cat", tokens.to_str().unwrap()]).await;
    assert_ne!(out.code, 0);
    assert!(!out.stdout.contains(admin["admin"].as_str().unwrap()), "the admin token leaked");
    let out = exec(&pods, "plain", &["ls", data_dir(&sandbox).to_str().unwrap()]).await;
    assert_ne!(out.code, 0, "{}", out.stdout);

    // /tmp is the container's own: a file written there never appears on the
    // host, and the next exec into the container sees it (as `kubectl cp` needs).
    let name = format!("kdeck-confine-{}", std::process::id());
    let out = exec(&pods, "plain", &["sh", "-c", &format!("echo x > /tmp/{name}")]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!Path::new("/tmp").join(&name).exists(), "the write reached the host's /tmp");
    let out = exec(&pods, "plain", &["cat", &format!("/tmp/{name}")]).await;
    assert_eq!(out.stdout, "x\n", "{}", out.stderr);

    // PID 1 is the pod's init, not the host's; no host process is visible.
    let host_init = std::fs::read("/proc/1/cmdline").unwrap_or_default();
    let out = exec(&pods, "plain", &["cat", "/proc/1/cmdline"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("kdeck-init"), "{:?}", out.stdout);
    assert_ne!(out.stdout.as_bytes(), host_init.as_slice());
    let out = exec(&pods, "plain", &["sh", "-c", "ls /proc | grep -c '^[0-9]'"]).await;
    let count: u32 = out.stdout.trim().parse().unwrap_or(99);
    assert!(count <= 4, "only the pod's processes: {}", out.stdout);

    // No home directories, /var, /srv, /mnt of the host: the pod's /var holds only
    // the way to its ServiceAccount token's mount point.
    let out = exec(&pods, "plain", &["sh", "-c", "ls -A /root; ls /home /srv /mnt 2>&1; true"]).await;
    assert!(out.stdout.lines().all(|l| l.contains("No such file")), "{}", out.stdout);
    let out = exec(&pods, "plain", &["sh", "-c", "ls -A /var /var/run /var/run/secrets"]).await;
    assert_eq!(out.stdout, "/var:\nrun\n\n/var/run:\nsecrets\n\n/var/run/secrets:\nkubernetes.io\n", "{}", out.stderr);
    // The system trees are read-only, even to a write the permissions would allow.
    let out = exec(&pods, "plain", &["touch", "/usr/bin/kdeck-confine"]).await;
    assert_ne!(out.code, 0);
    assert!(!Path::new("/usr/bin/kdeck-confine").exists());

    // The default user is nobody, without capabilities or host privilege.
    let out = exec(&pods, "plain", &["id"]).await;
    assert_eq!(out.stdout, "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n");
    let out = exec(&pods, "plain", &["grep", "-E", "^Cap(Eff|Prm)", "/proc/self/status"]).await;
    assert_eq!(out.stdout, "CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n");
    if is_root() {
        let out = exec(&pods, "plain", &["cat", "/proc/self/uid_map"]).await;
        assert_eq!(out.stdout.split_whitespace().collect::<Vec<_>>(), ["0", &HOST_ID_BASE.to_string(), "65536"]);
    }

    // The tools a shell session needs run.
    for (command, expected) in [
        (vec!["sh", "-c", "echo $((6 * 7))"], "42\n"),
        (vec!["cat", "/etc/hostname"], "plain\n"),
        (vec!["ls", "/usr/bin/env"], "/usr/bin/env\n"),
        (vec!["python3", "-c", "print(1)"], "1\n"),
        (vec!["sh", "-c", "grep -c plain /etc/hosts"], "1\n"),
    ] {
        let out = exec(&pods, "plain", &command).await;
        assert_eq!((out.code, out.stdout.as_str()), (0, expected), "{command:?}: {}", out.stderr);
    }

    // A terminal session gets a terminal of the pod's own devpts.
    let mut attached = pods.exec("plain", ["sh", "-c", "tty; ls /dev/ptmx"], &AttachParams::interactive_tty()).await.unwrap();
    let mut stdout = attached.stdout().unwrap();
    let mut text = String::new();
    tokio::time::timeout(Duration::from_secs(10), stdout.read_to_string(&mut text)).await.expect("the terminal session ends").unwrap();
    assert!(text.contains("/dev/pts/0") && text.contains("/dev/ptmx"), "{text}");
}

#[tokio::test]
async fn the_security_context_applies() {
    let sandbox = TestSandbox::start("confine-context");
    let pods: Api<Pod> = Api::namespaced(sandbox.client().await, "default");
    let restricted = json!({"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"]}});
    create_running(
        &pods,
        json!({"metadata": {"name": "user"}, "spec": {
            "securityContext": {"runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 2000, "supplementalGroups": [3000]},
            "volumes": [{"name": "scratch", "emptyDir": {}}],
            "containers": [{"name": "app", "image": "busybox", "securityContext": restricted,
                            "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}]}]}}),
    )
    .await;
    create_running(
        &pods,
        json!({"metadata": {"name": "root"}, "spec": {"securityContext": {"runAsUser": 0}, "containers": [{"name": "app", "image": "busybox"}]}}),
    )
    .await;
    create_running(
        &pods,
        json!({"metadata": {"name": "bare"}, "spec": {"securityContext": {"runAsUser": 0},
            "containers": [{"name": "app", "image": "busybox", "securityContext": {"capabilities": {"drop": ["ALL"]}}}]}}),
    )
    .await;

    let out = exec(&pods, "user", &["id"]).await;
    assert_eq!(out.stdout, "uid=1000(user) gid=1000(user) groups=1000(user),2000(group2000),3000(group3000)\n", "{}", out.stderr);
    let out = exec(&pods, "user", &["grep", "-E", "^(CapBnd|NoNewPrivs)", "/proc/self/status"]).await;
    assert_eq!(out.stdout, "CapBnd:\t0000000000000000\nNoNewPrivs:\t1\n");

    // A read-only root: / and /tmp refuse writes; volumes and /dev/shm take them.
    for path in ["/kdeck-file", "/tmp/kdeck-file", "/etc/kdeck-file"] {
        let out = exec(&pods, "user", &["touch", path]).await;
        assert!(out.code != 0 && out.stderr.contains("Read-only file system"), "{path}: {}", out.stderr);
    }
    let out = exec(&pods, "user", &["sh", "-c", "echo hi > /dev/shm/f && echo hi > /scratch/f && stat -c '%u:%g %a' /scratch/f /scratch"]).await;
    // fsGroup: the volume is the group's, setgid, so what the user writes is too.
    assert_eq!((out.code, out.stdout.as_str()), (0, "1000:2000 644\n0:2000 2777\n"), "{}", out.stderr);
    // fsGroup is applied when the volume is first mounted, not on every exec: a
    // directory the pod made private (a database's data directory) stays private.
    let out = exec(&pods, "user", &["sh", "-c", "mkdir -m 700 /scratch/private && stat -c %a /scratch/private"]).await;
    assert_eq!(out.stdout, "2700\n", "setgid inherited from the volume: {}", out.stderr);
    let out = exec(&pods, "user", &["stat", "-c", "%a", "/scratch/private"]).await;
    assert_eq!(out.stdout, "2700\n", "a later exec leaves it as it is: {}", out.stderr);

    // Root in the pod has the runtime's default capabilities over the pod only.
    let out = exec(&pods, "root", &["grep", "^CapBnd", "/proc/self/status"]).await;
    assert_eq!(out.stdout, "CapBnd:\t00000000a80425fb\n");
    // Its /etc is its own: writing there leaves the host's alone.
    let out = exec(&pods, "root", &["sh", "-c", "echo kdeck-confine-marker >> /etc/passwd"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!std::fs::read_to_string("/etc/passwd").unwrap().contains("kdeck-confine-marker"));
    let out = exec(&pods, "root", &["touch", "/usr/bin/kdeck-confine"]).await;
    assert_ne!(out.code, 0);
    let out = exec(&pods, "root", &["grep", "^CapEff", "/proc/self/status"]).await;
    assert_eq!(out.stdout, "CapEff:\t00000000a80425fb\n");
    let out = exec(&pods, "bare", &["grep", "^CapEff", "/proc/self/status"]).await;
    assert_eq!(out.stdout, "CapEff:\t0000000000000000\n", "capabilities.drop: [ALL]");

    // On the host, what the pod wrote belongs to unprivileged ids.
    if is_root() {
        let uid = pods.get("user").await.unwrap().metadata.uid.unwrap();
        let file = data_dir(&sandbox).join("volumes/pods").join(uid).join("scratch/f");
        let meta = std::fs::metadata(&file).expect("the volume file on the host");
        assert_eq!((meta.uid(), meta.gid()), (HOST_ID_BASE + 1000, HOST_ID_BASE + 2000));
    }
}

#[tokio::test]
async fn volume_files_get_the_kubelets_modes() {
    let sandbox = TestSandbox::start("confine-modes");
    let client = sandbox.client().await;
    let params = PatchParams::apply("test").force();
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client.clone(), "default");
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"}, "stringData": {"key": "s3cret", "other": "x"}});
    secrets.patch("creds", &params, &Patch::Apply(secret)).await.unwrap();
    let configmaps: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(client.clone(), "default");
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "1", "b": "2"}});
    configmaps.patch("cfg", &params, &Patch::Apply(cm)).await.unwrap();
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let volumes = json!([
        {"name": "secret", "secret": {"secretName": "creds", "defaultMode": 0o400, "items": [{"key": "key", "path": "key"}, {"key": "other", "path": "dir/other", "mode": 0o600}]}},
        {"name": "config", "configMap": {"name": "cfg"}},
        {"name": "info", "downwardAPI": {"defaultMode": 0o444, "items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
        {"name": "all", "projected": {"defaultMode": 0o440, "sources": [{"secret": {"name": "creds", "items": [{"key": "key", "path": "token"}]}}, {"configMap": {"name": "cfg"}}]}}]);
    let mounts = json!([
        {"name": "secret", "mountPath": "/etc/secret"}, {"name": "config", "mountPath": "/etc/config"},
        {"name": "info", "mountPath": "/etc/podinfo"}, {"name": "all", "mountPath": "/etc/all"}]);
    for (name, fs_group) in [("nofsgroup", Value::Null), ("fsgroup", json!(2000))] {
        create_running(
            &pods,
            json!({"metadata": {"name": name, "labels": {"app": "demo"}}, "spec": {"securityContext": {"runAsUser": 0, "fsGroup": fs_group},
                "volumes": volumes, "containers": [{"name": "app", "image": "busybox", "volumeMounts": mounts}]}}),
        )
        .await;
    }
    let files = ["/etc/secret/key", "/etc/secret/dir/other", "/etc/config/a", "/etc/podinfo/labels", "/etc/all/token", "/etc/all/b"];
    let stat = |pod: &'static str| {
        let pods = pods.clone();
        async move {
            let mut command = vec!["stat", "-c", "%a %g"];
            command.extend(files);
            exec(&pods, pod, &command).await.stdout
        }
    };
    assert_eq!(stat("nofsgroup").await, "400 0\n600 0\n644 0\n444 0\n440 0\n440 0\n");
    // fsGroup adds group read and makes the files the group's.
    assert_eq!(stat("fsgroup").await, "440 2000\n640 2000\n644 2000\n444 2000\n440 2000\n440 2000\n");
    let out = exec(&pods, "fsgroup", &["cat", "/etc/podinfo/labels", "/etc/all/token"]).await;
    assert_eq!(out.stdout, "app=\"demo\"s3cret");

    // The same modes on the host, owned by the pod's root (an unprivileged host id).
    let uid = pods.get("nofsgroup").await.unwrap().metadata.uid.unwrap();
    let key = data_dir(&sandbox).join("volumes/pods").join(uid).join("secret/key");
    let meta = std::fs::metadata(&key).expect("the secret file on the host");
    assert_eq!(meta.mode() & 0o777, 0o400);
    if is_root() {
        assert_eq!((meta.uid(), meta.gid()), (HOST_ID_BASE, HOST_ID_BASE));
    }

    // A projected source that does not exist keeps the pod from starting, as on a node.
    let waits = json!({"metadata": {"name": "waits"}, "spec": {"volumes": [{"name": "v", "projected": {"sources": [{"secret": {"name": "absent"}}]}}],
        "containers": [{"name": "app", "image": "busybox", "volumeMounts": [{"name": "v", "mountPath": "/v"}]}]}});
    pods.create(&PostParams::default(), &serde_json::from_value(waits).unwrap()).await.unwrap();
    let events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(sandbox.client().await, "default");
    let mut said = Vec::new();
    for _ in 0..50 {
        said = events.list(&kube::api::ListParams::default().fields("involvedObject.name=waits")).await.unwrap().items;
        if said.iter().any(|e| e.reason.as_deref() == Some("FailedMount")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let failed = said.iter().find(|e| e.reason.as_deref() == Some("FailedMount")).expect("a FailedMount event");
    assert!(failed.message.as_deref().unwrap_or_default().contains("secret \"absent\" not found"), "{failed:?}");
    assert!(!running(&pods.get("waits").await.unwrap()));
}

#[tokio::test]
async fn browse_pvc_rw_writes_as_the_pods_user() {
    let sandbox = TestSandbox::start_seeded("confine-browse", "home-ops");
    let client = sandbox.client().await;
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> = Api::namespaced(client, "observability");
    common::wait_object(&deployments, "gatus", "available", |d| d.status.as_ref().and_then(|s| s.available_replicas) == Some(1)).await;
    let out = sandbox.run(&[
        "browse-pvc",
        "gatus-data",
        "-n",
        "observability",
        "--context",
        "confine-browse",
        "--rw",
        "--",
        "sh",
        "-c",
        "id -u; echo hi > /data/by-browse && stat -c '%u:%g' /data/by-browse; touch /kdeck-x 2>&1 | grep -c Read-only",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // browse-pvc's pod runs as 1000 with fsGroup 1000 and a read-only root.
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1000\n1000:1000\n1\n");
    let host = data_dir(&sandbox).join("volumes/pvc/observability/gatus-data/by-browse");
    let meta = std::fs::metadata(&host).expect("the file on the claim, on the host");
    if is_root() {
        assert_eq!(meta.uid(), HOST_ID_BASE + 1000, "the pod's user, mapped");
    }
}
