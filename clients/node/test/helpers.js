'use strict';
// What the tests share: the server under test (started by tests/integration/
// test_node_package.py, which passes its address in the environment), sessions, a
// Python peer (clients/node/test/peer.py, on the Python client) and a fastport server
// process of the tests' own for the reconnect tests.

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { FastPort, createSession, generateKey } = require('..');

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run these tests through tests/integration/test_node_package.py (make test)`);
  return value;
}

const GRPC = () => env('FASTPORT_GRPC');
const WS = () => env('FASTPORT_WS');
const ADMIN_TOKEN = () => env('FASTPORT_ADMIN_TOKEN');
const PYTHON = () => env('FASTPORT_PYTHON');
const PEER = path.join(__dirname, 'peer.py');

let sessions = 0;
/** A new session on the server under test, with a key for it. */
async function newSession(options = {}, url = GRPC()) {
  const name = `node-${process.pid}-${++sessions}`;
  await createSession(url, ADMIN_TOKEN(), { name, password: 'pw', ...options });
  return { name, password: 'pw', key: generateKey() };
}

/** A connected client; closed by `t.after`. */
async function connected(t, session, options = {}) {
  const fp = new FastPort({ url: GRPC(), session: session.name, password: session.password, key: session.key, ...options });
  t.after(() => fp.close());
  await fp.connect();
  return fp;
}

/** Resolves with the next `count` events `name` of `emitter`. */
function next(emitter, name, count = 1) {
  return new Promise((resolve) => {
    const got = [];
    const on = (value) => {
      got.push(value);
      if (got.length === count) {
        emitter.off(name, on);
        resolve(count === 1 ? got[0] : got);
      }
    };
    emitter.on(name, on);
  });
}

/** A promise with its resolve function beside it. */
function deferred() {
  let resolve;
  const promise = new Promise((r) => { resolve = r; });
  return { promise, resolve };
}

/** Runs peer.py with `args`; `onLine` sees each output line as it comes. */
function python(args, onLine = () => {}) {
  const child = spawn(PYTHON(), [PEER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = [];
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line);
    onLine(line);
  });
  const done = new Promise((resolve, reject) => {
    child.on('close', (code) => (code === 0 ? resolve(lines) : reject(new Error(`peer.py ${args[0]} exited ${code}: ${stderr}`))));
  });
  return { child, done };
}

/** Starts peer.py receiving `count` messages; resolves once it is subscribed, with
 *  `{ messages }`: a promise of what it received (wrapped, as an async function that
 *  returned the promise itself would wait for it). */
async function pythonReceiver(url, session, cipher, topic, count) {
  let ready;
  const subscribed = new Promise((resolve) => { ready = resolve; });
  const run = python(['receive', url, session.name, session.password, session.key, cipher, topic, String(count)], (line) => {
    if (line === 'ready') ready();
  });
  await Promise.race([subscribed, run.done]);
  return { messages: run.done.then((lines) => lines.filter((l) => l !== 'ready').map((l) => JSON.parse(l))) };
}

/** A `fastport serve` process of the test's own (its sqlite store in a temporary
 *  directory, so sessions survive a restart), restartable on the same port. */
class Server {
  constructor() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fastport-node-'));
    this.port = 0;
    this.proc = null;
  }

  async start() {
    const args = ['-m', 'fastport', 'serve', '--host', '127.0.0.1', '--grpc-port', String(this.port), '--http-port', '0',
      '--data-dir', this.dir, '--admin-token', ADMIN_TOKEN()];
    this.proc = spawn(PYTHON(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const lines = readline.createInterface({ input: this.proc.stderr });
    await new Promise((resolve, reject) => {
      this.proc.on('exit', (code) => reject(new Error(`fastport serve exited ${code}`)));
      lines.on('line', (line) => {
        const m = /listening grpc=\S+:(\d+)/.exec(line);
        if (m) this.port = Number(m[1]);
        if (line.includes('ready') && this.port) resolve();
      });
    });
    return `127.0.0.1:${this.port}`;
  }

  async stop() {
    if (!this.proc || this.proc.exitCode !== null) return;
    const exited = new Promise((resolve) => this.proc.once('exit', resolve));
    this.proc.kill('SIGKILL');
    await exited;
  }

  async remove() {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

module.exports = { assert, GRPC, WS, newSession, connected, next, deferred, python, pythonReceiver, Server };
