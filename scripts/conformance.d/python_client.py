"""Python-client part of kdeck's conformance suite.

Runs the official `kubernetes` Python client against a sandbox and prints one line per check:
    PASS <name>
    FAIL <name>: <reason>
scripts/conformance counts those lines. Usage:
    python-k8s python_client.py --context CONTEXT --namespace NAMESPACE
The namespace must exist; the script leaves it with no ConfigMaps of its own.
"""

import argparse
import threading
import time
import traceback

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException
from kubernetes.stream import stream

results = []


def check(name):
    """Decorator: run the check, print PASS/FAIL, never let one failure stop the rest."""

    def wrap(fn):
        def run(*args):
            try:
                fn(*args)
            except AssertionError as e:
                report(name, False, str(e) or "assertion failed")
            except ApiException as e:
                report(name, False, f"ApiException {e.status} {e.reason}: {(e.body or '').strip()[:300]}")
            except Exception as e:  # noqa: BLE001 - any error is a failed check
                tb = traceback.format_exc().strip().splitlines()[-1]
                report(name, False, f"{type(e).__name__}: {e} ({tb})")
            else:
                report(name, True, "")

        return run

    return wrap


def report(name, ok, reason):
    results.append(ok)
    line = f"PASS {name}" if ok else f"FAIL {name}: {reason}"
    print(line.replace("\n", " "), flush=True)


def eq(what, expected, got):
    assert expected == got, f"{what}: expected {expected!r}, got {got!r}"


def cm(name, data, labels=None):
    return client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=name, labels=labels or {}),
        data=data,
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--context", required=True)
    ap.add_argument("--namespace", required=True)
    ap.add_argument("--home-ops", metavar="CONTEXT", help="also check Flux and External Secrets on a sandbox seeded with home-ops")
    args = ap.parse_args()
    ns = args.namespace

    config.load_kube_config(context=args.context)
    v1 = client.CoreV1Api()
    state = {}

    @check("python: create configmap")
    def create():
        got = v1.create_namespaced_config_map(ns, cm("py-a", {"k": "v1"}, {"suite": "py", "role": "a"}))
        eq("name", "py-a", got.metadata.name)
        assert got.metadata.uid, "no uid in the created object"
        assert got.metadata.resource_version, "no resourceVersion in the created object"
        state["rv"] = got.metadata.resource_version
        v1.create_namespaced_config_map(ns, cm("py-b", {"k": "other"}, {"suite": "py", "role": "b"}))
        v1.create_namespaced_config_map(ns, cm("py-c", {"k": "unlabelled"}))

    @check("python: read configmap")
    def read():
        got = v1.read_namespaced_config_map("py-a", ns)
        eq("data", {"k": "v1"}, got.data)
        eq("label role", "a", (got.metadata.labels or {}).get("role"))

    @check("python: replace configmap")
    def replace():
        obj = v1.read_namespaced_config_map("py-a", ns)
        obj.data = {"k": "v2", "added": "yes"}
        got = v1.replace_namespaced_config_map("py-a", ns, obj)
        eq("data after replace", {"k": "v2", "added": "yes"}, got.data)
        assert got.metadata.resource_version != obj.metadata.resource_version, (
            f"resourceVersion did not change on replace ({got.metadata.resource_version})"
        )
        eq("data read back", {"k": "v2", "added": "yes"}, v1.read_namespaced_config_map("py-a", ns).data)

    @check("python: replace with a stale resourceVersion is a 409 Conflict")
    def stale():
        obj = v1.read_namespaced_config_map("py-a", ns)
        obj.metadata.resource_version = state.get("rv", "1")
        obj.data = {"k": "stale"}
        try:
            v1.replace_namespaced_config_map("py-a", ns, obj)
        except ApiException as e:
            eq("status", 409, e.status)
        else:
            raise AssertionError("expected ApiException 409, the replace succeeded")

    @check("python: patch configmap")
    def patch():
        got = v1.patch_namespaced_config_map("py-a", ns, {"data": {"k": "v3", "added": None}})
        eq("data after patch", {"k": "v3"}, got.data)
        eq("data read back", {"k": "v3"}, v1.read_namespaced_config_map("py-a", ns).data)

    @check("python: list with label selector")
    def list_label():
        names = sorted(i.metadata.name for i in v1.list_namespaced_config_map(ns, label_selector="suite=py").items)
        eq("names for suite=py", ["py-a", "py-b"], names)
        names = sorted(i.metadata.name for i in v1.list_namespaced_config_map(ns, label_selector="suite=py,role!=a").items)
        eq("names for suite=py,role!=a", ["py-b"], names)

    @check("python: list with field selector")
    def list_field():
        names = [i.metadata.name for i in v1.list_namespaced_config_map(ns, field_selector="metadata.name=py-b").items]
        eq("names for metadata.name=py-b", ["py-b"], names)

    @check("python: watch sees ADDED, MODIFIED and DELETED")
    def watch_events():
        rv = v1.list_namespaced_config_map(ns, label_selector="suite=py-watch").metadata.resource_version
        errors = []

        def mutate():
            try:
                time.sleep(0.5)
                v1.create_namespaced_config_map(ns, cm("py-w", {"n": "1"}, {"suite": "py-watch"}))
                v1.patch_namespaced_config_map("py-w", ns, {"data": {"n": "2"}})
                v1.delete_namespaced_config_map("py-w", ns)
            except Exception as e:  # noqa: BLE001
                errors.append(f"{type(e).__name__}: {e}")

        t = threading.Thread(target=mutate, daemon=True)
        t.start()
        seen = []
        w = watch.Watch()
        deadline = time.time() + 20
        for ev in w.stream(
            v1.list_namespaced_config_map, ns, label_selector="suite=py-watch", resource_version=rv, timeout_seconds=15
        ):
            obj = ev["object"]
            seen.append((ev["type"], obj.metadata.name, (obj.data or {}).get("n")))
            if ev["type"] == "DELETED" or time.time() > deadline:
                w.stop()
        t.join(10)
        assert not errors, f"the mutating thread failed: {errors}"
        types = [s[0] for s in seen if s[1] == "py-w"]
        eq("event types", ["ADDED", "MODIFIED", "DELETED"], types)
        modified = [s for s in seen if s[0] == "MODIFIED"]
        eq("data in the MODIFIED event", "2", modified[0][2])

    @check("python: missing object is a 404 ApiException")
    def missing():
        try:
            v1.read_namespaced_config_map("py-does-not-exist", ns)
        except ApiException as e:
            eq("status", 404, e.status)
            assert "NotFound" in (e.body or "") or e.reason == "Not Found", f"body: {e.body}"
        else:
            raise AssertionError("expected ApiException 404, the read succeeded")

    @check("python: delete configmap")
    def delete():
        v1.delete_namespaced_config_map("py-a", ns)
        v1.delete_namespaced_config_map("py-b", ns)
        v1.delete_namespaced_config_map("py-c", ns)
        left = [i.metadata.name for i in v1.list_namespaced_config_map(ns).items if i.metadata.name.startswith("py-")]
        eq("py-* configmaps left", [], left)

    @check("python: exec with kubernetes.stream.stream (output, env, exit code)")
    def exec_stream():
        pod = client.V1Pod(
            metadata=client.V1ObjectMeta(name="py-exec"),
            spec=client.V1PodSpec(containers=[client.V1Container(name="app", image="busybox", env=[client.V1EnvVar(name="GREETING", value="hi")])]),
        )
        v1.create_namespaced_pod(ns, pod)
        try:
            for _ in range(100):
                statuses = v1.read_namespaced_pod("py-exec", ns).status.container_statuses or []
                if statuses and statuses[0].state.running:
                    break
                time.sleep(0.1)
            out = stream(v1.connect_get_namespaced_pod_exec, "py-exec", ns, command=["sh", "-c", "echo $GREETING $(hostname)"],
                         stderr=True, stdin=False, stdout=True, tty=False)
            eq("exec output", "hi py-exec\n", out)
            resp = stream(v1.connect_get_namespaced_pod_exec, "py-exec", ns, command=["sh", "-c", "exit 7"],
                          stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
            resp.run_forever(timeout=10)
            eq("exit code", 7, resp.returncode)
        finally:
            v1.delete_namespaced_pod("py-exec", ns, grace_period_seconds=0)

    for fn in (create, read, replace, stale, patch, list_label, list_field, watch_events, missing, exec_stream, delete):
        fn()
    if args.home_ops:
        home_ops_checks(config.new_client_from_config(context=args.home_ops))
    return 0 if all(results) else 1


def wait_for(what, read, done, seconds=10):
    """Polls read() until done(obj) holds; fails naming what it waited for."""
    deadline = time.time() + seconds
    while True:
        obj = read()
        if done(obj):
            return obj
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def ready_condition(obj):
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == "Ready"), {})


def home_ops_checks(api_client):
    """A HelmRelease reconcile cycle and an ExternalSecret force-sync, through CustomObjectsApi."""
    custom = client.CustomObjectsApi(api_client)
    core = client.CoreV1Api(api_client)
    hr = ("helm.toolkit.fluxcd.io", "v2", "observability", "helmreleases", "gatus")
    es = ("external-secrets.io", "v1", "observability", "externalsecrets", "gatus")

    def get_hr():
        return custom.get_namespaced_custom_object(*hr)

    def get_es():
        return custom.get_namespaced_custom_object(*es)

    @check("python: HelmRelease suspend, reconcile request ignored, resume handles it")
    def helm_release_cycle():
        wait_for("gatus Ready", get_hr, lambda o: ready_condition(o).get("status") == "True")
        custom.patch_namespaced_custom_object(*hr, {"spec": {"suspend": True}})
        custom.patch_namespaced_custom_object(*hr, {"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "py-1"}}})
        time.sleep(0.5)
        eq("lastHandledReconcileAt while suspended", None, get_hr()["status"].get("lastHandledReconcileAt"))
        custom.patch_namespaced_custom_object(*hr, {"spec": {"suspend": False}})
        got = wait_for("the request handled", get_hr, lambda o: o["status"].get("lastHandledReconcileAt") == "py-1")
        eq("Ready after resume", "True", ready_condition(got).get("status"))

    @check("python: ExternalSecret force-sync re-syncs the Secret")
    def force_sync():
        before = wait_for("gatus ExternalSecret synced", get_es, lambda o: ready_condition(o).get("reason") == "SecretSynced")
        secret = core.read_namespaced_secret("gatus-secret", "observability")
        assert "GATUS_PUSHOVER_TOKEN" in (secret.data or {}), f"gatus-secret keys: {sorted((secret.data or {}).keys())}"
        # refreshTime has one-second resolution: let it be able to move.
        time.sleep(1.1)
        custom.patch_namespaced_custom_object(*es, {"metadata": {"annotations": {"force-sync": str(int(time.time()))}}})
        got = wait_for("a new sync", get_es, lambda o: o["status"].get("syncedResourceVersion") != before["status"].get("syncedResourceVersion"))
        assert got["status"]["refreshTime"] > before["status"]["refreshTime"], f"refreshTime {got['status']['refreshTime']} did not move"
        eq("Ready reason", "SecretSynced", ready_condition(got).get("reason"))

    @check("python: a broken ExternalSecret reports SecretSyncedError")
    def broken_secret():
        get = lambda: custom.get_namespaced_custom_object("external-secrets.io", "v1", "storage", "externalsecrets", "volsync-restic")  # noqa: E731
        got = wait_for("volsync-restic failing", get, lambda o: ready_condition(o).get("reason") == "SecretSyncedError")
        eq("Ready status", "False", ready_condition(got).get("status"))
        assert "volsync-restic-template" in ready_condition(got).get("message", ""), ready_condition(got)

    for fn in (helm_release_cycle, force_sync, broken_secret):
        fn()


if __name__ == "__main__":
    raise SystemExit(main())
