#include "server/http/http_server.hpp"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "server/http/credential_api.hpp"
#include "server/http/http_reply.hpp"
#include "server/http/selftest_page.hpp"
#include "server/log.hpp"

namespace turnpike::server {
namespace {

void reply(evhttp_request* request, int code, const char* reason, const char* content_type,
           std::string_view body) {
  evkeyvalq* headers = evhttp_request_get_output_headers(request);
  evhttp_add_header(headers, "Content-Type", content_type);
  sendReply(request, code, reason, body);
}

// The self-test page: no caching, and a policy that runs only its own inline script and style
// and lets it talk to this origin alone.
void replySelftestPage(evhttp_request* request) {
  const SelftestPage& page = selftestPage();
  evkeyvalq* headers = evhttp_request_get_output_headers(request);
  evhttp_add_header(headers, "Cache-Control", "no-store");
  evhttp_add_header(headers, "Content-Security-Policy", page.content_security_policy.c_str());
  evhttp_add_header(headers, "X-Content-Type-Options", "nosniff");
  evhttp_add_header(headers, "Referrer-Policy", "no-referrer");
  evhttp_add_header(headers, "X-Frame-Options", "DENY");
  reply(request, HTTP_OK, "OK", "text/html; charset=utf-8", page.html);
}

// libevent's own messages go to turnpike's log (and its format) rather than bare stderr.
void logLibevent(int severity, const char* message) {
  switch (severity) {
    case EVENT_LOG_DEBUG:
      TP_LOG(kDebug, "libevent: ", message);
      break;
    case EVENT_LOG_MSG:
      TP_LOG(kInfo, "libevent: ", message);
      break;
    case EVENT_LOG_WARN:
      TP_LOG(kWarn, "libevent: ", message);
      break;
    default:
      TP_LOG(kError, "libevent: ", message);
  }
}

}  // namespace

void HttpServer::handle(evhttp_request* request, void* self_pointer) {
  auto* self = static_cast<HttpServer*>(self_pointer);
  const char* path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(request));
  const std::string_view route = path == nullptr ? "" : path;
  if (apiEndpointFor(route) && self->api_ != nullptr) {
    serveCredentialApi(*self->api_, request);
    return;
  }
  // Only the API takes methods beyond GET and HEAD: elsewhere they get libevent's old answer.
  const evhttp_cmd_type command = evhttp_request_get_command(request);
  if (command != EVHTTP_REQ_GET && command != EVHTTP_REQ_HEAD && !apiEndpointFor(route)) {
    evhttp_send_error(request, HTTP_NOTIMPLEMENTED, nullptr);
    return;
  }
  if (route == "/metrics") {
    reply(request, HTTP_OK, "OK", "text/plain; version=0.0.4; charset=utf-8", self->metrics_());
  } else if (route == "/selftest" && self->config_.selftest) {
    replySelftestPage(request);
  } else if (route == "/healthz" || route == "/readyz") {
    const Probe& probe = route == "/healthz" ? self->probes_.health : self->probes_.readiness;
    const auto verdict = probe ? probe() : std::expected<void, std::string>{};
    if (verdict) {
      reply(request, HTTP_OK, "OK", "text/plain; charset=utf-8", "ok\n");
    } else {
      reply(request, HTTP_SERVUNAVAIL, "Service Unavailable", "text/plain; charset=utf-8",
            verdict.error() + "\n");
    }
  } else {
    reply(request, HTTP_NOTFOUND, "Not Found", "text/plain; charset=utf-8", "not found\n");
  }
}

void HttpServer::BaseDeleter::operator()(event_base* base) const { event_base_free(base); }
void HttpServer::HttpDeleter::operator()(evhttp* http) const { evhttp_free(http); }
thread_local HttpServer* HttpServer::running_ = nullptr;

void HttpServer::EventDeleter::operator()(event* timer) const { event_free(timer); }

// accept() failed. Without this callback libevent warns on stderr and retries at once: at
// EMFILE a waiting connection then spins the thread at 100% CPU. Instead the listener pauses
// for kAcceptPause and tries again; the waiting client is served once an fd is free.
void HttpServer::acceptFailed(evconnlistener* listener, void* /*evhttp*/) {
  HttpServer* self = running_;
  const int error = EVUTIL_SOCKET_ERROR();
  evconnlistener_disable(listener);
  const auto now = std::chrono::steady_clock::now();
  if (now - self->last_accept_warning_ >= kAcceptWarningInterval) {
    self->last_accept_warning_ = now;
    TP_LOG(kWarn, "http: accept failed (", std::strerror(error), "); pausing the listener for ",
           kAcceptPause.count(), " ms at a time");
  }
  const timeval pause{.tv_sec = 0, .tv_usec = kAcceptPause.count() * 1000};
  evtimer_add(self->resume_accept_.get(), &pause);
}

void HttpServer::resumeAccept(evutil_socket_t /*unused*/, short /*unused*/, void* self_pointer) {
  auto* self = static_cast<HttpServer*>(self_pointer);
  evconnlistener_enable(self->listener_);
}

HttpServer::HttpServer(const HttpConfig& config, MetricsSource metrics, Probes probes,
                       CredentialApi* api)
    : config_(config), metrics_(std::move(metrics)), probes_(std::move(probes)), api_(api) {}

HttpServer::~HttpServer() { stop(); }

std::expected<void, std::string> HttpServer::start() {
  if (config_.port == 0) {
    return {};
  }
  if (config_.selftest) {
    static_cast<void>(selftestPage());  // hashes the page's script and style now, not mid-request
  }
  // stop() breaks the loop from another thread: libevent needs its pthreads locking for that.
  static std::once_flag threads_enabled;
  std::call_once(threads_enabled, [] {
    evthread_use_pthreads();
    event_set_log_callback(&logLibevent);
  });
  base_.reset(event_base_new());
  http_.reset(evhttp_new(base_.get()));
  if (!base_ || !http_) {
    return std::unexpected("http: cannot create the libevent base");
  }
  // The API answers 405 itself for methods it does not take, so libevent lets them through.
  evhttp_set_allowed_methods(http_.get(), EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                              EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                              EVHTTP_REQ_PATCH | EVHTTP_REQ_OPTIONS);
  // Bodies up to 4 x the API's limit reach it (and get its JSON 400); larger ones get
  // libevent's 413. Headers are bounded too.
  evhttp_set_max_body_size(http_.get(), 4 * kApiMaxBodySize);
  evhttp_set_max_headers_size(http_.get(), 4 * kApiMaxBodySize);
  evhttp_set_timeout(http_.get(), 10);
  evhttp_set_gencb(http_.get(), &HttpServer::handle, this);
  const std::string address = config_.address.toString();
  evhttp_bound_socket* bound =
      evhttp_bind_socket_with_handle(http_.get(), address.c_str(), config_.port);
  resume_accept_.reset(evtimer_new(base_.get(), &HttpServer::resumeAccept, this));
  if (bound == nullptr || !resume_accept_) {
    const std::string where = protocol::Endpoint{config_.address, config_.port}.toString();
    resume_accept_.reset();
    http_.reset();
    base_.reset();
    return std::unexpected("http: cannot bind " + where);
  }
  listener_ = evhttp_bound_socket_get_listener(bound);
  evconnlistener_set_error_cb(listener_, &HttpServer::acceptFailed);
  TP_LOG(kInfo, "listening on http ", protocol::Endpoint{config_.address, config_.port}.toString());
  thread_ = std::thread([this] {
    running_ = this;
    event_base_dispatch(base_.get());
  });
  return {};
}

void HttpServer::stop() {
  if (thread_.joinable()) {
    event_base_loopbreak(base_.get());
    thread_.join();
  }
  resume_accept_.reset();
  listener_ = nullptr;
  http_.reset();
  base_.reset();
}

}  // namespace turnpike::server
