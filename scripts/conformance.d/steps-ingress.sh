# shellcheck shell=bash
# Conformance steps of the sandbox network (sourced by scripts/conformance): the ingress address
# with curl, a NodePort on loopback, and the simulated Redis and PostgreSQL servers reached by
# NodePort with their own clients (redis-cli, pg_isready, psql).
#
# Clients that are not part of the reference set (redis-cli, pg_isready, psql) may be missing on a
# developer's machine: their steps are then skipped with a message; under CI (CI set) a missing one
# fails its step.

net_ns=conf-net
kne() { k -n "$net_ns" "$@"; }

ingress_url() { sandbox_status | jsonq '.ingress'; }
net_node_port() { kne get service "$1" -o jsonpath='{.spec.ports[0].nodePort}'; }

t_net_setup() {
  k create namespace "$net_ns"
  kne apply -f - <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: whoami}
spec:
  replicas: 2
  selector: {matchLabels: {app: whoami}}
  template:
    metadata: {labels: {app: whoami}}
    spec:
      containers:
      - name: whoami
        image: traefik/whoami:v1.10
        ports: [{name: http, containerPort: 80}]
        readinessProbe: {httpGet: {path: /health, port: http}}
---
apiVersion: v1
kind: Service
metadata: {name: whoami}
spec:
  type: NodePort
  selector: {app: whoami}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: whoami
  annotations:
    nginx.ingress.kubernetes.io/use-regex: "true"
    nginx.ingress.kubernetes.io/rewrite-target: /$2
spec:
  ingressClassName: nginx
  rules:
  - host: whoami.conf.test
    http:
      paths:
      - path: /api(/|$)(.*)
        pathType: ImplementationSpecific
        backend: {service: {name: whoami, port: {name: http}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: redis}
spec:
  selector: {matchLabels: {app: redis}}
  template:
    metadata: {labels: {app: redis}}
    spec:
      containers:
      - name: redis
        image: redis:7.2
        args: ["--requirepass", "$(REDIS_PASSWORD)"]
        env: [{name: REDIS_PASSWORD, value: conf-redis}]
        ports: [{containerPort: 6379}]
---
apiVersion: v1
kind: Service
metadata: {name: redis}
spec: {type: NodePort, selector: {app: redis}, ports: [{port: 6379}]}
---
apiVersion: v1
kind: Secret
metadata: {name: postgres}
stringData: {password: conf-postgres}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: postgres}
spec:
  selector: {matchLabels: {app: postgres}}
  template:
    metadata: {labels: {app: postgres}}
    spec:
      containers:
      - name: postgres
        image: postgres:16
        env:
        - {name: POSTGRES_USER, value: app}
        - name: POSTGRES_PASSWORD
          valueFrom: {secretKeyRef: {name: postgres, key: password}}
        ports: [{name: postgres, containerPort: 5432}]
---
apiVersion: v1
kind: Service
metadata: {name: postgres}
spec: {type: NodePort, selector: {app: postgres}, ports: [{port: 5432}]}
EOF
  kne rollout status deployment/whoami --timeout=30s
  kne rollout status deployment/redis --timeout=30s
  kne rollout status deployment/postgres --timeout=30s
  expect_eq "the default IngressClass's controller" "k8s.io/ingress-nginx" "$(k get ingressclass nginx -o jsonpath='{.spec.controller}')"
}
step "network: whoami, redis and postgres behind NodePorts and an Ingress" t_net_setup

t_ingress_curl() {
  local url out code
  url="$(ingress_url)"
  case "$url" in http://127.0.0.1:*) ;; *) echo "status .ingress is [$url]" >&2; exit 1 ;; esac
  eventually 30 output_is 127.0.0.1 kne get ingress whoami -o jsonpath='{.status.loadBalancer.ingress[0].ip}'
  eventually 30 curl -fsS --max-time 5 -H 'Host: whoami.conf.test' "$url/api/hello"
  out="$(curl -fsS --max-time 5 -H 'Host: whoami.conf.test' "$url/api/hello?from=curl")"
  expect_contains "the rewritten request the backend saw" "$out" "GET /hello?from=curl HTTP/1.1"
  expect_contains "ingress-nginx's X-Forwarded-Host" "$out" "X-Forwarded-Host: whoami.conf.test"
  code="$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' -H 'Host: nobody.conf.test' "$url/")"
  expect_eq "an unknown host gets the default backend" 404 "$code"
}
step "ingress: curl through the ingress address to a path-routed backend with a rewrite" t_ingress_curl

t_node_port_curl() {
  local port out
  port="$(net_node_port whoami)"
  eventually 30 curl -fsS --max-time 5 "http://127.0.0.1:$port/np"
  out="$(curl -fsS --max-time 5 "http://127.0.0.1:$port/np")"
  expect_contains "the request through the NodePort" "$out" "GET /np HTTP/1.1"
}
step "NodePort: a Service's nodePort answers on 127.0.0.1" t_node_port_curl

t_redis_cli() {
  local port
  port="$(net_node_port redis)"
  eventually 30 output_is PONG redis-cli -h 127.0.0.1 -p "$port" -a conf-redis --no-auth-warning ping
  expect_contains "redis-cli without the password" "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>&1)" "NOAUTH Authentication required."
  expect_contains "redis-cli INFO" "$(redis-cli -h 127.0.0.1 -p "$port" -a conf-redis --no-auth-warning info server)" "redis_version:7.2"
}
step_needing redis-cli "simulated Redis: redis-cli -h 127.0.0.1 -p <nodePort> ping" t_redis_cli

t_pg_isready() {
  local port out
  port="$(net_node_port postgres)"
  eventually 30 pg_isready -h 127.0.0.1 -p "$port"
  expect_contains "pg_isready" "$(pg_isready -h 127.0.0.1 -p "$port")" "accepting connections"
  if command -v psql >/dev/null 2>&1; then
    out="$(PGPASSWORD=conf-postgres PGCONNECT_TIMEOUT=5 timeout 20 psql -h 127.0.0.1 -p "$port" -U app -X -A -t -c 'select 1')"
    expect_eq "psql select 1 (SCRAM-SHA-256)" 1 "$out"
    expect_fails "psql with a wrong password" env PGPASSWORD=wrong PGCONNECT_TIMEOUT=5 timeout 20 psql -h 127.0.0.1 -p "$port" -U app -X -c 'select 1'
    expect_contains "the wrong password's error" "$out" 'password authentication failed for user "app"'
  fi
}
step_needing pg_isready "simulated PostgreSQL: pg_isready (and psql select 1) against its nodePort" t_pg_isready
