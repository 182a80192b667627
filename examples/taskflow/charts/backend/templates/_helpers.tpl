{{/* The labels of every object of the release. */}}
{{- define "backend.labels" -}}
app: backend
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{/* The pods' selector. */}}
{{- define "backend.selector" -}}
app: backend
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
