// An impaired link (random loss and delay, both directions) between the host and a network
// namespace, for the media tests. This kernel has no netem qdisc, so the impairment is a small
// user-space L2 bridge (lossy_link.py, Python 3 stdlib) running in a middle namespace:
//
//   host: <hostIf> HOST_IP ── veth ── [mid ns: tohost ⇄ bridge ⇄ toclient] ── veth ── [client ns: eth0 NS_IP]
//
// Everything lives in namespaces and interfaces this helper creates (the host end of the first
// veth is the only thing in the host namespace); test traffic stays on them. Needs root, iproute2
// and python3; `check()` says what is missing so a test can fail loudly instead of skipping.
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lossy_link.py');

export interface DirectionStats {
  seen: number;
  dropped: number;
  other: number;
  sent: number;
  queued: number;
  sendErrors: number;
  oversize: number;
  kernelDrops: number;
  maxLateMs: number;
  /** The latest a frame left, behind its time, since the previous stats() (ms). */
  windowLateMs: number;
}
/** ab: host → client (the client's downlink); ba: client → host (its uplink). */
export interface LinkStats {
  ab: DirectionStats;
  ba: DirectionStats;
  loss: number;
  delayMs: number;
}
export interface PingResult {
  sent: number;
  received: number;
  loss: number;
  rtt: { min: number; median: number; avg: number; p90: number; max: number } | null;
}

function run(args: string[]): string {
  return execFileSync(args[0]!, args.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
}

/** Why this machine cannot build the link (null: it can). */
export function check(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (ip netns, AF_PACKET sockets)';
  try {
    run(['ip', 'netns', 'list']);
  } catch {
    return 'iproute2 (ip) is not available';
  }
  try {
    run(['python3', '-c', 'import socket; socket.AF_PACKET']);
  } catch {
    return 'python3 is not available';
  }
  return null;
}

export class LossyLink {
  readonly ns: string;
  readonly mid: string;
  readonly hostIf: string;
  readonly hostIp: string;
  readonly nsIp: string;
  private bridge: ChildProcessWithoutNullStreams | null = null;
  private replies: ((line: Record<string, unknown>) => void)[] = [];
  private stderr = '';

  constructor(tag: string) {
    const id = tag.slice(0, 6) + (process.pid % 100000);
    this.ns = `${id}c`;
    this.mid = `${id}m`;
    this.hostIf = `${id}h`.slice(0, 15);
    // A /30 in 10.205.0.0/16 that no interface on the host uses yet.
    const used = run(['ip', '-4', '-o', 'addr']);
    let n = process.pid % 250;
    while (used.includes(`10.205.${n}.`)) n = (n + 1) % 250;
    this.hostIp = `10.205.${n}.1`;
    this.nsIp = `10.205.${n}.2`;
  }

  /** Creates the namespaces and veths, starts the bridge (no impairment yet). */
  async up(): Promise<void> {
    this.down();
    run(['ip', 'netns', 'add', this.mid]);
    run(['ip', 'netns', 'add', this.ns]);
    run(['ip', 'link', 'add', this.hostIf, 'type', 'veth', 'peer', 'name', 'tohost', 'netns', this.mid]);
    run(['ip', '-n', this.mid, 'link', 'add', 'toclient', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.ns]);
    run(['ip', 'addr', 'add', `${this.hostIp}/30`, 'dev', this.hostIf]);
    run(['ip', 'link', 'set', this.hostIf, 'up']);
    run(['ip', '-n', this.ns, 'addr', 'add', `${this.nsIp}/30`, 'dev', 'eth0']);
    run(['ip', '-n', this.ns, 'link', 'set', 'eth0', 'up']);
    run(['ip', '-n', this.ns, 'link', 'set', 'lo', 'up']);
    run(['ip', '-n', this.mid, 'link', 'set', 'tohost', 'up']);
    run(['ip', '-n', this.mid, 'link', 'set', 'toclient', 'up']);
    // Complete checksums and MTU-sized frames on every end that sends into the bridge.
    run(['python3', SCRIPT, 'offload-off', this.hostIf]);
    run(['ip', 'netns', 'exec', this.ns, 'python3', SCRIPT, 'offload-off', 'eth0']);
    run(['ip', 'netns', 'exec', this.mid, 'python3', SCRIPT, 'offload-off', 'tohost']);
    run(['ip', 'netns', 'exec', this.mid, 'python3', SCRIPT, 'offload-off', 'toclient']);
    const child = spawn('ip', ['netns', 'exec', this.mid, 'python3', SCRIPT, 'bridge', 'tohost', 'toclient'], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.bridge = child;
    child.stderr.on('data', (d: Buffer) => (this.stderr += d.toString()));
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      this.replies.shift()?.(msg);
    });
    const ready = await this.next(10_000);
    if (!ready.ready) throw new Error(`the bridge did not start: ${JSON.stringify(ready)} ${this.stderr}`);
  }

  private next(timeoutMs = 5000): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the bridge did not answer: ${this.stderr}`)), timeoutMs);
      this.replies.push((m) => {
        clearTimeout(timer);
        resolve(m);
      });
      if (this.bridge?.exitCode !== null) reject(new Error(`the bridge exited: ${this.stderr}`));
    });
  }

  private async command(line: string): Promise<Record<string, unknown>> {
    if (!this.bridge) throw new Error('the link is not up');
    const reply = this.next();
    this.bridge.stdin.write(line + '\n');
    return reply;
  }

  /** Loss probability per frame in each direction, and one-way delay (RTT grows by twice it). */
  async impair(loss: number, delayMs: number): Promise<void> {
    const r = await this.command(`set ${loss} ${delayMs}`);
    if (r.ok !== 'set') throw new Error(`the bridge refused: ${JSON.stringify(r)}`);
  }

  clear(): Promise<void> {
    return this.impair(0, 0);
  }

  async stats(): Promise<LinkStats> {
    return (await this.command('stats')) as unknown as LinkStats;
  }

  /** ICMP echo from inside the client namespace to the host end. */
  ping(count: number, intervalMs: number): Promise<PingResult> {
    return new Promise((resolve, reject) => {
      const p = spawn('ip', ['netns', 'exec', this.ns, 'python3', SCRIPT, 'ping', this.hostIp, String(count), String(intervalMs)]);
      let out = '';
      let err = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      p.on('close', (code) => {
        try {
          if (code !== 0) throw new Error(`ping exited ${code}: ${err}`);
          resolve(JSON.parse(out) as PingResult);
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      });
    });
  }

  /** A command line that runs `argv` inside the client namespace. */
  wrap(argv: string[]): string[] {
    return ['ip', 'netns', 'exec', this.ns, ...argv];
  }

  down(): void {
    if (this.bridge && this.bridge.exitCode === null) {
      this.bridge.stdin.end();
      this.bridge.kill('SIGTERM');
    }
    this.bridge = null;
    for (const args of [['ip', 'netns', 'del', this.ns], ['ip', 'netns', 'del', this.mid], ['ip', 'link', 'del', this.hostIf]]) {
      try {
        run(args);
      } catch {
        // not there
      }
    }
  }
}
