// status [--watch]: one picture, or a live one. On a terminal the screen is redrawn in place each
// second (the pause countdown moves) and at each change; into a pipe or file, one line is appended
// per change of the status, so `status --watch | tee rollout.log` is a log of the rollout.
import type { V1Deployment } from '@kubernetes/client-node';
import type { ModelDeployment } from '../../api/index.js';
import { formatTime } from '../format.js';
import { renderStatus, statusLine } from '../view/status.js';
import type { Command, CommandContext } from './context.js';

const PURPOSE = 'status takes a ModelDeployment';

export const status: Command = async (ctx) => {
  const name = ctx.inv.args[0]!;
  if (!ctx.inv.watch) {
    const md = await ctx.client.getDeployment(name, PURPOSE);
    const deployments = await ctx.client.listRevisions(name);
    ctx.io.out(`${renderStatus(md, deployments, ctx.now()).join('\n')}\n`);
    return 0;
  }
  return ctx.io.isTTY ? watchScreen(ctx, name) : watchLines(ctx, name);
};

async function watchLines(ctx: CommandContext, name: string): Promise<number> {
  let last: string | undefined;
  let trouble: string | undefined;
  await ctx.client.follow(
    name,
    ctx.signal,
    (md) => {
      const line = statusLine(md);
      if (line === last) return;
      last = line;
      ctx.io.out(`${formatTime(new Date(ctx.now()).toISOString())}  ${line}\n`);
    },
    (problem) => {
      if (problem && problem !== trouble) ctx.io.err(`modelship: ${problem}\n`);
      trouble = problem;
    },
  );
  return 0;
}

const CSI = '\x1b[';

async function watchScreen(ctx: CommandContext, name: string): Promise<number> {
  let md: ModelDeployment | undefined;
  let deployments: V1Deployment[] = [];
  let trouble: string | undefined;
  let shown: string | undefined;
  const header = `kubectl modelship status ${name} -n ${ctx.client.namespace} --watch   (Ctrl-C to stop)`;

  const draw = (): void => {
    if (!md) return;
    const lines = [
      header,
      trouble ? `! ${trouble}` : `updated ${formatTime(new Date(ctx.now()).toISOString())}`,
      '',
      ...renderStatus(md, deployments, ctx.now()),
    ];
    const cols = ctx.io.columns;
    const frame = lines.map((l) => (cols && [...l].length > cols ? [...l].slice(0, cols).join('') : l));
    const text = frame.join('\n');
    if (text === shown) return;
    // Cursor home, each line over the old one with the rest of the line erased, then everything
    // below erased: a redraw without the flicker of clearing the whole screen first.
    ctx.io.out(`${CSI}H${frame.map((l) => `${l}${CSI}K`).join('\n')}\n${CSI}J`);
    shown = text;
  };

  const refreshPods = async (): Promise<void> => {
    try {
      deployments = await ctx.client.listRevisions(name);
    } catch {
      // The watch reports an unreachable apiserver; the table keeps the last pods seen.
    }
  };

  ctx.io.out(`${CSI}?25l${CSI}2J`);
  await refreshPods();
  const tick = setInterval(() => {
    void refreshPods().then(draw);
  }, 1000);
  try {
    await ctx.client.follow(
      name,
      ctx.signal,
      (next) => {
        md = next;
        draw();
      },
      (problem) => {
        trouble = problem;
        draw();
      },
    );
  } finally {
    clearInterval(tick);
    ctx.io.out(`${CSI}?25h`);
  }
  return 0;
}
