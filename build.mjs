// Build the front-end bundles into api/static/vendor/ (never committed; `make setup` runs this).
//
//   node build.mjs          minified bundles with source maps
//   node build.mjs --dev    unminified
//
// Outputs: modeler.js (window.SanjiModeler) with modeler.css (lint, token simulation, palette strip), viewer.js (window.SanjiViewer), charts.js
// (window.echarts, window.SanjiCharts), bpmn.css with the BPMN icon font under fonts/, and
// build.json recording the package versions and the lock file the bundles came from.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as esbuild from 'esbuild';

const root = dirname(fileURLToPath(import.meta.url));
const src = join(root, 'api/static/js');
const outdir = join(root, 'api/static/vendor');
const dev = process.argv.includes('--dev');

await rm(outdir, { recursive: true, force: true });
await mkdir(outdir, { recursive: true });

const common = {
  bundle: true,
  minify: !dev,
  sourcemap: true,
  target: ['es2020'],
  outdir,
  logLevel: 'warning',
  legalComments: 'linked',
  define: { 'process.env.NODE_ENV': '"production"' },
  jsx: 'automatic',
  jsxImportSource: '@bpmn-io/properties-panel/preact',
  loader: { '.json': 'json', '.woff': 'file', '.woff2': 'file', '.ttf': 'file', '.eot': 'file', '.svg': 'file' },
  assetNames: 'fonts/[name]-[hash]',
};

const started = Date.now();
await esbuild.build({
  ...common,
  format: 'iife',
  entryPoints: {
    modeler: join(src, 'modeler.js'),
    viewer: join(src, 'viewer.js'),
    charts: join(src, 'charts.js'),
    'form-editor': join(src, 'form-editor.js'),  // issue 15: the form editor (CodeMirror 6)
  },
});
await esbuild.build({ ...common, entryPoints: { bpmn: join(src, 'sanji-bpmn.css') } });

const lock = await readFile(join(root, 'package-lock.json'));
const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));
const lockJson = JSON.parse(lock);
const versions = {};
for (const name of Object.keys(pkg.devDependencies || {})) {
  versions[name] = lockJson.packages[`node_modules/${name}`]?.version;
}
await writeFile(join(outdir, 'build.json'), JSON.stringify({
  lock_sha256: createHash('sha256').update(lock).digest('hex'),
  versions,
  mode: dev ? 'development' : 'production',
}, null, 2) + '\n');
console.log(`built api/static/vendor/ (modeler.js, modeler.css, viewer.js, charts.js, form-editor.js, bpmn.css) in ${Date.now() - started} ms`);
