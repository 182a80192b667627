//! What is linted: PATH arguments (YAML files, kustomizations, Helm charts,
//! Dockerfiles, directories of them) or the stack of kdeck.yaml, each turned into
//! a [`Render`]. An input that cannot be read, parsed or rendered becomes an
//! [`InputError`] naming it, and the others are still linted.

use std::path::{Path, PathBuf};

use super::dockerfile::Dockerfile;
use super::{Finding, InputError, Render, Severity};
use crate::render::located::{kustomization_file, shown};
use crate::render::{self, HelmRelease, tools};

/// Chart values and `--set`s from the command line.
#[derive(Clone, Debug, Default)]
pub struct ChartOptions {
    pub values: Vec<PathBuf>,
    pub set: Vec<(String, String)>,
}

/// Directories a walk does not enter.
const SKIPPED_DIRS: [&str; 5] = ["node_modules", "target", "vendor", "dist", "build"];

/// One render per PATH.
pub fn from_paths(paths: &[PathBuf], chart: &ChartOptions, errors: &mut Vec<InputError>) -> Vec<Render> {
    paths
        .iter()
        .map(|path| {
            let mut render = Render::default();
            collect(path, true, chart, &mut render, errors);
            render
        })
        .collect()
}

fn error(errors: &mut Vec<InputError>, input: &Path, message: impl Into<String>) {
    errors.push(InputError { input: shown(input), message: message.into() });
}

fn collect(path: &Path, explicit: bool, chart: &ChartOptions, render: &mut Render, errors: &mut Vec<InputError>) {
    if !path.exists() {
        return error(errors, path, "does not exist");
    }
    if path.is_dir() {
        if path.join("Chart.yaml").is_file() {
            return helm_chart(path, chart, render, errors);
        }
        if kustomization_file(path).is_some() {
            return kustomization(path, render, errors);
        }
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(path) {
            Ok(entries) => entries.flatten().map(|e| e.path()).collect(),
            Err(e) => return error(errors, path, format!("cannot read: {e}")),
        };
        entries.sort();
        for entry in entries {
            let name = entry.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            if name.starts_with('.') || (entry.is_dir() && SKIPPED_DIRS.contains(&name.as_str())) {
                continue;
            }
            collect(&entry, false, chart, render, errors);
        }
        return;
    }
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if is_dockerfile(&name) {
        return dockerfile(path, parent, None, render, errors);
    }
    if explicit && name == "Chart.yaml" {
        return helm_chart(parent, chart, render, errors);
    }
    if explicit && kustomization_file(parent).is_some_and(|f| f == path) {
        return kustomization(parent, render, errors);
    }
    if name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".json") {
        return manifests(path, explicit, render, errors);
    }
    if explicit {
        error(errors, path, "is not a manifest (.yaml, .yml, .json), a Helm chart, a kustomization or a Dockerfile");
    }
}

/// `Dockerfile`, `Dockerfile.prod`, `api.Dockerfile`, `Containerfile`.
pub fn is_dockerfile(name: &str) -> bool {
    name == "Dockerfile" || name == "Containerfile" || name.starts_with("Dockerfile.") && !name.ends_with(".dockerignore") || name.ends_with(".Dockerfile")
}

fn manifests(path: &Path, explicit: bool, render: &mut Render, errors: &mut Vec<InputError>) {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => return error(errors, path, format!("cannot read: {e}")),
    };
    match render::parse_located(&text, &shown(path), None) {
        Ok(objects) => render.objects.extend(objects),
        // In a directory, YAML that is not Kubernetes objects (compose files, CI, values) is not ours.
        Err(e) if !explicit && e.message.contains("without apiVersion and kind") => {}
        Err(e) => {
            let (input, message) = split_place(&e.message, &shown(path));
            errors.push(InputError { input, message });
        }
    }
}

/// `file:line:column: message` as (`file:line:column`, `message`).
fn split_place(message: &str, file: &str) -> (String, String) {
    match message.strip_prefix(file) {
        Some(rest) => {
            let (place, message) = rest.split_once(": ").unwrap_or(("", rest));
            (format!("{file}{place}"), message.to_string())
        }
        None => (file.to_string(), message.to_string()),
    }
}

fn kustomization(dir: &Path, render: &mut Render, errors: &mut Vec<InputError>) {
    match render::kustomize(dir, &format!("kustomize {}", shown(dir)), None) {
        Ok(objects) => render.objects.extend(objects),
        Err(e) => error(errors, dir, e.message),
    }
}

fn helm_chart(dir: &Path, chart: &ChartOptions, render: &mut Render, errors: &mut Vec<InputError>) {
    let name = dir.canonicalize().ok().and_then(|d| d.file_name().map(|n| n.to_string_lossy().to_lowercase())).unwrap_or_else(|| "release".into());
    let release = HelmRelease {
        release: name,
        namespace: "default".into(),
        chart: std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf()).display().to_string(),
        version: None,
        values: chart.values.clone(),
        set: chart.set.clone(),
    };
    match render::helm_template(&release, &format!("helm template {}", shown(dir))) {
        Ok(objects) => render.objects.extend(objects),
        Err(e) => error(errors, dir, e.message),
    }
    match tools::helm_lint(Path::new(&release.chart), &chart.values, &chart.set) {
        Ok(output) => render.findings.extend(helm_lint_findings(dir, &output)),
        Err(e) => error(errors, dir, e.message),
    }
}

/// helm lint's `[ERROR] templates/x.yaml: message` lines as findings.
fn helm_lint_findings(dir: &Path, output: &str) -> Vec<Finding> {
    let rule = super::rules::find("helm-lint").expect("the helm-lint rule");
    output
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            let (severity, rest) = [("[ERROR]", Severity::Error), ("[WARNING]", Severity::Warning), ("[INFO]", Severity::Info)]
                .iter()
                .find_map(|(tag, severity)| line.strip_prefix(tag).map(|rest| (*severity, rest.trim())))?;
            let (place, message) = rest.split_once(": ").filter(|(p, _)| !p.contains(' ')).unwrap_or(("Chart.yaml", rest));
            let file = dir.join(place.trim_end_matches('/'));
            let file = if file.exists() { file } else { dir.join("Chart.yaml") };
            Some(Finding {
                rule: rule.id,
                severity,
                file: shown(&file),
                line: 1,
                object: None,
                container: None,
                field: None,
                message: format!("helm lint: {message}"),
                why: rule.why,
                fix: rule.fix,
            })
        })
        .collect()
}

fn dockerfile(path: &Path, context: &Path, image: Option<&str>, render: &mut Render, errors: &mut Vec<InputError>) {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => return error(errors, path, format!("cannot read: {e}")),
    };
    match Dockerfile::parse(&shown(path), context.to_path_buf(), &text) {
        Ok(mut file) => {
            file.image = image.map(str::to_string);
            if let Some(image) = image
                && file.final_user().is_some_and(|(_, user)| !super::dockerfile::is_root(user))
            {
                render.non_root_images.insert(image.to_string());
            }
            render.dockerfiles.push(file);
        }
        Err((line, message)) => errors.push(InputError { input: format!("{}:{line}", shown(path)), message: format!("Dockerfile syntax: {message}") }),
    }
}

/// The stack of kdeck.yaml: what its deploy steps render (as `kdeck up` would)
/// with helm lint's findings on its local charts, the Dockerfiles of its images, the Secrets `stack.secrets` creates and the
/// namespaces its objects use (kdeck up creates them).
pub fn from_stack(project: &crate::project::Project, errors: &mut Vec<InputError>) -> Option<Render> {
    let def = match crate::stack::StackDef::of(project) {
        Ok(def) => def,
        Err(e) => {
            errors.push(InputError { input: shown(&project.file), message: e.message });
            return None;
        }
    };
    let mut render = Render::default();
    for image in &def.config.images {
        let context = def.root.join(&image.context);
        let file = context.join(image.dockerfile.as_deref().unwrap_or("Dockerfile"));
        dockerfile(&file, &context, Some(&image.name), &mut render, errors);
    }
    for (index, step) in def.config.deploy.iter().enumerate() {
        match render::render_step(&def.root, index, step) {
            Ok(step) => render.objects.extend(step.manifests),
            Err(e) => errors.push(InputError { input: format!("stack.deploy[{index}]"), message: e.message }),
        }
        // A local chart: helm lint's own findings, with the step's values.
        if let Some(helm) = &step.helm
            && def.root.join(&helm.chart).join("Chart.yaml").is_file()
        {
            let chart = def.root.join(&helm.chart);
            let values: Vec<PathBuf> = helm.values.iter().map(|v| def.root.join(v)).collect();
            let set: Vec<(String, String)> = helm.set.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            match tools::helm_lint(&chart, &values, &set) {
                Ok(output) => render.findings.extend(helm_lint_findings(&chart, &output)),
                Err(e) => errors.push(InputError { input: format!("stack.deploy[{index}]"), message: e.message }),
            }
        }
    }
    // `kdeck up` creates the namespaces its objects are in.
    let used: Vec<String> = render.objects.iter().filter_map(|o| o.namespace().map(str::to_string)).collect();
    render.namespaces_elsewhere.extend(used);
    // The ingress controller `kdeck up` installs (or the provider has) brings its class.
    if let Some(controller) = def.config.cluster.ingress.filter(|c| *c != crate::project::stack::IngressController::None) {
        render.ingress_classes_elsewhere.insert(controller.name().to_string());
    }
    for secret in &def.config.secrets {
        render.secrets_elsewhere.insert((secret.namespace.clone().unwrap_or_else(|| "default".into()), secret.name.clone()));
    }
    Some(render)
}
