#include "protocol/turn/port_pool.hpp"

#include <algorithm>
#include <utility>

namespace turnpike::protocol {

PortPool::PortPool(std::vector<IpAddress> addresses, std::uint16_t port_min, std::uint16_t port_max,
                   RandomSource& random)
    : addresses_(std::move(addresses)),
      port_min_(port_min),
      port_max_(std::max(port_min, port_max)),
      ports_(addresses_.size()) {
  const std::size_t range = std::size_t{port_max_} - port_min_ + 1;
  std::vector<std::uint16_t> order(range);
  for (Ports& ports : ports_) {
    for (std::size_t i = 0; i < range; ++i) {
      order[i] = static_cast<std::uint16_t>(port_min_ + i);
    }
    // Fisher-Yates with the core's random source (not std::shuffle: its use of the generator
    // is unspecified, and tests want a fake source to give a known order).
    for (std::size_t i = range - 1; i > 0; --i) {
      std::swap(order[i], order[random.next() % (i + 1)]);
    }
    ports.queue.assign(order.begin(), order.end());
    ports.free.assign(range, true);
    ports.free_count = range;
  }
}

bool PortPool::isFree(const Ports& ports, std::uint32_t port) const {
  return port >= port_min_ && port <= port_max_ && ports.free[port - port_min_];
}

void PortPool::markTaken(Ports& ports, std::uint32_t port) {
  ports.free[port - port_min_] = false;
  --ports.free_count;
}

std::optional<std::uint16_t> PortPool::take(std::size_t address) {
  const std::lock_guard lock(mutex_);
  if (address >= ports_.size()) {
    return std::nullopt;
  }
  Ports& ports = ports_[address];
  while (!ports.queue.empty()) {
    const std::uint16_t port = ports.queue.front();
    ports.queue.pop_front();
    if (isFree(ports, port)) {  // else a stale entry: takeEven took it out of order
      markTaken(ports, port);
      return port;
    }
  }
  return std::nullopt;
}

std::optional<std::uint16_t> PortPool::takeEven(std::size_t address, bool pair) {
  const std::lock_guard lock(mutex_);
  if (address >= ports_.size()) {
    return std::nullopt;
  }
  Ports& ports = ports_[address];
  auto fits = [&](std::uint32_t port) {
    return port % 2 == 0 && isFree(ports, port) && (!pair || isFree(ports, port + 1));
  };
  // In the queue's order. N leaves the queue (so that, handed back, it is not found at its old
  // place again); N + 1's entry stays, and take() skips it while it is taken.
  for (auto it = ports.queue.begin(); it != ports.queue.end(); ++it) {
    const std::uint16_t port = *it;
    if (fits(port)) {
      ports.queue.erase(it);
      markTaken(ports, port);
      if (pair) {
        markTaken(ports, port + 1U);
      }
      return port;
    }
  }
  return std::nullopt;
}

void PortPool::give(const Endpoint& local) {
  const auto it = std::ranges::find(addresses_, local.address);
  if (it != addresses_.end()) {
    give(static_cast<std::size_t>(it - addresses_.begin()), local.port);
  }
}

void PortPool::give(std::size_t address, std::uint16_t port) {
  const std::lock_guard lock(mutex_);
  if (address >= ports_.size() || port < port_min_ || port > port_max_) {
    return;
  }
  Ports& ports = ports_[address];
  if (ports.free[port - port_min_]) {
    return;  // already free: a second release must not queue it twice
  }
  ports.free[port - port_min_] = true;
  ++ports.free_count;
  ports.queue.push_back(port);
}

std::size_t PortPool::freeCount(std::size_t address) const {
  const std::lock_guard lock(mutex_);
  return address < ports_.size() ? ports_[address].free_count : 0;
}

}  // namespace turnpike::protocol
