// The demo page makes a real WebRTC call: two headless Chromium tabs on one
// room reach "connected" and play each other's (fake) camera, a third tab is
// refused with room-full, and closing a tab tells the other one.
//
//   cd tests/browser && npm ci
//   SIGSERVE=build/tools/sigserve/sigserve node --test tests/browser/demo.test.mjs
//
// Env: SIGSERVE (required) the sigserve binary; CHROMIUM (default
// /usr/bin/chromium); SIGSERVE_STATIC a directory to serve with --static
// instead of the built-in page (to try page edits without a rebuild).
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';

const SIGSERVE = process.env.SIGSERVE;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const STATIC_DIR = process.env.SIGSERVE_STATIC;

// No network here but loopback: the background-networking flags keep Chromium
// from trying (and noisily failing) to reach Google; the fake-media flags give
// it a synthetic camera and microphone and skip the permission prompt.
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
];

let server;                   // the sigserve child process
let serverStderr = '';
let baseUrl;
let browser;
let context;
const pageLogs = [];          // console and errors of every tab, shown on failure
const tabNames = new WeakMap();
const room = `test-room-${randomBytes(4).toString('hex')}`;

// Start sigserve on a free port and read the URL it prints.
function startServer() {
  const args = ['--port', '0', '--log-level', 'debug'];
  if (STATIC_DIR) args.push('--static', STATIC_DIR);
  server = spawn(SIGSERVE, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  server.stderr.setEncoding('utf8').on('data', (d) => { serverStderr += d; });
  return new Promise((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => reject(new Error(`sigserve printed no URL within 10 s; stdout: ${stdout}`)), 10_000);
    server.stdout.setEncoding('utf8').on('data', (d) => {
      stdout += d;
      const m = stdout.match(/http:\/\/[^/\s]+/);
      if (m) { clearTimeout(timer); resolve(m[0]); }
    });
    server.once('error', (err) => { clearTimeout(timer); reject(err); });
    server.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`sigserve exited (${code ?? signal}) before printing its URL; stdout: ${stdout}`));
    });
  });
}

// Attach what the server and the tabs said to a failure, so a red run explains itself.
async function explained(fn) {
  try {
    return await fn();
  } catch (err) {
    err.message += `\n--- tab logs ---\n${pageLogs.join('\n')}` +
                   `\n--- sigserve stderr (last 8000 chars) ---\n${serverStderr.slice(-8000)}`;
    throw err;
  }
}

async function openTab(name, path = `/${room}`) {
  const page = await context.newPage();
  tabNames.set(page, name);
  page.on('console', (m) => pageLogs.push(`[${name}] ${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => pageLogs.push(`[${name}] pageerror: ${e.message}`));
  await page.goto(baseUrl + path);
  return page;
}

const statusOf = (page) => page.textContent('#status');

// Wait until #status satisfies `want`; on timeout, say what it showed instead.
async function waitForStatus(page, want, timeout) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    last = await statusOf(page);
    if (want(last)) return last;
    await sleep(100);
  }
  assert.fail(`tab ${tabNames.get(page)}: status is "${last}" after ${timeout} ms`);
}

// A remote video that is decoding frames and whose clock moves: a real call,
// not just a negotiated one.
async function assertRemoteVideoPlays(page, name) {
  await page.waitForFunction(() => {
    const v = document.querySelector('video[data-peer]');
    return v && v.readyState >= 2 && v.videoWidth > 0;
  }, null, { timeout: 10_000 }).catch(async () => {
    const info = await page.$$eval('video[data-peer]', (vs) =>
      vs.map((v) => ({ peer: v.dataset.peer, readyState: v.readyState, w: v.videoWidth, paused: v.paused })));
    assert.fail(`${name}: no remote video with frames: ${JSON.stringify(info)}`);
  });
  const t0 = await page.$eval('video[data-peer]', (v) => v.currentTime);
  await sleep(1000);
  const t1 = await page.$eval('video[data-peer]', (v) => v.currentTime);
  assert.ok(t1 > t0, `${name}: remote video currentTime did not advance (${t0} -> ${t1})`);
}

before(async () => {
  assert.ok(SIGSERVE, 'set SIGSERVE to the sigserve binary, e.g. SIGSERVE=build/tools/sigserve/sigserve');
  assert.ok(existsSync(SIGSERVE), `SIGSERVE=${SIGSERVE} does not exist (build it first)`);
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM)`);
  baseUrl = await startServer();
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  context = await browser.newContext({ viewport: { width: 1000, height: 640 } });
  await context.grantPermissions(['camera', 'microphone'], { origin: baseUrl });
});

after(async () => {
  await browser?.close();
  if (server && server.exitCode === null && server.signalCode === null) {
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGTERM');
    // SIGTERM should drain within a second or two; do not let a hung server hang the run.
    const timer = setTimeout(() => server.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
});

let tabA;
let tabB;

test('two tabs in one room hold a video call', { timeout: 40_000 }, () => explained(async () => {
  tabA = await openTab('A');
  await waitForStatus(tabA, (s) => s === 'waiting for a peer', 10_000);
  tabB = await openTab('B');
  await Promise.all([
    waitForStatus(tabA, (s) => s === 'connected', 20_000),
    waitForStatus(tabB, (s) => s === 'connected', 20_000),
  ]);
  await Promise.all([assertRemoteVideoPlays(tabA, 'A'), assertRemoteVideoPlays(tabB, 'B')]);
  if (process.env.DEMO_SCREENSHOT) await tabB.screenshot({ path: process.env.DEMO_SCREENSHOT });
}));

test('a third tab is refused: the room holds two by default', { timeout: 15_000 }, () => explained(async () => {
  assert.ok(tabA && tabB, 'needs the call from the first test');
  const tabC = await openTab('C');
  const status = await waitForStatus(tabC, (s) => s.includes('full'), 10_000);
  assert.match(status, /^room is full: /);
  await tabC.close();
  // The refused join changed nothing for the two in the call.
  assert.equal(await statusOf(tabA), 'connected');
  assert.equal(await statusOf(tabB), 'connected');
}));

test('when one tab closes, the other shows that the peer left', { timeout: 15_000 }, () => explained(async () => {
  assert.ok(tabA && tabB, 'needs the call from the first test');
  await tabA.close();
  await waitForStatus(tabB, (s) => s.includes('left'), 10_000);
  assert.equal(await tabB.locator('video[data-peer]').count(), 0, 'the remote video of the peer that left is removed');
}));

test('at / the page asks for a room and goes to it', { timeout: 15_000 }, () => explained(async () => {
  const page = await openTab('form', '/');
  await page.getByLabel('Room name').fill('bad/name');
  await page.getByRole('button', { name: 'Join' }).click();
  assert.equal(new URL(page.url()).pathname, '/', 'an invalid room name is refused');
  const name = `form-${randomBytes(4).toString('hex')}`;
  await page.getByLabel('Room name').fill(name);
  await page.getByRole('button', { name: 'Join' }).click();
  await page.waitForURL(`${baseUrl}/${name}`, { timeout: 5_000 });
  await waitForStatus(page, (s) => s === 'waiting for a peer', 10_000);
  await page.close();
}));
