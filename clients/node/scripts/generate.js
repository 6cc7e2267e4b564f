'use strict';
// `npm run generate`: copies the contract (protos/fastport/v1 of this repository) into the
// package's proto/ folder, which index.js loads at run time, so that the packed package
// stands on its own; then writes TypeScript declarations of its messages and services into
// generated/ with proto-loader-gen-types, using the loader options index.js uses, so the
// declared shapes are the ones the loader hands over. Both folders are committed;
// test/generated.test.js regenerates into a temporary folder and compares.
//
// Usage: node scripts/generate.js [ROOT]   (ROOT defaults to the package folder)

const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { LOADER_OPTIONS, PROTO_FILES } = require('../protocol');

const PACKAGE = path.resolve(__dirname, '..');
const CONTRACT = path.resolve(PACKAGE, '..', '..', 'protos');

/** The gen-types flags matching LOADER_OPTIONS (keepCase, longs, defaults). */
function loaderFlags() {
  const flags = [];
  if (LOADER_OPTIONS.keepCase) flags.push('--keepCase');
  if (LOADER_OPTIONS.longs) flags.push(`--longs=${LOADER_OPTIONS.longs.name}`);
  if (LOADER_OPTIONS.defaults) flags.push('--defaults');
  return flags;
}

/** Write ROOT/proto and ROOT/generated afresh; returns nothing, throws on failure. */
function generate(root) {
  for (const folder of ['proto', 'generated']) fs.rmSync(path.join(root, folder), { recursive: true, force: true });
  for (const file of PROTO_FILES) {
    fs.mkdirSync(path.dirname(path.join(root, 'proto', file)), { recursive: true });
    fs.copyFileSync(path.join(CONTRACT, file), path.join(root, 'proto', file));
  }
  const genTypes = require.resolve('@grpc/proto-loader/build/bin/proto-loader-gen-types.js');
  // Relative paths, run from ROOT: the generated "Original file" comments name
  // proto/..., the same wherever ROOT is.
  const args = [genTypes, ...loaderFlags(), '--grpcLib=@grpc/grpc-js', '--includeComments',
    '--targetFileExtension=.d.ts', '-I', 'proto', '-O', 'generated', ...PROTO_FILES];
  const done = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
  if (done.status !== 0) throw new Error(`proto-loader-gen-types failed:\n${done.stdout}${done.stderr}`);
}

if (require.main === module) generate(path.resolve(process.argv[2] || PACKAGE));

module.exports = { generate };
