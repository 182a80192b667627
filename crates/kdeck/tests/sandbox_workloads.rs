//! The sandbox's control plane, end to end: nodes, scheduling, the simulated
//! kubelet, ReplicaSets and Deployment rollouts, checked through kube-rs.

mod common;

use std::time::Duration;

use common::{TestSandbox, wait_pod};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

fn deployment(name: &str, replicas: i32, image: &str) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "main", "image": image}]}}}
    }))
    .unwrap()
}

/// Polls until `done` holds for the deployment, or fails after 20 s.
async fn wait_for(api: &Api<Deployment>, name: &str, what: &str, done: impl Fn(&Deployment) -> bool) -> Deployment {
    for _ in 0..200 {
        let d = api.get(name).await.unwrap();
        if done(&d) {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("deployment {name} never reached: {what}; last: {:?}", api.get(name).await.unwrap().status);
}

/// Pods matching `selector` that are not terminating.
async fn live_pods(pods: &Api<Pod>, selector: &str) -> Vec<Pod> {
    pods.list(&ListParams::default().labels(selector)).await.unwrap().items.into_iter().filter(|p| p.metadata.deletion_timestamp.is_none()).collect()
}

/// What `kubectl rollout status` checks.
fn rolled_out(d: &Deployment) -> bool {
    let (spec, status) = (d.spec.as_ref().unwrap(), d.status.clone().unwrap_or_default());
    let want = spec.replicas.unwrap_or(1);
    status.observed_generation >= d.metadata.generation
        && status.updated_replicas == Some(want)
        && status.replicas == Some(want)
        && status.available_replicas == Some(want)
}

#[tokio::test]
async fn a_deployment_rolls_out_and_rolls_over_to_a_new_template() {
    let sandbox = TestSandbox::start("rollout");
    let client = sandbox.client().await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    deployments.create(&PostParams::default(), &deployment("web", 3, "nginx:1.27")).await.unwrap();
    let d = wait_for(&deployments, "web", "rolled out", rolled_out).await;
    let conditions = d.status.unwrap().conditions.unwrap();
    assert!(conditions.iter().any(|c| c.type_ == "Available" && c.status == "True"));
    assert!(conditions.iter().any(|c| c.type_ == "Progressing" && c.reason.as_deref() == Some("NewReplicaSetAvailable")));

    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let running = pods.list(&ListParams::default().labels("app=web")).await.unwrap().items;
    assert_eq!(running.len(), 3);
    for pod in &running {
        let status = pod.status.as_ref().unwrap();
        assert_eq!(status.phase.as_deref(), Some("Running"));
        assert!(status.pod_ip.as_deref().unwrap().starts_with("10.244."));
        assert!(status.container_statuses.as_ref().unwrap()[0].ready);
        assert!(pod.spec.as_ref().unwrap().node_name.is_some());
        assert!(pod.metadata.labels.as_ref().unwrap().contains_key("pod-template-hash"));
    }

    deployments
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:1.28"}]}}}})),
        )
        .await
        .unwrap();
    wait_for(&deployments, "web", "rolled over", |d| rolled_out(d) && d.metadata.generation == Some(2)).await;
    let sets = Api::<ReplicaSet>::namespaced(client.clone(), "default").list(&ListParams::default().labels("app=web")).await.unwrap().items;
    let replicas: Vec<(String, i32)> = sets
        .iter()
        .map(|rs| {
            (
                rs.spec.as_ref().unwrap().template.as_ref().unwrap().spec.as_ref().unwrap().containers[0].image.clone().unwrap(),
                rs.spec.as_ref().unwrap().replicas.unwrap(),
            )
        })
        .collect();
    assert!(replicas.contains(&("nginx:1.28".into(), 3)) && replicas.contains(&("nginx:1.27".into(), 0)), "{replicas:?}");
    // Old pods may still be terminating, as on a real cluster: count the live ones.
    let images: Vec<String> = live_pods(&pods, "app=web").await.iter().map(|p| p.spec.as_ref().unwrap().containers[0].image.clone().unwrap()).collect();
    assert_eq!(images, ["nginx:1.28"; 3]);

    // Scaling through the scale subresource, as `kubectl scale` does.
    deployments.patch_scale("web", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 1}}))).await.unwrap();
    wait_for(&deployments, "web", "scaled to 1", rolled_out).await;
    assert_eq!(live_pods(&pods, "app=web").await.len(), 1);

    let events: Api<Event> = Api::namespaced(client, "default");
    let reasons: Vec<String> = events.list(&ListParams::default()).await.unwrap().items.into_iter().filter_map(|e| e.reason).collect();
    for reason in ["ScalingReplicaSet", "SuccessfulCreate", "Scheduled", "Pulled", "Created", "Started"] {
        assert!(reasons.iter().any(|r| r == reason), "no {reason} event in {reasons:?}");
    }
}

#[tokio::test]
async fn pods_spread_over_nodes_and_unschedulable_pods_say_why() {
    let sandbox = TestSandbox::new("sched");
    let out = sandbox.run(&["sandbox", "start", "--detach", "--name", "sched", "--nodes", "3"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let client = sandbox.client().await;
    let nodes = Api::<Node>::all(client.clone()).list(&ListParams::default()).await.unwrap().items;
    assert_eq!(nodes.len(), 3);
    assert!(nodes.iter().all(|n| n.status.as_ref().unwrap().conditions.as_ref().unwrap().iter().any(|c| c.type_ == "Ready" && c.status == "True")));

    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    deployments.create(&PostParams::default(), &deployment("spread", 6, "redis:7")).await.unwrap();
    wait_for(&deployments, "spread", "rolled out", rolled_out).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let mut used: Vec<String> =
        pods.list(&ListParams::default().labels("app=spread")).await.unwrap().items.into_iter().map(|p| p.spec.unwrap().node_name.unwrap()).collect();
    used.sort();
    used.dedup();
    assert_eq!(used.len(), 3, "pods spread over all nodes: {used:?}");

    let greedy: Pod = serde_json::from_value(json!({"metadata": {"name": "greedy"},
        "spec": {"containers": [{"name": "c", "image": "busybox", "resources": {"requests": {"cpu": "64"}}}]}}))
    .unwrap();
    pods.create(&PostParams::default(), &greedy).await.unwrap();
    let picky: Pod = serde_json::from_value(json!({"metadata": {"name": "picky"},
        "spec": {"nodeSelector": {"disk": "ssd"}, "containers": [{"name": "c", "image": "busybox"}]}}))
    .unwrap();
    pods.create(&PostParams::default(), &picky).await.unwrap();
    for (name, why) in [("greedy", "Insufficient cpu"), ("picky", "didn't match Pod's node affinity/selector")] {
        let mut message = String::new();
        for _ in 0..50 {
            let pod = pods.get(name).await.unwrap();
            let scheduled = pod.status.and_then(|s| s.conditions).unwrap_or_default().into_iter().find(|c| c.type_ == "PodScheduled");
            if let Some(c) = scheduled.filter(|c| c.status == "False") {
                assert_eq!(c.reason.as_deref(), Some("Unschedulable"));
                message = c.message.unwrap_or_default();
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(message.starts_with("0/3 nodes are available:") && message.contains(why), "{name}: {message}");
        assert!(pods.get(name).await.unwrap().spec.unwrap().node_name.is_none());
    }
    let events: Api<Event> = Api::namespaced(client, "default");
    let failed = events.list(&ListParams::default().fields("involvedObject.name=picky,reason=FailedScheduling")).await.unwrap().items;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].type_.as_deref(), Some("Warning"));
}

#[tokio::test]
async fn services_get_endpoints_of_their_ready_pods() {
    use k8s_openapi::api::core::v1::{Endpoints, Service};
    use k8s_openapi::api::discovery::v1::EndpointSlice;
    let sandbox = TestSandbox::start("endpoints");
    let client = sandbox.client().await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let mut web = deployment("web", 2, "nginx:1.27");
    web.spec.as_mut().unwrap().template.spec.as_mut().unwrap().containers[0].ports =
        Some(vec![serde_json::from_value(json!({"name": "http", "containerPort": 8080})).unwrap()]);
    deployments.create(&PostParams::default(), &web).await.unwrap();
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    for (name, selector) in [("web", "web"), ("nothing", "no-such-app")] {
        let svc: Service =
            serde_json::from_value(json!({"metadata": {"name": name}, "spec": {"selector": {"app": selector}, "ports": [{"port": 80, "targetPort": "http"}]}}))
                .unwrap();
        services.create(&PostParams::default(), &svc).await.unwrap();
    }
    wait_for(&deployments, "web", "rolled out", rolled_out).await;
    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), "default");
    let mut ready = Vec::new();
    for _ in 0..50 {
        let ep = endpoints.get_opt("web").await.unwrap();
        ready = ep.and_then(|e| e.subsets).unwrap_or_default().into_iter().flat_map(|s| s.addresses.unwrap_or_default()).collect();
        if ready.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(ready.len(), 2, "both ready pods are endpoints");
    let subset = endpoints.get("web").await.unwrap().subsets.unwrap().remove(0);
    assert_eq!(subset.ports.unwrap()[0].port, 8080, "the named targetPort is resolved");
    assert!(ready.iter().all(|a| a.target_ref.as_ref().unwrap().kind.as_deref() == Some("Pod")));
    let nothing = endpoints.get("nothing").await.unwrap();
    assert!(nothing.subsets.is_none(), "a selector that matches nothing has no subsets at all, as on a real cluster");
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");
    let web_slices = slices.list(&ListParams::default().labels("kubernetes.io/service-name=web")).await.unwrap().items;
    assert_eq!(web_slices.len(), 1);
    assert_eq!(web_slices[0].endpoints.len(), 2);

    services.delete("web", &Default::default()).await.unwrap();
    for _ in 0..50 {
        if endpoints.get_opt("web").await.unwrap().is_none()
            && slices.list(&ListParams::default().labels("kubernetes.io/service-name=web")).await.unwrap().items.is_empty()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("endpoints of a deleted service were not removed");
}

#[tokio::test]
async fn pod_logs_are_served_and_followed() {
    use futures::{AsyncBufReadExt, StreamExt, TryStreamExt};
    use kube::api::LogParams;
    let sandbox = TestSandbox::start("logs");
    let pods: Api<Pod> = Api::namespaced(sandbox.client().await, "default");
    let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "chatty", "annotations": {"sandbox.kdeck.dev/log-rate": "20"}},
        "spec": {"containers": [{"name": "redis", "image": "redis:7.2"}]}}))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let mut log = String::new();
    for _ in 0..50 {
        // The start-up log is "written" over the container's first ~100 ms.
        match pods.logs("chatty", &LogParams::default()).await {
            Ok(text) if text.contains("Ready to accept connections") => {
                log = text;
                break;
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert!(log.contains("Redis version=7.2") && log.contains("Ready to accept connections"), "{log}");
    let tail = pods.logs("chatty", &LogParams { tail_lines: Some(2), ..Default::default() }).await.unwrap();
    assert_eq!(tail.lines().count(), 2);

    // Following delivers lines written after the request was made.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let before = pods.logs("chatty", &LogParams::default()).await.unwrap().lines().count();
    let stream = pods.log_stream("chatty", &LogParams { follow: true, ..Default::default() }).await.unwrap();
    let lines: Vec<String> =
        tokio::time::timeout(Duration::from_secs(10), stream.lines().take(before + 10).try_collect()).await.expect("new lines in time").unwrap();
    assert_eq!(lines.len(), before + 10);
    assert!(lines.last().unwrap().contains("request handled"));

    let missing = pods.logs("chatty", &LogParams { container: Some("nope".into()), ..Default::default() }).await;
    assert!(matches!(missing, Err(kube::Error::Api(s)) if s.code == 400 && s.message.contains("not valid for pod chatty")));
}

#[tokio::test]
async fn declared_failures_crash_loop_complete_and_oom_like_real_pods() {
    use kube::api::LogParams;
    let sandbox = TestSandbox::start("failures");
    let client = sandbox.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod = |name: &str, policy: &str, annotations: serde_json::Value| -> Pod {
        serde_json::from_value(json!({"metadata": {"name": name, "annotations": annotations},
            "spec": {"restartPolicy": policy, "containers": [{"name": "app", "image": "example/app:1"}]}}))
        .unwrap()
    };
    let crash = json!({"sandbox.kdeck.dev/run-seconds": "0.2", "sandbox.kdeck.dev/exit-code": "3", "sandbox.kdeck.dev/backoff-seconds": "0.5",
        "sandbox.kdeck.dev/crash-log": "fatal: cannot connect to the database"});
    pods.create(&PostParams::default(), &pod("crashy", "Always", crash)).await.unwrap();
    pods.create(&PostParams::default(), &pod("done", "Never", json!({}))).await.unwrap();
    pods.create(&PostParams::default(), &pod("failed", "Never", json!({"sandbox.kdeck.dev/exit-code": "1"}))).await.unwrap();
    pods.create(&PostParams::default(), &pod("oom", "Always", json!({"sandbox.kdeck.dev/oom-after-seconds": "0.2"}))).await.unwrap();

    let restarted = |p: &Pod| p.status.as_ref().and_then(|s| s.container_statuses.as_ref()).is_some_and(|c| c[0].restart_count >= 2);
    let crashy = wait_pod(&pods, "crashy", "two restarts", restarted).await;
    let status = &crashy.status.unwrap().container_statuses.unwrap()[0];
    let last = status.last_state.as_ref().unwrap().terminated.as_ref().unwrap();
    assert_eq!((last.exit_code, last.reason.as_deref()), (3, Some("Error")));
    let previous = pods.logs("crashy", &LogParams { previous: true, ..Default::default() }).await.unwrap();
    assert!(previous.trim_end().ends_with("fatal: cannot connect to the database"), "{previous}");

    let phase = |want: &'static str| move |p: &Pod| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some(want);
    let done = wait_pod(&pods, "done", "Succeeded", phase("Succeeded")).await;
    assert_eq!(done.status.unwrap().container_statuses.unwrap()[0].state.as_ref().unwrap().terminated.as_ref().unwrap().reason.as_deref(), Some("Completed"));
    let failed = wait_pod(&pods, "failed", "Failed", phase("Failed")).await;
    assert_eq!(failed.status.unwrap().container_statuses.unwrap()[0].state.as_ref().unwrap().terminated.as_ref().unwrap().exit_code, 1);
    let oom =
        wait_pod(&pods, "oom", "a restart", |p| p.status.as_ref().and_then(|s| s.container_statuses.as_ref()).is_some_and(|c| c[0].restart_count >= 1)).await;
    let last = oom.status.unwrap().container_statuses.unwrap()[0].last_state.clone().unwrap().terminated.unwrap();
    assert_eq!((last.exit_code, last.reason.as_deref()), (137, Some("OOMKilled")));

    let events: Api<Event> = Api::namespaced(client, "default");
    let backoffs = events.list(&ListParams::default().fields("involvedObject.name=crashy,reason=BackOff")).await.unwrap().items;
    assert_eq!(backoffs.len(), 1, "repeats count up on one event");
    assert!(backoffs[0].count.unwrap_or(0) >= 2);
}

#[tokio::test]
async fn jobs_complete_or_fail_after_their_backoff_limit() {
    use k8s_openapi::api::batch::v1::Job;
    let sandbox = TestSandbox::start("jobs");
    let client = sandbox.client().await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let job = |name: &str, completions: i32, exit_code: &str| -> Job {
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": {"completions": completions, "parallelism": 2, "backoffLimit": 1,
            "template": {"metadata": {"annotations": {"sandbox.kdeck.dev/run-seconds": "0.2", "sandbox.kdeck.dev/exit-code": exit_code, "sandbox.kdeck.dev/backoff-seconds": "0.2"}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "task", "image": "busybox"}]}}}}))
        .unwrap()
    };
    jobs.create(&PostParams::default(), &job("migrate", 3, "0")).await.unwrap();
    jobs.create(&PostParams::default(), &job("broken", 1, "1")).await.unwrap();
    let condition = |job: &Job, kind: &str| {
        job.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|c| c.iter().any(|c| c.type_ == kind && c.status == "True"))
    };
    let mut finished = (None, None);
    for _ in 0..100 {
        let (m, b) = (jobs.get("migrate").await.unwrap(), jobs.get("broken").await.unwrap());
        if condition(&m, "Complete") && condition(&b, "Failed") {
            finished = (Some(m), Some(b));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (migrate, broken) = (finished.0.expect("migrate completes"), finished.1.expect("broken fails"));
    assert_eq!(migrate.status.as_ref().unwrap().succeeded, Some(3));
    assert!(migrate.status.unwrap().completion_time.is_some());
    assert_eq!(broken.status.as_ref().unwrap().failed, Some(2), "backoffLimit 1 allows one retry");
    let selector = migrate.spec.unwrap().selector.unwrap().match_labels.unwrap();
    assert!(selector.contains_key("batch.kubernetes.io/controller-uid"), "the server generates the selector");
    let pods: Api<Pod> = Api::namespaced(client, "default");
    assert_eq!(pods.list(&ListParams::default().labels("job-name=migrate")).await.unwrap().items.len(), 3);
}

#[tokio::test]
async fn pods_and_jobs_past_their_active_deadline_fail_with_deadline_exceeded() {
    use k8s_openapi::api::batch::v1::Job;
    let sandbox = TestSandbox::start("deadlines");
    let client = sandbox.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let pod: Pod = serde_json::from_value(
        json!({"metadata": {"name": "bounded"}, "spec": {"activeDeadlineSeconds": 1, "containers": [{"name": "app", "image": "nginx"}]}}),
    )
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let job: Job = serde_json::from_value(json!({"metadata": {"name": "slow"}, "spec": {"activeDeadlineSeconds": 1, "backoffLimit": 3,
        "template": {"metadata": {"annotations": {"sandbox.kdeck.dev/run-seconds": "300"}}, "spec": {"restartPolicy": "Never", "containers": [{"name": "work", "image": "busybox"}]}}}}))
    .unwrap();
    jobs.create(&PostParams::default(), &job).await.unwrap();

    let failed = common::wait_object(&pods, "bounded", "Failed", |p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Failed")).await;
    let status = failed.status.unwrap();
    assert_eq!(status.reason.as_deref(), Some("DeadlineExceeded"));
    assert_eq!(status.message.as_deref(), Some("Pod was active on the node longer than the specified deadline"));
    let killed = status.container_statuses.unwrap()[0].state.clone().unwrap().terminated.expect("the container was killed");
    assert_eq!(killed.exit_code, 137);

    let condition = |job: &Job, kind: &str| {
        job.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == kind && c.status == "True"))
            .map(|c| (c.reason.clone().unwrap_or_default(), c.message.clone().unwrap_or_default()))
    };
    let slow = common::wait_object(&jobs, "slow", "Failed", |j| condition(j, "Failed").is_some()).await;
    let expected = ("DeadlineExceeded".to_string(), "Job was active longer than specified deadline".to_string());
    assert_eq!(condition(&slow, "FailureTarget"), Some(expected.clone()), "FailureTarget first, as since 1.31");
    assert_eq!(condition(&slow, "Failed"), Some(expected));
    assert_eq!(
        (slow.status.as_ref().unwrap().active, slow.status.as_ref().unwrap().failed),
        (Some(0), Some(1)),
        "its running pod stopped and counts as failed"
    );
    let events: Api<Event> = Api::namespaced(client, "default");
    let reasons: Vec<String> = events.list(&ListParams::default()).await.unwrap().items.into_iter().filter_map(|e| e.reason).collect();
    assert_eq!(reasons.iter().filter(|r| *r == "DeadlineExceeded").count(), 2, "{reasons:?}");
}

#[tokio::test]
async fn image_pull_config_and_mount_errors_block_pods_until_fixed() {
    use k8s_openapi::api::core::v1::{ConfigMap, Secret};
    let sandbox = TestSandbox::start("preflight");
    let client = sandbox.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let create = |manifest: serde_json::Value| serde_json::from_value::<Pod>(manifest).unwrap();
    pods.create(
        &PostParams::default(),
        &create(json!({"metadata": {"name": "pull"}, "spec": {"containers": [{"name": "app", "image": "registry.invalid/app:1"}]}})),
    )
    .await
    .unwrap();
    pods.create(
        &PostParams::default(),
        &create(json!({"metadata": {"name": "cfg"}, "spec": {"containers": [{"name": "app", "image": "app:1",
        "env": [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "api-token", "key": "token"}}}]}]}})),
    )
    .await
    .unwrap();
    pods.create(
        &PostParams::default(),
        &create(json!({"metadata": {"name": "mount"}, "spec": {"containers": [{"name": "app", "image": "app:1"}],
        "volumes": [{"name": "settings", "configMap": {"name": "settings"}}]}})),
    )
    .await
    .unwrap();

    let waiting_reason =
        |p: &Pod| p.status.as_ref().and_then(|s| s.container_statuses.as_ref()).and_then(|c| c[0].state.as_ref()?.waiting.as_ref()?.reason.clone());
    let pull = wait_pod(&pods, "pull", "ImagePullBackOff", |p| waiting_reason(p).as_deref() == Some("ImagePullBackOff")).await;
    assert_eq!(pull.status.unwrap().phase.as_deref(), Some("Pending"));
    let cfg = wait_pod(&pods, "cfg", "CreateContainerConfigError", |p| waiting_reason(p).as_deref() == Some("CreateContainerConfigError")).await;
    let message = cfg.status.unwrap().container_statuses.unwrap()[0].state.clone().unwrap().waiting.unwrap().message.unwrap();
    assert_eq!(message, "secret \"api-token\" not found");
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let mut mount_failed = Vec::new();
    for _ in 0..50 {
        mount_failed = events.list(&ListParams::default().fields("involvedObject.name=mount,reason=FailedMount")).await.unwrap().items;
        if !mount_failed.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(mount_failed[0].message.as_deref(), Some("MountVolume.SetUp failed for volume \"settings\" : configmap \"settings\" not found"));
    assert_eq!(waiting_reason(&pods.get("mount").await.unwrap()).as_deref(), Some("ContainerCreating"));

    // Creating what was missing lets the pods start.
    let secret: Secret = serde_json::from_value(json!({"metadata": {"name": "api-token"}, "stringData": {"token": "s3cret"}})).unwrap();
    Api::<Secret>::namespaced(client.clone(), "default").create(&PostParams::default(), &secret).await.unwrap();
    let settings: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "settings"}, "data": {"a": "1"}})).unwrap();
    Api::<ConfigMap>::namespaced(client, "default").create(&PostParams::default(), &settings).await.unwrap();
    let running = |p: &Pod| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
    wait_pod(&pods, "cfg", "Running once the secret exists", running).await;
    wait_pod(&pods, "mount", "Running once the configmap exists", running).await;
}

#[tokio::test]
async fn a_crash_caused_by_configuration_is_fixed_by_fixing_it_and_restarting() {
    use k8s_openapi::api::core::v1::ConfigMap;
    let sandbox = TestSandbox::start("cfgcrash");
    let client = sandbox.client().await;
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let config: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "api"}, "data": {"DB_HOST": "localhost"}})).unwrap();
    configmaps.create(&PostParams::default(), &config).await.unwrap();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let api: Deployment = serde_json::from_value(json!({"metadata": {"name": "api"}, "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "api"}},
        "template": {"metadata": {"labels": {"app": "api"}, "annotations": {"sandbox.kdeck.dev/crash-when-env": "DB_HOST=localhost",
            "sandbox.kdeck.dev/run-seconds": "0.2", "sandbox.kdeck.dev/exit-code": "1", "sandbox.kdeck.dev/backoff-seconds": "0.5",
            "sandbox.kdeck.dev/crash-log": "error: connection to localhost:5432 refused"}},
          "spec": {"containers": [{"name": "api", "image": "example/api:1", "envFrom": [{"configMapRef": {"name": "api"}}]}]}}}}))
    .unwrap();
    deployments.create(&PostParams::default(), &api).await.unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let restarts = || async {
        live_pods(&pods, "app=api")
            .await
            .iter()
            .map(|p| p.status.as_ref().and_then(|s| s.container_statuses.as_ref()).map_or(0, |c| c[0].restart_count))
            .max()
            .unwrap_or(0)
    };
    for _ in 0..100 {
        if restarts().await >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(restarts().await >= 1, "the api crash-loops while DB_HOST is wrong");

    configmaps.patch("api", &PatchParams::default(), &Patch::Merge(json!({"data": {"DB_HOST": "postgres"}}))).await.unwrap();
    // What `kubectl rollout restart` sends.
    let restart = json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"}}}}});
    deployments.patch("api", &PatchParams::default(), &Patch::Strategic(restart)).await.unwrap();
    wait_for(&deployments, "api", "rolled out after the fix", |d| rolled_out(d) && d.metadata.generation == Some(2)).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(restarts().await, 0, "the new pod no longer crashes");
}

#[tokio::test]
async fn statefulsets_get_ordered_pods_and_claims_that_outlive_them() {
    use k8s_openapi::api::apps::v1::StatefulSet;
    use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
    let sandbox = TestSandbox::start("sts");
    let client = sandbox.client().await;
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let pg: StatefulSet = serde_json::from_value(json!({"metadata": {"name": "pg"}, "spec": {"serviceName": "pg", "replicas": 2,
        "selector": {"matchLabels": {"app": "pg"}},
        "template": {"metadata": {"labels": {"app": "pg"}}, "spec": {"containers": [{"name": "postgres", "image": "postgres:16",
            "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql/data"}]}]}},
        "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}}))
    .unwrap();
    sets.create(&PostParams::default(), &pg).await.unwrap();
    let ready = |s: &StatefulSet| {
        s.status.as_ref().is_some_and(|st| st.ready_replicas == Some(2) && st.current_revision == st.update_revision && st.updated_replicas == Some(2))
    };
    let mut rolled = false;
    for _ in 0..100 {
        if ready(&sets.get("pg").await.unwrap()) {
            rolled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(rolled, "the StatefulSet became ready: {:?}", sets.get("pg").await.unwrap().status);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let names: Vec<String> = pods.list(&ListParams::default().labels("app=pg")).await.unwrap().items.into_iter().map(|p| p.metadata.name.unwrap()).collect();
    assert_eq!(names, ["pg-0", "pg-1"]);
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    let claim = claims.get("data-pg-1").await.unwrap();
    assert_eq!(claim.spec.as_ref().unwrap().storage_class_name.as_deref(), Some("standard"), "the default StorageClass is filled in");
    assert_eq!(claim.status.as_ref().unwrap().phase.as_deref(), Some("Bound"));
    let volume = claim.spec.unwrap().volume_name.unwrap();
    let pv = Api::<PersistentVolume>::all(client.clone()).get(&volume).await.unwrap();
    assert_eq!(pv.spec.unwrap().claim_ref.unwrap().name.as_deref(), Some("data-pg-1"));

    // Deleting a pod keeps its claim; the pod comes back with the same name and claim.
    let uid = pods.get("pg-1").await.unwrap().metadata.uid;
    pods.delete("pg-1", &Default::default()).await.unwrap();
    let back =
        wait_pod(&pods, "pg-1", "recreated and Running", |p| p.metadata.uid != uid && p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
            .await;
    let claim_of = back.spec.unwrap().volumes.unwrap().into_iter().find(|v| v.name == "data").unwrap().persistent_volume_claim.unwrap().claim_name;
    assert_eq!(claim_of, "data-pg-1");
    assert_eq!(claims.get("data-pg-1").await.unwrap().spec.unwrap().volume_name.as_deref(), Some(volume.as_str()), "same volume");

    // A pod whose claim does not exist waits, and says why.
    let orphan: Pod = serde_json::from_value(json!({"metadata": {"name": "orphan"}, "spec": {"containers": [{"name": "c", "image": "busybox"}],
        "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "missing"}}]}}))
    .unwrap();
    pods.create(&PostParams::default(), &orphan).await.unwrap();
    let waiting = wait_pod(&pods, "orphan", "unschedulable", |p| {
        p.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|c| c.iter().any(|c| c.reason.as_deref() == Some("Unschedulable")))
    })
    .await;
    let message = waiting.status.unwrap().conditions.unwrap().into_iter().find(|c| c.type_ == "PodScheduled").unwrap().message.unwrap();
    assert!(message.contains("persistentvolumeclaim \"missing\" not found"), "{message}");
}

#[tokio::test]
async fn a_failing_pod_does_not_make_the_control_plane_write_in_a_loop() {
    let sandbox = TestSandbox::start("quiet");
    let client = sandbox.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let failing: Pod =
        serde_json::from_value(json!({"metadata": {"name": "pull"}, "spec": {"containers": [{"name": "c", "image": "registry.invalid/app:1"}]}})).unwrap();
    pods.create(&PostParams::default(), &failing).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let version = || async { pods.list(&ListParams::default()).await.unwrap().metadata.resource_version.unwrap().parse::<u64>().unwrap() };
    let before = version().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let writes = version().await - before;
    assert!(writes <= 10, "{writes} writes in 2 s while a pull keeps failing");
}

#[tokio::test]
async fn daemonsets_run_one_pod_per_matching_node() {
    use k8s_openapi::api::apps::v1::DaemonSet;
    let sandbox = TestSandbox::new("ds");
    let out = sandbox.run(&["sandbox", "start", "--detach", "--name", "ds", "--nodes", "3"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let client = sandbox.client().await;
    let sets: Api<DaemonSet> = Api::namespaced(client.clone(), "default");
    let ds = |name: &str, selector: serde_json::Value| -> DaemonSet {
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": {"selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"nodeSelector": selector, "containers": [{"name": "agent", "image": "fluent/fluent-bit:3"}]}}}}))
        .unwrap()
    };
    sets.create(&PostParams::default(), &ds("agent", json!({}))).await.unwrap();
    sets.create(&PostParams::default(), &ds("control", json!({"node-role.kubernetes.io/control-plane": ""}))).await.unwrap();
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let mut nodes: Vec<String> = Vec::new();
    for _ in 0..100 {
        let set = sets.get("agent").await.unwrap();
        if set.status.as_ref().is_some_and(|s| s.number_ready == 3 && s.desired_number_scheduled == 3 && s.updated_number_scheduled == Some(3)) {
            nodes =
                pods.list(&ListParams::default().labels("app=agent")).await.unwrap().items.into_iter().map(|p| p.spec.unwrap().node_name.unwrap()).collect();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    nodes.sort();
    assert_eq!(nodes, ["ds-control-plane", "ds-worker", "ds-worker2"]);
    let control = sets.get("control").await.unwrap().status.unwrap();
    assert_eq!(control.desired_number_scheduled, 1, "only the control-plane node matches");
}

#[tokio::test]
async fn cronjobs_create_jobs_when_due() {
    use k8s_openapi::api::batch::v1::{CronJob, Job};
    // The schedule is every minute: keep the test clear of a minute's turn, which
    // would rightly make a second Job.
    let second = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() % 60;
    if second > 45 {
        tokio::time::sleep(Duration::from_secs(61 - second)).await;
    }
    let sandbox = TestSandbox::start("cron");
    let client = sandbox.client().await;
    let cronjobs: Api<CronJob> = Api::namespaced(client.clone(), "default");
    let cj: CronJob = serde_json::from_value(json!({"metadata": {"name": "report"}, "spec": {"schedule": "* * * * *",
        "jobTemplate": {"spec": {"template": {"metadata": {"annotations": {"sandbox.kdeck.dev/run-seconds": "0.2"}},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "r", "image": "busybox"}]}}}}}}))
    .unwrap();
    cronjobs.create(&PostParams::default(), &cj).await.unwrap();
    // Pretend the last run was two minutes ago, so one is due now.
    let two_minutes_ago = k8s_openapi::jiff::Timestamp::now() - k8s_openapi::jiff::SignedDuration::from_secs(120);
    cronjobs
        .patch_status("report", &PatchParams::default(), &Patch::Merge(json!({"status": {"lastScheduleTime": two_minutes_ago.to_string()}})))
        .await
        .unwrap();
    let jobs: Api<Job> = Api::namespaced(client, "default");
    let mut created = Vec::new();
    for _ in 0..100 {
        created = jobs.list(&ListParams::default()).await.unwrap().items;
        if created.iter().any(|j| j.status.as_ref().is_some_and(|s| s.succeeded == Some(1))) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(created.len(), 1, "one Job for the due run");
    assert!(created[0].metadata.name.as_deref().unwrap().starts_with("report-"));
    assert_eq!(created[0].status.as_ref().unwrap().succeeded, Some(1));
    let status = cronjobs.get("report").await.unwrap().status.unwrap();
    assert!(status.last_schedule_time.unwrap().0 > two_minutes_ago);
}

#[tokio::test]
async fn evicted_pods_fail_with_the_kubelets_reason_and_are_replaced_by_their_owner() {
    let sandbox = TestSandbox::start("evict");
    let client = sandbox.client().await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let mut web = deployment("web", 1, "nginx:1.27");
    web.spec.as_mut().unwrap().template.metadata.as_mut().unwrap().annotations =
        Some([("sandbox.kdeck.dev/evict-after-seconds".to_string(), "0.5".to_string())].into());
    deployments.create(&PostParams::default(), &web).await.unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let mut evicted = None;
    for _ in 0..100 {
        let all = pods.list(&ListParams::default().labels("app=web")).await.unwrap().items;
        if let Some(pod) = all.iter().find(|p| p.status.as_ref().and_then(|s| s.reason.as_deref()) == Some("Evicted")) {
            evicted = Some(pod.clone());
            if all.len() >= 2 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let evicted = evicted.expect("a pod is evicted");
    let status = evicted.status.unwrap();
    assert_eq!(status.phase.as_deref(), Some("Failed"));
    assert!(status.message.unwrap().starts_with("The node was low on resource: memory."));
    assert!(status.conditions.unwrap().iter().any(|c| c.type_ == "DisruptionTarget" && c.status == "True"));
    assert!(pods.list(&ListParams::default().labels("app=web")).await.unwrap().items.len() >= 2, "the ReplicaSet replaced the evicted pod, which stays behind");
    let failed = pods.list(&ListParams::default().fields("status.phase=Failed")).await.unwrap().items;
    assert!(!failed.is_empty(), "evicted pods are found by status.phase=Failed (not by a phase named Evicted)");
}

#[tokio::test]
async fn deleted_pods_terminate_gracefully_then_go() {
    let sandbox = TestSandbox::start("graceful");
    let client = sandbox.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "web", "annotations": {"sandbox.kdeck.dev/termination-seconds": "1"}},
        "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}}))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    wait_pod(&pods, "web", "Ready", |p| {
        p.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
    })
    .await;
    pods.delete("web", &Default::default()).await.unwrap();
    let terminating = pods.get("web").await.unwrap();
    assert!(terminating.metadata.deletion_timestamp.is_some(), "first marked, as a real API server does");
    assert_eq!(terminating.metadata.deletion_grace_period_seconds, Some(30));
    for _ in 0..50 {
        if pods.get_opt("web").await.unwrap().is_none() {
            let events: Api<Event> = Api::namespaced(client, "default");
            let killing = events.list(&ListParams::default().fields("involvedObject.name=web,reason=Killing")).await.unwrap().items;
            assert_eq!(killing[0].message.as_deref(), Some("Stopping container nginx"));
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the kubelet never removed the terminated pod");
}

#[tokio::test]
async fn failing_probes_keep_pods_unready_or_restart_them() {
    let sandbox = TestSandbox::start("probes");
    let client = sandbox.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let probe = json!({"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 1});
    let pod = |name: &str, annotations: serde_json::Value| -> Pod {
        serde_json::from_value(json!({"metadata": {"name": name, "annotations": annotations},
            "spec": {"containers": [{"name": "app", "image": "example/app:1", "readinessProbe": probe, "livenessProbe": probe}]}}))
        .unwrap()
    };
    pods.create(&PostParams::default(), &pod("unready", json!({"sandbox.kdeck.dev/readiness-fail": "true"}))).await.unwrap();
    pods.create(
        &PostParams::default(),
        &pod("unlive", json!({"sandbox.kdeck.dev/liveness-fail-after-seconds": "0.3", "sandbox.kdeck.dev/backoff-seconds": "0.3"})),
    )
    .await
    .unwrap();
    let running = |p: &Pod| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
    let unready = wait_pod(&pods, "unready", "Running", running).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let unready = pods.get(unready.metadata.name.as_deref().unwrap()).await.unwrap();
    assert!(
        !unready.status.unwrap().conditions.unwrap().iter().any(|c| c.type_ == "Ready" && c.status == "True"),
        "a failing readiness probe keeps it unready"
    );
    let restarted =
        wait_pod(&pods, "unlive", "restarted", |p| p.status.as_ref().and_then(|s| s.container_statuses.as_ref()).is_some_and(|c| c[0].restart_count >= 1))
            .await;
    let last = restarted.status.unwrap().container_statuses.unwrap()[0].last_state.clone().unwrap().terminated.unwrap();
    assert_eq!(last.exit_code, 137);
    let events: Api<Event> = Api::namespaced(client, "default");
    let messages: Vec<String> =
        events.list(&ListParams::default().fields("reason=Unhealthy")).await.unwrap().items.into_iter().filter_map(|e| e.message).collect();
    assert!(messages.iter().any(|m| m.starts_with("Readiness probe failed")), "{messages:?}");
    assert!(messages.iter().any(|m| m.starts_with("Liveness probe failed")), "{messages:?}");
    let killing = events.list(&ListParams::default().fields("involvedObject.name=unlive,reason=Killing")).await.unwrap().items;
    assert_eq!(killing[0].message.as_deref(), Some("Container app failed liveness probe, will be restarted"));
}

#[tokio::test]
async fn the_demo_scenario_is_broken_as_documented_and_the_config_fix_heals_it() {
    use k8s_openapi::api::core::v1::{ConfigMap, Endpoints};
    let sandbox = TestSandbox::new("demo");
    let out = sandbox.run(&["sandbox", "start", "--detach", "--name", "demo", "--seed", "demo"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let client = sandbox.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "demo");
    let first_pod = |selector: &'static str| {
        let pods = pods.clone();
        async move { live_pods(&pods, selector).await.into_iter().next() }
    };
    let waiting = |p: &Pod| p.status.as_ref().and_then(|s| s.container_statuses.as_ref()).and_then(|c| c[0].state.as_ref()?.waiting.clone());
    let mut seen = (false, false, false, false);
    for _ in 0..100 {
        let api = first_pod("app=api").await;
        let restarted = api.as_ref().and_then(|p| p.status.as_ref()?.container_statuses.as_ref().map(|c| c[0].restart_count >= 1)).unwrap_or(false);
        let worker = first_pod("app=worker").await.and_then(|p| waiting(&p)).and_then(|w| w.reason);
        let mailer = first_pod("app=mailer").await.and_then(|p| waiting(&p)).and_then(|w| w.message);
        let postgres = first_pod("app=postgres")
            .await
            .is_some_and(|p| p.status.and_then(|s| s.conditions).unwrap_or_default().iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        seen = (restarted, worker.as_deref() == Some("ImagePullBackOff"), mailer.as_deref() == Some("secret \"smtp-credentials\" not found"), postgres);
        if seen == (true, true, true, true) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, (true, true, true, true), "(api crash-looping, worker ImagePullBackOff, mailer missing secret, postgres ready)");
    let frontend = Api::<Endpoints>::namespaced(client.clone(), "demo").get("frontend").await.unwrap();
    assert!(frontend.subsets.is_none(), "the frontend Service selects no pod");

    // The fix: point DATABASE_URL at the postgres Service and restart the api.
    Api::<ConfigMap>::namespaced(client.clone(), "demo")
        .patch("api-config", &PatchParams::default(), &Patch::Merge(json!({"data": {"DATABASE_URL": "postgres://postgres:5432/app"}})))
        .await
        .unwrap();
    let deployments: Api<Deployment> = Api::namespaced(client, "demo");
    let restart = json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"}}}}});
    deployments.patch("api", &PatchParams::default(), &Patch::Strategic(restart)).await.unwrap();
    wait_for(&deployments, "api", "healthy after the fix", |d| rolled_out(d) && d.metadata.generation == Some(2)).await;
}
