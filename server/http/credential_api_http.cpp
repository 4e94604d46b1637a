// serveCredentialApi(): the credential API's libevent side. It only copies the request in and
// the response out; every decision is CredentialApi::handle()'s.
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <sys/socket.h>

#include <chrono>
#include <string>

#include "server/http/credential_api.hpp"
#include "server/http/http_reply.hpp"
#include "server/uv/handles.hpp"

namespace turnpike::server {
namespace {

std::string_view methodName(evhttp_cmd_type command) {
  switch (command) {
    case EVHTTP_REQ_GET:
      return "GET";
    case EVHTTP_REQ_POST:
      return "POST";
    case EVHTTP_REQ_HEAD:
      return "HEAD";
    case EVHTTP_REQ_PUT:
      return "PUT";
    case EVHTTP_REQ_DELETE:
      return "DELETE";
    case EVHTTP_REQ_OPTIONS:
      return "OPTIONS";
    case EVHTTP_REQ_TRACE:
      return "TRACE";
    case EVHTTP_REQ_CONNECT:
      return "CONNECT";
    case EVHTTP_REQ_PATCH:
      return "PATCH";
  }
  return "";
}

// The peer of the request's connection (0.0.0.0 if it cannot be read).
protocol::IpAddress clientAddress(evhttp_request* request) {
  evhttp_connection* connection = evhttp_request_get_connection(request);
  bufferevent* events =
      connection == nullptr ? nullptr : evhttp_connection_get_bufferevent(connection);
  const evutil_socket_t fd = events == nullptr ? -1 : bufferevent_getfd(events);
  sockaddr_storage storage{};
  socklen_t length = sizeof(storage);
  auto* address = static_cast<sockaddr*>(static_cast<void*>(&storage));
  if (fd < 0 || ::getpeername(fd, address, &length) != 0) {
    return {};
  }
  return uv::fromSockaddr(address).address;
}

std::string copyBody(evhttp_request* request) {
  evbuffer* input = evhttp_request_get_input_buffer(request);
  std::string body(evbuffer_get_length(input), '\0');
  if (!body.empty() && evbuffer_copyout(input, body.data(), body.size()) < 0) {
    body.clear();
  }
  return body;
}

}  // namespace

void serveCredentialApi(CredentialApi& api, evhttp_request* request) {
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(request);
  const char* path = uri == nullptr ? nullptr : evhttp_uri_get_path(uri);
  const char* query = uri == nullptr ? nullptr : evhttp_uri_get_query(uri);
  const char* authorization =
      evhttp_find_header(evhttp_request_get_input_headers(request), "Authorization");
  const std::string body = copyBody(request);

  ApiRequest in;
  in.method = methodName(evhttp_request_get_command(request));
  in.path = path == nullptr ? "" : path;
  in.query = query == nullptr ? "" : query;
  if (authorization != nullptr) {
    in.authorization = authorization;
  }
  in.body = body;
  in.client = clientAddress(request);

  const auto wall = std::chrono::system_clock::now().time_since_epoch();
  const ApiResponse out =
      api.handle(in, std::chrono::duration_cast<std::chrono::seconds>(wall).count(),
                 std::chrono::steady_clock::now());

  evkeyvalq* headers = evhttp_request_get_output_headers(request);
  for (const auto& [name, value] : out.headers) {
    evhttp_add_header(headers, name.c_str(), value.c_str());
  }
  sendReply(request, out.status, std::string(out.reason).c_str(), out.body);
}

}  // namespace turnpike::server
