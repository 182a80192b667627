"""Fault injection as the official Python kubernetes client sees it.

This script sets nothing itself: the sandbox must be injecting exactly this spec while it runs
(scripts/conformance sets it before and clears it after):
    kdeck sandbox faults --name NAME 'seed=1,503=1,only=configmaps'
    ...
    kdeck sandbox faults --name NAME --clear
Every configmap request then gets 503 ServiceUnavailable (a Kubernetes Status), while other
resources and discovery answer as usual.

Usage:
    python-k8s faults.py KUBECONFIG CONTEXT
Prints "ok" and exits 0 when the client sees that; otherwise exits non-zero with the reason.
"""

import json
import sys

from kubernetes import client, config
from kubernetes.client.rest import ApiException


def expect_503(what, call):
    try:
        call()
    except ApiException as e:
        assert e.status == 503, f"{what}: expected status 503, got {e.status} {e.reason}: {e.body}"
        status = json.loads(e.body)
        assert status.get("kind") == "Status", f"{what}: the body is not a Status: {e.body}"
        assert status.get("reason") == "ServiceUnavailable", f"{what}: reason {status.get('reason')!r}"
        assert status.get("code") == 503, f"{what}: code {status.get('code')!r}"
    else:
        raise AssertionError(f"{what}: expected ApiException 503, the call succeeded")


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: faults.py KUBECONFIG CONTEXT")
    kubeconfig, context = sys.argv[1], sys.argv[2]
    api_client = config.new_client_from_config(config_file=kubeconfig, context=context)
    core = client.CoreV1Api(api_client)

    # Every configmap request is faulted, whatever its verb or namespace.
    expect_503("list configmaps", lambda: core.list_namespaced_config_map("default"))
    expect_503("list configmaps again", lambda: core.list_config_map_for_all_namespaces())
    expect_503("get configmap", lambda: core.read_namespaced_config_map("faults-py", "default"))
    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="faults-py"), data={"k": "v"})
    expect_503("create configmap", lambda: core.create_namespaced_config_map("default", body))

    # Other resources and discovery are not.
    core.list_namespaced_pod("default")
    core.list_namespace()
    resources = core.get_api_resources()
    assert any(r.name == "configmaps" for r in resources.resources), "discovery lists configmaps"
    client.VersionApi(api_client).get_code()
    print("ok")


if __name__ == "__main__":
    main()
