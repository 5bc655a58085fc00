// The pod network: one network namespace per pod, joined to the harness's bridge by a veth pair,
// with an address of the harness's subnet. No uplink, no forwarding, no NAT: the host (the node)
// and the pods reach each other, nothing else does. Pods keep their address for their life.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { DataPlaneConfig } from './config.js';

const exec = promisify(execFile);

export interface PodNet {
  netns: string;
  ip: string;
  slot: number;
}

async function ip(...args: string[]): Promise<string> {
  try {
    return (await exec('ip', args)).stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(' ')}: ${(err.stderr ?? err.message).trim()}`, { cause: e });
  }
}

export class PodNetwork {
  /** slot (the last octet) -> pod uid */
  private readonly used = new Map<number, string>();
  private readonly base: string;
  private readonly maxSlot: number;

  constructor(private readonly cfg: DataPlaneConfig) {
    if (cfg.prefixLength !== 24) throw new Error(`the data plane's subnet must be a /24, not ${cfg.cidr}`);
    this.base = cfg.cidr.split('/')[0]!.split('.').slice(0, 3).join('.');
    this.maxSlot = 254;
  }

  /** Namespaces of this data plane, for sweeping what a previous agent left. */
  async existing(): Promise<string[]> {
    const out = await ip('netns', 'list');
    return out
      .split('\n')
      .map((l) => l.split(' ')[0] ?? '')
      .filter((n) => n.startsWith(this.cfg.netnsPrefix));
  }

  async create(uid: string): Promise<PodNet> {
    let slot = 2;
    while (slot <= this.maxSlot && this.used.has(slot)) slot++;
    if (slot > this.maxSlot) throw new Error(`the data plane's subnet ${this.cfg.cidr} has no free address`);
    this.used.set(slot, uid);
    const netns = `${this.cfg.netnsPrefix}${slot}`;
    const host = `${this.cfg.vethPrefix}${slot}`;
    const peer = `${this.cfg.vethPrefix}p${slot}`;
    const addr = `${this.base}.${slot}`;
    try {
      await this.remove({ netns, ip: addr, slot }, false); // a leftover of the same name
      await ip('netns', 'add', netns);
      await ip('link', 'add', host, 'type', 'veth', 'peer', 'name', peer);
      await ip('link', 'set', peer, 'netns', netns);
      await ip('link', 'set', host, 'master', this.cfg.bridge, 'up');
      await ip('-n', netns, 'link', 'set', peer, 'name', 'eth0');
      await ip('-n', netns, 'addr', 'add', `${addr}/${this.cfg.prefixLength}`, 'dev', 'eth0');
      await ip('-n', netns, 'link', 'set', 'eth0', 'up');
      await ip('-n', netns, 'link', 'set', 'lo', 'up');
      return { netns, ip: addr, slot };
    } catch (e) {
      await this.remove({ netns, ip: addr, slot }).catch(() => undefined);
      throw e;
    }
  }

  /**
   * Kills whatever still runs in the namespace (a process that left its process group), deletes it
   * (its veth pair goes with it) and frees the address.
   */
  async remove(net: PodNet, release = true): Promise<void> {
    const names = await this.existing().catch(() => [] as string[]);
    if (names.includes(net.netns)) {
      const pids = (await ip('netns', 'pids', net.netns).catch(() => ''))
        .split('\n')
        .map((p) => Number(p))
        .filter((p) => p > 0);
      for (const p of pids) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // gone already
        }
      }
      await ip('netns', 'del', net.netns);
    }
    // A host veth left behind by a half-made sandbox.
    await ip('link', 'del', `${this.cfg.vethPrefix}${net.slot}`).catch(() => undefined);
    if (release) this.used.delete(net.slot);
  }
}
