// Protocol v1 server logic (docs/protocol.md), shared by the two reference
// servers that tests/perf/side_by_side.sh measures sigserve against.
//
// The hub knows nothing about sockets: each server hands it an opaque socket
// object and a transport with four functions (send, close, terminate, ping),
// and feeds it text frames, binary frames and closes. Decisions follow
// sigserve's room registry (lib/src/rooms) and decoder (lib/src/proto) rule
// for rule, error texts included, so the comparison measures transports and
// runtimes, not two different protocols.
//
// Written the way a careful Node developer would write it for speed: one
// JSON.parse per frame, replies built as strings, relays forwarded as the
// sender's text with `from` spliced in front, no per-connection timers (one
// sweep drives every heartbeat).

import { randomFillSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';

export const PROTOCOL_VERSION = 1;

export const DEFAULTS = Object.freeze({
  serverName: 'reference/0.1.0',
  roomCapacity: 2,           // members per room; 0 = unlimited
  rateLimit: 100,            // messages per second per connection; 0 = off
  rateBurst: 200,            // messages a connection may send at once
  pingIntervalMs: 25_000,    // WebSocket ping cadence; 0 = no heartbeat
  pingTimeoutMs: 60_000,     // silent this long = dropped (others see peer-left)
  maxConnections: 10_000,    // open WebSockets; further upgrades get HTTP 503
  maxMessageBytes: 65_536,   // enforced by the transport: close 1009
  maxSendQueueBytes: 1_048_576, // enforced by the transport: close 1008
});

// RFC 6455 §7.4.1 close codes the hub asks for.
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_UNSUPPORTED_DATA = 1003;
export const CLOSE_POLICY = 1008;
export const CLOSE_MESSAGE_TOO_BIG = 1009;

const ROOM_NAME = /^[A-Za-z0-9_.~-]{1,64}$/;
const MAX_RID_CHARS = 64;

// --- peer ids: 12 URL-safe characters from 9 random bytes (72 bits) -------

const ID_BYTES = 9;
const idPool = Buffer.allocUnsafe(ID_BYTES * 512);
let idOffset = idPool.length;

function randomPeerId() {
  if (idOffset === idPool.length) {
    randomFillSync(idPool);
    idOffset = 0;
  }
  const id = idPool.toString('base64url', idOffset, idOffset + ID_BYTES);
  idOffset += ID_BYTES;
  return id;
}

// --- one connection --------------------------------------------------------

// Every field is set in the constructor so all peers share one hidden class.
export class Peer {
  constructor() {
    this.id = '';
    this.socket = null;
    this.room = null;      // a Room while joined
    this.tokens = 0;       // rate-limit bucket
    this.refilled = 0;     // performance.now() of the last refill
    this.heard = 0;        // performance.now() of the last frame or pong
    this.pinged = 0;       // performance.now() of the last ping sent
    this.closing = false;  // the hub has let go of it; send nothing more
  }
}

class Room {
  constructor(name) {
    this.name = name;
    this.members = []; // oldest first
  }
}

// Appends `,"rid":<rid>` to an encoded object.
function withRid(object, ridJson) {
  return ridJson === '' ? object + '}' : object + ',"rid":' + ridJson + '}';
}

function errorFrame(code, message, ridJson) {
  return withRid('{"type":"error","code":"' + code + '","message":' + JSON.stringify(message), ridJson);
}

// --- the hub ----------------------------------------------------------------

export class SignalingHub {
  // transport: { send(socket, text) -> false when the send queue overflowed,
  //              close(socket, code, reason), terminate(socket), ping(socket) }
  constructor(transport, options = {}) {
    this.options = { ...DEFAULTS, ...options };
    this.transport = transport;
    this.peers = new Map(); // id -> Peer, open connections
    this.rooms = new Map(); // name -> Room
    this.stopping = false;
    this.sweepTimer = null;
    const o = this.options;
    this.welcomeTail =
      '","protocol":' + PROTOCOL_VERSION + ',"server":' + JSON.stringify(o.serverName) +
      ',"heartbeat":{"interval_ms":' + o.pingIntervalMs + ',"timeout_ms":' + o.pingTimeoutMs + '}}';
    this.rateLimitedText = 'more than ' + Math.trunc(o.rateLimit) + ' messages per second; this one was dropped';
  }

  // Whether a new upgrade must be refused (HTTP 503).
  isFull() {
    return this.stopping || this.peers.size >= this.options.maxConnections;
  }

  // A peer record for a connection about to be opened (uWebSockets.js keeps
  // it as the socket's user data, so no second object is needed).
  newPeer() {
    return new Peer();
  }

  // The WebSocket is open: register it and say welcome.
  open(peer, socket) {
    let id;
    do id = randomPeerId();
    while (this.peers.has(id));
    const now = performance.now();
    peer.id = id;
    peer.socket = socket;
    peer.tokens = Math.max(this.options.rateBurst, 1);
    peer.refilled = peer.heard = peer.pinged = now;
    this.peers.set(id, peer);
    this.#send(peer, '{"type":"welcome","peer":"' + id + this.welcomeTail);
    return peer;
  }

  // One text frame (already size-checked and UTF-8-validated by the transport).
  message(peer, text) {
    if (peer.closing) return;
    const now = performance.now();
    peer.heard = now;
    // As in sigserve, every frame takes a token, and a frame that does not
    // decode is answered with its decode error even when over the limit.
    const allowed = this.#takeToken(peer, now);

    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      return this.#refuse(peer, 'bad-json', 'the frame is not valid JSON', '');
    }
    if (msg === null || typeof msg !== 'object' || Array.isArray(msg))
      return this.#refuse(peer, 'bad-json', 'the frame is not a JSON object', '');

    let ridJson = '';
    const rid = msg.rid;
    if (rid !== undefined) {
      if (typeof rid === 'string' ? rid.length <= MAX_RID_CHARS : Number.isInteger(rid)) ridJson = JSON.stringify(rid);
      else return this.#refuse(peer, 'bad-message', 'rid must be a string or integer of at most 64 characters', '');
    }

    const type = msg.type;
    if (type === undefined) return this.#refuse(peer, 'bad-message', 'type is missing', ridJson);
    if (typeof type !== 'string') return this.#refuse(peer, 'bad-message', 'type must be a string', ridJson);

    switch (type) {
      case 'offer':
      case 'answer':
      case 'candidate':
      case 'bye':
      case 'message': {
        const to = msg.to;
        if (to !== undefined && typeof to !== 'string')
          return this.#refuse(peer, 'bad-message', 'to must be a string', ridJson);
        if (!allowed) return this.#refuse(peer, 'rate-limited', this.rateLimitedText, ridJson);
        return this.#relay(peer, type, msg, text, to, ridJson);
      }
      case 'join': {
        const room = msg.room;
        if (room === undefined) return this.#refuse(peer, 'bad-message', 'join needs a room', ridJson);
        if (typeof room !== 'string') return this.#refuse(peer, 'bad-message', 'room must be a string', ridJson);
        if (!ROOM_NAME.test(room))
          return this.#refuse(peer, 'invalid-room',
            'room ' + JSON.stringify(room) + ' must be 1 to 64 characters from A-Z a-z 0-9 _ . ~ -', ridJson);
        if (!allowed) return this.#refuse(peer, 'rate-limited', this.rateLimitedText, ridJson);
        return this.#join(peer, room, ridJson);
      }
      case 'leave':
        if (!allowed) return this.#refuse(peer, 'rate-limited', this.rateLimitedText, ridJson);
        return this.#leave(peer, ridJson);
      case 'ping':
        if (!allowed) return this.#refuse(peer, 'rate-limited', this.rateLimitedText, ridJson);
        return this.#send(peer, withRid('{"type":"pong"', ridJson));
      default:
        return this.#refuse(peer, 'unknown-type', 'unknown message type ' + JSON.stringify(type), ridJson);
    }
  }

  // A binary frame: protocol v1 is text only.
  binary(peer) {
    this.#kick(peer, CLOSE_UNSUPPORTED_DATA, 'binary frames are not accepted');
  }

  // A message larger than maxMessageBytes, for transports that do not close
  // with 1009 themselves.
  tooBig(peer) {
    this.#kick(peer, CLOSE_MESSAGE_TOO_BIG, 'message too big');
  }

  // A pong (or any control frame) counts as hearing from the peer.
  pong(peer) {
    peer.heard = performance.now();
  }

  // The transport closed the connection (any reason).
  close(peer) {
    this.#depart(peer);
    peer.socket = null;
  }

  // Starts the heartbeat: one sweep every fifth of the interval pings peers
  // due a ping and drops those silent for pingTimeoutMs.
  startHeartbeat() {
    const { pingIntervalMs } = this.options;
    if (pingIntervalMs <= 0 || this.sweepTimer) return;
    this.sweepTimer = setInterval(() => this.#sweep(), Math.max(100, Math.floor(pingIntervalMs / 5)));
  }

  // Closes every connection with 1001 (server going away).
  shutdown() {
    this.stopping = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    for (const peer of [...this.peers.values()]) this.#kick(peer, CLOSE_GOING_AWAY, 'server shutting down');
  }

  // --- decisions -----------------------------------------------------------

  #join(peer, name, ridJson) {
    if (peer.room !== null)
      return this.#refuse(peer, 'already-joined', 'already in room ' + peer.room.name + '; leave it first', ridJson);
    let room = this.rooms.get(name);
    const capacity = this.options.roomCapacity;
    if (room !== undefined && capacity !== 0 && room.members.length >= capacity)
      return this.#refuse(peer, 'room-full',
        'room ' + name + ' is full (' + room.members.length + ' of ' + capacity + ')', ridJson);
    if (room === undefined) {
      room = new Room(name);
      this.rooms.set(name, room);
    }
    const members = room.members;
    let list = '';
    for (let i = 0; i < members.length; i++) list += (i === 0 ? '"' : ',"') + members[i].id + '"';
    // Ordering guarantee: the joiner's `joined` is sent before anything from
    // the others, and the others get `peer-joined` before anything from the
    // joiner, because this whole decision runs before the next frame.
    this.#send(peer, withRid('{"type":"joined","room":"' + name + '","peer":"' + peer.id + '","peers":[' + list + ']', ridJson));
    if (members.length !== 0) {
      const notice = '{"type":"peer-joined","room":"' + name + '","peer":"' + peer.id + '"}';
      for (let i = 0; i < members.length; i++) this.#send(members[i], notice);
    }
    members.push(peer);
    peer.room = room;
  }

  #leave(peer, ridJson) {
    const room = peer.room;
    if (room === null) return this.#refuse(peer, 'not-in-room', 'not in a room', ridJson);
    this.#removeFromRoom(peer);
    this.#send(peer, withRid('{"type":"left","room":"' + room.name + '"', ridJson));
    this.#announceLeft(room, peer);
  }

  #relay(peer, type, msg, text, to, ridJson) {
    const room = peer.room;
    if (room === null) return this.#refuse(peer, 'not-in-room', type + ' needs a room; join one first', ridJson);
    const members = room.members;
    let target = null;
    if (to !== undefined) {
      // Isolation: `to` must name a member of the sender's own room.
      for (let i = 0; i < members.length; i++) {
        if (members[i].id === to) {
          target = members[i];
          break;
        }
      }
      if (target === null) return this.#refuse(peer, 'unknown-peer', 'no peer ' + to + ' in room ' + room.name, ridJson);
    }
    // The receiver gets the sender's object unchanged but for `from`. The
    // common case keeps the sender's bytes; a forged `from` forces a
    // re-encode without it (members keep JavaScript's property order).
    let body;
    if (msg.from === undefined) {
      body = text.slice(text.indexOf('{') + 1);
    } else {
      delete msg.from;
      body = JSON.stringify(msg).slice(1);
    }
    const relayed = '{"from":"' + peer.id + '",' + body;
    if (target !== null) return this.#send(target, relayed);
    for (let i = 0; i < members.length; i++) if (members[i] !== peer) this.#send(members[i], relayed);
  }

  // --- plumbing --------------------------------------------------------------

  #takeToken(peer, now) {
    const { rateLimit, rateBurst } = this.options;
    if (rateLimit <= 0) return true;
    const burst = Math.max(rateBurst, 1);
    const tokens = Math.min(burst, peer.tokens + ((now - peer.refilled) / 1000) * rateLimit);
    peer.refilled = now;
    if (tokens < 1) {
      peer.tokens = tokens;
      return false;
    }
    peer.tokens = tokens - 1;
    return true;
  }

  #refuse(peer, code, message, ridJson) {
    this.#send(peer, errorFrame(code, message, ridJson));
  }

  #send(peer, text) {
    if (peer.closing) return;
    // A receiver further behind than the send queue allows is closed (1008),
    // so nothing is lost silently: the others see peer-left.
    if (!this.transport.send(peer.socket, text)) this.#kick(peer, CLOSE_POLICY, 'send queue overflow');
  }

  // Leaves the room (others see peer-left), then has the transport close.
  #kick(peer, code, reason) {
    if (peer.closing) return;
    this.#depart(peer);
    this.transport.close(peer.socket, code, reason);
  }

  #depart(peer) {
    if (peer.closing) return;
    peer.closing = true;
    if (this.peers.get(peer.id) === peer) this.peers.delete(peer.id);
    const room = peer.room;
    if (room !== null) {
      this.#removeFromRoom(peer);
      this.#announceLeft(room, peer);
    }
  }

  #removeFromRoom(peer) {
    const room = peer.room;
    const members = room.members;
    const at = members.indexOf(peer);
    if (at !== -1) members.splice(at, 1);
    peer.room = null;
    if (members.length === 0) this.rooms.delete(room.name); // a room with no members ceases to exist
  }

  #announceLeft(room, peer) {
    const members = room.members;
    if (members.length === 0) return;
    const notice = '{"type":"peer-left","room":"' + room.name + '","peer":"' + peer.id + '"}';
    for (let i = 0; i < members.length; i++) this.#send(members[i], notice);
  }

  #sweep() {
    const now = performance.now();
    const { pingIntervalMs, pingTimeoutMs } = this.options;
    for (const peer of this.peers.values()) {
      if (now - peer.heard >= pingTimeoutMs) {
        // A peer that does not answer pings will not answer a close frame.
        this.#depart(peer);
        this.transport.terminate(peer.socket);
      } else if (now - peer.pinged >= pingIntervalMs) {
        peer.pinged = now;
        this.transport.ping(peer.socket);
      }
    }
  }
}
