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

{{/* The host store of an orchestrator or worker container (values.hostStore). */}}
{{- define "gramfleet.hostStoreEnv" -}}
{{- if .Values.hostStore.enabled }}
- name: GRAMFLEET_HOST_STORE_DIR
  value: /var/run/gramfleet/arrays
- name: GRAMFLEET_HOST_STORE_MB
  value: {{ .Values.hostStore.sizeMB | quote }}
{{- with .Values.hostStore.peerSecret }}
- name: GRAMFLEET_PEER_PORT
  value: {{ $.Values.hostStore.peerPort | quote }}
- name: GRAMFLEET_PEER_ADVERTISE
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
- name: GRAMFLEET_PEER_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ .name }}
      key: {{ .key }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
Ports, probes, security context and mounts of every container: (dict "root" $ "store" bool);
`store`: the container keeps a host store (its peer port and the arrays volume).
*/}}
{{- define "gramfleet.containerCommon" -}}
{{- $store := and .store .root.Values.hostStore.enabled -}}
ports:
  - name: health
    containerPort: {{ .root.Values.healthPort }}
{{- if and $store .root.Values.hostStore.peerSecret }}
  - name: peer
    containerPort: {{ .root.Values.hostStore.peerPort }}
{{- end }}
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
{{- if $store }}
  - name: arrays
    mountPath: /var/run/gramfleet/arrays
{{- end }}
{{- end -}}

{{/* Pod-level security context and volumes: (dict "root" $ "store" bool), as containerCommon. */}}
{{- define "gramfleet.podCommon" -}}
{{- $store := and .store .root.Values.hostStore.enabled -}}
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
{{- if $store }}
  - name: arrays
    emptyDir:
      medium: Memory
      sizeLimit: {{ printf "%dMi" (int .root.Values.hostStore.sizeMB) }}
{{- end }}
{{- end -}}
