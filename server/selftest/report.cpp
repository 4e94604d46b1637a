#include "server/selftest/report.hpp"

#include <algorithm>

#include "server/http/json.hpp"
#include "server/selftest/text.hpp"

namespace turnpike::server::selftest {
namespace {

constexpr std::array<Check, kCheckCount> kChecks = {
    Check::kConnect,    Check::kBinding, Check::kAllocate, Check::kRelay,
    Check::kPermission, Check::kChannel, Check::kEcho,     Check::kRefresh};

std::string_view tag(Status status) {
  switch (status) {
    case Status::kPass:
      return "[ ok ]";
    case Status::kWarn:
      return "[WARN]";
    case Status::kFail:
      return "[FAIL]";
    case Status::kSkipped:
    case Status::kNotApplicable:
      return "[skip]";
  }
  return "[ ?? ]";
}

std::string millis(std::chrono::microseconds elapsed) {
  return fixed1(static_cast<double>(elapsed.count()) / 1000.0) + " ms";
}

}  // namespace

std::string_view toString(Check check) {
  switch (check) {
    case Check::kConnect:
      return "connect";
    case Check::kBinding:
      return "binding";
    case Check::kAllocate:
      return "allocate";
    case Check::kRelay:
      return "relay-address";
    case Check::kPermission:
      return "permission";
    case Check::kChannel:
      return "channel-bind";
    case Check::kEcho:
      return "echo";
    case Check::kRefresh:
      return "free";
  }
  return "?";
}

std::string_view toString(Status status) {
  switch (status) {
    case Status::kPass:
      return "pass";
    case Status::kWarn:
      return "warn";
    case Status::kFail:
      return "fail";
    case Status::kSkipped:
      return "skipped";
    case Status::kNotApplicable:
      return "n/a";
  }
  return "?";
}

bool Report::passed() const {
  return std::none_of(steps_.begin(), steps_.end(),
                      [](const Step& step) { return step.status == Status::kFail; });
}

Status Report::status(Transport transport, Check check) const {
  for (const Step& step : steps_) {
    if (step.transport == transport && step.check == check) {
      return step.status;
    }
  }
  return Status::kSkipped;
}

std::string progressLine(const Step& step) {
  std::string line = fill("{} {} {} {}", tag(step.status), padRight(toString(step.transport), 5),
                          padRight(toString(step.check), 14), step.detail);
  if (step.status != Status::kSkipped && step.status != Status::kNotApplicable) {
    line += "  " + millis(step.elapsed);
  }
  return line;
}

std::string summaryTable(const Report& report) {
  std::string out = padRight("check", 15);
  for (const Transport transport : kTransports) {
    out += padRight(toString(transport), 9);
  }
  out.erase(out.find_last_not_of(' ') + 1);
  out += "\n";
  for (const Check check : kChecks) {
    std::string row = padRight(toString(check), 15);
    for (const Transport transport : kTransports) {
      row += padRight(toString(report.status(transport, check)), 9);
    }
    row.erase(row.find_last_not_of(' ') + 1);
    out += row + "\n";
  }
  std::size_t failures = 0;
  std::size_t warnings = 0;
  for (const Step& step : report.steps()) {
    if (step.status == Status::kFail || step.status == Status::kWarn) {
      (step.status == Status::kFail ? failures : warnings) += 1;
      out += fill("{} {} {}: {}\n", step.status == Status::kFail ? "FAIL" : "WARN",
                  toString(step.transport), toString(step.check), step.detail);
    }
  }
  out += failures == 0 ? fill("PASS ({} warnings)\n", warnings)
                       : fill("FAIL ({} failed, {} warnings)\n", failures, warnings);
  return out;
}

std::string reportJson(const Report& report, const RunInfo& info) {
  JsonWriter w;
  w.beginObject();
  w.field("result", report.passed() ? "pass" : "fail");
  w.field("server", info.server).field("tls_server", info.tls_server);
  w.field("auth", info.auth).field("tls_verify", info.tls_verify);
  w.key("steps").beginArray();
  for (const Step& step : report.steps()) {
    w.beginObject()
        .field("transport", toString(step.transport))
        .field("check", toString(step.check))
        .field("status", toString(step.status))
        .field("detail", step.detail)
        .field("elapsed_us", step.elapsed.count())
        .endObject();
  }
  w.endArray();
  w.key("summary").beginObject();
  for (const Transport transport : kTransports) {
    w.key(toString(transport)).beginObject();
    for (const Check check : kChecks) {
      w.field(toString(check), toString(report.status(transport, check)));
    }
    w.endObject();
  }
  w.endObject();
  w.endObject();
  return w.text() + "\n";
}

}  // namespace turnpike::server::selftest
