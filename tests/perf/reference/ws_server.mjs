// Protocol v1 on Node's `ws` package, the WebSocket library most Node
// signaling servers are built on, as a reference for sigserve's figures.
//
//   node ws_server.mjs --port 0      -> prints "listening on PORT"

import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { WebSocketServer } from 'ws';
import { SignalingHub } from './protocol.mjs';
import { parseServerOptions } from './options.mjs';

const require = createRequire(import.meta.url);
const version = require('ws/package.json').version;

const { listen, port, hub: options } = parseServerOptions(
  process.argv.slice(2), 'ws_server.mjs', `ws/${version}`);

const maxQueue = options.maxSendQueueBytes;
const hub = new SignalingHub({
  // ws buffers without bound; a receiver further behind than the limit is
  // closed with 1008 rather than let memory grow.
  send: (ws, text) => {
    ws.send(text);
    return ws.bufferedAmount <= maxQueue;
  },
  close: (ws, code, reason) => ws.close(code, reason),
  terminate: (ws) => ws.terminate(),
  ping: (ws) => ws.ping(),
}, options);

// One set of listeners shared by every socket; the peer rides on the socket.
const PEER = Symbol('peer');
function onMessage(data, isBinary) {
  if (isBinary) hub.binary(this[PEER]);
  else hub.message(this[PEER], data.toString('utf8'));
}
function onPong() { hub.pong(this[PEER]); }
function onClose() { hub.close(this[PEER]); }
function onError() {} // a protocol error (1007, 1009): ws closes the socket and emits close

const wss = new WebSocketServer({
  noServer: true,
  clientTracking: false,          // the hub tracks connections
  perMessageDeflate: false,
  maxPayload: options.maxMessageBytes, // larger: ws closes with 1009
});

function refuse(socket, status, text, extra = '') {
  socket.end(`HTTP/1.1 ${status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\n` +
    `Connection: close\r\n${extra}\r\n${text}`);
}

const server = createServer((req, res) => {
  const path = req.url.split('?', 1)[0];
  if (path === '/ws') res.writeHead(426, { 'Content-Type': 'text/plain; charset=utf-8' }).end('this is the WebSocket endpoint\n');
  else res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n');
});
server.on('upgrade', (req, socket, head) => {
  socket.on('error', onError);
  if (req.url.split('?', 1)[0] !== '/ws') return refuse(socket, '404 Not Found', 'the WebSocket endpoint is /ws\n');
  if (hub.isFull())
    return refuse(socket, '503 Service Unavailable', hub.stopping ? 'shutting down\n' : 'too many connections\n', 'Retry-After: 5\r\n');
  wss.handleUpgrade(req, socket, head, (ws) => {
    const peer = hub.newPeer();
    ws[PEER] = peer;
    ws.on('message', onMessage);
    ws.on('pong', onPong);
    ws.on('close', onClose);
    ws.on('error', onError);
    hub.open(peer, ws);
  });
});
server.on('error', (e) => {
  process.stderr.write(`ws_server: cannot listen on ${listen} port ${port}: ${e.message}\n`);
  process.exit(1);
});
server.listen(port, listen, () => {
  hub.startHeartbeat();
  process.stdout.write(`listening on ${server.address().port}\n`);
});

function stop() {
  server.close();
  const open = hub.peers.size;
  hub.shutdown();
  setTimeout(() => process.exit(0), open ? 300 : 0);
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
