//! The sandboxes on this machine: where each keeps its data, whether it is running,
//! and starting, stopping and deleting them.
//!
//! Each sandbox has a small record (`<kdeck home>/sandboxes/<name>.json`) naming its
//! data directory, kubeconfig, server address and the pid serving it.
//!
//! A sandbox's data holds Secrets and credentials: the directories kdeck creates for
//! it (`sandboxes/`, the data directory) are owner-only (0700), its files 0600.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::cluster::kubeconfig::{self, SandboxEntries};
use crate::error::{Error, ExitCode, Result};

pub const DEFAULT_NAME: &str = "sandbox";
const LOG_FILE: &str = "sandbox.log";
/// The files a sandbox writes into its data directory; `delete` removes only these.
const DATA_FILES: &[&str] = &[
    "state.jsonl",
    "state.tmp",
    "journal.jsonl",
    "journal.1.jsonl",
    "tokens.json",
    "ca.crt",
    "server.crt",
    "server.key",
    "ca.key",
    "sa.key",
    "tokens.tmp-write",
    "ca.tmp-write",
    "server.tmp-write",
    "sa.tmp-write",
    LOG_FILE,
];
/// How long `stop` waits for the sandbox to drain, flush and write its state before
/// killing it (its journal makes even that safe: every answered change is on disk).
const STOP_WITHIN: Duration = Duration::from_secs(60);
/// Directories the sandbox fills: pod and claim volumes, captured command output.
const DATA_DIRS: &[&str] = &["volumes", "logs"];

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record {
    pub name: String,
    pub data_dir: PathBuf,
    pub kubeconfig: PathBuf,
    #[serde(default)]
    pub server: String,
    /// The process serving the sandbox; 0 when stopped.
    #[serde(default)]
    pub pid: u32,
    /// Whether it was started with `--run-commands` (opted-in pods run their command).
    #[serde(default)]
    pub run_commands: bool,
    /// Whether it serves `metrics.k8s.io` (not when started with `--no-metrics`).
    #[serde(default = "served")]
    pub metrics: bool,
    /// The ingress address, `http://127.0.0.1:<port>` (kept when stopped, so the
    /// next start listens on the same port if it is free).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ingress: String,
}

fn served() -> bool {
    true
}

impl Record {
    pub fn is_running(&self) -> bool {
        self.pid != 0 && process_alive(self.pid)
    }

    /// The command that starts this sandbox again as it ran (one wording for every
    /// place that suggests it).
    pub fn start_command(&self) -> String {
        let run_commands = if self.run_commands { " --run-commands" } else { "" };
        let metrics = if self.metrics { "" } else { " --no-metrics" };
        format!("kdeck sandbox start --detach --name {}{run_commands}{metrics}", self.name)
    }

    /// The port of the ingress address, if it has one.
    pub fn ingress_port(&self) -> Option<u16> {
        self.ingress.rsplit_once(':').and_then(|(_, port)| port.parse().ok()).filter(|p| *p != 0)
    }
}

/// `$KDECK_HOME`, else `$XDG_DATA_HOME/kdeck`, else `~/.local/share/kdeck`.
pub fn home() -> Result<PathBuf> {
    if let Some(h) = std::env::var_os("KDECK_HOME").filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(h));
    }
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|h| !h.is_empty()) {
        return Ok(Path::new(&x).join("kdeck"));
    }
    let home = std::env::var_os("HOME").ok_or_else(|| Error::failure("cannot find a place for sandbox data: set KDECK_HOME or HOME"))?;
    Ok(Path::new(&home).join(".local/share/kdeck"))
}

fn records_dir() -> Result<PathBuf> {
    Ok(home()?.join("sandboxes"))
}

fn record_path(name: &str) -> Result<PathBuf> {
    Ok(records_dir()?.join(format!("{name}.json")))
}

pub fn default_data_dir(name: &str) -> Result<PathBuf> {
    Ok(records_dir()?.join(name))
}

/// Sandbox names become kubeconfig names and directory names: DNS-1123 labels only.
pub fn validate_name(name: &str) -> Result<()> {
    kdeck_sandbox::rest::validate::dns1123_label(name).map_err(|e| Error::usage(format!("invalid sandbox name {name:?}: {e}")))
}

pub fn load(name: &str) -> Result<Option<Record>> {
    let path = record_path(name)?;
    match fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
            Error::failure(format!("the sandbox record {} is unreadable: {e}", path.display()))
                .hint(format!("remove {} to forget this sandbox", path.display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::failure(format!("cannot read {}: {e}", path.display()))),
    }
}

pub fn require(name: &str) -> Result<Record> {
    load(name)?.ok_or_else(|| {
        let known = list().ok().map(|l| l.into_iter().map(|r| r.name).collect::<Vec<_>>().join(", ")).filter(|s| !s.is_empty());
        Error::not_found(format!("there is no sandbox named {name:?}")).hint(match known {
            Some(k) => format!("sandboxes here: {k}"),
            None => "start one with: kdeck sandbox start".to_string(),
        })
    })
}

pub fn save(record: &Record) -> Result<()> {
    let dir = records_dir()?;
    create_private_dir(&dir).map_err(|e| Error::failure(format!("cannot create {}: {e}", dir.display())))?;
    let text = serde_json::to_string_pretty(record).unwrap_or_default();
    let path = record_path(&record.name)?;
    let tmp = path.with_extension("json.tmp");
    create_private_file(&tmp)
        .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
        .and_then(|_| fs::rename(&tmp, &path))
        .map_err(|e| Error::failure(format!("cannot write {}: {e}", path.display())))
}

/// Creates `path` and its missing parents owner-only (0700), and tightens it if it
/// existed: a sandbox's directories hold its Secrets.
fn create_private_dir(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        fs::DirBuilder::new().recursive(true).mode(0o700).create(path)?;
        if fs::metadata(path)?.permissions().mode() & 0o777 != 0o700 {
            fs::set_permissions(path, fs::Permissions::from_mode(0o700))?;
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        fs::create_dir_all(path)
    }
}

/// Creates (or truncates) a file readable by its owner only.
fn create_private_file(path: &Path) -> std::io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(path)?;
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
        Ok(file)
    }
    #[cfg(not(unix))]
    {
        options.open(path)
    }
}

pub fn list() -> Result<Vec<Record>> {
    let dir = records_dir()?;
    let Ok(entries) = fs::read_dir(&dir) else { return Ok(Vec::new()) };
    let mut records: Vec<Record> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| e.path().file_stem().and_then(|s| s.to_str()).map(str::to_string))
        .filter_map(|name| load(&name).ok().flatten())
        .collect();
    records.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(records)
}

/// What `kdeck sandbox start` was asked for, after defaults are filled in.
#[derive(Clone, Debug)]
pub struct StartOptions {
    pub name: String,
    pub port: u16,
    pub data_dir: PathBuf,
    pub kubeconfig: PathBuf,
    pub seed: Option<String>,
    pub nodes: usize,
    /// A fault spec to inject from the start (see `kdeck_sandbox::faults`).
    pub faults: Option<String>,
    /// Pods that opt in run their command for real (`--run-commands`).
    pub run_commands: bool,
    /// `metrics.k8s.io` served (not with `--no-metrics`).
    pub metrics: bool,
    /// The ingress address's port (`--ingress-port`); None: the last one if free, else a free one.
    pub ingress_port: Option<u16>,
    /// How many past changes are kept (`--history`).
    pub history: usize,
}

/// Fails when the sandbox is already being served.
pub fn ensure_not_running(name: &str) -> Result<()> {
    if let Some(record) = load(name)?
        && record.is_running()
    {
        return Err(Error::failure(format!("sandbox {name:?} is already running (pid {}, {})", record.pid, record.server))
            .hint(format!("stop it first: kdeck sandbox stop --name {name}")));
    }
    Ok(())
}

/// Opens the sandbox, registers it in the kubeconfig and serves it in this process
/// until interrupted. `ready` runs once it accepts requests.
pub async fn serve(opts: &StartOptions, ready: impl FnOnce(&Record)) -> Result<()> {
    ensure_not_running(&opts.name)?;
    let previous_ingress = load(&opts.name).ok().flatten().and_then(|r| r.ingress_port());
    return_large_buffers_to_the_os();
    let config = kdeck_sandbox::SandboxConfig {
        name: opts.name.clone(),
        data_dir: opts.data_dir.clone(),
        port: opts.port,
        nodes: opts.nodes,
        run_commands: opts.run_commands,
        metrics: opts.metrics,
        history: opts.history,
    };
    let mut sandbox = kdeck_sandbox::Sandbox::open(&config).await?;
    let ingress = listen_ingress(&mut sandbox, opts.ingress_port, previous_ingress).await?;
    if let Some(seed) = &opts.seed {
        sandbox.seed(seed).map_err(|e| Error::usage(e.to_string()))?;
    }
    if let Some(faults) = &opts.faults {
        sandbox.set_faults(Some(parse_faults(faults)?));
    }
    let creds = sandbox.credentials();
    kubeconfig::edit(&opts.kubeconfig, |k| {
        k.add_sandbox(&SandboxEntries {
            name: &opts.name,
            server: &creds.server,
            ca_pem: &creds.ca_pem,
            admin_token: &creds.admin_token,
            readonly_token: &creds.readonly_token,
        })
    })?;
    let mut record = Record {
        name: opts.name.clone(),
        data_dir: opts.data_dir.clone(),
        kubeconfig: opts.kubeconfig.clone(),
        server: creds.server.clone(),
        pid: std::process::id(),
        run_commands: opts.run_commands,
        metrics: opts.metrics,
        ingress: format!("http://{ingress}"),
    };
    save(&record)?;
    ready(&record);
    let result = sandbox.serve(shutdown_signal()).await;
    record.pid = 0;
    save(&record)?;
    result.map_err(Error::from)
}

/// Binds the ingress address: the port asked for (its being taken is an error),
/// else the one of the last start if it is free, else a free one.
async fn listen_ingress(sandbox: &mut kdeck_sandbox::Sandbox, asked: Option<u16>, previous: Option<u16>) -> Result<std::net::SocketAddr> {
    if let Some(port) = asked {
        return sandbox.listen_ingress(port).await.map_err(ingress_port_error);
    }
    if let Some(port) = previous {
        match sandbox.listen_ingress(port).await {
            Ok(address) => return Ok(address),
            Err(e) => eprintln!("kdeck sandbox: {e}; the ingress address moves to a free port"),
        }
    }
    Ok(sandbox.listen_ingress(0).await?)
}

fn ingress_port_error(e: kdeck_sandbox::SandboxError) -> Error {
    Error::failure(e.to_string()).hint("pick another port with --ingress-port, or leave the flag out for a free one")
}

/// A fault spec that does not parse is a usage error naming the item at fault.
pub fn parse_faults(spec: &str) -> Result<kdeck_sandbox::faults::FaultSpec> {
    kdeck_sandbox::faults::FaultSpec::parse(spec).map_err(|e| Error::usage(e.to_string()).hint("fault specs are described in the README (Fault injection)"))
}

/// A sandbox builds multi-megabyte buffers (large lists, state snapshots). glibc
/// raises its mmap threshold after freeing such a buffer and then keeps the next
/// ones in the heap, so the process would stay at its peak size; a fixed threshold
/// returns them to the OS when freed.
fn return_large_buffers_to_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only adjusts allocator tuning; called before the server starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Starts `kdeck sandbox start` (without --detach) as a background process and
/// returns once it answers requests.
pub async fn spawn_detached(opts: &StartOptions, timeout: Duration) -> Result<Record> {
    ensure_not_running(&opts.name)?;
    // A taken ingress port is told here, with its hint (the background process's
    // log gives only its last line back).
    if let Some(port) = opts.ingress_port
        && let Err(e) = std::net::TcpListener::bind(("127.0.0.1", port))
    {
        return Err(ingress_port_error(kdeck_sandbox::SandboxError::IngressBind { port, source: e }));
    }
    let exe = std::env::current_exe().map_err(|e| Error::failure(format!("cannot find the kdeck executable: {e}")))?;
    create_private_dir(&opts.data_dir).map_err(|e| Error::failure(format!("cannot create {}: {e}", opts.data_dir.display())))?;
    let log_path = opts.data_dir.join(LOG_FILE);
    let log = create_private_file(&log_path).map_err(|e| Error::failure(format!("cannot create {}: {e}", log_path.display())))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["sandbox", "start", "--name", &opts.name, "--port", &opts.port.to_string(), "--nodes", &opts.nodes.to_string()]);
    cmd.arg("--data-dir").arg(&opts.data_dir).arg("--kubeconfig").arg(&opts.kubeconfig);
    if let Some(seed) = &opts.seed {
        cmd.args(["--seed", seed]);
    }
    if let Some(faults) = &opts.faults {
        cmd.arg(format!("--faults={faults}"));
    }
    if opts.run_commands {
        cmd.arg("--run-commands");
    }
    if !opts.metrics {
        cmd.arg("--no-metrics");
    }
    if let Some(port) = opts.ingress_port {
        cmd.args(["--ingress-port", &port.to_string()]);
    }
    cmd.args(["--history", &opts.history.to_string()]);
    cmd.stdin(Stdio::null()).stdout(log.try_clone().map_err(|e| Error::failure(e.to_string()))?).stderr(log);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // Its own process group: a Ctrl-C in this terminal must not stop the sandbox.
        cmd.process_group(0);
    }
    let mut child = cmd.spawn().map_err(|e| Error::failure(format!("cannot start the sandbox process: {e}")))?;
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().map_err(|e| Error::failure(e.to_string()))? {
            let log = fs::read_to_string(&log_path).unwrap_or_default();
            let last = log.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("no output").trim_start_matches("error: ").to_string();
            let code = if status.code() == Some(i32::from(ExitCode::Usage.code())) { ExitCode::Usage } else { ExitCode::Failure };
            return Err(Error::new(code, format!("the sandbox did not start: {last}")).hint(format!("full log: {}", log_path.display())));
        }
        if let Some(record) = load(&opts.name)?.filter(|r| r.pid == child.id())
            && answers(&record).await
        {
            return Ok(record);
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            return Err(Error::new(ExitCode::Timeout, format!("the sandbox did not answer within {}s", timeout.as_secs()))
                .hint(format!("see its log: {}", log_path.display())));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// True when the sandbox answers an authenticated request through its kubeconfig context.
pub async fn answers(record: &Record) -> bool {
    match crate::cluster::client_for(&record.kubeconfig, &record.name).await {
        Ok(client) => tokio::time::timeout(Duration::from_secs(2), client.apiserver_version()).await.is_ok_and(|r| r.is_ok()),
        Err(_) => false,
    }
}

/// Calls one of the sandbox's own endpoints (`/kdeck/...`, see the sandbox crate's
/// `api::admin`) with the admin context, returning the response body.
pub async fn admin_request(record: &Record, method: http::Method, path: &str, body: Vec<u8>) -> Result<String> {
    if !record.is_running() {
        return Err(Error::failure(format!("sandbox {:?} is not running", record.name)).hint(format!("start it with: {}", record.start_command())));
    }
    let client = crate::cluster::client_for(&record.kubeconfig, &record.name).await?;
    let request = http::Request::builder()
        .method(method)
        .uri(format!("/kdeck/{path}"))
        .header(http::header::CONTENT_TYPE, "text/plain")
        .body(body)
        .map_err(|e| Error::failure(e.to_string()))?;
    client.request_text(request).await.map_err(|e| match e {
        kube::Error::Api(status) => Error::new(if status.code == 404 { ExitCode::NotFound } else { ExitCode::Failure }, status.message),
        other => Error::failure(format!("sandbox {:?} at {}: {other}", record.name, record.server)),
    })
}

/// Waits until what the sandbox loaded has settled (its failed pods failed, its
/// releases Ready or failed: the sandbox crate's `scenarios::settle`), asking in
/// short rounds so no request waits long for its answer.
pub async fn wait_settled(record: &Record, scenario: &str, timeout: Duration) -> Result<()> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let round = deadline.saturating_duration_since(std::time::Instant::now()).min(Duration::from_secs(5));
        let answer = admin_request(record, http::Method::GET, &format!("settled?timeout={}", round.as_secs_f64()), Vec::new()).await?;
        let answer: serde_json::Value =
            serde_json::from_str(&answer).map_err(|e| Error::failure(format!("sandbox {:?} answered the settle check with {e}", record.name)))?;
        if answer["settled"] == true {
            return Ok(());
        }
        if std::time::Instant::now() >= deadline {
            let pending: Vec<&str> = answer["pending"].as_array().into_iter().flatten().filter_map(|p| p.as_str()).collect();
            let shown = pending.iter().take(5).copied().collect::<Vec<_>>().join("; ");
            let more = if pending.len() > 5 { format!(" (and {} more)", pending.len() - 5) } else { String::new() };
            return Err(Error::new(ExitCode::Timeout, format!("scenario {scenario:?} has not settled within {}s: {shown}{more}", timeout.as_secs()))
                .hint(format!("sandbox {:?} is running with it loaded; give it longer with --timeout, or skip the wait with --no-wait", record.name)));
        }
    }
}

/// Stops a running sandbox and waits until it exited — which it does only after
/// draining its requests, flushing its journal and writing its state.
pub async fn stop(record: &mut Record) -> Result<bool> {
    if !record.is_running() {
        return Ok(false);
    }
    send_signal(record.pid, libc::SIGTERM);
    let started = Instant::now();
    while process_alive(record.pid) {
        if started.elapsed() > STOP_WITHIN {
            send_signal(record.pid, libc::SIGKILL);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The process clears its pid on exit; reload so its last write is kept.
    if let Some(r) = load(&record.name)? {
        *record = r;
    }
    record.pid = 0;
    save(record)?;
    Ok(true)
}

/// Removes a stopped sandbox: its data files, its kubeconfig entries and its record.
pub fn delete(record: &Record) -> Result<()> {
    delete_with(record, false)
}

/// Removes a stopped sandbox as [`delete`] does, keeping the data of its
/// PersistentVolumeClaims (`volumes/pvc/<namespace>/<claim>`) when `keep_claims`:
/// a sandbox started again with the same data directory gives a claim of the same
/// namespace and name its data back.
pub fn delete_with(record: &Record, keep_claims: bool) -> Result<()> {
    for file in DATA_FILES {
        remove_if_present(&record.data_dir.join(file), |p| fs::remove_file(p))?;
    }
    for dir in DATA_DIRS {
        let path = record.data_dir.join(dir);
        if keep_claims && *dir == "volumes" {
            // Everything under volumes/ but the claims' data.
            for entry in fs::read_dir(&path).into_iter().flatten().flatten() {
                if entry.file_name() != "pvc" {
                    remove_if_present(&entry.path(), |p| if p.is_dir() { fs::remove_dir_all(p) } else { fs::remove_file(p) })?;
                }
            }
            continue;
        }
        remove_if_present(&path, |p| fs::remove_dir_all(p))?;
    }
    // Only an emptied directory goes; anything else the user put there stays.
    let _ = fs::remove_dir(&record.data_dir);
    kubeconfig::edit(&record.kubeconfig, |k| k.remove_sandbox(&record.name))?;
    let path = record_path(&record.name)?;
    fs::remove_file(&path).map_err(|e| Error::failure(format!("cannot remove {}: {e}", path.display())))
}

fn remove_if_present(path: &std::path::Path, remove: impl Fn(&std::path::Path) -> std::io::Result<()>) -> Result<()> {
    match remove(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::failure(format!("cannot remove {}: {e}", path.display()))),
        _ => Ok(()),
    }
}

fn process_alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else { return false };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists; nothing is delivered.
    let alive = unsafe { libc::kill(pid, 0) } == 0;
    alive && !is_zombie(pid)
}

/// A child that exited but was not reaped yet still answers signal 0.
fn is_zombie(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).ok().and_then(|s| s.rsplit_once(')').map(|(_, rest)| rest.trim_start().starts_with('Z'))).unwrap_or(false)
}

fn send_signal(pid: u32, signal: i32) {
    if let Ok(pid) = i32::try_from(pid)
        && pid > 0
    {
        // SAFETY: sending a signal to a pid we recorded; errors (gone) are ignored.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}
