// Builds the web pages (web/ → dist/public): one bundle per app (staff, patient, guest), one stylesheet,
// and the HTML shells. twilio-video is not bundled: pages load the unmodified SDK from /vendor.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = process.argv[2] ? path.resolve(process.argv[2]) : path.join(root, 'dist/public');

export async function buildWeb(outDir = out) {
  fs.mkdirSync(path.join(outDir, 'assets'), { recursive: true });
  await esbuild.build({
    entryPoints: { staff: path.join(root, 'web/staff/main.tsx'), patient: path.join(root, 'web/patient/main.tsx'), guest: path.join(root, 'web/guest/main.tsx') },
    bundle: true,
    outdir: path.join(outDir, 'assets'),
    format: 'esm',
    target: 'es2020',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: true,
    sourcemap: true,
    logLevel: 'warning',
  });
  fs.copyFileSync(path.join(root, 'web/shared/styles.css'), path.join(outDir, 'assets/app.css'));
  for (const [name, title, vendor] of [
    ['staff', 'Televisit — Clinic', true],
    ['patient', 'Video visit', true],
    ['guest', 'Video visit', true],
  ]) {
    const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<meta name="referrer" content="no-referrer">
<meta name="theme-color" content="#0f5c73">
<title>${title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/app.css">
${vendor ? '<script src="/vendor/twilio-video.min.js"></script>' : ''}
<script type="module" src="/assets/${name}.js"></script>
</head>
<body><div id="app"></div><noscript>This page needs JavaScript. / Esta página necesita JavaScript.</noscript></body>
</html>
`;
    fs.writeFileSync(path.join(outDir, `${name}.html`), html);
  }
  return outDir;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await buildWeb();
}
