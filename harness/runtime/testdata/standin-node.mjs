// A stand-in for the store node, used ONLY by the runtime's own plumbing test: it answers
// /healthz, says who it is on its peer port, dials a peer on /probe?peer=ID through the
// address book it was given, and counts its boots in the data dir (to prove the volume
// survives a kill). Real runs use dist/store-node.mjs.
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
net.createServer((s) => s.end(`${id}\n`)).listen(Number(flag('peer-port', '7000')), '0.0.0.0');
http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  const send = (code, body) => { res.writeHead(code, { 'content-type': 'application/json' }); res.end(JSON.stringify(body)); };
  if (url.pathname === '/healthz') return send(200, { ok: true });
  if (url.pathname === '/v1/status') return send(200, { id, role: 'follower', term: boots, leader: null, commit: 0, applied: 0, lastIndex: 0, members: { voters: [], learners: [] } });
  if (url.pathname === '/probe') {
    const addr = peers[url.searchParams.get('peer')];
    if (!addr) return send(404, { error: 'no such peer' });
    const [host, port] = addr.split(':');
    const s = net.connect(Number(port), host);
    let data = '';
    const t = setTimeout(() => { s.destroy(); send(504, { error: 'timeout' }); }, 1000);
    s.on('data', (d) => (data += d));
    s.on('end', () => { clearTimeout(t); if (data) send(200, { reply: data.trim() }); else send(502, { error: 'closed' }); });
    s.on('error', (e) => { clearTimeout(t); if (!res.headersSent) send(502, { error: e.message }); });
    return;
  }
  send(404, { error: 'not-found' });
}).listen(Number(flag('client-port', '8000')), '0.0.0.0');
console.log(JSON.stringify({ msg: 'standin up', id, boots }));
