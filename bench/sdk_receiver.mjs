// The official SDK's webhook receiver, for bench/run: a node HTTP server
// that verifies and parses each delivery with client.beta.webhooks.unwrap,
// as the SDK's documentation shows, and answers 200.
//   node bench/sdk_receiver.mjs PORT   (the key in ANTHROPIC_WEBHOOK_SIGNING_KEY)
import http from 'node:http';

const sdk = await import(new URL('../tests/conformance/node_modules/@anthropic-ai/sdk/index.mjs', import.meta.url));
const client = new sdk.default({ apiKey: 'unused', webhookKey: process.env.ANTHROPIC_WEBHOOK_SIGNING_KEY });

http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    try {
      const event = client.beta.webhooks.unwrap(Buffer.concat(chunks).toString(), { headers: req.headers });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ status: 200, type: event.data.type }));
    } catch (e) {
      res.writeHead(401, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ status: 401, message: String(e.message) }));
    }
  });
}).listen(Number(process.argv[2]), '127.0.0.1', () => console.log('listening'));
