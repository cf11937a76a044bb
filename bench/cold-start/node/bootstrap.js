// A minimal custom-runtime loop for the Node.js peer, written here rather than taken from
// aws-lambda-ric (a native addon) so that both functions meet the same Runtime API the same way:
// require the handler (which builds its clients, as the original function did at module scope),
// then GET /next, call the handler, POST its result, forever.
'use strict';

const http = require('node:http');

const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const base = '/2018-06-01/runtime';

function call(method, path, body) {
  return new Promise((resolve, reject) => {
    const headers = body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
    const req = http.request({ host, port, method, path: base + path, agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const failure = (e) => JSON.stringify({ errorType: e.name || 'Error', errorMessage: String(e.message || e) });

async function main() {
  let handler;
  try {
    ({ handler } = require('./handler.js'));
  } catch (e) {
    await call('POST', '/init/error', failure(e));
    process.exit(1);
  }
  for (;;) {
    const next = await call('GET', '/invocation/next');
    const id = next.headers['lambda-runtime-aws-request-id'];
    try {
      const result = await handler(JSON.parse(next.body));
      await call('POST', `/invocation/${id}/response`, JSON.stringify(result));
    } catch (e) {
      await call('POST', `/invocation/${id}/error`, failure(e));
    }
  }
}

main();
