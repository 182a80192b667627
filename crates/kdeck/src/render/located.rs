//! Where each object and each of its fields sit in a YAML file: the document's
//! line and a line per field path (`spec.template.spec.containers[0].image`), so
//! lint can point at the line a finding is about. serde-saphyr's `Spanned` gives
//! the positions; this module turns a spanned tree into a plain JSON value plus
//! the line table.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_saphyr::Spanned;

/// Where an object came from: the file (as shown), the line its document starts
/// on, and the line of each field.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    pub file: String,
    pub line: u32,
    /// Field path → line. Paths use `.` between keys and `[i]` for list items.
    pub fields: Arc<BTreeMap<String, u32>>,
}

impl Origin {
    /// The line of `path`, else of its nearest ancestor that is in the file, else the document's.
    pub fn line_of(&self, path: &str) -> u32 {
        let mut path = path;
        loop {
            if let Some(line) = self.fields.get(path) {
                return *line;
            }
            match path.rfind(['.', '[']) {
                Some(cut) => path = &path[..cut],
                None => return self.line,
            }
        }
    }
}

/// A YAML node whose children carry their positions.
pub(super) enum Node {
    Map(Vec<(String, Spanned<Node>)>),
    Seq(Vec<Spanned<Node>>),
    Scalar(Value),
}

impl Node {
    pub(super) fn to_value(&self) -> Value {
        match self {
            Node::Map(entries) => Value::Object(entries.iter().map(|(k, v)| (k.clone(), v.value.to_value())).collect()),
            Node::Seq(items) => Value::Array(items.iter().map(|i| i.value.to_value()).collect()),
            Node::Scalar(v) => v.clone(),
        }
    }

    /// Lines of every path under this node, prefixed by `prefix`.
    pub(super) fn lines(node: &Spanned<Node>, prefix: &mut String, out: &mut BTreeMap<String, u32>) {
        if !prefix.is_empty() {
            out.insert(prefix.clone(), line(node));
        }
        let len = prefix.len();
        match &node.value {
            Node::Map(entries) => {
                for (key, child) in entries {
                    if !prefix.is_empty() {
                        prefix.push('.');
                    }
                    prefix.push_str(key);
                    Node::lines(child, prefix, out);
                    prefix.truncate(len);
                }
            }
            Node::Seq(items) => {
                for (i, child) in items.iter().enumerate() {
                    prefix.push_str(&format!("[{i}]"));
                    Node::lines(child, prefix, out);
                    prefix.truncate(len);
                }
            }
            Node::Scalar(_) => {}
        }
    }
}

/// The line a node starts on (1-based; 1 when unknown).
pub(super) fn line(node: &Spanned<Node>) -> u32 {
    u32::try_from(node.referenced.line()).unwrap_or(1).max(1)
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Scalar(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Scalar(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Scalar(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Scalar(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Scalar(Value::String(v.to_string())))
    }
    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Scalar(Value::String(v)))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Node, E> {
        Ok(Node::Scalar(Value::String(String::from_utf8_lossy(v).into_owned())))
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Scalar(Value::Null))
    }
    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Scalar(Value::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        Node::deserialize(deserializer)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Node>>()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries: Vec<(String, Spanned<Node>)> = Vec::new();
        while let Some(Key(key)) = map.next_key::<Key>()? {
            let value = map.next_value::<Spanned<Node>>()?;
            // A repeated key: the last one wins, as in a JSON object.
            entries.retain(|(k, _)| *k != key);
            entries.push((key, value));
        }
        Ok(Node::Map(entries))
    }
}

/// A mapping key as text (`80: x` has the key "80").
struct Key(String);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a mapping key")
            }
            fn visit_str<E>(self, v: &str) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> Result<Key, E> {
                Ok(Key(v))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Key, E> {
                Ok(Key("null".into()))
            }
        }
        deserializer.deserialize_any(KeyVisitor)
    }
}

/// A path as findings show it: relative to the current directory when under it.
pub fn shown(path: &std::path::Path) -> String {
    let cwd = std::env::current_dir().ok();
    let absolute = normalized(&std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()));
    match cwd.as_deref().and_then(|c| absolute.strip_prefix(c).ok()) {
        Some(relative) if !relative.as_os_str().is_empty() => relative.display().to_string(),
        _ => normalized(path).display().to_string(),
    }
}

/// `a/b/../c` → `a/c`, without touching the filesystem.
fn normalized(path: &std::path::Path) -> std::path::PathBuf {
    use std::path::Component;
    let mut out = std::path::PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.components().next_back(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The names a kustomization file may have.
pub const KUSTOMIZATION_FILES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// The kustomization file of `dir`, if it is a kustomization.
pub fn kustomization_file(dir: &std::path::Path) -> Option<std::path::PathBuf> {
    KUSTOMIZATION_FILES.iter().map(|n| dir.join(n)).find(|f| f.is_file())
}

/// Locates objects `kustomize build dir` rendered in the resource files of the
/// kustomization (and the kustomizations it includes) that declare them: same
/// kind, the same name or one a name prefix or suffix was added to. Objects no
/// file declares (generators, remote bases) are placed at the kustomization file.
pub fn kustomize_origins(dir: &std::path::Path, manifests: &mut [super::Manifest]) {
    let mut declared = Vec::new();
    resource_files(dir, 0, &mut declared);
    let fallback = kustomization_file(dir).map(|f| shown(&f)).unwrap_or_else(|| shown(dir));
    for m in manifests.iter_mut() {
        let (kind, name) = (m.kind().to_string(), m.name().to_string());
        let same = |d: &&super::Manifest| d.kind() == kind;
        let found = declared.iter().filter(same).find(|d| d.name() == name).or_else(|| declared.iter().filter(same).find(|d| name.contains(d.name())));
        m.origin = Some(match found.and_then(|d| d.origin.clone()) {
            Some(origin) => origin,
            None => Origin { file: fallback.clone(), line: 1, fields: Arc::default() },
        });
    }
}

fn resource_files(dir: &std::path::Path, depth: usize, out: &mut Vec<super::Manifest>) {
    let Some(file) = kustomization_file(dir).filter(|_| depth < 16) else { return };
    let Ok(text) = std::fs::read_to_string(&file) else { return };
    let Ok(kustomization) = serde_saphyr::from_str::<Value>(&text) else { return };
    for field in ["resources", "bases", "components"] {
        for entry in kustomization[field].as_array().into_iter().flatten().filter_map(Value::as_str) {
            if entry.contains("://") || entry.starts_with("github.com/") {
                continue;
            }
            let path = dir.join(entry);
            if path.is_dir() {
                resource_files(&path, depth + 1, out);
            } else if let Ok(text) = std::fs::read_to_string(&path)
                && let Ok(found) = super::parse_located(&text, &shown(&path), None)
            {
                out.extend(found);
            }
        }
    }
}

/// Locates objects of `helm template` output in the template each came from
/// (helm's `# Source: chart/templates/x.yaml` comments), at the line of its
/// `kind:` there: template lines are not the rendered lines, so fields are not located.
pub fn helm_origins(text: &str, chart: &std::path::Path, manifests: &mut [super::Manifest]) {
    let sources: Vec<(u32, &str)> =
        text.lines().enumerate().filter_map(|(i, l)| l.strip_prefix("# Source: ").map(|p| (u32::try_from(i + 1).unwrap_or(u32::MAX), p.trim()))).collect();
    for m in manifests.iter_mut() {
        let Some(rendered) = m.origin.as_ref().map(|o| o.line) else { continue };
        let Some((_, source)) = sources.iter().rev().find(|(line, _)| *line < rendered) else { continue };
        // `chart/templates/x.yaml` (or `chart/charts/sub/templates/x.yaml`): relative to the chart directory.
        let relative = source.split_once('/').map_or(*source, |(_, rest)| rest);
        let file = chart.join(relative);
        let kind_line = std::fs::read_to_string(&file)
            .ok()
            .and_then(|t| t.lines().position(|l| l.trim_start().starts_with("kind:") && l.contains(m.kind())))
            .map_or(1, |i| u32::try_from(i + 1).unwrap_or(1));
        m.origin = Some(Origin { file: shown(&file), line: kind_line, fields: Arc::default() });
    }
}
