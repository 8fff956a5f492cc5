// Summarises a V8 .cpuprofile (from the SFU benchmark's --profile run): self time per
// function and per area (werift's layers, Node internals, Televisit's SFU, GC).
// Also usable alone: npx tsx bench/sfu/profile-summary.ts file.cpuprofile
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Share of non-idle time, by area (self time). */
  areas: { area: string; ms: number; share: number }[];
  /** The same, with native code and Node internals charged to the werift / Televisit / package
   * frame that called them (so "werift rtp/srtp" includes the OpenSSL calls it makes). */
  callerAreas: { area: string; ms: number; share: number }[];
  /** Top functions by self time (non-idle share). */
  functions: { fn: string; where: string; ms: number; share: number }[];
}

/** werift ships one bundle; its `// ../rtp/src/rtcp/rtcp.ts` comments say where each part came from. */
const bundleModules = new Map<string, { line: number; module: string }[]>();
function bundleModule(url: string, line: number): string | null {
  const file = url.replace(/^file:\/\//, '');
  let marks = bundleModules.get(file);
  if (!marks) {
    marks = [];
    try {
      const lines = fs.readFileSync(file, 'utf8').split('\n');
      lines.forEach((l, i) => {
        const m = /^\/\/ (?:\.\.\/)?([\w-]+\/)?src\/(.+)\.ts$/.exec(l);
        if (m) marks!.push({ line: i, module: `${m[1] ? m[1].slice(0, -1) : 'webrtc'}/${m[2]}` });
      });
    } catch {
      // not readable: fall back to the package name
    }
    bundleModules.set(file, marks);
  }
  let lo = 0;
  let hi = marks.length - 1;
  let found: string | null = null;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (marks[mid]!.line <= line) {
      found = marks[mid]!.module;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

function area(url: string, fn: string, line: number): string {
  if (fn === '(idle)') return '(idle)';
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(program)') return '(program: native, not attributed)';
  const u = url.replace(/^file:\/\//, '');
  if (u.includes('node_modules/werift/')) {
    const m = bundleModule(url, line);
    if (!m) return 'werift';
    // Group by werift package and first directory: rtp/srtp, rtp/rtcp, webrtc/media, ice, dtls …
    const parts = m.split('/');
    return `werift ${parts.length > 2 ? parts.slice(0, 2).join('/') : parts[0]}`;
  }
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u);
  if (nm) return nm[1]!;
  if (u.startsWith('node:')) return `node:${u.slice(5).split('/').slice(0, u.includes('internal') ? 2 : 1).join('/')}`;
  const src = /\/src\/(.+)$/.exec(u);
  if (src) return `televisit src/${src[1]!.split('/').slice(0, -1).join('/') || '.'}`;
  return u ? u : '(native: crypto, sockets, buffers, called from JS)';
}

export function summarizeProfile(file: string, top = 25): ProfileSummary {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  /** Area of the nearest frame that is neither native nor a Node internal. */
  const callerArea = (id: number): string => {
    const special = area('', byId.get(id)!.callFrame.functionName, 0);
    if (special === 'GC' || special.startsWith('(program')) return special;
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const cf = byId.get(cur)!.callFrame;
      if (!cf.url || cf.url.startsWith('node:')) continue;
      return area(cf.url, cf.functionName, cf.lineNumber);
    }
    return area(byId.get(id)!.callFrame.url, byId.get(id)!.callFrame.functionName, 0);
  };
  const callerAreas = new Map<string, number>();
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    // V8 attributes timeDeltas[i] to the sample before it; the difference is one sampling interval.
    const dt = profile.timeDeltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
  }
  const areas = new Map<string, number>();
  const fns = new Map<string, { where: string; us: number }>();
  let busyUs = 0;
  let totalUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    const { functionName, url, lineNumber } = node.callFrame;
    const fn = functionName || '(anonymous)';
    const a = area(url, fn, lineNumber);
    totalUs += us;
    if (a === '(idle)') continue;
    busyUs += us;
    areas.set(a, (areas.get(a) ?? 0) + us);
    const ca = callerArea(id);
    callerAreas.set(ca, (callerAreas.get(ca) ?? 0) + us);
    const mod = url.includes('node_modules/werift/') ? bundleModule(url, lineNumber) : null;
    const where = url ? `${mod ? `werift ${mod}` : url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/(src|bench)\//, '$1/')}:${lineNumber + 1}` : '';
    const key = `${fn} ${where}`;
    const entry = fns.get(key) ?? { where, us: 0 };
    entry.us += us;
    fns.set(key, entry);
  }
  return {
    totalMs: totalUs / 1000,
    areas: [...areas]
      .sort((a, b) => b[1] - a[1])
      .map(([a, us]) => ({ area: a, ms: us / 1000, share: us / busyUs })),
    callerAreas: [...callerAreas]
      .sort((a, b) => b[1] - a[1])
      .map(([a, us]) => ({ area: a, ms: us / 1000, share: us / busyUs })),
    functions: [...fns]
      .sort((a, b) => b[1].us - a[1].us)
      .slice(0, top)
      .map(([key, v]) => ({ fn: key.slice(0, key.length - v.where.length).trim(), where: v.where, ms: v.us / 1000, share: v.us / busyUs })),
  };
}

export function printProfile(s: ProfileSummary): void {
  const pct = (x: number) => (100 * x).toFixed(1).padStart(5) + '%';
  console.log(`\nServer CPU profile (main JS thread, ${(s.totalMs / 1000).toFixed(1)} s sampled; shares of non-idle time)`);
  console.log('  by area (self time):');
  for (const a of s.areas.slice(0, 18)) console.log(`    ${pct(a.share)}  ${a.area}`);
  console.log('  by calling area (native code and Node internals charged to their werift/Televisit caller):');
  for (const a of s.callerAreas.slice(0, 18)) console.log(`    ${pct(a.share)}  ${a.area}`);
  console.log('  top functions (self time):');
  for (const f of s.functions) console.log(`    ${pct(f.share)}  ${f.fn}  ${f.where}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: tsx bench/sfu/profile-summary.ts <file.cpuprofile>');
    process.exit(2);
  }
  printProfile(summarizeProfile(file, 40));
}
