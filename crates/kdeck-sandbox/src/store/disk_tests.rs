//! The store on disk: clean stops, crashes, torn and corrupt journals, compaction,
//! and the corruptions a state file is refused for.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use super::*;
use crate::resources::ResourceKey;
use crate::store::journal;

fn cms() -> ResourceKey {
    ResourceKey::new("", "configmaps")
}

fn cm(name: &str) -> Value {
    json!({"metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}")}, "data": {"k": name}})
}

/// Every file in the directory with its content.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir).unwrap().map(|e| e.unwrap()).map(|e| (e.file_name().to_string_lossy().into_owned(), fs::read(e.path()).unwrap())).collect()
}

fn names(store: &Store) -> Vec<String> {
    store.list(&cms(), None, None, |_| true).0.iter().map(|e| e.index.name.clone()).collect()
}

fn open(dir: &Path) -> (Arc<Store>, Disk) {
    let store = Arc::new(Store::new());
    let disk = Disk::open(dir, &store).unwrap();
    (store, disk)
}

#[tokio::test]
async fn a_clean_stop_leaves_one_state_file_with_everything() {
    let dir = tempfile::tempdir().unwrap();
    let (store, disk) = open(dir.path());
    let a = store.create(&cms(), cm("a")).unwrap();
    store.create(&cms(), cm("b")).unwrap();
    store.delete(&cms(), &("default".into(), "b".into()), None).unwrap();
    store.durable(store.resource_version()).await.unwrap();
    disk.close().unwrap();
    assert_eq!(files(dir.path()).keys().collect::<Vec<_>>(), ["state.jsonl"]);

    let (store, _disk) = open(dir.path());
    assert_eq!(names(&store), ["a"]);
    assert_eq!(store.resource_version(), 3, "a clean stop keeps the version counter as it was");
    assert_eq!(store.get(&cms(), &("default".into(), "a".into())).unwrap().index.rv, a.index.rv);
}

#[tokio::test]
async fn after_a_crash_every_durable_change_is_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let (store, disk) = open(dir.path());
    for name in ["a", "b", "c"] {
        store.create(&cms(), cm(name)).unwrap();
    }
    let mut b = store.get(&cms(), &("default".into(), "b".into())).unwrap().value();
    b["data"]["k"] = json!("changed");
    store.update(&cms(), b, None).unwrap();
    store.delete(&cms(), &("default".into(), "c".into()), None).unwrap();
    store.durable(store.resource_version()).await.unwrap();
    disk.crash();
    assert!(!files(dir.path()).contains_key("state.jsonl"), "nothing but the journal was written");

    let (again, _disk) = open(dir.path());
    assert_eq!(names(&again), ["a", "b"]);
    assert_eq!(again.get(&cms(), &("default".into(), "b".into())).unwrap().value()["data"]["k"], "changed");
    assert_eq!(again.resource_version(), 5 + VERSIONS_SKIPPED_AFTER_CRASH, "versions a watcher may have seen are not reused");
    // The journal went into a new snapshot.
    let left = files(dir.path());
    assert!(left.contains_key("state.jsonl") && left["journal.jsonl"].is_empty() && !left.contains_key("journal.1.jsonl"), "{:?}", left.keys());
}

#[tokio::test]
async fn a_record_cut_short_by_a_crash_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let (store, disk) = open(dir.path());
    store.create(&cms(), cm("a")).unwrap();
    store.durable(1).await.unwrap();
    disk.crash();
    // The crash came while a second record was being written: part of it is in the file,
    // where the preallocated zeros were.
    let journal = dir.path().join(journal::JOURNAL_FILE);
    let mut bytes = fs::read(&journal).unwrap();
    let end = journal::content(&bytes).len();
    let torn = br#"{"rv":2,"op":"put","group":"","plural":"configmaps","object":{"metad"#;
    bytes.resize(bytes.len().max(end + torn.len()), 0);
    bytes[end..end + torn.len()].copy_from_slice(torn);
    fs::write(&journal, bytes).unwrap();

    let (store, _disk) = open(dir.path());
    assert_eq!(names(&store), ["a"]);
}

#[test]
fn a_corrupt_record_in_the_middle_of_the_journal_is_refused_and_nothing_is_changed() {
    let cases: &[(&str, &str)] = &[
        ("{\"rv\":2,\"op\":\"put\",\"group\":\"\",\"plural\":\"configmaps\",\"obj", "line 2: not a JSON record"),
        // Record 2 is missing.
        (r#"{"rv":3,"op":"delete","group":"","plural":"configmaps","namespace":"default","name":"a"}"#, "expected the record of resourceVersion 2, found 3"),
        (
            r#"{"rv":2,"op":"delete","group":"","plural":"configmaps","namespace":"default","name":"zz"}"#,
            "deletes configmaps \"default/zz\", which does not exist",
        ),
        (
            r#"{"rv":2,"op":"put","group":"","plural":"configmaps","object":{"metadata":{"name":"b","namespace":"default","uid":"u","resourceVersion":"7"}}}"#,
            "resourceVersion 7 differs from the record's 2",
        ),
        (
            r#"{"rv":2,"op":"put","group":"","plural":"configmaps","object":{"metadata":{"name":"B b","namespace":"default","uid":"u","resourceVersion":"2"}}}"#,
            "line 2: metadata.name \"B b\" is invalid",
        ),
        (r#"{"rv":2,"op":"rename","group":"","plural":"configmaps"}"#, "neither put nor delete"),
    ];
    for (second, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        let first =
            r#"{"rv":1,"op":"put","group":"","plural":"configmaps","object":{"metadata":{"name":"a","namespace":"default","uid":"u","resourceVersion":"1"}}}"#;
        // A complete (newline-terminated) bad record followed by a good one: not a torn tail.
        let third =
            r#"{"rv":3,"op":"put","group":"","plural":"configmaps","object":{"metadata":{"name":"c","namespace":"default","uid":"u3","resourceVersion":"3"}}}"#;
        fs::write(dir.path().join(journal::JOURNAL_FILE), format!("{first}\n{second}\n{third}\n")).unwrap();
        let before = files(dir.path());
        let err = Disk::open(dir.path(), &Arc::new(Store::new())).err().expect("refused").to_string();
        assert!(err.contains("journal.jsonl") && err.contains(expected), "{expected}: {err}");
        assert_eq!(files(dir.path()), before, "{expected}: the files are left untouched");
    }
}

#[test]
fn a_torn_record_in_the_rotated_journal_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let first =
        r#"{"rv":1,"op":"put","group":"","plural":"configmaps","object":{"metadata":{"name":"a","namespace":"default","uid":"u","resourceVersion":"1"}}}"#;
    fs::write(dir.path().join(journal::ROTATED_FILE), format!("{first}\n{{\"rv\":2")).unwrap();
    fs::write(dir.path().join(journal::JOURNAL_FILE), "").unwrap();
    let err = Disk::open(dir.path(), &Arc::new(Store::new())).err().expect("refused").to_string();
    assert!(err.contains("journal.1.jsonl is corrupt at line 2") && err.contains("cut short"), "{err}");
}

#[test]
fn journals_end_at_their_preallocated_zeros() {
    let put = |rv: u64, name: &str| {
        format!(
            "{{\"rv\":{rv},\"op\":\"put\",\"group\":\"\",\"plural\":\"configmaps\",\"object\":{{\"metadata\":{{\"name\":\"{name}\",\"namespace\":\"default\",\"uid\":\"{name}\",\"resourceVersion\":\"{rv}\"}}}}}}\n"
        )
    };
    let zeros = |mut text: String| {
        text.push_str(&"\0".repeat(4096));
        text
    };
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(journal::ROTATED_FILE), zeros(put(1, "a"))).unwrap();
    fs::write(dir.path().join(journal::JOURNAL_FILE), zeros(put(2, "b"))).unwrap();
    let (store, _disk) = open(dir.path());
    assert_eq!(names(&store), ["a", "b"]);

    // Data after the zeros of a rotated journal is not a crash's leftover: refused.
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(journal::ROTATED_FILE), zeros(put(1, "a")) + &put(2, "b")).unwrap();
    fs::write(dir.path().join(journal::JOURNAL_FILE), put(3, "c")).unwrap();
    let err = Disk::open(dir.path(), &Arc::new(Store::new())).err().expect("refused").to_string();
    assert!(err.contains("journal.1.jsonl is corrupt at line 2") && err.contains("data after the journal's end"), "{err}");
}

#[tokio::test]
async fn the_journal_is_compacted_into_the_snapshot_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::new());
    let disk = Disk::open_with(dir.path(), &store, 4096).unwrap();
    for i in 0..200 {
        store.create(&cms(), cm(&format!("c{i:03}"))).unwrap();
        store.durable(store.resource_version()).await.unwrap();
    }
    // Compaction runs on its own thread: wait for the snapshot to appear.
    for _ in 0..100 {
        if dir.path().join(STATE_FILE).exists() && !dir.path().join(journal::ROTATED_FILE).exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let snapshot = persist::read(&dir.path().join(STATE_FILE)).unwrap().expect("a snapshot was written");
    assert!(!snapshot.objects.is_empty(), "the journal was rotated and the snapshot holds its records");
    assert!(disk.journal_size() < fs::metadata(dir.path().join(STATE_FILE)).unwrap().len() + 4096);
    store.delete(&cms(), &("default".into(), "c000".into()), None).unwrap();
    store.durable(store.resource_version()).await.unwrap();
    disk.crash();

    // Snapshot, rotated file (if any) and journal together hold every change.
    let (again, _disk) = open(dir.path());
    let loaded = names(&again);
    assert_eq!(loaded.len(), 199);
    assert_eq!(loaded.first().map(String::as_str), Some("c001"));
}

#[tokio::test]
async fn custom_resources_load_with_their_definition() {
    let dir = tempfile::tempdir().unwrap();
    let (store, disk) = open(dir.path());
    let crds = ResourceKey::new("apiextensions.k8s.io", "customresourcedefinitions");
    let crd = json!({"metadata": {"name": "widgets.example.com", "uid": "crd"}, "spec": {"group": "example.com", "scope": "Namespaced", "names": {"plural": "widgets", "kind": "Widget"}}});
    store.create(&crds, crd).unwrap();
    let widgets = ResourceKey::new("example.com", "widgets");
    store.create(&widgets, json!({"metadata": {"name": "w:1", "namespace": "default", "uid": "w"}})).unwrap();
    disk.close().unwrap();
    let (store, _disk) = open(dir.path());
    assert!(store.get(&widgets, &("default".into(), "w:1".into())).is_some());
}

/// A state file with a header at resourceVersion 10, a valid ConfigMap on line 2 and
/// `bad` on line 3.
fn state_with(bad: &str) -> String {
    let good =
        json!({"group": "", "plural": "configmaps", "object": {"metadata": {"name": "good", "namespace": "default", "uid": "u1", "resourceVersion": "4"}}});
    format!("{{\"kdeckSandboxState\":1,\"resourceVersion\":10}}\n{good}\n{bad}\n")
}

fn record(group: &str, plural: &str, metadata: Value) -> String {
    json!({"group": group, "plural": plural, "object": {"metadata": metadata}}).to_string()
}

#[test]
fn every_kind_of_corrupt_state_file_is_refused_with_its_line() {
    let meta = |v: Value| -> Value {
        let mut m = json!({"name": "x", "namespace": "default", "uid": "u2", "resourceVersion": "5"});
        for (k, v) in v.as_object().unwrap() {
            if v.is_null() {
                m.as_object_mut().unwrap().remove(k);
            } else {
                m[k] = v.clone();
            }
        }
        m
    };
    let cases: Vec<(&str, String, usize, &str)> = vec![
        ("a name with a space", record("", "configmaps", meta(json!({"name": "my config"}))), 3, "metadata.name \"my config\" is invalid"),
        ("an upper-case name", record("", "configmaps", meta(json!({"name": "Config"}))), 3, "metadata.name \"Config\" is invalid"),
        ("a namespaced kind without a namespace", record("", "configmaps", meta(json!({"namespace": null}))), 3, "has no metadata.namespace"),
        ("an invalid namespace", record("", "configmaps", meta(json!({"namespace": "my ns"}))), 3, "metadata.namespace \"my ns\" is invalid"),
        ("a cluster-scoped kind with a namespace", record("", "namespaces", meta(json!({}))), 3, "cluster-scoped"),
        ("an unknown resource", record("", "configmapz", meta(json!({}))), 3, "unknown resource \"configmapz\""),
        ("a custom resource without its definition", record("example.com", "widgets", meta(json!({}))), 3, "unknown resource \"widgets.example.com\""),
        ("a request kind", record("authorization.k8s.io", "selfsubjectaccessreviews", meta(json!({"namespace": null}))), 3, "never stored"),
        ("no uid", record("", "configmaps", meta(json!({"uid": null}))), 3, "no metadata.uid"),
        ("no resourceVersion", record("", "configmaps", meta(json!({"resourceVersion": null}))), 3, "no metadata.resourceVersion"),
        ("a resourceVersion above the header's", record("", "configmaps", meta(json!({"resourceVersion": "11"}))), 3, "above the file's 10"),
        ("a duplicate object", record("", "configmaps", meta(json!({"name": "good"}))), 3, "already on line 2"),
        ("no metadata.name", record("", "configmaps", meta(json!({"name": null}))), 3, "no metadata.name"),
        ("no group and plural", json!({"object": {"metadata": meta(json!({}))}}).to_string(), 3, "no group and plural"),
        ("a line that is not JSON", "{\"group\":\"\",\"plural\":\"configmaps\",\"obj".into(), 3, "EOF"),
    ];
    for (what, bad, line, expected) in &cases {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STATE_FILE);
        fs::write(&path, state_with(bad)).unwrap();
        let before = files(dir.path());
        let store = Arc::new(Store::new());
        let err = Disk::open(dir.path(), &store).err().unwrap_or_else(|| panic!("{what}: loaded")).to_string();
        assert!(err.contains(&format!("state.jsonl is corrupt at line {line}:")) && err.contains(expected), "{what}: {err}");
        assert_eq!(files(dir.path()), before, "{what}: the file is left untouched");
        assert!(names(&store).is_empty(), "{what}: nothing half-loaded");
    }
    // The header itself.
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(STATE_FILE), "{\"kdeckSandboxState\":1}\n").unwrap();
    let err = Disk::open(dir.path(), &Arc::new(Store::new())).err().unwrap().to_string();
    assert!(err.contains("line 1: the header has no resourceVersion"), "{err}");
    // And a valid file loads.
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(STATE_FILE), state_with(&record("", "configmaps", meta(json!({}))))).unwrap();
    let (store, _disk) = open(dir.path());
    assert_eq!(names(&store), ["good", "x"]);
}

#[cfg(unix)]
#[tokio::test]
async fn state_and_journal_files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join(STATE_FILE);
    fs::write(&state, "{\"kdeckSandboxState\":1,\"resourceVersion\":0}\n").unwrap();
    fs::set_permissions(&state, fs::Permissions::from_mode(0o644)).unwrap();
    let (store, disk) = open(dir.path());
    store.create(&cms(), cm("a")).unwrap();
    store.durable(1).await.unwrap();
    let mode = |f: &str| fs::metadata(dir.path().join(f)).unwrap().permissions().mode() & 0o777;
    assert_eq!((mode(STATE_FILE), mode(journal::JOURNAL_FILE)), (0o600, 0o600));
    disk.close().unwrap();
    assert_eq!(mode(STATE_FILE), 0o600);
}
