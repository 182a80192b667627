# shellcheck shell=bash
# Where the sandbox must answer as kube-apiserver and the controller-manager do.
# Sourced by scripts/conformance (which defines step, expect_*, eventually, k, $ctx,
# $KUBECONFIG, $python_k8s, $fixtures).

fid_ns=conf-fidelity
fid_script="$fixtures/fidelity.py"

kf() { timeout 30 kubectl --context "$ctx" --request-timeout=20s -n "$fid_ns" "$@"; }

t_fidelity_create_twice() {
  k create namespace "$fid_ns" >/dev/null
  kf create configmap cm1 --from-literal=a=b >/dev/null
  expect_fails "create configmap cm1 again" kf create configmap cm1 --from-literal=a=b
  expect_contains "the message names the object" "$out" 'configmaps "cm1" already exists'
  # kubectl sends it as protobuf; the answer is the Status as the real server writes it.
  local body
  body="$(kf create configmap cm1 --from-literal=a=b -v=8 2>&1 | grep -o '{"kind":"Status".*"code":409}' | head -n 1 || true)"
  expect_eq "the Status body" \
    '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"configmaps \"cm1\" already exists","reason":"AlreadyExists","details":{"name":"cm1","kind":"configmaps"},"code":409}' \
    "$body"
}
step "kubectl create configmap twice: AlreadyExists names the object" t_fidelity_create_twice

t_fidelity_pod_phase() {
  local out
  out="$(timeout 60 "$python_k8s" "$fid_script" "$KUBECONFIG" "$ctx" "$fid_ns" pod-phase 2>&1)"
  expect_eq "fidelity.py pod-phase" ok "$out"
}
step "python: a created pod's response has status.phase Pending, its qosClass and serviceAccountName default" t_fidelity_pod_phase

t_fidelity_default_sa() {
  local out
  out="$(timeout 60 "$python_k8s" "$fid_script" "$KUBECONFIG" "$ctx" conf-fidelity-sa default-sa 2>&1)"
  expect_eq "fidelity.py default-sa" ok "$out"
}
step "python: a new namespace gets its default ServiceAccount and kube-root-ca.crt" t_fidelity_default_sa

t_fidelity_top() {
  local ns_top=conf-fidelity-top
  k create namespace "$ns_top" >/dev/null
  k -n "$ns_top" apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: busy
  labels: {app: busy}
  annotations:
    sandbox.kdeck.dev/cpu-usage: "250m"
    sandbox.kdeck.dev/memory-usage: "300Mi"
spec:
  containers:
    - {name: app, image: nginx}
YAML
  eventually 30 output_is Running k -n "$ns_top" get pod busy -o 'jsonpath={.status.phase}'
  eventually 20 k -n "$ns_top" top pod busy
  out="$(k -n "$ns_top" top pod -l app=busy --containers --no-headers)"
  expect_eq "kubectl top pod --containers" "busy app 250m 300Mi" "$(echo "$out" | tr -s ' ' | sed 's/ *$//')"
  out="$(k top pods -A --no-headers)"
  expect_contains "kubectl top pods -A lists the pod" "$out" "$ns_top"
  out="$(k top nodes --no-headers)"
  expect_contains "kubectl top nodes shows a percentage" "$out" "%"
  local node
  node="$(k get nodes -o 'jsonpath={.items[0].metadata.name}')"
  out="$(k get --raw "/api/v1/nodes/$node/proxy/stats/summary")"
  expect_contains "the kubelet's summary has the pod" "$out" '"name":"busy"'
}
step "kubectl top pods/nodes: metrics.k8s.io with declared usage; the kubelet's stats summary" t_fidelity_top

t_fidelity_aggregated_discovery() {
  local cache out
  cache="$(mktemp -d)"
  out="$(k api-resources --cache-dir "$cache" -v=6 2>&1)"
  expect_contains "api-resources lists deployments" "$out" "deployments"
  expect_contains "kubectl asked /apis" "$out" 'url="https://127.0.0.1:'
  # With aggregated discovery served, kubectl needs no per-group document.
  expect_not_contains "no fallback to the legacy per-group documents" "$out" "/apis/apps/v1?"
  rm -rf "$cache"
}
step "kubectl api-resources reads aggregated discovery (no per-group fallback)" t_fidelity_aggregated_discovery

t_fidelity_apiservices() {
  out="$(k get apiservices)"
  expect_contains "kubectl get apiservices: v1.apps, local and available" "$(echo "$out" | tr -s ' ')" "v1.apps Local True"
  k apply -f - >/dev/null <<'YAML'
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta1.custom.metrics.k8s.io}
spec: {group: custom.metrics.k8s.io, version: v1beta1, service: {namespace: monitoring, name: prometheus-adapter}, groupPriorityMinimum: 100, versionPriority: 100}
YAML
  expect_eq "an APIService created from YAML" "prometheus-adapter" "$(k get apiservice v1beta1.custom.metrics.k8s.io -o 'jsonpath={.spec.service.name}')"
  k delete apiservice v1beta1.custom.metrics.k8s.io >/dev/null
}
step "kubectl get apiservices; an APIService applied from YAML" t_fidelity_apiservices

t_fidelity_watch_table() {
  local ns_w=conf-fidelity-watch out_file pid
  k create namespace "$ns_w" >/dev/null
  out_file="$(mktemp)"
  timeout 20 kubectl --context "$ctx" -n "$ns_w" get configmaps -w --output-watch-events >"$out_file" 2>&1 &
  pid=$!
  eventually 10 grep -q kube-root-ca.crt "$out_file"
  k -n "$ns_w" create configmap w1 --from-literal=a=b >/dev/null
  k -n "$ns_w" create configmap w2 --from-literal=a=b --from-literal=c=d >/dev/null
  k -n "$ns_w" delete configmap w1 >/dev/null
  eventually 10 grep -q "DELETED" "$out_file"
  kill "$pid" 2>/dev/null || true
  out="$(tr -s ' ' <"$out_file")"
  expect_not_contains "later events keep the kind's columns (no generic header)" "$out" "EVENT NAME AGE"
  expect_contains "w2 with its DATA count" "$out" "ADDED w2 2 "
  expect_contains "the deletion with its DATA count" "$out" "DELETED w1 1 "
  rm -f "$out_file"
}
step "kubectl get -w --output-watch-events: every event printed with the kind's columns" t_fidelity_watch_table

t_fidelity_events() {
  local ns_e=conf-fidelity-events
  k create namespace "$ns_e" >/dev/null
  k -n "$ns_e" run evented --image=nginx >/dev/null
  eventually 20 output_is Running k -n "$ns_e" get pod evented -o 'jsonpath={.status.phase}'
  out="$(k -n "$ns_e" events --for pod/evented)"
  expect_contains "kubectl events shows the scheduling" "$out" "Successfully assigned $ns_e/evented"
  out="$(k -n "$ns_e" get events.events.k8s.io -o 'jsonpath={range .items[*]}{.reason}:{.note}{"\n"}{end}')"
  expect_contains "the same event through events.k8s.io, its message as note" "$out" "Scheduled:Successfully assigned $ns_e/evented"
  k -n "$ns_e" apply -f - >/dev/null <<'YAML'
apiVersion: events.k8s.io/v1
kind: Event
metadata: {name: evented.recorded}
eventTime: "2026-12-07T10:00:00.000000Z"
reportingController: example.com/operator
reportingInstance: operator-0
action: Reconcile
reason: Synced
note: recorded with events.k8s.io
type: Normal
regarding: {kind: Pod, name: evented, namespace: conf-fidelity-events}
YAML
  out="$(k -n "$ns_e" get events)"
  expect_contains "kubectl get events shows an events.k8s.io event" "$out" "recorded with events.k8s.io"
}
step "events: one store — kubectl events, kubectl get events and events.k8s.io agree" t_fidelity_events

t_fidelity_typed_bodies() {
  k -n "$fid_ns" create configmap typed --from-literal=a=b >/dev/null
  expect_fails "replace a ConfigMap with a number in data" k -n "$fid_ns" replace -f - <<YAML
apiVersion: v1
kind: ConfigMap
metadata: {name: typed, namespace: $fid_ns}
data: {a: 1}
YAML
  expect_contains "refused as the real server decodes it" "$out" 'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal number into Go struct field ConfigMap.data of type string'
  expect_eq "the ConfigMap is unchanged" "b" "$(kf get configmap typed -o 'jsonpath={.data.a}')"
}
step "kubectl replace with a wrongly typed field: 400 as the real server words it, nothing stored" t_fidelity_typed_bodies

# Paging, on a sandbox of its own seeded with 2000 pods (so the other steps keep a small one).
fid_paging=paging
t_fidelity_paging() {
  timeout 150 "$KDECK" sandbox start --detach --name "$fid_paging" --seed scale:2000 --timeout 120 >/dev/null 2>"$work/logs/paging-start.err" || {
    cat "$work/logs/paging-start.err" >&2; return 1; }
  local kp=(timeout 60 kubectl --context "$fid_paging" --request-timeout=50s) items paged whole requests
  items='[.items[] | .metadata.namespace + "/" + .metadata.name + "/" + .metadata.uid]'
  # kubectl's default --chunk-size=500: four pages, followed by their continue tokens.
  paged="$("${kp[@]}" get pods -A -o json -v=6 2>"$work/logs/paging-requests.log" | jq -c "$items")"
  requests="$(grep -c '/api/v1/pods?.*limit=500' "$work/logs/paging-requests.log" || true)"
  expect_eq "kubectl asked for 2000 pods in chunks of 500" 4 "$requests"
  expect_contains "and followed the continue tokens" "$(cat "$work/logs/paging-requests.log")" "/api/v1/pods?continue="
  whole="$("${kp[@]}" get pods -A -o json --chunk-size=0 | jq -c "$items")"
  expect_eq "pods listed" 2000 "$(jq length <<<"$whole")"
  expect_eq "paged and unpaged, the same items" "$whole" "$paged"
  out="$(timeout 120 "$python_k8s" "$fid_script" "$KUBECONFIG" "$fid_paging" conf-paging paging 2>&1)"
  expect_eq "fidelity.py paging" ok "$out"
  timeout 30 "$KDECK" sandbox delete --name "$fid_paging" >/dev/null
}
step "paging: kubectl get pods -A on 2000 pods, in chunks of 500 and whole, the same; python limit/_continue from a snapshot" t_fidelity_paging

t_fidelity_service_account_tokens() {
  local ns_sa=conf-fidelity-sa-token sa_dir=/var/run/secrets/kubernetes.io/serviceaccount token
  k create namespace "$ns_sa" >/dev/null
  k -n "$ns_sa" create serviceaccount robot >/dev/null
  token="$(k -n "$ns_sa" create token robot)"
  expect_eq "kubectl auth whoami --token" "system:serviceaccount:$ns_sa:robot" \
    "$(k auth whoami --token "$token" -o 'jsonpath={.status.userInfo.username}')"
  expect_fails "the account's token cannot write" k -n "$ns_sa" --token "$token" create configmap nope
  expect_contains "refused as RBAC words it" "$out" "User \"system:serviceaccount:$ns_sa:robot\" cannot create resource \"configmaps\""
  k -n "$ns_sa" run web --image=nginx --overrides='{"apiVersion": "v1", "spec": {"serviceAccountName": "robot"}}' >/dev/null
  expect_contains "the admission plugin's volume" \
    "$(k -n "$ns_sa" get pod web -o 'jsonpath={.spec.volumes[0].name} {.spec.volumes[0].projected.defaultMode} {.spec.containers[0].volumeMounts[0].mountPath}')" \
    " 420 $sa_dir"
  eventually 30 output_is Running k -n "$ns_sa" get pod web -o 'jsonpath={.status.phase}'
  expect_eq "kubectl exec cat of the mounted namespace" "$ns_sa" "$(k -n "$ns_sa" exec web -- cat "$sa_dir/namespace")"
  # An in-cluster client: the token and CA mounted, the API server at the kubernetes Service.
  out="$(k -n "$ns_sa" exec web -- python3 -c "
import json, os, ssl, urllib.request
ctx = ssl.create_default_context(cafile='$sa_dir/ca.crt')
req = urllib.request.Request('https://kubernetes.default.svc/api/v1/namespaces/$ns_sa/pods/web', headers={'Authorization': 'Bearer ' + open('$sa_dir/token').read()})
print(json.load(urllib.request.urlopen(req, context=ctx))['spec']['serviceAccountName'], os.environ['KUBERNETES_SERVICE_HOST'])
")"
  expect_eq "the pod reads itself through https://kubernetes.default.svc" "robot 10.96.0.1" "$out"
}
step "ServiceAccount tokens: kubectl create token, auth whoami, the mounted token volume, an in-pod client" t_fidelity_service_account_tokens
