#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <sys/uio.h>
#include "CPosix.h"

ssize_t oggedge_pread_resident(int fd, void *buffer, size_t count, off_t offset) {
    struct iovec iov = { .iov_base = buffer, .iov_len = count };
    return preadv2(fd, &iov, 1, offset, RWF_NOWAIT);
}

int oggedge_sched_batch_policy(void) { return SCHED_BATCH; }

int oggedge_thread_batch_schedule(void) {
    struct sched_param param = { .sched_priority = 0 };
    return pthread_setschedparam(pthread_self(), SCHED_BATCH, &param);
}

int oggedge_thread_name(const char *name) { return pthread_setname_np(pthread_self(), name); }
