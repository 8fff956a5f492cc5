// A bare-bones signaling client for protocol tests: raw WebSocket frames, no SDK.
import WebSocket from 'ws';

export class RawSignaling {
  readonly frames: Record<string, any>[] = [];
  private closedWith: number | null = null;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      try {
        this.frames.push(JSON.parse(String(data)));
      } catch {
        this.frames.push({ type: '<not json>' });
      }
    });
    ws.on('close', (code) => (this.closedWith = code));
  }

  static async open(url: string): Promise<RawSignaling> {
    const ws = new WebSocket(url, { origin: 'https://some-clinic-app.example' });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new RawSignaling(ws);
  }

  sendRaw(data: string | Buffer): void {
    this.ws.send(data);
  }

  send(frame: unknown): void {
    this.ws.send(JSON.stringify(frame));
  }

  hello(body?: unknown): void {
    this.send({ id: 'test', timeout: 5000, type: 'hello', version: 2, ...(body ? { body } : {}) });
  }

  msg(body: unknown): void {
    this.send({ type: 'msg', body });
  }

  get closeCode(): number | null {
    return this.closedWith;
  }

  bodies(): Record<string, any>[] {
    return this.frames.filter((f) => f.type === 'msg').map((f) => f.body);
  }

  async next(predicate: (f: Record<string, any>) => boolean, timeoutMs = 5000): Promise<Record<string, any>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find(predicate);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no matching frame; got ${JSON.stringify(this.frames).slice(0, 500)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  close(): void {
    this.ws.close();
  }
}
