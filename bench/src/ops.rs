//! Bulk operations against the one-liners they replace, on the same `scale`
//! sandbox, side by side: each command runs on the same state (the destructive
//! ones after the scenario is seeded again), alternating kdeck and kubectl.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use super::{Env, median};

const RUNS: usize = 3;

/// One row of the table: what, kdeck's command and time, the one-liner and its time.
pub struct Row {
    pub operation: &'static str,
    pub kdeck: String,
    pub kdeck_time: Duration,
    pub kubectl: String,
    pub kubectl_time: Duration,
}

fn timed(mut command: Command) -> (Duration, Output) {
    let started = Instant::now();
    let out = command.output().expect("run the command");
    (started.elapsed(), out)
}

fn check(what: &str, out: &Output) {
    assert!(out.status.success(), "{what} failed: {}", String::from_utf8_lossy(&out.stderr));
}

pub fn compare(env: &Env, kubectl: &Path, pods: usize) -> Vec<Row> {
    let kubeconfig = env.dir.path().join("kubeconfig");
    let kubectl_cmd = |args: &[&str]| {
        let mut c = Command::new(kubectl);
        c.args(["--context", "bench"]).args(args).env("KUBECONFIG", &kubeconfig);
        c
    };
    let kdeck_cmd = |args: &[&str]| {
        let mut c = env.command();
        c.args(["--context", "bench"]).args(args);
        c
    };
    let reseed = || check("reseed", &env.kdeck(&["sandbox", "seed", &format!("scale:{pods}"), "--name", "bench"]));
    let now = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs().to_string();

    // Each pair runs RUNS times, alternating, on the same starting state.
    let pair = |operation: &'static str, kdeck_args: &[&str], kubectl_args: Vec<String>, destructive: bool| {
        let (mut k, mut c) = (Vec::new(), Vec::new());
        for _ in 0..RUNS {
            if destructive {
                reseed();
            }
            let (t, out) = timed(kdeck_cmd(kdeck_args));
            check(operation, &out);
            k.push(t);
            if destructive {
                reseed();
            }
            let args: Vec<&str> = kubectl_args.iter().map(String::as_str).collect();
            let (t, out) = timed(kubectl_cmd(&args));
            check(operation, &out);
            c.push(t);
        }
        Row {
            operation,
            kdeck: format!("kdeck {}", kdeck_args.join(" ")),
            kdeck_time: median(k),
            kubectl: format!("kubectl {}", kubectl_args.join(" ")),
            kubectl_time: median(c),
        }
    };
    vec![
        pair(
            "delete failed pods (all namespaces)",
            &["cleanse-pods", "-A", "--yes"],
            vec!["delete".into(), "pods".into(), "-A".into(), "--field-selector=status.phase==Failed".into()],
            true,
        ),
        pair(
            "force-sync every ExternalSecret",
            &["sync-secrets", "-A", "--no-wait"],
            vec!["annotate".into(), "externalsecret".into(), "-A".into(), "--all".into(), format!("force-sync={}", now()), "--overwrite".into()],
            false,
        ),
        pair(
            "logs of a label's pods in a namespace",
            // app-5 in scale-05: 100 pods, all running (kubectl logs fails on a pending one).
            &["logs", "-n", "scale-05", "-l", "app=app-5", "--no-follow", "--tail", "100"],
            vec!["logs".into(), "-n".into(), "scale-05".into(), "-l".into(), "app=app-5".into(), "--prefix".into(), "--tail".into(), "100".into()],
            false,
        ),
    ]
}
