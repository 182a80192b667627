# Conformance steps: pods whose command really runs (`sandbox.kdeck.dev/run-command`; the suite's
# sandbox is started with --run-commands). Sourced by scripts/conformance, which defines `step`,
# the `expect_*` helpers, `k`/`kn`, `$ctx`, `$ns` and `$work`.
# Each pod has a network of its own, so servers listen on their usual ports. The port-forward
# helpers (pf_start, pf_local, pf_stop) come from steps-portforward.sh; their namespace is $pf_ns.

t_real_web_deployment() {
  local port=8000 manifest="$work/real-web.yaml" ip out pod local_port
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
  # kubectl port-forward reaches the real server.
  local pf_ns="$ns"
  pf_start "$work/pf-real-web.log" deployment/real-web ":$port"
  local_port="$(pf_local "$work/pf-real-web.log" "$port")"
  expect_eq "curl through kubectl port-forward to the real server" "ok" "$(curl -sf -m 10 "http://127.0.0.1:$local_port/healthz")"
  pf_stop
  kn delete service real-web --wait=true >/dev/null
  kn delete deployment real-web --wait=true >/dev/null
}
step "real pods: a python3 http.server Deployment is Ready once its httpGet probe passes (rollout status, endpoints, port-forward)" t_real_web_deployment

# redis-cli and pg_isready through kubectl port-forward, against real redis-server and
# PostgreSQL pods (Debian's packages; postgres runs as a non-root user on its own data) and
# against simulated ones. Real servers keep data; simulated ones answer the handshake only.
t_forwarded_database_clients() {
  local pf_ns=conf-fwd pgbin
  pgbin="$(compgen -G '/usr/lib/postgresql/*/bin/postgres' | sort -V | tail -n 1)"
  [ -n "$pgbin" ] || { echo "Debian's postgresql package is not installed" >&2; return 1; }
  k create namespace "$pf_ns" >/dev/null
  k -n "$pf_ns" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: real-redis
  annotations: {sandbox.kdeck.dev/run-command: "true"}
spec:
  containers:
    - name: redis
      image: redis:7
      command: [redis-server, --port, "6379", --save, "", --appendonly, "no"]
      ports: [{containerPort: 6379}]
      readinessProbe: {exec: {command: [redis-cli, ping]}, periodSeconds: 1}
---
apiVersion: v1
kind: Pod
metadata:
  name: real-postgres
  annotations: {sandbox.kdeck.dev/run-command: "true"}
spec:
  securityContext: {runAsUser: 999, runAsGroup: 999}
  volumes: [{name: data, emptyDir: {}}]
  containers:
    - name: postgres
      image: postgres:16
      command: [sh, -c, "initdb -D /var/lib/postgresql/data -U postgres --auth=trust >/dev/null && exec postgres -D /var/lib/postgresql/data -k /tmp -c listen_addresses=127.0.0.1"]
      env: [{name: PATH, value: "$(dirname "$pgbin"):/usr/bin:/bin"}]
      ports: [{containerPort: 5432}]
      volumeMounts: [{name: data, mountPath: /var/lib/postgresql}]
      readinessProbe: {exec: {command: [pg_isready, -h, 127.0.0.1, -U, postgres]}, periodSeconds: 1}
---
apiVersion: v1
kind: Pod
metadata: {name: sim-redis}
spec:
  containers: [{name: redis, image: "redis:7", ports: [{containerPort: 6379}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: sim-postgres}
spec:
  containers: [{name: postgres, image: "postgres:16", env: [{name: POSTGRES_PASSWORD, value: conf}], ports: [{containerPort: 5432}]}]
EOF
  k -n "$pf_ns" wait --for=condition=Ready pod/real-redis pod/real-postgres pod/sim-redis pod/sim-postgres --timeout=60s >/dev/null
  local pod log local_port
  for pod in real-redis sim-redis; do
    log="$work/pf-$pod.log"
    pf_start "$log" "pod/$pod" :6379
    local_port="$(pf_local "$log" 6379)"
    expect_eq "redis-cli ping through kubectl port-forward to $pod" "PONG" "$(redis-cli -h 127.0.0.1 -p "$local_port" ping)"
    pf_stop
  done
  pf_start "$work/pf-real-redis-2.log" pod/real-redis :6379
  local_port="$(pf_local "$work/pf-real-redis-2.log" 6379)"
  redis-cli -h 127.0.0.1 -p "$local_port" set greeting hello >/dev/null
  expect_eq "the real redis-server keeps what it was given" "hello" "$(redis-cli -h 127.0.0.1 -p "$local_port" get greeting)"
  pf_stop
  for pod in real-postgres sim-postgres; do
    log="$work/pf-$pod.log"
    pf_start "$log" "pod/$pod" :5432
    local_port="$(pf_local "$log" 5432)"
    expect_contains "pg_isready through kubectl port-forward to $pod" "$(pg_isready -h 127.0.0.1 -p "$local_port")" "accepting connections"
    pf_stop
  done
  pf_start "$work/pf-real-postgres-2.log" pod/real-postgres :5432
  local_port="$(pf_local "$work/pf-real-postgres-2.log" 5432)"
  expect_eq "psql through the forward, on the real server" "42" "$(psql -h 127.0.0.1 -p "$local_port" -U postgres -tAc 'select 40 + 2')"
  pf_stop
  k delete namespace "$pf_ns" --wait=false >/dev/null
}
step_needing redis-cli "real and simulated Redis and PostgreSQL through kubectl port-forward (redis-cli, pg_isready, psql)" t_forwarded_database_clients
