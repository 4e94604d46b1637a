// The coturn options turnpike has no setting for, each with the one message it gets.
#include <algorithm>
#include <array>

#include "server/migrate_coturn_settings.hpp"

namespace turnpike::server::migrate {
namespace {

constexpr std::string_view kNoDatabase =
    "not carried over: turnpike has static users (auth.users) and REST secrets (auth.secrets) "
    "only, no user database; export the users as auth.users";
constexpr std::string_view kNoCli =
    "ignored: turnpike has no admin CLI (see /metrics and the logs)";
constexpr std::string_view kNoWebAdmin =
    "not carried over: turnpike has no web admin; /metrics and /healthz are served on "
    "http.address:http.port";
constexpr std::string_view kTlsFixed =
    "not carried over: turnpike offers TLS 1.2 and 1.3 with ECDHE key exchange on OpenSSL's "
    "default groups, and this is not configurable";
constexpr std::string_view kCipherList =
    "not carried over: turnpike offers TLS 1.2 and 1.3 with ECDHE key exchange and AEAD ciphers "
    "by default; coturn's lists admit weaker suites, so set tls.ciphers (TLS 1.2) and "
    "tls.ciphersuites (TLS 1.3) by hand if clients need others";
constexpr std::string_view kLogsToStderr =
    "turnpike logs to stderr (the journal under systemd), one line per allocation at info level";
constexpr std::string_view kUseSystemd =
    "not carried over: turnpike runs in the foreground, writes no pid file and does not change "
    "user; run it under systemd (User=, Group=)";
constexpr std::string_view kNoRedirect =
    "not carried over: turnpike redirects (ALTERNATE-SERVER) while draining or past a load "
    "threshold, to cluster.alternate_servers; set that (and cluster.redirect_above) by hand";

constexpr auto kWarn = MigrationSeverity::kWarning;
constexpr auto kNote = MigrationSeverity::kNote;

constexpr std::array kUnsupported = std::to_array<UnsupportedOption>({
    {"listening-device", false, kWarn,
     "not carried over: turnpike binds addresses, not devices; use listening-ip"},
    {"relay-device", false, kWarn,
     "not carried over: turnpike binds addresses, not devices; use relay-ip"},
    {"alt-listening-port", false, kWarn,
     "not carried over: turnpike's RFC 5780 (NAT behaviour discovery) is nat_discovery, off by "
     "default; to turn it on, set nat_discovery.enabled, alternate_address and "
     "alternate_port by hand (it opens the alternate UDP sockets itself)"},
    {"alt-tls-listening-port", false, kWarn,
     "not carried over: turnpike's RFC 5780 (NAT behaviour discovery, nat_discovery) is UDP "
     "only"},
    {"tcp-proxy-port", false, kWarn,
     "not carried over: turnpike takes the PROXY protocol (v1 or v2) on its own tcp, tls and "
     "auto listeners; set proxy_protocol: true on one by hand"},
    {"aux-server", false, kWarn,
     "not carried over: turnpike has no auxiliary servers; add the address to listening-ip (or "
     "listeners) instead"},
    {"udp-self-balance", true, kWarn, kNoRedirect},
    {"tls-alternate-server", false, kWarn, kNoRedirect},
    {"server-name", false, kNote, "ignored: it names the server for oAuth, which turnpike lacks"},
    {"oauth", true, kWarn, "not carried over: turnpike has no third-party (oAuth) authorization"},
    {"userdb", false, kWarn, kNoDatabase},
    {"db", false, kWarn, kNoDatabase},
    {"psql-userdb", false, kWarn, kNoDatabase},
    {"sql-userdb", false, kWarn, kNoDatabase},
    {"mysql-userdb", false, kWarn, kNoDatabase},
    {"mongo-userdb", false, kWarn, kNoDatabase},
    {"redis-userdb", false, kWarn, kNoDatabase},
    {"redis-statsdb", false, kWarn,
     "not carried over: turnpike publishes statistics on /metrics (Prometheus), not to Redis"},
    {"secret-key-file", false, kWarn,
     "not carried over: it decrypts database passwords, and turnpike has no user database"},
    {"no-auth-pings", true, kNote, "ignored: turnpike has no user database to ping"},
    {"no-dynamic-ip-list", true, kNote, "ignored: turnpike has no user database"},
    {"no-dynamic-realms", true, kNote, "ignored: turnpike has no user database"},
    {"prometheus-username-labels", true, kWarn,
     "not carried over: turnpike's metrics never carry user names"},
    {"check-origin-consistency", true, kWarn,
     "not carried over: turnpike does not check the ORIGIN attribute"},
    {"no-udp-relay", true, kWarn,
     "not carried over: turnpike relays over UDP only, and UDP relaying cannot be turned off"},
    {"no-tcp-relay", true, kNote,
     "turnpike has no TCP relay (RFC 6062) yet, so there is nothing to turn off"},
    {"stale-nonce", false, kNote,
     "turnpike always uses stale nonces: stateless, bound to the client address, valid for 10 "
     "minutes, then 438 Stale Nonce"},
    {"no-stun", true, kWarn, "not carried over: turnpike always answers STUN Binding requests"},
    {"secure-stun", true, kWarn,
     "not carried over: turnpike answers Binding requests without authentication"},
    {"mobility", true, kWarn,
     "not carried over: turnpike's mobility (RFC 8016) needs threads: 1; set mobility: true and "
     "threads: 1 by hand if one worker thread is enough"},
    {"max-allocate-timeout", false, kWarn,
     "not carried over: turnpike has no setting for the allocation set-up time"},
    {"server-relay", true, kWarn,
     "not carried over: turnpike always checks permissions on relayed traffic (RFC 8656)"},
    {"fingerprint", true, kNote,
     "turnpike adds FINGERPRINT to every response whose request has one, which is what clients "
     "check; it does not add it to the others"},
    {"no-loopback-peers", true, kNote,
     "turnpike denies loopback peers by default (coturn 4.6.1 no longer knows this option)"},
    {"pkey-pwd", false, kWarn,
     "not carried over: turnpike needs an unencrypted private key (openssl pkey -in KEY -out "
     "PLAIN)"},
    {"CA-file", false, kWarn, "not carried over: turnpike does not verify client certificates"},
    {"raw-public-keys", true, kWarn,
     "not carried over: turnpike does not support TLS raw public keys"},
    {"cipher-list", false, kWarn, kCipherList},
    {"ec-curve-name", false, kWarn, kTlsFixed},
    {"dh-file", false, kWarn, kTlsFixed},
    {"dh566", true, kNote, "ignored: turnpike uses ECDHE only, no DH parameters"},
    {"dh1066", true, kNote, "ignored: turnpike uses ECDHE only, no DH parameters"},
    {"no-tlsv1", true, kNote, "turnpike never offers TLS 1.0"},
    {"no-tlsv1_1", true, kNote, "turnpike never offers TLS 1.1"},
    {"no-tlsv1_2", true, kWarn,
     "not carried over: turnpike offers TLS 1.2 and 1.3, and TLS 1.2 cannot be turned off"},
    {"no-stdout-log", true, kNote, kLogsToStderr},
    {"syslog", true, kNote, kLogsToStderr},
    {"simple-log", true, kNote, kLogsToStderr},
    {"new-log-timestamp", true, kNote, kLogsToStderr},
    {"new-log-timestamp-format", false, kNote, kLogsToStderr},
    {"syslog-facility", false, kWarn,
     "not carried over: turnpike logs to stderr, not to syslog; under systemd the journal sets "
     "the facility (SyslogFacility=)"},
    {"log-binding", true, kNote, "turnpike logs Binding requests at debug level only"},
    {"daemon", true, kNote, kUseSystemd},
    {"pidfile", false, kWarn, kUseSystemd},
    {"proc-user", false, kWarn, kUseSystemd},
    {"proc-group", false, kWarn, kUseSystemd},
    {"no-cli", true, kNote, kNoCli},
    {"cli-ip", false, kNote, kNoCli},
    {"cli-port", false, kNote, kNoCli},
    {"cli-password", false, kNote, kNoCli},
    {"cli-max-output-sessions", false, kNote, kNoCli},
    {"web-admin", true, kWarn, kNoWebAdmin},
    {"web-admin-ip", false, kWarn, kNoWebAdmin},
    {"web-admin-port", false, kWarn, kNoWebAdmin},
    {"web-admin-listen-on-workers", true, kWarn, kNoWebAdmin},
    {"acme-redirect", false, kWarn,
     "not carried over: turnpike's HTTP endpoint does not redirect ACME challenges"},
    {"ne", false, kNote, "ignored: turnpike has one network engine (one event loop per worker)"},
    {"keep-address-family", true, kWarn,
     "not carried over: turnpike follows RFC 8656: an IPv4 relay unless the client asks for "
     "another family"},
    {"no-rfc5780", true, kNote,
     "turnpike's RFC 5780 NAT behaviour discovery (nat_discovery) is off by default anyway"},
    {"no-stun-backward-compatibility", true, kWarn,
     "not carried over: turnpike answers RFC 3489 Binding requests (MAPPED-ADDRESS) and this "
     "cannot be turned off"},
    {"response-origin-only-with-rfc5780", true, kNote,
     "turnpike sends RESPONSE-ORIGIN only with nat_discovery on (RFC 5780), which is off by "
     "default"},
    {"respond-http-unsupported", true, kWarn,
     "not carried over: turnpike does not answer HTTP on its STUN/TURN ports"},
});

}  // namespace

const UnsupportedOption* findUnsupported(std::string_view name) {
  const auto* found = std::ranges::find(kUnsupported, name, &UnsupportedOption::name);
  return found == kUnsupported.end() ? nullptr : found;
}

}  // namespace turnpike::server::migrate
