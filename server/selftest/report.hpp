// `turnpike selftest`: the steps' results and how they are printed (progress lines, the summary
// table, the JSON report). Pure: no I/O, unit-tested.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "server/selftest/diagnosis.hpp"

namespace turnpike::server::selftest {

// The checks, in the order they run on each transport.
enum class Check : std::uint8_t {
  kConnect,     // TCP connect / TLS handshake (not applicable to UDP)
  kBinding,     // Binding request: the mapped address
  kAllocate,    // Allocate with the credentials (401 challenge first)
  kRelay,       // the relayed address: private while the server is public?
  kPermission,  // CreatePermission for the peer socket
  kChannel,     // ChannelBind for the peer socket
  kEcho,        // ChannelData through the relay to the peer and back
  kRefresh,     // Refresh with LIFETIME 0: the allocation is freed
};
inline constexpr std::size_t kCheckCount = 8;
inline constexpr std::array<Transport, 3> kTransports = {Transport::kUdp, Transport::kTcp,
                                                         Transport::kTls};
[[nodiscard]] std::string_view toString(Check check);

// kWarn passes (exit status 0) but is printed as a warning; kNotApplicable is the UDP connect.
enum class Status : std::uint8_t { kPass, kWarn, kFail, kSkipped, kNotApplicable };
[[nodiscard]] std::string_view toString(Status status);

struct Step {
  Transport transport = Transport::kUdp;
  Check check = Check::kBinding;
  Status status = Status::kPass;
  std::string detail{};  // what was seen, or the failure's message, or why it was skipped
  std::chrono::microseconds elapsed{0};
};

// Facts about the run, printed above the table and in the JSON report.
struct RunInfo {
  std::string server{};      // HOST:PORT as given / resolved
  std::string tls_server{};  // HOST:TLS_PORT
  std::string auth{};        // "secret (REST credential for 1700003600:selftest)" / "user alice"
  std::string tls_verify{};  // "--ca FILE", "system trust store", "not verified (--insecure)"
};

class Report {
 public:
  void add(Step step) { steps_.push_back(std::move(step)); }
  [[nodiscard]] const std::vector<Step>& steps() const { return steps_; }
  // No step failed.
  [[nodiscard]] bool passed() const;
  // The status of a check on a transport; kSkipped when it has no step.
  [[nodiscard]] Status status(Transport transport, Check check) const;

 private:
  std::vector<Step> steps_;
};

// "[ ok ] udp   binding      mapped 127.0.0.1:40000  1.2 ms" (FAIL/WARN/skip likewise).
[[nodiscard]] std::string progressLine(const Step& step);
// check x transport table, then one line per failure and warning, then the verdict line.
[[nodiscard]] std::string summaryTable(const Report& report);
// {"result":"pass","server":...,"steps":[{"transport":"udp","check":"binding",...}],
//  "summary":{"udp":{"binding":"pass",...},...}}
[[nodiscard]] std::string reportJson(const Report& report, const RunInfo& info);

}  // namespace turnpike::server::selftest
