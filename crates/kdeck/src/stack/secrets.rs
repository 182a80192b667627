//! The stack's dev secrets: Secrets that must not live in git, created before
//! deploying when missing — keys from environment variables, or generated once and
//! kept in `.kdeck/secrets/<cluster>.json` (0600) so that a database kept across a
//! cluster recreate still accepts them. Values never reach output.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use base64::Engine;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::project::stack::StackSecret;

/// Where generated values are kept for `cluster`.
pub fn store_path(root: &Path, cluster: &str) -> PathBuf {
    root.join(".kdeck").join("secrets").join(format!("{cluster}.json"))
}

/// Generated values kept so far: `namespace/name` → key → value.
type Kept = BTreeMap<String, BTreeMap<String, String>>;

fn read_kept(path: &Path) -> Result<Kept> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            serde_json::from_str(&text).map_err(|_| Error::failure(format!("{} is not kdeck's secret store (not JSON of the expected shape)", path.display())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Kept::new()),
        Err(e) => Err(Error::failure(format!("cannot read {}: {e}", path.display()))),
    }
}

fn write_kept(path: &Path, kept: &Kept) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::failure(format!("cannot create {}: {e}", dir.display())))?;
    // Never committed by accident.
    let ignore = dir.join(".gitignore");
    if !ignore.exists() {
        let _ = std::fs::write(&ignore, "*\n");
    }
    let tmp = path.with_extension("json.tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| Error::failure(format!("cannot write {}: {e}", tmp.display())))?;
    file.write_all(serde_json::to_string_pretty(kept).unwrap_or_default().as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|e| Error::failure(format!("cannot write {}: {e}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::failure(format!("cannot write {}: {e}", path.display())))
}

/// The Secret objects the stack declares, with their values (from the
/// environment, generated or kept). Generated values are saved before returning.
pub fn objects(root: &Path, cluster: &str, secrets: &[StackSecret]) -> Result<Vec<Value>> {
    if secrets.is_empty() {
        return Ok(Vec::new());
    }
    let path = store_path(root, cluster);
    let mut kept = read_kept(&path)?;
    let before = kept.clone();
    let mut out = Vec::new();
    for (i, secret) in secrets.iter().enumerate() {
        let place = format!("stack.secrets[{i}]");
        crate::cluster::names::validate_name("Secret", &secret.name).map_err(|e| Error::usage(format!("{place}.name: {}", e.message)))?;
        let namespace = secret.namespace.clone().unwrap_or_else(|| "default".into());
        let mut data = BTreeMap::new();
        for (key, var) in &secret.from_env {
            let value = std::env::var(var).map_err(|_| {
                Error::usage(format!("{place}.fromEnv.{key}: the environment variable {var} is not set")).hint(format!("export {var}=… before `kdeck up`"))
            })?;
            data.insert(key.clone(), value);
        }
        let entry = kept.entry(format!("{namespace}/{}", secret.name)).or_default();
        for (key, length) in &secret.generate {
            if *length == 0 || *length > 4096 {
                return Err(Error::usage(format!("{place}.generate.{key}: a length of 1 to 4096 characters")));
            }
            let value = entry.entry(key.clone()).or_insert_with(|| random(usize::from(*length)));
            data.insert(key.clone(), value.clone());
        }
        let encoded: BTreeMap<String, String> = data.into_iter().map(|(k, v)| (k, base64::engine::general_purpose::STANDARD.encode(v.as_bytes()))).collect();
        out.push(json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": secret.name, "namespace": namespace, "labels": {"app.kubernetes.io/managed-by": "kdeck"}},
            "data": encoded}));
    }
    kept.retain(|_, keys| !keys.is_empty());
    if kept != before {
        write_kept(&path, &kept)?;
    }
    Ok(out)
}

/// Forgets the kept generated values of `cluster` (`down --delete-data`).
pub fn forget(root: &Path, cluster: &str) -> Result<bool> {
    let path = store_path(root, cluster);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::failure(format!("cannot remove {}: {e}", path.display()))),
    }
}

/// `length` random letters and digits.
fn random(length: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..length).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_values_are_kept_and_reused_with_private_modes() {
        let dir = tempfile_dir();
        let secrets = vec![StackSecret { name: "app".into(), namespace: None, from_env: BTreeMap::new(), generate: [("SECRET_KEY".to_string(), 50)].into() }];
        let first = objects(&dir, "dev", &secrets).unwrap();
        let second = objects(&dir, "dev", &secrets).unwrap();
        assert_eq!(first, second, "the same value the second time");
        let value = first[0]["data"]["SECRET_KEY"].as_str().unwrap();
        assert_eq!(base64::engine::general_purpose::STANDARD.decode(value).unwrap().len(), 50);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(store_path(&dir, "dev")).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(forget(&dir, "dev").unwrap());
        assert_ne!(objects(&dir, "dev", &secrets).unwrap(), first, "a new value once forgotten");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_missing_environment_variable_is_named() {
        let dir = tempfile_dir();
        let secrets = vec![StackSecret {
            name: "openai".into(),
            namespace: None,
            from_env: [("api-key".to_string(), "KDECK_TEST_SURELY_UNSET".to_string())].into(),
            generate: BTreeMap::new(),
        }];
        let e = objects(&dir, "dev", &secrets).unwrap_err();
        assert_eq!(e.message, "stack.secrets[0].fromEnv.api-key: the environment variable KDECK_TEST_SURELY_UNSET is not set");
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("kdeck-secrets-{}-{}", std::process::id(), random(8)));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
