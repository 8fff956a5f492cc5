// Builds the web pages from web/ once per test process, so browser tests always run the
// current source (not a stale dist/), and returns the folder to pass as WEB_DIR.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

let built: Promise<string> | null = null;

export function builtWebDir(): Promise<string> {
  built ??= (async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'televisit-web-'));
    // @ts-expect-error plain ESM build script without types
    const { buildWeb } = (await import('../../scripts/build-web.mjs')) as { buildWeb(out: string): Promise<string> };
    return buildWeb(dir);
  })();
  return built;
}

/** Where screenshots go; CI keeps them as artifacts of the run. */
export function screenshotPath(name: string): string {
  const dir = path.resolve(process.env.SCREENSHOT_DIR ?? 'test-results/screenshots');
  fs.mkdirSync(dir, { recursive: true });
  return path.join(dir, `${name}.png`);
}
