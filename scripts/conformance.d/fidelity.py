"""Where the official Python kubernetes client reads what a real cluster gives it.

Usage:
    python-k8s fidelity.py KUBECONFIG CONTEXT NAMESPACE CHECK
CHECK is one of:
    pod-phase       create a pod and read status.phase (and qosClass, and the default
                    serviceAccountName) from the create response
    default-sa      create NAMESPACE and wait (a watch, 20 s at most) for its `default`
                    ServiceAccount, as tools do before they create pods; then its root CA
Prints "ok" and exits 0 when the client sees what a real cluster gives it; otherwise exits
non-zero with the reason.
"""

import sys

from kubernetes import client, config, watch


def pod_phase(core, namespace):
    body = client.V1Pod(
        metadata=client.V1ObjectMeta(name="fidelity-phase"),
        spec=client.V1PodSpec(containers=[client.V1Container(
            name="main", image="nginx:1.27",
            resources=client.V1ResourceRequirements(requests={"cpu": "50m"}))]),
    )
    created = core.create_namespaced_pod(namespace, body)
    # Clients read the phase straight from the response, before any watch.
    assert created.status is not None, "the create response has no status"
    assert created.status.phase == "Pending", f"status.phase {created.status.phase!r}"
    assert created.status.qos_class == "Burstable", f"status.qosClass {created.status.qos_class!r}"
    assert created.spec.service_account_name == "default", f"spec.serviceAccountName {created.spec.service_account_name!r}"
    core.delete_namespaced_pod("fidelity-phase", namespace, grace_period_seconds=0)


def default_sa(core, namespace):
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    found = False
    stream = watch.Watch().stream(core.list_namespaced_service_account, namespace, timeout_seconds=20)
    for event in stream:
        if event["object"].metadata.name == "default":
            found = True
            break
    assert found, f"no ServiceAccount default in {namespace} within 20 s"
    ca = core.read_namespaced_config_map("kube-root-ca.crt", namespace)
    assert ca.data["ca.crt"].startswith("-----BEGIN CERTIFICATE-----"), "kube-root-ca.crt holds no CA"
    core.delete_namespace(namespace)


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: fidelity.py KUBECONFIG CONTEXT NAMESPACE pod-phase|default-sa")
    kubeconfig, context, namespace, check = sys.argv[1:]
    core = client.CoreV1Api(config.new_client_from_config(config_file=kubeconfig, context=context))
    checks = {"pod-phase": pod_phase, "default-sa": default_sa}
    if check not in checks:
        sys.exit(f"unknown check {check!r}")
    checks[check](core, namespace)
    print("ok")


if __name__ == "__main__":
    main()
