// SIPp as the SIP trunk of a whole test server: the server is configured once with
// SIP_TRUNK_PORT, so each scenario's SIPp binds that same port on 127.0.0.1 (one call each, one
// after the other). Scenarios are those of test/telephony/scenarios, or ./scenarios here.
// A missing SIPp is an error, never a skip (see test/telephony/sipp.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeUdpPort, requireSipp, SIPP, type Sipp, type SippResult } from '../telephony/sipp.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DIRS = [path.join(HERE, 'scenarios'), path.join(HERE, '..', 'telephony', 'scenarios')];

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

async function bound(port: number): Promise<boolean> {
  const s = dgram.createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(port, '127.0.0.1', () => resolve());
    });
    return false;
  } catch {
    return true;
  } finally {
    try {
      s.close();
    } catch {
      // not bound
    }
  }
}

export class SippTrunk {
  private current: { sipp: Sipp; child: ChildProcess } | null = null;

  private constructor(readonly port: number) {}

  static async create(): Promise<SippTrunk> {
    requireSipp();
    return new SippTrunk(await freeUdpPort());
  }

  /** The server's SIP settings for this trunk (RTP from its own range). */
  env(rtp: [number, number]): Record<string, string> {
    return { SIP_TRUNK_HOST: '127.0.0.1', SIP_TRUNK_PORT: String(this.port), SIP_LOCAL_HOST: '127.0.0.1', SIP_LOCAL_PORT: '0', SIP_RTP_PORT_MIN: String(rtp[0]), SIP_RTP_PORT_MAX: String(rtp[1]) };
  }

  /** Starts SIPp on the trunk port with one scenario (the previous one is killed first). */
  async play(scenario: string, opts: { keys?: Record<string, string | number>; timeoutSeconds?: number } = {}): Promise<Sipp> {
    await this.stop();
    const file = DIRS.map((d) => path.join(d, scenario)).find((f) => fs.existsSync(f));
    if (!file) throw new Error(`no SIPp scenario ${scenario}`);
    const mediaPort = await freeUdpPort();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sipp-trunk-'));
    const messages = path.join(dir, 'messages.log');
    const errors = path.join(dir, 'errors.log');
    const args = [
      '-sf', file,
      '-i', '127.0.0.1',
      '-bind_local',
      '-p', String(this.port),
      '-mi', '127.0.0.1',
      '-mp', String(mediaPort),
      '-m', '1',
      '-nostdin',
      '-timeout', `${opts.timeoutSeconds ?? 30}s`,
      '-timeout_error',
      '-trace_msg', '-message_file', messages,
      '-trace_err', '-error_file', errors,
    ];
    for (const [k, v] of Object.entries(opts.keys ?? {})) args.push('-key', k, String(v));
    const child = spawn(SIPP, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
    running.add(child);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout!.resume();
    const exited = new Promise<SippResult>((resolve) => {
      child.on('exit', (code, signal) => {
        running.delete(child);
        const read = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '');
        const log = `--- sipp ${scenario} exit ${code ?? signal}\n${stderr}\n--- messages\n${read(messages)}\n--- errors\n${read(errors)}`;
        fs.rmSync(dir, { recursive: true, force: true });
        resolve({ code, signal, log });
      });
    });
    let dead = false;
    void exited.then(() => (dead = true));
    const deadline = Date.now() + 5000;
    while (!dead && !(await bound(this.port))) {
      if (Date.now() > deadline) throw new Error('SIPp did not bind its port in 5 s');
      await new Promise((r) => setTimeout(r, 20));
    }
    if (dead) throw new Error(`SIPp exited at start:\n${(await exited).log}`);
    const sipp: Sipp = { port: this.port, mediaPort, exited, kill: () => child.kill('SIGKILL') };
    this.current = { sipp, child };
    return sipp;
  }

  /** Kills the running SIPp, if any, and waits until the port is free again. */
  async stop(): Promise<void> {
    const c = this.current;
    this.current = null;
    if (!c) return;
    if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
    await c.sipp.exited;
  }
}
