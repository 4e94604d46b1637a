// The browser self-test page (GET /selftest, http.selftest: true) in headless Debian Chromium
// against a real turnpike on 127.0.0.1. Run by browser_test.sh (private network namespace,
// tcpdump guard, playwright-core), with the same Chromium flags as browser_test.mjs.
//
//   node selftest_test.mjs TURNPIKE_BINARY MODULES_DIR ARTIFACTS_DIR
//
// 1. turnpike with udp+tcp on one port, tls on another (test CA trusted in Chromium's NSS
//    database), the credential API with a key, and http.selftest. The page is opened from
//    turnpike itself; a wrong key gives the 401 explanation; the right key runs the checks; every
//    advertised URI (stun, turn udp, turn tcp, turns) must turn green, with a relay/relay call
//    over its own transport for the TURN ones. "Copy report" shows the JSON the page keeps; it
//    holds neither the key nor the TURN password, and the page stored nothing. Screenshot:
//    ARTIFACTS_DIR/selftest-pass.png.
// 2. The TCP listener removed, with public_uris still advertising turn:...?transport=tcp on that
//    port: the TCP row must be red, saying the TCP port could not be reached, and the other rows
//    green. Screenshot: ARTIFACTS_DIR/selftest-tcp-down.png.
// 3. No http.api_keys: the page explains how to turn the credential API on.
// The page must run under its own Content-Security-Policy: a console report of a blocked
// script or style fails the suite.

import {createHmac, randomBytes} from 'node:crypto';
import {mkdirSync, mkdtempSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {check, checkFlags, launch, loadChromium, makeCertificates, makeHome, note,
        runSuite, startTurnpike, stopTurnpike} from './harness.mjs';

const RUN_TIMEOUT_MS = 150000;  // the page bounds each row (10 s gathering + 15 s call + 5 s echo)
const SECRET = 'e2e-' + randomBytes(8).toString('hex');
const API_KEY = 'selftest-key-' + randomBytes(12).toString('hex');

const [turnpike, modulesDir, artifacts] = process.argv.slice(2);
if (!turnpike || !modulesDir || !artifacts) {
  console.error('usage: node selftest_test.mjs TURNPIKE_BINARY MODULES_DIR ARTIFACTS_DIR');
  process.exit(2);
}
mkdirSync(artifacts, {recursive: true});
const chromium = loadChromium(modulesDir);
const workdir = mkdtempSync(join(tmpdir(), 'turnpike-selftest-'));
const cleanups = [];
let server = null;
let lastLog = '';

// turnpike with the self-test page on. tcp: a tcp listener; publicUris: advertised instead of the
// URIs derived from the listeners; apiKey: the credential API on with that key.
async function start(name, {tcp = true, publicUris = null, apiKey = API_KEY} = {}) {
  server = await startTurnpike(turnpike, workdir, name, 3, ([port, tlsPort, httpPort]) => {
    const uris = publicUris ? publicUris(port, tlsPort) : [];
    return `realm: turnpike.test
listeners:
  - {transport: udp, address: 127.0.0.1, port: ${port}}
${tcp ? `  - {transport: tcp, address: 127.0.0.1, port: ${port}}\n` : ''}\
  - {transport: tls, address: 127.0.0.1, port: ${tlsPort}}
tls: {certificate: ${join(workdir, 'server.pem')}, private_key: ${join(workdir, 'server.key')}}
relay: {addresses: [127.0.0.1]}
auth: {secrets: [${SECRET}]}
peers: {allow: [127.0.0.0/8]}
http: {address: 127.0.0.1, port: ${httpPort}, selftest: true${apiKey ? `, api_keys: [${apiKey}]` : ''}}
public_uris: [${uris.map((u) => `"${u}"`).join(', ')}]
threads: 2
log: {level: debug}
`;
  });
  const [port, tlsPort, httpPort] = server.ports;
  Object.assign(server, {port, tlsPort, url: `http://127.0.0.1:${httpPort}/selftest`});
  note(`turnpike (${name}) on 127.0.0.1:${port} (udp${tcp ? '+tcp' : ''}), :${tlsPort} (tls), ` +
       `page ${server.url}`);
  return server;
}

async function stop(name) {
  const code = await stopTurnpike(server);
  check(`${name}: turnpike exits 0 on SIGTERM`, code === 0, `exit ${code}`);
  lastLog = server.log;
  server = null;
}

// Opens the page, enters `key`, presses "Run checks" and waits (bounded) for the report.
async function runPage(page, key) {
  await page.goto(server.url);
  await page.fill('#key', key);
  await page.click('#run');
  await page.waitForFunction(() => window.selftest && window.selftest.done, null,
                             {timeout: RUN_TIMEOUT_MS, polling: 200});
  return page.evaluate(() => window.selftest.report);
}

function describeRow(r) {
  const g = r.gathering || {};
  const c = r.call || {};
  const pair = c.selectedPair || {};
  return `${r.pass ? 'green' : 'red'}; candidates [${(g.candidateTypes || []).join(',')}]` +
      (g.relayedAddress ? `, relay ${g.relayedAddress} after ${g.firstRelayMs} ms` : '') +
      (c.connected ? `, connected in ${c.connectMs} ms, ${pair.localType}/${pair.remoteType} ` +
          `over ${pair.relayProtocol}, rtt ${pair.rttMs} ms, packets ${pair.packetsSent}/` +
          `${pair.packetsReceived}, ${c.dataChannelEchoes} echoes` : '') +
      (r.explanation ? ` — ${r.explanation}` : '') +
      ((g.errors || []).length ? ` [errors: ${g.errors.map((e) => `${e.code} ${e.text}`).join('; ')}]` : '');
}

// The rows the page showed, by label, with one check each.
function checkRows(stage, report, expected) {
  const labels = report.results.map((r) => `${r.label} ${r.uri}`);
  check(`${stage}: one row per advertised URI`,
        report.results.length === Object.keys(expected).length &&
            report.results.every((r) => r.uri in expected),
        labels.join(', '));
  for (const r of report.results) {
    const want = expected[r.uri];
    if (!want) continue;
    let ok = r.pass === want.pass;
    if (ok && want.pass && want.wire) {
      const pair = r.call && r.call.selectedPair;
      ok = Boolean(pair && pair.localType === 'relay' && pair.remoteType === 'relay' &&
                   pair.relayProtocol === want.wire && r.call.dataChannelEchoes === 5 &&
                   pair.packetsSent > 0 && pair.packetsReceived > 0 && pair.rttMs !== null &&
                   r.gathering.firstRelayMs !== null);
    }
    if (ok && want.why) ok = want.why.every((part) => (r.explanation || '').includes(part));
    check(`${stage}: ${r.label} ${r.uri} ${want.pass ? 'green' : 'red'}` +
          (want.wire ? `, relay/relay call over ${want.wire}` : ''), ok, describeRow(r));
  }
}

async function main() {
  note('test CA and server certificate (IP 127.0.0.1); the CA trusted in an NSS database');
  makeCertificates(workdir);
  const home = makeHome(workdir, 'home-trusted', true);
  const browser = await launch(chromium, workdir, 'selftest', home, cleanups);
  checkFlags(browser.userDataDir);
  const {page} = browser;
  await page.setViewportSize({width: 1280, height: 400});  // full-page shots grow to fit
  const policyViolations = [];
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) policyViolations.push(m.text());
  });

  // ---- 1. Everything up --------------------------------------------------------------------
  await start('all-up');
  const headers = (await page.goto(server.url)).headers();
  check('GET /selftest: HTML with a hash-based Content-Security-Policy',
        headers['content-type'] === 'text/html; charset=utf-8' &&
            /script-src 'sha256-[^']+'/.test(headers['content-security-policy'] || '') &&
            headers['cache-control'] === 'no-store',
        headers['content-security-policy']);
  const scriptRan = await page.evaluate(() => typeof window.selftest === 'object');
  if (!check('the page\'s script and style run under its policy, nothing blocked',
             scriptRan && policyViolations.length === 0,
             policyViolations.join(' | ') || (scriptRan ? '' : 'window.selftest is missing'))) {
    return;
  }

  const refused = await runPage(page, 'not-the-key-0123456789');
  const refusedText = await page.textContent('#status');
  check('wrong API key: the page says the server refused it (401) and runs nothing',
        refused.results.length === 0 && /refused this API key \(401\)/.test(refused.error || '') &&
            refusedText.includes('http.api_keys'),
        refused.error);

  const started = Date.now();
  const report = await runPage(page, API_KEY);
  note(`the page ran its checks in ${Math.round((Date.now() - started) / 1000)} s`);
  const {port, tlsPort} = server;
  checkRows('all up', report, {
    [`stun:127.0.0.1:${port}`]: {pass: true},
    [`turn:127.0.0.1:${port}?transport=udp`]: {pass: true, wire: 'udp'},
    [`turn:127.0.0.1:${port}?transport=tcp`]: {pass: true, wire: 'tcp'},
    [`turns:127.0.0.1:${tlsPort}?transport=tcp`]: {pass: true, wire: 'tls'},
  });
  check('all up: the report passes and the page says so', report.pass === true &&
        /All 4 checks passed/.test(await page.textContent('#status')));

  await page.click('#copy');
  await page.waitForFunction(() => document.getElementById('copied').textContent !== '', null,
                             {timeout: 5000});
  const shown = await page.textContent('#report');
  let parsed = null;
  try { parsed = JSON.parse(shown); } catch { /* checked below */ }
  check('Copy report: the JSON shown is the report, with one result per row',
        parsed !== null && await page.isVisible('#report') &&
            JSON.stringify(parsed) === JSON.stringify(report) &&
            parsed.results.length === await page.locator('#rows tr:not(.detail)').count(),
        await page.textContent('#copied'));
  const stored = await page.evaluate(() => ({
    url: location.href, local: localStorage.length, session: sessionStorage.length,
    cookie: document.cookie,
  }));
  const password = createHmac('sha1', SECRET).update(report.credential.username).digest('base64');
  check('the API key stays in page memory: not in the URL, storage, cookies or the report ' +
        '(nor is the TURN password in the report)',
        !stored.url.includes(API_KEY) && !stored.url.includes('?') && stored.local === 0 &&
            stored.session === 0 && stored.cookie === '' && !shown.includes(API_KEY) &&
            !shown.includes(password),
        JSON.stringify(stored));
  await page.screenshot({path: join(artifacts, 'selftest-pass.png'), fullPage: true});
  note(`screenshot ${join(artifacts, 'selftest-pass.png')}`);
  await stop('all up');

  // ---- 2. No TCP listener, but a TCP URI still advertised ----------------------------------
  await start('no-tcp', {
    tcp: false,
    publicUris: (p, t) => [`stun:127.0.0.1:${p}`, `turn:127.0.0.1:${p}?transport=udp`,
                           `turn:127.0.0.1:${p}?transport=tcp`, `turns:127.0.0.1:${t}?transport=tcp`],
  });
  const down = await runPage(page, API_KEY);
  checkRows('no tcp listener', down, {
    [`stun:127.0.0.1:${server.port}`]: {pass: true},
    [`turn:127.0.0.1:${server.port}?transport=udp`]: {pass: true, wire: 'udp'},
    [`turn:127.0.0.1:${server.port}?transport=tcp`]:
        {pass: false, why: ['Could not reach the TCP port', `127.0.0.1:${server.port}`]},
    [`turns:127.0.0.1:${server.tlsPort}?transport=tcp`]: {pass: true, wire: 'tls'},
  });
  check('no tcp listener: the page reports 1 of 4 checks failed', down.pass === false &&
        /1 of 4 checks failed/.test(await page.textContent('#status')));
  await page.screenshot({path: join(artifacts, 'selftest-tcp-down.png'), fullPage: true});
  note(`screenshot ${join(artifacts, 'selftest-tcp-down.png')}`);
  await stop('no tcp listener');

  // ---- 3. The credential API off -----------------------------------------------------------
  await start('api-off', {apiKey: null});
  const off = await runPage(page, API_KEY);
  check('no http.api_keys: the page explains how to turn the credential API on',
        off.results.length === 0 && /404/.test(off.error || '') &&
            /api_keys/.test(off.error || '') && /auth: \{secrets/.test(off.error || ''),
        (off.error || '').split('\n')[0]);
  await stop('api off');

  check('the page ran under its Content-Security-Policy with nothing blocked',
        policyViolations.length === 0, policyViolations.join(' | '));
}

await runSuite(main, {
  cleanups, workdir, current: () => server, lastLog: () => lastLog,
  passLine: 'the /selftest page turned every row green, and the TCP row red without a tcp listener',
});
