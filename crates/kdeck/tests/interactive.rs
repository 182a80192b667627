//! Sessions on a terminal: `kdeck exec`, `kdeck browse-pvc` and interactive
//! `kdeck run` tasks driven through a pseudo-terminal, as a user's shell drives
//! them — raw mode, the window size and its changes reaching the remote side,
//! Ctrl-C going to the remote command, the exit code coming back, and the
//! terminal restored afterwards.

mod common;

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{TestSandbox, wait_object};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, PostParams};
use serde_json::json;

/// A pseudo-terminal with kdeck running on its slave side as the controlling terminal.
struct Terminal {
    master: std::fs::File,
    slave: OwnedFd,
    output: mpsc::Receiver<Vec<u8>>,
    seen: String,
}

fn set_size(fd: i32, rows: u16, cols: u16) {
    let size = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCSWINSZ reads a winsize from a valid pointer on an open terminal fd.
    assert_eq!(unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &size) }, 0);
}

impl Terminal {
    fn open(rows: u16, cols: u16) -> Terminal {
        // SAFETY: the standard posix_openpt/grantpt/unlockpt/ptsname sequence; every
        // result is checked and the fds are owned from here on.
        let (master, slave) = unsafe {
            let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
            assert!(master >= 0);
            assert_eq!(libc::grantpt(master), 0);
            assert_eq!(libc::unlockpt(master), 0);
            let name = std::ffi::CStr::from_ptr(libc::ptsname(master)).to_owned();
            let slave = libc::open(name.as_ptr(), libc::O_RDWR | libc::O_NOCTTY);
            assert!(slave >= 0);
            (std::fs::File::from_raw_fd(master), OwnedFd::from_raw_fd(slave))
        };
        set_size(master.as_raw_fd(), rows, cols);
        let mut reader = master.try_clone().unwrap();
        let (tx, output) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Terminal { master, slave, output, seen: String::new() }
    }

    /// Starts `command` with the terminal as its stdin, stdout, stderr and controlling terminal.
    fn spawn(&self, mut command: Command) -> Child {
        let fd = |f: &OwnedFd| Stdio::from(f.try_clone().unwrap());
        command.stdin(fd(&self.slave)).stdout(fd(&self.slave)).stderr(fd(&self.slave));
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            command.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        command.spawn().unwrap()
    }

    fn type_text(&mut self, text: &str) {
        self.master.write_all(text.as_bytes()).unwrap();
    }

    /// Waits until the output holds `needle` (after what earlier waits consumed); returns what came before it.
    fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(at) = self.seen.find(needle) {
                let before = self.seen[..at].to_string();
                self.seen.drain(..at + needle.len());
                return before;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(bytes) => self.seen.push_str(&String::from_utf8_lossy(&bytes)),
                Err(_) => panic!("never saw {needle:?}; the terminal shows:\n{}", self.seen),
            }
        }
    }

    fn resize(&self, rows: u16, cols: u16) {
        set_size(self.master.as_raw_fd(), rows, cols);
    }

    /// Whether the terminal is back in canonical mode with echo (as a shell left it).
    fn is_cooked(&self) -> bool {
        // SAFETY: termios is plain data; tcgetattr fills it for a valid terminal fd.
        let mut attrs: libc::termios = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::tcgetattr(self.slave.as_raw_fd(), &mut attrs) }, 0);
        attrs.c_lflag & libc::ICANON != 0 && attrs.c_lflag & libc::ECHO != 0
    }
}

fn wait_exit(child: &mut Child) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().expect("an exit code");
        }
        assert!(Instant::now() < deadline, "kdeck did not exit");
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn deployment(client: &kube::Client, name: &str) {
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": name, "image": "alpine:3"}]}}}
    }))
    .unwrap();
    api.create(&PostParams::default(), &d).await.unwrap();
    wait_object(&api, name, "available", |d| d.status.as_ref().and_then(|s| s.available_replicas) == Some(1)).await;
}

#[tokio::test]
async fn exec_on_a_terminal_is_raw_follows_resizes_forwards_ctrl_c_and_restores_the_terminal() {
    let sandbox = TestSandbox::start("tty");
    deployment(&sandbox.client().await, "shell").await;
    let mut term = Terminal::open(30, 100);
    let mut kdeck = sandbox.kdeck();
    kdeck.args(["exec", "deploy/shell", "--context", "tty", "--", "sh"]);
    let mut child = term.spawn(kdeck);

    term.type_text("stty size; tty; echo MARK-$((1+2))\n");
    let shown = term.wait_for("MARK-3");
    assert!(shown.contains("30 100"), "the remote terminal has our size: {shown}");
    assert!(shown.contains("/dev/pts/"), "the remote side has a terminal: {shown}");
    assert!(!term.is_cooked(), "kdeck put the local terminal in raw mode");

    // A resize reaches the remote terminal (asked until it shows, as it travels asynchronously).
    term.resize(40, 120);
    let resized = (0..50).any(|attempt| {
        term.type_text(&format!("stty size; echo R$((1000+{attempt}))\n"));
        let shown = term.wait_for(&format!("R{}", 1000 + attempt));
        shown.contains("40 120") || {
            std::thread::sleep(Duration::from_millis(100));
            false
        }
    });
    assert!(resized, "the remote terminal never got the new size");

    // Ctrl-C interrupts the remote command, not kdeck.
    let started = Instant::now();
    term.type_text("sleep 30; echo not-interrupted\n");
    std::thread::sleep(Duration::from_millis(500));
    term.type_text("\x03");
    term.type_text("echo MARK-$((3+2))\n");
    let shown = term.wait_for("MARK-5");
    assert!(started.elapsed() < Duration::from_secs(15) && !shown.contains("\nnot-interrupted"), "the sleep was interrupted: {shown}");

    term.type_text("exit 7\n");
    assert_eq!(wait_exit(&mut child), 7, "the remote exit code is kdeck's");
    assert!(term.is_cooked(), "the terminal is restored when the session ends");
}

#[tokio::test]
async fn interactive_tasks_get_a_terminal_in_a_pod_and_locally() {
    let sandbox = TestSandbox::start("ttyrun");
    deployment(&sandbox.client().await, "api").await;
    let project = tempfile::tempdir().unwrap();
    std::fs::write(
        project.path().join("kdeck.yaml"),
        "components:\n  api:\n    kubernetes: {}\ntasks:\n  console: { component: api, interactive: true, executors: [kubernetes], command: [sh] }\n  \
         local-console: { interactive: true, executors: [local], command: [sh] }\n",
    )
    .unwrap();
    for (task, where_) in [("console", "api-"), ("local-console", "")] {
        let mut term = Terminal::open(24, 80);
        let mut kdeck = sandbox.kdeck();
        kdeck.current_dir(project.path()).args(["run", task, "--context", "ttyrun"]);
        let mut child = term.spawn(kdeck);
        term.type_text("tty; hostname; echo MARK-$((4+2))\n");
        let shown = term.wait_for("MARK-6");
        assert!(shown.contains("/dev/pts/"), "{task} has a terminal: {shown}");
        assert!(shown.contains(where_), "{task} runs where it should: {shown}");
        term.type_text("exit 4\n");
        assert_eq!(wait_exit(&mut child), 4, "{task}: the exit code passes through");
        assert!(term.is_cooked(), "{task}: the terminal is restored");
    }
}

#[tokio::test]
async fn browse_pvc_on_a_terminal_opens_a_shell_on_the_claim_and_removes_its_pod() {
    let sandbox = TestSandbox::start_seeded("ttypvc", "home-ops");
    let mut term = Terminal::open(24, 80);
    let mut kdeck = sandbox.kdeck();
    kdeck.args(["browse-pvc", "gatus-data", "-n", "observability", "--context", "ttypvc"]);
    let mut child = term.spawn(kdeck);
    term.type_text("ls /data; echo MARK-$((5+2))\n");
    assert!(term.wait_for("MARK-7").contains("config.yaml"), "the claim is mounted at /data");
    term.type_text("exit\n");
    assert_eq!(wait_exit(&mut child), 0);
    assert!(term.is_cooked());
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(sandbox.client().await, "observability");
    for _ in 0..100 {
        let left = pods.list(&kube::api::ListParams::default().labels("kdeck.dev/purpose=browse-pvc")).await.unwrap().items;
        if left.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the browse pod is still there");
}

/// `kdeck ask` on a terminal: a change the model plans is applied only when the
/// person types `yes` to its plan; anything else leaves the cluster as it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ask_applies_a_planned_change_only_after_yes_is_typed_on_the_terminal() {
    use common::model::{self, StandInModel};
    let sandbox = common::TestSandbox::start("askterm");
    let client = sandbox.client().await;
    deployment(&client, "web").await;
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let replicas = |d: &Deployment| d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    for (typed, wanted, code) in [("no\r", 1, 0), ("yes\r", 3, 0)] {
        let model = StandInModel::scripted(vec![
            model::calls(&[("scale", json!({"target": "deploy/web", "replicas": 3}))]),
            model::text("Scaled as you confirmed, or not."),
        ])
        .await;
        let mut terminal = Terminal::open(24, 100);
        let mut command = sandbox.kdeck();
        command.args(["ask", "scale web to 3", "--context", "askterm"]).env("KDECK_LLM_PROVIDER", "openai").env("OPENAI_BASE_URL", &model.url);
        let mut child = terminal.spawn(command);
        let before = terminal.wait_for("Type \"yes\" to apply: ");
        assert!(before.contains("→ scale deploy/web --replicas 3 -n default") && before.contains("replicas 1 → 3"), "the plan comes first: {before}");
        assert_eq!(replicas(&api.get("web").await.unwrap()), 1, "nothing is applied before the answer");
        terminal.type_text(typed);
        terminal.wait_for("Answer (from the model");
        assert_eq!(wait_exit(&mut child), code);
        assert_eq!(replicas(&api.get("web").await.unwrap()), wanted, "after typing {typed:?}");
        let sent = model.bodies().last().cloned().unwrap_or_default().to_string();
        let told = if wanted == 3 { "the user confirmed and the plan was applied" } else { "the user declined the plan" };
        assert!(sent.contains(told), "the model is told what happened: {sent}");
    }
}
