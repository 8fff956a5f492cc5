// SIPp as the SIP trunk of a whole test server: the server is configured once with
// SIP_TRUNK_PORT, so each scenario's SIPp binds that same port on 127.0.0.1 (one call each, one
// after the other). Scenarios are those of test/telephony/scenarios, or ./scenarios here.
// A missing SIPp is an error, never a skip (see test/telephony/sipp.ts).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeUdpPort, requireSipp, SCENARIOS, startSipp, type Sipp } from '../telephony/sipp.js';

const DIRS = [path.join(path.dirname(fileURLToPath(import.meta.url)), 'scenarios'), SCENARIOS];

export class SippTrunk {
  private current: Sipp | null = null;

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
    this.current = await startSipp(scenario, { ...opts, port: this.port, scenarioDirs: DIRS });
    return this.current;
  }

  /** Kills the running SIPp, if any, and waits until it has exited. */
  async stop(): Promise<void> {
    const c = this.current;
    this.current = null;
    if (!c) return;
    c.kill();
    await c.exited;
  }
}
