// MLflow's REST API, the few requests `kubectl modelship import` makes, over Node's fetch.
// Credentials as MLflow's own clients take them: MLFLOW_TRACKING_TOKEN (a bearer token), else
// MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (basic auth).
import { createHash } from 'node:crypto';
import yaml from 'js-yaml';
import { renderManifest, unfitManifestPath, type ManifestEntry } from '../runtimes/common/manifest.js';
import { proxiedArtifactPath, type Mlmodel, type MlflowModelVersion, type MlflowRun } from './mlflow.js';

/** A request to MLflow that failed, worded for the user. */
export class MlflowError extends Error {}

/** One request gets no answer within this: fail rather than hang. */
const REQUEST_TIMEOUT_MS = 30_000;
/** Downloading the artifact to hash it may take longer. */
const DOWNLOAD_TIMEOUT_MS = 600_000;

export function mlflowAuth(env: NodeJS.ProcessEnv): string | undefined {
  if (env.MLFLOW_TRACKING_TOKEN) return `Bearer ${env.MLFLOW_TRACKING_TOKEN}`;
  if (env.MLFLOW_TRACKING_USERNAME !== undefined && env.MLFLOW_TRACKING_PASSWORD !== undefined) {
    const pair = `${env.MLFLOW_TRACKING_USERNAME}:${env.MLFLOW_TRACKING_PASSWORD}`;
    return `Basic ${Buffer.from(pair).toString('base64')}`;
  }
  return undefined;
}

export class MlflowClient {
  private readonly base: string;

  constructor(
    trackingUri: string,
    private readonly auth: string | undefined,
  ) {
    this.base = trackingUri.replace(/\/+$/, '');
  }

  private async get(
    path: string,
    query: Record<string, string>,
    timeoutMs = REQUEST_TIMEOUT_MS,
  ): Promise<Response> {
    const url = `${this.base}${path}?${new URLSearchParams(query).toString()}`;
    let res: Response;
    try {
      res = await fetch(url, {
        headers: { accept: 'application/json', ...(this.auth ? { authorization: this.auth } : {}) },
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new MlflowError(
        `cannot reach the MLflow tracking server at ${this.base}: ${cause?.code ?? cause?.message ?? (err as Error).message}; check --tracking-uri or MLFLOW_TRACKING_URI`,
      );
    }
    if (res.ok) return res;
    const body = await res.text().catch(() => '');
    let detail = body.slice(0, 300);
    try {
      const j = JSON.parse(body) as { error_code?: string; message?: string };
      if (j.message) detail = `${j.error_code ? `${j.error_code}: ` : ''}${j.message}`;
    } catch {
      // Not JSON: the text as it came.
    }
    if (res.status === 401 || res.status === 403) {
      throw new MlflowError(
        `the MLflow tracking server at ${this.base} refused ${path} (${res.status}): set MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD`,
      );
    }
    throw new MlflowError(`MLflow ${path} answered ${res.status}: ${detail}`);
  }

  private async json<T>(path: string, query: Record<string, string>): Promise<T> {
    return (await (await this.get(path, query)).json()) as T;
  }

  async modelVersion(name: string, version: string): Promise<MlflowModelVersion> {
    const r = await this.json<{ model_version: MlflowModelVersion }>('/api/2.0/mlflow/model-versions/get', {
      name,
      version,
    });
    return r.model_version;
  }

  async downloadUri(name: string, version: string): Promise<string> {
    const r = await this.json<{ artifact_uri: string }>('/api/2.0/mlflow/model-versions/get-download-uri', {
      name,
      version,
    });
    return r.artifact_uri;
  }

  async run(runId: string): Promise<MlflowRun> {
    return (await this.json<{ run: MlflowRun }>('/api/2.0/mlflow/runs/get', { run_id: runId })).run;
  }

  /**
   * A file of the model version's artifact, read by the tracking server from its artifact store
   * (the route the MLflow UI reads model files through), so it works for every store the server can
   * read, proxied or not, with the server's own credentials.
   */
  private artifact(name: string, version: string, path: string, timeoutMs?: number): Promise<Response> {
    return this.get('/model-versions/get-artifact', { name, version, path }, timeoutMs);
  }

  async mlmodel(name: string, version: string): Promise<Mlmodel> {
    const text = await (await this.artifact(name, version, 'MLmodel')).text();
    const doc = yaml.load(text);
    if (typeof doc !== 'object' || doc === null)
      throw new MlflowError(`the MLmodel file of ${name} version ${version} is not a YAML mapping`);
    return doc as Mlmodel;
  }

  /**
   * The directory digest (src/runtimes/common/manifest.ts) of an artifact directory that the
   * tracking server proxies (an `mlflow-artifacts:` URI): listed and read through the server's
   * artifact API. Undefined for another URI, or a file name the scheme cannot hold.
   */
  async proxiedDirectoryDigest(artifactUri: string): Promise<string | undefined> {
    const root = proxiedArtifactPath(artifactUri);
    if (root === undefined) return undefined;
    const api = '/api/2.0/mlflow-artifacts/artifacts';
    const entries: ManifestEntry[] = [];
    const walk = async (rel: string): Promise<boolean> => {
      const dir = rel === '' ? root : `${root}/${rel}`;
      const listed = await this.json<{ files?: Array<{ path: string; is_dir?: boolean }> }>(api, {
        path: dir,
      });
      for (const f of listed.files ?? []) {
        const path = rel === '' ? f.path : `${rel}/${f.path}`;
        if (f.is_dir) {
          if (!(await walk(path))) return false;
          continue;
        }
        if (unfitManifestPath(path) !== undefined) return false;
        const file = `${dir}/${f.path}`.split('/').map(encodeURIComponent).join('/');
        const hex = await this.sha256(await this.get(`${api}/${file}`, {}, DOWNLOAD_TIMEOUT_MS));
        entries.push({ path, sha256: hex });
      }
      return true;
    };
    if (!(await walk(''))) return undefined;
    return `sha256:${createHash('sha256').update(renderManifest(entries)).digest('hex')}`;
  }

  private async sha256(res: Response): Promise<string> {
    const hash = createHash('sha256');
    if (res.body) for await (const chunk of res.body) hash.update(chunk as Uint8Array);
    return hash.digest('hex');
  }

  /** sha256:<hex> of one file of the artifact, streamed; undefined when the server cannot serve it. */
  async fileDigest(name: string, version: string, path: string): Promise<string | undefined> {
    let res: Response;
    try {
      res = await this.artifact(name, version, path, DOWNLOAD_TIMEOUT_MS);
    } catch (err) {
      if (err instanceof MlflowError && /answered (404|400|501)/.test(err.message)) return undefined;
      throw err;
    }
    return `sha256:${await this.sha256(res)}`;
  }
}
