"""Where the official Python kubernetes client reads what a real cluster gives it.

Usage:
    python-k8s fidelity.py KUBECONFIG CONTEXT NAMESPACE CHECK
CHECK is one of:
    pod-phase       create a pod and read status.phase (and qosClass, and the default
                    serviceAccountName) from the create response
    default-sa      create NAMESPACE and wait (a watch, 20 s at most) for its `default`
                    ServiceAccount, as tools do before they create pods; then its root CA
    paging          list every pod in pages of 500 (limit and _continue), each page at
                    the first page's resourceVersion, and compare with one unpaged list;
                    then page ConfigMaps in NAMESPACE while creating and deleting some
                    between the pages: the second page is the first page's snapshot
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


def paging(core, namespace):
    def key(item):
        return (item.metadata.namespace, item.metadata.name, item.metadata.uid)

    first = core.list_pod_for_all_namespaces(limit=500)
    snapshot = first.metadata.resource_version
    total = len(first.items) + (first.metadata.remaining_item_count or 0)
    paged, page, pages = [key(p) for p in first.items], first, 1
    while page.metadata._continue:
        page = core.list_pod_for_all_namespaces(limit=500, _continue=page.metadata._continue)
        pages += 1
        assert page.metadata.resource_version == snapshot, f"page {pages} at {page.metadata.resource_version}, not {snapshot}"
        paged.extend(key(p) for p in page.items)
    whole = [key(p) for p in core.list_pod_for_all_namespaces().items]
    assert pages > 1, f"{len(whole)} pods came in one page"
    assert paged == whole, f"paged {len(paged)} pods, unpaged {len(whole)}, not the same items"
    assert total == len(whole), f"the first page counted {total} pods in all, there are {len(whole)}"

    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    for name in ["cm-0", "cm-1", "cm-2", "cm-3"]:
        core.create_namespaced_config_map(namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name), data={"k": "1"}))
    first = core.list_namespaced_config_map(namespace, limit=2)
    assert [c.metadata.name for c in first.items] == ["cm-0", "cm-1"], [c.metadata.name for c in first.items]
    core.create_namespaced_config_map(namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="cm-1a"), data={"k": "new"}))
    core.patch_namespaced_config_map("cm-2", namespace, {"data": {"k": "2"}})
    core.delete_namespaced_config_map("cm-3", namespace)
    second = core.list_namespaced_config_map(namespace, limit=2, _continue=first.metadata._continue)
    got = [(c.metadata.name, c.data["k"]) for c in second.items]
    assert got == [("cm-2", "1"), ("cm-3", "1")], f"the second page is not the first page's snapshot: {got}"
    assert second.metadata.resource_version == first.metadata.resource_version, "the second page's resourceVersion is not the first's"
    core.delete_namespace(namespace)


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: fidelity.py KUBECONFIG CONTEXT NAMESPACE pod-phase|default-sa|paging")
    kubeconfig, context, namespace, check = sys.argv[1:]
    core = client.CoreV1Api(config.new_client_from_config(config_file=kubeconfig, context=context))
    checks = {"pod-phase": pod_phase, "default-sa": default_sa, "paging": paging}
    if check not in checks:
        sys.exit(f"unknown check {check!r}")
    checks[check](core, namespace)
    print("ok")


if __name__ == "__main__":
    main()
