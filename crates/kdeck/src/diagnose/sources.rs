//! Where a problem's root object comes from in the project: when `kdeck.yaml`
//! (looked for from the current directory up, as every project command does) has a
//! `stack:`, its render — the one `kdeck up` applies and `kdeck lint --stack`
//! checks — locates each object in its file and line. SARIF results then carry that
//! file and line beside the cluster's `namespace/kind/name`.

use std::collections::BTreeMap;

use crate::render::Manifest;

/// (namespace, Kind, name) → (file as shown, line). Namespace "" for an object the
/// render leaves without one (the step names none: it goes to the context's).
#[derive(Debug, Default)]
pub struct Sources {
    located: BTreeMap<(String, String, String), (String, u32)>,
}

impl Sources {
    pub fn of(manifests: &[Manifest]) -> Self {
        let mut located = BTreeMap::new();
        for manifest in manifests {
            let Some(origin) = &manifest.origin else { continue };
            let key = (manifest.namespace().unwrap_or_default().to_string(), manifest.kind().to_string(), manifest.name().to_string());
            located.entry(key).or_insert_with(|| (origin.file.clone(), origin.line));
        }
        Sources { located }
    }

    /// The file and line of the object `short/name` (as problems name it) in `namespace`.
    pub fn find(&self, namespace: &str, object: &str) -> Option<(&str, u32)> {
        let (short, name) = object.split_once('/')?;
        let (_, kind) = super::kind_of(short)?;
        let exact = (namespace.to_string(), kind.to_string(), name.to_string());
        let unplaced = (String::new(), kind.to_string(), name.to_string());
        self.located.get(&exact).or_else(|| self.located.get(&unplaced)).map(|(file, line)| (file.as_str(), *line))
    }
}

/// The project's stack rendered, when the current directory is in a project with a
/// stack: None when there is none; an error when it does not render (the caller
/// notes it and locates by namespace/kind/name alone).
pub fn from_project() -> Result<Option<Sources>, String> {
    let Ok(cwd) = std::env::current_dir() else { return Ok(None) };
    let Ok(file) = crate::project::load::find(&cwd) else { return Ok(None) };
    let project = crate::project::Project::open(&file, None).map_err(|e| e.message)?;
    if project.config.stack.is_none() {
        return Ok(None);
    }
    let def = crate::stack::StackDef::of(&project).map_err(|e| e.message)?;
    let steps = crate::render::render(&def.root, &def.config).map_err(|e| e.message)?;
    let manifests: Vec<Manifest> = steps.into_iter().flat_map(|s| s.manifests).collect();
    Ok(Some(Sources::of(&manifests)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_found_by_namespace_kind_and_name_or_unplaced() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: api-config, namespace: demo}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\n";
        let manifests = crate::render::parse_located(text, "k8s/app.yaml", None).unwrap();
        let sources = Sources::of(&manifests);
        assert_eq!(sources.find("demo", "configmap/api-config"), Some(("k8s/app.yaml", 1)));
        assert_eq!(sources.find("other", "configmap/api-config"), None, "another namespace's object");
        assert_eq!(sources.find("shop", "deploy/api"), Some(("k8s/app.yaml", 5)), "no namespace in the render: wherever it was applied");
        assert_eq!(sources.find("demo", "service/api"), None);
    }
}
