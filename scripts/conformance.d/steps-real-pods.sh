# Conformance steps: pods whose command really runs (`sandbox.kdeck.dev/run-command`; the suite's
# sandbox is started with --run-commands). Sourced by scripts/conformance, which defines `step`,
# the `expect_*` helpers, `k`/`kn`, `$ctx`, `$ns` and `$work`.
#
# Until pods have network views of their own, a real process shares the host's network: the
# server listens on a port free on this machine.

real_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

t_real_web_deployment() {
  local port manifest="$work/real-web.yaml" ip out pod
  port="$(real_free_port)"
  cat >"$manifest" <<EOF
apiVersion: apps/v1
kind: Deployment
metadata:
  name: real-web
spec:
  replicas: 1
  selector:
    matchLabels: {app: real-web}
  template:
    metadata:
      labels: {app: real-web}
      annotations:
        sandbox.kdeck.dev/run-command: "true"
    spec:
      volumes:
        - name: www
          emptyDir: {}
      containers:
        - name: web
          image: python:3.12
          # Answers only after a moment, so the rollout really waits for the probe.
          command: ["sh", "-c", "sleep 2; echo ok > /srv/www/healthz; exec python3 -m http.server $port --directory /srv/www"]
          ports:
            - {name: http, containerPort: $port}
          volumeMounts:
            - {name: www, mountPath: /srv/www}
          readinessProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: real-web
spec:
  selector: {app: real-web}
  ports:
    - {port: 80, targetPort: http}
EOF
  kn apply -f "$manifest"
  kn rollout status deployment/real-web --timeout=25s
  expect_eq "Ready condition of the pod" "True" \
    "$(kn get pods -l app=real-web -o jsonpath='{.items[0].status.conditions[?(@.type=="Ready")].status}')"
  expect_eq "its container ran for real (containerID)" "kdeck-process://" \
    "$(kn get pods -l app=real-web -o jsonpath='{.items[0].status.containerStatuses[0].containerID}' | cut -c1-16)"
  ip="$(kn get pods -l app=real-web -o jsonpath='{.items[0].status.podIP}')"
  out="$(kn get endpoints real-web 2>/dev/null)"
  expect_contains "kubectl get endpoints real-web" "$out" "$ip:$port"
  # The readiness probe's requests reached the real server.
  out="$(kn logs deployment/real-web)"
  expect_contains "the server's log" "$out" '"GET /healthz HTTP/1.1" 200'
  pod="$(kn get pods -l app=real-web -o jsonpath='{.items[0].metadata.name}')"
  out="$(kn get events --field-selector "involvedObject.name=$pod,reason=Unhealthy" -o jsonpath='{.items[*].message}')"
  expect_contains "Unhealthy events while it started" "$out" "Readiness probe failed: Get \"http://$ip:$port/healthz\""
  kn delete service real-web --wait=true >/dev/null
  kn delete deployment real-web --wait=true >/dev/null
}
step "real pods: a python3 http.server Deployment is Ready once its httpGet probe passes (rollout status, endpoints)" t_real_web_deployment
