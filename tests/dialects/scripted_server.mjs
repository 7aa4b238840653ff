// A WebSocket server that says what it is told and nothing else: on every
// connection it sends each --send FRAME (text), in order, then ignores what
// the client says. sigbench's tests use it to play a server that answers
// with valid JSON of the wrong types, or does not speak the protocol.
//
// Usage: node scripted_server.mjs [--port N] --send FRAME [--send FRAME ...]
// Prints `listening <port>` once listening. SIGTERM or SIGINT: exit 0.
import { WebSocketServer } from 'ws';

let port = 0;
const frames = [];
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const [name, value] = [argv[i], argv[i + 1]];
  if (value === undefined || !['--port', '--send'].includes(name)) {
    process.stderr.write(`scripted_server: bad option ${name}\n`);
    process.exit(2);
  }
  if (name === '--port') port = Number(value);
  else frames.push(value);
}

const server = new WebSocketServer({ host: '127.0.0.1', port });
server.on('connection', (ws) => {
  for (const frame of frames) ws.send(frame);
});
server.on('listening', () => process.stdout.write(`listening ${server.address().port}\n`));
for (const signal of ['SIGTERM', 'SIGINT'])
  process.on(signal, () => {
    for (const ws of server.clients) ws.terminate();
    server.close(() => process.exit(0));
  });
