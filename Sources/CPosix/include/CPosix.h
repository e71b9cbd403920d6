#ifndef OGGEDGE_CPOSIX_H
#define OGGEDGE_CPOSIX_H
#include <stdint.h>
#include <sys/types.h>

/// CRC-32C (Castagnoli) of `count` bytes, continuing `crc` (0 to start); the CPU's `crc32`
/// instruction where there is one (x86-64 with SSE4.2), else a table.
uint32_t oggedge_crc32c(uint32_t crc, const void *bytes, size_t count);

/// Reads up to `count` bytes at `offset` only if they are already in the page cache
/// (`preadv2` with `RWF_NOWAIT`): -1 with `errno` `EAGAIN` when reading would wait for the disk,
/// `EOPNOTSUPP`/`ENOSYS` where the kernel or file system cannot tell.
ssize_t oggedge_pread_resident(int fd, void *buffer, size_t count, off_t offset);

/// Whether every page of `count` bytes at `offset` of `fd` is in the page cache, asked with
/// `cachestat(2)` (Linux 6.5+; no page is touched or read): 1 yes, 0 no, -1 cannot tell (the
/// kernel has no `cachestat`, or refused it: after a first `ENOSYS`/`EPERM` it is not asked again).
int oggedge_range_resident(int fd, off_t offset, size_t count);

/// Asks the kernel to start reading `count` bytes at `offset` of `fd` into the page cache
/// (`posix_fadvise` `POSIX_FADV_WILLNEED`): returns without waiting for the reads; 0 or an
/// `errno` value.
int oggedge_prefetch(int fd, off_t offset, size_t count);

/// Linux's `SCHED_BATCH` scheduling policy.
int oggedge_sched_batch_policy(void);

/// Puts the calling thread under `SCHED_BATCH` (0, or an `errno` value).
int oggedge_thread_batch_schedule(void);

/// Sets the calling thread's nice value (Linux keeps one per thread; raising it needs no
/// privilege, lowering it does). 0, or an `errno` value.
int oggedge_thread_nice(int nice);

/// Names the calling thread (at most 15 bytes are kept; 0, or an `errno` value).
int oggedge_thread_name(const char *name);

#endif
