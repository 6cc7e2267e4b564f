'use strict';
// The package stands on its own: the .proto files it loads and the declarations
// generated from them are committed, fresh (the same as `npm run generate` writes now
// from the repository's protos/), and packed.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { generate } = require('../scripts/generate');

const PACKAGE = path.resolve(__dirname, '..');
const FOLDERS = ['proto', 'generated'];

/** Relative path -> content of every file under root/folder. */
function files(root, folder) {
  const found = new Map();
  const base = path.join(root, folder);
  if (!fs.existsSync(base)) return found;
  for (const entry of fs.readdirSync(base, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath ?? entry.path, entry.name);
    found.set(path.relative(root, full), fs.readFileSync(full));
  }
  return found;
}

function npm(args, cwd) {
  const done = spawnSync('npm', args, { cwd, encoding: 'utf8' });
  assert.equal(done.status, 0, done.stdout + done.stderr);
  return done.stdout;
}

test('proto/ and generated/ are what `npm run generate` writes from protos/', (t) => {
  const fresh = fs.mkdtempSync(path.join(os.tmpdir(), 'fastport-node-gen-'));
  t.after(() => fs.rmSync(fresh, { recursive: true, force: true }));
  generate(fresh);
  for (const folder of FOLDERS) {
    const want = files(fresh, folder);
    const have = files(PACKAGE, folder);
    assert.ok(want.size > 0, `nothing generated in ${folder}/`);
    const stale = [...want].filter(([rel, content]) => !have.has(rel) || !have.get(rel).equals(content)).map(([rel]) => rel);
    const extra = [...have.keys()].filter((rel) => !want.has(rel));
    assert.deepEqual([...stale, ...extra], [], `${folder}/ is stale: run \`npm run generate\` in clients/node`);
  }
});

test('npm pack ships the .proto files and the generated declarations, and the packed package loads them', (t) => {
  const [{ files: packed }] = JSON.parse(npm(['pack', '--dry-run', '--json', '--ignore-scripts'], PACKAGE));
  const names = new Set(packed.map((f) => f.path));
  for (const folder of FOLDERS) {
    for (const rel of files(PACKAGE, folder).keys()) assert.ok(names.has(rel.split(path.sep).join('/')), `${rel} is not packed`);
  }
  assert.ok(!names.has('test/usage.ts') && !names.has('scripts/generate.js'), [...names].join(' '));

  // Unpacked outside the repository, the package finds its contract.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fastport-node-pack-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const [{ filename }] = JSON.parse(npm(['pack', '--json', '--ignore-scripts', '--pack-destination', dir], PACKAGE));
  const untar = spawnSync('tar', ['-xzf', path.join(dir, filename), '-C', dir], { encoding: 'utf8' });
  assert.equal(untar.status, 0, untar.stderr);
  const load = spawnSync(process.execPath, ['-e', "const v1 = require('./package/protocol').loadServices(); console.log(typeof v1.Broker, typeof v1.Admin)"], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, NODE_PATH: path.join(PACKAGE, 'node_modules') },
  });
  assert.equal(load.status, 0, load.stderr);
  assert.equal(load.stdout.trim(), 'function function');
});
