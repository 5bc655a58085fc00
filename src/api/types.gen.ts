// Code generated from crds/*.yaml by tools/api/codegen.ts. DO NOT EDIT.
// Change the CRDs, then refresh this file with: npm run gen:api

import type { V1ObjectMeta } from '@kubernetes/client-node';

/** ModelDeployment serves one exact version of a model and rolls out new versions safely. */
export interface ModelDeployment {
  /** APIVersion defines the versioned schema of this representation of an object. */
  apiVersion: 'modelship.io/v1alpha1';
  /** Kind is a string value representing the REST resource this object represents. */
  kind: 'ModelDeployment';
  metadata?: V1ObjectMeta;
  /** Desired state of the ModelDeployment. */
  spec: ModelDeploymentSpec;
  /** Observed state of the ModelDeployment, written by the operator. */
  status?: ModelDeploymentStatus;
}

/** Desired state of the ModelDeployment. */
export interface ModelDeploymentSpec {
  /** Name of the model to serve; matches spec.model of the ModelVersions in the same namespace. */
  model: string;
  /** Exact version to serve, in Semantic Versioning 2.0, for example 1.2.0 or 2.1.0-finetune.datasetx; a ModelVersion with this model and version must exist. */
  version: string;
  /**
   * Number of model server pods for the serving revision.
   * @defaultValue `1`
   */
  replicas?: number;
  /** Overrides for the model server pods. */
  pod?: ModelDeploymentSpecPod;
  /**
   * How a new version replaces the serving one, and when to give up and roll back.
   * @defaultValue `{"type":"Canary"}`
   */
  strategy?: ModelDeploymentSpecStrategy;
  /**
   * How clients reach the model and how traffic is split between revisions.
   * @defaultValue `{"router":"service"}`
   */
  traffic?: ModelDeploymentSpecTraffic;
  /**
   * How many old revisions (scaled-down Deployments) to keep for fast rollbacks, 0 to 10.
   * @defaultValue `3`
   */
  revisionHistoryLimit?: number;
  /**
   * Freezes the rollout where it is: no steps advance and no traffic moves until it is set back to false.
   * @defaultValue `false`
   */
  paused?: boolean;
}

/** Overrides for the model server pods. */
export interface ModelDeploymentSpecPod {
  /** Container image of the model server, replacing the runtime's default image, for example nvcr.io/nvidia/tritonserver:24.08-py3. */
  image?: string;
  /** Compute resources of the model server container. */
  resources?: ModelDeploymentSpecPodResources;
  /** Node labels the pods must be scheduled on, for example {nvidia.com/gpu.product: NVIDIA-A100-SXM4-40GB}. */
  nodeSelector?: Record<string, string>;
  /** Taints the pods tolerate, for example the taint on dedicated GPU nodes. */
  tolerations?: ModelDeploymentSpecPodToleration[];
  /** Extra environment variables of the model server container, keyed by name. */
  env?: ModelDeploymentSpecPodEnvItem[];
  /** ServiceAccount the pods run as, for a cloud's workload identity (EKS IRSA or Pod Identity, GKE Workload Identity, Azure Workload Identity) to grant the model fetch read access to the bucket without keys. */
  serviceAccountName?: string;
  /** Credentials of the model fetch (the fetch-model init container only; the model server never sees them), from a Secret in the same namespace. */
  storageCredentials?: ModelDeploymentSpecPodStorageCredentials;
  /** Annotations added to the model server pods. */
  annotations?: Record<string, string>;
  /** Labels added to the model server pods. */
  labels?: Record<string, string>;
}

/** Compute resources of the model server container. */
export interface ModelDeploymentSpecPodResources {
  /** Minimum resources the scheduler reserves, by resource name, for example cpu: 500m, memory: 2Gi. */
  requests?: Record<string, number | string>;
  /** Maximum resources the container may use, by resource name, for example memory: 8Gi, nvidia.com/gpu: 1. */
  limits?: Record<string, number | string>;
}

/** A toleration, as in a Pod spec: it matches taints with the same key and effect, and with the same value for operator Equal. */
export interface ModelDeploymentSpecPodToleration {
  /** Taint key to match. */
  key?: string;
  /** How key and value are compared. */
  operator?: ModelDeploymentSpecPodTolerationOperator;
  /** Taint value to match with operator Equal. */
  value?: string;
  /** Taint effect to match; empty matches all effects. */
  effect?: ModelDeploymentSpecPodTolerationEffect;
  /** For effect NoExecute, seconds the pod stays bound after the taint appears; by default it stays forever. */
  tolerationSeconds?: number;
}

/** How key and value are compared. */
export type ModelDeploymentSpecPodTolerationOperator = 'Exists' | 'Equal';

/** Taint effect to match; empty matches all effects. */
export type ModelDeploymentSpecPodTolerationEffect = 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';

/** One environment variable; set value or valueFrom, not both. */
export interface ModelDeploymentSpecPodEnvItem {
  /** Name of the variable, for example OMP_NUM_THREADS. */
  name: string;
  /** Literal value. */
  value?: string;
  /** Reads the value from a ConfigMap or Secret key; set exactly one of them. */
  valueFrom?: ModelDeploymentSpecPodEnvItemValueFrom;
}

/** Reads the value from a ConfigMap or Secret key; set exactly one of them. */
export interface ModelDeploymentSpecPodEnvItemValueFrom {
  /** A key of a ConfigMap in the same namespace. */
  configMapKeyRef?: ModelDeploymentSpecPodEnvItemValueFromConfigMapKeyRef;
  /** A key of a Secret in the same namespace. */
  secretKeyRef?: ModelDeploymentSpecPodEnvItemValueFromSecretKeyRef;
}

/** A key of a ConfigMap in the same namespace. */
export interface ModelDeploymentSpecPodEnvItemValueFromConfigMapKeyRef {
  /** Name of the object in the same namespace. */
  name: string;
  /** Key whose value becomes the variable. */
  key: string;
  /** When true, a missing object or key leaves the variable unset instead of keeping the pod from starting. */
  optional?: boolean;
}

/** A key of a Secret in the same namespace. */
export interface ModelDeploymentSpecPodEnvItemValueFromSecretKeyRef {
  /** Name of the object in the same namespace. */
  name: string;
  /** Key whose value becomes the variable. */
  key: string;
  /** When true, a missing object or key leaves the variable unset instead of keeping the pod from starting. */
  optional?: boolean;
}

/** Credentials of the model fetch (the fetch-model init container only; the model server never sees them), from a Secret in the same namespace. */
export interface ModelDeploymentSpecPodStorageCredentials {
  /** Name of the Secret, in the ModelDeployment's namespace. */
  secretName: string;
}

/** How a new version replaces the serving one, and when to give up and roll back. */
export interface ModelDeploymentSpecStrategy {
  /**
   * How a new version is rolled out: Canary, BlueGreen or Experiment.
   * @defaultValue `"Canary"`
   */
  type?: ModelDeploymentSpecStrategyType;
  /** Canary steps. */
  canary?: ModelDeploymentSpecStrategyCanary;
  /** An experiment (docs/rollouts.md, Experiments). */
  experiment?: ModelDeploymentSpecStrategyExperiment;
  /** Blue-green switch. */
  blueGreen?: ModelDeploymentSpecStrategyBlueGreen;
  /**
   * Seconds a new revision has to become Ready (and each step to make progress) before the rollout counts as failed.
   * @defaultValue `300`
   */
  progressDeadlineSeconds?: number;
  /** Opt-in to roll out a version whose interface breaks the serving version's (an input removed, renamed, added or changed; an output removed or changed) although its major version is not higher: set it to the exact version in spec.version. */
  allowInterfaceChangeTo?: string;
  /**
   * When a new revision fails (CrashLoopBackOff, image pull failure, too many restarts, progress deadline missed, readiness lost), send all traffic back to the last healthy revision at once.
   * @defaultValue `true`
   */
  autoRollback?: boolean;
  /**
   * Container restarts of any one pod of the new revision above which the rollout counts as failed (the highest restartCount of the pod's containers).
   * @defaultValue `3`
   */
  maxRestarts?: number;
  /** Metric analysis (docs/rollouts.md, Metric analysis): checks on the new revision's metrics, read from the Prometheus the operator is configured with (--prometheus-url). */
  analysis?: ModelDeploymentSpecStrategyAnalysis;
  /** Webhook gates (docs/rollouts.md, Webhook gates): HTTP endpoints that must answer 2xx before traffic moves to a new revision (when BeforeTraffic, after the smoke test) or before it is promoted (BeforePromotion). */
  gates?: ModelDeploymentSpecStrategyGate[];
}

/** How a new version is rolled out: Canary, BlueGreen or Experiment. */
export type ModelDeploymentSpecStrategyType = 'Canary' | 'BlueGreen' | 'Experiment';

/** Canary steps. */
export interface ModelDeploymentSpecStrategyCanary {
  /** Steps run in order once the new revision is Ready. */
  steps?: ModelDeploymentSpecStrategyCanaryStep[];
  /** Requests that go to the new revision whatever the weights, while its rollout is under way and it has a serving pod: each cohort is one match (every header and the cookie of it), and a request matching any cohort goes to the new revision. */
  cohorts?: ModelDeploymentSpecStrategyCanaryCohort[];
  /** Shadow traffic: while the new revision's rollout is under way and it has a serving pod, a copy of percent of the requests the stable revision serves is also sent to it; its answers are discarded, so clients only ever see the stable revision's. */
  mirror?: ModelDeploymentSpecStrategyCanaryMirror;
  /**
   * Seconds the previous revision keeps running after the new one takes all traffic, so in-flight requests finish and a rollback is instant.
   * @defaultValue `30`
   */
  scaleDownDelaySeconds?: number;
}

/** One step; set exactly one of setWeight or pause. */
export interface ModelDeploymentSpecStrategyCanaryStep {
  /** Percentage of traffic, 0 to 100, sent to the new revision. */
  setWeight?: number;
  /** Waits before the next step: for duration if set, otherwise until the rollout is promoted by setting the annotation modelship.io/promote to a new value, for example kubectl annotate --overwrite md/NAME modelship.io/promote="$(date +%s)". */
  pause?: ModelDeploymentSpecStrategyCanaryStepPause;
}

/** Waits before the next step: for duration if set, otherwise until the rollout is promoted by setting the annotation modelship.io/promote to a new value, for example kubectl annotate --overwrite md/NAME modelship.io/promote="$(date +%s)". */
export interface ModelDeploymentSpecStrategyCanaryStepPause {
  /** How long to wait, as a Go duration with units ms, s, m or h, for example 30s, 5m or 1h30m. */
  duration?: string;
}

/** One cohort; set at least one header or the cookie. */
export interface ModelDeploymentSpecStrategyCanaryCohort {
  /** Headers a request must carry, all of them. */
  headers?: ModelDeploymentSpecStrategyCanaryCohortHeader[];
  /** A cookie the request must carry with exactly this value. */
  cookie?: ModelDeploymentSpecStrategyCanaryCohortCookie;
}

/** A request header and the value it must have. */
export interface ModelDeploymentSpecStrategyCanaryCohortHeader {
  /** Header name in lower case, for example x-cohort. */
  name: string;
  /**
   * Exact (the default) or RegularExpression (RE2 syntax; anchor it with ^ and $, since gateways differ on whether a regular expression must match the whole value).
   * @defaultValue `"Exact"`
   */
  type?: ModelDeploymentSpecStrategyCanaryCohortHeaderType;
  /** The value, or the regular expression, the header must match. */
  value: string;
}

/** Exact (the default) or RegularExpression (RE2 syntax; anchor it with ^ and $, since gateways differ on whether a regular expression must match the whole value). */
export type ModelDeploymentSpecStrategyCanaryCohortHeaderType = 'Exact' | 'RegularExpression';

/** A cookie the request must carry with exactly this value. */
export interface ModelDeploymentSpecStrategyCanaryCohortCookie {
  /** Cookie name. */
  name: string;
  /** Cookie value (matched exactly). */
  value: string;
}

/** Shadow traffic: while the new revision's rollout is under way and it has a serving pod, a copy of percent of the requests the stable revision serves is also sent to it; its answers are discarded, so clients only ever see the stable revision's. */
export interface ModelDeploymentSpecStrategyCanaryMirror {
  /** Percentage, 1 to 100, of the stable revision's requests copied to the new one. */
  percent: number;
}

/** An experiment (docs/rollouts.md, Experiments). */
export interface ModelDeploymentSpecStrategyExperiment {
  /** Percentage of requests, 1 to 99, sent to the challenger (spec.version). */
  weight: number;
  /** More challengers: other versions of the same model (spec.model), each with its own weight. */
  arms?: ModelDeploymentSpecStrategyExperimentArm[];
  /** How long the experiment runs once every version serves at its weight, as a duration (units ms, s, m, h). */
  duration?: string;
  /**
   * What happens when duration is over.
   * @defaultValue `"Rollback"`
   */
  onEnd?: ModelDeploymentSpecStrategyExperimentOnEnd;
  /** How the winner is decided. */
  decideBy?: ModelDeploymentSpecStrategyExperimentDecideBy;
}

/** One more version in the experiment. */
export interface ModelDeploymentSpecStrategyExperimentArm {
  /** Exact version (Semantic Versioning 2.0) of spec.model. */
  version: string;
  /** Percentage of requests, 1 to 98, sent to this version. */
  weight: number;
}

/** What happens when duration is over. */
export type ModelDeploymentSpecStrategyExperimentOnEnd = 'Rollback' | 'PromoteIfWinner';

/** How the winner is decided. */
export interface ModelDeploymentSpecStrategyExperimentDecideBy {
  /**
   * The metric compared, lowest wins: ErrorRate (failed / all requests) or MeanLatency (mean request duration).
   * @defaultValue `"ErrorRate"`
   */
  metric?: ModelDeploymentSpecStrategyExperimentDecideByMetric;
  /**
   * Requests a version must have served to be judged.
   * @defaultValue `100`
   */
  minSamples?: number;
}

/** The metric compared, lowest wins: ErrorRate (failed / all requests) or MeanLatency (mean request duration). */
export type ModelDeploymentSpecStrategyExperimentDecideByMetric = 'ErrorRate' | 'MeanLatency';

/** Blue-green switch. */
export interface ModelDeploymentSpecStrategyBlueGreen {
  /**
   * Creates a Service NAME-preview that reaches only the new revision, to test it before the switch.
   * @defaultValue `true`
   */
  previewService?: boolean;
  /**
   * Switches traffic automatically once the new revision is Ready (after autoPromotionSeconds).
   * @defaultValue `true`
   */
  autoPromotionEnabled?: boolean;
  /** Seconds to wait after the new revision is Ready before switching traffic. */
  autoPromotionSeconds?: number;
  /**
   * Seconds the previous revision keeps running after the switch, so in-flight requests finish and a rollback is instant.
   * @defaultValue `30`
   */
  scaleDownDelaySeconds?: number;
}

/** Metric analysis (docs/rollouts.md, Metric analysis): checks on the new revision's metrics, read from the Prometheus the operator is configured with (--prometheus-url). */
export interface ModelDeploymentSpecStrategyAnalysis {
  /**
   * How often each check is evaluated unless it sets its own interval, as a duration (units ms, s, m, h).
   * @defaultValue `"10s"`
   */
  interval?: string;
  /** How long the checks keep running after the promotion, while the previous revision stays at full size (at least this long, whatever scaleDownDelaySeconds says). */
  bakeTime?: string;
  /** The checks, each with a unique name. */
  checks: ModelDeploymentSpecStrategyAnalysisCheck[];
}

/** One check: a built-in one (builtin) or a PromQL query (query), a threshold, the samples it needs, how often it runs and how many failed evaluations revert. */
export interface ModelDeploymentSpecStrategyAnalysisCheck {
  /** Name of the check (a DNS label), unique in the list. */
  name: string;
  /** A check written for the revision's runtime (Triton, TorchServe). */
  builtin?: ModelDeploymentSpecStrategyAnalysisCheckBuiltin;
  /** A PromQL query that returns one number (a scalar, or a vector of one element). */
  query?: string;
  /** With query: a PromQL query for the number of samples the value rests on (same placeholders). */
  samplesQuery?: string;
  /** The bound the value is compared with: with failWhen Above (the default) the check fails when the value is above it, with Below when it is below it. */
  threshold: number;
  /**
   * Whether a value above (the default) or below the threshold fails the check.
   * @defaultValue `"Above"`
   */
  failWhen?: ModelDeploymentSpecStrategyAnalysisCheckFailWhen;
  /**
   * Samples (requests, by default) the window must hold for a verdict; fewer is inconclusive, which holds the rollout and never promotes it.
   * @defaultValue `20`
   */
  minSamples?: number;
  /**
   * The range the built-in queries (and {{window}}) cover, as a duration.
   * @defaultValue `"30s"`
   */
  window?: string;
  /** How often this check is evaluated; defaults to analysis.interval. */
  interval?: string;
  /**
   * Failed evaluations (in one rollout, or one bake) at which the check fails the revision.
   * @defaultValue `1`
   */
  failureLimit?: number;
}

/** A check written for the revision's runtime (Triton, TorchServe). */
export type ModelDeploymentSpecStrategyAnalysisCheckBuiltin = 'ErrorRate' | 'MeanLatency' | 'LatencyVsStable';

/** Whether a value above (the default) or below the threshold fails the check. */
export type ModelDeploymentSpecStrategyAnalysisCheckFailWhen = 'Above' | 'Below';

/** One webhook gate. */
export interface ModelDeploymentSpecStrategyGate {
  /** Name of the gate (a DNS label), unique in the list. */
  name: string;
  /** The http:// or https:// URL the operator POSTs to. */
  url: string;
  /**
   * BeforeTraffic: asked before the first user request reaches the revision.
   * @defaultValue `"BeforeTraffic"`
   */
  when?: ModelDeploymentSpecStrategyGateWhen;
  /**
   * How long one call may take, as a duration (units ms, s, m).
   * @defaultValue `"10s"`
   */
  timeout?: string;
  /**
   * Time between calls after one that was not 2xx, as a duration (units ms, s, m).
   * @defaultValue `"5s"`
   */
  interval?: string;
  /**
   * Non-2xx answers (or time-outs) in a row after which the revision fails and is reverted (reason GateFailed).
   * @defaultValue `0`
   */
  failureLimit?: number;
}

/** BeforeTraffic: asked before the first user request reaches the revision. */
export type ModelDeploymentSpecStrategyGateWhen = 'BeforeTraffic' | 'BeforePromotion';

/** How clients reach the model and how traffic is split between revisions. */
export interface ModelDeploymentSpecTraffic {
  /**
   * What splits traffic between revisions: service, gatewayApi or istio.
   * @defaultValue `"service"`
   */
  router?: ModelDeploymentSpecTrafficRouter;
  /**
   * Port clients use on the Services named after the ModelDeployment.
   * @defaultValue `80`
   */
  port?: number;
  /** Gateway API settings. */
  gatewayApi?: ModelDeploymentSpecTrafficGatewayApi;
  /** Istio settings. */
  istio?: ModelDeploymentSpecTrafficIstio;
}

/** What splits traffic between revisions: service, gatewayApi or istio. */
export type ModelDeploymentSpecTrafficRouter = 'gatewayApi' | 'istio' | 'service';

/** Gateway API settings. */
export interface ModelDeploymentSpecTrafficGatewayApi {
  /** Gateways (or listeners of them) the HTTPRoute attaches to. */
  parentRefs: ModelDeploymentSpecTrafficGatewayApiParentRef[];
  /** Host names the HTTPRoute matches, for example models.example.com. */
  hostnames?: string[];
  /**
   * Path match of the HTTPRoute rule.
   * @defaultValue `{}`
   */
  path?: ModelDeploymentSpecTrafficGatewayApiPath;
  /** How spec.strategy.canary.mirror reaches the gateway. */
  mirrorWith?: ModelDeploymentSpecTrafficGatewayApiMirrorWith;
}

/** A reference to a Gateway, as in HTTPRoute spec.parentRefs. */
export interface ModelDeploymentSpecTrafficGatewayApiParentRef {
  /** Name of the Gateway. */
  name: string;
  /** Namespace of the Gateway. */
  namespace?: string;
  /** Name of the Gateway listener to attach to. */
  sectionName?: string;
  /**
   * API group of the parent.
   * @defaultValue `"gateway.networking.k8s.io"`
   */
  group?: string;
  /**
   * Kind of the parent.
   * @defaultValue `"Gateway"`
   */
  kind?: string;
}

/** Path match of the HTTPRoute rule. */
export interface ModelDeploymentSpecTrafficGatewayApiPath {
  /**
   * How the path is matched.
   * @defaultValue `"PathPrefix"`
   */
  type?: ModelDeploymentSpecTrafficGatewayApiPathType;
  /**
   * Path to match; must start with /.
   * @defaultValue `"/"`
   */
  value?: string;
}

/** How the path is matched. */
export type ModelDeploymentSpecTrafficGatewayApiPathType = 'PathPrefix' | 'Exact';

/** How spec.strategy.canary.mirror reaches the gateway. */
export type ModelDeploymentSpecTrafficGatewayApiMirrorWith = 'RequestMirror' | 'TraefikService';

/** Istio settings. */
export interface ModelDeploymentSpecTrafficIstio {
  /** Istio Gateways the VirtualService applies to, as NAMESPACE/NAME; mesh means sidecars. */
  gateways?: string[];
  /** Hosts of the VirtualService, for example resnet50.example.com. */
  hosts: string[];
}

/** Observed state of the ModelDeployment, written by the operator. */
export interface ModelDeploymentStatus {
  /** The metadata.generation this status was computed from. */
  observedGeneration?: number;
  /** Summary of the rollout. */
  phase?: ModelDeploymentStatusPhase;
  /** Latest observations, keyed by type, following Kubernetes conventions (metav1.Condition). */
  conditions?: ModelDeploymentStatusCondition[];
  /** Revision (hash of version and pod template) that serves as stable. */
  stableRevision?: string;
  /** Model version of the stable revision. */
  stableVersion?: string;
  /** Revision being rolled out; empty when no rollout is under way. */
  canaryRevision?: string;
  /** Model version of the canary revision; empty when no rollout is under way. */
  canaryVersion?: string;
  /** Percentage of traffic, 0 to 100, the canary revision receives. */
  canaryWeight?: number;
  /** Index of the canary step being executed; equal to the number of steps once all are done. */
  currentStepIndex?: number;
  /** When the current step (or, for blue-green, the current stage) began, RFC 3339. */
  currentStepStartedAt?: string;
  /** When the rollout in progress began, RFC 3339; absent when none is in progress. */
  rolloutStartedAt?: string;
  /** The revision the spec asked for at the last reconcile. */
  desiredRevision?: string;
  /** Since when the spec has asked for desiredRevision, RFC 3339. */
  desiredSince?: string;
  /** Traffic split applied to the router, keyed by revision. */
  traffic?: ModelDeploymentStatusTrafficItem[];
  /** The revision that requests matching spec.strategy.canary.cohorts are routed to, while they are. */
  cohort?: ModelDeploymentStatusCohort;
  /** The revision that receives a copy of the stable revision's requests (shadow traffic), while it does. */
  mirror?: ModelDeploymentStatusMirror;
  /** The experiment of spec.strategy.experiment (docs/rollouts.md, Experiments): its phase, each version's weight and what was measured of it, and the winner. */
  experiment?: ModelDeploymentStatusExperiment;
  /** Pods of the ModelDeployment's revisions (the scale subresource reads it). */
  replicas?: number;
  /** Ready pods of the ModelDeployment's revisions. */
  readyReplicas?: number;
  /** Label selector of the pods, in the string form kubectl uses (for example modelship.io/deployment=resnet50); read by the scale subresource and HPAs. */
  selector?: string;
  /** Past rollouts in the order they ended, newest last. */
  history?: ModelDeploymentStatusHistoryItem[];
  /** The metric analysis of the latest rollout: which revision is judged against which, at which stage, and each check's last value and verdict. */
  analysis?: ModelDeploymentStatusAnalysis;
  /** The pre-traffic gates of the latest rollout (loaded interface, smoke test, webhook gates), for one revision: what each stage decided and why. */
  gates?: ModelDeploymentStatusGates;
  /** The most recent automatic or manual rollback. */
  lastRollback?: ModelDeploymentStatusLastRollback;
  /** Earlier stable revisions kept at full size after a promotion, for scaleDownDelaySeconds, so that a rollback to them is instant. */
  warmRevisions?: ModelDeploymentStatusWarmRevision[];
  /** The last promote, abort and retry requests the operator acted on. */
  acknowledged?: ModelDeploymentStatusAcknowledged;
}

/** Summary of the rollout. */
export type ModelDeploymentStatusPhase =
  'Pending' | 'Progressing' | 'Paused' | 'Healthy' | 'Degraded' | 'RolledBack' | 'Failed';

/** One observation of one aspect of the object's state (metav1.Condition). */
export interface ModelDeploymentStatusCondition {
  /** Type of condition in CamelCase, for example Ready. */
  type: string;
  /** Status of the condition, one of True, False, Unknown. */
  status: ModelDeploymentStatusConditionStatus;
  /** The metadata.generation the condition was set from. */
  observedGeneration?: number;
  /** Last time the condition changed status, RFC 3339. */
  lastTransitionTime: string;
  /** Programmatic identifier, in CamelCase, of the reason for the last transition. */
  reason: string;
  /** Human-readable details about the last transition. */
  message: string;
}

/** Status of the condition, one of True, False, Unknown. */
export type ModelDeploymentStatusConditionStatus = 'True' | 'False' | 'Unknown';

/** The share of traffic one revision receives. */
export interface ModelDeploymentStatusTrafficItem {
  /** Revision receiving the traffic. */
  revision: string;
  /** Model version of the revision. */
  version?: string;
  /** Percentage of traffic, 0 to 100. */
  weight: number;
}

/** The revision that requests matching spec.strategy.canary.cohorts are routed to, while they are. */
export interface ModelDeploymentStatusCohort {
  /** Revision the cohorts reach. */
  revision?: string;
  /** Model version of the revision. */
  version?: string;
}

/** The revision that receives a copy of the stable revision's requests (shadow traffic), while it does. */
export interface ModelDeploymentStatusMirror {
  /** Revision the copies go to. */
  revision?: string;
  /** Model version of the revision. */
  version?: string;
  /** Percentage of the stable revision's requests copied. */
  percent?: number;
}

/** The experiment of spec.strategy.experiment (docs/rollouts.md, Experiments): its phase, each version's weight and what was measured of it, and the winner. */
export interface ModelDeploymentStatusExperiment {
  /** Starting: the versions are coming up (weight moves to each once it serves). */
  phase?: ModelDeploymentStatusExperimentPhase;
  /** When every version first served at its weight, RFC 3339. */
  startedAt?: string;
  /** When it ends (startedAt + duration), RFC 3339; absent without a duration. */
  endsAt?: string;
  /** When it ended, RFC 3339. */
  concludedAt?: string;
  /** When the numbers below were read from Prometheus, RFC 3339. */
  measuredAt?: string;
  /** Why there are no numbers, when there are none: no Prometheus configured (flag --prometheus-url), Prometheus unreachable, or a query refused. */
  metrics?: string;
  /** The metric the winner is decided on (ErrorRate or MeanLatency). */
  decideBy?: string;
  /** The version with the lowest value of decideBy among those with enough requests. */
  winner?: ModelDeploymentStatusExperimentWinner;
  /** One line on the outcome (the winner and on what, or why there is none, and what followed). */
  result?: string;
  /** Every version in the experiment, the stable revision first. */
  arms?: ModelDeploymentStatusExperimentArm[];
}

/** Starting: the versions are coming up (weight moves to each once it serves). */
export type ModelDeploymentStatusExperimentPhase = 'Starting' | 'Running' | 'Concluded';

/** The version with the lowest value of decideBy among those with enough requests. */
export interface ModelDeploymentStatusExperimentWinner {
  /** The winner's revision. */
  revision?: string;
  /** The winner's model version. */
  version?: string;
  /** Stable, Challenger (spec.version) or Arm (strategy.experiment.arms). */
  role?: ModelDeploymentStatusExperimentWinnerRole;
  /** Its value of decideBy. */
  value?: string;
}

/** Stable, Challenger (spec.version) or Arm (strategy.experiment.arms). */
export type ModelDeploymentStatusExperimentWinnerRole = 'Stable' | 'Challenger' | 'Arm';

/** One version in the experiment and what was measured of it. */
export interface ModelDeploymentStatusExperimentArm {
  /** Stable (the control), Challenger (spec.version) or Arm (strategy.experiment.arms). */
  role: ModelDeploymentStatusExperimentArmRole;
  /** Model version. */
  version: string;
  /** Revision (the hash its Deployment and Service are named with). */
  revision: string;
  /** The percentage of requests it is sent now. */
  weight?: number;
  /** Starting (no serving pod yet: weight 0), Serving, Failed (weight 0 for the rest of the experiment; see reason), Ended (the experiment is over). */
  state?: ModelDeploymentStatusExperimentArmState;
  /** Why it failed (CamelCase), e.g. ProgressDeadlineExceeded or CrashLoopBackOff. */
  reason?: string;
  /** Requests it served since startedAt. */
  requests?: number;
  /** Of those, failed requests. */
  errors?: number;
  /** errors / requests, e.g. "0.0125". */
  errorRate?: string;
  /** Mean request duration in milliseconds. */
  meanLatencyMs?: string;
}

/** Stable (the control), Challenger (spec.version) or Arm (strategy.experiment.arms). */
export type ModelDeploymentStatusExperimentArmRole = 'Stable' | 'Challenger' | 'Arm';

/** Starting (no serving pod yet: weight 0), Serving, Failed (weight 0 for the rest of the experiment; see reason), Ended (the experiment is over). */
export type ModelDeploymentStatusExperimentArmState = 'Starting' | 'Serving' | 'Failed' | 'Ended';

/** The outcome of one rollout. */
export interface ModelDeploymentStatusHistoryItem {
  /** Revision that was rolled out. */
  revision: string;
  /** Model version of that revision. */
  version: string;
  /** How the rollout ended. */
  result: ModelDeploymentStatusHistoryItemResult;
  /** When the rollout started, RFC 3339. */
  startedAt?: string;
  /** When the rollout ended, RFC 3339. */
  finishedAt?: string;
  /** Programmatic identifier, in CamelCase, of why it ended. */
  reason?: string;
  /** Human-readable details. */
  message?: string;
  /** metadata.generation of the ModelDeployment when this ended (for the record; see desiredSince for when a failed revision is tried again). */
  generation?: number;
}

/** How the rollout ended. */
export type ModelDeploymentStatusHistoryItemResult =
  'Promoted' | 'RolledBack' | 'Aborted' | 'Superseded' | 'Failed' | 'Concluded';

/** The metric analysis of the latest rollout: which revision is judged against which, at which stage, and each check's last value and verdict. */
export interface ModelDeploymentStatusAnalysis {
  /** The revision judged. */
  revision?: string;
  /** The revision it is compared with (the stable one; during bake the previous one). */
  baseline?: string;
  /** Canary: checks run while the canary carries traffic. */
  stage?: ModelDeploymentStatusAnalysisStage;
  /** End of the bake time, RFC 3339. */
  bakeUntil?: string;
  /** One line with every check's last value and verdict (kubectl get -o wide). */
  summary?: string;
  /** Each check's last evaluation. */
  checks?: ModelDeploymentStatusAnalysisCheck[];
}

/** Canary: checks run while the canary carries traffic. */
export type ModelDeploymentStatusAnalysisStage = 'Canary' | 'Bake' | 'Succeeded' | 'Failed' | 'Stopped';

/** The last evaluation of one check. */
export interface ModelDeploymentStatusAnalysisCheck {
  /** The check's name. */
  name: string;
  /** Pass or Fail against the threshold; Inconclusive: too few samples or no data; Error: Prometheus could not be reached or refused the query. */
  verdict?: ModelDeploymentStatusAnalysisCheckVerdict;
  /** Why there is no verdict, when there is none: TooFewSamples, NoData, PrometheusUnavailable, PrometheusNotConfigured or QueryFailed. */
  reason?: string;
  /** The value measured (for LatencyVsStable the ratio). */
  value?: string;
  /** The bound it was compared with, e.g. "<= 0.01". */
  threshold?: string;
  /** Samples the value rests on. */
  samples?: number;
  /** Failed evaluations so far in this rollout (or bake). */
  failures?: number;
  /** When it was last evaluated, RFC 3339. */
  evaluatedAt?: string;
  /** What was measured, or why there is no verdict. */
  message?: string;
}

/** Pass or Fail against the threshold; Inconclusive: too few samples or no data; Error: Prometheus could not be reached or refused the query. */
export type ModelDeploymentStatusAnalysisCheckVerdict = 'Pass' | 'Fail' | 'Inconclusive' | 'Error';

/** The pre-traffic gates of the latest rollout (loaded interface, smoke test, webhook gates), for one revision: what each stage decided and why. */
export interface ModelDeploymentStatusGates {
  /** The revision the gates judged. */
  revision?: string;
  /** The verdict before traffic moves (loaded interface, smoke test, BeforeTraffic webhooks). */
  beforeTraffic?: ModelDeploymentStatusGatesBeforeTraffic;
  /** The verdict before promotion (BeforePromotion webhooks). */
  beforePromotion?: ModelDeploymentStatusGatesBeforePromotion;
}

/** The verdict before traffic moves (loaded interface, smoke test, BeforeTraffic webhooks). */
export interface ModelDeploymentStatusGatesBeforeTraffic {
  /** Pending (running), Passed, Held (a webhook said no; asked again) or Failed. */
  result?: ModelDeploymentStatusGatesBeforeTrafficResult;
  /** CamelCase reason, e.g. SmokeTestPassed, SmokeTestFailed, InterfaceMismatch, GateRejected. */
  reason?: string;
  /** What was checked, and the first difference on failure. */
  message?: string;
  /** When the verdict was reached. */
  time?: string;
}

/** Pending (running), Passed, Held (a webhook said no; asked again) or Failed. */
export type ModelDeploymentStatusGatesBeforeTrafficResult = 'Pending' | 'Passed' | 'Held' | 'Failed';

/** The verdict before promotion (BeforePromotion webhooks). */
export interface ModelDeploymentStatusGatesBeforePromotion {
  /** Pending (running), Passed, Held (a webhook said no; asked again) or Failed. */
  result?: ModelDeploymentStatusGatesBeforePromotionResult;
  /** CamelCase reason, e.g. SmokeTestPassed, SmokeTestFailed, InterfaceMismatch, GateRejected. */
  reason?: string;
  /** What was checked, and the first difference on failure. */
  message?: string;
  /** When the verdict was reached. */
  time?: string;
}

/** Pending (running), Passed, Held (a webhook said no; asked again) or Failed. */
export type ModelDeploymentStatusGatesBeforePromotionResult = 'Pending' | 'Passed' | 'Held' | 'Failed';

/** The most recent automatic or manual rollback. */
export interface ModelDeploymentStatusLastRollback {
  /** Revision traffic was taken away from. */
  from?: ModelDeploymentStatusLastRollbackFrom;
  /** Revision traffic was sent back to. */
  to?: ModelDeploymentStatusLastRollbackTo;
  /** Programmatic identifier, in CamelCase, of why it happened, for example ProgressDeadlineExceeded or TooManyRestarts. */
  reason?: string;
  /** Human-readable details. */
  message?: string;
  /** When the rollback happened, RFC 3339. */
  time?: string;
}

/** Revision traffic was taken away from. */
export interface ModelDeploymentStatusLastRollbackFrom {
  /** Revision name. */
  revision?: string;
  /** Model version of the revision. */
  version?: string;
}

/** Revision traffic was sent back to. */
export interface ModelDeploymentStatusLastRollbackTo {
  /** Revision name. */
  revision?: string;
  /** Model version of the revision. */
  version?: string;
}

/** One revision kept warm. */
export interface ModelDeploymentStatusWarmRevision {
  /** Revision kept warm. */
  revision: string;
  /** Model version of the revision. */
  version?: string;
  /** When it is scaled to zero, RFC 3339. */
  scaleDownAt: string;
}

/** The last promote, abort and retry requests the operator acted on. */
export interface ModelDeploymentStatusAcknowledged {
  /** Value of modelship.io/promote last acted on. */
  promote?: string;
  /** Value of modelship.io/abort last acted on. */
  abort?: string;
  /** Value of modelship.io/retry last acted on. */
  retry?: string;
  /** When the last retry was acted on; failures before it no longer block the desired version. */
  retryAt?: string;
}

/** ModelVersion is one released version of a model: the artifact to serve, the runtime and format it needs, its input/output interface, its pre- and post-processing, and the record of how it was trained. */
export interface ModelVersion {
  /** APIVersion defines the versioned schema of this representation of an object. */
  apiVersion: 'modelship.io/v1alpha1';
  /** Kind is a string value representing the REST resource this object represents. */
  kind: 'ModelVersion';
  metadata?: V1ObjectMeta;
  /** Desired state of the ModelVersion. */
  spec: ModelVersionSpec;
  /** Observed state of the ModelVersion, written by the operator. */
  status?: ModelVersionStatus;
}

/** Desired state of the ModelVersion. */
export interface ModelVersionSpec {
  /** Name of the model this version belongs to, for example resnet50. */
  model: string;
  /** Version of the model, in Semantic Versioning 2.0 (https://semver.org): MAJOR.MINOR.PATCH with optional pre-release and build metadata, for example 1.2.3, 2.0.0-rc.1 or 2.1.0-finetune.datasetx. */
  version: string;
  /** Model server that serves this version. */
  runtime: ModelVersionSpecRuntime;
  /** Format of the model artifact at storageUri. */
  format: ModelVersionSpecFormat;
  /** Location of the model artifact. */
  storageUri: string;
  /** Opt-in automatic retirement. */
  retirement?: ModelVersionSpecRetirement;
  /** Content digest of the artifact, sha256: followed by 64 lowercase hexadecimal characters. */
  digest?: string;
  /** Required (the default): spec.digest must be given. */
  digestPolicy?: ModelVersionSpecDigestPolicy;
  /** Input and output tensors of the model, as the runtime exposes them to clients. */
  interface?: ModelVersionSpecInterface;
  /** Sample requests with the answers this version must give (docs/rollouts.md, Smoke test). */
  smokeTest?: ModelVersionSpecSmokeTest;
  /** Pre- and post-processing that belongs to this version. */
  processing?: ModelVersionSpecProcessing;
  /** Provenance of this version: who owns it, what it was trained on, with which parameters, and how it scored. */
  record?: ModelVersionSpecRecord;
  /** Runtime-specific serving settings. */
  runtimeConfig?: ModelVersionSpecRuntimeConfig;
}

/** Model server that serves this version. */
export type ModelVersionSpecRuntime = 'triton' | 'torchserve';

/** Format of the model artifact at storageUri. */
export type ModelVersionSpecFormat =
  'onnx' | 'tensorrt' | 'torchscript' | 'tensorflow_savedmodel' | 'openvino' | 'python' | 'mar';

/** Opt-in automatic retirement. */
export interface ModelVersionSpecRetirement {
  /** How long the version must have been unused and idle before the operator deletes it, as a Go duration with units s, m or h, for example 2160h (90 days). */
  deleteWhenIdleFor: string;
}

/** Required (the default): spec.digest must be given. */
export type ModelVersionSpecDigestPolicy = 'Required' | 'Unverified';

/** Input and output tensors of the model, as the runtime exposes them to clients. */
export interface ModelVersionSpecInterface {
  /** Input tensors, keyed by name. */
  inputs?: ModelVersionSpecInterfaceInput[];
  /** Output tensors, keyed by name. */
  outputs?: ModelVersionSpecInterfaceOutput[];
}

/** One input tensor. */
export interface ModelVersionSpecInterfaceInput {
  /** Name of the tensor as the model declares it, for example input__0. */
  name: string;
  /** Element type of the tensor, using the Triton/KServe v2 datatype names. */
  datatype: ModelVersionSpecInterfaceInputDatatype;
  /** Dimensions of the tensor without the batch dimension; -1 marks a dynamic dimension. */
  shape: number[];
  /** Optional layout or encoding of the data, for example FORMAT_NCHW for a Triton image tensor or application/json for a TorchServe request body. */
  format?: string;
  /** Human description of the tensor. */
  description?: string;
}

/** Element type of the tensor, using the Triton/KServe v2 datatype names. */
export type ModelVersionSpecInterfaceInputDatatype =
  | 'BOOL'
  | 'UINT8'
  | 'UINT16'
  | 'UINT32'
  | 'UINT64'
  | 'INT8'
  | 'INT16'
  | 'INT32'
  | 'INT64'
  | 'FP16'
  | 'FP32'
  | 'FP64'
  | 'BF16'
  | 'BYTES';

/** One output tensor. */
export interface ModelVersionSpecInterfaceOutput {
  /** Name of the tensor as the model declares it, for example input__0. */
  name: string;
  /** Element type of the tensor, using the Triton/KServe v2 datatype names. */
  datatype: ModelVersionSpecInterfaceOutputDatatype;
  /** Dimensions of the tensor without the batch dimension; -1 marks a dynamic dimension. */
  shape: number[];
  /** Optional layout or encoding of the data, for example FORMAT_NCHW for a Triton image tensor or application/json for a TorchServe request body. */
  format?: string;
  /** Human description of the tensor. */
  description?: string;
}

/** Element type of the tensor, using the Triton/KServe v2 datatype names. */
export type ModelVersionSpecInterfaceOutputDatatype =
  | 'BOOL'
  | 'UINT8'
  | 'UINT16'
  | 'UINT32'
  | 'UINT64'
  | 'INT8'
  | 'INT16'
  | 'INT32'
  | 'INT64'
  | 'FP16'
  | 'FP32'
  | 'FP64'
  | 'BF16'
  | 'BYTES';

/** Sample requests with the answers this version must give (docs/rollouts.md, Smoke test). */
export interface ModelVersionSpecSmokeTest {
  /**
   * Time each request may take on each pod, as a duration (units ms, s, m).
   * @defaultValue `"10s"`
   */
  timeout?: string;
  /** The sample requests, each with a unique name, sent in order. */
  requests: ModelVersionSpecSmokeTestRequest[];
}

/** One sample request and the outputs it must produce. */
export interface ModelVersionSpecSmokeTestRequest {
  /** Name of the request (a DNS label), used in messages. */
  name: string;
  /** The request's input tensors as KServe v2 JSON: name, datatype, shape and data (flat, row-major). */
  inputs: ModelVersionSpecSmokeTestRequestInput[];
  /** KServe v2 request parameters, sent as they are. */
  parameters?: Record<string, unknown>;
  /** The outputs to compare, by name; outputs the response has beyond these are not compared. */
  expected: ModelVersionSpecSmokeTestRequestExpectedItem[];
}

/** One input tensor of the request. */
export interface ModelVersionSpecSmokeTestRequestInput {
  /** Input tensor name. */
  name: string;
  /** KServe v2 datatype, for example FP32, INT64 or BYTES. */
  datatype: string;
  /** Shape of the data sent (with the batch dimension, if the model has one). */
  shape: number[];
  /** The values, flat, row-major (numbers, strings or booleans). */
  data: unknown[];
}

/** One expected output. */
export interface ModelVersionSpecSmokeTestRequestExpectedItem {
  /** Output tensor name. */
  name: string;
  /** The shape the output must have; omit to compare the data only. */
  shape?: number[];
  /** The values the output must hold, flat, row-major. */
  data: unknown[];
  /** A number matches when |got - expected| <= absoluteTolerance + relativeTolerance x |expected|. */
  absoluteTolerance?: number;
  /** See absoluteTolerance. */
  relativeTolerance?: number;
}

/** Pre- and post-processing that belongs to this version. */
export interface ModelVersionSpecProcessing {
  /** Processing applied to each request before inference. */
  preprocess?: ModelVersionSpecProcessingPreprocess;
  /** Processing applied to each response after inference. */
  postprocess?: ModelVersionSpecProcessingPostprocess;
  /** Triton, with a processing handler: the tensors of the model itself, between the stages (the pre-process step's outputs are its inputs, its outputs are the post-process step's inputs). */
  modelInterface?: ModelVersionSpecProcessingModelInterface;
}

/** Processing applied to each request before inference. */
export interface ModelVersionSpecProcessingPreprocess {
  /** Handler that implements the stage, module:function (function defaults to the stage name, preprocess or postprocess): a Python module shipped with the version, as a <module>.py key of configMapRef or in a directory or archive artifact. */
  handler?: string;
  /** Free-form configuration passed to the handler as JSON, for example {resize: 224, normalize: imagenet}. */
  config?: Record<string, unknown>;
  /** ConfigMap in the same namespace that holds the stage's files (a label map, the handler's module). */
  configMapRef?: ModelVersionSpecProcessingPreprocessConfigMapRef;
}

/** ConfigMap in the same namespace that holds the stage's files (a label map, the handler's module). */
export interface ModelVersionSpecProcessingPreprocessConfigMapRef {
  /** Name of the ConfigMap. */
  name: string;
  /** Key in the ConfigMap to use. */
  key?: string;
}

/** Processing applied to each response after inference. */
export interface ModelVersionSpecProcessingPostprocess {
  /** Handler that implements the stage, module:function (function defaults to the stage name, preprocess or postprocess): a Python module shipped with the version, as a <module>.py key of configMapRef or in a directory or archive artifact. */
  handler?: string;
  /** Free-form configuration passed to the handler as JSON, for example {resize: 224, normalize: imagenet}. */
  config?: Record<string, unknown>;
  /** ConfigMap in the same namespace that holds the stage's files (a label map, the handler's module). */
  configMapRef?: ModelVersionSpecProcessingPostprocessConfigMapRef;
}

/** ConfigMap in the same namespace that holds the stage's files (a label map, the handler's module). */
export interface ModelVersionSpecProcessingPostprocessConfigMapRef {
  /** Name of the ConfigMap. */
  name: string;
  /** Key in the ConfigMap to use. */
  key?: string;
}

/** Triton, with a processing handler: the tensors of the model itself, between the stages (the pre-process step's outputs are its inputs, its outputs are the post-process step's inputs). */
export interface ModelVersionSpecProcessingModelInterface {
  /** Input tensors, keyed by name. */
  inputs?: ModelVersionSpecProcessingModelInterfaceInput[];
  /** Output tensors, keyed by name. */
  outputs?: ModelVersionSpecProcessingModelInterfaceOutput[];
}

/** One input tensor. */
export interface ModelVersionSpecProcessingModelInterfaceInput {
  /** Name of the tensor as the model declares it, for example input__0. */
  name: string;
  /** Element type of the tensor, using the Triton/KServe v2 datatype names. */
  datatype: ModelVersionSpecProcessingModelInterfaceInputDatatype;
  /** Dimensions of the tensor without the batch dimension; -1 marks a dynamic dimension. */
  shape: number[];
  /** Optional layout or encoding of the data, for example FORMAT_NCHW for a Triton image tensor or application/json for a TorchServe request body. */
  format?: string;
  /** Human description of the tensor. */
  description?: string;
}

/** Element type of the tensor, using the Triton/KServe v2 datatype names. */
export type ModelVersionSpecProcessingModelInterfaceInputDatatype =
  | 'BOOL'
  | 'UINT8'
  | 'UINT16'
  | 'UINT32'
  | 'UINT64'
  | 'INT8'
  | 'INT16'
  | 'INT32'
  | 'INT64'
  | 'FP16'
  | 'FP32'
  | 'FP64'
  | 'BF16'
  | 'BYTES';

/** One output tensor. */
export interface ModelVersionSpecProcessingModelInterfaceOutput {
  /** Name of the tensor as the model declares it, for example input__0. */
  name: string;
  /** Element type of the tensor, using the Triton/KServe v2 datatype names. */
  datatype: ModelVersionSpecProcessingModelInterfaceOutputDatatype;
  /** Dimensions of the tensor without the batch dimension; -1 marks a dynamic dimension. */
  shape: number[];
  /** Optional layout or encoding of the data, for example FORMAT_NCHW for a Triton image tensor or application/json for a TorchServe request body. */
  format?: string;
  /** Human description of the tensor. */
  description?: string;
}

/** Element type of the tensor, using the Triton/KServe v2 datatype names. */
export type ModelVersionSpecProcessingModelInterfaceOutputDatatype =
  | 'BOOL'
  | 'UINT8'
  | 'UINT16'
  | 'UINT32'
  | 'UINT64'
  | 'INT8'
  | 'INT16'
  | 'INT32'
  | 'INT64'
  | 'FP16'
  | 'FP32'
  | 'FP64'
  | 'BF16'
  | 'BYTES';

/** Provenance of this version: who owns it, what it was trained on, with which parameters, and how it scored. */
export interface ModelVersionSpecRecord {
  /** Team or person responsible for this version, for example ml-vision@example.com. */
  owner?: string;
  /** Dataset the version was trained or fine-tuned on. */
  dataset?: ModelVersionSpecRecordDataset;
  /** Training hyper-parameters as strings, for example {epochs: "90", lr: "0.1"}. */
  trainingParams?: Record<string, string>;
  /** Evaluation metrics by name, as numbers, for example {top1: 0.761, latencyP99Ms: 12}. */
  metrics?: Record<string, number>;
  /** Free-form tags of the version, for example the tags of an MLflow model version that kubectl modelship import copied. */
  tags?: Record<string, string>;
  /** Link to the training run that produced the artifact, for example the run's page in the MLflow UI. */
  runLink?: string;
  /** What changed since the previous version. */
  changelog?: string;
  /** When the artifact was produced, RFC 3339, for example 2025-01-31T12:00:00Z. */
  createdAt?: string;
}

/** Dataset the version was trained or fine-tuned on. */
export interface ModelVersionSpecRecordDataset {
  /** Name of the dataset, for example imagenet-2024-01. */
  name?: string;
  /** Location of the dataset, for example s3://datasets/imagenet/2024-01. */
  uri?: string;
  /** Content hash or version identifier of the dataset, for example sha256:…. */
  hash?: string;
}

/** Runtime-specific serving settings. */
export interface ModelVersionSpecRuntimeConfig {
  /** Settings for NVIDIA Triton, written into the model's config.pbtxt. */
  triton?: ModelVersionSpecRuntimeConfigTriton;
  /** Settings for TorchServe, written into the model's registration and config.properties. */
  torchserve?: ModelVersionSpecRuntimeConfigTorchserve;
}

/** Settings for NVIDIA Triton, written into the model's config.pbtxt. */
export interface ModelVersionSpecRuntimeConfigTriton {
  /** Largest batch Triton forms (max_batch_size). */
  maxBatchSize?: number;
  /** Number of model instances per server (instance_group count), 1 to 64. */
  instanceCount?: number;
  /** Where instances run: KIND_GPU, KIND_CPU, or KIND_AUTO (GPU when one is available). */
  instanceKind?: ModelVersionSpecRuntimeConfigTritonInstanceKind;
  /** Enables Triton's dynamic batcher, which groups individual requests into batches server-side. */
  dynamicBatching?: ModelVersionSpecRuntimeConfigTritonDynamicBatching;
  /** Triton backend to use, for example onnxruntime, tensorrt, pytorch, openvino or python. */
  backend?: string;
}

/** Where instances run: KIND_GPU, KIND_CPU, or KIND_AUTO (GPU when one is available). */
export type ModelVersionSpecRuntimeConfigTritonInstanceKind = 'KIND_AUTO' | 'KIND_GPU' | 'KIND_CPU';

/** Enables Triton's dynamic batcher, which groups individual requests into batches server-side. */
export interface ModelVersionSpecRuntimeConfigTritonDynamicBatching {
  /** Batch sizes the batcher tries to form, each at most maxBatchSize. */
  preferredBatchSizes?: number[];
  /** Longest time, in microseconds, a request waits in the queue for a batch to fill. */
  maxQueueDelayMicroseconds?: number;
}

/** Settings for TorchServe, written into the model's registration and config.properties. */
export interface ModelVersionSpecRuntimeConfigTorchserve {
  /** Handler to serve the model with: a built-in name (image_classifier, text_classifier, object_detector, image_segmenter) or a module path in the artifact. */
  handler?: string;
  /** Largest batch TorchServe forms (batch_size). */
  batchSize?: number;
  /** Longest time, in milliseconds, TorchServe waits to fill a batch (max_batch_delay). */
  maxBatchDelayMs?: number;
  /** Fewest worker processes per server (min_worker). */
  minWorkers?: number;
  /** Most worker processes per server (max_worker). */
  maxWorkers?: number;
  /** Seconds TorchServe waits for a worker's response before it restarts the worker (response_timeout). */
  responseTimeoutSeconds?: number;
}

/** Observed state of the ModelVersion, written by the operator. */
export interface ModelVersionStatus {
  /** The metadata.generation this status was computed from. */
  observedGeneration?: number;
  /** Lifecycle phase. */
  phase?: ModelVersionStatusPhase;
  /** When the operator last saw a revision built from this version receive traffic (a weight above 0 in a ModelDeployment's status.traffic, with ready pods), RFC 3339: written when it starts and when it stops serving; while it serves, the Serving condition is True. */
  lastServedAt?: string;
  /** How many ModelDeployments in the same namespace currently use this version. */
  usedByCount?: number;
  /** ModelDeployments in the same namespace that currently use this version, keyed by name: the first 256 in name order when more use it (usedByCount has the total). */
  usedBy?: ModelVersionStatusUsedByItem[];
  /** The content behind spec.processing's configMapRefs, pinned when the operator first saw this version (or first deployed it): what every revision of the version serves. */
  processing?: ModelVersionStatusProcessing;
  /** Latest observations of the ModelVersion's state, keyed by type, following Kubernetes conventions (metav1.Condition). */
  conditions?: ModelVersionStatusCondition[];
}

/** Lifecycle phase. */
export type ModelVersionStatusPhase = 'Available' | 'InUse' | 'Terminating' | 'Invalid';

/** A ModelDeployment that uses this version, and why. */
export interface ModelVersionStatusUsedByItem {
  /** Name of the ModelDeployment. */
  name: string;
  /** Why it holds this version. */
  reasons?: ModelVersionStatusUsedByItemReason[];
}

/** One reason (see reasons). */
export type ModelVersionStatusUsedByItemReason =
  'SpecVersion' | 'Stable' | 'Canary' | 'WarmRevision' | 'KeptRevision';

/** The content behind spec.processing's configMapRefs, pinned when the operator first saw this version (or first deployed it): what every revision of the version serves. */
export interface ModelVersionStatusProcessing {
  /** The pinned content of one stage's configMapRef. */
  preprocess?: ModelVersionStatusProcessingPreprocess;
  /** The pinned content of one stage's configMapRef. */
  postprocess?: ModelVersionStatusProcessingPostprocess;
}

/** The pinned content of one stage's configMapRef. */
export interface ModelVersionStatusProcessingPreprocess {
  /** Name of the ConfigMap (spec.processing.<stage>.configMapRef.name). */
  configMap: string;
  /** sha256 over the pinned keys and their values (canonical JSON), sha256:<hex>. */
  digest: string;
  /** sha256:<hex> of each pinned key's value, by key. */
  keys?: Record<string, string>;
  /** When the operator pinned it, RFC 3339. */
  pinnedAt?: string;
}

/** The pinned content of one stage's configMapRef. */
export interface ModelVersionStatusProcessingPostprocess {
  /** Name of the ConfigMap (spec.processing.<stage>.configMapRef.name). */
  configMap: string;
  /** sha256 over the pinned keys and their values (canonical JSON), sha256:<hex>. */
  digest: string;
  /** sha256:<hex> of each pinned key's value, by key. */
  keys?: Record<string, string>;
  /** When the operator pinned it, RFC 3339. */
  pinnedAt?: string;
}

/** One observation of one aspect of the object's state (metav1.Condition). */
export interface ModelVersionStatusCondition {
  /** Type of condition in CamelCase, for example Ready. */
  type: string;
  /** Status of the condition, one of True, False, Unknown. */
  status: ModelVersionStatusConditionStatus;
  /** The metadata.generation the condition was set from. */
  observedGeneration?: number;
  /** Last time the condition changed status, RFC 3339. */
  lastTransitionTime: string;
  /** Programmatic identifier, in CamelCase, of the reason for the last transition. */
  reason: string;
  /** Human-readable details about the last transition. */
  message: string;
}

/** Status of the condition, one of True, False, Unknown. */
export type ModelVersionStatusConditionStatus = 'True' | 'False' | 'Unknown';
