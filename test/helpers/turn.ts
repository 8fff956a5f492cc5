// A real coturn (Debian's `coturn` package) on loopback for tests of relayed media, with the
// shared-secret (REST API) credentials our server mints. Missing coturn fails loudly.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { randomBytes } from 'node:crypto';

export interface TurnServer {
  url: string;
  secret: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startTurnServer(): Promise<TurnServer> {
  if (!fs.existsSync('/usr/bin/turnserver')) throw new Error("coturn is missing: install Debian's package (apt-get install coturn); .ci/run does this");
  const port = await freePort();
  const secret = randomBytes(16).toString('hex');
  const child: ChildProcess = spawn(
    '/usr/bin/turnserver',
    [
      '-n', '--listening-ip=127.0.0.1', `--listening-port=${port}`, '--relay-ip=127.0.0.1', '--min-port=49500', '--max-port=49999',
      '--use-auth-secret', `--static-auth-secret=${secret}`, '--realm=televisit.test', '--no-tls', '--no-dtls', '--no-cli',
      '--allow-loopback-peers', '--no-software-attribute', '--log-file=stdout', '--simple-log',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  // Ready when it listens on its port.
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`turnserver exited: ${output.slice(-2000)}`);
    const up = await new Promise<boolean>((r) => {
      const c = net.connect(port, '127.0.0.1', () => (c.end(), r(true)));
      c.on('error', () => r(false));
    });
    if (up) break;
    if (Date.now() > deadline) throw new Error(`turnserver did not start: ${output.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `turn:127.0.0.1:${port}?transport=udp`,
    secret,
    stop: () =>
      new Promise<void>((r) => {
        if (child.exitCode !== null) return r();
        child.once('exit', () => r());
        child.kill('SIGTERM');
      }),
  };
}
