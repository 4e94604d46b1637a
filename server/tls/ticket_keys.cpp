#include "server/tls/ticket_keys.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <utility>

namespace turnpike::server::tls {
namespace {

// A key of fresh random bytes, or nullopt when the random generator fails.
std::optional<TicketKeys::Key> randomKey() {
  TicketKeys::Key key;
  if (RAND_bytes(key.name.data(), static_cast<int>(key.name.size())) != 1 ||
      RAND_priv_bytes(key.aes_key.data(), static_cast<int>(key.aes_key.size())) != 1 ||
      RAND_priv_bytes(key.hmac_key.data(), static_cast<int>(key.hmac_key.size())) != 1) {
    return std::nullopt;
  }
  return key;
}

void cleanse(TicketKeys::Key& key) { OPENSSL_cleanse(&key, sizeof(key)); }

}  // namespace

TicketKeys::TicketKeys(TicketClock clock, std::chrono::seconds rotation)
    : clock_(std::move(clock)), rotation_(rotation) {}

TicketKeys::~TicketKeys() {
  for (std::optional<Slot>* slot : {&current_, &previous_}) {
    if (*slot) {
      cleanse((*slot)->key);
    }
  }
}

void TicketKeys::setRotation(std::chrono::seconds rotation) {
  const std::lock_guard lock(mutex_);
  rotation_ = rotation;
}

std::chrono::seconds TicketKeys::rotation() const {
  const std::lock_guard lock(mutex_);
  return rotation_;
}

std::uint64_t TicketKeys::generation() const {
  const std::lock_guard lock(mutex_);
  return generation_;
}

bool TicketKeys::rotateLocked(std::chrono::steady_clock::time_point now) {
  if (current_ && now - current_->start < rotation_) {
    return true;
  }
  std::optional<Key> fresh = randomKey();
  if (!fresh) {
    return false;
  }
  std::chrono::steady_clock::time_point start = now;
  std::int64_t periods = 2;  // no key yet: nothing to keep
  if (current_) {
    periods = (now - current_->start) / rotation_;
    start = current_->start + periods * rotation_;
  }
  if (previous_) {
    cleanse(previous_->key);
  }
  // One period on: the current key becomes the previous one. Two or more: both are too old.
  previous_ = periods == 1 ? std::exchange(current_, std::nullopt) : std::nullopt;
  if (current_) {
    cleanse(current_->key);
  }
  current_ = Slot{*fresh, start};
  cleanse(*fresh);
  ++generation_;
  return true;
}

std::optional<TicketKeys::Key> TicketKeys::encryptionKey() {
  const auto now = clock_();
  const std::lock_guard lock(mutex_);
  if (!rotateLocked(now) || !current_) {
    return std::nullopt;
  }
  return current_->key;
}

TicketKeys::Match TicketKeys::find(const std::array<unsigned char, kNameSize>& name, Key& key) {
  const auto now = clock_();
  const std::lock_guard lock(mutex_);
  // A failed rotation keeps the keys as they were: decryption still works with them.
  static_cast<void>(rotateLocked(now));
  if (current_ && CRYPTO_memcmp(current_->key.name.data(), name.data(), kNameSize) == 0) {
    key = current_->key;
    return Match::kCurrent;
  }
  if (previous_ && CRYPTO_memcmp(previous_->key.name.data(), name.data(), kNameSize) == 0) {
    key = previous_->key;
    return Match::kPrevious;
  }
  return Match::kNone;
}

}  // namespace turnpike::server::tls
