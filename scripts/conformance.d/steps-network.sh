# shellcheck shell=bash
# Sourced by scripts/conformance: Service names inside pods. A pod running for real
# (the sandbox runs with --run-commands) serves HTTP; kubectl exec into another pod
# fetches it by the Service's name, and by its full name.

t_network_service_by_name() {
  k create namespace conf-svcname >/dev/null
  k -n conf-svcname apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: backend
  labels: {app: backend}
  annotations: {sandbox.kdeck.dev/run-command: "true"}
spec:
  restartPolicy: Never
  containers:
    - name: web
      image: python:3
      command: [sh, -c, "mkdir -p /tmp/www && echo ok > /tmp/www/health && exec python3 -m http.server 8000 --directory /tmp/www"]
      ports: [{name: http, containerPort: 8000}]
---
apiVersion: v1
kind: Service
metadata: {name: backend-service}
spec:
  selector: {app: backend}
  ports: [{port: 8000, targetPort: http}]
---
apiVersion: v1
kind: Pod
metadata: {name: frontend}
spec:
  containers: [{name: app, image: busybox}]
YAML
  k -n conf-svcname wait --for=condition=Ready pod/backend pod/frontend --timeout=30s >/dev/null
  # The server may take a moment to listen after its pod is Ready.
  eventually 20 k -n conf-svcname exec frontend -- wget -qO- http://backend-service:8000/health
  expect_eq "wget by the Service's name" "ok" "$(k -n conf-svcname exec frontend -- wget -qO- http://backend-service:8000/health)"
  expect_eq "by its full name" "ok" \
    "$(k -n conf-svcname exec frontend -- wget -qO- http://backend-service.conf-svcname.svc.cluster.local:8000/health)"
  expect_contains "the name resolves to the ClusterIP" "$(k -n conf-svcname exec frontend -- getent hosts backend-service)" \
    "$(k -n conf-svcname get service backend-service -o jsonpath='{.spec.clusterIP}')"
  k delete namespace conf-svcname --wait=false >/dev/null
}
step "kubectl exec into a pod fetches another pod's Service by name" t_network_service_by_name
