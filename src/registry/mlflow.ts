// An MLflow model version as a ModelVersion (`kubectl modelship import`, docs/registry.md). Pure:
// the answers of MLflow's REST API in, the manifest (or an ImportError naming the field) out; the
// requests are in ./mlflow-api.ts.
import type {
  ModelVersion,
  ModelVersionSpecFormat,
  ModelVersionSpecInterfaceInput,
  ModelVersionSpecRecord,
  ModelVersionSpecRuntime,
} from '../api/index.js';
import { API_VERSION, MODEL_VERSION_KIND } from '../api/index.js';
import { modelVersionName } from '../core/model-version.js';
import { parseSemver } from '../core/semver.js';

/** A field of MLflow's answer that cannot become a ModelVersion, and what to do about it. */
export class ImportError extends Error {
  constructor(
    /** Where in MLflow's answer, e.g. signature.inputs[1] ("when"). */
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

export interface MlflowTag {
  key: string;
  value?: string;
}

/** model-versions/get's model_version (the fields used). */
export interface MlflowModelVersion {
  name: string;
  version: string;
  creation_timestamp?: number | string;
  user_id?: string;
  description?: string;
  source?: string;
  run_id?: string;
  run_link?: string;
  tags?: MlflowTag[];
  model_id?: string;
}

/** runs/get's run (the fields used). Metric values may be the strings "NaN" or "Infinity". */
export interface MlflowRun {
  info: { run_id: string; experiment_id?: string; user_id?: string };
  data?: {
    metrics?: Array<{ key: string; value: number | string }>;
    params?: MlflowTag[];
  };
  inputs?: {
    dataset_inputs?: Array<{
      tags?: MlflowTag[];
      dataset: { name?: string; digest?: string; source_type?: string; source?: string };
    }>;
  };
}

/** The MLmodel file of the model's artifact (YAML), the fields used. */
export interface Mlmodel {
  flavors?: Record<string, Record<string, unknown> | null>;
  /** JSON texts of the input, output and params schemas. */
  signature?: { inputs?: string | null; outputs?: string | null; params?: string | null };
}

export type TensorSpec = ModelVersionSpecInterfaceInput;

/** The semantic version: given, else the model version's tag of this name. */
export const VERSION_TAG = 'modelship.version';
/** Annotation on an imported ModelVersion: the model version's page in the MLflow UI. */
export const IMPORTED_FROM_ANNOTATION = 'modelship.io/imported-from';

// MLflow column types (mlflow.types.DataType) -> KServe v2 datatypes. datetime has none.
const COLUMN_TYPES: Record<string, TensorSpec['datatype']> = {
  boolean: 'BOOL',
  integer: 'INT32',
  long: 'INT64',
  float: 'FP32',
  double: 'FP64',
  string: 'BYTES',
  binary: 'BYTES',
};

// numpy dtype names (str(np.dtype)) -> KServe v2 datatypes. object holds strings or bytes in MLflow
// tensor signatures, which v2 carries as BYTES.
const TENSOR_TYPES: Record<string, TensorSpec['datatype']> = {
  bool: 'BOOL',
  int8: 'INT8',
  int16: 'INT16',
  int32: 'INT32',
  int64: 'INT64',
  uint8: 'UINT8',
  uint16: 'UINT16',
  uint32: 'UINT32',
  uint64: 'UINT64',
  float16: 'FP16',
  float32: 'FP32',
  float64: 'FP64',
  object: 'BYTES',
  str: 'BYTES',
  bytes: 'BYTES',
};

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * One side of an MLflow signature (the JSON text MLmodel holds) as tensors. Tensor-based specs keep
 * their shape without the leading -1 (MLflow's variable batch dimension; the ModelVersion's shapes
 * exclude the batch); a spec that is only the batch dimension becomes [1]. Column-based specs become
 * one tensor per column: a scalar column [1], an array column [-1] per nesting level.
 */
export function mapSchema(json: string, side: 'inputs' | 'outputs'): TensorSpec[] {
  const field = `signature.${side}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (err) {
    throw new ImportError(field, `is not JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(parsed)) throw new ImportError(field, 'is not a list of column or tensor specs');
  const seen = new Set<string>();
  return parsed.map((spec: unknown, i) => {
    const at = (name?: string): string =>
      `${field}[${i}]${name === undefined ? '' : ` (${JSON.stringify(name)})`}`;
    if (!isObject(spec)) throw new ImportError(at(), 'is not a column or tensor spec');
    const name = typeof spec.name === 'string' && spec.name !== '' ? spec.name : undefined;
    if (name === undefined) {
      throw new ImportError(
        at(),
        'has no name; the model server addresses inputs and outputs by name: log the model with named ' +
          "columns or tensors (TensorSpec(..., name='input'))",
      );
    }
    if (name.length > 128) throw new ImportError(at(name), 'the name is longer than 128 characters');
    if (seen.has(name)) throw new ImportError(at(name), 'the name is used twice');
    seen.add(name);
    const tensor = spec.type === 'tensor' ? mapTensorSpec(spec, at(name)) : mapColumnSpec(spec, at(name));
    return { name, ...tensor };
  });
}

function mapTensorSpec(spec: Json, at: string): Omit<TensorSpec, 'name'> {
  const ts = spec['tensor-spec'];
  if (!isObject(ts)) throw new ImportError(at, 'a tensor spec without tensor-spec');
  const dtype = String(ts.dtype ?? '');
  // numpy writes fixed-width strings as <U12 or |S8.
  const datatype = TENSOR_TYPES[dtype] ?? (/^[<>|=]?[US]\d*$/.test(dtype) ? 'BYTES' : undefined);
  if (!datatype) {
    throw new ImportError(
      `${at}.tensor-spec.dtype`,
      `numpy dtype ${JSON.stringify(dtype)} has no tensor datatype (bool, int8..int64, uint8..uint64, ` +
        'float16, float32, float64, object/str/bytes); cast the tensor, or write the ModelVersion by hand',
    );
  }
  const shape = ts.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && (d as number) >= -1)) {
    throw new ImportError(
      `${at}.tensor-spec.shape`,
      `${JSON.stringify(shape)} is not a list of sizes (-1 for a variable one)`,
    );
  }
  const dims = shape as number[];
  const rest = dims[0] === -1 ? dims.slice(1) : dims;
  if (rest.length > 16) throw new ImportError(`${at}.tensor-spec.shape`, 'has more than 16 dimensions');
  return { datatype, shape: rest.length === 0 ? [1] : rest };
}

/** A column's datatype, and its dimensions: none for a scalar, one -1 per array level. */
function mapColumnType(spec: Json, at: string): { datatype: TensorSpec['datatype']; dims: number[] } {
  const type = spec.type;
  if (type === 'array') {
    const items = spec.items;
    if (!isObject(items)) throw new ImportError(`${at}.items`, 'an array column without items');
    const inner = mapColumnType(items, `${at}.items`);
    return { datatype: inner.datatype, dims: [-1, ...inner.dims] };
  }
  const datatype = typeof type === 'string' ? COLUMN_TYPES[type] : undefined;
  if (!datatype) {
    throw new ImportError(
      `${at}.type`,
      `MLflow type ${JSON.stringify(type)} has no tensor datatype (boolean, integer, long, float, double, ` +
        'string, binary, or arrays of them); encode it as one of those (a datetime as a string or a ' +
        'long timestamp), or write the ModelVersion by hand',
    );
  }
  return { datatype, dims: [] };
}

function mapColumnSpec(spec: Json, at: string): Omit<TensorSpec, 'name'> {
  const { datatype, dims } = mapColumnType(spec, at);
  // A scalar column is one value per row: [1], as Triton writes a per-row scalar.
  return { datatype, shape: dims.length === 0 ? [1] : dims };
}

/** The MLmodel's signature as the ModelVersion's interface. */
export function mapSignature(mlmodel: Mlmodel): { inputs: TensorSpec[]; outputs: TensorSpec[] } {
  const sig = mlmodel.signature;
  if (!sig || !sig.inputs) {
    throw new ImportError(
      'signature',
      'the model was logged without a signature (inputs and outputs); log it with signature=... ' +
        '(mlflow.models.infer_signature), since the interface is what a rollout checks',
    );
  }
  if (!sig.outputs) throw new ImportError('signature.outputs', 'the signature has no outputs');
  return { inputs: mapSchema(sig.inputs, 'inputs'), outputs: mapSchema(sig.outputs, 'outputs') };
}

export interface ArtifactChoice {
  format: ModelVersionSpecFormat;
  /** The file inside the model's artifact directory to serve, or '' for the whole directory. */
  path: string;
}

const FORMATS: readonly ModelVersionSpecFormat[] = [
  'onnx',
  'tensorrt',
  'torchscript',
  'tensorflow_savedmodel',
  'openvino',
  'python',
  'mar',
];

const RUNTIME_FORMATS: Record<ModelVersionSpecRuntime, readonly ModelVersionSpecFormat[]> = {
  triton: ['onnx', 'tensorrt', 'torchscript', 'tensorflow_savedmodel', 'openvino', 'python'],
  torchserve: ['mar', 'torchscript', 'python'],
};

/**
 * What to serve out of the model's artifact: --format and --artifact-path when given, else the ONNX
 * flavor's file (the one flavor whose artifact a model server loads as is).
 */
export function chooseArtifact(
  mlmodel: Mlmodel,
  runtime: ModelVersionSpecRuntime,
  opts: { format?: string; artifactPath?: string },
): ArtifactChoice {
  const flavors = Object.keys(mlmodel.flavors ?? {});
  let format: ModelVersionSpecFormat;
  let path: string | undefined = opts.artifactPath;
  if (opts.format !== undefined) {
    if (!(FORMATS as readonly string[]).includes(opts.format))
      throw new ImportError('--format', `${opts.format} is not one of ${FORMATS.join(', ')}`);
    format = opts.format as ModelVersionSpecFormat;
  } else if (mlmodel.flavors?.onnx) {
    format = 'onnx';
    const data = mlmodel.flavors.onnx.data;
    path ??= typeof data === 'string' && data !== '' ? data : 'model.onnx';
  } else {
    throw new ImportError(
      'flavors',
      `the model's flavors (${flavors.join(', ') || 'none'}) do not say which file a model server loads; ` +
        'pass --format and --artifact-path (the file inside the model artifact, or . for the whole directory)',
    );
  }
  if (!RUNTIME_FORMATS[runtime].includes(format)) {
    throw new ImportError(
      'spec.format',
      `runtime ${runtime} does not serve format ${format} (it serves ${RUNTIME_FORMATS[runtime].join(', ')}); pass --runtime or --format`,
    );
  }
  path = (path ?? '').replace(/^(\.\/)+/, '').replace(/\/+$/, '');
  if (path === '.') path = '';
  if (path.split('/').includes('..'))
    throw new ImportError('--artifact-path', `${opts.artifactPath} may not leave the model's artifact`);
  return { format, path };
}

/**
 * The path under the artifacts destination of an `mlflow-artifacts:` URI (`mlflow-artifacts:/1/x`
 * or `mlflow-artifacts://host:port/1/x`), without a trailing '/'; undefined for another scheme.
 */
export function proxiedArtifactPath(uri: string): string | undefined {
  const m = /^mlflow-artifacts:(?:\/\/[^/]*)?\/*(.*?)\/*$/.exec(uri);
  return m ? m[1]! : undefined;
}

/**
 * Where modelship fetches the artifact from: --storage-uri as given, else MLflow's download URI in a
 * scheme the fetch step knows. `mlflow-artifacts:` URIs (a tracking server that proxies artifacts)
 * name a path under the server's --artifacts-destination, which its API does not reveal: the caller
 * passes it. `path` is the file inside the model's directory ('' for the directory itself).
 */
export function mapStorageUri(
  downloadUri: string,
  path: string,
  opts: { storageUri?: string; artifactsDestination?: string },
): string {
  if (opts.storageUri !== undefined) return opts.storageUri;
  let base: string;
  const proxied = proxiedArtifactPath(downloadUri);
  if (proxied !== undefined) {
    if (opts.artifactsDestination === undefined) {
      throw new ImportError(
        'artifact_uri',
        `${downloadUri} is served by the tracking server's artifact proxy, which stores it under the ` +
          "server's --artifacts-destination: pass the same value as --artifacts-destination (for example " +
          's3://mlflow-artifacts), or the full location as --storage-uri',
      );
    }
    base = `${opts.artifactsDestination.replace(/\/+$/, '')}/${proxied}`;
  } else {
    base = downloadUri;
  }
  base = base.replace(/\/+$/, '');
  const uri = path === '' ? `${base}/` : `${base}/${path}`;
  if (!/^(s3|gs|pvc|https):\/\/\S+$/.test(uri)) {
    throw new ImportError(
      'artifact_uri',
      `the artifact is at ${uri}, which modelship cannot fetch (schemes s3://, gs://, pvc://, https://); ` +
        'pass --storage-uri, or --artifacts-destination for a proxied artifact',
    );
  }
  if (path === '' && uri.startsWith('https://')) {
    throw new ImportError(
      'artifact_uri',
      `${uri} is a directory, and https:// fetches one file: pass --artifact-path or a .tar.gz as --storage-uri`,
    );
  }
  return uri;
}

/** The semantic version: --version, else the model version's modelship.version tag. */
export function chooseVersion(mv: MlflowModelVersion, given: string | undefined): string {
  const tag = mv.tags?.find((t) => t.key === VERSION_TAG)?.value;
  const version = given ?? tag;
  const from = given !== undefined ? '--version' : `tag ${VERSION_TAG}`;
  if (version === undefined) {
    throw new ImportError(
      'version',
      `MLflow numbers versions 1, 2, 3 (this is ${mv.version}); a ModelVersion needs a semantic version, ` +
        `whose major number tells breaking interface changes: pass --version 1.2.0, or tag the model ` +
        `version in MLflow with ${VERSION_TAG}=1.2.0`,
    );
  }
  if (!parseSemver(version) || version.length > 128) {
    throw new ImportError(
      from,
      `${JSON.stringify(version)} is not a Semantic Versioning 2.0 version such as 1.2.0 or 2.0.0-rc.1`,
    );
  }
  return version;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The ModelVersion's spec.model: --model, else the registered model's name when it is a DNS label. */
export function chooseModel(name: string, given: string | undefined): string {
  const model = given ?? name;
  if (!DNS_LABEL.test(model) || model.length > 63) {
    throw new ImportError(
      given !== undefined ? '--model' : 'name',
      `${JSON.stringify(model)} is not a DNS label (lowercase letters, digits and '-', at most 63)` +
        (given === undefined ? '; pass --model with the name modelship should use' : ''),
    );
  }
  return model;
}

function checkMap(
  field: string,
  entries: Array<[string, string]>,
  hint: string,
  maxValue = 1024,
): Record<string, string> | undefined {
  if (entries.length === 0) return undefined;
  if (entries.length > 64)
    throw new ImportError(field, `has ${entries.length} entries, at most 64 fit; ${hint}`);
  for (const [k, v] of entries) {
    if (v.length > maxValue)
      throw new ImportError(
        `${field}.${k}`,
        `is ${v.length} characters long, at most ${maxValue} fit; ${hint}`,
      );
  }
  return Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The dataset the run trained on: the input tagged mlflow.data.context=training, else the first. */
function chooseDataset(run: MlflowRun | undefined): ModelVersionSpecRecord['dataset'] {
  const inputs = run?.inputs?.dataset_inputs ?? [];
  const training = inputs.find((d) =>
    d.tags?.some((t) => t.key === 'mlflow.data.context' && t.value === 'training'),
  );
  const ds = (training ?? inputs[0])?.dataset;
  if (!ds) return undefined;
  const out: NonNullable<ModelVersionSpecRecord['dataset']> = {};
  if (ds.name) out.name = ds.name.slice(0, 256);
  if (ds.digest) out.hash = ds.digest.slice(0, 256);
  // The source is JSON whose shape depends on source_type; the common ones carry a uri or url.
  try {
    const src = JSON.parse(ds.source ?? '') as Json;
    const uri = src.uri ?? src.url ?? src.path;
    if (typeof uri === 'string' && uri !== '' && uri.length <= 2048) out.uri = uri;
  } catch {
    // Not JSON: no location to record.
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

const millisToRfc3339 = (ms: number | string | undefined): string | undefined => {
  const n = Number(ms);
  return ms === undefined || !Number.isFinite(n) || n <= 0
    ? undefined
    : new Date(n).toISOString().replace(/\.\d+Z$/, 'Z');
};

export interface ImportInput {
  /** The tracking server's URL, for the links (no credentials in it). */
  trackingUri: string;
  modelVersion: MlflowModelVersion;
  /** The run that logged the model; absent when the version has no run_id. */
  run?: MlflowRun;
  mlmodel: Mlmodel;
  /** model-versions/get-download-uri's artifact_uri. */
  downloadUri: string;
  /** The artifact's digest as the command computed it, when it could. */
  computedDigest?: string;
  runtime: ModelVersionSpecRuntime;
  model?: string;
  version?: string;
  format?: string;
  artifactPath?: string;
  storageUri?: string;
  artifactsDestination?: string;
  digest?: string;
  unverified: boolean;
}

/** The digest decision, before the artifact is read: whether the command should compute it. */
export function needsDigest(input: Pick<ImportInput, 'digest' | 'unverified'>): boolean {
  return input.digest === undefined && !input.unverified;
}

/** Removes user:password@ from a URL, so a link never carries credentials. */
export function withoutCredentials(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/]*@/i, '$1').replace(/\/+$/, '');
}

/** The ModelVersion for an MLflow model version, and notes for the user (what was left out). */
export function renderImportedModelVersion(input: ImportInput): { mv: ModelVersion; notes: string[] } {
  const notes: string[] = [];
  const src = input.modelVersion;
  const model = chooseModel(src.name, input.model);
  const version = chooseVersion(src, input.version);
  const artifact = chooseArtifact(input.mlmodel, input.runtime, input);
  const storageUri = mapStorageUri(input.downloadUri, artifact.path, input);
  const iface = mapSignature(input.mlmodel);
  if (input.mlmodel.signature?.params)
    notes.push('signature.params (inference parameters) has no place in a ModelVersion: left out');

  const record: ModelVersionSpecRecord = {};
  const owner = src.user_id || input.run?.info.user_id;
  if (owner) record.owner = owner.slice(0, 253);
  const dataset = chooseDataset(input.run);
  if (dataset) record.dataset = dataset;
  const params = checkMap(
    'run.data.params',
    (input.run?.data?.params ?? []).map((p) => [p.key, p.value ?? '']),
    'write the ModelVersion by hand with the ones that matter',
  );
  if (params) record.trainingParams = params;
  const metrics: Array<[string, number]> = [];
  for (const m of input.run?.data?.metrics ?? []) {
    const v = typeof m.value === 'number' ? m.value : Number(m.value);
    if (Number.isFinite(v)) metrics.push([m.key, v]);
    else notes.push(`run.data.metrics.${m.key} is ${String(m.value)}, not a number JSON can hold: left out`);
  }
  if (metrics.length > 64)
    throw new ImportError('run.data.metrics', `has ${metrics.length} metrics, at most 64 fit`);
  if (metrics.length > 0) record.metrics = Object.fromEntries(metrics.sort(([a], [b]) => (a < b ? -1 : 1)));
  const tags = checkMap(
    'tags',
    (src.tags ?? []).filter((t) => !t.key.startsWith('modelship.')).map((t) => [t.key, t.value ?? '']),
    'shorten them in MLflow',
  );
  if (tags) record.tags = tags;
  const description = src.description?.trim();
  if (description) {
    if (description.length > 4096)
      throw new ImportError(
        'description',
        `is ${description.length} characters long; record.changelog holds 4096`,
      );
    record.changelog = description;
  }
  const createdAt = millisToRfc3339(src.creation_timestamp);
  if (createdAt) record.createdAt = createdAt;
  const tracking = withoutCredentials(input.trackingUri);
  const runLink =
    src.run_link ||
    (input.run
      ? `${tracking}/#/experiments/${input.run.info.experiment_id ?? '0'}/runs/${input.run.info.run_id}`
      : '');
  if (runLink) record.runLink = runLink.slice(0, 2048);

  let digest: Pick<ModelVersion['spec'], 'digest' | 'digestPolicy'>;
  const given = input.digest ?? input.computedDigest;
  if (given !== undefined) {
    if (!/^sha256:[a-f0-9]{64}$/.test(given))
      throw new ImportError(
        '--digest',
        `${given} is not sha256: followed by 64 lowercase hexadecimal characters`,
      );
    digest = { digest: given };
  } else if (input.unverified) {
    digest = { digestPolicy: 'Unverified' };
  } else {
    throw new ImportError(
      'digest',
      `modelship could not read ${storageUri} through the tracking server to compute its digest; pass ` +
        `--digest sha256:… (for a directory: kubectl modelship digest DIR), or --unverified to serve it ` +
        'without a content check (digestPolicy: Unverified)',
    );
  }

  const mv: ModelVersion = {
    apiVersion: API_VERSION,
    kind: MODEL_VERSION_KIND,
    metadata: {
      name: modelVersionName(model, version),
      annotations: {
        [IMPORTED_FROM_ANNOTATION]: `${tracking}/#/models/${encodeURIComponent(src.name)}/versions/${src.version}`,
      },
    },
    spec: {
      model,
      version,
      runtime: input.runtime,
      format: artifact.format,
      storageUri,
      ...digest,
      interface: iface,
      record,
    },
  };
  return { mv, notes };
}
