# shellcheck shell=bash
# Conformance steps of `kdeck lint` and SARIF: the SARIF kdeck writes (lint's, located at files
# and lines; diagnose's, located at objects) validates against the official SARIF 2.1.0 JSON
# schema (sarif/sarif-schema-2.1.0.json, see sarif/NOTICE.md), checked with Python's jsonschema.

# sarif_valid FILE: the log validates against the schema and has results.
sarif_valid() {
  "$python_k8s" - "$fixtures/sarif/sarif-schema-2.1.0.json" "$1" <<'PY'
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
log = json.load(open(sys.argv[2]))
jsonschema.Draft4Validator.check_schema(schema)
errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(log), key=lambda e: list(e.path))
for e in errors[:5]:
    print("invalid at /" + "/".join(map(str, e.path)) + ": " + e.message, file=sys.stderr)
sys.exit(1 if errors or not log["runs"][0]["results"] else 0)
PY
}

t_lint_sarif() {
  (cd "$repo/crates/kdeck/tests/fixtures/lint" && timeout 60 "$KDECK" lint -o sarif --fail-on never .) > "$work/lint.sarif"
  sarif_valid "$work/lint.sarif"
  expect_contains "a result at its file and line" "$(cat "$work/lint.sarif")" '"uri": "manifests/app.yaml"'
}
step "kdeck lint -o sarif validates against the SARIF 2.1.0 schema" t_lint_sarif

t_diagnose_sarif() {
  # A namespace of its own, so that no other step sees these objects.
  local sarif_ns=conf-sarif
  k create namespace "$sarif_ns" >/dev/null
  k -n "$sarif_ns" create deployment sarif-crash --image=busybox:1.36 -- sh -c 'exit 1' >/dev/null
  k -n "$sarif_ns" expose deployment sarif-crash --port 80 --selector app=nothing-here >/dev/null
  timeout 60 "$KDECK" diagnose -n "$sarif_ns" --context "$ctx" -o sarif --fail-on never > "$work/diagnose.sarif"
  k delete namespace "$sarif_ns" --wait=false >/dev/null
  sarif_valid "$work/diagnose.sarif"
  expect_contains "the Service that selects nothing" "$(cat "$work/diagnose.sarif")" '"ruleId": "service-selects-nothing"'
}
step "kdeck diagnose -o sarif validates against the SARIF 2.1.0 schema" t_diagnose_sarif
