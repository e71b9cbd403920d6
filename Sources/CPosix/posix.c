#define _GNU_SOURCE
#include <sys/uio.h>
#include "CPosix.h"

ssize_t oggedge_pread_resident(int fd, void *buffer, size_t count, off_t offset) {
    struct iovec iov = { .iov_base = buffer, .iov_len = count };
    return preadv2(fd, &iov, 1, offset, RWF_NOWAIT);
}
