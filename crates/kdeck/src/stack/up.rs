//! `kdeck up`: the cluster (created or reused), the images (built, loaded), the
//! dev secrets, every deploy step rendered, applied and waited for in order, what
//! left the stack pruned, and a report: each resource's state (or the exact reason
//! it is not ready), the addresses, the timings. `--dry-run` plans the same and changes nothing.

use std::collections::BTreeSet;
use std::time::Duration;

use kube::api::ApiResource;
use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

use super::apply::{self, ApplySet, Change, Inventory, Kinds};
use super::helm::{self, HelmChange};
use super::images::{self, ImageOptions, ImageReport};
use super::ingress::{self, IngressReport};
use super::provider::{self, Target};
use super::wait::{self, Judged, Waited};
use super::{StackDef, rollout, secrets};
use crate::cluster::Cluster;
use crate::error::{Error, ExitCode, Result};
use crate::render::{self, RenderedStep};

#[derive(Clone, Debug)]
pub struct UpOptions {
    pub dry_run: bool,
    pub timeout: Duration,
    pub force_conflicts: bool,
    pub rollout_on_config: bool,
    /// Build no image (`--skip-build`); images already built are still loaded.
    pub skip_build: bool,
    /// One line per resource as its state changes (stderr).
    pub progress: bool,
    /// verify: run the stack's checks (stack.verify) once it is ready (`--no-verify`: not).
    pub verify: bool,
}

/// What `up` did (or, dry, would do): the JSON document of `-o json`.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpReport {
    pub stack: String,
    pub provider: String,
    pub cluster: String,
    pub context: String,
    pub dry_run: bool,
    /// created, started, already running (dry: what would be done).
    pub cluster_action: String,
    pub ingress: Option<String>,
    /// The ingress controller installed before the steps (ingress-nginx on kind and k3d).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingress_controller: Option<IngressReport>,
    pub images: Vec<ImageReport>,
    pub secrets: Vec<Planned>,
    pub steps: Vec<StepReport>,
    pub pruned: Vec<Planned>,
    pub resources: Vec<Judged>,
    pub seconds: Phases,
    /// verify: the checks of stack.verify run once the stack was ready.
    pub checks: Vec<super::verify::CheckResult>,
    /// ready, failed, timedOut, planned.
    pub result: String,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepReport {
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub helm: Option<HelmChange>,
    pub objects: Vec<Planned>,
}

/// One object and the change it gets.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Planned {
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    pub change: String,
}

impl Planned {
    pub fn of_value(object: &Value, change: &str) -> Planned {
        Planned::of(object, change)
    }

    fn of(object: &Value, change: &str) -> Planned {
        Planned {
            kind: object["kind"].as_str().unwrap_or_default().to_string(),
            namespace: object["metadata"]["namespace"].as_str().map(str::to_string),
            name: object["metadata"]["name"].as_str().unwrap_or_default().to_string(),
            change: change.to_string(),
        }
    }
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Phases {
    pub cluster: f64,
    pub images: f64,
    pub render: f64,
    pub apply: f64,
    pub wait: f64,
    pub total: f64,
}

/// Runs `up`. The report is returned on success and on failure of resources (with
/// the error), so the caller prints it either way.
pub async fn up(def: &StackDef, options: &UpOptions) -> (UpReport, Result<()>) {
    let mut report = UpReport { stack: def.name.clone(), dry_run: options.dry_run, ..Default::default() };
    let result = run(def, options, &mut report).await;
    (report, result)
}

/// Where `up` is, for a Ctrl-C to say where it stopped.
static WHERE: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());

fn at(place: impl Into<String>) {
    if let Ok(mut here) = WHERE.lock() {
        *here = place.into();
    }
}

/// What `up` was doing last (`applying step 2/3 kustomize k8s`).
pub fn where_now() -> String {
    WHERE.lock().map(|w| w.clone()).unwrap_or_default()
}

fn say(options: &UpOptions, text: &str) {
    if options.progress {
        eprintln!("{text}");
    }
}

async fn run(def: &StackDef, options: &UpOptions, report: &mut UpReport) -> Result<()> {
    let started = Instant::now();
    let deadline = started + options.timeout;
    let mut target: Target = provider::target(&def.config.cluster, &def.name).await?;
    report.provider = target.provider.name().to_string();
    report.cluster = target.name.clone();
    report.context = target.context.clone();
    // The ingress controller the provider gets (one it cannot have is refused here).
    let ingress_install = ingress::plan(&def.config.cluster, target.provider, &def.root)?;

    // Render first: a stack that does not render touches no cluster.
    at("rendering the deploy steps (nothing was changed)");
    let phase = Instant::now();
    let mut steps = render::render(&def.root, &def.config)?;
    let secret_objects = secrets::objects(&def.root, &target.name, &def.config.secrets)?;
    if options.rollout_on_config {
        let mut flat: Vec<Value> = steps.iter().filter(|s| s.helm.is_none()).flat_map(|s| s.manifests.iter().map(|m| m.object.clone())).collect();
        rollout::annotate(&mut flat, &secret_objects);
        let mut flat = flat.into_iter();
        for step in steps.iter_mut().filter(|s| s.helm.is_none()) {
            for manifest in &mut step.manifests {
                if let Some(object) = flat.next() {
                    manifest.object = object;
                }
            }
        }
    }
    report.seconds.render = phase.elapsed().as_secs_f64();
    // verify: the checks are validated with the rest of the configuration, before any change.
    let checks = if options.verify { super::verify::plan::plan(def) } else { Vec::new() };
    super::verify::plan::refuse(&checks)?;
    // The ingress controller's manifest (downloaded and verified before anything is
    // created: a failed download leaves nothing behind) is the first step.
    if let Some(install) = &ingress_install {
        at(format!("reading {}'s manifest (nothing was changed)", install.title));
        let fetched = ingress::fetch(install, options.dry_run).await?;
        let said = ingress::report(install, fetched.as_ref());
        say(options, &format!("ingress: {}: {} ({})", said.controller, said.action, said.source));
        report.ingress_controller = Some(said);
        if let Some(fetched) = &fetched {
            steps.insert(0, ingress::step(install, fetched)?);
        }
    }

    let phase = Instant::now();
    let exists = if options.dry_run {
        let exists = crate::cluster::Cluster::connect(Some(&target.context)).await.is_ok()
            && (target.provider != crate::project::stack::Provider::Sandbox || crate::sandboxes::load(&target.name)?.is_some_and(|r| r.is_running()));
        report.cluster_action = if exists { "already running".into() } else { "would be created or started".into() };
        exists
    } else {
        at(format!("bringing up {} {:?} (nothing applied yet)", target.provider.name(), target.name));
        let ensured = provider::ensure(def, &mut target).await?;
        report.cluster_action = ensured.text().to_string();
        say(options, &format!("cluster: {} {:?} (context {}): {}", target.provider.name(), target.name, target.context, ensured.text()));
        true
    };
    report.seconds.cluster = phase.elapsed().as_secs_f64();

    // Images (stack.images): built with docker and loaded into the cluster; dry: listed.
    let phase = Instant::now();
    let image_options = ImageOptions { dry_run: options.dry_run, skip_build: options.skip_build, progress: options.progress };
    report.images = images::build_and_load(def, &target, image_options)?;
    report.seconds.images = phase.elapsed().as_secs_f64();

    if !exists {
        // Nothing to compare with: everything is created.
        report.secrets = secret_objects.iter().map(|o| Planned::of(o, "create")).collect();
        report.steps = steps
            .iter()
            .map(|s| StepReport {
                title: s.title.clone(),
                helm: s.helm.as_ref().map(|_| HelmChange::Install),
                objects: s.manifests.iter().map(|m| Planned::of(&m.object, "create")).collect(),
            })
            .collect();
        report.result = "planned".into();
        return Ok(());
    }
    report.ingress = target.ingress.clone();
    let cluster = Cluster::connect(Some(&target.context)).await?;
    cluster.set_deadline(options.timeout);
    if ingress_install.is_some() {
        ingress::refuse_conflicts(&cluster, target.provider).await?;
    }

    let mut kinds = Kinds::default();
    let set = ApplySet::of(&def.name);
    let parent = apply::read_parent(&cluster, &set).await?;
    let previous = apply::inventory_of(parent.as_ref());

    // Dev secrets: created when missing, never overwritten (a value in use stays).
    for object in &secret_objects {
        let change = if options.dry_run {
            let mut probe = object.clone();
            let api = kinds.api_for(&cluster, &mut probe).await?;
            if api.get_opt(object["metadata"]["name"].as_str().unwrap_or_default()).await.map_err(|e| cluster.error("reading a dev secret", e))?.is_some() {
                "exists"
            } else {
                "create"
            }
        } else {
            ensure_namespace(&cluster, &mut kinds, object, options).await?;
            if apply::create_if_missing(&cluster, &mut kinds, object.clone()).await? { "created" } else { "exists" }
        };
        report.secrets.push(Planned::of(object, change));
    }
    if !report.secrets.is_empty() {
        let created = report.secrets.iter().filter(|s| s.change.starts_with("create")).count();
        say(options, &format!("secrets: {created} created, {} already there", report.secrets.len() - created));
    }

    // The inventory is recorded before members are written (a superset), so an
    // interrupted `up` still knows what to prune or remove.
    let mut current = Inventory::default();
    for step in &steps {
        match &step.helm {
            Some(release) => {
                current.helm_releases.insert(format!("{}/{}", release.namespace, release.release));
            }
            None => {
                for m in &step.manifests {
                    current.group_kinds.insert(apply::group_kind(&m.object));
                    if let Some(ns) = m.namespace() {
                        current.namespaces.insert(ns.to_string());
                    }
                }
            }
        }
    }
    if !options.dry_run {
        apply::write_parent(&cluster, &set, &previous.union(&current)).await?;
    }

    let mut applied: BTreeSet<(String, String, String)> = BTreeSet::new();
    let total = steps.len();
    for (index, step) in steps.iter().enumerate() {
        at(format!("applying step {}/{total} {} (the steps before it are applied)", index + 1, step.title));
        let phase = Instant::now();
        let before = applied.len();
        let (step_report, targets) = match apply_step(&cluster, &mut kinds, &set, step, &target, options, &mut applied).await {
            Ok(done) => done,
            Err(e) => {
                report.result = "failed".into();
                let done = if index == 0 { "no step before it".to_string() } else { format!("steps 1-{index} are applied and ready") };
                let here = applied.len() - before;
                return Err(e.hint(format!(
                    "{done}; step {}/{total} stopped after {here} of its {} object(s); the steps after it were not applied{}",
                    index + 1,
                    step.manifests.len(),
                    if options.dry_run { " (dry run: nothing was changed)" } else { "" }
                )));
            }
        };
        say(options, &format!("step {}/{total} {}: {}", index + 1, step.title, summary(&step_report)));
        report.steps.push(step_report);
        report.seconds.apply += phase.elapsed().as_secs_f64();
        if options.dry_run || !step.wait || targets.is_empty() {
            continue;
        }
        at(format!("waiting for step {}/{total} {} (it is applied)", index + 1, step.title));
        let phase = Instant::now();
        let waited = wait::until_ready(&cluster, &targets, deadline, options.progress).await;
        report.seconds.wait += phase.elapsed().as_secs_f64();
        let outcome = judge_outcome(&waited, &step.title);
        report.resources.extend(waited.objects);
        if let Err(e) = outcome {
            report.result = if e.code == ExitCode::Timeout { "timedOut".into() } else { "failed".into() };
            report.seconds.total = started.elapsed().as_secs_f64();
            return Err(e);
        }
    }

    // Prune what left the rendered set (only kdeck's own members; Helm's are Helm's).
    at("pruning what left the stack (every step is applied and ready)");
    let members = apply::members(&cluster, &mut kinds, &set, &previous.union(&current)).await?;
    for member in members {
        if applied.contains(&apply::identity(&member)) || member["metadata"]["deletionTimestamp"].is_string() {
            continue;
        }
        if options.dry_run {
            report.pruned.push(Planned::of(&member, Change::Prune.text()));
        } else {
            let said = apply::delete_member(&cluster, &mut kinds, &member).await?;
            say(options, &format!("pruned: {said}"));
            report.pruned.push(Planned::of(&member, "pruned"));
        }
    }
    for release in previous.helm_releases.difference(&current.helm_releases) {
        if options.dry_run {
            report.pruned.push(Planned { kind: "HelmRelease".into(), namespace: None, name: release.clone(), change: "uninstall".into() });
        } else {
            helm::uninstall(release, &target.context)?;
            report.pruned.push(Planned { kind: "HelmRelease".into(), namespace: None, name: release.clone(), change: "uninstalled".into() });
        }
    }
    if !options.dry_run {
        apply::write_parent(&cluster, &set, &current).await?;
    }
    // verify: begin — the checks, once everything is ready.
    if !options.dry_run && !checks.is_empty() {
        at("running the stack's checks (everything is applied and ready)");
        let env = super::verify::Env::new(&cluster, target.ingress.clone(), target.provider.name()).await?;
        report.checks = super::verify::run(&env, checks, super::verify::plan::DEFAULT_TIMEOUT).await;
        let failed: Vec<String> = report.checks.iter().filter(|c| !c.ok).map(|c| format!("{:?}", c.name)).collect();
        if !failed.is_empty() {
            report.result = "failed".into();
            report.seconds.total = started.elapsed().as_secs_f64();
            return Err(Error::failure(format!("the stack is up, but {} of {} check(s) failed: {}", failed.len(), report.checks.len(), failed.join(", ")))
                .hint("each FAIL line says what was expected and what was seen; `kdeck verify` runs them again"));
        }
    }
    // verify: end
    report.result = if options.dry_run { "planned".into() } else { "ready".into() };
    report.seconds.total = started.elapsed().as_secs_f64();
    Ok(())
}

/// `3 objects: 1 create, 2 unchanged` / `helm upgrade, 4 objects`.
fn summary(step: &StepReport) -> String {
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for o in &step.objects {
        *counts.entry(o.change.as_str()).or_default() += 1;
    }
    let counts = counts.iter().map(|(k, n)| format!("{n} {k}")).collect::<Vec<_>>().join(", ");
    match step.helm {
        Some(change) => format!("helm {}, {} objects", change.text(), step.objects.len()),
        None => format!("{} objects ({counts})", step.objects.len()),
    }
}

/// The step's outcome: Ok when all ready; else an error naming every failing and pending resource.
fn judge_outcome(waited: &Waited, title: &str) -> Result<()> {
    if waited.all_ready() {
        return Ok(());
    }
    let failed: Vec<&Judged> = waited.failed().collect();
    let pending: Vec<&Judged> = waited.pending().collect();
    let lines = |list: &[&Judged]| list.iter().map(|j| format!("  {}: {}", j.describe(), wait::verdict_text(&j.verdict))).collect::<Vec<_>>().join("\n");
    if !failed.is_empty() {
        let mut message = format!("{title}: {} resource(s) failed:\n{}", failed.len(), lines(&failed));
        if !pending.is_empty() {
            message.push_str(&format!("\nstill pending:\n{}", lines(&pending)));
        }
        return Err(Error::failure(message).hint("fix the cause and run `kdeck up` again (what is already applied stays)"));
    }
    Err(Error::new(ExitCode::Timeout, format!("{title}: timed out with {} resource(s) not ready:\n{}", pending.len(), lines(&pending)))
        .hint("`kdeck status` shows where they are; a longer --timeout if they are only slow"))
}

/// Applies one step (or installs its Helm release) and returns the objects to wait on.
async fn apply_step(
    cluster: &Cluster,
    kinds: &mut Kinds,
    set: &ApplySet,
    step: &RenderedStep,
    target: &Target,
    options: &UpOptions,
    applied: &mut BTreeSet<(String, String, String)>,
) -> Result<(StepReport, Vec<(Value, ApiResource, bool)>)> {
    let mut report = StepReport { title: step.title.clone(), ..Default::default() };
    let mut targets = Vec::new();
    if let Some(release) = &step.helm {
        let rendered = render::tools::helm_template(release)?;
        let change = helm::plan(release, &target.context, &rendered)?;
        report.helm = Some(change);
        if !options.dry_run && change != HelmChange::Unchanged {
            helm::install(release, &target.context)?;
        }
        for manifest in &step.manifests {
            let mut object = manifest.object.clone();
            let kind = kinds.of(cluster, object["apiVersion"].as_str().unwrap_or_default(), manifest.kind()).await?;
            if !kind.namespaced
                && let Some(meta) = object["metadata"].as_object_mut()
            {
                meta.remove("namespace");
            }
            report.objects.push(Planned::of(&object, &format!("helm {}", change.text())));
            targets.push((object, kind.resource, kind.namespaced));
        }
        return Ok((report, targets));
    }
    // Namespaces and CRDs first; CRDs established before anything of their kinds.
    let rank = |m: &&crate::render::Manifest| match m.kind() {
        "Namespace" => 0,
        "CustomResourceDefinition" => 1,
        _ => 2,
    };
    let mut ordered: Vec<&crate::render::Manifest> = step.manifests.iter().collect();
    ordered.sort_by_key(rank);
    let mut crds = Vec::new();
    for manifest in ordered {
        if rank(&manifest) == 2 && !crds.is_empty() && !options.dry_run {
            let waited = wait::until_ready(cluster, &std::mem::take(&mut crds), Instant::now() + Duration::from_secs(60), options.progress).await;
            judge_outcome(&waited, &step.title)?;
        }
        if !options.dry_run {
            ensure_namespace(cluster, kinds, &manifest.object, options).await?;
        }
        let (change, live) = match apply::apply(cluster, kinds, set, manifest.object.clone(), options.dry_run, options.force_conflicts).await {
            Ok(done) => done,
            // A dry run against a namespace that `up` would create: it would be created.
            Err(e) if options.dry_run && e.code == ExitCode::NotFound => (Change::Create, manifest.object.clone()),
            Err(e) => return Err(e.hint(format!("from {}", manifest.source))),
        };
        report.objects.push(Planned::of(&live, change.text()));
        applied.insert(apply::identity(&live));
        let kind = kinds.of(cluster, live["apiVersion"].as_str().unwrap_or_default(), live["kind"].as_str().unwrap_or_default()).await?;
        if manifest.kind() == "CustomResourceDefinition" {
            crds.push((live.clone(), kind.resource.clone(), kind.namespaced));
        }
        targets.push((live, kind.resource, kind.namespaced));
    }
    Ok((report, targets))
}

/// Creates the namespace of `object` when it does not exist (`kubectl apply` would
/// fail on it); a namespace the stack declares itself is applied as any object.
async fn ensure_namespace(cluster: &Cluster, kinds: &mut Kinds, object: &Value, options: &UpOptions) -> Result<()> {
    let Some(ns) = object["metadata"]["namespace"].as_str() else { return Ok(()) };
    if apply::ensure_namespace(cluster, kinds, ns).await? {
        say(options, &format!("created namespace {ns}"));
    }
    Ok(())
}
