// The measuring half of tests/perf/side_by_side.sh (run that: it installs
// the reference and dialect servers' packages and raises the open-files
// limit first).
//
// The servers: sigserve; protocol v1 on uWebSockets.js and on ws
// (tests/perf/reference/); and the WebRTC codelab's socket.io server
// (tests/dialects/codelab_server.mjs), which sigbench drives with its
// socketio-codelab dialect. Each entry of ALL_SERVERS says which dialect
// sigbench speaks to it and on which URL path.
//
// For each round, and for each server in an order rotated every round so
// machine noise hits all alike:
//   CPU per peer   fresh server on a free loopback port, a warm-up, then
//                  utime+stime from /proc/PID/stat around a sigbench
//                  closed-model join storm (connect, join, offer/answer,
//                  close; --concurrency sessions in flight); delta / peers.
//   RSS per idle   fresh server (no warm-up unless --rss-warmup), VmRSS
//   connection     before; sigbench holds N idle connections in rooms of 2; once the server
//                  holds N more socket descriptors (/proc/PID/fd, so any
//                  server will do) and 2 s have passed, VmRSS after;
//                  (after - before) / N. sigbench is then stopped (SIGINT).
// Every sigbench report is checked (all peers joined, nothing lost,
// duplicated or misrouted, no errors); a row that fails a check is marked
// and left out of the figures. One exception: the codelab server relays
// every message to every socket it holds (socket.broadcast.emit), so the
// relays sigbench counts as misrouted are its real behaviour, and the work
// they cost is in its CPU figure. For a server marked `broadcasts` they are
// a note beside the row ("broadcasts to every socket: N misrouted"), not a
// failed check; for every other server they fail the check as before. With
// many rooms in flight that server does many times the work of one room at
// a time: `--concurrency 2` compares it one room at a time.
// With --syscalls, one more run per server under `strace -c -f` counts
// system calls per peer by name.

import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..');
const reference = path.join(here, 'reference');
const dialects = path.join(repoRoot, 'tests', 'dialects');

const USAGE = `Usage: tests/perf/side_by_side.sh [OPTIONS]
sigserve's CPU per peer session and RSS per idle connection, side by side with
protocol v1 servers on uWebSockets.js and on ws (tests/perf/reference/) and
with the WebRTC codelab's socket.io server (tests/dialects/codelab_server.mjs,
driven with sigbench --dialect socketio-codelab).

Options:
  --rounds N          rounds; every server is measured once per round (default 3)
  --json FILE         also write the figures as JSON to FILE
  --syscalls          also count system calls per peer (strace -c -f, a smaller run)
  --servers LIST      comma-separated subset of: sigserve-t1,sigserve-t2,uws,ws,codelab
  --baseline KEY      the row the ratios are against (default uws); must be
                      one of the servers measured
  --concurrency N     sessions in flight in the closed-model runs: warm-up, CPU
                      storm, --syscalls (default 200; at least 2). The codelab
                      server relays every message to every socket, so with many
                      rooms in flight it does that many times the work;
                      --concurrency 2 runs one room at a time
  --cpu-peers N       peers in the CPU join storm (default 10000: 5,000 pairs)
  --idle-peers N      idle connections held for the RSS figure (default 8000)
  --syscall-peers N   peers in the --syscalls run (default 2000)
  --rss-warmup N      sessions run on the RSS row's fresh server before reading
                      VmRSS (default 0: the figure then includes what a fresh
                      runtime grows by, e.g. V8's heap and compiled code)
  --keep-logs         keep the server logs and sigbench reports (kept anyway on a failure)
  -h, --help

Checks: every sigbench report must show all peers joined and nothing lost,
duplicated or misrouted, with no errors, or the row is marked FAILED and
left out of the figures. Misrouted relays from the codelab server, which
broadcasts to every socket, are its behaviour: they are noted beside its row
("broadcasts to every socket: N misrouted") and its figures kept. While the
idle connections fill, its every offer and answer goes to every socket
already open, so its traffic grows with the square of --idle-peers: on 2
cores it could not hold the default 8000 (connects timed out), and held 600.

Environment: SIGSERVE and SIGBENCH override the binaries (default
build/tools/sigserve/sigserve and build/tools/sigbench/sigbench under the
repository root).
Exit codes: 0 every row passed its checks, 1 a row failed a check, 2 usage
error, 3 could not set up or run.`;

// --- command line ------------------------------------------------------------

function usageError(message) {
  process.stderr.write(`side_by_side: ${message} (see --help)\n`);
  process.exit(2);
}

function positiveInteger(name, text, fallback) {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < 1) usageError(`--${name} must be a positive integer, got "${text}"`);
  return Number(text);
}

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      rounds: { type: 'string' },
      json: { type: 'string' },
      syscalls: { type: 'boolean' },
      servers: { type: 'string' },
      baseline: { type: 'string' },
      concurrency: { type: 'string' },
      'cpu-peers': { type: 'string' },
      'idle-peers': { type: 'string' },
      'syscall-peers': { type: 'string' },
      'rss-warmup': { type: 'string' },
      'keep-logs': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  }));
} catch (e) {
  usageError(e.message);
}
if (args.help) {
  process.stdout.write(USAGE + '\n');
  process.exit(0);
}

const ROUNDS = positiveInteger('rounds', args.rounds, 3);
const CPU_PEERS = positiveInteger('cpu-peers', args['cpu-peers'], 10_000);
const IDLE_PEERS = positiveInteger('idle-peers', args['idle-peers'], 8_000);
const SYSCALL_PEERS = positiveInteger('syscall-peers', args['syscall-peers'], 2_000);
const RSS_WARMUP = args['rss-warmup'] === undefined || args['rss-warmup'] === '0'
  ? 0 : positiveInteger('rss-warmup', args['rss-warmup'], 0);
if (RSS_WARMUP % 2 || CPU_PEERS % 2 || IDLE_PEERS % 2 || SYSCALL_PEERS % 2) usageError('peer counts must be even (rooms of 2)');
// Closed model: sessions in flight. Below a room's size no room could fill.
const CONCURRENCY = positiveInteger('concurrency', args.concurrency, 200);
if (CONCURRENCY < 2) usageError('--concurrency must be at least 2 (rooms of 2)');

const WARMUP_PEERS = 2_000;       // sessions before any reading: JIT, allocator, caches
const IDLE_RATE = 2_000;          // arrivals per second while filling the idle connections
const SETTLE_MS = 2_000;          // after the last idle connection, before reading VmRSS
const SDP_BYTES = 2_000;          // offer/answer size (sigbench's default, stated here because RSS depends on it)

const sigserve = path.resolve(process.env.SIGSERVE || path.join(repoRoot, 'build/tools/sigserve/sigserve'));
const sigbench = path.resolve(process.env.SIGBENCH || path.join(repoRoot, 'build/tools/sigbench/sigbench'));

// Every server measured. `short` names the baseline in the ratio columns;
// `dialect` is sigbench's --dialect and `urlPath` where on the server its
// WebSocket is; `broadcasts` marks a server that relays every message to
// every socket it holds, whose misrouted relays are noted, not failed;
// `packages` are the npm packages (and where) it needs installed.
const SIGKIT_V1 = { dialect: 'sigkit', urlPath: '/ws' };
const ALL_SERVERS = [
  { key: 'sigserve-t1', label: 'sigserve --threads 1', short: 'sigserve t1', ...SIGKIT_V1,
    cmd: sigserve, args: ['--port', '0', '--threads', '1'] },
  { key: 'sigserve-t2', label: 'sigserve --threads 2', short: 'sigserve t2', ...SIGKIT_V1,
    cmd: sigserve, args: ['--port', '0', '--threads', '2'] },
  { key: 'uws', label: 'uWebSockets.js', short: 'uWS.js', ...SIGKIT_V1,
    packages: [['@trufflesuite/uws-js-unofficial', reference]],
    cmd: process.execPath, args: [path.join(reference, 'uws_server.mjs'), '--port', '0'] },
  { key: 'ws', label: 'ws', short: 'ws', ...SIGKIT_V1,
    packages: [['ws', reference]],
    cmd: process.execPath, args: [path.join(reference, 'ws_server.mjs'), '--port', '0'] },
  { key: 'codelab', label: 'socket.io codelab server (socket.io 4.8)', short: 'codelab',
    dialect: 'socketio-codelab', urlPath: '/socket.io/?EIO=4&transport=websocket', broadcasts: true,
    packages: [['socket.io', dialects]],
    cmd: process.execPath, args: [path.join(dialects, 'codelab_server.mjs'), '--port', '0'] },
];
const serverByKey = (k) => ALL_SERVERS.find((s) => s.key === k);
let servers = ALL_SERVERS;
if (args.servers !== undefined) {
  const keys = args.servers.split(',').map((s) => s.trim()).filter(Boolean);
  for (const k of keys) if (!serverByKey(k)) usageError(`unknown server "${k}"`);
  servers = ALL_SERVERS.filter((s) => keys.includes(s.key));
  if (servers.length === 0) usageError('--servers names no server');
}
// Ratios are against this row. The default may be left out of --servers
// (its ratios are then n/a); one asked for by name must be measured.
const BASELINE = args.baseline ?? 'uws';
if (args.baseline !== undefined) {
  if (!serverByKey(BASELINE)) usageError(`unknown --baseline server "${BASELINE}"`);
  if (!servers.some((s) => s.key === BASELINE)) usageError(`--baseline ${BASELINE} is not among the servers measured`);
}
const baselineServer = serverByKey(BASELINE);

// --- processes: every one started is tracked and ended on exit ---------------

const children = new Set();
const pidfile = process.env.SIDE_BY_SIDE_PIDFILE;

function recordPids() {
  if (!pidfile) return;
  try {
    fs.writeFileSync(pidfile, [...children].map((c) => c.pid).join('\n') + '\n');
  } catch {
    // the wrapper's list is a second line of defence only
  }
}

function launch(cmd, argv, { stdout = 'ignore', stderr: stderrMode = 'ignore', stderrPath } = {}) {
  const stderr = stderrPath ? fs.openSync(stderrPath, 'a') : stderrMode;
  const child = spawn(cmd, argv, { stdio: ['ignore', stdout, stderr] });
  if (typeof stderr === 'number') fs.closeSync(stderr);
  child.exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      recordPids();
      resolve({ code, signal });
    });
    child.once('error', (error) => {
      children.delete(child);
      recordPids();
      resolve({ code: null, signal: null, error });
    });
  });
  if (child.pid) {
    children.add(child);
    recordPids();
  }
  return child;
}

function killAll(signal) {
  for (const child of children) {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

process.on('exit', () => killAll('SIGKILL'));
for (const [signal, status] of [['SIGINT', 130], ['SIGTERM', 143]]) {
  process.on(signal, () => {
    process.stderr.write(`side_by_side: ${signal}, stopping every process it started\n`);
    killAll('SIGKILL');
    process.exit(status);
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function within(promise, ms) {
  let timer;
  const timeout = new Promise((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)));
  const result = await Promise.race([promise, timeout]);
  clearTimeout(timer);
  return result;
}

// Ends a child: `signal`, then SIGKILL if it has not exited within graceMs.
async function stop(child, signal = 'SIGTERM', graceMs = 5_000) {
  if (child.exitCode !== null || child.signalCode !== null) return child.exited;
  child.kill(signal);
  const result = await within(child.exited, graceMs);
  if (result !== 'timeout') return result;
  child.kill('SIGKILL');
  return child.exited;
}

// --- /proc -------------------------------------------------------------------

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

// utime and stime in clock ticks, for the whole process (all threads).
function cpuTicks(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields[0] is field 3, "state"
  return { user: Number(fields[11]), system: Number(fields[12]) };
}

function vmRssKiB(pid) {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

function fdCount(pid) {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

function socketCount(pid) {
  let sockets = 0;
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) sockets++;
    } catch {
      // closed meanwhile
    }
  }
  return sockets;
}

async function waitUntil(predicate, timeoutMs, intervalMs = 100) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (predicate()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(intervalMs);
  }
}

// --- servers and sigbench ----------------------------------------------------

let workDir;

class RowFailure extends Error {}

async function startServer(server, tag) {
  const log = path.join(workDir, `${tag}.server.log`);
  const child = launch(server.cmd, server.args, { stdout: 'pipe', stderrPath: log });
  const port = await within(new Promise((resolve) => {
    let seen = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      if (seen === null) return;
      seen += chunk;
      // sigserve: "sigserve listening on http://127.0.0.1:PORT/ ..."; reference servers: "listening on PORT";
      // the codelab server: "listening PORT"
      const m = /listening (?:on )?(?:[a-z]+:\/\/[^\s/]*:)?(\d+)/.exec(seen);
      if (m) {
        seen = null;
        resolve(Number(m[1]));
      }
    });
    child.exited.then(() => resolve(null));
  }), 15_000);
  if (typeof port !== 'number') {
    await stop(child, 'SIGKILL');
    throw new RowFailure(`${server.label} did not start (${port === 'timeout' ? 'no "listening" line within 15 s' : 'exited'}; log ${log})`);
  }
  return { server, child, pid: child.pid, port, log };
}

async function stopServer(running) {
  await stop(running.child, 'SIGTERM', 5_000);
}

function benchArgs(running, extra) {
  const { dialect, urlPath } = running.server;
  return ['--dialect', dialect, '--url', `ws://127.0.0.1:${running.port}${urlPath}`,
    '--room-size', '2', '--candidates', '0', '--sdp-bytes', String(SDP_BYTES), '--quiet', ...extra];
}

function closedModel(peers) {
  return ['--peers', String(peers), '--rate', '0', '--concurrency', String(CONCURRENCY), '--leave', 'close'];
}

function startBench(tag, running, extra) {
  const report = path.join(workDir, `${tag}.json`);
  const child = launch(sigbench, [...benchArgs(running, extra), '--json', report], {
    stderrPath: path.join(workDir, `${tag}.sigbench.log`),
  });
  return { child, report, tag };
}

async function finishBench(bench, timeoutMs) {
  let result = await within(bench.child.exited, timeoutMs);
  if (result === 'timeout') {
    await stop(bench.child, 'SIGKILL');
    return { timedOut: true };
  }
  return result;
}

function readReport(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

// Misrouted relays a server is expected to produce: those of one that
// broadcasts to every socket are its behaviour, a note beside its row; for
// every other server they are a failed check.
const misroutingExpected = (server) => server.broadcasts === true;

// What is wrong with a sigbench report, as short phrases; empty when all is well.
function reportProblems(report, peers, server, { interrupted = false } = {}) {
  if (!report) return ['no sigbench report'];
  const problems = [];
  const p = report.peers ?? {};
  const m = report.messages ?? {};
  if (p.joined !== peers) problems.push(`${p.joined ?? 0} of ${peers} joined`);
  if (p.connected !== peers) problems.push(`${p.connected ?? 0} of ${peers} connected`);
  if (p.failed) problems.push(`${p.failed} failed (${JSON.stringify(report.failures ?? {})})`);
  for (const k of ['lost', 'duplicated', 'misrouted']) {
    if (k === 'misrouted' && misroutingExpected(server)) continue;
    if (m[k]) problems.push(`${m[k]} ${k}`);
  }
  const errors = Object.entries(report.errors ?? {});
  if (errors.length) problems.push(`errors ${errors.map(([c, n]) => `${c}=${n}`).join(' ')}`);
  if (report.aborted && !(interrupted && report.aborted === 'interrupted')) problems.push(`aborted: ${report.aborted}`);
  if (report.generator?.saturated) problems.push('generator saturated');
  return problems;
}

// sigbench exits 1 when a threshold failed, and misrouted==0 is one of its
// defaults; for a server whose misrouting is expected, exit 1 is as good as
// 0 when the misrouted verdicts are the only ones that failed (the report's
// other figures are checked by reportProblems all the same).
function exitProblem(result, expected, report, server) {
  if (result.timedOut) return 'sigbench timed out';
  if (result.error) return `sigbench did not run: ${result.error.message}`;
  if (expected.includes(result.code)) return null;
  const failed = (report?.thresholds ?? []).filter((t) => !t.ok);
  if (result.code === 1 && misroutingExpected(server) && failed.length > 0 &&
      failed.every((t) => /^misrouted\b/.test(t.expr))) return null;
  return `sigbench exit ${result.code ?? result.signal}`;
}

const misroutedOf = (report) => report?.messages?.misrouted ?? null;

// A closed-model run that must pass every check.
async function closedRun(tag, running, peers, timeoutMs) {
  const bench = startBench(tag, running, closedModel(peers));
  const result = await finishBench(bench, timeoutMs);
  const report = readReport(bench.report);
  const problems = reportProblems(report, peers, running.server);
  const exit = exitProblem(result, [0], report, running.server);
  if (exit) problems.unshift(exit);
  return { report, problems };
}

// Waits until the server holds no more sockets than before a run (closes
// handled), then a little longer.
async function quiesce(running, baseSockets) {
  await waitUntil(() => socketCount(running.pid) <= baseSockets, 15_000, 100);
  await sleep(300);
}

async function warmUp(running, tag, peers = WARMUP_PEERS) {
  const base = socketCount(running.pid);
  if (peers === 0) return base;
  const warm = await closedRun(`${tag}.warmup`, running, peers, 120_000);
  if (warm.problems.length) throw new RowFailure(`warm-up: ${warm.problems.join(', ')}`);
  await quiesce(running, base);
  return base;
}

// --- the measurements ----------------------------------------------------------

async function measureCpu(server, tag) {
  const running = await startServer(server, tag);
  try {
    const base = await warmUp(running, tag);
    const before = cpuTicks(running.pid);
    const started = Date.now();
    const run = await closedRun(`${tag}.storm`, running, CPU_PEERS, 180_000);
    const benchSeconds = (Date.now() - started) / 1000;
    await quiesce(running, base);
    const after = cpuTicks(running.pid);
    const usPerTick = 1e6 / CLK_TCK;
    const total = ((after.user + after.system - before.user - before.system) * usPerTick) / CPU_PEERS;
    const user = ((after.user - before.user) * usPerTick) / CPU_PEERS;
    return {
      total_us: total,
      user_us: user,
      bench_s: benchSeconds,
      sessions_per_s: run.report?.throughput?.join_rate ? run.report.throughput.join_rate / 2 : null,
      relays: run.report?.messages?.sent ?? null,
      misrouted: misroutedOf(run.report),
      problems: run.problems,
    };
  } finally {
    await stopServer(running);
  }
}

async function measureRss(server, tag) {
  const running = await startServer(server, tag);
  let bench = null;
  try {
    await warmUp(running, tag, RSS_WARMUP);
    await sleep(700);
    const baseSockets = socketCount(running.pid);
    const baseFds = fdCount(running.pid);
    const before = vmRssKiB(running.pid);
    bench = startBench(`${tag}.idle`, running, [
      '--peers', String(IDLE_PEERS), '--rate', String(IDLE_RATE), '--hold', '300s', '--leave', 'close',
    ]);
    const target = baseSockets + IDLE_PEERS;
    const fillMs = Math.max(30_000, (IDLE_PEERS / IDLE_RATE) * 1000 * 6);
    let benchEnded = false;
    bench.child.exited.then(() => (benchEnded = true));
    const connected = await waitUntil(
      () => benchEnded || (fdCount(running.pid) >= baseFds + IDLE_PEERS && socketCount(running.pid) >= target),
      fillMs, 250);
    const problems = [];
    let after = null;
    let held = null;
    if (benchEnded) problems.push('sigbench ended before every connection was open');
    else if (!connected) problems.push(`only ${socketCount(running.pid) - baseSockets} of ${IDLE_PEERS} connections after ${fillMs / 1000} s`);
    else {
      await sleep(SETTLE_MS);
      after = vmRssKiB(running.pid);
      held = socketCount(running.pid) - baseSockets;
      if (held < IDLE_PEERS) problems.push(`${held} of ${IDLE_PEERS} connections still open when sampled`);
    }
    const result = await stop(bench.child, 'SIGINT', 30_000);
    bench = null;
    const report = readReport(path.join(workDir, `${tag}.idle.json`));
    const exit = exitProblem(result, [0, 3], report, server); // 3 = interrupted, as asked
    if (exit) problems.push(exit);
    problems.push(...reportProblems(report, IDLE_PEERS, server, { interrupted: true }));
    return {
      kib: after === null ? null : (after - before) / IDLE_PEERS,
      rss_before_kib: before,
      rss_after_kib: after,
      held,
      relays: report?.messages?.sent ?? null,
      misrouted: misroutedOf(report),
      problems,
    };
  } finally {
    if (bench) await stop(bench.child, 'SIGKILL');
    await stopServer(running);
  }
}

// strace -c output: "% time seconds usecs/call calls [errors] syscall".
function parseStraceSummary(text) {
  const calls = {};
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5 || !/^\d/.test(f[0]) || f.at(-1) === 'total') continue;
    const name = f.at(-1);
    const count = Number(f[3]);
    if (/^[a-z_0-9]+$/.test(name) && Number.isFinite(count)) calls[name] = (calls[name] ?? 0) + count;
  }
  return calls;
}

async function measureSyscalls(server, tag) {
  const running = await startServer(server, tag);
  let tracer = null;
  try {
    const base = await warmUp(running, tag);
    const out = path.join(workDir, `${tag}.strace.txt`);
    tracer = launch('strace', ['-c', '-f', '-p', String(running.pid), '-o', out], { stderr: 'pipe' });
    // strace says "Process N attached" on stderr once every thread is traced.
    const attached = await within(new Promise((resolve) => {
      let seen = '';
      tracer.stderr.setEncoding('utf8');
      tracer.stderr.on('data', (c) => {
        seen += c;
        if (/attached/.test(seen)) resolve(true);
      });
      tracer.exited.then(() => resolve(false));
    }), 10_000);
    if (attached !== true) await sleep(1_000);
    if (tracer.exitCode !== null) throw new RowFailure('strace could not attach (ptrace not permitted?)');
    const run = await closedRun(`${tag}.traced`, running, SYSCALL_PEERS, 300_000);
    await quiesce(running, base);
    await stop(tracer, 'SIGINT', 15_000);
    tracer = null;
    const calls = parseStraceSummary(fs.readFileSync(out, 'utf8'));
    const perPeer = Object.fromEntries(Object.entries(calls).map(([k, v]) => [k, v / SYSCALL_PEERS]));
    const total = Object.values(calls).reduce((a, b) => a + b, 0) / SYSCALL_PEERS;
    return {
      per_peer: perPeer, total_per_peer: total,
      relays: run.report?.messages?.sent ?? null, misrouted: misroutedOf(run.report), problems: run.problems,
    };
  } finally {
    if (tracer) await stop(tracer, 'SIGKILL');
    await stopServer(running);
  }
}

// --- statistics and output -------------------------------------------------------

function median(values) {
  const v = [...values].sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

function summary(values) {
  if (values.length === 0) return null;
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), n: values.length };
}

const fmt = (x, digits = 0) => (x === null || x === undefined ? 'n/a' : x.toFixed(digits));
function cell(s, digits) {
  if (!s) return 'failed';
  if (s.n === 1) return fmt(s.median, digits);
  return `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;
}
const ratio = (a, b) => (a && b ? `${(a.median / b.median).toFixed(2)}×` : 'n/a');

function machine() {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown';
  const nproc = Number(execFileSync('nproc').toString().trim());
  const kernel = `${os.type()} ${os.release()}`;
  return { cpu: model, nproc, kernel, node: process.version };
}

function versionOf(binary) {
  try {
    return execFileSync(binary, ['--version'], { timeout: 5_000 }).toString().trim().split('\n')[0];
  } catch {
    return null;
  }
}

function packageVersion(name, dir = reference) {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return null;
  }
}

const log = (line) => process.stderr.write(line + '\n');

// --- main ----------------------------------------------------------------------

async function main() {
  for (const [name, file] of [['sigserve', sigserve], ['sigbench', sigbench]]) {
    try {
      fs.accessSync(file, fs.constants.X_OK);
    } catch {
      log(`side_by_side: ${name} not found or not executable at ${file} (set ${name.toUpperCase()}=...)`);
      process.exit(3);
    }
  }
  const packages = servers.flatMap((s) => s.packages ?? []);
  for (const [pkg, dir] of packages) {
    if (!packageVersion(pkg, dir)) {
      log(`side_by_side: ${pkg} is not installed in ${dir}; run tests/perf/side_by_side.sh (it runs npm ci)`);
      process.exit(3);
    }
  }
  const limits = fs.readFileSync('/proc/self/limits', 'utf8');
  const openFiles = Number(/^Max open files\s+(\d+)/m.exec(limits)?.[1] ?? 0);
  if (openFiles && openFiles < IDLE_PEERS + 200) {
    log(`side_by_side: the open-files limit is ${openFiles}, too low for ${IDLE_PEERS} idle connections; run through side_by_side.sh or raise ulimit -n`);
    process.exit(3);
  }

  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigkit-side-by-side-'));
  const started = new Date();
  const host = machine();
  const loadAtStart = os.loadavg();
  const versions = {
    sigserve: versionOf(sigserve),
    sigbench: versionOf(sigbench),
    'uWebSockets.js': packageVersion('@trufflesuite/uws-js-unofficial'),
    ws: packageVersion('ws'),
    bufferutil: packageVersion('bufferutil'), // ws uses it when present
    'socket.io': packageVersion('socket.io', dialects),
  };
  log(`side_by_side: ${ROUNDS} round(s) of ${servers.map((s) => s.label).join(', ')}; logs in ${workDir}`);

  // Rounds are bounded as a whole too, on top of every step's own limit.
  const deadlineMs = ROUNDS * 15 * 60_000 + (args.syscalls ? 20 * 60_000 : 0);
  setTimeout(() => {
    log(`side_by_side: not finished after ${deadlineMs / 60_000} minutes; giving up`);
    killAll('SIGKILL');
    process.exit(3);
  }, deadlineMs).unref();

  const rows = Object.fromEntries(servers.map((s) => [s.key, { cpu: [], rss: [], failures: [] }]));
  const labelWidth = Math.max(...servers.map((s) => s.label.length));
  const roundSeconds = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const roundStart = Date.now();
    const shift = (round - 1) % servers.length;
    const order = [...servers.slice(shift), ...servers.slice(0, shift)];
    for (const server of order) {
      const row = rows[server.key];
      const tag = `r${round}.${server.key}`;
      for (const [kind, measure] of [['cpu', measureCpu], ['rss', measureRss]]) {
        let result;
        try {
          result = await measure(server, `${tag}.${kind}`);
        } catch (e) {
          if (!(e instanceof RowFailure)) throw e;
          result = { problems: [e.message] };
        }
        result.round = round;
        row[kind].push(result);
        const ok = result.problems.length === 0;
        if (!ok) row.failures.push(`round ${round} ${kind}: ${result.problems.join(', ')}`);
        const figure = kind === 'cpu'
          ? `${fmt(result.total_us, 1)} µs/peer (user ${fmt(result.user_us, 1)})`
          : `${fmt(result.kib, 2)} KiB/idle connection`;
        const misrouted = result.misrouted ? `  (${result.misrouted} misrouted)` : '';
        log(`  round ${round} ${server.label.padEnd(labelWidth)} ${kind}: ${figure}${misrouted}${ok ? '' : '  FAILED: ' + result.problems.join(', ')}`);
      }
    }
    roundSeconds.push((Date.now() - roundStart) / 1000);
    log(`  round ${round} took ${roundSeconds.at(-1).toFixed(0)} s`);
  }

  let syscalls = null;
  if (args.syscalls) {
    syscalls = {};
    for (const server of servers) {
      try {
        syscalls[server.key] = await measureSyscalls(server, `syscalls.${server.key}`);
      } catch (e) {
        if (!(e instanceof RowFailure)) throw e;
        syscalls[server.key] = { problems: [e.message] };
      }
      const s = syscalls[server.key];
      if (s.problems.length) rows[server.key].failures.push(`syscalls: ${s.problems.join(', ')}`);
      log(`  syscalls ${server.label.padEnd(labelWidth)} ${fmt(s.total_per_peer, 1)} per peer${s.problems.length ? '  FAILED: ' + s.problems.join(', ') : ''}`);
    }
  }

  // Figures from the rows that passed every check.
  const passed = (list) => list.filter((r) => r.problems.length === 0);
  const stats = {};
  for (const server of servers) {
    const row = rows[server.key];
    stats[server.key] = {
      cpu_total_us: summary(passed(row.cpu).map((r) => r.total_us)),
      cpu_user_us: summary(passed(row.cpu).map((r) => r.user_us)),
      rss_kib: summary(passed(row.rss).map((r) => r.kib)),
    };
  }
  const base = stats[BASELINE];

  // The note beside a broadcasting server's row: how many relays reached a
  // socket outside their room, per run (the median when there were several).
  const RUN_NAMES = { cpu: 'CPU storm', rss: 'idle fill', syscalls: 'syscall run' };
  const notes = {};
  for (const server of servers) {
    if (!misroutingExpected(server)) continue;
    const runs = { cpu: rows[server.key].cpu, rss: rows[server.key].rss, syscalls: syscalls?.[server.key] ? [syscalls[server.key]] : [] };
    const parts = [];
    for (const [kind, list] of Object.entries(runs)) {
      const counted = list.filter((r) => r.misrouted > 0);
      if (!counted.length) continue;
      const n = median(counted.map((r) => r.misrouted));
      const perRelay = median(counted.filter((r) => r.relays > 0).map((r) => r.misrouted / r.relays));
      parts.push(`${Math.round(n)} misrouted (${RUN_NAMES[kind]}${counted.length > 1 ? `, median of ${counted.length}` : ''}` +
        `${perRelay === null ? '' : `, ${perRelay.toFixed(1)} per relay sent`})`);
    }
    if (parts.length) notes[server.key] = `broadcasts to every socket: ${parts.join(', ')}`;
  }

  const vs = baselineServer.short;
  const out = [];
  out.push(`### sigserve side by side (${ROUNDS} round${ROUNDS > 1 ? 's' : ''}: median (min–max))`);
  out.push('');
  out.push(`| server | CPU per peer, µs | of which user, µs | RSS per idle connection, KiB | CPU vs ${vs} | user vs ${vs} | RSS vs ${vs} | checks |`);
  out.push('|---|---:|---:|---:|---:|---:|---:|---|');
  for (const server of servers) {
    const s = stats[server.key];
    const row = rows[server.key];
    const runs = row.cpu.length + row.rss.length;
    const checks = (row.failures.length ? `FAILED: ${row.failures.join('; ')}` : `ok (${runs} runs)`) +
      (notes[server.key] ? `; note: ${notes[server.key]}` : '');
    out.push(`| ${server.label} | ${cell(s.cpu_total_us, 1)} | ${cell(s.cpu_user_us, 1)} | ${cell(s.rss_kib, 2)} | ` +
      `${ratio(s.cpu_total_us, base?.cpu_total_us)} | ${ratio(s.cpu_user_us, base?.cpu_user_us)} | ${ratio(s.rss_kib, base?.rss_kib)} | ${checks} |`);
  }
  out.push('');
  out.push(`Machine: ${host.cpu}, ${host.nproc} cores (nproc), ${host.kernel}, Node ${host.node}; ` +
    `${started.toISOString().replace(/\.\d+Z$/, 'Z')}; load average at start ${loadAtStart.map((x) => x.toFixed(2)).join(' ')}, ` +
    `at end ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}.`);
  const shown = (file) => (path.relative(process.cwd(), file).startsWith('..') ? file : path.relative(process.cwd(), file));
  out.push(`Versions: ${versions.sigserve ?? 'sigserve ?'} (${shown(sigserve)}), ` +
    `${versions.sigbench ?? 'sigbench ?'}, uWebSockets.js ${versions['uWebSockets.js']} (@trufflesuite/uws-js-unofficial), ` +
    `ws ${versions.ws}${versions.bufferutil ? ` with bufferutil ${versions.bufferutil}` : ''}` +
    `${packages.some(([pkg]) => pkg === 'socket.io') ? `, socket.io ${versions['socket.io']} (tests/dialects)` : ''}.`);
  out.push(`Method: CPU = server utime+stime (/proc/PID/stat) over a sigbench closed-model storm of ${CPU_PEERS} peers ` +
    `(${CPU_PEERS / 2} pairs, ${CONCURRENCY} in flight: connect, join, offer/answer relay, close), divided by ${CPU_PEERS}, ` +
    `after ${WARMUP_PEERS} warm-up peers; RSS = VmRSS growth holding ${IDLE_PEERS} idle connections in rooms of 2 ` +
    `(after offer/answer with ${SDP_BYTES}-byte SDPs; fresh server, ${RSS_WARMUP ? `${RSS_WARMUP} warm-up peers` : 'no warm-up'}; filled at ${IDLE_RATE}/s, read ${SETTLE_MS / 1000} s after the last one), ` +
    `divided by ${IDLE_PEERS}. sigbench runs on the same ${host.nproc} cores over loopback. One round took ` +
    `${Math.min(...roundSeconds).toFixed(0)}–${Math.max(...roundSeconds).toFixed(0)} s. Ratios are against ${baselineServer.label}.`);
  out.push(`sigbench dialects: ${servers.map((s) => `${s.short} ${s.dialect} on ${s.urlPath}`).join('; ')}.` +
    (servers.some(misroutingExpected)
      ? ' The codelab server relays every message to every socket it holds, not only to its room: its CPU figure ' +
        `includes that work, which grows with the sessions in flight (${CONCURRENCY} here), and its misrouted relays ` +
        'are noted beside its row instead of failing it.'
      : ''));

  if (syscalls) {
    const keys = servers.map((s) => s.key).filter((k) => syscalls[k]?.per_peer);
    const names = new Set();
    for (const k of keys) for (const [n, v] of Object.entries(syscalls[k].per_peer)) if (v >= 0.05) names.add(n);
    const most = (name) => Math.max(...keys.map((k) => syscalls[k].per_peer[name] ?? 0));
    const sorted = [...names].sort((a, b) => most(b) - most(a));
    out.push('');
    out.push(`### System calls per peer (strace -c -f, ${SYSCALL_PEERS} peers, same session shape)`);
    out.push('');
    out.push(`| system call | ${keys.map((k) => servers.find((s) => s.key === k).label).join(' | ')} |`);
    out.push(`|---|${keys.map(() => '---:').join('|')}|`);
    for (const n of sorted) out.push(`| ${n} | ${keys.map((k) => fmt(syscalls[k].per_peer[n] ?? 0, 2)).join(' | ')} |`);
    const other = (k) => Object.entries(syscalls[k].per_peer).filter(([n]) => !names.has(n)).reduce((a, [, v]) => a + v, 0);
    out.push(`| (others) | ${keys.map((k) => fmt(other(k), 2)).join(' | ')} |`);
    out.push(`| **total** | ${keys.map((k) => `**${fmt(syscalls[k].total_per_peer, 1)}**`).join(' | ')} |`);
  }
  process.stdout.write(out.join('\n') + '\n');

  const failed = servers.some((s) => rows[s.key].failures.length);
  if (args.json) {
    const doc = {
      date: started.toISOString(),
      machine: { ...host, load_average_start: loadAtStart, load_average_end: os.loadavg() },
      versions,
      settings: {
        rounds: ROUNDS, cpu_peers: CPU_PEERS, idle_peers: IDLE_PEERS, warmup_peers: WARMUP_PEERS,
        rss_warmup_peers: RSS_WARMUP, sdp_bytes: SDP_BYTES, concurrency: CONCURRENCY, idle_rate: IDLE_RATE, settle_ms: SETTLE_MS, clk_tck: CLK_TCK,
        syscall_peers: args.syscalls ? SYSCALL_PEERS : null, baseline: BASELINE,
      },
      round_seconds: roundSeconds,
      servers: servers.map((s) => ({
        key: s.key,
        label: s.label,
        command: [s.cmd, ...s.args],
        dialect: s.dialect,
        url_path: s.urlPath,
        broadcasts: misroutingExpected(s),
        ...stats[s.key],
        ratios_vs_baseline: {
          cpu_total: base?.cpu_total_us && stats[s.key].cpu_total_us ? stats[s.key].cpu_total_us.median / base.cpu_total_us.median : null,
          cpu_user: base?.cpu_user_us && stats[s.key].cpu_user_us ? stats[s.key].cpu_user_us.median / base.cpu_user_us.median : null,
          rss: base?.rss_kib && stats[s.key].rss_kib ? stats[s.key].rss_kib.median / base.rss_kib.median : null,
        },
        runs: { cpu: rows[s.key].cpu, rss: rows[s.key].rss },
        syscalls: syscalls?.[s.key] ?? null,
        failures: rows[s.key].failures,
        note: notes[s.key] ?? null,
        ok: rows[s.key].failures.length === 0,
      })),
    };
    fs.writeFileSync(args.json, JSON.stringify(doc, null, 2) + '\n');
  }

  if (failed || args['keep-logs']) log(`side_by_side: logs and sigbench reports kept in ${workDir}`);
  else fs.rmSync(workDir, { recursive: true, force: true });
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  log(`side_by_side: ${e.stack ?? e}`);
  process.exit(3);
});
