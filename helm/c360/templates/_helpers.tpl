{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "c360.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name; workloads append "-<service>", so keep room for it. */}}
{{- define "c360.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "c360.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object. */}}
{{- define "c360.labels" -}}
helm.sh/chart: {{ include "c360.chart" . }}
{{ include "c360.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: c360
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "c360.selectorLabels" -}}
app.kubernetes.io/name: {{ include "c360.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "c360.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "c360.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "c360.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "c360.clientLabel" -}}
{{- default (printf "%s-client" (include "c360.fullname" .)) .Values.networkPolicy.clientLabel -}}
{{- end -}}

{{/*
The workloads of the chosen mode, as a JSON list. Each has:
  component   app.kubernetes.io/component label
  name        object name
  services    the --services argument
  block       the values block with the workload settings
  health      the grpc.health.v1 service name the readiness probe asks for
  peers       services this workload calls over gRPC (not in process)
  callers     workloads that call this one over gRPC
The peer graph: resolver -> vault (key custody: the vault holds the clients'
data keys, GetWrappedDataKeys); vault -> resolver (feed, erasure);
search -> resolver; channels -> resolver, vault. Vault and resolver call each
other; either may start first (the vault retries the feed, the resolver
answers UNAVAILABLE for writes that need a key until the vault is up).
*/}}
{{- define "c360.workloads" -}}
{{- $fullname := include "c360.fullname" . -}}
{{- $list := list -}}
{{- if eq .Values.mode "single" -}}
{{- $list = append $list (dict "component" "all" "name" $fullname "services" "all" "block" "single" "health" "" "peers" (list) "callers" (list)) -}}
{{- else -}}
{{- $list = append $list (dict "component" "resolver" "name" (printf "%s-resolver" $fullname) "services" "resolver" "block" "resolver" "health" "c360.resolver.v1.ResolverService" "peers" (list "vault") "callers" (list "vault" "search" "channels")) -}}
{{- $list = append $list (dict "component" "vault" "name" (printf "%s-vault" $fullname) "services" "vault" "block" "vault" "health" "c360.vault.v1.VaultService" "peers" (list "resolver") "callers" (list "resolver" "channels")) -}}
{{- $list = append $list (dict "component" "search" "name" (printf "%s-search" $fullname) "services" "search" "block" "search" "health" "c360.search.v1.SearchService" "peers" (list "resolver") "callers" (list)) -}}
{{- $list = append $list (dict "component" "channels" "name" (printf "%s-channels" $fullname) "services" "channels" "block" "channels" "health" "c360.channels.v1.ChannelService" "peers" (list "resolver" "vault") "callers" (list)) -}}
{{- end -}}
{{- toJson $list -}}
{{- end -}}

{{/* The services run by a workload: {"root": ., "w": workload}. */}}
{{- define "c360.runs" -}}
{{- if eq .w.services "all" -}}
{{- toJson (list "resolver" "vault" "search" "channels") -}}
{{- else -}}
{{- toJson (list .w.services) -}}
{{- end -}}
{{- end -}}

{{/* The c360.toml of a workload: {"root": ., "w": workload}. */}}
{{- define "c360.configToml" -}}
{{- $root := .root -}}
{{- $w := .w -}}
{{- $v := $root.Values -}}
{{- if le (int $v.terminationGracePeriodSeconds) (int $v.shutdownGraceSeconds) -}}
{{- fail "terminationGracePeriodSeconds must be greater than shutdownGraceSeconds" -}}
{{- end -}}
{{- $server := dict "listen" (printf "0.0.0.0:%d" (int $v.ports.grpc)) "metrics_listen" (printf "0.0.0.0:%d" (int $v.ports.metrics)) "data_dir" "/var/lib/c360" "shutdown_grace_secs" (int $v.shutdownGraceSeconds) -}}
{{- if $v.tls.enabled -}}
{{- $tls := dict "cert_file" "/var/run/secrets/c360/tls/tls.crt" "key_file" "/var/run/secrets/c360/tls/tls.key" -}}
{{- if $v.tls.clientCa -}}
{{- $_ := set $tls "client_ca_file" "/var/run/secrets/c360/tls/ca.crt" -}}
{{- end -}}
{{- $_ := set $server "tls" $tls -}}
{{- end -}}
{{- $config := dict "server" $server "telemetry" (dict "json_logs" $v.telemetry.jsonLogs) -}}
{{- $scheme := ternary "https" "http" $v.tls.enabled -}}
{{- $peers := dict -}}
{{- range $peer := $w.peers -}}
{{- $_ := set $peers $peer (printf "%s://%s-%s.%s.svc.%s:%d" $scheme (include "c360.fullname" $root) $peer $root.Release.Namespace $v.clusterDomain (int $v.ports.grpc)) -}}
{{- end -}}
{{- if and $peers $v.tls.enabled -}}
{{- $_ := set $peers "ca_file" "/var/run/secrets/c360/tls/ca.crt" -}}
{{- end -}}
{{- if $peers -}}
{{- $_ := set $config "peers" $peers -}}
{{- end -}}
{{- if $v.secrets.tokens.existingSecret -}}
{{- $_ := set $config "auth" (dict "tokens_file" "/var/run/secrets/c360/tokens/tokens") -}}
{{- end -}}
{{- range $svc := include "c360.runs" . | fromJsonArray -}}
{{- $section := deepCopy (index $v $svc "config" | default dict) -}}
{{- if index $v $svc "policy" -}}
{{- $_ := set $section "policy_file" (printf "/etc/c360/%s-policy" $svc) -}}
{{- end -}}
{{- if $section -}}
{{- $_ := set $config $svc $section -}}
{{- end -}}
{{- end -}}
{{- $config = mergeOverwrite $config (deepCopy $v.config) -}}
# c360.toml for {{ $w.name }} (--services {{ $w.services }}), generated by the
# c360 chart. Edit values, not this file; `c360 serve --dump-config` prints
# the merged configuration.
{{- /* Values reach templates as JSON numbers (float64), so toToml writes 20000
as 20000.0, which an integer setting refuses; whole numbers are written back
as integers (a float setting accepts an integer). */}}
{{ regexReplaceAll `(= |\[|, )(-?[0-9]+)\.0\b` (toToml $config) "${1}${2}" }}
{{- end -}}
