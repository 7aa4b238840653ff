// The demo page makes a real WebRTC call: two headless Chromium tabs on one
// room reach "connected" and play each other's (fake) camera, a third tab is
// refused with room-full (and offered another room), closing a tab or hanging
// up tells the other one, a tab without camera or microphone still receives,
// the page rides out a server restart, passes ?token= on and explains token
// refusals, calls over HTTPS (wss://) with a certificate generated here, signs
// in with tokens that sigserve checks, and ?relay=1 calls through a real
// coturn. A Node `ws` client checks the token protocol itself: ?token= and
// Authorization: Bearer, users in joined and peer-joined, rooms, refresh,
// token-expired and the 401 of a refused upgrade.
//
//   cd tests/browser && npm ci
//   SIGSERVE=build/tools/sigserve/sigserve node --test tests/browser/demo.test.mjs
//
// Env: SIGSERVE (required) the sigserve binary; CHROMIUM (default
// /usr/bin/chromium); SIGSERVE_STATIC a directory to serve with --static
// instead of the built-in page (to try page edits without a rebuild);
// SIGSERVE_ARGS extra sigserve arguments, split on spaces; TURNSERVER
// (default /usr/bin/turnserver) coturn, for the relay case; OPENSSL (default
// openssl) to generate the certificate of the HTTPS case.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes, createHmac, createHash, X509Certificate } from 'node:crypto';
import { createServer, connect as tcpConnect } from 'node:net';
import { createSocket } from 'node:dgram';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import WebSocket from 'ws';

const SIGSERVE = process.env.SIGSERVE;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const STATIC_DIR = process.env.SIGSERVE_STATIC;
const EXTRA_ARGS = (process.env.SIGSERVE_ARGS || '').split(/\s+/).filter(Boolean);
const TURNSERVER = process.env.TURNSERVER || '/usr/bin/turnserver';
const OPENSSL = process.env.OPENSSL || 'openssl';

// No network here but loopback: the background-networking flags keep Chromium
// from trying (and noisily failing) to reach Google; the fake-media flags give
// it a synthetic camera and microphone and skip the permission prompt.
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
];

let server;                   // the main sigserve (an object from startServer)
let serverStderr = '';        // of every sigserve started, prefixed by its name
let baseUrl;
let browser;
let context;
const pageLogs = [];          // console and errors of every tab, shown on failure
const tabNames = new WeakMap();
const cleanups = [];          // run by after(), last first: other servers and contexts
const newRoom = (what) => `${what}-${randomBytes(4).toString('hex')}`;
const room = newRoom('test-room');

// Start sigserve and read the URL it prints. Port 0 picks a free one; a given
// port may still be held for a moment by a server that just exited: retry.
async function startServer({ name = 'main', port = 0, args = [] } = {}) {
  const deadline = Date.now() + 5_000;
  for (;;) {
    try {
      return await startServerOnce(name, port, args);
    } catch (err) {
      if (port === 0 || Date.now() > deadline) throw err;
      await sleep(100);
    }
  }
}

function startServerOnce(name, port, args) {
  const all = ['--port', String(port), '--log-level', 'debug', ...args, ...EXTRA_ARGS];
  if (STATIC_DIR) all.push('--static', STATIC_DIR);
  const proc = spawn(SIGSERVE, all, { stdio: ['ignore', 'pipe', 'pipe'] });
  let partial = '';           // whole lines only, so that every line gets its prefix once
  proc.stderr.setEncoding('utf8').on('data', (d) => {
    const lines = (partial + d).split('\n');
    partial = lines.pop();
    for (const line of lines) serverStderr += `[${name}] ${line}\n`;
  });
  proc.stderr.once('end', () => { if (partial) serverStderr += `[${name}] ${partial}\n`; });
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  return new Promise((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => reject(new Error(`sigserve printed no URL within 10 s; stdout: ${stdout}`)), 10_000);
    proc.stdout.setEncoding('utf8').on('data', (d) => {
      stdout += d;
      const m = stdout.match(/https?:\/\/[^/\s]+/);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, url: m[0], port: Number(new URL(m[0]).port), exited });
      }
    });
    proc.once('error', (err) => { clearTimeout(timer); reject(err); });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`sigserve exited (${code ?? signal}) before printing its URL; stdout: ${stdout}`));
    });
  });
}

// SIGTERM, which should drain within a second or two; do not let a hung process hang the run.
async function stopProcess(proc) {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

// Attach what the servers and the tabs said to a failure, so a red run explains itself.
async function explained(fn) {
  try {
    return await fn();
  } catch (err) {
    err.message += `\n--- tab logs ---\n${pageLogs.join('\n')}` +
                   `\n--- sigserve stderr (last 8000 chars) ---\n${serverStderr.slice(-8000)}`;
    throw err;
  }
}

async function openTab(name, path = `/${room}`, { ctx = context, base = baseUrl } = {}) {
  const page = await ctx.newPage();
  tabNames.set(page, name);
  page.on('console', (m) => pageLogs.push(`[${name}] ${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => pageLogs.push(`[${name}] pageerror: ${e.message}`));
  await page.goto(base + path);
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

const bothConnected = (x, y, timeout = 20_000) => Promise.all([
  waitForStatus(x, (s) => s === 'connected', timeout),
  waitForStatus(y, (s) => s === 'connected', timeout),
]);

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

const remotePeerIds = (page) => page.$$eval('video[data-peer]', (vs) => vs.map((v) => v.dataset.peer));

// What the page's RTCPeerConnections report about inbound media.
const inboundPackets = (page, kind) => page.evaluate(async (kind) => {
  let packets = 0;
  for (const pc of window.sigkitDemo.peerConnections())
    (await pc.getStats()).forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === kind) packets += s.packetsReceived; });
  return packets;
}, kind);

// A context whose getUserMedia fails as without devices (or with permission
// denied): the fake-device flags are browser-wide and their fake UI accepts
// every prompt, so the failure is injected. `allowAudioOnly` lets a
// microphone-only request through.
async function contextWithoutCamera({ allowAudioOnly = false, errorName = 'NotAllowedError' } = {}) {
  const ctx = await browser.newContext({ viewport: { width: 1000, height: 640 } });
  if (allowAudioOnly) await ctx.grantPermissions(['microphone'], { origin: baseUrl });
  await ctx.addInitScript(({ allowAudioOnly, errorName }) => {
    const md = navigator.mediaDevices;
    const real = md.getUserMedia.bind(md);
    md.getUserMedia = async (constraints = {}) => {
      if (allowAudioOnly && constraints.audio && !constraints.video) return real({ audio: true });
      const message = errorName === 'NotFoundError' ? 'Requested device not found' : 'Permission denied';
      throw new DOMException(message, errorName);
    };
  }, { allowAudioOnly, errorName });
  cleanups.push(() => ctx.close());
  return ctx;
}

before(async () => {
  assert.ok(SIGSERVE, 'set SIGSERVE to the sigserve binary, e.g. SIGSERVE=build/tools/sigserve/sigserve');
  assert.ok(existsSync(SIGSERVE), `SIGSERVE=${SIGSERVE} does not exist (build it first)`);
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM)`);
  server = await startServer();
  baseUrl = server.url;
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  context = await browser.newContext({ viewport: { width: 1000, height: 640 } });
  await context.grantPermissions(['camera', 'microphone'], { origin: baseUrl });
});

after(async () => {
  for (const fn of cleanups.reverse()) await fn().catch(() => {});
  await browser?.close();
  await stopProcess(server?.proc);
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

test('a refused tab says why and offers another room, not a black video box', { timeout: 15_000 }, () => explained(async () => {
  assert.ok(tabA && tabB, 'needs the call from the first test');
  const tabD = await openTab('D');
  await waitForStatus(tabD, (s) => s.startsWith('room is full'), 10_000);
  assert.match(await tabD.textContent('#chooser-reason'), /is full/);
  assert.ok(await tabD.getByLabel('Room name').isVisible(), 'a room name input');
  assert.ok(await tabD.getByRole('button', { name: 'Join' }).isVisible(), 'a Join button');
  const random = tabD.getByRole('link', { name: 'open a new random room' });
  assert.ok(await random.isVisible(), 'a link to a fresh random room');
  assert.equal(await tabD.locator('#videos').isVisible(), false, 'the video area is hidden');
  assert.equal(await tabD.locator('video:visible').count(), 0, 'no video element is shown');
  assert.equal(await tabD.$eval('#local video', (v) => v.srcObject), null, 'the camera is released');
  // The link leads to an empty room, where the page waits for a peer.
  const href = await random.getAttribute('href');
  assert.match(href, /^\/room-[a-z0-9]+$/);
  await random.click();
  await tabD.waitForURL(baseUrl + href, { timeout: 5_000 });
  await waitForStatus(tabD, (s) => s === 'waiting for a peer', 10_000);
  await tabD.close();
  assert.equal(await statusOf(tabA), 'connected');
}));

test('when one tab closes, the other shows that the peer left', { timeout: 15_000 }, () => explained(async () => {
  assert.ok(tabA && tabB, 'needs the call from the first test');
  await tabA.close();
  await waitForStatus(tabB, (s) => s.includes('left'), 10_000);
  assert.equal(await tabB.locator('video[data-peer]').count(), 0, 'the remote video of the peer that left is removed');
  await tabB.close();
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

test('a tab without camera or microphone receives the call', { timeout: 30_000 }, () => explained(async () => {
  const r = newRoom('nocam');
  const cam = await openTab('cam', `/${r}`);
  await waitForStatus(cam, (s) => s === 'waiting for a peer', 10_000);
  // The camera-less tab joins second, so it makes the offer: the case that needs
  // receive-only transceivers (as the answerer it would answer the offer's m-lines).
  const nocam = await openTab('nocam', `/${r}`, { ctx: await contextWithoutCamera() });
  await bothConnected(cam, nocam);
  assert.match(await nocam.textContent('#media'), /^receive only: no camera or microphone \(permission denied\)$/);
  assert.ok(await nocam.locator('#local .placeholder').isVisible(), 'the local tile says there is no camera');
  await assertRemoteVideoPlays(nocam, 'nocam');
  // The camera tab gets nothing to play and says so instead of showing black.
  assert.equal(await cam.locator('#media').isVisible(), false, 'the camera tab has nothing to explain');
  assert.equal(await cam.locator('figure:has(video[data-peer]) .placeholder').textContent(), 'No video from this peer');
  assert.equal(await cam.locator('video[data-peer]').isVisible(), false);
  await Promise.all([cam.close(), nocam.close()]);
}));

test('a tab with a microphone but no camera sends audio only', { timeout: 30_000 }, () => explained(async () => {
  const r = newRoom('audio');
  // The microphone-only tab joins first this time: it answers.
  const mic = await openTab('mic', `/${r}`, { ctx: await contextWithoutCamera({ allowAudioOnly: true, errorName: 'NotFoundError' }) });
  await waitForStatus(mic, (s) => s === 'waiting for a peer', 10_000);
  assert.match(await mic.textContent('#media'), /^audio only: no camera \(none found\)$/);
  const cam = await openTab('cam2', `/${r}`);
  await bothConnected(cam, mic);
  await assertRemoteVideoPlays(mic, 'mic');
  await cam.waitForFunction(() => {
    const s = document.querySelector('video[data-peer]').srcObject;
    return s && s.getAudioTracks().length === 1 && s.getVideoTracks().length === 0;
  }, null, { timeout: 5_000 });
  const deadline = Date.now() + 5_000;
  while (await inboundPackets(cam, 'audio') === 0 && Date.now() < deadline) await sleep(200);
  assert.ok(await inboundPackets(cam, 'audio') > 0, 'the camera tab receives audio packets');
  assert.equal(await cam.locator('figure:has(video[data-peer]) .placeholder').textContent(), 'No video from this peer');
  await Promise.all([cam.close(), mic.close()]);
}));

test('hang up tells the other tab, and rejoin calls again', { timeout: 40_000 }, () => explained(async () => {
  const r = newRoom('hangup');
  const h1 = await openTab('H1', `/${r}`);
  await waitForStatus(h1, (s) => s === 'waiting for a peer', 10_000);
  const h2 = await openTab('H2', `/${r}`);
  await bothConnected(h1, h2);
  const before = await remotePeerIds(h2);
  await h1.getByRole('button', { name: 'Hang up' }).click();
  await waitForStatus(h2, (s) => s === 'peer left', 5_000);
  assert.equal(await h2.locator('video[data-peer]').count(), 0, 'the peer that hung up is removed');
  assert.equal(await statusOf(h1), 'call ended');
  assert.equal(await h1.locator('#call').isVisible(), false, 'no videos after hanging up');
  assert.equal(await h1.evaluate(() => window.sigkitDemo.peerConnections().length), 0);
  const rejoin = h1.getByRole('button', { name: 'Rejoin' });
  assert.ok(await rejoin.isVisible(), 'a Rejoin button');
  await rejoin.click();
  await bothConnected(h1, h2);
  const after = await remotePeerIds(h2);
  assert.equal(after.length, 1);
  assert.notEqual(after[0], before[0], 'the rejoined tab is a new peer');
  await Promise.all([assertRemoteVideoPlays(h1, 'H1'), assertRemoteVideoPlays(h2, 'H2')]);
  await Promise.all([h1.close(), h2.close()]);
}));

// peer-left without a bye keeps a call whose media still flows (the peer may be
// reconnecting); it must not leave a ghost once the media stops.
test('a tab that vanishes without bye is shown as left once its media stops', { timeout: 30_000 }, (t) => explained(async () => {
  const r = newRoom('crash');
  const v1 = await openTab('V1', `/${r}`);
  await waitForStatus(v1, (s) => s === 'waiting for a peer', 10_000);
  const v2 = await openTab('V2', `/${r}`);
  await bothConnected(v1, v2);
  const crashed = Date.now();
  const cdp = await context.newCDPSession(v2);
  cdp.send('Page.crash').catch(() => {});   // no pagehide, so no bye; the answer never comes
  // The server says peer-left at once; the call ends when ICE notices (some seconds).
  await waitForStatus(v1, (s) => s === 'peer left', 20_000);
  t.diagnostic(`peer left ${Date.now() - crashed} ms after the crash`);
  assert.equal(await v1.locator('video[data-peer]').count(), 0);
  await Promise.all([v1.close(), v2.close().catch(() => {})]);
}));

// A WebSocket route plays the server here, so that the page's side is pinned
// down exactly: how many attempts it makes before giving up, that every one
// carries the token, and that it does not reconnect after token-expired. The
// same paths against sigserve's own token checks are further down.
test('?token= goes to /ws; refusals, forbidden and token-expired are explained', { timeout: 30_000 }, () => explained(async () => {
  const r = newRoom('token');
  const welcome = (extra = {}) => JSON.stringify({ type: 'welcome', peer: 'mockpeer0001', protocol: 1,
    server: 'mock', heartbeat: { interval_ms: 25000, timeout_ms: 60000 }, features: ['auth'], user: 'alice', ...extra });

  // A refused upgrade (HTTP 401) is a socket that closes before any welcome.
  const refused = await context.newPage();
  tabNames.set(refused, 'refused');
  refused.on('console', (m) => pageLogs.push(`[refused] ${m.type()}: ${m.text()}`));
  const urls = [];
  await refused.routeWebSocket(/\/ws/, (ws) => { urls.push(ws.url()); ws.close({ code: 1008, reason: 'refused' }); });
  await refused.goto(`${baseUrl}/${r}?token=abc.def.ghi`);
  await waitForStatus(refused, (s) => s === 'the server refused the token', 10_000);
  assert.equal(urls.length, 3, `three attempts, then it stops: ${urls.join(' ')}`);
  for (const u of urls) assert.equal(new URL(u).searchParams.get('token'), 'abc.def.ghi');
  await sleep(1500);
  assert.equal(urls.length, 3, 'no more attempts after giving up');
  await refused.close();

  // welcome.user is shown; a join the token does not allow gets its own message.
  const forbidden = await context.newPage();
  tabNames.set(forbidden, 'forbidden');
  await forbidden.routeWebSocket(/\/ws/, (ws) => {
    ws.onMessage((data) => {
      const m = JSON.parse(data);
      if (m.type === 'join') ws.send(JSON.stringify({ type: 'error', code: 'forbidden', rid: m.rid,
        message: `the token does not allow room ${m.room}` }));
    });
    ws.send(welcome());
  });
  await forbidden.goto(`${baseUrl}/${r}?token=abc.def.ghi`);
  await waitForStatus(forbidden, (s) => s.startsWith('not allowed'), 10_000);
  assert.equal(await statusOf(forbidden), `not allowed: your token does not allow room ${r}`);
  assert.equal(await forbidden.textContent('#user-name'), 'alice');
  assert.ok(await forbidden.locator('#user').isVisible(), 'the signed-in user is shown');
  assert.ok(await forbidden.getByLabel('Room name').isVisible(), 'another room can be chosen');
  assert.equal(await forbidden.locator('#videos').isVisible(), false);
  // The other room keeps the token.
  assert.match(await forbidden.getAttribute('#random-room', 'href'), /^\/room-[a-z0-9]+\?token=abc\.def\.ghi$/);
  await forbidden.close();

  // An expired token: the server says so and closes with 1008; the page does not retry.
  const expired = await context.newPage();
  tabNames.set(expired, 'expired');
  let sockets = 0;
  await expired.routeWebSocket(/\/ws/, (ws) => {
    sockets++;
    ws.onMessage((data) => {
      const m = JSON.parse(data);
      if (m.type !== 'join') return;
      ws.send(JSON.stringify({ type: 'joined', room: m.room, peer: 'mockpeer0001', peers: [], users: {}, rid: m.rid }));
      setTimeout(() => {
        ws.send(JSON.stringify({ type: 'error', code: 'token-expired', message: 'the token expired' }));
        ws.close({ code: 1008, reason: 'token expired' });
      }, 300);
    });
    ws.send(welcome());
  });
  await expired.goto(`${baseUrl}/${r}?token=abc.def.ghi`);
  await waitForStatus(expired, (s) => s.startsWith('token expired'), 10_000);
  await sleep(1500);
  assert.equal(sockets, 1, 'no reconnection with an expired token');
  assert.match(await statusOf(expired), /^token expired/);
  await expired.close();
}));

test('after a server restart both tabs reconnect and call again', { timeout: 45_000 }, (t) => explained(async () => {
  const r = newRoom('restart');
  const r1 = await openTab('R1', `/${r}`);
  await waitForStatus(r1, (s) => s === 'waiting for a peer', 10_000);
  const r2 = await openTab('R2', `/${r}`);
  await bothConnected(r1, r2);
  const before = [await remotePeerIds(r1), await remotePeerIds(r2)];
  await stopProcess(server.proc);
  await Promise.all([
    waitForStatus(r1, (s) => s === 'reconnecting…', 5_000),
    waitForStatus(r2, (s) => s === 'reconnecting…', 5_000),
  ]);
  // Meanwhile the call goes on peer to peer.
  await Promise.all([assertRemoteVideoPlays(r1, 'R1 while reconnecting'), assertRemoteVideoPlays(r2, 'R2 while reconnecting')]);
  assert.match(await r1.textContent('figure:has(video[data-peer]) figcaption'), /\(reconnecting\)$/);
  server = await startServer({ name: 'main, restarted', port: server.port });
  assert.equal(server.url, baseUrl);
  const restarted = Date.now();
  // Connected again to a new peer id: renegotiated, not just the old call going on;
  // and the old call is gone as soon as the new one is up, not once it times out.
  for (const [tab, old] of [[r1, before[0]], [r2, before[1]]]) {
    await tab.waitForFunction((old) => window.sigkitDemo.peers().some((p) => p.id !== old && p.state === 'connected'),
                              old[0], { timeout: 20_000 }).catch(async () => {
      assert.fail(`${tabNames.get(tab)}: status "${await statusOf(tab)}", peers ${JSON.stringify(await tab.evaluate(() => window.sigkitDemo.peers()))} (before: ${old})`);
    });
    const peers = await tab.evaluate(() => window.sigkitDemo.peers());
    assert.equal(peers.length, 1, `${tabNames.get(tab)}: the call from before the restart is replaced: ${JSON.stringify(peers)}`);
    assert.equal(await statusOf(tab), 'connected');
    assert.deepEqual(await remotePeerIds(tab), [peers[0].id]);
  }
  t.diagnostic(`both tabs renegotiated ${Date.now() - restarted} ms after the restart`);
  await Promise.all([assertRemoteVideoPlays(r1, 'R1'), assertRemoteVideoPlays(r2, 'R2')]);
  await Promise.all([r1.close(), r2.close()]);
}));

// --- HTTPS with a certificate generated here -------------------------------

// A self-signed ECDSA P-256 certificate for 127.0.0.1 and localhost, and the
// SHA-256 of its public key (what Chromium's --ignore-certificate-errors-spki-list
// takes: trust this one key, not every certificate).
async function makeCertificate(dir) {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  await promisify(execFile)(OPENSSL, [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]).catch((err) => {
    throw new Error(err.code === 'ENOENT' ? `no ${OPENSSL} (apt-get install openssl, or set OPENSSL)` : `openssl failed: ${err.stderr || err.message}`);
  });
  const pem = readFileSync(cert, 'utf8');
  const spki = createHash('sha256')
    .update(new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
  return { cert, key, pem, spki };
}

// A Node `ws` client that keeps what it receives, so a test can wait for the
// next message of a type; `closed` resolves with the close code and reason.
function wsClient(url, options = {}) {
  const sock = new WebSocket(url, options);
  const inbox = [];
  const waiters = new Set();
  let closedWith = null;
  const wake = () => { for (const w of [...waiters]) w(); };
  sock.on('message', (data) => { inbox.push(JSON.parse(String(data))); wake(); });
  const closed = new Promise((resolve) => sock.once('close', (code, reason) => {
    closedWith = { code, reason: String(reason) };
    resolve(closedWith);
    wake();
  }));
  const opened = new Promise((resolve, reject) => {
    sock.once('open', resolve);
    sock.once('error', reject);
    sock.once('unexpected-response', (req, res) => {
      reject(new Error(`${url}: upgrade refused with HTTP ${res.statusCode}`));
      res.resume();
    });
  });
  const client = {
    sock, inbox, closed,
    send: (msg) => sock.send(JSON.stringify(msg)),
    // The first message of `type` not taken yet; fails on close or after `timeout`.
    next(type, timeout = 5_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const i = inbox.findIndex((m) => m.type === type);
          if (i >= 0) { done(); return resolve(inbox.splice(i, 1)[0]); }
          if (closedWith) { done(); reject(new Error(`closed (${closedWith.code} ${closedWith.reason}) before a ${type}; got ${JSON.stringify(inbox)}`)); }
        };
        const timer = setTimeout(() => { done(); reject(new Error(`no ${type} within ${timeout} ms; got ${JSON.stringify(inbox)}`)); }, timeout);
        const done = () => { clearTimeout(timer); waiters.delete(check); };
        waiters.add(check);
        check();
      });
    },
    close() { if (sock.readyState <= WebSocket.OPEN) sock.close(1000); return closed; },
  };
  return opened.then(() => client);
}

// An upgrade the server refuses: its status, headers and body.
function refusedUpgrade(url, options = {}) {
  return new Promise((resolve, reject) => {
    const sock = new WebSocket(url, options);
    sock.on('error', () => {});   // the refusal itself is the answer
    sock.once('open', () => { sock.terminate(); reject(new Error(`${url}: the upgrade was accepted`)); });
    sock.once('unexpected-response', (req, res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d) => { body += d; });
      res.once('end', () => { req.destroy(); resolve({ status: res.statusCode, headers: res.headers, body }); });
    });
  });
}

const wsUrlOf = (httpUrl, query = '') => httpUrl.replace(/^http/, 'ws') + '/ws' + query;

test('over HTTPS with a generated certificate the page calls over wss://', { timeout: 40_000 }, () => explained(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sigkit-demo-tls-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  const { cert, key, pem, spki } = await makeCertificate(dir);
  const tls = await startServer({ name: 'tls', args: ['--tls-cert', cert, '--tls-key', key] });
  cleanups.push(() => stopProcess(tls.proc));
  assert.match(tls.url, /^https:\/\/127\.0\.0\.1:\d+$/);

  // Plain HTTP and ws:// to the TLS port are told to use TLS.
  const plain = await fetch(tls.url.replace(/^https/, 'http') + '/');
  assert.equal(plain.status, 400);
  assert.match(await plain.text(), /https:\/\//);
  // A client that checks the certificate (chain and name) against it alone gets a welcome over wss://.
  const checked = await wsClient(wsUrlOf(tls.url), { ca: pem });
  assert.equal((await checked.next('welcome')).protocol, 1);
  await checked.close();
  await assert.rejects(wsClient(wsUrlOf(tls.url)), /self-signed|self signed/, 'without the certificate a client does not trust the server');

  // Chromium trusts this key alone; every other certificate error still stops it.
  const tlsBrowser = await chromium.launch({ executablePath: CHROMIUM, headless: true,
    args: [...CHROMIUM_ARGS, `--ignore-certificate-errors-spki-list=${spki}`] });
  cleanups.push(() => tlsBrowser.close());
  const ctx = await tlsBrowser.newContext({ viewport: { width: 1000, height: 640 } });
  await ctx.grantPermissions(['camera', 'microphone'], { origin: tls.url });
  const sockets = [];
  ctx.on('page', (page) => page.on('websocket', (ws) => sockets.push(ws.url())));
  const r = newRoom('tls');
  const s1 = await openTab('S1', `/${r}`, { ctx, base: tls.url });
  await waitForStatus(s1, (s) => s === 'waiting for a peer', 10_000);
  assert.equal(await s1.evaluate(() => window.isSecureContext && location.protocol), 'https:');
  const s2 = await openTab('S2', `/${r}`, { ctx, base: tls.url });
  await bothConnected(s1, s2);
  await Promise.all([assertRemoteVideoPlays(s1, 'S1'), assertRemoteVideoPlays(s2, 'S2')]);
  assert.equal(sockets.length, 2, `one socket per tab: ${sockets.join(' ')}`);
  for (const u of sockets) assert.equal(u, wsUrlOf(tls.url), 'the page uses wss:// when served over https:');
  await Promise.all([s1.close(), s2.close()]);
}));

// --- tokens checked by sigserve --------------------------------------------

const AUTH_SECRET = randomBytes(32).toString('hex');
const nowSeconds = () => Math.floor(Date.now() / 1000);

// An HS256 JWT, valid for ten minutes unless `claims` says otherwise.
function mintToken(claims, secret = AUTH_SECRET) {
  const part = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
  const signed = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ iat: nowSeconds(), exp: nowSeconds() + 600, ...claims })}`;
  return `${signed}.${createHmac('sha256', secret).update(signed).digest('base64url')}`;
}

// One sigserve that checks tokens, shared by the cases below.
let authServerStarted;
function authServer() {
  authServerStarted ??= startServer({ name: 'auth', args: ['--auth-hs256-secret', AUTH_SECRET] }).then(async (srv) => {
    cleanups.push(() => stopProcess(srv.proc));
    await context.grantPermissions(['camera', 'microphone'], { origin: srv.url });
    return srv;
  });
  return authServerStarted;
}

test('with tokens checked by sigserve, tabs sign in and call; a bad signature and a room outside the token are explained',
  { timeout: 40_000 }, () => explained(async () => {
    const auth = await authServer();
    const opts = { base: auth.url };
    const r = newRoom('auth');
    // Opened first, checked last: a token that expires while its tab is in a room.
    const shortExp = nowSeconds() + 3;
    const expiring = await openTab('expiring', `/${newRoom('auth-expiring')}?token=${mintToken({ sub: 'dave', exp: shortExp })}`, opts);
    const badSignature = await openTab('bad-signature', `/${r}?token=${mintToken({ sub: 'mallory' }, randomBytes(32).toString('hex'))}`, opts);
    const outside = await openTab('outside', `/${r}?token=${mintToken({ sub: 'carol', rooms: ['lobby', 'team-*'] })}`, opts);

    const alice = await openTab('alice', `/${r}?token=${mintToken({ sub: 'alice', rooms: ['auth-*'] })}`, opts);
    await waitForStatus(alice, (s) => s === 'waiting for a peer', 10_000);
    const bob = await openTab('bob', `/${r}?token=${mintToken({ sub: 'bob' })}`, opts);
    await bothConnected(alice, bob);
    for (const [tab, user, peer] of [[alice, 'alice', 'bob'], [bob, 'bob', 'alice']]) {
      assert.ok(await tab.locator('#user').isVisible(), `${user}: the signed-in user is shown`);
      assert.equal(await tab.textContent('#user'), `Signed in as ${user}`);
      // joined.users (bob's side) and peer-joined.user (alice's side) name the peer.
      assert.equal(await tab.textContent('figure:has(video[data-peer]) figcaption'), peer);
      assert.doesNotMatch(await tab.textContent('#share-url'), /token/, 'the URL to share drops the token');
    }
    await Promise.all([assertRemoteVideoPlays(alice, 'alice'), assertRemoteVideoPlays(bob, 'bob')]);

    await waitForStatus(badSignature, (s) => s === 'the server refused the token', 10_000);
    assert.equal(await badSignature.locator('#user').isVisible(), false);

    await waitForStatus(outside, (s) => s.startsWith('not allowed'), 10_000);
    assert.equal(await statusOf(outside), `not allowed: your token does not allow room ${r}`);
    assert.equal(await outside.textContent('#user'), 'Signed in as carol');
    assert.match(await outside.textContent('#chooser-reason'), /does not allow/);
    assert.equal(await outside.locator('#videos').isVisible(), false);

    // The refusals changed nothing for the call.
    assert.equal(await statusOf(alice), 'connected');
    assert.equal(await statusOf(bob), 'connected');

    await waitForStatus(expiring, (s) => s.startsWith('token expired'), Math.max(0, shortExp * 1000 - Date.now()) + 5_000);
    await sleep(1000);
    assert.match(await statusOf(expiring), /^token expired/, 'no reconnection with an expired token');
    await Promise.all([alice, bob, expiring, badSignature, outside].map((p) => p.close()));
  }));

test('a ws client signs in with ?token= or Authorization: Bearer, joins, relays and refreshes', { timeout: 20_000 }, () => explained(async () => {
  const auth = await authServer();
  const r = newRoom('ws');
  const a = await wsClient(wsUrlOf(auth.url, `?token=${mintToken({ sub: 'alice', rooms: ['ws-*'] })}`));
  const b = await wsClient(wsUrlOf(auth.url), { headers: { Authorization: `Bearer ${mintToken({ sub: 'bob' })}` } });
  try {
    const wa = await a.next('welcome');
    const wb = await b.next('welcome');
    assert.equal(wa.user, 'alice');
    assert.equal(wb.user, 'bob');
    for (const w of [wa, wb]) assert.ok(Array.isArray(w.features) && w.features.includes('auth'), `features: ${JSON.stringify(w.features)}`);

    // The rooms claim: a room outside it is forbidden (and changes nothing), one matching the prefix is not.
    a.send({ type: 'join', room: 'lobby', rid: 'j0' });
    const refused = await a.next('error');
    assert.deepEqual([refused.code, refused.rid], ['forbidden', 'j0']);
    a.send({ type: 'join', room: r, rid: 'j1' });
    const ja = await a.next('joined');
    assert.deepEqual([ja.room, ja.peer, ja.peers, ja.rid], [r, wa.peer, [], 'j1']);
    b.send({ type: 'join', room: r, rid: 'j2' });
    const jb = await b.next('joined');
    assert.deepEqual(jb.peers, [wa.peer]);
    assert.deepEqual(jb.users, { [wa.peer]: 'alice' });
    const pj = await a.next('peer-joined');
    assert.deepEqual([pj.peer, pj.user], [wb.peer, 'bob']);

    // Relays: `from` is set by the server, whatever the sender claims.
    b.send({ type: 'message', to: wa.peer, text: 'hello alice', from: 'forged' });
    const m1 = await a.next('message');
    assert.deepEqual(m1, { type: 'message', to: wa.peer, text: 'hello alice', from: wb.peer });
    a.send({ type: 'offer', sdp: 'v=0 (not interpreted)' });
    const m2 = await b.next('offer');
    assert.deepEqual([m2.from, m2.sdp], [wa.peer, 'v=0 (not interpreted)']);

    // Refresh: a token for the same sub is taken and its exp reported; another sub is not.
    const exp = nowSeconds() + 1200;
    a.send({ type: 'refresh', token: mintToken({ sub: 'alice', exp }), rid: 'r1' });
    const refreshed = await a.next('refreshed');
    assert.equal(refreshed.exp, exp);
    assert.equal(refreshed.rid, 'r1', 'the reply carries the rid');
    a.send({ type: 'refresh', token: mintToken({ sub: 'mallory' }), rid: 'r2' });
    const changedSub = await a.next('error');
    assert.deepEqual([changedSub.code, changedSub.rid], ['forbidden', 'r2']);
    a.send({ type: 'ping', rid: 'p' });
    assert.equal((await a.next('pong')).rid, 'p', 'the connection goes on');
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}));

test('an upgrade without a valid token gets HTTP 401 and the reason', { timeout: 15_000 }, () => explained(async () => {
  const auth = await authServer();
  const cases = [
    ['missing', wsUrlOf(auth.url), {}],
    ['bad_signature', wsUrlOf(auth.url, `?token=${mintToken({ sub: 'mallory' }, randomBytes(32).toString('hex'))}`), {}],
    ['expired', wsUrlOf(auth.url), { headers: { Authorization: `Bearer ${mintToken({ sub: 'alice', exp: nowSeconds() - 60 })}` } }],
  ];
  for (const [reason, url, options] of cases) {
    const res = await refusedUpgrade(url, options);
    assert.equal(res.status, 401, reason);
    assert.equal(res.body.trim(), `token refused: ${reason}`);
    assert.equal(res.headers['www-authenticate'], 'Bearer error="invalid_token"');
  }
}));

test('at exp the server says token-expired and closes with 1008, unless the token was refreshed', { timeout: 15_000 }, (t) => explained(async () => {
  const auth = await authServer();
  const exp = nowSeconds() + 2;
  const [expiring, refreshing] = await Promise.all(['erin', 'frank'].map((sub) =>
    wsClient(wsUrlOf(auth.url, `?token=${mintToken({ sub, exp })}`))));
  for (const c of [expiring, refreshing]) await c.next('welcome');
  refreshing.send({ type: 'refresh', token: mintToken({ sub: 'frank', exp: exp + 600 }) });
  assert.equal((await refreshing.next('refreshed')).exp, exp + 600);

  const err = await expiring.next('error', 5_000);
  const at = Date.now();
  assert.equal(err.code, 'token-expired');
  t.diagnostic(`token-expired ${at - exp * 1000} ms after exp`);
  assert.ok(at >= exp * 1000 - 50 && at <= exp * 1000 + 2_000, `token-expired ${at - exp * 1000} ms after exp`);
  const { code } = await Promise.race([expiring.closed, sleep(3_000, { code: 'no close within 3 s' })]);
  assert.equal(code, 1008);

  // Past the first exp, the refreshed connection goes on.
  await sleep(500);
  refreshing.send({ type: 'ping', rid: 'after-exp' });
  assert.equal((await refreshing.next('pong')).rid, 'after-exp');
  assert.equal(refreshing.inbox.some((m) => m.type === 'error'), false, JSON.stringify(refreshing.inbox));
  await refreshing.close();
}));

// --- relay through a real TURN server -------------------------------------

// Chromium gathers no candidates on loopback, but with a TURN server on
// 127.0.0.1 it sends from the machine's other address; without one there is
// nothing to send from.
function relaySkipReason() {
  if (!existsSync(TURNSERVER)) return `no coturn at ${TURNSERVER} (apt-get install coturn, or set TURNSERVER)`;
  const other = Object.values(networkInterfaces()).flat().filter((a) => a && !a.internal);
  if (other.length === 0) return 'this machine has only a loopback interface: Chromium gathers no candidates on loopback, so no relayed call is possible';
  return false;
}

const canBind = (port) => Promise.all([
  new Promise((resolve) => {
    const s = createServer().once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  }),
  new Promise((resolve) => {
    const s = createSocket('udp4').once('error', () => { s.close(); resolve(false); });
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  }),
]).then(([tcp, udp]) => tcp && udp);

// A block of `count` ports free for TCP and UDP, below Linux's ephemeral range.
async function freePortBlock(count) {
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = 20000 + 64 * Math.floor(Math.random() * ((32000 - 20000) / 64));
    let free = true;
    for (let p = base; p < base + count && free; p++) free = await canBind(p);
    if (free) return base;
  }
  throw new Error('no free block of loopback ports');
}

const acceptsTcp = (port) => new Promise((resolve) => {
  const s = tcpConnect(port, '127.0.0.1');
  s.once('connect', () => { s.destroy(); resolve(true); });
  s.once('error', () => resolve(false));
});

// coturn with TURN REST credentials (use-auth-secret) on 127.0.0.1, relaying on
// 127.0.0.1 too, so it must allow loopback peers.
async function startCoturn(secret) {
  const dir = mkdtempSync(join(tmpdir(), 'sigkit-demo-coturn-'));
  const port = await freePortBlock(40);
  writeFileSync(join(dir, 'turnserver.conf'), [
    'listening-ip=127.0.0.1', `listening-port=${port}`,
    'relay-ip=127.0.0.1', `min-port=${port + 10}`, `max-port=${port + 39}`,
    'realm=sigkit.test', 'use-auth-secret', `static-auth-secret=${secret}`, 'allow-loopback-peers',
    'no-tls', 'no-dtls', 'no-cli', 'fingerprint', 'simple-log', 'no-stdout-log',
    `log-file=${join(dir, 'turn.log')}`, `pidfile=${join(dir, 'turn.pid')}`, `userdb=${join(dir, 'turndb')}`,
    '',
  ].join('\n'));
  const proc = spawn(TURNSERVER, ['-c', join(dir, 'turnserver.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
  const log = () => {
    let text = stderr;
    try { text += readFileSync(join(dir, 'turn.log'), 'utf8'); } catch { /* not written yet */ }
    return text;
  };
  const stop = async () => { await stopProcess(proc); rmSync(dir, { recursive: true, force: true }); };
  const deadline = Date.now() + 10_000;
  while (!(await acceptsTcp(port))) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`coturn did not start:\n${log()}`);
    }
    await sleep(50);
  }
  return { port, log, stop };
}

// The candidate types of the selected pair of every peer connection of a tab.
const selectedPairs = (page) => page.evaluate(async () => {
  const out = [];
  for (const pc of window.sigkitDemo.peerConnections()) {
    const stats = await pc.getStats();
    let pair;
    stats.forEach((s) => { if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId); });
    const local = pair && stats.get(pair.localCandidateId);
    const remote = pair && stats.get(pair.remoteCandidateId);
    out.push(pair ? { local: local.candidateType, remote: remote.candidateType,
                      localAddress: `${local.address}:${local.port}`, relayProtocol: local.relayProtocol } : null);
  }
  return out;
});

test('?relay=1 calls through TURN with credentials from welcome.ice_servers', { timeout: 45_000, skip: relaySkipReason() },
  (t) => explained(async () => {
    const secret = randomBytes(12).toString('hex');
    const turn = await startCoturn(secret);
    cleanups.push(turn.stop);
    const relayServer = await startServer({ name: 'relay', args: ['--turn-uri', `turn:127.0.0.1:${turn.port}`, '--turn-secret', secret] });
    cleanups.push(() => stopProcess(relayServer.proc));
    await context.grantPermissions(['camera', 'microphone'], { origin: relayServer.url });
    const r = newRoom('relay');
    const opts = { base: relayServer.url };
    try {
      const t1 = await openTab('T1', `/${r}?relay=1`, opts);
      await waitForStatus(t1, (s) => s === 'waiting for a peer', 10_000);
      assert.ok(await t1.locator('#relay-note').isVisible(), 'the page says it relays only');
      const t2 = await openTab('T2', `/${r}?relay=1`, opts);
      await bothConnected(t1, t2);
      await Promise.all([assertRemoteVideoPlays(t1, 'T1'), assertRemoteVideoPlays(t2, 'T2')]);
      for (const tab of [t1, t2]) {
        const pairs = await selectedPairs(tab);
        assert.equal(pairs.length, 1, `${tabNames.get(tab)}: one peer connection`);
        assert.deepEqual([pairs[0]?.local, pairs[0]?.remote], ['relay', 'relay'],
                         `${tabNames.get(tab)}: selected pair ${JSON.stringify(pairs)}`);
        assert.match(pairs[0].localAddress, /^127\.0\.0\.1:/, 'the relayed address is the coturn one');
        t.diagnostic(`${tabNames.get(tab)}: selected pair ${JSON.stringify(pairs[0])}`);
      }
      await Promise.all([t1.close(), t2.close()]);
    } catch (err) {
      err.message += `\n--- coturn log (last 4000 chars) ---\n${turn.log().slice(-4000)}`;
      throw err;
    }
  }));
