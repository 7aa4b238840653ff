// Command line of the reference servers: the subset of sigserve's options
// that protocol v1 needs, with the same names, defaults and duration syntax.

import { parseArgs } from 'node:util';
import { DEFAULTS } from './protocol.mjs';

const USAGE = `Usage: node NAME [--listen ADDR] [--port N] [--room-capacity N]
  [--max-message-bytes N] [--max-send-queue-bytes N] [--max-connections N]
  [--rate-limit N] [--rate-burst N] [--ping-interval D] [--ping-timeout D]
Protocol v1 signaling server (reference implementation for sigkit's benchmarks).
Prints "listening on PORT" on stdout once it accepts connections.
  --listen ADDR              address to listen on (default 127.0.0.1)
  --port N                   TCP port; 0 picks a free one (default 8080)
  --room-capacity N          members per room; 0 = unlimited (default 2)
  --max-message-bytes N      larger messages close the connection with 1009 (default 65536)
  --max-send-queue-bytes N   unsent bytes per connection before closing it with 1008 (default 1048576)
  --max-connections N        open WebSockets; further upgrades get HTTP 503 (default 10000)
  --rate-limit N             messages per second per connection; 0 = off (default 100)
  --rate-burst N             messages a connection may send at once (default 200)
  --ping-interval D          WebSocket ping cadence; 0 disables the heartbeat (default 25s)
  --ping-timeout D           a connection silent this long is dropped (default 60s)
Durations take ms, s, m or h; a bare number is seconds.`;

class UsageError extends Error {}

function integer(name, text, min) {
  if (!/^\d+$/.test(text) || Number(text) < min) throw new UsageError(`--${name} must be an integer >= ${min}, got "${text}"`);
  return Number(text);
}

function number(name, text) {
  if (!/^\d+(\.\d+)?$/.test(text)) throw new UsageError(`--${name} must be a non-negative number, got "${text}"`);
  return Number(text);
}

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, '': 1000 };

function duration(name, text) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text);
  if (!m) throw new UsageError(`--${name} must be a duration such as 500ms, 25s or 1m, got "${text}"`);
  return Math.round(Number(m[1]) * UNIT_MS[m[2] ?? '']);
}

// Returns { listen, port, hub: options for SignalingHub }, or prints usage
// and exits (0 for --help, 2 with one line on stderr for a mistake).
export function parseServerOptions(argv, programName, serverName) {
  const spec = {
    listen: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '8080' },
    'room-capacity': { type: 'string' },
    'max-message-bytes': { type: 'string' },
    'max-send-queue-bytes': { type: 'string' },
    'max-connections': { type: 'string' },
    'rate-limit': { type: 'string' },
    'rate-burst': { type: 'string' },
    'ping-interval': { type: 'string' },
    'ping-timeout': { type: 'string' },
    help: { type: 'boolean' },
  };
  try {
    const { values: v } = parseArgs({ args: argv, options: spec, strict: true, allowPositionals: false });
    if (v.help) {
      process.stdout.write(USAGE.replace('NAME', programName) + '\n');
      process.exit(0);
    }
    const port = integer('port', v.port, 0);
    if (port > 65535) throw new UsageError(`--port must be at most 65535, got "${v.port}"`);
    const hub = { serverName };
    if (v['room-capacity'] !== undefined) hub.roomCapacity = integer('room-capacity', v['room-capacity'], 0);
    if (v['max-message-bytes'] !== undefined) hub.maxMessageBytes = integer('max-message-bytes', v['max-message-bytes'], 1);
    if (v['max-send-queue-bytes'] !== undefined) hub.maxSendQueueBytes = integer('max-send-queue-bytes', v['max-send-queue-bytes'], 1);
    if (v['max-connections'] !== undefined) hub.maxConnections = integer('max-connections', v['max-connections'], 1);
    if (v['rate-limit'] !== undefined) hub.rateLimit = number('rate-limit', v['rate-limit']);
    if (v['rate-burst'] !== undefined) hub.rateBurst = number('rate-burst', v['rate-burst']);
    if (v['ping-interval'] !== undefined) hub.pingIntervalMs = duration('ping-interval', v['ping-interval']);
    if (v['ping-timeout'] !== undefined) hub.pingTimeoutMs = duration('ping-timeout', v['ping-timeout']);
    return { listen: v.listen, port, hub: { ...DEFAULTS, ...hub } };
  } catch (e) {
    const message = e instanceof UsageError || e.code?.startsWith?.('ERR_PARSE_ARGS') ? e.message : String(e);
    process.stderr.write(`${programName}: ${message} (see --help)\n`);
    process.exit(2);
  }
}
