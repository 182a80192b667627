# shellcheck shell=bash
# Port-forward and the proxy subresources with real kubectl and the Python client.
# Sourced by scripts/conformance (which defines step, expect_*, eventually, $ctx, $work,
# $python_k8s, $fixtures). The sandbox runs with --run-commands: pod `echo` really runs
# portforward.py's HTTP server in two containers (two ports); Deployment `sim` is simulated
# (its simulated nginx answers on its declared port).

pf_ns=conf-pf
pf_script="$fixtures/portforward.py"

kp() { timeout 60 kubectl --context "$ctx" --request-timeout=20s -n "$pf_ns" "$@"; }
# get --raw without --request-timeout, which would add its own query parameter.
kraw() { timeout 60 kubectl --context "$ctx" get --raw "$@"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# sha256 of N bytes of the server's /bytes pattern (byte i = i % 251).
pattern_sha() { python3 -c 'import hashlib, sys; n = int(sys.argv[1]); print(hashlib.sha256(bytes(i % 251 for i in range(n))).hexdigest())' "$1"; }

# pf_start LOG ARGS...: kubectl port-forward ARGS in the background (pid in $pf_pid), once it listens.
pf_start() {
  local log="$1"; shift
  timeout 120 kubectl --context "$ctx" -n "$pf_ns" port-forward "$@" >"$log" 2>&1 &
  pf_pid=$!
  eventually 20 grep -q "Forwarding from 127.0.0.1:" "$log" || { cat "$log" >&2; return 1; }
}
# pf_local LOG REMOTE: the local port kubectl forwards to REMOTE.
pf_local() { sed -n "s/^Forwarding from 127\.0\.0\.1:\([0-9]*\) -> $2\$/\1/p" "$1" | head -n 1; }
pf_stop() { kill "$pf_pid" 2>/dev/null || true; wait "$pf_pid" 2>/dev/null || true; }

pf_setup() {
  pf_port_a="$(free_port)"
  pf_port_b="$(free_port)"
  while [ "$pf_port_b" = "$pf_port_a" ]; do pf_port_b="$(free_port)"; done
  echo "$pf_port_a $pf_port_b" >"$work/pf-ports"
  k create namespace "$pf_ns" >/dev/null
  local script; script="$(cat "$pf_script")"
  jq -n --arg script "$script" --argjson a "$pf_port_a" --argjson b "$pf_port_b" '
    {apiVersion: "v1", kind: "List", items: [
      {apiVersion: "v1", kind: "Pod",
       metadata: {name: "echo", labels: {app: "echo"}, annotations: {"sandbox.kdeck.dev/run-command": "true"}},
       spec: {restartPolicy: "Never", containers: [
         {name: "a", image: "python:3", command: ["python3", "-c", $script, "serve", ($a | tostring)], ports: [{name: "http", containerPort: $a}]},
         {name: "b", image: "python:3", command: ["python3", "-c", $script, "serve", ($b | tostring)], ports: [{name: "alt", containerPort: $b}]}]}},
      {apiVersion: "v1", kind: "Service", metadata: {name: "echo"},
       spec: {selector: {app: "echo"}, ports: [{name: "web", port: 80, targetPort: "http"}, {name: "alt", port: 8081, targetPort: $b}]}},
      {apiVersion: "v1", kind: "Service", metadata: {name: "noeps"},
       spec: {selector: {app: "nobody"}, ports: [{port: 80}]}},
      {apiVersion: "apps/v1", kind: "Deployment", metadata: {name: "sim"},
       spec: {replicas: 1, selector: {matchLabels: {app: "sim"}},
              template: {metadata: {labels: {app: "sim"}}, spec: {containers: [{name: "web", image: "nginx:1.27", ports: [{containerPort: 8080}]}]}}}}]}' |
    kp apply -f - >/dev/null
  kp wait --for=condition=Ready pod/echo --timeout=30s >/dev/null
  # The servers answer once both have bound their ports.
  eventually 20 kp get --raw "/api/v1/namespaces/$pf_ns/pods/echo:$pf_port_a/proxy/ready" ||
    { kp get pod echo -o yaml; kp logs echo -c a; exit 1; }
  eventually 20 kp get --raw "/api/v1/namespaces/$pf_ns/pods/echo:$pf_port_b/proxy/ready"
  kp rollout status deploy/sim --timeout=30s >/dev/null
}
step "port-forward setup: a pod really serving two ports, Services, a simulated Deployment" pf_setup
read -r pf_port_a pf_port_b <"$work/pf-ports" 2>/dev/null || true

t_pf_pod() {
  local log="$work/pf-pod.log" local_port n=$((4 * 1024 * 1024)) i
  pf_start "$log" pod/echo ":$pf_port_a"
  local_port="$(pf_local "$log" "$pf_port_a")"
  grep -q "Handling connection" "$log" && { echo "a connection before any was made" >&2; exit 1; }
  expect_eq "GET through the forward" "GET /hello?x=1" \
    "$(curl -sf "http://127.0.0.1:$local_port/hello?x=1" | jq -r '"\(.method) \(.path)"')"
  expect_eq "4 MiB download, byte for byte" "$(pattern_sha "$n")" "$(curl -sf "http://127.0.0.1:$local_port/bytes/$n" | sha256sum | cut -d' ' -f1)"
  # Many connections at once over the one forward.
  local pids=()
  for i in $(seq 1 30); do
    curl -sf -o "$work/pf-par-$i" "http://127.0.0.1:$local_port/bytes/$((100000 + i))" &
    pids+=("$!")
  done
  for i in "${pids[@]}"; do wait "$i"; done
  for i in $(seq 1 30); do
    expect_eq "parallel download $i" "$(pattern_sha $((100000 + i)))" "$(sha256sum <"$work/pf-par-$i" | cut -d' ' -f1)"
  done
  expect_contains "kubectl's log" "$(cat "$log")" "Handling connection for $local_port"
  pf_stop
}
step "kubectl port-forward pod/NAME (SPDY over WebSocket): GET, 4 MiB, 30 parallel connections" t_pf_pod

t_pf_spdy() {
  local log="$work/pf-spdy.log" local_port up="$work/pf-upload" n=$((3 * 1024 * 1024))
  head -c "$n" /dev/urandom >"$up"
  KUBECTL_PORT_FORWARD_WEBSOCKETS=false pf_start "$log" pod/echo ":$pf_port_a" -v=4
  local_port="$(pf_local "$log" "$pf_port_a")"
  local echo; echo="$(curl -sf --data-binary @"$up" -H 'Content-Type: application/octet-stream' "http://127.0.0.1:$local_port/upload")"
  expect_eq "3 MiB upload over plain SPDY" "$(sha256sum <"$up" | cut -d' ' -f1) $n" "$(jq -r '"\(.bodySha256) \(.bodyLength)"' <<<"$echo")"
  expect_eq "download over plain SPDY" "$(pattern_sha "$n")" "$(curl -sf "http://127.0.0.1:$local_port/bytes/$n" | sha256sum | cut -d' ' -f1)"
  expect_not_contains "kubectl's log (no WebSocket tunnel)" "$(cat "$log")" "tunneling_dialer"
  pf_stop
}
step "kubectl port-forward over plain SPDY/3.1 (KUBECTL_PORT_FORWARD_WEBSOCKETS=false): 3 MiB up and down" t_pf_spdy

t_pf_svc_and_ports() {
  local log="$work/pf-svc.log" local_a local_b
  # kubectl resolves the Service to a pod and its port 80 to targetPort http.
  pf_start "$log" svc/echo :80 :8081
  local_a="$(pf_local "$log" "$pf_port_a")"
  local_b="$(pf_local "$log" "$pf_port_b")"
  [ -n "$local_a" ] && [ -n "$local_b" ] || { cat "$log" >&2; exit 1; }
  expect_eq "port 80 of svc/echo" "GET /a" "$(curl -sf "http://127.0.0.1:$local_a/a" | jq -r '"\(.method) \(.path)"')"
  expect_eq "port 8081 of svc/echo" "GET /b" "$(curl -sf "http://127.0.0.1:$local_b/b" | jq -r '"\(.method) \(.path)"')"
  pf_stop
}
step "kubectl port-forward svc/NAME with two ports at once" t_pf_svc_and_ports

t_pf_refused() {
  local log="$work/pf-refused.log" local_port closed; closed="$(free_port)"
  pf_start "$log" pod/echo ":$closed"
  local_port="$(pf_local "$log" "$closed")"
  expect_fails "curl through a forward to a port nothing listens on" curl -sf -m 10 "http://127.0.0.1:$local_port/"
  eventually 10 grep -q "lost connection to pod" "$log" || { cat "$log" >&2; exit 1; }
  local out; out="$(cat "$log")"
  expect_contains "kubectl's error" "$out" "an error occurred forwarding $local_port -> $closed: error forwarding port $closed to pod "
  expect_contains "kubectl's error" "$out" "failed to connect to localhost:$closed inside namespace"
  expect_contains "kubectl's error" "$out" "connect: connection refused"
  pf_stop
}
step "kubectl port-forward to a port nothing listens on: the kubelet's error, not a hang" t_pf_refused

t_pf_deploy() {
  local log="$work/pf-deploy.log" local_port
  # deploy/NAME resolves to one of its pods; that pod is simulated, and its simulated
  # nginx answers on the port it declares.
  pf_start "$log" deploy/sim :8080
  local_port="$(pf_local "$log" 8080)"
  expect_contains "curl through the simulated pod's forward" "$(curl -sf -m 10 "http://127.0.0.1:$local_port/")" "Welcome to nginx!"
  expect_contains "kubectl forwards to the declared port" "$(cat "$log")" "Forwarding from 127.0.0.1:$local_port -> 8080"
  pf_stop
}
step "kubectl port-forward deploy/NAME resolves to its pod (a simulated nginx answers)" t_pf_deploy

t_pf_not_running() {
  kp run done --image=busybox --restart=Never --annotations=sandbox.kdeck.dev/run-command=true --command -- true >/dev/null
  eventually 20 output_is Succeeded kp get pod done -o jsonpath='{.status.phase}'
  expect_fails "port-forward to a completed pod" kp port-forward pod/done :80
  expect_contains "kubectl's refusal" "$out" "unable to forward port because pod is not running. Current status=Succeeded"
  expect_fails "port-forward to a pod that does not exist" kp port-forward pod/nosuch :80
  expect_contains "kubectl's refusal" "$out" 'pods "nosuch" not found'
}
step "kubectl port-forward to a completed or missing pod is refused" t_pf_not_running

t_pf_python() {
  local closed out; closed="$(free_port)"
  out="$(timeout 120 "$python_k8s" "$pf_script" client "$KUBECONFIG" "$ctx" "$pf_ns" echo "$pf_port_a" "$closed" 2>&1)"
  expect_eq "portforward.py client" ok "$out"
}
step "Python client: kubernetes.stream.portforward, two ports (1 MiB up, 3 MiB down, a refused port's error)" t_pf_python

t_proxy_raw() {
  local base="/api/v1/namespaces/$pf_ns" out
  out="$(kraw "$base/services/echo:80/proxy/some/path?q=1&r=two")"
  expect_eq "services/echo:80/proxy (GET, path and query)" "GET /some/path?q=1&r=two" "$(jq -r '"\(.method) \(.path)"' <<<"$out")"
  expect_eq "no credentials passed on" "null" "$(jq -r '.headers.authorization' <<<"$out")"
  expect_eq "X-Forwarded-Uri" "$base/services/echo:80/proxy/some/path" "$(jq -r '.headers["x-forwarded-uri"]' <<<"$out")"
  expect_eq "services/echo:web/proxy (port by name)" "/by-name" "$(kraw "$base/services/echo:web/proxy/by-name" | jq -r .path)"
  expect_eq "services/http:echo:8081/proxy (scheme and the other port)" "/alt" "$(kraw "$base/services/http:echo:8081/proxy/alt" | jq -r .path)"
  expect_eq "pods/echo:PORT/proxy" "/pod" "$(kraw "$base/pods/echo:$pf_port_a/proxy/pod" | jq -r .path)"
  expect_eq "pods/echo/proxy (first declared port)" "/first" "$(kraw "$base/pods/echo/proxy/first" | jq -r .path)"
  expect_fails "a Service without endpoints" kraw "$base/services/noeps:80/proxy/"
  expect_contains "its error" "$out" 'Error from server (ServiceUnavailable): no endpoints available for service "noeps"'
  expect_fails "a port the Service does not have" kraw "$base/services/echo:81/proxy/"
  expect_contains "its error" "$out" 'no service port 81 found for service "echo"'
  expect_fails "a port name the Service does not have" kraw "$base/services/echo:nope/proxy/"
  expect_contains "its error" "$out" 'no endpoints available for service "echo:nope"'
  expect_fails "a port the pod does not listen on" kraw "$base/pods/echo:1/proxy/"
  expect_contains "its error" "$out" "error trying to reach service: dial tcp "
}
step "kubectl get --raw through services/…/proxy and pods/…/proxy (and their errors)" t_proxy_raw

t_kubectl_proxy() {
  local log="$work/kubectl-proxy.log" port url up="$work/proxy-upload" out n=$((2 * 1024 * 1024))
  timeout 120 kubectl --context "$ctx" proxy --port=0 >"$log" 2>&1 &
  local pid=$!
  eventually 20 grep -q "Starting to serve on" "$log" || { cat "$log" >&2; exit 1; }
  port="$(sed -n 's/^Starting to serve on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$log")"
  url="http://127.0.0.1:$port/api/v1/namespaces/$pf_ns/services/echo:80/proxy"
  head -c "$n" /dev/urandom >"$up"
  local sha; sha="$(sha256sum <"$up" | cut -d' ' -f1)"
  for method in POST PUT PATCH; do
    out="$(curl -sf -X "$method" --data-binary @"$up" -H 'X-Custom: kept' "$url/m?k=v")"
    expect_eq "$method with a 2 MiB body" "$method /m?k=v $n $sha kept" \
      "$(jq -r '"\(.method) \(.path) \(.bodyLength) \(.bodySha256) \(.headers["x-custom"])"' <<<"$out")"
  done
  out="$(curl -sf -H 'Transfer-Encoding: chunked' --data-binary @"$up" "$url/chunked")"
  expect_eq "a chunked upload" "$n $sha" "$(jq -r '"\(.bodyLength) \(.bodySha256)"' <<<"$out")"
  expect_eq "DELETE" "DELETE" "$(curl -sf -X DELETE "$url/d" | jq -r .method)"
  out="$(curl -sf -D - -o /dev/null "$url/h")"
  expect_contains "the backend's headers" "$out" "X-Echo: yes"
  expect_not_contains "the backend's CORS headers are dropped" "$out" "Access-Control-Allow-Origin"
  out="$(curl -s -D - -o /dev/null "$url/redirect")"
  expect_contains "a redirect, under the proxy path" "$out" "Location: /api/v1/namespaces/$pf_ns/services/echo:80/proxy/echo?from=redirect"
  out="$(curl -s -D - -o /dev/null "$url")"
  expect_contains "the proxy root without its slash" "$out" "301 Moved Permanently"
  expect_contains "the proxy root without its slash" "$out" "Location: /api/v1/namespaces/$pf_ns/services/echo:80/proxy/"
  expect_eq "a 6 MiB download through kubectl proxy" "$(pattern_sha $((6 * 1024 * 1024)))" \
    "$(curl -sf "$url/bytes/$((6 * 1024 * 1024))" | sha256sum | cut -d' ' -f1)"
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
step "kubectl proxy + curl: methods, 2 MiB bodies (chunked too), headers, redirects, 6 MiB download" t_kubectl_proxy

t_proxy_upgrade() {
  local out
  out="$(timeout 60 "$python_k8s" "$pf_script" upgrade "$KUBECONFIG" "$ctx" "/api/v1/namespaces/$pf_ns/services/echo:80/proxy/upgrade" 2>&1)"
  expect_eq "portforward.py upgrade" ok "$out"
}
step "an upgraded connection (Upgrade: echo) through services/…/proxy" t_proxy_upgrade
