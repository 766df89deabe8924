/* Small helpers for file descriptors. */
#ifndef GD_FDIO_H
#define GD_FDIO_H

#include <stddef.h>

/* Writes all of buf, retrying short writes and EINTR.  0 or -errno. */
int gd_write_all(int fd, const void *buf, size_t len);

#endif
