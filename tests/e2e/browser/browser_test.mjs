// Browser end-to-end test: headless Debian Chromium, driven by playwright-core, relays WebRTC
// through a real turnpike on 127.0.0.1. Run by browser_test.sh, which installs playwright-core.
//
//   node browser_test.mjs TURNPIKE_BINARY MODULES_DIR
//
// 1. A test CA and a server certificate for IP 127.0.0.1 (openssl CLI); the CA goes into a
//    private NSS database under a temporary HOME, so Chromium really verifies turnpike's TLS.
// 2. turnpike on 127.0.0.1: udp+tcp on one port, tls on another; TURN REST secret; relays on
//    127.0.0.1, with peers 127.0.0.0/8 allowed (both relays are on loopback).
// 3. call.html (served here from 127.0.0.1) makes two relay-only RTCPeerConnections whose
//    iceServers name only turnpike, with credentials minted by `turnpike credentials`. For
//    turn:?transport=udp, turn:?transport=tcp and turns:?transport=tcp, each must: connect; pass
//    a DataChannel message both ways; keep receiving audio RTP (WebAudio oscillator) for 3 s;
//    show a relay/relay selected pair on both sides, over that transport. createOffer-to-connected
//    time is printed per transport.
// 4. Must fail: a wrong password (401), an expired credential (401), and TLS from a second
//    Chromium whose NSS database lacks the CA (an untrusted certificate).
// 5. No traffic outside loopback: tcpdump on every interface, for everything not to or from
//    127.0.0.1 or ::1, runs during all browser work and must capture nothing.
// Exits 0 when every check passes; prints one PASS/FAIL line per check.

import {createHmac, randomBytes} from 'node:crypto';
import {mkdtempSync, readFileSync} from 'node:fs';
import {createServer} from 'node:http';
import {tmpdir} from 'node:os';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

import {check, checkFlags, launch as launchIn, loadChromium, makeCertificates,
        makeHome, note, run, runSuite, startTurnpike as startTurnpikeIn, stopTurnpike} from
            './harness.mjs';

const CONNECT_TIMEOUT_MS = 20000;  // one relay call, createOffer to connected (~1 s when all is well)
const FAILURE_TIMEOUT_MS = 10000;  // gathering for a call that must fail
const AUDIO_MS = 3000;             // how long audio must keep flowing
const SECRET = 'e2e-' + randomBytes(8).toString('hex');
const here = dirname(fileURLToPath(import.meta.url));

const [turnpike, modulesDir] = process.argv.slice(2);
if (!turnpike || !modulesDir) {
  console.error('usage: node browser_test.mjs TURNPIKE_BINARY MODULES_DIR');
  process.exit(2);
}
const chromium = loadChromium(modulesDir);

const workdir = mkdtempSync(join(tmpdir(), 'turnpike-browser-'));
const cleanups = [];
let server = null;
let serverLog = '';  // the last turnpike's output, kept for the failure report

// ---- 1. Certificates and NSS databases: makeCertificates and makeHome in harness.mjs -------

// ---- 2. turnpike ---------------------------------------------------------------------------
async function startTurnpike() {
  server = await startTurnpikeIn(turnpike, workdir, 'turnpike', 2, ([port, tlsPort]) => `realm: turnpike.test
listeners:
  - {transport: udp, address: 127.0.0.1, port: ${port}}
  - {transport: tcp, address: 127.0.0.1, port: ${port}}
  - {transport: tls, address: 127.0.0.1, port: ${tlsPort}}
tls: {certificate: ${join(workdir, 'server.pem')}, private_key: ${join(workdir, 'server.key')}}
relay: {addresses: [127.0.0.1]}
auth: {secrets: [${SECRET}]}
peers: {allow: [127.0.0.0/8]}
http: {port: 0}
threads: 2
log: {level: debug}
`);
  [server.port, server.tlsPort] = server.ports;
}

// A TURN REST credential from the project's own minting command.
function mint(user) {
  const out = run(turnpike, ['credentials', '--secret', SECRET, '--user', user, '--ttl', '600']);
  const username = /^username=(.*)$/m.exec(out)?.[1];
  const password = /^password=(.*)$/m.exec(out)?.[1];
  if (!username || !password) throw new Error(`unexpected credentials output: ${out}`);
  return {username, credential: password};
}
// The same scheme computed here, for an expiry in the past.
function mintExpired(user) {
  const username = `${Math.floor(Date.now() / 1000) - 60}:${user}`;
  return {username, credential: createHmac('sha1', SECRET).update(username).digest('base64')};
}

// ---- 3. Page server -----------------------------------------------------
async function startPageServer() {
  const page = readFileSync(join(here, 'call.html'));
  const http = createServer((req, res) => {
    if (req.url === '/') {
      res.writeHead(200, {'content-type': 'text/html; charset=utf-8'}).end(page);
    } else if (req.url === '/favicon.ico') {
      res.writeHead(204).end();
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => http.close());
  return `http://127.0.0.1:${http.address().port}/`;
}

// ---- 4. Browser ------------------------------------------------------------------------------
const launch = (name, home) => launchIn(chromium, workdir, name, home, cleanups);

function iceServer(kind, credentials) {
  const urls = {
    udp: `turn:127.0.0.1:${server.port}?transport=udp`,
    tcp: `turn:127.0.0.1:${server.port}?transport=tcp`,
    tls: `turns:127.0.0.1:${server.tlsPort}?transport=tcp`,
  }[kind];
  return [{urls, ...credentials}];
}

async function call(page, iceServers, expectFailure) {
  const timeout = expectFailure ? FAILURE_TIMEOUT_MS : CONNECT_TIMEOUT_MS;
  return page.evaluate((o) => window.runCall(o), {
    iceServers, expectFailure, connectTimeoutMs: timeout, audioMs: AUDIO_MS,
  });
}

function checkSuccess(kind, r) {
  const label = `turn ${kind}`;
  if (!check(`${label}: connected`, r.connected, r.error || `${r.connectMs} ms createOffer→connected`)) {
    console.log(`  result: ${JSON.stringify(r)}`);
    return;
  }
  check(`${label}: DataChannel both ways`,
        r.dataChannel?.pc0Got === 'pong from pc1' && r.dataChannel?.pc1Got === 'ping from pc0',
        JSON.stringify(r.dataChannel));
  const a = r.audio;
  check(`${label}: audio RTP keeps arriving`, a && a.packetsBefore > 0 && a.packetsAfter - a.packetsBefore >= 50,
        a && `packetsReceived ${a.packetsBefore} → ${a.packetsAfter} in ${a.intervalMs} ms`);
  const want = kind === 'tls' ? 'tls' : kind;
  const pairOk = r.pairs && r.pairs.every((p) => p && p.local?.type === 'relay' && p.remote?.type === 'relay' &&
                                                   p.local.relayProtocol === want);
  check(`${label}: selected pair relay/relay on both sides, relayProtocol ${want}`, pairOk,
        (r.pairs || []).map((p) => p && `${p.local?.type}(${p.local?.relayProtocol}) ${p.local?.address}:${p.local?.port}` +
                                    ` ↔ ${p.remote?.type} ${p.remote?.address}:${p.remote?.port}`).join('; '));
}

function checkFailure(label, r, codes) {
  const errors = r.candidateErrors.map((e) => `${e.code} ${e.text}`);
  const codeOk = codes === null || r.candidateErrors.some((e) => codes.includes(e.code));
  check(`${label}: no relay candidate, not connected` + (codes ? `, icecandidateerror ${codes.join('/')}` : ''),
        !r.connected && r.relayCandidates.every((n) => n === 0) && codeOk,
        `relay candidates ${r.relayCandidates.join('+')}, errors [${[...new Set(errors)].join('; ')}]`);
}

// ---- main ------------------------------------------------------------------------------------
async function main() {
  note('test CA and server certificate (IP 127.0.0.1); NSS databases under temporary HOMEs');
  makeCertificates(workdir);
  const trustedHome = makeHome(workdir, 'home-trusted', true);
  const untrustedHome = makeHome(workdir, 'home-untrusted', false);

  await startTurnpike();
  note(`turnpike on 127.0.0.1:${server.port} (udp+tcp) and :${server.tlsPort} (tls)`);
  const url = await startPageServer();
  note(`page ${url}`);

  const browser = await launch('trusted', trustedHome);
  checkFlags(browser.userDataDir);
  await browser.page.goto(url);

  const times = {};
  for (const kind of ['udp', 'tcp', 'tls']) {
    note(`relay call over ${kind}: ${iceServer(kind, {})[0].urls}`);
    const r = await call(browser.page, iceServer(kind, mint(`alice-${kind}`)), false);
    checkSuccess(kind, r);
    times[kind] = r.connectMs;
  }

  note('must fail: wrong password, expired credential (turn udp)');
  const wrong = {...mint('mallory'), credential: randomBytes(20).toString('base64')};
  checkFailure('wrong password', await call(browser.page, iceServer('udp', wrong), true), [401]);
  checkFailure('expired credential', await call(browser.page, iceServer('udp', mintExpired('late')), true), [401]);

  note('must fail: turns from a Chromium that does not trust the test CA');
  const untrusted = await launch('untrusted', untrustedHome);
  await untrusted.page.goto(url);
  const logFrom = server.log.length;
  const r = await call(untrusted.page, iceServer('tls', mint('eve')), true);
  checkFailure('turns with an untrusted certificate', r, null);
  // Chromium rejected the certificate and said so in a TLS alert, which turnpike logs (debug).
  const alerts = server.log.slice(logFrom).match(/tls 127\.0\.0\.1:\d+: .*/g) || [];
  check('turns with an untrusted certificate: the browser aborted the TLS handshake with a certificate alert',
        alerts.some((line) => /unknown ca|bad certificate|certificate unknown/i.test(line)),
        alerts.length ? [...new Set(alerts.map((l) => l.replace(/^tls [^ ]+ /, '')))].join('; ') : 'no TLS error logged');
  await untrusted.context.close();
  await browser.context.close();

  const code = await stopTurnpike(server);
  check('turnpike exits 0 on SIGTERM', code === 0, `exit ${code}`);
  serverLog = server.log;
  const ended = serverLog.match(/allocation ended user=[^ ]+ client=(udp|tcp|tls) /g) || [];
  const byTransport = {udp: 0, tcp: 0, tls: 0};
  ended.forEach((line) => { byTransport[/client=(\w+)/.exec(line)[1]]++; });
  check('turnpike accounted allocations over each transport', ['udp', 'tcp', 'tls'].every((t) => byTransport[t] >= 2),
        JSON.stringify(byTransport));
  server = null;

  console.log('\ncreateOffer → connected (relay-only, two RTCPeerConnections in one page):');
  for (const [kind, ms] of Object.entries(times)) {
    console.log(`  ${kind.padEnd(4)} ${ms === null || ms === undefined ? 'failed' : `${ms} ms`}`);
  }
}

await runSuite(main, {
  cleanups, workdir, current: () => server, lastLog: () => serverLog,
  passLine: 'Chromium relayed DataChannel and audio through turnpike over udp, tcp and tls',
});
