// `kubectl modelship import MLFLOW_MODEL MLFLOW_VERSION`: an MLflow model version as a ModelVersion
// (docs/registry.md). Reads the model version, its run, its MLmodel file and download URI from the
// tracking server; computes the digest of a single-file artifact by reading it through the server;
// prints the manifest as YAML, or with --apply creates it, never replacing one.
import yaml from 'js-yaml';
import type { ModelVersion } from '../../api/index.js';
import type { ImportFlags, Invocation } from '../args.js';
import { PluginError } from '../errors.js';
import type { PluginClient } from '../kube.js';
import { MlflowClient, MlflowError, mlflowAuth } from '../../registry/mlflow-api.js';
import {
  ImportError,
  chooseArtifact,
  needsDigest,
  renderImportedModelVersion,
  type MlflowRun,
} from '../../registry/mlflow.js';
import type { Io } from './context.js';

export interface ImportContext {
  inv: Invocation;
  io: Io;
  env: NodeJS.ProcessEnv;
  /** The cluster, with --apply. */
  client?: PluginClient;
}

export async function runImport(ctx: ImportContext): Promise<number> {
  const [name, version] = ctx.inv.args as [string, string];
  const flags: ImportFlags = ctx.inv.import;
  const trackingUri = flags.trackingUri ?? ctx.env.MLFLOW_TRACKING_URI;
  if (!trackingUri || !/^https?:\/\//.test(trackingUri)) {
    throw new PluginError(
      trackingUri
        ? `the tracking URI ${trackingUri} is not an http(s):// URL of an MLflow tracking server`
        : 'import needs the MLflow tracking server: --tracking-uri https://mlflow.example.com, or MLFLOW_TRACKING_URI',
    );
  }
  const what = `MLflow model ${JSON.stringify(name)} version ${version}`;
  let mv: ModelVersion;
  let notes: string[];
  try {
    const mlflow = new MlflowClient(trackingUri, mlflowAuth(ctx.env));
    const modelVersion = await mlflow.modelVersion(name, version);
    const [downloadUri, mlmodel, run] = await Promise.all([
      mlflow.downloadUri(name, version),
      mlflow.mlmodel(name, version),
      modelVersion.run_id
        ? mlflow.run(modelVersion.run_id)
        : Promise.resolve<MlflowRun | undefined>(undefined),
    ]);
    let computedDigest: string | undefined;
    const input = { ...flags, trackingUri, modelVersion, run, mlmodel, downloadUri };
    if (needsDigest(flags) && flags.storageUri === undefined) {
      // The bytes the fetch step will download, as the tracking server serves them: the artifact's
      // file, or every file of a directory the server proxies (the directory digest scheme).
      const { path } = chooseArtifact(mlmodel, flags.runtime, flags);
      computedDigest =
        path !== ''
          ? await mlflow.fileDigest(name, version, path)
          : await mlflow.proxiedDirectoryDigest(downloadUri);
    }
    ({ mv, notes } = renderImportedModelVersion({ ...input, ...(computedDigest ? { computedDigest } : {}) }));
  } catch (err) {
    if (err instanceof ImportError || err instanceof MlflowError)
      throw new PluginError(`cannot import ${what}: ${err.message}`);
    throw err;
  }
  for (const note of notes) ctx.io.err(`note: ${note}\n`);

  if (!flags.apply) {
    ctx.io.out(yaml.dump(mv, { lineWidth: 120, noRefs: true, sortKeys: false }));
    return 0;
  }
  const client = ctx.client!;
  const mvName = mv.metadata!.name!;
  const created = await client.createVersion(mv);
  if (created === 'exists') {
    throw new PluginError(
      `ModelVersion ${client.namespace}/${mvName} already exists; ModelVersions are immutable, so it was left as it is. ` +
        `To release ${what} as another version, import it with another --version`,
    );
  }
  ctx.io.out(
    `Created ModelVersion ${client.namespace}/${mvName} (model ${mv.spec.model} ${mv.spec.version}) from ${what}.\n`,
  );
  return 0;
}
