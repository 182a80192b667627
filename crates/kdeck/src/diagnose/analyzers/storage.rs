//! Claims that stay Pending: a StorageClass that does not exist, no class and no
//! default, a provisioner that does not answer — and the pods waiting on them. A
//! claim waiting for its first consumer is fine.

use serde_json::Value;

use crate::diagnose::chain;
use crate::diagnose::problem::{Evidence, Problem, Severity};
use crate::diagnose::scene::{Scene, name, namespace, reference};

pub fn analyze(scene: &Scene) -> Vec<Problem> {
    scene.all("", "PersistentVolumeClaim").filter_map(|pvc| pending(scene, pvc)).collect()
}

fn pending(scene: &Scene, pvc: &Value) -> Option<Problem> {
    if pvc["status"]["phase"] != "Pending" || !pvc["spec"]["volumeName"].as_str().unwrap_or_default().is_empty() {
        return None;
    }
    let ns = namespace(pvc);
    let claim = reference(pvc);
    let classes: Vec<&Value> = scene.objects.list("storage.k8s.io", "StorageClass", "").collect();
    let classes_readable = !scene.unreadable.iter().any(|u| u.starts_with("StorageClass"));
    let asked = pvc["spec"]["storageClassName"].as_str();
    let default = classes.iter().find(|c| c["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true");
    let class = match asked {
        Some("") => None,
        Some(asked) => classes.iter().find(|c| name(c) == asked).copied(),
        None => default.copied(),
    };
    let consumers: Vec<&Value> = scene
        .in_namespace("", "Pod", ns)
        .filter(|p| p["spec"]["volumes"].as_array().into_iter().flatten().any(|v| v["persistentVolumeClaim"]["claimName"].as_str() == Some(name(pvc))))
        .collect();
    let event = scene.event_text(pvc, &["ProvisioningFailed", "FailedBinding", "ExternalProvisioning"]);
    let why = match (asked, class) {
        (Some(""), _) => "it asks for no StorageClass (\"\"), so only a pre-made PersistentVolume can bind it, and none matches".to_string(),
        (Some(asked), None) if classes_readable => format!("its StorageClass {asked:?} does not exist"),
        (None, None) if classes_readable => "it names no StorageClass and the cluster has no default one".to_string(),
        (_, Some(class)) if class["volumeBindingMode"] == "WaitForFirstConsumer" => {
            if consumers.is_empty() {
                return None; // Bound once a pod uses it: by design.
            }
            event.clone().map(|e| format!("provisioning failed: {e}"))?
        }
        (_, Some(class)) => match &event {
            Some(e) if e.starts_with("ProvisioningFailed") => format!("StorageClass {} failed to provision it: {e}", name(class)),
            // Binding takes a moment; without an event it is not (yet) a problem.
            _ => return None,
        },
        _ => return None,
    };
    let known: Vec<&str> = classes.iter().map(|c| name(c)).collect();
    let mut problem = Problem::new(Severity::Error, ns, "pvc-pending", claim.clone(), format!("PersistentVolumeClaim {} stays Pending: {why}", name(pvc)))
        .evidence(Evidence::new("field", claim.clone(), format!("storageClassName: {}", asked.unwrap_or("(none)"))))
        .evidence(Evidence::new(
            "field",
            "cluster",
            format!(
                "StorageClasses: {}{}",
                if known.is_empty() { "none".to_string() } else { known.join(", ") },
                default.map(|d| format!(" (default {})", name(d))).unwrap_or_default()
            ),
        ))
        .fix(match known.first() {
            Some(first) => format!("use an existing StorageClass ({first}…): the class of a claim cannot change, so recreate {claim} with it"),
            None => "install a provisioner with a StorageClass (local-path-provisioner on a local cluster)".to_string(),
        });
    if let Some(event) = event {
        problem = problem.evidence(Evidence::new("event", claim.clone(), event));
    }
    for pod in &consumers {
        problem = problem.affects(reference(scene.workload_of(pod))).affects(chain::pod_ref(pod));
    }
    if let Some(pod) = consumers.first() {
        problem.chain = chain::above_pod(scene, pod);
    }
    Some(problem.link(claim, "Pending"))
}
