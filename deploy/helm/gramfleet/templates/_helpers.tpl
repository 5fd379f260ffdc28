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

{{/* Environment shared by the orchestrator and the workers. */}}
{{- define "gramfleet.commonEnv" -}}
- name: GRAMFLEET_PREFIX
  value: {{ .Values.prefix | quote }}
- name: GRAMFLEET_HEALTH_PORT
  value: {{ .Values.healthPort | quote }}
- name: GRAMFLEET_LOG_LEVEL
  value: info
- name: GRAMFLEET_NATS_REPLICAS
  value: {{ .Values.nats.replicas | quote }}
{{- end -}}

{{/*
The NATS connection of a pod connecting as `role` (dict "root" $ "role" "x"): the URL, and the
paths of the role's credentials and the CA, mounted from Secrets (never env values).
*/}}
{{- define "gramfleet.natsEnv" -}}
{{- $n := .root.Values.nats -}}
- name: GRAMFLEET_NATS_URL
  value: {{ $n.url | quote }}
{{- if $n.creds.enabled }}
- name: GRAMFLEET_NATS_CREDS
  value: /etc/gramfleet/nats/creds/{{ .role }}.creds
{{- end }}
{{- if $n.tls.enabled }}
- name: GRAMFLEET_NATS_CA
  value: /etc/gramfleet/nats/tls/ca.crt
{{- if $n.tls.clientSecretName }}
- name: GRAMFLEET_NATS_CERT
  value: /etc/gramfleet/nats/tls/tls.crt
- name: GRAMFLEET_NATS_KEY
  value: /etc/gramfleet/nats/tls/tls.key
{{- end }}
{{- end }}
{{- end -}}

{{/* The Temporal connection: address, and the paths of the TLS files and API key (mounted). */}}
{{- define "gramfleet.temporalEnv" -}}
{{- $t := .Values.temporal -}}
- name: GRAMFLEET_TEMPORAL_ADDRESS
  value: {{ $t.address | quote }}
- name: GRAMFLEET_NAMESPACE
  value: {{ $t.namespace | quote }}
- name: GRAMFLEET_TASK_QUEUE
  value: {{ $t.taskQueue | quote }}
{{- if $t.tls.enabled }}
- name: GRAMFLEET_TEMPORAL_TLS_CA
  value: /etc/gramfleet/temporal/tls/ca.crt
{{- if $t.tls.mutual }}
- name: GRAMFLEET_TEMPORAL_TLS_CERT
  value: /etc/gramfleet/temporal/tls/tls.crt
- name: GRAMFLEET_TEMPORAL_TLS_KEY
  value: /etc/gramfleet/temporal/tls/tls.key
{{- end }}
{{- end }}
{{- if and $t.tls.serverName (or $t.tls.enabled $t.apiKey.secretName) }}
- name: GRAMFLEET_TEMPORAL_TLS_SERVER_NAME
  value: {{ $t.tls.serverName | quote }}
{{- end }}
{{- if $t.apiKey.secretName }}
- name: GRAMFLEET_TEMPORAL_API_KEY_FILE
  value: /etc/gramfleet/temporal/api-key
{{- end }}
{{- end -}}

{{/* The host store of an orchestrator or worker container (values.hostStore). */}}
{{/* The orchestrator's cache of inputs named by object reference (an emptyDir, bounded by the orchestrator). */}}
{{- define "gramfleet.fileCacheEnv" -}}
- name: GRAMFLEET_FILE_CACHE_DIR
  value: /var/cache/gramfleet/files
- name: GRAMFLEET_FILE_CACHE_MAX_BYTES
  value: {{ mul (int .Values.orchestrator.fileCache.sizeMB) 1048576 | quote }}
{{- end -}}

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
- name: GRAMFLEET_PEER_SECRET_FILE
  value: /etc/gramfleet/peer/secret
{{- end }}
{{- end }}
{{- end -}}

{{/*
Ports, probes, security context and mounts of every container:
(dict "root" $ "role" "<NATS role or empty>" "temporal" bool "store" bool);
`store`: the container keeps a host store (its peer port and the arrays volume).
Every secret is a read-only file under /etc/gramfleet.
*/}}
{{- define "gramfleet.containerCommon" -}}
{{- $v := .root.Values -}}
{{- $store := and .store $v.hostStore.enabled -}}
ports:
  - name: health
    containerPort: {{ $v.healthPort }}
{{- if and $store $v.hostStore.peerSecret }}
  - name: peer
    containerPort: {{ $v.hostStore.peerPort }}
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
  seccompProfile: { type: RuntimeDefault }
volumeMounts:
  - name: tmp
    mountPath: /tmp
{{- if and .role (or $v.nats.creds.enabled $v.nats.tls.enabled) }}
  - name: nats
    mountPath: /etc/gramfleet/nats
    readOnly: true
{{- end }}
{{- if and .temporal (or $v.temporal.tls.enabled $v.temporal.apiKey.secretName) }}
  - name: temporal
    mountPath: /etc/gramfleet/temporal
    readOnly: true
{{- end }}
{{- if $store }}
  - name: arrays
    mountPath: /var/run/gramfleet/arrays
{{- if $v.hostStore.peerSecret }}
  - name: peer
    mountPath: /etc/gramfleet/peer
    readOnly: true
{{- end }}
{{- end }}
{{- if .files }}
  - name: files
    mountPath: /var/cache/gramfleet/files
{{- end }}
{{- end -}}

{{/* Pod-level security context and volumes: the same dict as containerCommon. */}}
{{- define "gramfleet.podCommon" -}}
{{- $v := .root.Values -}}
{{- $store := and .store $v.hostStore.enabled -}}
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
{{- if and .role (or $v.nats.creds.enabled $v.nats.tls.enabled) }}
  - name: nats
    projected:
      defaultMode: 288
      sources:
{{- if $v.nats.creds.enabled }}
        - secret:
            name: {{ $v.nats.creds.secretPrefix }}-{{ .role }}
            items: [{ key: {{ .role }}.creds, path: creds/{{ .role }}.creds }]
{{- end }}
{{- if $v.nats.tls.enabled }}
        - secret:
            name: {{ $v.nats.tls.secretName }}
            items: [{ key: ca.crt, path: tls/ca.crt }]
{{- with $v.nats.tls.clientSecretName }}
        - secret:
            name: {{ . }}
            items:
              - { key: tls.crt, path: tls/tls.crt }
              - { key: tls.key, path: tls/tls.key }
{{- end }}
{{- end }}
{{- end }}
{{- if and .temporal (or $v.temporal.tls.enabled $v.temporal.apiKey.secretName) }}
  - name: temporal
    projected:
      defaultMode: 288
      sources:
{{- if $v.temporal.tls.enabled }}
        - secret:
            name: {{ $v.temporal.tls.secretName }}
            items:
              - { key: ca.crt, path: tls/ca.crt }
{{- if $v.temporal.tls.mutual }}
              - { key: tls.crt, path: tls/tls.crt }
              - { key: tls.key, path: tls/tls.key }
{{- end }}
{{- end }}
{{- with $v.temporal.apiKey.secretName }}
        - secret:
            name: {{ . }}
            items: [{ key: {{ $v.temporal.apiKey.key }}, path: api-key }]
{{- end }}
{{- end }}
{{- if $store }}
  - name: arrays
    emptyDir:
      medium: Memory
      sizeLimit: {{ printf "%dMi" (int $v.hostStore.sizeMB) }}
{{- with $v.hostStore.peerSecret }}
  - name: peer
    secret:
      secretName: {{ .name }}
      defaultMode: 288
      items: [{ key: {{ .key }}, path: secret }]
{{- end }}
{{- end }}
{{- if .files }}
  - name: files
    emptyDir: { sizeLimit: {{ printf "%dMi" (add (int $v.orchestrator.fileCache.sizeMB) 256) }} }
{{- end }}
{{- end -}}
