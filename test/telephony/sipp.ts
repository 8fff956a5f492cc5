// Runs SIPp (apt package sip-tester) as the far end of our calls: a child process bound to
// 127.0.0.1 on a free port, playing one of the XML scenarios in ./scenarios for one call.
// A missing /usr/bin/sipp is an error, never a skip.
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const SIPP = process.env.SIPP_BIN ?? '/usr/bin/sipp';
export const SCENARIOS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'scenarios');

export function requireSipp(): void {
  if (!fs.existsSync(SIPP)) {
    throw new Error(`SIPp is missing (${SIPP}): the telephony tests need it. Install it with: apt-get install -y sip-tester`);
  }
}

export async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()));
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/**
 * Whether some socket is bound to this UDP port, read from /proc/net/udp. (Probing by binding
 * the port ourselves held it for a moment every 20 ms while SIPp was starting: SIPp then failed
 * with "Unable to bind main socket" when it tried in that moment.)
 */
function portBound(port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return fs
    .readFileSync('/proc/net/udp', 'utf8')
    .split('\n')
    .slice(1)
    .some((line) => line.trim().split(/\s+/)[1]?.endsWith(`:${hex}`));
}

export interface SippResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** SIPp's message trace and error log, for assertion messages. */
  log: string;
}

export interface Sipp {
  port: number;
  mediaPort: number;
  /** Resolves when SIPp exits (0 = the scenario's call succeeded). */
  exited: Promise<SippResult>;
  kill(): void;
}

const running = new Set<ChildProcess>();

/** Kills every SIPp still running (call in afterEach). */
export function killAllSipp(): void {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
}

process.on('exit', killAllSipp);

/** Waits for SIPp to exit and fails with its message trace unless the scenario's call succeeded. */
export async function assertSippSucceeded(sipp: Pick<Sipp, 'exited'>): Promise<void> {
  const r = await sipp.exited;
  if (r.code !== 0) throw new Error(`SIPp scenario failed (exit ${r.code ?? r.signal}):\n${r.log}`);
}

export interface SippOptions {
  keys?: Record<string, string | number>;
  timeoutSeconds?: number;
  /** The SIP port to bind (a free one when omitted). */
  port?: number;
  /** Folders to look for the scenario in (./scenarios when omitted). */
  scenarioDirs?: string[];
}

/** Starts SIPp for one call of `scenario` and resolves once it has bound its port. */
export async function startSipp(scenario: string, opts: SippOptions = {}): Promise<Sipp> {
  requireSipp();
  const file = (opts.scenarioDirs ?? [SCENARIOS]).map((d) => path.join(d, scenario)).find((f) => fs.existsSync(f));
  if (!file) throw new Error(`no SIPp scenario ${scenario}`);
  const port = opts.port ?? (await freeUdpPort());
  const mediaPort = await freeUdpPort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sipp-'));
  const messages = path.join(dir, 'messages.log');
  const errors = path.join(dir, 'errors.log');
  const args = [
    '-sf', file,
    '-i', '127.0.0.1',
    '-bind_local',
    '-p', String(port),
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
  // Wait until SIPp has bound its port (or died).
  let dead = false;
  void exited.then(() => (dead = true));
  const deadline = Date.now() + 5000;
  while (!dead && !portBound(port)) {
    if (Date.now() > deadline) throw new Error('SIPp did not bind its port in 5 s');
    await new Promise((r) => setTimeout(r, 20));
  }
  if (dead) throw new Error(`SIPp exited at start:\n${(await exited).log}`);
  return { port, mediaPort, exited, kill: () => child.kill('SIGKILL') };
}
