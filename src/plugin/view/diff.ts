// `kubectl modelship diff A B`: what changes for clients and operators when B replaces A. Rows
// carry a diff mark in the first column: ' ' same, '~' changed, '+' only in B, '-' only in A.
import type { ModelVersion } from '../../api/index.js';
import { deepEqual } from '../../core/equal.js';
import { describeTensorChange, diffInterface, diffMaps, metricDelta } from '../diff.js';
import { formatDelta, formatNumber, formatTime, renderTable } from '../format.js';

/** Long hashes are cut for the table; the mark still says whether they differ. */
const short = (v: string | undefined): string | undefined => (v && v.length > 24 ? `${v.slice(0, 19)}…` : v);

const mark = (a: unknown, b: unknown): string =>
  a === undefined && b !== undefined
    ? '+'
    : a !== undefined && b === undefined
      ? '-'
      : deepEqual(a, b)
        ? ' '
        : '~';

/** The keys of two objects whose values differ, e.g. the processing stages or runtime settings that changed. */
export function changedKeys(a: object | undefined, b: object | undefined): string[] {
  const ra = (a ?? {}) as Record<string, unknown>;
  const rb = (b ?? {}) as Record<string, unknown>;
  return [...new Set([...Object.keys(ra), ...Object.keys(rb)])]
    .filter((k) => !deepEqual(ra[k], rb[k]))
    .sort();
}

const STAGES = ['preprocess', 'postprocess'] as const;

/** The stages set (`preprocess + postprocess`), and on the second side which of them changed. */
function stagesText(
  p: ModelVersion['spec']['processing'],
  before?: ModelVersion['spec']['processing'],
): string | undefined {
  const set = STAGES.filter((k) => p?.[k] !== undefined);
  if (!set.length) return undefined;
  const changed = before === undefined ? [] : STAGES.filter((k) => !deepEqual(before?.[k], p?.[k]));
  return `${set.join(' + ')}${changed.length ? ` (changed: ${changed.join(', ')})` : ''}`;
}

function settingsText(b: Record<string, unknown>, a: Record<string, unknown>): string {
  const changed = changedKeys(a, b);
  return `${Object.keys(b).length} settings${changed.length ? ` (changed: ${changed.join(', ')})` : ''}`;
}

/** Runtime settings one level down (runtimeConfig.triton.maxBatchSize), where the differences are. */
function runtimeKeys(mv: ModelVersion): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [runtime, cfg] of Object.entries(mv.spec.runtimeConfig ?? {}))
    for (const [k, v] of Object.entries((cfg ?? {}) as Record<string, unknown>)) out[`${runtime}.${k}`] = v;
  return out;
}

export function renderDiff(a: ModelVersion, b: ModelVersion): string[] {
  const an = a.metadata?.name ?? 'A';
  const bn = b.metadata?.name ?? 'B';
  const ra = a.spec.record ?? {};
  const rb = b.spec.record ?? {};
  const lines = [
    `--- ${an} (${a.spec.model} ${a.spec.version})`,
    `+++ ${bn} (${b.spec.model} ${b.spec.version})`,
  ];

  const fields: Array<[string, unknown, unknown, string | undefined, string | undefined]> = [
    ['model', a.spec.model, b.spec.model, a.spec.model, b.spec.model],
    ['version', a.spec.version, b.spec.version, a.spec.version, b.spec.version],
    ['runtime', a.spec.runtime, b.spec.runtime, a.spec.runtime, b.spec.runtime],
    ['format', a.spec.format, b.spec.format, a.spec.format, b.spec.format],
    ['storageUri', a.spec.storageUri, b.spec.storageUri, a.spec.storageUri, b.spec.storageUri],
    ['digest', a.spec.digest, b.spec.digest, short(a.spec.digest), short(b.spec.digest)],
    ['owner', ra.owner, rb.owner, ra.owner, rb.owner],
    ['dataset.uri', ra.dataset?.uri, rb.dataset?.uri, ra.dataset?.uri, rb.dataset?.uri],
    ['dataset.hash', ra.dataset?.hash, rb.dataset?.hash, short(ra.dataset?.hash), short(rb.dataset?.hash)],
    [
      'createdAt',
      ra.createdAt,
      rb.createdAt,
      ra.createdAt && formatTime(ra.createdAt),
      rb.createdAt && formatTime(rb.createdAt),
    ],
    [
      'processing',
      a.spec.processing,
      b.spec.processing,
      stagesText(a.spec.processing),
      stagesText(b.spec.processing, a.spec.processing ?? {}),
    ],
    [
      'runtimeConfig',
      a.spec.runtimeConfig && runtimeKeys(a),
      b.spec.runtimeConfig && runtimeKeys(b),
      a.spec.runtimeConfig && `${Object.keys(runtimeKeys(a)).length} settings`,
      b.spec.runtimeConfig && settingsText(runtimeKeys(b), runtimeKeys(a)),
    ],
  ];
  lines.push(
    '',
    'RECORD',
    ...renderTable(
      ['', 'FIELD', an, bn],
      fields
        .filter(([, va, vb]) => va !== undefined || vb !== undefined)
        .map(([name, va, vb, ta, tb]) => [mark(va, vb), name, ta ?? '-', tb ?? '-']),
    ),
  );

  const params = diffMaps(ra.trainingParams, rb.trainingParams);
  lines.push('', 'TRAINING PARAMETERS');
  if (params.length)
    lines.push(
      ...renderTable(
        ['', 'NAME', an, bn],
        params.map((r) => [r.mark, r.name, r.a ?? '-', r.b ?? '-']),
      ),
    );
  else lines.push('  none recorded');

  const metrics = diffMaps(ra.metrics, rb.metrics);
  lines.push('', 'METRICS');
  if (metrics.length) {
    lines.push(
      ...renderTable(
        ['', 'NAME', an, bn, 'DELTA'],
        metrics.map((r) => {
          const d = metricDelta(r.a, r.b);
          const delta = d
            ? `${formatDelta(d.delta)}${d.percent === undefined || d.delta === 0 ? '' : ` (${formatDelta(Number(d.percent.toFixed(2)))}%)`}`
            : '-';
          return [
            r.mark,
            r.name,
            r.a === undefined ? '-' : formatNumber(r.a),
            r.b === undefined ? '-' : formatNumber(r.b),
            delta,
          ];
        }),
      ),
    );
  } else lines.push('  none recorded');

  const io = diffInterface(a.spec.interface, b.spec.interface);
  const changes = io.inputs.length + io.outputs.length;
  lines.push(
    '',
    changes === 0
      ? 'I/O SIGNATURE: unchanged'
      : io.breaking
        ? 'I/O SIGNATURE: changed; clients of the first version may break'
        : 'I/O SIGNATURE: changed compatibly; existing clients keep working',
  );
  for (const [title, list] of [
    ['inputs', io.inputs],
    ['outputs', io.outputs],
  ] as const) {
    if (list.length) lines.push(`  ${title}:`, ...list.map((c) => `    ${describeTensorChange(c)}`));
  }
  if (io.breaking) lines.push('  breaking:', ...io.breakingChanges.map((c) => `    ${c}`));

  lines.push('', 'CHANGELOG');
  for (const [n, r] of [
    [an, ra],
    [bn, rb],
  ] as const) {
    lines.push(`  ${n}: ${r.changelog ? r.changelog.replace(/\s*\n\s*/g, ' ') : '-'}`);
  }
  return lines;
}
