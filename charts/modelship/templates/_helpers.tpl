{{/* Names, labels and the RBAC rules shared by the ClusterRole and the per-namespace Roles. */}}

{{- define "modelship.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "modelship.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "modelship.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "modelship.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "modelship.leaseName" -}}
{{- default (include "modelship.fullname" .) .Values.leaderElection.leaseName }}
{{- end }}

{{- define "modelship.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
Selector labels: stable for the life of a release (a Deployment's selector cannot change).
*/}}
{{- define "modelship.selectorLabels" -}}
app.kubernetes.io/name: {{ include "modelship.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{/*
Never app.kubernetes.io/managed-by: modelship: the operator watches objects with that label as its
own children, and its own pods must not be among them. Helm's value (Helm) is safe.
*/}}
{{- define "modelship.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "modelship.selectorLabels" . }}
app.kubernetes.io/part-of: modelship
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
What the operator may do in the namespaces it watches: exactly the API calls it makes, no more
(the same rules as deploy/02-rbac.yaml, which a test keeps equal). Writes are server-side apply
(PATCH with application/apply-patch+yaml), which needs `patch`, and `create` too where the object
may not exist yet. No Secrets. Discovery (GET /apis/<group>/<version>) needs no rule: the
built-in system:discovery role allows it to every authenticated user.
*/}}
{{- define "modelship.rules" -}}
# The operator's input: informers list and watch ModelDeployments (no `get`: never read by
# name); it never writes their spec or metadata.
- apiGroups: [modelship.io]
  resources: [modeldeployments]
  verbs: [list, watch]
# Rollout state is written by server-side apply to the status subresource only.
- apiGroups: [modelship.io]
  resources: [modeldeployments/status]
  verbs: [patch]
# Children carry ownerReferences with blockOwnerDeletion: true; with the
# OwnerReferencesPermissionEnforcement admission plugin that needs `update` on the owner's
# finalizers subresource.
- apiGroups: [modelship.io]
  resources: [modeldeployments/finalizers]
  verbs: [update]
# Read by informers (no `get`); `patch` applies the in-use finalizer. No `create`: a finalizer
# apply racing a deletion must fail, never bring a deleted ModelVersion back. `delete`: only a
# version whose spec.retirement asks for it, once nothing holds it and it is idle.
- apiGroups: [modelship.io]
  resources: [modelversions]
  verbs: [list, watch, patch, delete]
# status.usedBy, phase and conditions of each ModelVersion.
- apiGroups: [modelship.io]
  resources: [modelversions/status]
  verbs: [patch]
# One Deployment per revision: server-side apply, resize by merge patch, replace (update) when
# someone else changed its pod template, delete beyond the revision history limit. `get` (on every
# child kind): the live read of a name the spec claims (is the object there modelship's own?).
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, create, patch, delete, update]
# Per-revision, stable and preview Services, and per-revision ConfigMaps (model server config).
- apiGroups: ['']
  resources: [services, configmaps]
  verbs: [get, list, watch, create, patch, delete]
# Pod readiness, restarts and waiting reasons decide a revision's health; pods are only
# watched, never read by name.
- apiGroups: ['']
  resources: [pods]
  verbs: [list, watch]
# Traffic moves to a revision only on pods its Service's EndpointSlices list as ready; only the
# slices of modelship's Services are watched (label-selected).
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
# Rollout decisions are recorded as core/v1 Events on the ModelDeployment.
- apiGroups: ['']
  resources: [events]
  verbs: [create]
# Weighted routing for traffic.router: gatewayApi (used only if the CRD is installed).
- apiGroups: [gateway.networking.k8s.io]
  resources: [httproutes]
  verbs: [get, list, watch, create, patch, delete]
# Traefik's mirroring for traffic.gatewayApi.mirrorWith: TraefikService (used only if the CRD is
# installed).
- apiGroups: [traefik.io]
  resources: [traefikservices]
  verbs: [get, list, watch, create, patch, delete]
# Weighted routing for traffic.router: istio (used only if the CRD is installed).
- apiGroups: [networking.istio.io]
  resources: [virtualservices]
  verbs: [get, list, watch, create, patch, delete]
{{- end }}

{{/* Whether the operator serves https: with token review, or with a certificate of its own. */}}
{{- define "modelship.https" -}}
{{- if or (eq .Values.metrics.auth "kubernetes") .Values.metrics.tls.secretName }}true{{ end }}
{{- end }}
