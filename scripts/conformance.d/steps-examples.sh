# shellcheck shell=bash
# Conformance steps of the examples (sourced by scripts/conformance): the real helm lints the
# taskflow charts — strict, with the default and the dev values, no warning allowed — and
# renders them with the names the checklist uses.

taskflow_charts="$repo/examples/taskflow/charts"

# lint_clean CHART [ARGS…]: `helm lint --strict`, and no [WARNING] or [ERROR] line in its output.
lint_clean() {
  local out
  out="$(timeout 60 helm lint --strict "$@" 2>&1)" || { printf '%s\n' "$out" >&2; return 1; }
  if printf '%s\n' "$out" | grep -E '\[(WARNING|ERROR)\]' >&2; then
    echo "helm lint $*: warnings above" >&2
    return 1
  fi
  expect_contains "helm lint $*" "$out" "1 chart(s) linted, 0 chart(s) failed"
}

t_taskflow_lint() {
  local chart
  for chart in backend frontend; do
    lint_clean "$taskflow_charts/$chart"
    lint_clean "$taskflow_charts/$chart" -f "$taskflow_charts/$chart/values-dev.yaml"
  done
  # The chart-made Secret (without kdeck): needs the key, and lints clean with one.
  lint_clean "$taskflow_charts/backend" --set secret.create=true --set secret.openaiApiKey=sk-lint-placeholder
  expect_fails "helm template without the key" \
    timeout 60 helm template backend "$taskflow_charts/backend" --set secret.create=true
}
step "helm lint --strict: the taskflow charts, default and dev values, no warnings" t_taskflow_lint

t_taskflow_render() {
  local backend frontend
  backend="$(timeout 60 helm template backend "$taskflow_charts/backend" -f "$taskflow_charts/backend/values-dev.yaml")"
  frontend="$(timeout 60 helm template frontend "$taskflow_charts/frontend" -f "$taskflow_charts/frontend/values-dev.yaml")"
  expect_contains "backend Service" "$backend" "name: backend-service"
  expect_contains "backend NodePort in dev" "$backend" "type: NodePort"
  expect_contains "backend key from openai-secret" "$backend" "name: openai-secret"
  for key in DATABASE_URL ENVIRONMENT LOG_LEVEL; do expect_contains "backend ConfigMap" "$backend" "$key:"; done
  expect_contains "frontend Service" "$frontend" "name: frontend-service"
  expect_contains "frontend API URL" "$frontend" 'NEXT_PUBLIC_API_URL: "http://backend-service:8000"'
}
step "helm template: taskflow's Services, ConfigMaps and Secret reference" t_taskflow_render
