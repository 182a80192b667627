//! Reading and editing kubeconfig files the way kubectl does: the file kubectl would
//! write to, entries merged by name, mode 0600, other entries left as they were, and
//! `current-context` set only when the file had none.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

use crate::error::{Error, Result};

/// The file kubectl writes to: the first path of `$KUBECONFIG`, else `~/.kube/config`.
pub fn default_path() -> Result<PathBuf> {
    if let Some(first) = std::env::var_os("KUBECONFIG").and_then(|v| std::env::split_paths(&v).find(|p| !p.as_os_str().is_empty())) {
        return Ok(first);
    }
    let home = std::env::var_os("HOME")
        .ok_or_else(|| Error::failure("cannot find the kubeconfig: neither $KUBECONFIG nor $HOME is set").hint("pass --kubeconfig PATH"))?;
    Ok(Path::new(&home).join(".kube").join("config"))
}

/// A kubeconfig document, kept as a generic value so unknown fields survive edits.
pub struct Kubeconfig {
    pub path: PathBuf,
    doc: Value,
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
                Error::usage(format!("the kubeconfig {} is not valid YAML: {e}", path.display())).hint("fix or move the file; kdeck will not overwrite it")
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
        Ok(Kubeconfig { path: path.to_path_buf(), doc })
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
        if self.current_context().is_none() {
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

    /// Writes the file with mode 0600, under a lock so concurrent writers do not lose entries.
    pub fn save(&self) -> Result<()> {
        let text = serde_saphyr::to_string(&self.doc).map_err(|e| Error::failure(format!("cannot encode the kubeconfig: {e}")))?;
        let write_err = |e: std::io::Error| Error::failure(format!("cannot write the kubeconfig {}: {e}", self.path.display()));
        if let Some(dir) = self.path.parent() {
            fs::create_dir_all(dir).map_err(write_err)?;
        }
        let tmp = self.path.with_extension("kdeck-tmp");
        let mut f = open_private(&tmp).map_err(write_err)?;
        f.write_all(text.as_bytes()).map_err(write_err)?;
        f.sync_all().map_err(write_err)?;
        fs::rename(&tmp, &self.path).map_err(write_err)
    }
}

#[cfg(unix)]
fn open_private(path: &Path) -> std::io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> std::io::Result<fs::File> {
    fs::File::create(path)
}

/// Loads, edits and saves a kubeconfig while holding its lock file (as client-go does).
pub fn edit(path: &Path, change: impl FnOnce(&mut Kubeconfig)) -> Result<()> {
    let lock = path.with_extension("lock");
    if let Some(dir) = lock.parent() {
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
        change(&mut config);
        config.save()
    });
    let _ = fs::remove_file(&lock);
    result
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

    #[test]
    fn invalid_yaml_is_refused_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        fs::write(&path, "clusters: [unclosed").unwrap();
        assert!(edit(&path, |k| k.add_sandbox(&entries("x"))).is_err());
        assert_eq!(fs::read_to_string(&path).unwrap(), "clusters: [unclosed");
    }
}
