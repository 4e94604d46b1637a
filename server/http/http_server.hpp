// The operations HTTP endpoint (libevent), on its own thread: GET /metrics, /healthz, /readyz
// and, when it is on, the credential API (server/http/credential_api.hpp).
#pragma once

#include <chrono>
#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "server/config/config.hpp"

struct event;
struct event_base;
struct evconnlistener;
struct evhttp;
struct evhttp_request;

namespace turnpike::server {

class CredentialApi;

class HttpServer {
 public:
  // Produces the /metrics body; called on the HTTP thread.
  using MetricsSource = std::function<std::string()>;
  // A probe: success is 200 "ok", an error is 503 with the error text as the body.
  using Probe = std::function<std::expected<void, std::string>()>;
  struct Probes {
    Probe health;     // GET /healthz
    Probe readiness;  // GET /readyz
  };

  // `api` (borrowed, outlives the server) answers /api/v1/...; null when the API is off.
  HttpServer(const HttpConfig& config, MetricsSource metrics, Probes probes = {},
             CredentialApi* api = nullptr);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts the thread. A port of 0 in the config means HTTP is off: nothing happens.
  [[nodiscard]] std::expected<void, std::string> start();
  void stop();

 private:
  // How long the listener rests after accept() fails (EMFILE, ENFILE, ENOBUFS).
  static constexpr std::chrono::milliseconds kAcceptPause{100};
  static constexpr std::chrono::seconds kAcceptWarningInterval{10};

  static void handle(evhttp_request* request, void* self_pointer);
  // libevent hands the error callback evhttp's pointer, not ours: the server whose thread
  // this is comes from running_.
  static void acceptFailed(evconnlistener* listener, void* evhttp_pointer);
  static void resumeAccept(int fd, short events, void* self_pointer);

  struct BaseDeleter {
    void operator()(event_base* base) const;
  };
  struct HttpDeleter {
    void operator()(evhttp* http) const;
  };
  struct EventDeleter {
    void operator()(event* timer) const;
  };

  HttpConfig config_;
  MetricsSource metrics_;
  Probes probes_;
  CredentialApi* api_;
  static thread_local HttpServer* running_;

  std::unique_ptr<event_base, BaseDeleter> base_;
  std::unique_ptr<evhttp, HttpDeleter> http_;
  std::unique_ptr<event, EventDeleter> resume_accept_;
  evconnlistener* listener_ = nullptr;                           // owned by http_
  std::chrono::steady_clock::time_point last_accept_warning_{};  // HTTP thread only
  std::thread thread_;
};

}  // namespace turnpike::server
