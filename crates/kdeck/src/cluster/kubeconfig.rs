//! Reading and editing kubeconfig files the way kubectl (client-go's `clientcmd`)
//! does.
//!
//! Reading: the files of `$KUBECONFIG` (empty entries and repeats dropped), else
//! `~/.kube/config`, merged — the first file to set a value or a cluster, user or
//! context name wins, missing files are skipped, a file that is there but does not
//! read is an error naming it, and none at all is an error naming the paths. A
//! credential plugin (`users[].user.exec`) the chosen context needs is run once
//! with a time limit ([`plugin`]).
//!
//! Writing: new entries go where kubectl writes them (`GetDefaultFilename`: the
//! first file of the list that exists, else the first of the list), through a
//! symlink to its target, with mode 0600, under client-go's lock file, other
//! entries left as they were, and `current-context` set only when no file had one.

mod plugin;

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

use crate::error::{Error, Result};

/// The files kubectl reads, in order: `$KUBECONFIG`'s paths, else `~/.kube/config`.
pub fn precedence() -> Result<Vec<PathBuf>> {
    precedence_from(std::env::var_os("KUBECONFIG").as_deref(), std::env::var_os("HOME").as_deref())
}

/// [`precedence`] for these values of `$KUBECONFIG` and `$HOME`. As client-go does,
/// empty entries are dropped and a path listed twice counts once; a `$KUBECONFIG`
/// with no path at all (`""`, `":"`) reads as unset.
fn precedence_from(kubeconfig: Option<&OsStr>, home: Option<&OsStr>) -> Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = Vec::new();
    for path in kubeconfig.map(std::env::split_paths).into_iter().flatten() {
        if !path.as_os_str().is_empty() && !paths.contains(&path) {
            paths.push(path);
        }
    }
    if paths.is_empty() {
        let home = home.filter(|h| !h.is_empty()).ok_or_else(|| {
            Error::usage("cannot find the kubeconfig: neither $KUBECONFIG nor $HOME is set").hint("set KUBECONFIG, or pass --kubeconfig PATH")
        })?;
        paths.push(Path::new(home).join(".kube").join("config"));
    }
    Ok(paths)
}

/// The file kubectl writes new entries to: the first file of [`precedence`] that
/// exists (a symlink counts when its target does), else the first of the list.
pub fn default_path() -> Result<PathBuf> {
    Ok(default_path_in(&precedence()?))
}

fn default_path_in(paths: &[PathBuf]) -> PathBuf {
    paths.iter().find(|p| fs::metadata(p).is_ok()).unwrap_or(&paths[0]).clone()
}

/// The kubeconfig as kubectl sees it: the files of [`precedence`], merged.
pub fn read_merged() -> Result<kube::config::Kubeconfig> {
    read_merged_from(&precedence()?)
}

fn read_merged_from(paths: &[PathBuf]) -> Result<kube::config::Kubeconfig> {
    let mut merged: Option<kube::config::Kubeconfig> = None;
    for path in paths {
        match fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::usage(format!("cannot read the kubeconfig {}: {e}", path.display()))),
            Ok(_) => {}
        }
        // kube-rs makes the file's relative paths (certificates, token files, a
        // plugin command with a `/`) relative to the file, as client-go does.
        let config = kube::config::Kubeconfig::read_from(path).map_err(|e| {
            let why = match &e {
                kube::config::KubeconfigError::Parse(yaml) => yaml_problem(yaml),
                kube::config::KubeconfigError::ReadConfig(io, _) => io.to_string(),
                other => other.to_string(),
            };
            Error::usage(format!("cannot read the kubeconfig {}: {why}", path.display())).hint("fix or move the file")
        })?;
        merged = Some(match merged {
            None => config,
            Some(first) => first.merge(config).map_err(|e| Error::usage(format!("cannot merge the kubeconfig {}: {e}", path.display())))?,
        });
    }
    merged.ok_or_else(|| {
        let listed: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        let error = Error::usage(format!("no kubeconfig: {} {} not exist", listed.join(", "), if listed.len() == 1 { "does" } else { "do" }));
        if std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty()) {
            error
                .hint("KUBECONFIG names these files: point it at your kubeconfig, or unset it to use ~/.kube/config")
                .hint("or start a sandbox, which writes its entries there: kdeck sandbox start --detach")
        } else {
            error.hint("set KUBECONFIG, or start a sandbox: kdeck sandbox start --detach")
        }
    })
}

/// The merged kubeconfig, for connecting with `context` (else the current context):
/// when that context's user gets its credentials from a plugin, the plugin is run
/// here, once, with a time limit, so that one that hangs or fails is an error
/// naming it rather than a hang inside the client.
pub async fn read_for(context: Option<&str>) -> Result<kube::config::Kubeconfig> {
    let mut kubeconfig = read_merged()?;
    let context = context.map(str::to_string).or_else(|| kubeconfig.current_context.clone());
    if let Some(context) = context {
        plugin::check(&mut kubeconfig, &context).await?;
    }
    Ok(kubeconfig)
}

/// Where and why a kubeconfig is not valid YAML, without the parser's snippet of
/// the file or quoted values: the file holds tokens and keys.
fn yaml_problem(error: &serde_saphyr::Error) -> String {
    use serde_saphyr::MessageFormatter;
    let message = serde_saphyr::UserMessageFormatter.format_message(error.without_snippet());
    let mut shown = String::new();
    for (i, part) in message.split('"').enumerate() {
        match i {
            0 => shown.push_str(part),
            _ if i % 2 == 1 => shown.push_str("\"…"),
            _ => shown.push_str(part),
        }
    }
    let shown: String = shown.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    match error.location().filter(|l| l.line() > 0) {
        Some(at) => format!("line {}, column {}: {}", at.line(), at.column(), shown.trim()),
        None => shown.trim().to_string(),
    }
}

/// A kubeconfig document, kept as a generic value so unknown fields survive edits.
pub struct Kubeconfig {
    pub path: PathBuf,
    doc: Value,
    /// Another file kubectl reads sets `current-context`: then this file must not,
    /// or it would change the current context (the first file to set it wins).
    current_context_elsewhere: bool,
}

/// The entries a sandbox adds: its cluster, and an admin and a read-only user+context.
pub struct SandboxEntries<'a> {
    pub name: &'a str,
    pub server: &'a str,
    pub ca_pem: &'a str,
    pub admin_token: &'a str,
    pub readonly_token: &'a str,
}

impl Kubeconfig {
    pub fn load(path: &Path) -> Result<Self> {
        let doc = match fs::read_to_string(path) {
            Ok(text) if text.trim().is_empty() => Value::Null,
            Ok(text) => serde_saphyr::from_str::<Value>(&text).map_err(|e| {
                Error::usage(format!("the kubeconfig {} is not valid YAML: {}", path.display(), yaml_problem(&e)))
                    .hint("fix or move the file; kdeck will not overwrite it")
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Value::Null,
            Err(e) => return Err(Error::failure(format!("cannot read the kubeconfig {}: {e}", path.display()))),
        };
        let mut doc = if doc.is_object() { doc } else { json!({}) };
        doc["apiVersion"] = json!("v1");
        doc["kind"] = json!("Config");
        for list in ["clusters", "users", "contexts"] {
            if !doc[list].is_array() {
                doc[list] = json!([]);
            }
        }
        Ok(Kubeconfig { path: path.to_path_buf(), doc, current_context_elsewhere: false })
    }

    pub fn context_names(&self) -> Vec<String> {
        self.doc["contexts"].as_array().into_iter().flatten().filter_map(|c| c["name"].as_str().map(str::to_string)).collect()
    }

    pub fn current_context(&self) -> Option<&str> {
        self.doc["current-context"].as_str().filter(|s| !s.is_empty())
    }

    fn upsert(&mut self, list: &str, name: &str, key: &str, value: Value) {
        let entries = self.doc[list].as_array_mut().expect("lists are arrays after load");
        entries.retain(|e| e["name"] != name);
        entries.push(json!({"name": name, key: value}));
    }

    fn remove(&mut self, list: &str, name: &str) {
        if let Some(entries) = self.doc[list].as_array_mut() {
            entries.retain(|e| e["name"] != name);
        }
    }

    pub fn add_sandbox(&mut self, e: &SandboxEntries) {
        let ca = base64::engine::general_purpose::STANDARD.encode(e.ca_pem);
        let readonly = format!("{}-readonly", e.name);
        self.upsert("clusters", e.name, "cluster", json!({"server": e.server, "certificate-authority-data": ca}));
        self.upsert("users", e.name, "user", json!({"token": e.admin_token}));
        self.upsert("users", &readonly, "user", json!({"token": e.readonly_token}));
        self.upsert("contexts", e.name, "context", json!({"cluster": e.name, "user": e.name}));
        self.upsert("contexts", &readonly, "context", json!({"cluster": e.name, "user": readonly}));
        if self.current_context().is_none() && !self.current_context_elsewhere {
            self.doc["current-context"] = json!(e.name);
        }
    }

    /// Removes a sandbox's entries; a current-context that named them is cleared,
    /// since it would point at nothing.
    pub fn remove_sandbox(&mut self, name: &str) {
        let readonly = format!("{name}-readonly");
        self.remove("clusters", name);
        for n in [name, readonly.as_str()] {
            self.remove("users", n);
            self.remove("contexts", n);
        }
        if matches!(self.current_context(), Some(c) if c == name || c == readonly) {
            self.doc["current-context"] = json!("");
        }
    }

    /// Writes the file with mode 0600: a new file next to the one it replaces,
    /// renamed over it, so a reader never sees half a file. A symlink is written
    /// through: its target is replaced and the link stays.
    pub fn save(&self) -> Result<()> {
        let text = serde_saphyr::to_string(&self.doc).map_err(|e| Error::failure(format!("cannot encode the kubeconfig: {e}")))?;
        let target = resolve_links(&self.path).map_err(|e| Error::failure(format!("cannot follow the kubeconfig link {}: {e}", self.path.display())))?;
        let write_err = |e: std::io::Error| Error::failure(format!("cannot write the kubeconfig {}: {e}", target.display()));
        if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(write_err)?;
        }
        let tmp = with_suffix(&target, ".kdeck-tmp");
        let written = open_private(&tmp).and_then(|mut f| {
            f.write_all(text.as_bytes())?;
            f.sync_all()
        });
        let result = written.and_then(|()| fs::rename(&tmp, &target));
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result.map_err(write_err)
    }
}

/// `path + suffix`, as client-go names its lock file (`config.lock`).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(suffix);
    PathBuf::from(name)
}

/// The file a chain of symlinks ends at (which may not exist yet); `path` itself
/// when it is not a link. A relative link is relative to the link's directory.
fn resolve_links(path: &Path) -> std::io::Result<PathBuf> {
    let mut path = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = fs::read_link(&path)?;
                path = match path.parent() {
                    Some(dir) if target.is_relative() => dir.join(target),
                    _ => target,
                };
            }
            Ok(_) => return Ok(path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(path),
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("too many levels of symbolic links"))
}

#[cfg(unix)]
fn open_private(path: &Path) -> std::io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::fs::PermissionsExt;
    let file = fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    // The mode applies to a new file only; a leftover from a crash gets it too.
    file.set_permissions(fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> std::io::Result<fs::File> {
    fs::File::create(path)
}

/// Loads, edits and saves a kubeconfig while holding its lock file, `PATH.lock`
/// as client-go names it, so kdeck and kubectl writers exclude each other.
pub fn edit(path: &Path, change: impl FnOnce(&mut Kubeconfig)) -> Result<()> {
    // The other files matter when kubectl reads this one with them; a file given
    // with --kubeconfig outside that list stands alone.
    let paths = precedence().unwrap_or_default();
    let others: Vec<PathBuf> = if paths.iter().any(|p| p == path) { paths.into_iter().filter(|p| p != path).collect() } else { Vec::new() };
    edit_among(path, &others, change)
}

/// [`edit`], with `others` the other files kubectl reads.
fn edit_among(path: &Path, others: &[PathBuf], change: impl FnOnce(&mut Kubeconfig)) -> Result<()> {
    let lock = with_suffix(path, ".lock");
    if let Some(dir) = lock.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| Error::failure(format!("cannot create {}: {e}", dir.display())))?;
    }
    let started = Instant::now();
    loop {
        match fs::OpenOptions::new().write(true).create_new(true).open(&lock) {
            Ok(_) => break,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && started.elapsed() < Duration::from_secs(10) => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => {
                return Err(Error::failure(format!("cannot lock the kubeconfig ({}): {e}", lock.display()))
                    .hint(format!("if no other kdeck or kubectl is running, remove {}", lock.display())));
            }
        }
    }
    let result = Kubeconfig::load(path).and_then(|mut config| {
        config.current_context_elsewhere = others.iter().any(|other| sets_current_context(other));
        change(&mut config);
        config.save()
    });
    let _ = fs::remove_file(&lock);
    result
}

/// Whether the kubeconfig file at `path` exists and names a current context.
fn sets_current_context(path: &Path) -> bool {
    fs::metadata(path).is_ok() && Kubeconfig::load(path).is_ok_and(|k| k.current_context().is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries<'a>(name: &'a str) -> SandboxEntries<'a> {
        SandboxEntries { name, server: "https://127.0.0.1:1", ca_pem: "CA", admin_token: "a", readonly_token: "r" }
    }

    #[test]
    fn adding_keeps_other_entries_and_an_existing_current_context() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        fs::write(&path, "apiVersion: v1\nkind: Config\ncurrent-context: prod\ncontexts:\n- name: prod\n  context: {cluster: prod, user: prod}\npreferences: {colors: true}\n").unwrap();
        edit(&path, |k| k.add_sandbox(&entries("infra"))).unwrap();
        let k = Kubeconfig::load(&path).unwrap();
        assert_eq!(k.current_context(), Some("prod"));
        assert_eq!(k.context_names(), ["prod", "infra", "infra-readonly"]);
        assert_eq!(k.doc["preferences"]["colors"], true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn first_sandbox_becomes_current_and_removal_clears_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        edit(&path, |k| k.add_sandbox(&entries("sandbox"))).unwrap();
        assert_eq!(Kubeconfig::load(&path).unwrap().current_context(), Some("sandbox"));
        edit(&path, |k| k.remove_sandbox("sandbox")).unwrap();
        let k = Kubeconfig::load(&path).unwrap();
        assert!(k.context_names().is_empty());
        assert_eq!(k.current_context(), None);
    }

    fn kubeconfig_with(current: Option<&str>, entries: &[(&str, &str)]) -> String {
        let mut text = String::from("apiVersion: v1\nkind: Config\n");
        if let Some(current) = current {
            text.push_str(&format!("current-context: {current}\n"));
        }
        text.push_str("clusters:\n");
        for (name, server) in entries {
            text.push_str(&format!("- name: {name}\n  cluster: {{server: '{server}'}}\n"));
        }
        text.push_str("users:\n");
        for (name, _) in entries {
            text.push_str(&format!("- name: {name}\n  user: {{token: t-{name}}}\n"));
        }
        text.push_str("contexts:\n");
        for (name, _) in entries {
            text.push_str(&format!("- name: {name}\n  context: {{cluster: {name}, user: {name}}}\n"));
        }
        text
    }

    #[test]
    fn precedence_is_kubeconfigs_paths_without_empties_and_repeats_else_the_home_file() {
        let paths = |kc: Option<&str>, home: Option<&str>| precedence_from(kc.map(OsStr::new), home.map(OsStr::new));
        assert_eq!(paths(Some("/a::/b:/a:"), Some("/h")).unwrap(), [PathBuf::from("/a"), PathBuf::from("/b")]);
        assert_eq!(paths(None, Some("/h")).unwrap(), [PathBuf::from("/h/.kube/config")]);
        assert_eq!(paths(Some(""), Some("/h")).unwrap(), [PathBuf::from("/h/.kube/config")]);
        assert_eq!(paths(Some(":"), Some("/h")).unwrap(), [PathBuf::from("/h/.kube/config")]);
        assert!(paths(None, None).unwrap_err().message.contains("neither $KUBECONFIG nor $HOME"));
    }

    #[test]
    fn new_entries_go_to_the_first_file_that_exists_else_the_first_listed() {
        // client-go's GetDefaultFilename.
        let dir = tempfile::tempdir().unwrap();
        let (missing, a, b) = (dir.path().join("missing"), dir.path().join("a"), dir.path().join("b"));
        fs::write(&b, "").unwrap();
        assert_eq!(default_path_in(&[missing.clone(), a.clone(), b.clone()]), b);
        fs::write(&a, "").unwrap();
        assert_eq!(default_path_in(&[missing.clone(), a.clone(), b.clone()]), a);
        assert_eq!(default_path_in(&[missing.clone(), dir.path().join("other")]), missing, "none exists: the first");
        #[cfg(unix)]
        {
            let dangling = dir.path().join("dangling");
            std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
            let link = dir.path().join("link");
            std::os::unix::fs::symlink(&b, &link).unwrap();
            assert_eq!(default_path_in(&[dangling.clone(), link.clone(), a.clone()]), link, "a link counts when its target exists");
        }
    }

    #[test]
    fn files_merge_as_kubectl_merges_them_and_missing_ones_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let (missing, a, b) = (dir.path().join("missing"), dir.path().join("a"), dir.path().join("b"));
        fs::write(&a, kubeconfig_with(None, &[("shared", "https://a"), ("only-a", "https://a")])).unwrap();
        fs::write(&b, kubeconfig_with(Some("only-b"), &[("shared", "https://b"), ("only-b", "https://b")])).unwrap();
        let merged = read_merged_from(&[missing.clone(), a.clone(), b.clone()]).unwrap();
        let names: Vec<&str> = merged.contexts.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["shared", "only-a", "only-b"]);
        let server = |name: &str| merged.clusters.iter().find(|c| c.name == name).and_then(|c| c.cluster.as_ref()).and_then(|c| c.server.clone());
        assert_eq!(server("shared").as_deref(), Some("https://a"), "the first file to set a name wins");
        assert_eq!(merged.current_context.as_deref(), Some("only-b"), "a value set by a later file only is taken");

        let e = read_merged_from(&[missing.clone(), dir.path().join("gone")]).unwrap_err();
        assert_eq!(e.code, crate::error::ExitCode::Usage);
        assert!(e.message.contains(&missing.display().to_string()) && e.message.contains("gone") && e.message.contains("do not exist"), "{}", e.message);

        fs::write(&b, "clusters: [unclosed").unwrap();
        let e = read_merged_from(&[a.clone(), b.clone()]).unwrap_err();
        assert!(e.message.contains(&b.display().to_string()), "a file that does not read is named: {}", e.message);
        // Its lines are not quoted: they hold tokens.
        fs::write(&b, "users:\n- name: u\n  user: {token: \"s3cret-t0ken}\n").unwrap();
        let e = read_merged_from(std::slice::from_ref(&b)).unwrap_err();
        assert!(e.message.contains("line 3") && !e.message.contains("s3cret"), "{}", e.message);
        fs::write(&b, "users:\n- name: u\n  user:\n    token: s3cret-t0ken\n   bad: [\n").unwrap();
        let e = read_merged_from(std::slice::from_ref(&b)).unwrap_err();
        assert!(e.message.contains("line 5") && !e.message.contains("s3cret"), "{}", e.message);
        assert!(!Kubeconfig::load(&b).err().unwrap().message.contains("s3cret"));
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_kubeconfig_is_written_through_and_stays_a_link() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("dotfiles")).unwrap();
        let target = dir.path().join("dotfiles/kubeconfig");
        fs::write(&target, kubeconfig_with(Some("prod"), &[("prod", "https://prod")])).unwrap();
        let link = dir.path().join("config");
        std::os::unix::fs::symlink("dotfiles/kubeconfig", &link).unwrap();
        edit_among(&link, &[], |k| k.add_sandbox(&entries("sandbox"))).unwrap();
        assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link stays a link");
        let k = Kubeconfig::load(&target).unwrap();
        assert_eq!(k.context_names(), ["prod", "sandbox", "sandbox-readonly"], "the target has the entries");
        assert_eq!(k.current_context(), Some("prod"));
        assert_eq!(fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o600);
        let left: Vec<String> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert_eq!(left, ["config", "dotfiles"].map(String::from).to_vec().into_iter().filter(|n| left.contains(n)).collect::<Vec<_>>());
        assert!(!dir.path().join("config.lock").exists() && !dir.path().join("dotfiles/kubeconfig.kdeck-tmp").exists(), "no lock or temporary file left");

        // A dangling link gets its target created.
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("dotfiles/new"), &dangling).unwrap();
        edit_among(&dangling, &[], |k| k.add_sandbox(&entries("x"))).unwrap();
        assert!(fs::symlink_metadata(&dangling).unwrap().file_type().is_symlink());
        assert_eq!(Kubeconfig::load(&dir.path().join("dotfiles/new")).unwrap().current_context(), Some("x"));
    }

    #[test]
    fn the_lock_is_client_gos_and_a_held_lock_is_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig.yaml");
        let lock = dir.path().join("kubeconfig.yaml.lock");
        fs::write(&lock, "").unwrap();
        let release = {
            let lock = lock.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(200));
                fs::remove_file(lock).unwrap();
            })
        };
        let started = Instant::now();
        edit_among(&path, &[], |k| k.add_sandbox(&entries("a"))).unwrap();
        release.join().unwrap();
        assert!(started.elapsed() >= Duration::from_millis(200), "it waited for the lock");
        assert!(!lock.exists());
    }

    #[test]
    fn current_context_is_not_set_when_another_file_sets_it() {
        let dir = tempfile::tempdir().unwrap();
        let (first, second) = (dir.path().join("first"), dir.path().join("second"));
        fs::write(&second, kubeconfig_with(Some("prod"), &[("prod", "https://prod")])).unwrap();
        edit_among(&first, std::slice::from_ref(&second), |k| k.add_sandbox(&entries("sandbox"))).unwrap();
        assert_eq!(Kubeconfig::load(&first).unwrap().current_context(), None, "prod stays the current context");
        assert_eq!(read_merged_from(&[first, second]).unwrap().current_context.as_deref(), Some("prod"));
    }

    #[test]
    fn invalid_yaml_is_refused_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        fs::write(&path, "clusters: [unclosed").unwrap();
        assert!(edit(&path, |k| k.add_sandbox(&entries("x"))).is_err());
        assert_eq!(fs::read_to_string(&path).unwrap(), "clusters: [unclosed");
    }
}
