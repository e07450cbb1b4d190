{{/* Names ------------------------------------------------------------------------------- */}}

{{- define "livc.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's base name; component suffixes (-web, -migrate, ...) are added to it. */}}
{{- define "livc.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "livc.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "livc.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Labels: call with (dict "root" $ "component" "web") ---------------------------------- */}}

{{- define "livc.selectorLabels" -}}
app.kubernetes.io/name: {{ include "livc.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end -}}

{{- define "livc.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "livc.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: livc
{{- end -}}

{{/* Image ---------------------------------------------------------------------------------- */}}

{{- define "livc.image" -}}
{{- $image := .Values.image -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $image.repository $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $image.repository (default .Chart.AppVersion $image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Settings ------------------------------------------------------------------------------- */}}

{{/* Non-secret LIVC_* settings as a YAML map: the ConfigMap's data and the migration job's env. */}}
{{- define "livc.settings" -}}
{{- $c := .Values.config -}}
{{- $settings := dict
      "LIVC_ENV" "production"
      "LIVC_LOG_LEVEL" $c.logLevel
      "LIVC_DEFAULT_LOCALE" $c.defaultLocale
      "LIVC_DATABASE_POOL_SIZE" (toString (int64 $c.databasePoolSize))
      "LIVC_MAX_CONTENT_LENGTH" (toString (int64 $c.maxContentLength))
      "LIVC_QUEUE_PREFIX" $c.queuePrefix
      "LIVC_FORWARDED_ALLOW_IPS" $c.forwardedAllowIps
      "LIVC_MAIL_FROM" $c.mailFrom -}}
{{- $publicUrl := $c.publicUrl | default (ternary (printf "https://%s" .Values.ingress.host) "" (not (empty .Values.ingress.host))) -}}
{{- if $publicUrl }}
{{- $_ := set $settings "LIVC_PUBLIC_URL" $publicUrl -}}
{{- end }}
{{- if .Values.metrics.enabled }}
{{- $_ := set $settings "LIVC_METRICS_PORT" (toString (int64 .Values.metrics.port)) -}}
{{- end }}
{{- range $key, $value := $c.extra }}
{{- $_ := set $settings $key (toString $value) -}}
{{- end }}
{{- /* The environment is not configurable: always production rules. */}}
{{- $_ := set $settings "LIVC_ENV" "production" -}}
{{- toYaml $settings -}}
{{- end -}}

{{/* Process-level environment every container gets (the root filesystem is read-only). */}}
{{- define "livc.runtimeEnv" -}}
- name: HOME
  value: /tmp
- name: TMPDIR
  value: /tmp
- name: PYTHONDONTWRITEBYTECODE
  value: "1"
- name: PYTHONUNBUFFERED
  value: "1"
{{- end -}}

{{- define "livc.secretRef" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .secret | quote }}
      key: {{ .key | quote }}
{{- end -}}

{{/* What the app processes (web, worker, cron) read from the operator's Secret. Never the
     owner's migration URL: the app must not be able to act as the table owner. */}}
{{- define "livc.appSecretEnv" -}}
{{- $secret := .Values.existingSecret -}}
{{- $keys := .Values.secretKeys -}}
{{ include "livc.secretRef" (dict "name" "LIVC_SECRET_KEY" "secret" $secret "key" $keys.secretKey) }}
{{ include "livc.secretRef" (dict "name" "LIVC_DATABASE_URL" "secret" $secret "key" $keys.databaseUrl) }}
{{ include "livc.secretRef" (dict "name" "LIVC_REDIS_URL" "secret" $secret "key" $keys.redisUrl) }}
{{ include "livc.secretRef" (dict "name" "LIVC_SMTP_URL" "secret" $secret "key" $keys.smtpUrl) }}
{{ include "livc.secretRef" (dict "name" "LIVC_MASTER_KEY" "secret" $secret "key" $keys.masterKey) }}
{{- end -}}

{{/* Pod and container hardening ------------------------------------------------------------- */}}

{{- define "livc.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.podSecurityContext.runAsUser }}
runAsGroup: {{ .Values.podSecurityContext.runAsGroup }}
fsGroup: {{ .Values.podSecurityContext.fsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "livc.containerSecurityContext" -}}
runAsNonRoot: true
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
privileged: false
capabilities:
  drop: ["ALL"]
{{- end -}}

{{- define "livc.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end -}}

{{- define "livc.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end -}}

{{/* Scheduling and pod metadata shared by every workload; call with (dict "root" $ "pod" .Values.web). */}}
{{- define "livc.podScheduling" -}}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (.pod.nodeSelector | default .root.Values.nodeSelector) }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (.pod.tolerations | default .root.Values.tolerations) }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (.pod.affinity | default .root.Values.affinity) }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .root.Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- end -}}

{{- define "livc.podMetadata" -}}
labels:
  {{- include "livc.labels" (dict "root" .root "component" .component) | nindent 2 }}
  {{- with .extraLabels }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
  {{- with .root.Values.podLabels }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
annotations:
  checksum/config: {{ include "livc.settings" .root | sha256sum }}
  {{- if and .metrics .root.Values.metrics.enabled .root.Values.metrics.scrapeAnnotations }}
  prometheus.io/scrape: "true"
  prometheus.io/port: {{ .root.Values.metrics.port | quote }}
  prometheus.io/path: /metrics
  {{- end }}
  {{- with .root.Values.podAnnotations }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end -}}

{{/* The key custodian ----------------------------------------------------------------------- */}}

{{- define "livc.custodianServiceAccountName" -}}
{{- $account := .Values.custodian.serviceAccount -}}
{{- if $account.create -}}
{{- default (printf "%s-custodian" (include "livc.fullname" .)) $account.name -}}
{{- else -}}
{{- default "default" $account.name -}}
{{- end -}}
{{- end -}}

{{/* Where the platform reaches its custodian: the in-cluster Service when the chart deploys it,
     custodian.url for one run elsewhere, or nothing (federation jobs then wait and retry). */}}
{{- define "livc.custodianUrl" -}}
{{- $c := .Values.custodian -}}
{{- if and $c.enabled $c.url -}}
{{- fail "custodian: set custodian.enabled (the chart deploys it) or custodian.url (one run elsewhere), not both" -}}
{{- end -}}
{{- if $c.enabled -}}
{{- printf "http://%s-custodian.%s.svc:%d" (include "livc.fullname" .) .Release.Namespace (int64 $c.port) -}}
{{- else -}}
{{- $c.url -}}
{{- end -}}
{{- end -}}

{{/* What web and worker (which run the federation's jobs and pages) need to reach the
     custodian: its address and this platform's client id and secret, from the operator's
     Secret. Never the custodian's own files. */}}
{{- define "livc.custodianClientEnv" -}}
{{- $url := include "livc.custodianUrl" . -}}
{{- if $url -}}
- name: LIVC_CUSTODIAN_URL
  value: {{ $url | quote }}
{{ include "livc.secretRef" (dict "name" "LIVC_CUSTODIAN_CLIENT_ID" "secret" .Values.existingSecret "key" .Values.secretKeys.custodianClientId) }}
{{ include "livc.secretRef" (dict "name" "LIVC_CUSTODIAN_CLIENT_SECRET" "secret" .Values.existingSecret "key" .Values.secretKeys.custodianClientSecret) }}
{{- end }}
{{- end -}}

{{/* Metrics ---------------------------------------------------------------------------------- */}}

{{/* The port the app processes (web, worker, cron) serve their metrics on (LIVC_METRICS_PORT). */}}
{{- define "livc.metricsPort" -}}
{{- if .Values.metrics.enabled -}}
- name: metrics
  containerPort: {{ .Values.metrics.port }}
  protocol: TCP
{{- end -}}
{{- end -}}

{{/* Every queue of the platform (livc.platform.jobs.QUEUES; tests/test_helm.py checks they agree). */}}
{{- define "livc.queues" -}}default mail federation maintenance{{- end -}}

{{/* Autoscaling ------------------------------------------------------------------------------ */}}

{{/* A HorizontalPodAutoscaler; call with (dict "root" $ "name" "<release>-web" "component" "web"
     "extraLabels" dict "autoscaling" .Values.web.autoscaling). */}}
{{- define "livc.hpa" -}}
{{- $a := .autoscaling -}}
{{- if gt (int64 $a.minReplicas) (int64 $a.maxReplicas) -}}
{{- fail (printf "%s: autoscaling.minReplicas (%d) is above maxReplicas (%d)" .name (int64 $a.minReplicas) (int64 $a.maxReplicas)) -}}
{{- end -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ .name }}
  labels:
    {{- include "livc.labels" (dict "root" .root "component" .component) | nindent 4 }}
    {{- with .extraLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ .name }}
  minReplicas: {{ $a.minReplicas }}
  maxReplicas: {{ $a.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $a.targetCPUUtilizationPercentage }}
  behavior:
    # Scale down slowly: a worker pod in its grace period finishes its job first.
    scaleDown:
      stabilizationWindowSeconds: 300
{{- end -}}
