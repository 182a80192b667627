//! `dns`: from inside a pod of `from:`, a Service name resolves and answers on its
//! port — `kubectl exec frontend -- curl backend-service:8000` done right — with
//! the tools the image has. Resolution asks `getent hosts`, else python3's
//! resolver, else `nslookup`; the port is tried with `nc -z`, else python3, else
//! `curl`, else `wget` (the last two also resolve, and say when they cannot). An
//! image with none of them gives "cannot check", which is not a pass.

use super::inpod::{InPod, Ran};
use crate::cluster::Cluster;
use crate::cluster::target::Target;

/// The tools, as "cannot check" lists them.
const TOOLS: &str = "getent, nslookup, nc, wget, curl, python3";

/// What a resolver said.
#[derive(Debug, PartialEq)]
enum Resolved {
    To(String),
    Not(String),
}

/// What a connection attempt said.
#[derive(Debug, PartialEq)]
enum Answer {
    Open,
    Closed(String),
    Unresolved(String),
}

const PY_RESOLVE: &str = "import socket, sys\nprint(socket.gethostbyname(sys.argv[1]))\n";
const PY_CONNECT: &str = "import socket, sys\ntry:\n    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5).close()\n    print('open')\nexcept socket.gaierror as e:\n    print('unresolved', e)\nexcept OSError as e:\n    print('closed', e)\n";

/// One tool's verdict on resolution: None when the tool is not there (or not usable).
fn judge_resolve(tool: &str, ran: &Ran) -> Option<Resolved> {
    if ran.missing() {
        return None;
    }
    let first_word = |text: &str| text.split_whitespace().next().map(str::to_string);
    match (tool, ran.code) {
        ("getent", 0) => first_word(&ran.stdout).map(Resolved::To),
        ("getent", 2) => Some(Resolved::Not("getent hosts found no address".into())),
        ("python3", 0) => first_word(&ran.stdout).map(Resolved::To),
        ("python3", _) if ran.stderr.contains("gaierror") => Some(Resolved::Not(format!("python3: {}", last_line(&ran.stderr)))),
        ("nslookup", 0) => {
            // The answer's addresses come after the `Name:` line.
            let after = ran.stdout.split_once("Name:").map(|(_, rest)| rest).unwrap_or_default();
            after.lines().find_map(|l| l.trim().strip_prefix("Address:").or_else(|| l.trim().strip_prefix("Address 1:"))).and_then(first_word).map(Resolved::To)
        }
        ("nslookup", _) => Some(Resolved::Not(format!("nslookup: {}", last_line(&format!("{}\n{}", ran.stdout, ran.stderr))))),
        _ => None,
    }
}

/// One tool's verdict on the port: None when the tool is not there (or not usable).
fn judge_connect(tool: &str, ran: &Ran) -> Option<Answer> {
    if ran.missing() {
        return None;
    }
    let err = ran.stderr.to_ascii_lowercase();
    let unresolved = ["bad address", "unable to resolve", "could not resolve", "name or service not known", "temporary failure in name resolution"];
    if unresolved.iter().any(|u| err.contains(u)) {
        return Some(Answer::Unresolved(format!("{tool}: {}", ran.why())));
    }
    match tool {
        "nc" if ran.code == 0 => Some(Answer::Open),
        // A build without -z says so (and is no verdict).
        "nc" if ["invalid option", "unrecognized option", "usage"].iter().any(|u| err.contains(u)) => None,
        "nc" => Some(Answer::Closed(format!("nc: {}", if err.trim().is_empty() { format!("exit code {}", ran.code) } else { ran.why() }))),
        "python3" => match ran.stdout.split_once(' ').map_or((ran.stdout.trim(), ""), |(w, rest)| (w, rest.trim())) {
            ("open", _) => Some(Answer::Open),
            ("unresolved", why) => Some(Answer::Unresolved(format!("python3: {why}"))),
            ("closed", why) => Some(Answer::Closed(format!("python3: {why}"))),
            _ => None,
        },
        // curl: 6 cannot resolve, 7 cannot connect, 28 timed out; anything else got an answer.
        "curl" => match ran.code {
            6 => Some(Answer::Unresolved(format!("curl: {}", ran.why()))),
            7 | 28 => Some(Answer::Closed(format!("curl: {}", ran.why()))),
            2 => None,
            _ => Some(Answer::Open),
        },
        "wget" => {
            let closed = ["refused", "can't connect", "timed out", "no route", "unreachable"].iter().any(|c| err.contains(c));
            if ran.code == 0 || !closed && (err.contains("error") || err.contains("http request sent") || err.contains("server returned")) {
                Some(Answer::Open)
            } else {
                Some(Answer::Closed(format!("wget: {}", ran.why())))
            }
        }
        _ => None,
    }
}

fn last_line(text: &str) -> String {
    text.lines().map(str::trim).rfind(|l| !l.is_empty()).unwrap_or("no answer").chars().take(160).collect()
}

pub async fn check(cluster: &Cluster, namespace: &str, from: &Target, container: Option<&str>, service: &str, port: u16) -> Result<String, String> {
    let pod = InPod::of(cluster, namespace, from, container).await?;
    let port_text = port.to_string();
    let url = format!("http://{service}:{port}/");
    let mut used = Vec::new();

    let resolvers: [(&str, Vec<&str>); 3] =
        [("getent", vec!["getent", "hosts", service]), ("python3", vec!["python3", "-c", PY_RESOLVE, service]), ("nslookup", vec!["nslookup", service])];
    let mut resolved = None;
    for (tool, argv) in &resolvers {
        if let Some(verdict) = judge_resolve(tool, &pod.run(argv).await?) {
            used.push(*tool);
            resolved = Some(verdict);
            break;
        }
    }
    let address = match resolved {
        Some(Resolved::Not(why)) => return Err(format!("{service} does not resolve in {} ({why})", pod.describe())),
        Some(Resolved::To(address)) => Some(address),
        None => None,
    };

    let connectors: [(&str, Vec<&str>); 4] = [
        ("nc", vec!["nc", "-z", "-w", "5", service, &port_text]),
        ("python3", vec!["python3", "-c", PY_CONNECT, service, &port_text]),
        ("curl", vec!["curl", "-sS", "-o", "/dev/null", "--max-time", "5", &url]),
        ("wget", vec!["wget", "-O", "/dev/null", "-T", "5", &url]),
    ];
    let mut answer = None;
    for (tool, argv) in &connectors {
        if let Some(verdict) = judge_connect(tool, &pod.run(argv).await?) {
            used.push(*tool);
            answer = Some(verdict);
            break;
        }
    }
    let resolves = address.as_ref().map(|a| format!("{service} resolves to {a}")).unwrap_or_else(|| format!("{service} resolves"));
    let with = format!("from {}, with {}", pod.describe(), used.join(" and "));
    match answer {
        Some(Answer::Open) => Ok(format!("{resolves} and answers on port {port} ({with})")),
        Some(Answer::Closed(why)) => Err(format!("{resolves}, but port {port} does not answer: {why} ({with})")),
        Some(Answer::Unresolved(why)) => Err(format!("{service} does not resolve in {} ({why})", pod.describe())),
        None if address.is_none() => Err(format!("cannot check: {} has none of {TOOLS}", pod.describe())),
        None => Err(format!("cannot check port {port}: {resolves}, but {} has none of nc, python3, curl, wget to try the port", pod.describe())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ran(code: i32, stdout: &str, stderr: &str) -> Ran {
        Ran { code, stdout: stdout.into(), stderr: stderr.into(), status: String::new() }
    }

    #[test]
    fn resolvers_are_read() {
        assert_eq!(judge_resolve("getent", &ran(0, "10.96.0.7      api.shop.svc.cluster.local api\n", "")), Some(Resolved::To("10.96.0.7".into())));
        assert!(matches!(judge_resolve("getent", &ran(2, "", "")), Some(Resolved::Not(_))));
        assert_eq!(judge_resolve("getent", &ran(127, "", "")), None);
        let busybox = "Server:\t\t10.96.0.10\nAddress:\t10.96.0.10:53\n\nName:\tapi.shop.svc.cluster.local\nAddress: 10.96.0.7\n";
        assert_eq!(judge_resolve("nslookup", &ran(0, busybox, "")), Some(Resolved::To("10.96.0.7".into())));
        assert!(matches!(judge_resolve("nslookup", &ran(1, "** server can't find nope: NXDOMAIN", "")), Some(Resolved::Not(_))));
    }

    #[test]
    fn connections_are_read() {
        assert_eq!(judge_connect("nc", &ran(0, "", "")), Some(Answer::Open));
        assert!(matches!(judge_connect("nc", &ran(1, "", "nc: connect to api port 80 (tcp) failed: Connection refused")), Some(Answer::Closed(_))));
        assert_eq!(judge_connect("nc", &ran(1, "", "nc: invalid option -- 'z'\nBusyBox usage")), None);
        assert!(matches!(judge_connect("curl", &ran(6, "", "curl: (6) Could not resolve host: nope")), Some(Answer::Unresolved(_))));
        assert_eq!(judge_connect("curl", &ran(52, "", "curl: (52) Empty reply from server")), Some(Answer::Open));
        assert!(matches!(judge_connect("curl", &ran(7, "", "curl: (7) Failed to connect")), Some(Answer::Closed(_))));
        assert_eq!(judge_connect("wget", &ran(8, "", "HTTP request sent, awaiting response... 404 Not Found\nERROR 404")), Some(Answer::Open));
        assert!(matches!(judge_connect("wget", &ran(1, "", "wget: can't connect to remote host: Connection refused")), Some(Answer::Closed(_))));
        assert!(matches!(judge_connect("python3", &ran(0, "closed [Errno 111] Connection refused\n", "")), Some(Answer::Closed(_))));
        assert_eq!(judge_connect("python3", &ran(127, "", "")), None);
    }
}
