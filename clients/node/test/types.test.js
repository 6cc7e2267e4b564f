'use strict';
// index.d.ts describes what index.js does: a typed use of it compiles under --strict.

const { test } = require('node:test');
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const assert = require('node:assert/strict');

test('index.d.ts type-checks a typed use of the package', () => {
  const tsc = require.resolve('typescript/bin/tsc');
  const done = spawnSync(process.execPath, [tsc, '-p', path.join(__dirname, 'tsconfig.json')], { encoding: 'utf8' });
  assert.equal(done.status, 0, done.stdout + done.stderr);
});
