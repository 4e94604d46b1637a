// Counts every global operator new, so a test can prove a path allocates nothing (style.md
// section 9). Replacement allocation functions: include this header in exactly one source file of
// a test executable that wants counting.
#pragma once

#include <atomic>
#include <cstdlib>
#include <new>

namespace turnpike::test {
inline std::atomic<std::size_t> g_allocations{0};

// How many allocations f() made.
template <typename F>
std::size_t allocationsDuring(F&& f) {
  const std::size_t before = g_allocations.load();
  f();
  return g_allocations.load() - before;
}
}  // namespace turnpike::test

// g++ 12 inlines these into library code and then sees free() on a new'd pointer; they are a
// matching pair, so the warning is false.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t size) {
  turnpike::test::g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) {  // NOLINT
    return p;
  }
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }                        // NOLINT
void operator delete(void* p, std::size_t /*size*/) noexcept { std::free(p); }  // NOLINT
#pragma GCC diagnostic pop
