{{/* The labels of every object of the release. */}}
{{- define "frontend.labels" -}}
app: frontend
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{/* The pods' selector. */}}
{{- define "frontend.selector" -}}
app: frontend
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
