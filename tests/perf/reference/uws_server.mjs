// Protocol v1 on uWebSockets.js (@trufflesuite/uws-js-unofficial, the build
// whose binaries cover Node 18 and 20): the fastest WebSocket stack a Node
// developer would pick, as a reference for sigserve's figures.
//
//   node uws_server.mjs --port 0     -> prints "listening on PORT"

import { createRequire } from 'node:module';
import { SignalingHub } from './protocol.mjs';
import { parseServerOptions } from './options.mjs';

const require = createRequire(import.meta.url);
const PACKAGE = '@trufflesuite/uws-js-unofficial';
const version = require(`${PACKAGE}/package.json`).version;

// The package silently falls back to a pure-JS implementation when its
// native binary does not load; measuring that would be measuring ws again.
delete process.env.UWS_USE_FALLBACK;
const uWS = require(PACKAGE);
const nativePath = require.resolve(
  `${PACKAGE}/binaries/uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
if (require(nativePath) !== uWS) {
  process.stderr.write(`uws_server: the native uWebSockets.js binary did not load (${nativePath})\n`);
  process.exit(1);
}

const { listen, port, hub: options } = parseServerOptions(
  process.argv.slice(2), 'uws_server.mjs', `uWebSockets.js/${version}`);

const hub = new SignalingHub({
  // send() returns 2 when uWS dropped the message: the receiver is more than
  // maxBackpressure behind, so it is closed with 1008 rather than lose it.
  send: (ws, text) => ws.send(text, false, false) !== 2,
  close: (ws, code, reason) => ws.end(code, reason),
  terminate: (ws) => ws.close(),
  ping: (ws) => ws.ping(),
}, options);

const maxMessageBytes = options.maxMessageBytes;
const uwsPayloadCap = Math.min(4 * maxMessageBytes, 2 ** 31 - 1);

const app = uWS.App();
app.ws('/ws', {
  compression: uWS.DISABLED,
  // Past maxPayloadLength uWS drops the TCP connection without a close
  // frame, so it gets headroom and the 1009 close is done here; only a frame
  // beyond four times the limit meets uWS's own abrupt close.
  maxPayloadLength: uwsPayloadCap,
  maxBackpressure: options.maxSendQueueBytes,
  closeOnBackpressureLimit: false,
  idleTimeout: 0,                 // the hub's heartbeat decides liveness
  sendPingsAutomatically: false,
  upgrade: (res, req, context) => {
    if (hub.isFull()) {
      res.writeStatus('503 Service Unavailable').writeHeader('Retry-After', '5')
        .end(hub.stopping ? 'shutting down\n' : 'too many connections\n', true);
      return;
    }
    // The peer record itself is the socket's user data.
    res.upgrade(hub.newPeer(), req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'),
      req.getHeader('sec-websocket-extensions'), context);
  },
  open: (ws) => hub.open(ws.getUserData(), ws),
  message: (ws, data, isBinary) => {
    const peer = ws.getUserData();
    if (isBinary) hub.binary(peer);
    else if (data.byteLength > maxMessageBytes) hub.tooBig(peer);
    else hub.message(peer, Buffer.from(data).toString('utf8'));
  },
  pong: (ws) => hub.pong(ws.getUserData()),
  close: (ws) => hub.close(ws.getUserData()),
});
app.any('/*', (res, req) => {
  const path = req.getUrl();
  if (path === '/ws') res.writeStatus('426 Upgrade Required').end('this is the WebSocket endpoint\n');
  else res.writeStatus('404 Not Found').end('not found\n');
});

let listenSocket = null;
app.listen(listen, port, (token) => {
  if (!token) {
    process.stderr.write(`uws_server: cannot listen on ${listen} port ${port}\n`);
    process.exit(1);
  }
  listenSocket = token;
  hub.startHeartbeat();
  process.stdout.write(`listening on ${uWS.us_socket_local_port(token)}\n`);
});

function stop() {
  if (listenSocket) uWS.us_listen_socket_close(listenSocket);
  listenSocket = null;
  const open = hub.peers.size;
  hub.shutdown();
  // Give the 1001 close frames a moment to leave.
  setTimeout(() => process.exit(0), open ? 300 : 0);
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
