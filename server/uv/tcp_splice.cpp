#include "server/uv/tcp_splice.hpp"

#include <utility>

namespace turnpike::server::uv {

struct TcpSplice::Chunk {
  uv_write_t request{};
  std::vector<std::byte> data;
  std::shared_ptr<TcpSplice*> owner;
  Side to = Side::kClient;
};

namespace {

constexpr std::size_t sideIndex(auto side) { return static_cast<std::size_t>(side); }

}  // namespace

TcpSplice::TcpSplice(uv_tcp_t* client, uv_alloc_cb alloc_cb, uv_read_cb read_cb,
                     TcpSpliceCallbacks& callbacks)
    : client_(client), client_alloc_(alloc_cb), client_read_(read_cb), callbacks_(callbacks) {}

TcpSplice::~TcpSplice() {
  stop();
  *self_ = nullptr;
}

std::expected<void, UvError> TcpSplice::start(const protocol::Endpoint& backend,
                                              std::vector<std::byte> first,
                                              std::chrono::milliseconds connect_timeout) {
  uv_read_stop(asStream(client_));  // until the backend answers
  first_ = std::move(first);
  backend_ = new uv_tcp_t;
  if (const int rc = uv_tcp_init(client_->loop, backend_); rc != 0) {
    delete std::exchange(backend_, nullptr);
    return std::unexpected(UvError{"uv_tcp_init", rc});
  }
  backend_->data = this;
  if (const int rc = startConnect(backend_, backend, self_, onConnect); rc != 0) {
    return std::unexpected(UvError{"connect " + backend.toString(), rc});
  }
  connect_timer_ = new uv_timer_t;
  uv_timer_init(client_->loop, connect_timer_);
  connect_timer_->data = this;
  const auto timeout_ms = static_cast<std::uint64_t>(connect_timeout.count());
  if (const int rc = uv_timer_start(connect_timer_, onConnectTimeout, timeout_ms, 0); rc != 0) {
    return std::unexpected(UvError{"uv_timer_start", rc});
  }
  return {};
}

void TcpSplice::startConnected(uv_tcp_t* backend, std::vector<std::byte> first,
                               TcpSpliceClientCodec* codec) {
  uv_read_stop(asStream(client_));  // connected() starts it again with the splice's callbacks
  codec_ = codec;
  first_ = std::move(first);
  backend_ = backend;
  backend_->data = this;
  connected(0);
}

void TcpSplice::stop() {
  if (stopped_) {
    return;
  }
  stopped_ = true;
  if (backend_ != nullptr) {
    uv_read_stop(asStream(backend_));
    closeAndDelete(std::exchange(backend_, nullptr));  // a pending connect ends as ECANCELED
  }
  closeAndDelete(std::exchange(connect_timer_, nullptr));
  closeAndDelete(std::exchange(throttle_timer_, nullptr));
  uv_read_stop(asStream(client_));
}

void TcpSplice::onConnect(uv_connect_t* request, int status) {
  TcpSplice* self = takeConnectOwner<TcpSplice>(request);
  if (self != nullptr && !self->stopped_) {
    self->connected(status);
  }
}

void TcpSplice::onConnectTimeout(uv_timer_t* timer) {
  if (auto* self = static_cast<TcpSplice*>(timer->data); self != nullptr) {
    self->end(TcpSpliceCallbacks::End::kConnectError);
  }
}

void TcpSplice::connected(int status) {
  closeAndDelete(std::exchange(connect_timer_, nullptr));
  if (status < 0) {
    end(TcpSpliceCallbacks::End::kConnectError);
    return;
  }
  connected_ = true;
  uv_tcp_nodelay(backend_, 1);
  forward(Side::kBackend, first_);
  if (!first_.empty()) {
    spend(Side::kClient, first_.size());
  }
  std::vector<std::byte>().swap(first_);
  if (codec_ != nullptr && !stopped_) {
    decodeClient({});  // e.g. TLS records read with the ConnectionBind, not decrypted yet
  }
  if (stopped_) {
    return;
  }
  startReading(Side::kBackend);
  if (!stopped_) {
    startReading(Side::kClient);
  }
}

void TcpSplice::startReading(Side side) {
  const std::size_t index = sideIndex(side);
  if (stopped_ || !connected_ || paused_[index] || throttled_ || eof_[index]) {
    return;
  }
  const int rc = side == Side::kClient ? uv_read_start(stream(side), client_alloc_, client_read_)
                                       : uv_read_start(stream(side), onBackendAlloc, onBackendRead);
  if (rc != 0 && rc != UV_EALREADY) {
    end(side == Side::kClient ? TcpSpliceCallbacks::End::kClientError
                              : TcpSpliceCallbacks::End::kBackendError);
  }
}

void TcpSplice::setGrant(Grant grant) {
  grant_ = std::move(grant);
  credit_ = 0;
  refillCredit();
}

void TcpSplice::spend(Side from, std::size_t size) {
  if (from == Side::kClient) {
    counts_.from_client_bytes += size;
    ++counts_.from_client_reads;
  } else {
    counts_.from_backend_bytes += size;
    ++counts_.from_backend_reads;
  }
  if (grant_) {
    credit_ -= static_cast<std::int64_t>(size);
    if (credit_ <= 0) {
      refillCredit();
    }
  }
}

void TcpSplice::refillCredit() {
  if (stopped_) {
    return;
  }
  credit_ += static_cast<std::int64_t>(grant_(kBufferSize));
  if (credit_ > 0) {
    if (throttled_) {
      throttled_ = false;
      startReading(Side::kClient);
      startReading(Side::kBackend);
    }
    return;
  }
  if (!throttled_) {
    throttled_ = true;
    ++counts_.throttled;
    uv_read_stop(asStream(client_));
    if (backend_ != nullptr) {
      uv_read_stop(asStream(backend_));
    }
  }
  if (throttle_timer_ == nullptr) {
    throttle_timer_ = new uv_timer_t;
    uv_timer_init(client_->loop, throttle_timer_);
    throttle_timer_->data = this;
  }
  const auto retry_ms = static_cast<std::uint64_t>(kThrottleRetry.count());
  uv_timer_start(throttle_timer_, onThrottleTimer, retry_ms, 0);
}

void TcpSplice::onThrottleTimer(uv_timer_t* timer) {
  if (auto* self = static_cast<TcpSplice*>(timer->data); self != nullptr) {
    self->refillCredit();
  }
}

uv_stream_t* TcpSplice::stream(Side side) const {
  return side == Side::kClient ? asStream(client_) : asStream(backend_);
}

uv_buf_t TcpSplice::clientBuffer() {
  if (client_buffer_ == nullptr) {
    client_buffer_ = std::make_unique<std::array<std::byte, kBufferSize>>();
  }
  return uv_buf_init(reinterpret_cast<char*>(client_buffer_->data()),  // NOLINT
                     static_cast<unsigned>(client_buffer_->size()));
}

void TcpSplice::onClientRead(ssize_t nread) {
  if (stopped_ || nread == 0) {
    return;
  }
  if (nread == UV_EOF) {
    eof(Side::kClient);
  } else if (nread == UV_ECONNRESET) {
    end(TcpSpliceCallbacks::End::kDone);
  } else if (nread < 0) {
    end(TcpSpliceCallbacks::End::kClientError);
  } else {
    const auto size = static_cast<std::size_t>(nread);
    const protocol::ConstBytes bytes = protocol::ConstBytes(*client_buffer_).first(size);
    if (codec_ != nullptr) {
      decodeClient(bytes);
    } else {
      forward(Side::kBackend, bytes);
    }
    if (!stopped_) {
      spend(Side::kClient, size);
    }
  }
}

void TcpSplice::decodeClient(protocol::ConstBytes bytes) {
  switch (codec_->fromClient(bytes, *this)) {
    case TcpSpliceClientCodec::Status::kOk:
      return;
    case TcpSpliceClientCodec::Status::kEof:
      if (!stopped_) {
        eof(Side::kClient);
      }
      return;
    case TcpSpliceClientCodec::Status::kError:
      end(TcpSpliceCallbacks::End::kClientCodecError);
      return;
  }
}

void TcpSplice::onBackendAlloc(uv_handle_t* handle, std::size_t /*suggested*/, uv_buf_t* buffer) {
  auto* self = static_cast<TcpSplice*>(handle->data);
  if (self == nullptr) {
    *buffer = uv_buf_init(nullptr, 0);
    return;
  }
  if (self->backend_buffer_ == nullptr) {
    self->backend_buffer_ = std::make_unique<std::array<std::byte, kBufferSize>>();
  }
  *buffer = uv_buf_init(reinterpret_cast<char*>(self->backend_buffer_->data()),  // NOLINT
                        static_cast<unsigned>(self->backend_buffer_->size()));
}

void TcpSplice::onBackendRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* /*buffer*/) {
  auto* self = static_cast<TcpSplice*>(stream->data);
  if (self == nullptr || self->stopped_ || nread == 0) {
    return;
  }
  if (nread == UV_EOF) {
    self->eof(Side::kBackend);
  } else if (nread < 0) {
    self->end(TcpSpliceCallbacks::End::kBackendError);
  } else {
    const auto size = static_cast<std::size_t>(nread);
    const protocol::ConstBytes bytes = protocol::ConstBytes(*self->backend_buffer_).first(size);
    if (self->codec_ == nullptr) {
      self->forward(Side::kClient, bytes);
    } else if (!self->codec_->fromBackend(bytes, *self)) {
      self->end(TcpSpliceCallbacks::End::kClientCodecError);
    }
    if (!self->stopped_) {
      self->spend(Side::kBackend, size);
    }
  }
}

void TcpSplice::forward(Side to, protocol::ConstBytes data) {
  if (stopped_ || data.empty()) {
    return;
  }
  activity_ = true;
  const auto error = to == Side::kClient ? TcpSpliceCallbacks::End::kClientError
                                         : TcpSpliceCallbacks::End::kBackendError;
  uv_buf_t buffer =
      uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(data.data())),  // NOLINT
                  static_cast<unsigned>(data.size()));
  std::size_t written = 0;
  if (queued_[sideIndex(to)] == 0) {  // keep order: never write around queued bytes
    const int rc = uv_try_write(stream(to), &buffer, 1);
    if (rc < 0 && rc != UV_EAGAIN) {
      end(error);
      return;
    }
    written = rc > 0 ? static_cast<std::size_t>(rc) : 0;
  }
  if (written == data.size()) {
    return;
  }
  const protocol::ConstBytes rest = data.subspan(written);
  auto* chunk = new Chunk{{}, {rest.begin(), rest.end()}, self_, to};
  chunk->request.data = chunk;
  buffer = uv_buf_init(reinterpret_cast<char*>(chunk->data.data()),  // NOLINT
                       static_cast<unsigned>(chunk->data.size()));
  queued_[sideIndex(to)] += rest.size();
  const int rc =
      uv_write(&chunk->request, stream(to), &buffer, 1, [](uv_write_t* request, int status) {
        auto* done = static_cast<Chunk*>(request->data);
        TcpSplice* owner = *done->owner;
        const Side side = done->to;
        const std::size_t size = done->data.size();
        delete done;
        if (owner != nullptr) {
          owner->written(side, size, status);
        }
      });
  if (rc != 0) {
    queued_[sideIndex(to)] -= rest.size();
    delete chunk;
    end(error);
    return;
  }
  // Backpressure: stop reading the source while its bytes wait here.
  const Side source = to == Side::kClient ? Side::kBackend : Side::kClient;
  if (queued_[sideIndex(to)] > kHighWater && !paused_[sideIndex(source)]) {
    paused_[sideIndex(source)] = true;
    uv_read_stop(stream(source));
  }
}

void TcpSplice::written(Side to, std::size_t size, int status) {
  queued_[sideIndex(to)] -= size;
  if (stopped_) {
    return;
  }
  if (status < 0) {
    end(to == Side::kClient ? TcpSpliceCallbacks::End::kClientError
                            : TcpSpliceCallbacks::End::kBackendError);
    return;
  }
  const Side source = to == Side::kClient ? Side::kBackend : Side::kClient;
  if (paused_[sideIndex(source)] && queued_[sideIndex(to)] < kLowWater) {
    resume(source);
  }
  if (eof_[0] && eof_[1] && queued_[0] == 0 && queued_[1] == 0) {
    end(TcpSpliceCallbacks::End::kDone);
  }
}

void TcpSplice::resume(Side source) {
  paused_[sideIndex(source)] = false;
  startReading(source);  // unless at EOF, not yet connected, or throttled
}

void TcpSplice::eof(Side from) {
  eof_[sideIndex(from)] = true;
  uv_read_stop(stream(from));
  if (from == Side::kBackend && codec_ != nullptr) {
    codec_->backendEnded(*this);  // TLS: close_notify, then the FIN below
    if (stopped_) {
      return;
    }
  }
  const Side to = from == Side::kClient ? Side::kBackend : Side::kClient;
  if (!eof_[sideIndex(to)]) {
    // Half close: the other side gets a FIN once what is queued towards it is written.
    auto* request = new uv_shutdown_t;
    if (uv_shutdown(request, stream(to),
                    [](uv_shutdown_t* done, int /*status*/) { delete done; }) != 0) {
      delete request;
    }
    return;
  }
  if (queued_[0] == 0 && queued_[1] == 0) {
    end(TcpSpliceCallbacks::End::kDone);
  }
}

void TcpSplice::end(TcpSpliceCallbacks::End how) {
  if (stopped_) {
    return;
  }
  stop();
  callbacks_.onSpliceEnd(how);
}

}  // namespace turnpike::server::uv
