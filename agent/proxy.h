/*
 * The delaying TCP proxy behind network.latency's proxy backend, for kernels without
 * sch_netem.  nftables redirects the matching connections to it (fault_net.h); for each
 * one it reads the original destination (SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST), connects
 * there with SO_MARK set so its own connection is not redirected again, and relays bytes
 * both ways.  Bytes from the side that opened the connection are held for delay (plus a
 * uniform jitter in [-jitter, +jitter], never below 0) before they are forwarded, so every
 * request/response round trip takes delay longer, as netem's egress delay would.
 *
 * One thread, epoll, non-blocking sockets, bounded buffers (GD_PROXY_MAX_CONNS connections,
 * GD_PROXY_BUF_BYTES queued per direction: when full, the proxy stops reading that side).
 * A connection that was not redirected (no original destination, or the original
 * destination is the proxy itself) is closed at once.
 */
#ifndef GD_PROXY_H
#define GD_PROXY_H

#include <signal.h>
#include <stdint.h>

#define GD_PROXY_MAX_CONNS	1024
#define GD_PROXY_BUF_BYTES	(256 * 1024)

/*
 * Listens on every local address (IPv6 socket with IPV6_V6ONLY off, so IPv4 too) on an
 * ephemeral port; IPv4 only on a kernel without IPv6.  On success *ret_fd is the listening
 * socket (non-blocking, close-on-exec; the caller closes it) and *ret_port its port.
 */
int proxy_listen(int *ret_fd, uint16_t *ret_port);

/*
 * Serves listen_fd until *stop becomes non-zero (checked at least every 100 ms), then
 * resets every connection still open.  mark is set with SO_MARK on upstream sockets (0: not
 * set).  Returns 0; -EINVAL when delay_ms or jitter_ms exceeds GD_MAX_DELAY_MS; or -errno
 * when the event loop itself fails.  listen_fd stays open and can be served again.
 */
int proxy_run(int listen_fd, uint64_t delay_ms, uint64_t jitter_ms, uint32_t mark,
    const volatile sig_atomic_t *stop);

#endif
