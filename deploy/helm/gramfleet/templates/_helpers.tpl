{{/* Name prefix of every object. */}}
{{- define "gramfleet.fullname" -}}
{{- default .Release.Name .Values.fullname | trunc 52 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of one component: (dict "root" $ "component" "x") */}}
{{- define "gramfleet.labels" -}}
app.kubernetes.io/name: gramfleet
app.kubernetes.io/instance: {{ include "gramfleet.fullname" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Environment shared by every process. */}}
{{- define "gramfleet.commonEnv" -}}
{{- if .Values.nats.urlSecret }}
- name: GRAMFLEET_NATS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.nats.urlSecret.name }}
      key: {{ .Values.nats.urlSecret.key }}
{{- else }}
- name: GRAMFLEET_NATS_URL
  value: {{ .Values.nats.url | quote }}
{{- end }}
- name: GRAMFLEET_PREFIX
  value: {{ .Values.prefix | quote }}
- name: GRAMFLEET_HEALTH_PORT
  value: {{ .Values.healthPort | quote }}
- name: GRAMFLEET_LOG_LEVEL
  value: info
{{- end -}}

{{- define "gramfleet.temporalEnv" -}}
- name: GRAMFLEET_TEMPORAL_ADDRESS
  value: {{ .Values.temporal.address | quote }}
- name: GRAMFLEET_NAMESPACE
  value: {{ .Values.temporal.namespace | quote }}
- name: GRAMFLEET_TASK_QUEUE
  value: {{ .Values.temporal.taskQueue | quote }}
{{- end -}}

{{/* Ports, probes, security context and the /tmp mount of every container. */}}
{{- define "gramfleet.containerCommon" -}}
ports:
  - name: health
    containerPort: {{ .Values.healthPort }}
livenessProbe:
  httpGet: { path: /healthz, port: health }
  periodSeconds: 10
  failureThreshold: 6
readinessProbe:
  httpGet: { path: /readyz, port: health }
  periodSeconds: 5
securityContext:
  readOnlyRootFilesystem: true
  allowPrivilegeEscalation: false
  runAsNonRoot: true
  capabilities: { drop: [ALL] }
volumeMounts:
  - name: tmp
    mountPath: /tmp
{{- end -}}

{{/* Pod-level security context and volumes. */}}
{{- define "gramfleet.podCommon" -}}
securityContext:
  runAsNonRoot: true
  runAsUser: 10001
  runAsGroup: 10001
  fsGroup: 10001
  seccompProfile: { type: RuntimeDefault }
terminationGracePeriodSeconds: 60
volumes:
  - name: tmp
    emptyDir: { sizeLimit: 1Gi }
{{- end -}}
