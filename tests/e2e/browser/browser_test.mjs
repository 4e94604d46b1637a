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

import {spawn, spawnSync} from 'node:child_process';
import {createHmac, randomBytes} from 'node:crypto';
import {mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {createServer} from 'node:http';
import {createRequire} from 'node:module';
import {createServer as createTcpServer} from 'node:net';
import {createSocket} from 'node:dgram';
import {tmpdir} from 'node:os';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

const CHROMIUM = '/usr/bin/chromium';
const CONNECT_TIMEOUT_MS = 20000;  // one relay call, createOffer to connected (~1 s when all is well)
const FAILURE_TIMEOUT_MS = 10000;  // gathering for a call that must fail
const AUDIO_MS = 3000;             // how long audio must keep flowing
const START_TIMEOUT_MS = 5000;     // turnpike start-up
const SECRET = 'e2e-' + randomBytes(8).toString('hex');
const here = dirname(fileURLToPath(import.meta.url));

// The flags the issue requires, plus --disable-quic and an autoplay policy for WebAudio.
const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1 , EXCLUDE [::1]',
  '--dns-prefetch-disable', '--disable-quic', '--autoplay-policy=no-user-gesture-required',
  '--disable-features=MediaRouter,DialMediaRouteProvider,CastMediaRouteProvider,' +
      'WebRtcHideLocalIpsWithMdns,OptimizationHints,NetworkTimeServiceQuerying,Translate,' +
      'SafeBrowsing,CertificateTransparencyComponentUpdater',
];

const [turnpike, modulesDir] = process.argv.slice(2);
if (!turnpike || !modulesDir) {
  console.error('usage: node browser_test.mjs TURNPIKE_BINARY MODULES_DIR');
  process.exit(2);
}
const {chromium} = createRequire(join(modulesDir, 'node_modules', 'x.js'))('playwright-core');

const workdir = mkdtempSync(join(tmpdir(), 'turnpike-browser-'));
const cleanups = [];
const failures = [];
let server = null;
let serverLog = '';

function note(text) { console.log(`--- ${text}`); }
function check(name, ok, detail) {
  console.log(`${ok ? 'PASS' : 'FAIL'}  ${name}${detail ? ': ' + detail : ''}`);
  if (!ok) failures.push(name);
  return ok;
}
function run(command, args, options = {}) {
  const r = spawnSync(command, args, {encoding: 'utf8', timeout: 30000, ...options});
  if (r.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.error}`);
  }
  return r.stdout;
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- 1. Certificates and NSS databases -------------------------------------------------------
function makeCertificates() {
  const openssl = (...args) => run('openssl', args, {cwd: workdir});
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
          '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=turnpike e2e test CA',
          '-addext', 'basicConstraints=critical,CA:TRUE',
          '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
          '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(join(workdir, 'server.ext'),
                'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n' +
                'extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n');
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key',
          '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext');
}

// A HOME with an NSS database; with trustCa, the test CA is trusted there for TLS servers.
function makeHome(name, trustCa) {
  const home = join(workdir, name);
  const db = join(home, '.pki', 'nssdb');
  mkdirSync(db, {recursive: true});
  run('certutil', ['-N', '-d', `sql:${db}`, '--empty-password']);
  if (trustCa) {
    run('certutil', ['-A', '-d', `sql:${db}`, '-n', 'turnpike-e2e-ca', '-t', 'C,,', '-i',
                     join(workdir, 'ca.pem')]);
  }
  return home;
}

// ---- 2. turnpike ---------------------------------------------------------------------------
// True when nothing holds `port` on 127.0.0.1, for both TCP and UDP.
async function portIsFree(port) {
  const tcp = await new Promise((resolve) => {
    const s = createTcpServer().once('error', () => resolve(false))
                  .listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
  if (!tcp) return false;
  return new Promise((resolve) => {
    const s = createSocket('udp4').once('error', () => resolve(false));
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}
// Below the ephemeral range (32768+) and turnpike's relay range (49152+).
async function freePort(exclude) {
  for (let i = 0; i < 50; i++) {
    const port = 20000 + Math.floor(Math.random() * 12768);
    if (port !== exclude && await portIsFree(port)) return port;
  }
  throw new Error('no free port in 20000..32767');
}

async function startTurnpike() {
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const tlsPort = await freePort(port);
    const config = join(workdir, 'turnpike.yaml');
    writeFileSync(config, `realm: turnpike.test
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
    serverLog = '';
    const child = spawn(turnpike, ['--config', config], {stdio: ['ignore', 'pipe', 'pipe']});
    child.stdout.on('data', (d) => { serverLog += d; });
    child.stderr.on('data', (d) => { serverLog += d; });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline && child.exitCode === null && !serverLog.includes('started')) {
      await sleep(50);
    }
    if (serverLog.includes('started')) {
      server = {child, port, tlsPort, exited};
      return;
    }
    child.kill('SIGKILL');
    await exited;
    if (!serverLog.includes('bind')) throw new Error(`turnpike did not start:\n${serverLog}`);
    console.log('a port was taken, retrying');
  }
  throw new Error('turnpike could not bind its ports in 3 attempts');
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
async function launch(name, home) {
  const userDataDir = join(workdir, `profile-${name}`);
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM, headless: true, args: FLAGS, timeout: 30000,
    env: {...process.env, HOME: home},
  });
  cleanups.push(() => context.close().catch(() => {}));
  const page = context.pages()[0] || await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') console.log(`  [${name} console] ${m.text()}`); });
  return {context, page, userDataDir};
}

// The command line of the browser process using userDataDir, from /proc.
function browserCommandLine(userDataDir) {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (args.some((a) => a === `--user-data-dir=${userDataDir}`) && !args.some((a) => a.startsWith('--type='))) {
        return args;
      }
    } catch { /* the process went away */ }
  }
  return null;
}

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
  makeCertificates();
  const trustedHome = makeHome('home-trusted', true);
  const untrustedHome = makeHome('home-untrusted', false);

  await startTurnpike();
  note(`turnpike on 127.0.0.1:${server.port} (udp+tcp) and :${server.tlsPort} (tls)`);
  const url = await startPageServer();
  note(`page ${url}`);

  const browser = await launch('trusted', trustedHome);
  const args = browserCommandLine(browser.userDataDir);
  const missing = args ? FLAGS.filter((f) => !args.includes(f)) : FLAGS;
  check('Chromium runs with every required flag and a fresh --user-data-dir', missing.length === 0,
        missing.length ? `missing: ${missing.join(' ')}` : run(CHROMIUM, ['--version']).trim());
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
  const logFrom = serverLog.length;
  const r = await call(untrusted.page, iceServer('tls', mint('eve')), true);
  checkFailure('turns with an untrusted certificate', r, null);
  // Chromium rejected the certificate and said so in a TLS alert, which turnpike logs (debug).
  const alerts = serverLog.slice(logFrom).match(/tls 127\.0\.0\.1:\d+: .*/g) || [];
  check('turns with an untrusted certificate: the browser aborted the TLS handshake with a certificate alert',
        alerts.some((line) => /unknown ca|bad certificate|certificate unknown/i.test(line)),
        alerts.length ? [...new Set(alerts.map((l) => l.replace(/^tls [^ ]+ /, '')))].join('; ') : 'no TLS error logged');
  await untrusted.context.close();
  await browser.context.close();

  server.child.kill('SIGTERM');
  const code = await Promise.race([server.exited, sleep(5000).then(() => 'timeout')]);
  check('turnpike exits 0 on SIGTERM', code === 0, `exit ${code}`);
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

try {
  await main();
} catch (err) {
  check('test ran to completion', false, err.stack || String(err));
}
for (const cleanup of cleanups.reverse()) {
  try { await cleanup(); } catch { /* best effort */ }
}
if (server) {
  server.child.kill('SIGKILL');
}
if (failures.length) {
  console.log(`\nFAIL: ${failures.length} check(s): ${failures.join('; ')}`);
  if (serverLog) console.log(`--- turnpike log (last 40 lines) ---\n${serverLog.split('\n').slice(-40).join('\n')}`);
  rmSync(workdir, {recursive: true, force: true});
  process.exit(1);
}
rmSync(workdir, {recursive: true, force: true});
console.log('\nPASS: Chromium relayed DataChannel and audio through turnpike over udp, tcp and tls');
