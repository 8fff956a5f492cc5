// The line protocol between the SFU benchmark (parent, client core) and its server process
// (bench/sfu/server.ts, server core): one JSON object per line. The parent writes requests to
// the child's stdin; the child answers on stdout, each answer line prefixed with MARKER so that
// stray output from libraries can never be mistaken for an answer.

export const MARKER = '@@sfu-bench ';

export type ServerRequest =
  | { id: number; cmd: 'sample' }
  | { id: number; cmd: 'memory' }
  | { id: number; cmd: 'profile-start'; kind?: 'cpu' | 'heap' }
  | { id: number; cmd: 'profile-stop'; path: string }
  | { id: number; cmd: 'quit' };

/** First line the server prints once it is listening. */
export interface ServerReady {
  ready: true;
  url: string;
  pid: number;
  node: string;
}

/** A point-in-time reading inside the server process. Counters are cumulative. */
export interface ServerSample {
  /** process.hrtime in nanoseconds (as a number: fine for deltas of minutes). */
  hrNs: number;
  /** process.cpuUsage(): every thread of the process (JS, GC, libuv pool), microseconds. */
  cpuUserUs: number;
  cpuSystemUs: number;
  /** performance.eventLoopUtilization() cumulative idle/active milliseconds. */
  eluIdleMs: number;
  eluActiveMs: number;
  rss: number;
  heapUsed: number;
  /** Summed over every live room and track: RTP packets received from publishers (all layers). */
  packetsIn: number;
  /** Summed over every forwarder: RTP packets sent to subscribers. */
  packetsOut: number;
  /** Summed over every forwarder: packets not sent (transport not up yet, waiting for a keyframe). */
  dropped: number;
  rooms: number;
  tracks: number;
  forwarders: number;
  sessions: number;
}

export interface ServerMemory {
  /** Whether a full GC (node --expose-gc) ran before reading. */
  gc: boolean;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

export type ServerAnswer = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };
