#include <stddef.h>
#include <stdint.h>
#include "allocation_counter.h"

// Under AddressSanitizer or ThreadSanitizer the sanitizer owns malloc: interposing it here would
// fight the sanitizer's runtime, so the counter is left out and says it cannot count.
#if defined(__has_feature)
#  if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#    define OGGEDGE_SANITIZED 1
#  endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#  define OGGEDGE_SANITIZED 1
#endif

#ifndef OGGEDGE_SANITIZED
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);

static __thread uint64_t allocations;

void *malloc(size_t size) {
    allocations++;
    return __libc_malloc(size);
}

void *calloc(size_t count, size_t size) {
    allocations++;
    return __libc_calloc(count, size);
}

void *realloc(void *pointer, size_t size) {
    allocations++;
    return __libc_realloc(pointer, size);
}

uint64_t oggedge_thread_allocations(void) {
    return allocations;
}

int oggedge_allocations_counted(void) {
    return 1;
}
#else
uint64_t oggedge_thread_allocations(void) {
    return 0;
}

int oggedge_allocations_counted(void) {
    return 0;
}
#endif
