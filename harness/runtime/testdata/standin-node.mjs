// A stand-in for a system's node, used ONLY by the runtimes' own plumbing tests: it answers
// /healthz, says who it is on its peer port, dials a peer through the address book it was
// given (/probe?peer=ID: a round trip; /send?peer=ID&msg=M: one message, whose receipt the
// peer lists on /received, so a test can tell which direction of a link carries bytes), and
// counts its boots in the data dir (to prove the volume survives a kill).
import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs';
const args = process.argv.slice(2);
const flag = (name, dflt) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : dflt; };
const id = flag('id');
const dataDir = flag('data-dir', '/data');
const peers = Object.fromEntries((flag('peers', '') || '').split(',').filter(Boolean).map((p) => p.split('=')));
const bootFile = `${dataDir}/boots`;
const boots = (fs.existsSync(bootFile) ? Number(fs.readFileSync(bootFile, 'utf8')) : 0) + 1;
fs.writeFileSync(bootFile, String(boots));
fs.appendFileSync(`${dataDir}/events.jsonl`, JSON.stringify({ kind: 'role', ts: Date.now(), node: id, role: 'follower', term: boots, leader: null }) + '\n');
const received = [];
// Peer protocol: one line in, one line out. "PROBE" → our id; "MSG text" → recorded, "ok".
net.createServer((s) => {
  let buf = '';
  s.on('data', (d) => {
    buf += d;
    const nl = buf.indexOf('\n');
    if (nl < 0) return;
    const line = buf.slice(0, nl);
    if (line.startsWith('MSG ')) { received.push(line.slice(4)); s.end('ok\n'); } else s.end(`${id}\n`);
  });
  s.on('error', () => {});
}).listen(Number(flag('peer-port', '7000')), '0.0.0.0');
function dial(peer, line, res, send) {
  const addr = peers[peer];
  if (!addr) return send(404, { error: 'no such peer' });
  const [host, port] = addr.split(':');
  const s = net.connect(Number(port), host);
  let data = '';
  const t = setTimeout(() => { s.destroy(); send(504, { error: 'timeout' }); }, 1000);
  s.on('connect', () => s.write(`${line}\n`));
  s.on('data', (d) => (data += d));
  s.on('end', () => { clearTimeout(t); if (data) send(200, { reply: data.trim() }); else send(502, { error: 'closed' }); });
  s.on('error', (e) => { clearTimeout(t); if (!res.headersSent) send(502, { error: e.message }); });
}
http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  const send = (code, body) => { if (res.headersSent) return; res.writeHead(code, { 'content-type': 'application/json' }); res.end(JSON.stringify(body)); };
  if (url.pathname === '/healthz') return send(200, { ok: true });
  if (url.pathname === '/v1/status') return send(200, { id, role: 'follower', term: boots, leader: null, commit: 0, applied: 0, lastIndex: 0, members: { voters: [], learners: [] } });
  if (url.pathname === '/received') return send(200, { received });
  if (url.pathname === '/probe') return dial(url.searchParams.get('peer'), 'PROBE', res, send);
  if (url.pathname === '/send') return dial(url.searchParams.get('peer'), `MSG ${url.searchParams.get('msg')}`, res, send);
  send(404, { error: 'not-found' });
}).listen(Number(flag('client-port', '8000')), '0.0.0.0');
console.log(JSON.stringify({ msg: 'standin up', id, boots }));
