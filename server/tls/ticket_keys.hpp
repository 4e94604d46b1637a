// Session ticket keys with rotation (RFC 5077 section 5.5 and RFC 8446 section 4.6.1: a ticket
// is protected by a server key that should change). OpenSSL makes one ticket key per SSL_CTX
// and keeps it for the context's life; turnpike replaces it every `rotation` instead, and keeps
// the keys in the TlsContext so that they outlive a certificate reload (SIGHUP).
//
// Periods: the current key encrypts new tickets for one rotation period, starting at the period
// boundary. In the next period it is the previous key, which still decrypts (and asks for a
// fresh ticket); after that it is forgotten. A ticket is therefore accepted for at most two
// periods. Rotation is lazy, on the first use in a new period; a gap of two periods or more
// forgets both keys.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>

namespace turnpike::server::tls {

using TicketClock = std::function<std::chrono::steady_clock::time_point()>;

class TicketKeys {
 public:
  static constexpr std::size_t kNameSize = 16;  // the key_name of OpenSSL's ticket callback
  static constexpr std::size_t kSecretSize = 32;

  struct Key {
    std::array<unsigned char, kNameSize> name{};
    std::array<unsigned char, kSecretSize> aes_key{};   // AES-256-CBC
    std::array<unsigned char, kSecretSize> hmac_key{};  // HMAC-SHA256
  };

  enum class Match : std::uint8_t { kNone, kCurrent, kPrevious };

  // `clock` is read on every call, from any thread.
  TicketKeys(TicketClock clock, std::chrono::seconds rotation);
  TicketKeys(const TicketKeys&) = delete;
  TicketKeys& operator=(const TicketKeys&) = delete;
  ~TicketKeys();

  // A new rotation period, from now on (reload); the current key keeps its period start.
  void setRotation(std::chrono::seconds rotation);
  [[nodiscard]] std::chrono::seconds rotation() const;

  // The key that encrypts a new ticket now, or nullopt when no random key could be made.
  [[nodiscard]] std::optional<Key> encryptionKey();
  // Which key, if any, has this name now; `key` receives it.
  [[nodiscard]] Match find(const std::array<unsigned char, kNameSize>& name, Key& key);

  // Rotations so far (a new current key; the first key counts as one).
  [[nodiscard]] std::uint64_t generation() const;

 private:
  struct Slot {
    Key key;
    std::chrono::steady_clock::time_point start;  // start of the period it encrypts in
  };
  // Under mutex_: rotates when a period boundary has passed. False when no random key could
  // be made (the keys are then unchanged).
  bool rotateLocked(std::chrono::steady_clock::time_point now);

  TicketClock clock_;
  mutable std::mutex mutex_;  // OpenSSL calls back on every worker thread
  std::chrono::seconds rotation_;
  std::optional<Slot> current_;
  std::optional<Slot> previous_;
  std::uint64_t generation_ = 0;
};

}  // namespace turnpike::server::tls
