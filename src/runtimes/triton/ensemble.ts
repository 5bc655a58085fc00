// spec.processing as part of what Triton serves: when a stage names a handler, the model repository
// holds a generated ensemble under the model's name (what clients always called), whose steps are
// pre-process -> model -> post-process:
//
//   /mnt/models/<model>/config.pbtxt                 platform "ensemble": spec.interface, the steps
//   /mnt/models/<model>/1/                            (empty: Triton wants a version directory)
//   /mnt/models/<model>__preprocess/config.pbtxt     backend "python", the stage's tensors
//   /mnt/models/<model>__preprocess/1/model.py       the step model (step-model.ts) that calls the handler
//   /mnt/models/<model>__model/config.pbtxt          the model itself, with spec.processing.modelInterface
//   /mnt/models/<model>__model/1/...                 the artifact
//   /mnt/models/<model>__postprocess/...             as for preprocess
//
// Tensors between the steps (names in the ensemble):
//   client inputs (spec.interface.inputs)  --preprocess-->  model inputs, "preprocess.<name>"
//   model inputs                           --model------->  model outputs, "model.<name>"
//   model outputs                          --postprocess->  client outputs (spec.interface.outputs)
// The model's tensors are spec.processing.modelInterface's, each list defaulting to spec.interface's.
// Without a pre-process step the client inputs feed the model (same names); without a post-process
// step the model's outputs are the client outputs (same names). Model names are DNS labels, so the
// `__` of the step names cannot clash with another model's name.
import type { ModelVersion } from '../../api/index.js';
import { STAGES, stageSpec, type ProcessingContent, type Stage } from '../common/processing.js';
import { MODEL_ROOT, PROCESSING_ROOT } from '../common/pod.js';
import type { ArtifactKind } from '../common/storage.js';
import { InvalidModelVersionError, mvKey } from '../types.js';
import { renderConfigPbtxt, str, tensors, type Tensor } from './config-pbtxt.js';
import { STEP_MODEL_PY } from './step-model.js';

/** module[.sub]:function, function optional (defaults to the stage's name). */
const HANDLER = /^([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)(?::([A-Za-z_][A-Za-z0-9_]*))?$/;

export interface EnsembleLayout {
  /** Triton's name of the model itself (its directory under MODEL_ROOT). */
  modelName: string;
  /** Generated files (revision ConfigMap key -> content) and where fetch-model copies them. */
  files: Record<string, string>;
  copies: Record<string, string>;
  /** Directories that must exist (the ensemble's empty version directory). */
  dirs: string[];
}

export function stepModelName(model: string, step: Stage | 'model'): string {
  return `${model}__${step}`;
}

/** The stages that run as ensemble steps: those with a handler. */
export function handlerStages(mv: ModelVersion): Stage[] {
  return STAGES.filter((s) => stageSpec(mv, s)?.handler !== undefined);
}

/**
 * The ensemble for a version whose processing names a handler; undefined otherwise (the model is
 * served under its own name, as without processing). Throws InvalidModelVersionError naming the
 * field for a version that cannot be assembled.
 */
export function renderEnsemble(
  mv: ModelVersion,
  artifact: ArtifactKind,
  content: ProcessingContent | undefined,
): EnsembleLayout | undefined {
  const stages = handlerStages(mv);
  if (stages.length === 0) return undefined;
  const { model, version } = mv.spec;
  const bad = (reason: string, field: string, what: string) =>
    new InvalidModelVersionError(reason, `ModelVersion ${mvKey(mv)}: ${field}: ${what}`);

  const iface = mv.spec.interface;
  if (!iface?.inputs?.length || !iface.outputs?.length) {
    throw bad(
      'ProcessingNeedsInterface',
      'spec.interface',
      'a processing handler runs as a step of a Triton ensemble, which needs the inputs and outputs clients send and get; declare spec.interface.inputs and outputs',
    );
  }
  const mi = mv.spec.processing?.modelInterface;
  const modelInputs: Tensor[] = mi?.inputs?.length ? mi.inputs : iface.inputs;
  const modelOutputs: Tensor[] = mi?.outputs?.length ? mi.outputs : iface.outputs;
  const pre = stages.includes('preprocess');
  const post = stages.includes('postprocess');
  const sameNames = (a: Tensor[], b: Tensor[]) =>
    a.length === b.length && a.every((t) => b.some((u) => u.name === t.name && u.datatype === t.datatype));
  if (!pre && !sameNames(modelInputs, iface.inputs)) {
    throw bad(
      'ModelInterfaceMismatch',
      'spec.processing.modelInterface.inputs',
      'without a preprocess handler the client inputs (spec.interface.inputs) feed the model as they are, so the model inputs must be the same tensors',
    );
  }
  if (!post && !sameNames(modelOutputs, iface.outputs)) {
    throw bad(
      'ModelInterfaceMismatch',
      'spec.processing.modelInterface.outputs',
      'without a postprocess handler the model outputs are what clients get (spec.interface.outputs), so they must be the same tensors',
    );
  }
  for (const stage of stages) checkHandler(mv, stage, artifact, content, bad);

  const modelName = stepModelName(model, 'model');
  const files: Record<string, string> = {};
  const copies: Record<string, string> = {};
  const place = (key: string, text: string, path: string) => {
    files[key] = text;
    copies[key] = path;
  };

  const batch = mv.spec.runtimeConfig?.triton?.maxBatchSize;
  const header = (name: string, what: string) => [
    `# Generated by modelship for ${model} ${version} (${what}); do not edit.`,
    `name: ${str(name)}`,
  ];
  const batchLine = batch !== undefined ? [`max_batch_size: ${batch}`] : [];

  // The steps' own models.
  const artifactDir = `${MODEL_ROOT}/${modelName}/1`;
  for (const stage of stages) {
    const name = stepModelName(model, stage);
    const inputs = stage === 'preprocess' ? iface.inputs : modelOutputs;
    const outputs = stage === 'preprocess' ? modelInputs : iface.outputs;
    const params: Array<[string, string]> = [
      ['modelship.stage', stage],
      ['modelship.handler', stageSpec(mv, stage)!.handler!],
      ['modelship.directory', `${PROCESSING_ROOT}/${stage}`],
      ['modelship.artifact', artifactDir],
      ['modelship.model', model],
      ['modelship.version', version],
    ];
    const config = [
      ...header(name, `${stage} step`),
      'backend: "python"',
      ...batchLine,
      ...tensors('input', inputs),
      ...tensors('output', outputs),
      // One CPU instance: a step is light, and on a GPU node Triton would otherwise start one per GPU.
      'instance_group [',
      '  {',
      '    count: 1',
      '    kind: KIND_CPU',
      '  }',
      ']',
      ...params.map(([k, v]) => `parameters { key: ${str(k)} value: { string_value: ${str(v)} } }`),
    ];
    place(`${stage}.config.pbtxt`, config.join('\n') + '\n', `${MODEL_ROOT}/${name}/config.pbtxt`);
    place(`${stage}.model.py`, STEP_MODEL_PY, `${MODEL_ROOT}/${name}/1/model.py`);
  }

  // The model itself, under its step name, with its own tensors.
  place(
    'model.config.pbtxt',
    renderConfigPbtxt(mv, { name: modelName, inputs: modelInputs, outputs: modelOutputs })!,
    `${MODEL_ROOT}/${modelName}/config.pbtxt`,
  );

  // The ensemble, under the model's name.
  const map = (kind: 'input_map' | 'output_map', pairs: Array<[string, string]>) =>
    pairs.map(([k, v]) => `      ${kind} { key: ${str(k)} value: ${str(v)} }`);
  const step = (name: string, inputs: Array<[string, string]>, outputs: Array<[string, string]>) => [
    '    {',
    `      model_name: ${str(name)}`,
    '      model_version: -1',
    ...map('input_map', inputs),
    ...map('output_map', outputs),
    '    }',
  ];
  const modelIn = (t: Tensor): string => (pre ? `preprocess.${t.name}` : t.name);
  const modelOut = (t: Tensor): string => (post ? `model.${t.name}` : t.name);
  const steps: string[][] = [];
  if (pre) {
    steps.push(
      step(
        stepModelName(model, 'preprocess'),
        iface.inputs.map((t) => [t.name, t.name]),
        modelInputs.map((t) => [t.name, modelIn(t)]),
      ),
    );
  }
  steps.push(
    step(
      modelName,
      modelInputs.map((t) => [t.name, modelIn(t)]),
      modelOutputs.map((t) => [t.name, modelOut(t)]),
    ),
  );
  if (post) {
    steps.push(
      step(
        stepModelName(model, 'postprocess'),
        modelOutputs.map((t) => [t.name, modelOut(t)]),
        iface.outputs.map((t) => [t.name, t.name]),
      ),
    );
  }
  const ensemble = [
    ...header(
      model,
      'ensemble: ' + [...(pre ? ['preprocess'] : []), 'model', ...(post ? ['postprocess'] : [])].join(' -> '),
    ),
    'platform: "ensemble"',
    ...batchLine,
    ...tensors('input', iface.inputs),
    ...tensors('output', iface.outputs),
    'ensemble_scheduling {',
    '  step [',
    ...steps.flatMap((s, i) => (i === steps.length - 1 ? s : [...s.slice(0, -1), '    },'])),
    '  ]',
    '}',
  ];
  place('config.pbtxt', ensemble.join('\n') + '\n', `${MODEL_ROOT}/${model}/config.pbtxt`);
  return { modelName, files, copies, dirs: [`${MODEL_ROOT}/${model}/1`] };
}

/**
 * The handler must exist in what ships with the version: its module as a `<module>.py` key of the
 * stage's pinned ConfigMap content (where the function must be defined at the top level), or, for
 * a directory or archive artifact, in the artifact (which only the server sees: checked at load).
 */
function checkHandler(
  mv: ModelVersion,
  stage: Stage,
  artifact: ArtifactKind,
  content: ProcessingContent | undefined,
  bad: (reason: string, field: string, what: string) => InvalidModelVersionError,
): void {
  const spec = stageSpec(mv, stage)!;
  const handler = spec.handler!;
  const field = `spec.processing.${stage}.handler`;
  const m = HANDLER.exec(handler);
  if (!m) {
    throw bad(
      'InvalidProcessingHandler',
      field,
      `${JSON.stringify(handler)} is not module:function (Python identifiers, e.g. labels:postprocess)`,
    );
  }
  const module = m[1]!;
  const fn = m[2] ?? stage;
  const file = `${module}.py`;
  if (content?.[stage]?.unknown) return;
  const data = content?.[stage]?.data ?? {};
  const source = data[file];
  const ref = spec.configMapRef;
  if (source !== undefined) {
    const defined = new RegExp(`^(?:async\\s+)?def\\s+${fn}\\s*\\(|^${fn}\\s*=|^class\\s+${fn}\\b`, 'm');
    if (!defined.test(source)) {
      throw bad(
        'ProcessingHandlerNotFound',
        field,
        `${file} (key of ConfigMap ${ref!.name}, spec.processing.${stage}.configMapRef) defines no top-level function ${fn}`,
      );
    }
    return;
  }
  if (artifact !== 'file') return; // may be in the artifact: checked when Triton loads the step
  const keys = Object.keys(data).sort();
  throw bad(
    'ProcessingHandlerNotFound',
    field,
    `module ${module} is not shipped with the version: ${
      ref
        ? `ConfigMap ${ref.name} (spec.processing.${stage}.configMapRef${ref.key ? `, key ${ref.key}` : ''}) has no key ${file} (its keys: ${keys.join(', ') || 'none'})`
        : `spec.processing.${stage} has no configMapRef to hold ${file}`
    }, and the artifact is a single file (${mv.spec.storageUri}); add ${file} to the stage's ConfigMap, or ship the model as a directory or .tar.gz with the module in it`,
  );
}
