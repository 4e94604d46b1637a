// RFC 8016 (mobility) across worker threads. Listeners use SO_REUSEPORT, so the kernel picks a
// worker per client 5-tuple: when a client moves (Wi-Fi to LTE), its new 5-tuple may land on a
// worker that does not hold its allocation. A MOBILITY-TICKET names the allocation's id, whose
// top byte is the worker that holds it (protocol::Core::ticketWorker); that worker's core checks
// the ticket (one key for the whole process) and moves the allocation.
//
// The worker that receives the Refresh copies it to the owner (Loop::post), and records the
// 5-tuple, so that the client's later messages (ChannelData, Send, Refresh) follow it there. The
// owner answers through its own socket of the same listener (listener ids are the same on every
// worker), so the client sees the same server address. A record outlives its allocation only
// harmlessly: any worker answers a client without an allocation the same way. Records idle for
// longer than an allocation can live are dropped.
#include <algorithm>
#include <optional>
#include <vector>

#include "protocol/stun/message.hpp"
#include "protocol/turn/core.hpp"
#include "server/worker.hpp"

namespace turnpike::server {
namespace {

// A STUN Refresh request (RFC 8656 section 7.3: method 0x004, class request): two byte
// compares, so that only Refreshes are parsed.
bool looksLikeRefreshRequest(protocol::ConstBytes bytes) {
  return bytes.size() >= 20 && bytes[0] == std::byte{0x00} && bytes[1] == std::byte{0x04};
}

}  // namespace

bool Worker::forwardToOwner(const protocol::ClientSource& client, protocol::ConstBytes data,
                            protocol::MonotonicTime now) {
  std::size_t owner = index_;
  // A Refresh with a MOBILITY-TICKET from a 5-tuple with no allocation here: the ticket decides,
  // also over an earlier record (the client may hold tickets of allocations on several workers).
  std::optional<std::size_t> ticket_owner;
  if (looksLikeRefreshRequest(data) && core_.findAllocation(client) == nullptr) {
    if (const auto message = protocol::Message::parse(data)) {
      if (const protocol::RawAttribute* ticket = message->find(protocol::attr::kMobilityTicket)) {
        ticket_owner = protocol::Core::ticketWorker(message->value(*ticket));
        if (ticket_owner && *ticket_owner >= siblings_.size()) {
          ticket_owner = index_;  // not a ticket of this server: the core answers 400
        }
      }
    }
  }
  if (ticket_owner) {
    owner = *ticket_owner;
    if (owner != index_) {
      forwarded_.insert_or_assign(client, Forwarded{owner, now});
    } else {
      forwarded_.erase(client);
    }
  } else if (!forwarded_.empty()) {
    const auto it = forwarded_.find(client);
    if (it != forwarded_.end()) {
      it->second.last = now;
      owner = it->second.owner;
    }
  }
  if (owner == index_) {
    return false;
  }
  stats_.mobility_forwarded.add();
  Worker* target = siblings_[owner];
  // A copy: `data` lies in this loop's receive slots. The owner sends its answers at once
  // (flush), before the copy goes.
  (void)target->loop_.post(
      [target, client, bytes = std::vector<std::byte>(data.begin(), data.end())] {
        target->handleClientMessage(client, bytes, std::chrono::steady_clock::now());
        target->flush();
      });
  return true;
}

void Worker::sweepForwarded(protocol::MonotonicTime now) {
  const auto idle = std::chrono::seconds(config_.allocation.max_lifetime);
  std::erase_if(forwarded_, [&](const auto& entry) { return now - entry.second.last > idle; });
}

}  // namespace turnpike::server
