// Pieces the TLS client tests share: a client context that trusts only the test certificate,
// and blocking sockets whose reads and writes time out.
#pragma once

#include <fcntl.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <chrono>
#include <filesystem>
#include <memory>

#include <gtest/gtest.h>

#include "tests/integration/server_fixture.hpp"

namespace turnpike::test {

struct ContextFree {
  void operator()(SSL_CTX* context) const { SSL_CTX_free(context); }
};
using ClientContext = std::unique_ptr<SSL_CTX, ContextFree>;

// A client that trusts only `certificate` (clients check the name "localhost").
inline ClientContext clientContext(const std::filesystem::path& certificate) {
  ClientContext context(SSL_CTX_new(TLS_client_method()));
  EXPECT_EQ(SSL_CTX_load_verify_locations(context.get(), certificate.c_str(), nullptr), 1);
  SSL_CTX_set_verify(context.get(), SSL_VERIFY_PEER, nullptr);
  return context;
}

// Every read and write on fd bounded by `timeout`.
inline bool setTimeouts(int fd, Millis timeout) {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  const timeval limit{static_cast<time_t>(seconds.count()),
                      static_cast<suseconds_t>((timeout - seconds).count() * 1000)};
  return ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit)) == 0 &&
         ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit)) == 0;
}

// Makes a connected socket blocking, with every read and write bounded by `timeout`.
inline bool makeBlockingWithTimeouts(int fd, Millis timeout) {
  const int flags = ::fcntl(fd, F_GETFL);
  return flags >= 0 && ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0 && setTimeouts(fd, timeout);
}

}  // namespace turnpike::test
