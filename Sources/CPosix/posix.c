#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include "CPosix.h"

/* cachestat(2) is 451 on every architecture (added after the syscall tables were unified);
   the structures are those of <linux/mman.h>, spelled here for older kernel headers. */
#ifndef __NR_cachestat
#define __NR_cachestat 451
#endif
struct oggedge_cachestat_range { uint64_t off; uint64_t len; };
struct oggedge_cachestat {
    uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
};
static atomic_int cachestat_missing = 0;

int oggedge_range_resident(int fd, off_t offset, size_t count) {
    if (count == 0) return 1;
    if (atomic_load_explicit(&cachestat_missing, memory_order_relaxed)) return -1;
    struct oggedge_cachestat_range range = { .off = (uint64_t)offset, .len = (uint64_t)count };
    struct oggedge_cachestat stat = { 0 };
    if (syscall(__NR_cachestat, fd, &range, &stat, 0) != 0) {
        if (errno == ENOSYS || errno == EPERM) atomic_store_explicit(&cachestat_missing, 1, memory_order_relaxed);
        return -1;
    }
    /* Pages of the range: the kernel counts every cached page of it (large folios clipped). */
    static uint64_t page_size;  /* the same for every caller: a benign race at worst stores it twice */
    uint64_t page = __atomic_load_n(&page_size, __ATOMIC_RELAXED);
    if (page == 0) { page = (uint64_t)sysconf(_SC_PAGESIZE); __atomic_store_n(&page_size, page, __ATOMIC_RELAXED); }
    uint64_t first = (uint64_t)offset / page, last = ((uint64_t)offset + count - 1) / page;
    return stat.nr_cache >= last - first + 1 ? 1 : 0;
}

ssize_t oggedge_pread_resident(int fd, void *buffer, size_t count, off_t offset) {
    struct iovec iov = { .iov_base = buffer, .iov_len = count };
    return preadv2(fd, &iov, 1, offset, RWF_NOWAIT);
}

int oggedge_sched_batch_policy(void) { return SCHED_BATCH; }

int oggedge_thread_batch_schedule(void) {
    struct sched_param param = { .sched_priority = 0 };
    return pthread_setschedparam(pthread_self(), SCHED_BATCH, &param);
}

int oggedge_thread_nice(int nice) {
    return setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), nice) == 0 ? 0 : errno;
}

int oggedge_thread_name(const char *name) { return pthread_setname_np(pthread_self(), name); }

int oggedge_prefetch(int fd, off_t offset, size_t count) {
    return posix_fadvise(fd, offset, (off_t)count, POSIX_FADV_WILLNEED);
}
