{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "incident-timer.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the release's objects. The StatefulSet's pods are named <fullname>-<ordinal>
and their PVCs data-<fullname>-<ordinal>, so it is kept to 52 characters.
*/}}
{{- define "incident-timer.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "incident-timer.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "incident-timer.labels" -}}
helm.sh/chart: {{ include "incident-timer.chart" . }}
{{ include "incident-timer.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: incident-timer
{{- end }}

{{/* Labels that select the worker pods (immutable in a StatefulSet: never change them). */}}
{{- define "incident-timer.selectorLabels" -}}
app.kubernetes.io/name: {{ include "incident-timer.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "incident-timer.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "incident-timer.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "incident-timer.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/* Where the pieces are mounted in the container. */}}
{{- define "incident-timer.dataDir" -}}/var/lib/incident-timer{{- end }}
{{- define "incident-timer.policyDir" -}}/etc/incident-timer/policy{{- end }}
{{- define "incident-timer.tlsDir" -}}/etc/incident-timer/tls{{- end }}

{{/* The alert rules, the one file promtool tests, with the job label of the ServiceMonitor. */}}
{{- define "incident-timer.alertRules" -}}
{{- $rules := .Files.Get "files/alerts.yaml" }}
{{- if not $rules }}
{{- fail "files/alerts.yaml is missing from the chart" }}
{{- end }}
{{- $job := .Values.serviceMonitor.jobLabel | default "incident-timer" }}
{{- if ne $job "incident-timer" }}
{{- $rules = $rules | replace "job=\"incident-timer\"" (printf "job=%q" $job) }}
{{- end }}
{{- $rules }}
{{- end }}
