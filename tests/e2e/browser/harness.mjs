// Shared set-up for the browser suites (browser_test.mjs, selftest_test.mjs): Chromium's
// no-external-traffic flags, a test CA and NSS databases, free loopback ports, turnpike started
// from a config, and PASS/FAIL reporting. browser_test.sh runs the suites (see its header).

import {spawn, spawnSync} from 'node:child_process';
import {mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import {createServer as createTcpServer} from 'node:net';
import {createSocket} from 'node:dgram';
import {join} from 'node:path';

export const CHROMIUM = '/usr/bin/chromium';

// The flags the issue requires, plus --disable-quic and an autoplay policy for WebAudio.
export const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1 , EXCLUDE [::1]',
  '--dns-prefetch-disable', '--disable-quic', '--autoplay-policy=no-user-gesture-required',
  '--disable-features=MediaRouter,DialMediaRouteProvider,CastMediaRouteProvider,' +
      'WebRtcHideLocalIpsWithMdns,OptimizationHints,NetworkTimeServiceQuerying,Translate,' +
      'SafeBrowsing,CertificateTransparencyComponentUpdater',
];

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- Reporting -------------------------------------------------------------------------------
export const failures = [];
export function note(text) { console.log(`--- ${text}`); }
export function check(name, ok, detail) {
  console.log(`${ok ? 'PASS' : 'FAIL'}  ${name}${detail ? ': ' + detail : ''}`);
  if (!ok) failures.push(name);
  return ok;
}

// Runs a suite's main(), then its cleanups (last first); kills the turnpike still running, if
// any (current()); removes workdir; prints FAIL with the failed checks and the last 40 lines of
// turnpike's log (current()'s, else lastLog()), or `PASS: passLine`; exits 1 on failure.
export async function runSuite(main, {cleanups, workdir, current, lastLog, passLine}) {
  try {
    await main();
  } catch (err) {
    check('test ran to completion', false, err.stack || String(err));
  }
  for (const cleanup of cleanups.reverse()) {
    try { await cleanup(); } catch { /* best effort */ }
  }
  let log = lastLog();
  const server = current();
  if (server) {
    log = server.log;
    server.child.kill('SIGKILL');
  }
  rmSync(workdir, {recursive: true, force: true});
  if (failures.length) {
    console.log(`\nFAIL: ${failures.length} check(s): ${failures.join('; ')}`);
    if (log) console.log(`--- turnpike log (last 40 lines) ---\n${log.split('\n').slice(-40).join('\n')}`);
    process.exit(1);
  }
  console.log(`\nPASS: ${passLine}`);
}

export function run(command, args, options = {}) {
  const r = spawnSync(command, args, {encoding: 'utf8', timeout: 30000, ...options});
  if (r.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.error}`);
  }
  return r.stdout;
}

// playwright-core's chromium, from the node_modules that browser_test.sh installed.
export function loadChromium(modulesDir) {
  return createRequire(join(modulesDir, 'node_modules', 'x.js'))('playwright-core').chromium;
}

// ---- Certificates and NSS databases -----------------------------------------------------------
// In `workdir`: ca.pem/ca.key (a test CA) and server.pem/server.key (for IP 127.0.0.1).
export function makeCertificates(workdir) {
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
export function makeHome(workdir, name, trustCa) {
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

// ---- Ports and turnpike -----------------------------------------------------------------------
// True when nothing holds `port` on 127.0.0.1, for both TCP and UDP.
export async function portIsFree(port) {
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
export async function freePort(...exclude) {
  for (let i = 0; i < 50; i++) {
    const port = 20000 + Math.floor(Math.random() * 12768);
    if (!exclude.includes(port) && await portIsFree(port)) return port;
  }
  throw new Error('no free port in 20000..32767');
}

// Starts `binary` on the config that configFor(ports) returns, with `portCount` free ports,
// written to workdir/NAME.yaml. Retries (new ports) when a port was taken meanwhile. Resolves to
// {child, ports, exited, log} once turnpike logs "started"; `log` grows with its output.
export async function startTurnpike(binary, workdir, name, portCount, configFor,
                                    startTimeoutMs = 5000) {
  for (let attempt = 0; attempt < 3; attempt++) {
    const ports = [];
    for (let i = 0; i < portCount; i++) ports.push(await freePort(...ports));
    const config = join(workdir, `${name}.yaml`);
    writeFileSync(config, configFor(ports));
    const child = spawn(binary, ['--config', config], {stdio: ['ignore', 'pipe', 'pipe']});
    const server = {child, ports, log: ''};
    child.stdout.on('data', (d) => { server.log += d; });
    child.stderr.on('data', (d) => { server.log += d; });
    server.exited = new Promise((resolve) => child.once('exit', resolve));
    const deadline = Date.now() + startTimeoutMs;
    while (Date.now() < deadline && child.exitCode === null && !server.log.includes('started')) {
      await sleep(50);
    }
    if (server.log.includes('started')) return server;
    child.kill('SIGKILL');
    await server.exited;
    if (!server.log.includes('bind')) throw new Error(`turnpike did not start:\n${server.log}`);
    console.log('a port was taken, retrying');
  }
  throw new Error('turnpike could not bind its ports in 3 attempts');
}

// SIGTERM, then the exit code (or 'timeout' after 5 s).
export async function stopTurnpike(server) {
  server.child.kill('SIGTERM');
  return Promise.race([server.exited, sleep(5000).then(() => 'timeout')]);
}

// ---- Browser ----------------------------------------------------------------------------------
// Chromium with FLAGS, a fresh profile under workdir and HOME=home (its NSS database). Console
// errors are printed with `name`; context.close() is pushed onto `cleanups`.
export async function launch(chromium, workdir, name, home, cleanups) {
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
export function browserCommandLine(userDataDir) {
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

// Checks that the browser of `userDataDir` runs with every flag of FLAGS.
export function checkFlags(userDataDir) {
  const args = browserCommandLine(userDataDir);
  const missing = args ? FLAGS.filter((f) => !args.includes(f)) : FLAGS;
  return check('Chromium runs with every required flag and a fresh --user-data-dir',
               missing.length === 0,
               missing.length ? `missing: ${missing.join(' ')}` : run(CHROMIUM, ['--version']).trim());
}
