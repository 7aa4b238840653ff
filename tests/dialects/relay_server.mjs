// A home-grown WebSocket relay keyed by client id, the shape of MDN's
// "Signaling and video calling" example server (chatserver.js), simplified
// from a user list to rooms. sigbench's scenarios/dialects/ws-relay.json
// speaks it. One JSON object per text frame:
//
//   server -> client on connect   {"type":"id","id":"<id>"}
//   {"type":"join","room":R}   -> {"type":"room","room":R,"members":[ids already there]}
//                                 and each of those gets {"type":"member","id":<new id>};
//                                 a room at --capacity: {"type":"room-full","room":R}
//   {"type":"video-offer"|"video-answer"|"new-ice-candidate"|"hang-up","target":<id>,...}
//                              -> forwarded to the target only, with "name": <sender id>
//                                 (set by the server: a client cannot speak for another)
//   {"type":"leave"}, or the socket closes
//                              -> the room's other members get {"type":"member-left","id":...}
//   anything else              -> {"type":"error","reason":"<code>"}
//
// Unlike MDN's server, ids are strings, a target must be in the sender's
// room, and a relay to anyone else is an error rather than silently dropped.
//
// Usage: node relay_server.mjs [--port N] [--host ADDR] [--capacity N]
//   --port 0 (the default) picks a free port; --host defaults to 127.0.0.1;
//   --capacity is the members a room holds (default 2; 0 = unlimited).
// Prints exactly one line to stdout once listening: `listening <port>`.
// Any path upgrades: ws://HOST:PORT/. SIGTERM or SIGINT: exit 0.
import { WebSocket, WebSocketServer } from 'ws';

const relay_types = new Set(['video-offer', 'video-answer', 'new-ice-candidate', 'hang-up']);

function parse_flags(argv) {
  const flags = { port: 0, host: '127.0.0.1', capacity: 2 };
  const numeric = { '--port': [0, 65535], '--capacity': [0, 1000000] };
  for (let i = 0; i < argv.length; ++i) {
    let [name, value] = argv[i].split(/=(.*)/s, 2);
    if (!['--port', '--host', '--capacity'].includes(name)) usage(`unknown option ${name}`);
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) usage(`${name} needs a value`);
    }
    if (name in numeric) {
      const [low, high] = numeric[name];
      if (!/^\d{1,7}$/.test(value) || Number(value) < low || Number(value) > high)
        usage(`${name} must be ${low} to ${high}, got '${value}'`);
      flags[name.slice(2)] = Number(value);
    } else {
      flags.host = value;
    }
  }
  return flags;
}

function usage(problem) {
  process.stderr.write(
    `relay_server: ${problem}\nusage: node relay_server.mjs [--port N] [--host ADDR] [--capacity N]\n`);
  process.exit(2);
}

const flags = parse_flags(process.argv.slice(2));

const clients = new Map();  // id -> {ws, room}
const rooms = new Map();    // room -> Set of ids, in order of arrival
let next_id = 1;

function send(id, message) {
  const client = clients.get(id);
  if (client && client.ws.readyState === WebSocket.OPEN) client.ws.send(JSON.stringify(message));
}

function leave_room(id) {
  const client = clients.get(id);
  if (!client || client.room === null) return;
  const members = rooms.get(client.room);
  members.delete(id);
  if (members.size === 0) rooms.delete(client.room);
  for (const other of members) send(other, { type: 'member-left', id });
  client.room = null;
}

function on_message(id, text) {
  let message;
  try {
    message = JSON.parse(text);
  } catch {
    return send(id, { type: 'error', reason: 'invalid-json' });
  }
  if (message === null || typeof message !== 'object' || Array.isArray(message) || typeof message.type !== 'string')
    return send(id, { type: 'error', reason: 'invalid-message' });
  const client = clients.get(id);

  if (message.type === 'join') {
    const room = message.room;
    if (typeof room !== 'string' || room.length === 0 || room.length > 256)
      return send(id, { type: 'error', reason: 'invalid-room' });
    if (client.room !== null) return send(id, { type: 'error', reason: 'already-joined' });
    const members = rooms.get(room) ?? new Set();
    if (flags.capacity > 0 && members.size >= flags.capacity) return send(id, { type: 'room-full', room });
    const already = [...members];
    for (const other of already) send(other, { type: 'member', id });
    members.add(id);
    rooms.set(room, members);
    client.room = room;
    return send(id, { type: 'room', room, members: already });
  }

  if (message.type === 'leave') return leave_room(id);

  if (relay_types.has(message.type)) {
    if (client.room === null) return send(id, { type: 'error', reason: 'not-in-room' });
    if (typeof message.target !== 'string' || message.target.length === 0)
      return send(id, { type: 'error', reason: 'invalid-target' });
    if (message.target === id || !rooms.get(client.room).has(message.target))
      return send(id, { type: 'error', reason: 'unknown-target' });
    return send(message.target, { ...message, name: id });
  }

  return send(id, { type: 'error', reason: 'unknown-type' });
}

const server = new WebSocketServer({ host: flags.host, port: flags.port, maxPayload: 1 << 20 });

server.on('connection', (ws) => {
  const id = String(next_id++);
  clients.set(id, { ws, room: null });
  ws.on('message', (data, is_binary) => {
    if (is_binary) return send(id, { type: 'error', reason: 'binary-frame' });
    on_message(id, data.toString('utf8'));
  });
  ws.on('close', () => {
    leave_room(id);
    clients.delete(id);
  });
  ws.on('error', () => {});  // a 'close' follows
  send(id, { type: 'id', id });
});

server.on('error', (err) => {
  process.stderr.write(`relay_server: cannot listen on ${flags.host}:${flags.port}: ${err.message}\n`);
  process.exit(1);
});

server.on('listening', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});

function stop() {
  // 1001 going away (RFC 6455 §7.4.1); a client that never answers the close
  // does not hold the exit up past the timer.
  for (const { ws } of clients.values()) ws.close(1001, 'server shutting down');
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
