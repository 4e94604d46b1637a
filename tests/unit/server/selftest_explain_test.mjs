// The self-test page's verdicts without a browser: its inline script (from
// server/http/selftest.html) runs in a node:vm context with a stub DOM, and its plain functions
// parseUri(), urisToTest() and explain() are checked case by case (the browser suite,
// tests/e2e/browser/selftest_test.mjs, covers the all-green and TCP-down cases end to end).
//
//   node selftest_explain_test.mjs path/to/selftest.html
//
// Exits 0 when every case passes; prints one PASS/FAIL line per case.

import {readFileSync} from 'node:fs';
import vm from 'node:vm';

const [htmlPath] = process.argv.slice(2);
if (!htmlPath) {
  console.error('usage: node selftest_explain_test.mjs path/to/selftest.html');
  process.exit(2);
}
const html = readFileSync(htmlPath, 'utf8');
const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]);
if (scripts.length !== 1) {
  console.error(`FAIL: expected one inline script, found ${scripts.length}`);
  process.exit(1);
}

// Just enough DOM for the script's top level (it looks up elements and adds listeners).
const element = () => ({
  addEventListener() {}, append() {}, replaceChildren() {}, textContent: '', className: '',
  hidden: false, disabled: false,
});
const elements = new Map();
const context = vm.createContext({
  document: {getElementById: (id) => elements.get(id) || elements.set(id, element()).get(id)},
  window: {}, navigator: {}, location: {origin: 'http://127.0.0.1:9641'}, performance,
  setTimeout, RTCPeerConnection: function RTCPeerConnection() {},
});
vm.runInContext(scripts[0], context, {filename: 'selftest.html <script>'});
const {parseUri, urisToTest, explain} = vm.runInContext('({parseUri, urisToTest, explain})', context);

let failed = 0;
function expect(name, ok, detail) {
  console.log(`${ok ? 'PASS' : 'FAIL'}  ${name}${ok ? '' : `: ${detail}`}`);
  if (!ok) failed++;
}
const json = (value) => JSON.stringify(value);

// ---- parseUri and urisToTest ----
const parsed = (uri) => {
  const p = parseUri(uri);
  return p && {kind: p.kind, host: p.host, port: p.port, wire: p.wire, label: p.label};
};
for (const [uri, want] of [
  ['stun:203.0.113.5', {kind: 'stun', host: '203.0.113.5', port: 3478, wire: 'udp', label: 'STUN'}],
  ['turn:turn.example.com:3479?transport=udp',
   {kind: 'turn', host: 'turn.example.com', port: 3479, wire: 'udp', label: 'TURN/UDP'}],
  ['turn:[2001:db8::1]:3478?transport=tcp',
   {kind: 'turn', host: '[2001:db8::1]', port: 3478, wire: 'tcp', label: 'TURN/TCP'}],
  ['turns:turn.example.com?transport=tcp',
   {kind: 'turn', host: 'turn.example.com', port: 5349, wire: 'tls', label: 'TURNS/TLS'}],
  ['turns:turn.example.com:443?transport=udp',
   {kind: 'turn', host: 'turn.example.com', port: 443, wire: 'dtls', label: 'TURNS/DTLS'}],
  ['turn:a.example', {kind: 'turn', host: 'a.example', port: 3478, wire: 'udp', label: 'TURN/UDP'}],
  ['http://a.example', null],
  ['turn:a.example?transport=sctp', null],
]) {
  expect(`parseUri ${uri}`, json(parsed(uri)) === json(want), json(parsed(uri)));
}
const answer = {
  uris: ['turn:h:3478?transport=udp', 'turn:h:3478?transport=tcp', 'turns:h:5349?transport=tcp'],
  iceServers: [
    {urls: ['stun:h:3478']},
    {urls: ['turn:h:3478?transport=udp', 'turn:h:3478?transport=tcp',
            'turns:h:5349?transport=tcp'], username: 'u', credential: 'p'},
  ],
};
expect('urisToTest: the credential-less stun: entry, then uris, no duplicates',
       json(urisToTest(answer)) === json(['stun:h:3478', ...answer.uris]),
       json(urisToTest(answer)));

// ---- explain ----
const gathered = (fields) => ({
  complete: true, types: [], relayAddress: null, srflxAddress: null, errors: [], ...fields,
});
const callOk = {connected: true, echoes: 5, error: null,
                pair: {localType: 'relay', remoteType: 'relay'}};
const cases = [
  ['STUN with a srflx candidate passes', 'stun:203.0.113.5:3478',
   gathered({srflxAddress: '198.51.100.7:40000'}), null, true, ['198.51.100.7:40000']],
  ['STUN complete without srflx or error passes (no NAT: the browser hides a srflx equal to host)',
   'stun:203.0.113.5:3478', gathered({}), null, true, ['no NAT']],
  ['STUN with only an address-family error passes', 'stun:203.0.113.5:3478',
   gathered({errors: [{code: 701, text: 'STUN server address is incompatible.'}]}), null, true, []],
  ['STUN timing out means UDP blocked', 'stun:203.0.113.5:3478', gathered({complete: false}),
   null, false, ['UDP is blocked', '203.0.113.5:3478', 'No answer within 10 s']],
  ['STUN 701 means UDP blocked', 'stun:203.0.113.5:3478',
   gathered({errors: [{code: 701, text: 'STUN binding request timed out.'}]}), null, false,
   ['UDP is blocked']],
  ['TURN 401: credentials refused, secret mismatch or clock skew', 'turn:203.0.113.5?transport=udp',
   gathered({errors: [{code: 401, text: 'Unauthorized'}]}), null, false,
   ['refused the credentials (401)', 'auth.secrets', 'NTP']],
  ['TURN/TCP 701: the TCP port cannot be reached', 'turn:203.0.113.5:3478?transport=tcp',
   gathered({errors: [{code: 701, text: 'Failed to establish connection'}]}), null, false,
   ['Could not reach the TCP port', 'listener is not running or a firewall blocks TCP to ' +
    '203.0.113.5:3478']],
  ['TURNS 701: TLS not set up, certificate named', 'turns:turn.example.com:443?transport=tcp',
   gathered({errors: [{code: 701, text: 'Failed to establish connection'}]}), null, false,
   ['Could not set up TLS with turn.example.com:443', 'subjectAltName', 'turn.example.com']],
  ['TURN/UDP timing out without an error: UDP blocked', 'turn:203.0.113.5?transport=udp',
   gathered({complete: false}), null, false, ['UDP is blocked', 'No relay candidate within 10 s']],
  ['TURN 508: out of capacity', 'turn:203.0.113.5?transport=udp',
   gathered({errors: [{code: 508, text: 'Insufficient Capacity'}]}), null, false,
   ['out of capacity', 'relay.port_range']],
  ['TURN 300: redirected', 'turn:203.0.113.5?transport=udp',
   gathered({errors: [{code: 300, text: 'Try Alternate'}]}), null, false, ['300 Try Alternate']],
  ['TURN 403: draining', 'turn:203.0.113.5?transport=udp',
   gathered({errors: [{code: 403, text: 'Forbidden'}]}), null, false, ['403 Forbidden']],
  ['TURN other error code: quoted', 'turn:203.0.113.5?transport=udp',
   gathered({errors: [{code: 442, text: 'Unsupported Transport Protocol'}]}), null, false,
   ['(442 Unsupported Transport Protocol']],
  ['a private relayed address behind a public server address: external_addresses',
   'turn:198.51.100.10:3478?transport=udp', gathered({relayAddress: '10.0.0.5:50000'}), callOk,
   false, ['10.0.0.5:50000 is private', '198.51.100.10', 'relay.external_addresses']],
  ['a private relayed address behind a private server address is fine',
   'turn:10.0.0.5:3478?transport=udp', gathered({relayAddress: '10.0.0.5:50000'}), callOk, true, []],
  ['a relay candidate but no call: relay ports or peers.deny',
   'turn:203.0.113.5?transport=udp', gathered({relayAddress: '203.0.113.5:50000'}),
   {connected: false, echoes: 0, error: 'ICE failed', pair: null}, false,
   ['did not connect (ICE failed)', 'relay.port_range', 'peers.deny']],
  ['connected but echoes lost', 'turn:203.0.113.5?transport=udp',
   gathered({relayAddress: '203.0.113.5:50000'}), {...callOk, echoes: 2}, false,
   ['only 2 of 5 DataChannel messages']],
  ['relay candidate and a relay/relay call with 5 echoes passes',
   'turns:203.0.113.5:5349?transport=tcp', gathered({relayAddress: '203.0.113.5:50000'}), callOk,
   true, []],
];
for (const [name, uri, g, call, pass, parts] of cases) {
  const verdict = explain(parseUri(uri), g, call);
  const ok = verdict.pass === pass && parts.every((part) => verdict.why.includes(part));
  expect(`explain: ${name}`, ok, json(verdict));
}

if (failed) {
  console.log(`\nFAIL: ${failed} case(s)`);
  process.exit(1);
}
console.log('\nPASS: every verdict of the self-test page');
