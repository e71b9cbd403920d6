#ifndef OGGEDGE_ALLOCATION_COUNTER_H
#define OGGEDGE_ALLOCATION_COUNTER_H
#include <stdint.h>

/// Heap allocations (malloc, calloc, realloc) made so far by the calling thread.
///
/// Linked into the test executable only: its malloc, calloc and realloc count and then call
/// glibc's own (`__libc_malloc` and friends), so every allocation in the process goes through
/// them unchanged. A thread-local count lets a test measure one event loop's allocations while
/// other tests run on other threads.
uint64_t oggedge_thread_allocations(void);

/// 1 when allocations are counted; 0 in a sanitizer build, where the sanitizer owns malloc and
/// `oggedge_thread_allocations` always answers 0.
int oggedge_allocations_counted(void);

#endif
