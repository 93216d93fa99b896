#pragma once
// How the process's heap is set up before any thread starts: the chunk
// buffers (256 KiB each, pipeline/README.md "Chunk and queue sizes") are the
// memory ocipipe touches most, and on a virtual machine every 4 KiB page
// touched for the first time costs a fault that is expensive (10 µs on the
// 2-core VMs; pipeline/README.md "Memory touched for the first time").

namespace ocipipe::io {

/// What tune_process_heap did (tests check it).
struct process_heap_tuning {
  bool one_arena = false;             ///< every thread allocates from the main (brk) heap
  unsigned long huge_page_bytes = 0;  ///< bytes of that heap advised MADV_HUGEPAGE (0: none)
};

/// Tunes glibc's allocator for chunk buffers; call once, first thing in
/// main, before any thread exists. Always: freed memory is kept for reuse
/// (no mmap per 256 KiB buffer, no trimming of heap tops). On a host of at
/// most `max_huge_page_cpus` CPUs (`cpus`), also: one arena for all threads,
/// its heap grown once by about 40 MiB of address space (nothing is touched)
/// and advised MADV_HUGEPAGE, so buffers come from pages the kernel backs 2 MiB
/// at a time (one fault instead of 512). More CPUs keep glibc's arena per
/// thread: one arena's lock was measured on 2 CPUs only. Peak memory is
/// unchanged (address space is not memory; a huge page is backed only when
/// touched). No effect without glibc or under AddressSanitizer/
/// ThreadSanitizer (their allocators own the heap). Never fails: an
/// madvise the kernel refuses (THP "never", an old kernel) leaves plain pages.
/// Not thread-safe (hence: before threads).
process_heap_tuning tune_process_heap(unsigned cpus, unsigned max_huge_page_cpus = 4);

}  // namespace ocipipe::io
