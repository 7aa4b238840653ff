// The signaling server of Google's WebRTC codelab ("Real time communication
// with WebRTC", https://codelabs.developers.google.com/codelabs/webrtc-web,
// step 5, index.js), ported from socket.io 1/2 to socket.io 4 and otherwise
// kept as it is, bugs included: sigbench's `socketio-codelab` dialect is
// tested against it.
//
//   'create or join' (room)   the 1st of a room gets 'created' (room, id);
//                             the 2nd makes the room hear 'join' (room),
//                             then gets 'joined' (room, id), then the room
//                             hears 'ready'; a 3rd gets 'full' (room)
//   'message' (message)       socket.broadcast.emit: to EVERY other socket
//                             of the server, whatever its room. The codelab
//                             says "for a real app, would be room-only"; a
//                             load test must see this as misrouting.
//
// The codelab's log() (a 'log' event back to the sender) is kept, since it is
// part of what the server sends. Left out: the static file server (no page is
// needed), 'ipaddr' (it reports the host's interface addresses, which a test
// has no use for) and 'bye' (it only console.logs, and stdout is reserved
// for the `listening` line).
//
// Usage: node codelab_server.mjs [--port N] [--host ADDR]
//   --port 0 (the default) picks a free port; --host defaults to 127.0.0.1.
// Prints exactly one line to stdout once listening: `listening <port>`.
// WebSocket URL: ws://HOST:PORT/socket.io/?EIO=4&transport=websocket
// (long polling stays enabled, as in the codelab). SIGTERM or SIGINT: exit 0.
import http from 'node:http';
import { Server } from 'socket.io';

function parse_flags(argv) {
  const flags = { port: 0, host: '127.0.0.1' };
  for (let i = 0; i < argv.length; ++i) {
    let [name, value] = argv[i].split(/=(.*)/s, 2);
    if (name !== '--port' && name !== '--host') usage(`unknown option ${name}`);
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) usage(`${name} needs a value`);
    }
    if (name === '--port') {
      if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) usage(`--port must be 0 to 65535, got '${value}'`);
      flags.port = Number(value);
    } else {
      flags.host = value;
    }
  }
  return flags;
}

function usage(problem) {
  process.stderr.write(`codelab_server: ${problem}\nusage: node codelab_server.mjs [--port N] [--host ADDR]\n`);
  process.exit(2);
}

const flags = parse_flags(process.argv.slice(2));

// Only /socket.io/ is served (socket.io takes those requests before this
// handler sees them).
const app = http.createServer((req, res) => {
  res.writeHead(404, { 'content-type': 'text/plain' });
  res.end('not found\n');
});

const io = new Server(app, { serveClient: false });

io.sockets.on('connection', (socket) => {
  // convenience function to log server messages on the client
  function log(...args) {
    socket.emit('log', ['Message from server:', ...args]);
  }

  socket.on('message', (message) => {
    log('Client said: ', message);
    // for a real app, would be room-only (not broadcast)
    socket.broadcast.emit('message', message);
  });

  socket.on('create or join', (room) => {
    log('Received request to create or join room ' + room);

    // socket.io 1/2: Object.keys(io.sockets.adapter.rooms[room].sockets).length
    const clientsInRoom = io.sockets.adapter.rooms.get(room);
    const numClients = clientsInRoom ? clientsInRoom.size : 0;
    log('Room ' + room + ' now has ' + numClients + ' client(s)');

    if (numClients === 0) {
      socket.join(room);
      log('Client ID ' + socket.id + ' created room ' + room);
      socket.emit('created', room, socket.id);
    } else if (numClients === 1) {
      log('Client ID ' + socket.id + ' joined room ' + room);
      io.sockets.in(room).emit('join', room);
      socket.join(room);
      socket.emit('joined', room, socket.id);
      io.sockets.in(room).emit('ready');
    } else { // max two clients
      socket.emit('full', room);
    }
  });
});

app.on('error', (err) => {
  process.stderr.write(`codelab_server: cannot listen on ${flags.host}:${flags.port}: ${err.message}\n`);
  process.exit(1);
});

app.listen(flags.port, flags.host, () => {
  process.stdout.write(`listening ${app.address().port}\n`);
});

function stop() {
  // io.close() disconnects every socket and closes the HTTP server; idle
  // keep-alive connections must not hold the exit up.
  io.close(() => process.exit(0));
  app.closeAllConnections?.();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
