// Summarises a V8 sampling heap profile (the SFU benchmark's --profile=heap run, which also
// counts objects already collected): bytes allocated per second by allocating function, with
// the two frames that called it, so the garbage behind the server's GC time can be traced.
// Also usable alone: npx tsx bench/sfu/heap-profile-summary.ts file.heapprofile [seconds]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapNode[];
}

const frame = (n: HeapNode) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url ? `${path.basename(n.callFrame.url)}:${n.callFrame.lineNumber + 1}` : ''}`.trim();

/** A table of the top allocation sites (bytes per second over `seconds`). */
export function summarizeHeapProfile(file: string, seconds: number, top = 25): string {
  const { head } = JSON.parse(fs.readFileSync(file, 'utf8')) as { head: HeapNode };
  const sites = new Map<string, number>();
  let total = 0;
  const walk = (n: HeapNode, stack: string[]) => {
    const here = [frame(n), ...stack].slice(0, 3);
    if (n.selfSize > 0) {
      const key = here.join('  ←  ');
      sites.set(key, (sites.get(key) ?? 0) + n.selfSize);
      total += n.selfSize;
    }
    for (const c of n.children) walk(c, here);
  };
  walk(head, []);
  const rows = [...sites.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  const lines = [`Server allocations (sampled, collected objects included): ${(total / seconds / 2 ** 20).toFixed(1)} MiB/s in all; top sites:`];
  for (const [site, bytes] of rows) lines.push(`  ${(bytes / seconds / 1024).toFixed(0).padStart(7)} KiB/s  ${((100 * bytes) / total).toFixed(1).padStart(5)}%  ${site}`);
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(summarizeHeapProfile(process.argv[2]!, Number(process.argv[3] ?? 10)));
}
