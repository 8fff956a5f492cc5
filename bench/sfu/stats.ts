// Small numeric helpers for the SFU benchmark: least-squares line, percentiles, per-core busy
// time from /proc/stat.
import fs from 'node:fs';

export interface Line {
  /** y at x = 0 */
  intercept: number;
  slope: number;
  /** Coefficient of determination (1 = every point on the line). */
  r2: number;
  n: number;
}

/** Ordinary least squares y = intercept + slope × x. */
export function fitLine(points: [number, number][]): Line {
  const n = points.length;
  if (n < 2) return { intercept: NaN, slope: NaN, r2: NaN, n };
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (const [x, y] of points) {
    sxx += (x - mx) ** 2;
    sxy += (x - mx) * (y - my);
    syy += (y - my) ** 2;
  }
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  const r2 = syy === 0 ? 1 : (sxy * sxy) / (sxx * syy);
  return { intercept, slope, r2, n };
}

/** Nearest-rank percentile (p in 0..100) of unsorted values. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export interface CoreTimes {
  /** Per CPU index: [busy, total, task] jiffies; task = user + nice + system (no irq/softirq/steal). */
  cores: Map<number, [number, number, number]>;
}

export function readCoreTimes(): CoreTimes | null {
  let text: string;
  try {
    text = fs.readFileSync('/proc/stat', 'utf8');
  } catch {
    return null;
  }
  const cores = new Map<number, [number, number, number]>();
  for (const line of text.split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    // user nice system idle iowait irq softirq steal guest guest_nice (guest is inside user)
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    const total = f.slice(0, 8).reduce((s, v) => s + v, 0);
    const task = (f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0);
    cores.set(Number(m[1]), [total - idle, total, task]);
  }
  return { cores };
}

/** Busy fraction (0..1) of each core between two readings; `task` counts only user+nice+system. */
export function coreBusy(a: CoreTimes | null, b: CoreTimes | null, task = false): Record<string, number> {
  const out: Record<string, number> = {};
  if (!a || !b) return out;
  for (const [cpu, [busy1, total1, task1]] of b.cores) {
    const before = a.cores.get(cpu);
    if (!before) continue;
    const dt = total1 - before[1];
    out[`cpu${cpu}`] = dt > 0 ? ((task ? task1 - before[2] : busy1 - before[0]) / dt) : NaN;
  }
  return out;
}
