// Sending a whole HTTP response with libevent.
#pragma once

#include <event2/buffer.h>
#include <event2/http.h>

#include <string>
#include <string_view>

namespace turnpike::server {

// Sends `body` with the status line. A HEAD request gets the headers a GET would (the
// Content-Length of the body) and no body: libevent 2.1 writes the body on HEAD too.
inline void sendReply(evhttp_request* request, int code, const char* reason,
                      std::string_view body) {
  if (evhttp_request_get_command(request) == EVHTTP_REQ_HEAD) {
    evhttp_add_header(evhttp_request_get_output_headers(request), "Content-Length",
                      std::to_string(body.size()).c_str());
    evhttp_send_reply(request, code, reason, nullptr);
    return;
  }
  evbuffer* buffer = evbuffer_new();
  evbuffer_add(buffer, body.data(), body.size());
  evhttp_send_reply(request, code, reason, buffer);
  evbuffer_free(buffer);
}

}  // namespace turnpike::server
