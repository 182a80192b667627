//! What simulated containers use: CPU and memory, as `metrics.k8s.io` and the
//! kubelet's summary report them. Declared with pod annotations, else a steady
//! fraction of what the container requests:
//!
//! | annotation (`sandbox.kdeck.dev/…`) | meaning |
//! |---|---|
//! | `cpu-usage: 350m` | each container's CPU (or per container: `app=350m,sidecar=5m`) |
//! | `memory-usage: 300Mi` | each container's memory at start (same forms) |
//! | `memory-growth: 20Mi` | memory grows by this much per minute of the container's life; with a memory limit, the container is killed for memory (`OOMKilled`, exit 137) when it gets there, and starts again from `memory-usage` |
//!
//! Undeclared, a container uses about 30 % of its CPU request and 60 % of its
//! memory request (of the limit when there is no request; 2m and 24Mi when neither
//! is set), with a little noise that changes every [`RESOLUTION`], as metrics-server's
//! samples do. Only running containers use anything.

use std::time::Duration;

use serde_json::Value;

use crate::quantity;

/// How often a sample changes: metrics-server scrapes every 15 s.
pub const RESOLUTION: Duration = Duration::from_secs(15);

const PREFIX: &str = "sandbox.kdeck.dev/";

/// One container's usage: CPU in cores, memory in bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Usage {
    pub cpu: f64,
    pub memory: f64,
}

impl Usage {
    pub const ZERO: Usage = Usage { cpu: 0.0, memory: 0.0 };

    /// `{"cpu": "…n", "memory": "…Ki"}` as metrics-server writes them.
    pub fn to_json(self) -> Value {
        serde_json::json!({"cpu": format!("{}n", (self.cpu * 1e9).round() as u64), "memory": format!("{}Ki", (self.memory / 1024.0).round() as u64)})
    }
}

impl std::ops::Add for Usage {
    type Output = Usage;

    fn add(self, other: Usage) -> Usage {
        Usage { cpu: self.cpu + other.cpu, memory: self.memory + other.memory }
    }
}

/// The value of a usage annotation for one container: `350m` for every container,
/// or `app=350m,sidecar=5m` (containers not named use the default).
fn declared(pod: &Value, name: &str, container: &str) -> Option<f64> {
    let text = pod["metadata"]["annotations"][format!("{PREFIX}{name}")].as_str()?;
    super::behaviour::for_container(text, container).and_then(quantity::parse).filter(|q| q.is_finite() && *q >= 0.0)
}

fn resource(container: &Value, kind: &str, name: &str) -> Option<f64> {
    container["resources"][kind][name]
        .as_str()
        .map(str::to_string)
        .or_else(|| container["resources"][kind][name].as_f64().map(|n| n.to_string()))
        .and_then(|q| quantity::parse(&q))
}

/// The memory limit of a container, in bytes.
pub fn memory_limit(container: &Value) -> Option<f64> {
    resource(container, "limits", "memory")
}

/// How long a container whose memory grows as declared runs before it reaches its
/// limit: the pod's `OOMKilled` after that long. `None` without growth or limit.
pub fn oom_after(pod: &Value) -> Option<Duration> {
    pod["spec"]["containers"]
        .as_array()?
        .iter()
        .filter_map(|c| {
            let name = c["name"].as_str().unwrap_or_default();
            let growth = declared(pod, "memory-growth", name).filter(|g| *g > 0.0)?;
            let room = memory_limit(c)? - start_memory(pod, c);
            Some(Duration::from_secs_f64((room.max(0.0) / growth * 60.0).min(1e9)))
        })
        .min()
}

fn start_memory(pod: &Value, container: &Value) -> f64 {
    let name = container["name"].as_str().unwrap_or_default();
    declared(pod, "memory-usage", name)
        .unwrap_or_else(|| resource(container, "requests", "memory").or_else(|| memory_limit(container)).map_or(24.0 * 1024.0 * 1024.0, |m| m * 0.6))
}

/// A container's usage `running_for` after it started, at sample `sample` (the
/// number of [`RESOLUTION`]s since the epoch: the noise changes with it).
pub fn of_container(pod: &Value, container: &Value, running_for: Duration, sample: u64) -> Usage {
    let name = container["name"].as_str().unwrap_or_default();
    let seed = format!("{}/{name}/{sample}", pod["metadata"]["uid"].as_str().unwrap_or_default());
    let cpu = declared(pod, "cpu-usage", name).unwrap_or_else(|| {
        let base = resource(container, "requests", "cpu").or_else(|| resource(container, "limits", "cpu")).map_or(0.002, |c| c * 0.3);
        base * (1.0 + 0.1 * noise(&seed, 1))
    });
    let mut memory = start_memory(pod, container);
    if let Some(growth) = declared(pod, "memory-growth", name) {
        memory += growth * running_for.as_secs_f64() / 60.0;
        if let Some(limit) = memory_limit(container) {
            memory = memory.min(limit);
        }
    } else if declared(pod, "memory-usage", name).is_none() {
        memory *= 1.0 + 0.03 * noise(&seed, 2);
    }
    Usage { cpu: cpu.max(0.0), memory: memory.max(0.0) }
}

/// The sample number now.
pub fn sample_now(unix_secs: i64) -> u64 {
    u64::try_from(unix_secs).unwrap_or(0) / RESOLUTION.as_secs()
}

/// A number in [-1, 1) from the seed: the same within one sample, different across.
fn noise(seed: &str, salt: u64) -> f64 {
    // FNV-1a: stable across runs and platforms, which a std hasher is not.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ salt;
    for byte in seed.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(annotations: Value) -> Value {
        json!({
            "metadata": {"uid": "u1", "annotations": annotations},
            "spec": {"containers": [
                {"name": "app", "resources": {"requests": {"cpu": "200m", "memory": "100Mi"}, "limits": {"memory": "200Mi"}}},
                {"name": "sidecar"}
            ]}
        })
    }

    #[test]
    fn declared_usage_is_exact_and_may_name_containers() {
        let p = pod(json!({"sandbox.kdeck.dev/cpu-usage": "app=350m,sidecar=5m", "sandbox.kdeck.dev/memory-usage": "64Mi"}));
        let app = of_container(&p, &p["spec"]["containers"][0], Duration::ZERO, 7);
        let sidecar = of_container(&p, &p["spec"]["containers"][1], Duration::ZERO, 7);
        assert_eq!(app.to_json(), json!({"cpu": "350000000n", "memory": "65536Ki"}));
        assert_eq!(sidecar.to_json(), json!({"cpu": "5000000n", "memory": "65536Ki"}));
    }

    #[test]
    fn undeclared_usage_is_a_noisy_fraction_of_the_requests_steady_within_a_sample() {
        let p = pod(json!({}));
        let app = &p["spec"]["containers"][0];
        let a = of_container(&p, app, Duration::ZERO, 1);
        assert_eq!(a, of_container(&p, app, Duration::from_secs(5), 1), "the same within one sample");
        let samples: Vec<Usage> = (0..50).map(|s| of_container(&p, app, Duration::ZERO, s)).collect();
        assert!(samples.iter().all(|u| (0.054..=0.066).contains(&u.cpu)), "30 % of 200m, ±10 %");
        assert!(samples.iter().any(|u| u.cpu != a.cpu), "and it moves between samples");
        let mib = 1024.0 * 1024.0;
        assert!(samples.iter().all(|u| (58.0 * mib..=62.0 * mib).contains(&u.memory)), "60 % of 100Mi, ±3 %");
        let sidecar = of_container(&p, &p["spec"]["containers"][1], Duration::ZERO, 1);
        assert!(sidecar.cpu < 0.003 && (sidecar.memory - 24.0 * mib).abs() < mib, "{sidecar:?}");
    }

    #[test]
    fn memory_grows_as_declared_up_to_the_limit_which_is_the_oom() {
        let p = pod(json!({"sandbox.kdeck.dev/memory-usage": "app=100Mi", "sandbox.kdeck.dev/memory-growth": "app=20Mi"}));
        let app = &p["spec"]["containers"][0];
        let mib = 1024.0 * 1024.0;
        assert_eq!(of_container(&p, app, Duration::from_secs(90), 0).memory, 130.0 * mib);
        assert_eq!(of_container(&p, app, Duration::from_secs(3600), 0).memory, 200.0 * mib, "never above the limit");
        assert_eq!(oom_after(&p), Some(Duration::from_secs(300)), "100Mi of room at 20Mi a minute");
        assert_eq!(oom_after(&pod(json!({}))), None);
    }
}
