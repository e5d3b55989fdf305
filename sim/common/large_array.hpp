#pragma once
/// Arrays of 10^8 elements (the task graph of an every-rank simulation) on transparent huge
/// pages. With 4 KiB pages the simulator's random accesses into such arrays miss the TLB on
/// nearly every touch; measured on Llama 3 70B over 512 H100 with every rank simulated (5.6 M
/// tasks), huge pages cut the user time from 4.1 s to 2.4 s. Allocations of 4 MiB and more are
/// mapped directly and advised MADV_HUGEPAGE (Linux; elsewhere, and for smaller ones, the
/// standard allocator). Only a hint: the kernel may still use small pages.

#include <cstddef>
#include <memory>
#include <new>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace clustercost {

template <class T>
struct LargeArrayAllocator {
  using value_type = T;
  static constexpr std::size_t kDirectBytes = std::size_t{4} << 20;

  LargeArrayAllocator() = default;
  template <class U>
  LargeArrayAllocator(const LargeArrayAllocator<U>&) noexcept {}

  T* allocate(std::size_t n) {
#if defined(__linux__)
    const std::size_t bytes = n * sizeof(T);
    if (n <= static_cast<std::size_t>(-1) / sizeof(T) && bytes >= kDirectBytes) {
      void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) throw std::bad_alloc();
      (void)::madvise(p, bytes, MADV_HUGEPAGE);
      return static_cast<T*>(p);
    }
#endif
    return std::allocator<T>().allocate(n);
  }
  void deallocate(T* p, std::size_t n) noexcept {
#if defined(__linux__)
    const std::size_t bytes = n * sizeof(T);
    if (bytes >= kDirectBytes) {
      ::munmap(p, bytes);
      return;
    }
#endif
    std::allocator<T>().deallocate(p, n);
  }
  template <class U>
  bool operator==(const LargeArrayAllocator<U>&) const noexcept {
    return true;
  }
};

/// A std::vector whose large buffers live on huge pages (see above).
template <class T>
using LargeVector = std::vector<T, LargeArrayAllocator<T>>;

}  // namespace clustercost
