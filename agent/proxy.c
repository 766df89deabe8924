#include "proxy.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "limits.h"
#include "log.h"
#include "timeutil.h"

/* The longest the event loop sleeps, so that *stop is seen in time. */
#define PROXY_TICK_MS		100
/* Events handled per epoll_wait() call, and bytes read per recv() call. */
#define PROXY_EVENTS		64
#define PROXY_READ_BYTES	(64 * 1024)

/* Bytes read from one socket and waiting to be written to the other. */
struct chunk {
	struct chunk *next;
	int64_t release_ms;	/* Not written before this gd_mono_ms() time. */
	size_t len;
	size_t off;		/* Bytes of data already written. */
	unsigned char data[];
};

/* One direction of a connection: a FIFO of chunks from its source to its destination. */
struct flow {
	struct chunk *head, *tail;
	size_t bytes;		/* Queued and not written yet; at most GD_PROXY_BUF_BYTES. */
	int64_t last_release_ms;	/* Of the newest chunk: later ones never leave earlier. */
	bool eof;		/* The source has shut down its side. */
	bool shut;		/* The destination was shut down for writing after the last byte. */
};

struct pconn;

/* One socket of a connection.  epoll's data.ptr points here; NULL means the listening socket. */
struct pend {
	struct pconn *pc;	/* Borrowed: the connection this end belongs to. */
	int fd;
	uint32_t events;	/* What is registered with epoll; 0 when the fd is not in it. */
};

struct pconn {
	struct pconn *next;
	struct pend cli;	/* The socket nftables redirected to us. */
	struct pend up;		/* Ours, to the original destination. */
	struct flow c2u;	/* Delayed. */
	struct flow u2c;	/* Not delayed. */
	bool connecting;	/* The upstream connect() has not completed yet. */
	bool dead;		/* Closed; freed by the next proxy_sweep(). */
};

struct proxy {
	int epfd;
	int listen_fd;		/* Borrowed from the caller. */
	int64_t delay_ms, jitter_ms;
	uint32_t mark;
	uint64_t rng;
	int64_t accept_resume_ms;	/* Non-zero: accepting paused (out of fds) until then. */
	struct pconn *conns;	/* Every connection, dead ones until the next sweep. */
	size_t nconns;		/* Live connections. */
};

/* xorshift64*: jitter needs to be uniform, not unpredictable. */
static uint64_t
proxy_rand(struct proxy *p)
{
	uint64_t x = p->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	p->rng = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* How long the next chunk from the client is held: delay plus jitter, never below 0. */
static int64_t
proxy_hold_ms(struct proxy *p)
{
	int64_t hold = p->delay_ms;

	if (p->jitter_ms > 0)
		hold += (int64_t)(proxy_rand(p) % (uint64_t)(2 * p->jitter_ms + 1)) - p->jitter_ms;
	return hold < 0 ? 0 : hold;
}

static void
flow_clear(struct flow *f)
{
	struct chunk *c;

	while ((c = f->head) != NULL) {
		f->head = c->next;
		gd_free(c);
	}
	f->tail = NULL;
	f->bytes = 0;
}

/* Queues len bytes; with delayed set they leave after the hold time, in order. */
static int
flow_push(struct proxy *p, struct flow *f, const void *buf, size_t len, bool delayed)
{
	struct chunk *c;
	int64_t release = 0;

	/* len is at most PROXY_READ_BYTES, so the sum cannot overflow. */
	if ((c = gd_malloc(sizeof(*c) + len)) == NULL)
		return -ENOMEM;
	if (delayed) {
		release = gd_mono_ms() + proxy_hold_ms(p);
		if (release < f->last_release_ms)
			release = f->last_release_ms;
		f->last_release_ms = release;
	}
	memcpy(c->data, buf, len);
	c->next = NULL;
	c->release_ms = release;
	c->len = len;
	c->off = 0;
	if (f->tail != NULL)
		f->tail->next = c;
	else
		f->head = c;
	f->tail = c;
	f->bytes += len;
	return 0;
}

/* Reads from fd into f until it would block, f is full, or the peer shut down its side. */
static int
flow_recv(struct proxy *p, int fd, struct flow *f, bool delayed)
{
	unsigned char buf[PROXY_READ_BYTES];
	size_t room;
	ssize_t n;
	int r;

	while (!f->eof && (room = GD_PROXY_BUF_BYTES - f->bytes) > 0) {
		n = recv(fd, buf, room < sizeof(buf) ? room : sizeof(buf), 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
		if (n == 0) {
			f->eof = true;
			break;
		}
		if ((r = flow_push(p, f, buf, (size_t)n, delayed)) < 0)
			return r;
	}
	return 0;
}

/* Drops the first n bytes of f's head chunk, which were written. */
static void
flow_consume(struct flow *f, size_t n)
{
	struct chunk *c = f->head;

	c->off += n;
	f->bytes -= n;
	if (c->off < c->len)
		return;
	if ((f->head = c->next) == NULL)
		f->tail = NULL;
	gd_free(c);
}

/*
 * Writes the chunks of f that are due to fd, until it would block.  Once the source has
 * shut down and everything is written, shuts fd down for writing: the half-close arrives
 * after the data, as it would have without the proxy.
 */
static int
flow_send(int fd, struct flow *f, int64_t now)
{
	struct chunk *c;
	ssize_t n;

	while ((c = f->head) != NULL && c->release_ms <= now) {
		n = send(fd, c->data + c->off, c->len - c->off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
		flow_consume(f, (size_t)n);
	}
	if (f->head == NULL && f->eof && !f->shut) {
		if (shutdown(fd, SHUT_WR) == -1)
			return -errno;
		f->shut = true;
	}
	return 0;
}

/* True when f has a chunk that is due but was not written: its destination is full. */
static bool
flow_blocked(const struct flow *f, int64_t now)
{
	return f->head != NULL && f->head->release_ms <= now;
}

/* What end e waits for: readable while its outgoing flow has room, writable when blocked. */
static uint32_t
conn_want(const struct pconn *pc, const struct pend *e, int64_t now)
{
	const struct flow *in = e == &pc->cli ? &pc->c2u : &pc->u2c;
	const struct flow *out = e == &pc->cli ? &pc->u2c : &pc->c2u;
	uint32_t want = 0;

	if (e == &pc->up && pc->connecting)
		return EPOLLOUT;
	if (!in->eof && in->bytes < GD_PROXY_BUF_BYTES)
		want |= EPOLLIN;
	if (flow_blocked(out, now))
		want |= EPOLLOUT;
	return want;
}

/*
 * Registers what e waits for.  An end that waits for nothing leaves epoll altogether:
 * EPOLLHUP cannot be masked, and a socket shut down both ways would report it forever.
 */
static int
pend_update(struct proxy *p, struct pend *e, uint32_t want)
{
	struct epoll_event ev = { .events = want, .data.ptr = e };
	int op;

	if (want == e->events)
		return 0;
	if (want == 0)
		op = EPOLL_CTL_DEL;
	else
		op = e->events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
	if (epoll_ctl(p->epfd, op, e->fd, &ev) == -1)
		return -errno;
	e->events = want;
	return 0;
}

/*
 * Closes both sockets; the connection is freed by the next proxy_sweep(), since events
 * already returned by epoll_wait() may still point to it.  With abort set, both peers get
 * a reset rather than a FIN, so that neither mistakes lost bytes for a clean end.
 */
static void
conn_close(struct proxy *p, struct pconn *pc, bool abort)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (pc->dead)
		return;
	if (abort) {
		(void)setsockopt(pc->cli.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		(void)setsockopt(pc->up.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close(pc->cli.fd);
	close(pc->up.fd);
	pc->cli.fd = pc->up.fd = -1;
	flow_clear(&pc->c2u);
	flow_clear(&pc->u2c);
	pc->dead = true;
	p->nconns--;
}

/* After anything happened to pc: closes it when done or broken (r < 0), else re-arms it. */
static void
conn_settle(struct proxy *p, struct pconn *pc, int r)
{
	int64_t now = gd_mono_ms();

	if (r == 0 && pc->c2u.shut && pc->u2c.shut) {
		conn_close(p, pc, false);
		return;
	}
	if (r == 0)
		r = pend_update(p, &pc->cli, conn_want(pc, &pc->cli, now));
	if (r == 0)
		r = pend_update(p, &pc->up, conn_want(pc, &pc->up, now));
	if (r < 0) {
		log_debug_f("closing a connection: %s", strerror(-r));
		conn_close(p, pc, true);
	}
}

/* Writes what is due in both directions. */
static int
conn_pump(struct pconn *pc)
{
	int64_t now = gd_mono_ms();
	int r = 0;

	if (!pc->connecting)
		r = flow_send(pc->up.fd, &pc->c2u, now);
	if (r == 0)
		r = flow_send(pc->cli.fd, &pc->u2c, now);
	return r;
}

/* The upstream socket became writable or failed while connecting. */
static int
conn_connected(struct pconn *pc)
{
	socklen_t len = sizeof(int);
	int err;

	if (getsockopt(pc->up.fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return -errno;
	if (err != 0)
		return -err;
	pc->connecting = false;
	return 0;
}

static void
conn_event(struct proxy *p, struct pend *e, uint32_t events)
{
	struct pconn *pc = e->pc;
	int r = 0;

	if (e == &pc->up && pc->connecting)
		r = conn_connected(pc);
	else if ((e->events & EPOLLIN) && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		r = flow_recv(p, e->fd, e == &pc->cli ? &pc->c2u : &pc->u2c, e == &pc->cli);
	if (r == 0)
		r = conn_pump(pc);
	conn_settle(p, pc, r);
}

/* The address the client connected to before nftables redirected it to us. */
static int
conn_orig_dst(int fd, const struct sockaddr_storage *local, struct sockaddr_storage *ret,
    socklen_t *ret_len)
{
	const struct sockaddr_in6 *l6 = (const struct sockaddr_in6 *)local;
	socklen_t len;

	memset(ret, 0, sizeof(*ret));
	if (local->ss_family == AF_INET6 && !IN6_IS_ADDR_V4MAPPED(&l6->sin6_addr)) {
		len = sizeof(struct sockaddr_in6);
		if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, ret, &len) == -1)
			return -errno;
	} else {
		/* IPv4, possibly through our dual-stack socket: conntrack has it as IPv4. */
		len = sizeof(struct sockaddr_in);
		if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, ret, &len) == -1)
			return -errno;
	}
	if (ret->ss_family != AF_INET && ret->ss_family != AF_INET6)
		return -EAFNOSUPPORT;
	*ret_len = len;
	return 0;
}

/* True when dst is local, the proxy's own address: connecting there would loop. */
static bool
conn_is_self(const struct sockaddr_storage *local, const struct sockaddr_storage *dst)
{
	const struct sockaddr_in6 *l6 = (const struct sockaddr_in6 *)local;
	const struct sockaddr_in6 *d6 = (const struct sockaddr_in6 *)dst;
	const struct sockaddr_in *d4 = (const struct sockaddr_in *)dst;
	const struct sockaddr_in *l4 = (const struct sockaddr_in *)local;

	if (dst->ss_family == AF_INET6)
		return local->ss_family == AF_INET6 && l6->sin6_port == d6->sin6_port &&
		    memcmp(&l6->sin6_addr, &d6->sin6_addr, sizeof(d6->sin6_addr)) == 0;
	if (local->ss_family == AF_INET)
		return l4->sin_port == d4->sin_port && l4->sin_addr.s_addr == d4->sin_addr.s_addr;
	if (local->ss_family != AF_INET6)
		return false;
	/* An IPv4 client of the dual-stack socket: ::ffff:a.b.c.d. */
	return l6->sin6_port == d4->sin_port && IN6_IS_ADDR_V4MAPPED(&l6->sin6_addr) &&
	    memcmp(&l6->sin6_addr.s6_addr[12], &d4->sin_addr, 4) == 0;
}

/* Starts a non-blocking connect() to dst; *ret_connecting is set when it is in progress. */
static int
conn_upstream(const struct sockaddr_storage *dst, socklen_t len, uint32_t mark, int *ret_fd,
    bool *ret_connecting)
{
	int fd, one = 1, r;

	fd = socket(dst->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd == -1)
		return -errno;
	/* Without the mark the redirect would catch this connection too. */
	if (mark != 0 && setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) == -1)
		goto fail;
	/* Chunks leave when due; Nagle would hold small ones back for an ACK. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	*ret_connecting = false;
	if (connect(fd, (const struct sockaddr *)dst, len) == -1) {
		if (errno != EINPROGRESS)
			goto fail;
		*ret_connecting = true;
	}
	*ret_fd = fd;
	return 0;
fail:
	r = -errno;
	close(fd);
	return r;
}

/* Takes cfd, a connection just accepted: either it becomes a connection or it is closed. */
static int
conn_open(struct proxy *p, int cfd)
{
	struct sockaddr_storage local = { 0 }, dst = { 0 };
	socklen_t llen = sizeof(local), dlen = 0;
	struct pconn *pc;
	bool connecting = false;
	int ufd = -1, one = 1, r;

	if (getsockname(cfd, (struct sockaddr *)&local, &llen) == -1) {
		r = -errno;
		goto fail;
	}
	if ((r = conn_orig_dst(cfd, &local, &dst, &dlen)) < 0)
		goto fail;
	if (conn_is_self(&local, &dst)) {
		r = -ELOOP;
		goto fail;
	}
	if ((r = conn_upstream(&dst, dlen, p->mark, &ufd, &connecting)) < 0)
		goto fail;
	if ((pc = gd_calloc(1, sizeof(*pc))) == NULL) {
		close(ufd);
		r = -ENOMEM;
		goto fail;
	}
	(void)setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	pc->cli = (struct pend){ .pc = pc, .fd = cfd };
	pc->up = (struct pend){ .pc = pc, .fd = ufd };
	pc->connecting = connecting;
	pc->next = p->conns;
	p->conns = pc;
	p->nconns++;
	conn_settle(p, pc, 0);
	return 0;
fail:
	close(cfd);
	return r;
}

/* Out of file descriptors: stop accepting for a tick rather than spin on the listener. */
static void
proxy_pause_accept(struct proxy *p)
{
	log_warn("proxy cannot accept, pausing");
	if (epoll_ctl(p->epfd, EPOLL_CTL_DEL, p->listen_fd, NULL) == 0)
		p->accept_resume_ms = gd_mono_ms() + PROXY_TICK_MS;
}

static void
proxy_accept(struct proxy *p)
{
	int fd, r;

	for (;;) {
		fd = accept4(p->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1 && (errno == EINTR || errno == ECONNABORTED))
			continue;
		if (fd == -1 && (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM))
			proxy_pause_accept(p);
		if (fd == -1)
			return;
		if (p->nconns >= GD_PROXY_MAX_CONNS) {
			log_debug_f("%d connections already, closing a new one",
			    GD_PROXY_MAX_CONNS);
			close(fd);
		} else if ((r = conn_open(p, fd)) < 0) {
			log_debug_f("closing a new connection: %s", strerror(-r));
		}
	}
}

/*
 * The next delayed chunk the sweep writes, if any: not while connecting, and not when the
 * upstream socket is full (EPOLLOUT will report when it drains).
 */
static struct chunk *
conn_next(const struct pconn *pc)
{
	if (pc->dead || pc->connecting || (pc->up.events & EPOLLOUT))
		return NULL;
	return pc->c2u.head;
}

static bool
conn_due(const struct pconn *pc, int64_t now)
{
	const struct chunk *c = conn_next(pc);

	return c != NULL && c->release_ms <= now;
}

/*
 * Writes the delayed chunks that fell due, frees the connections closed since the last
 * sweep, resumes accepting if it was paused, and returns how long the loop may sleep.
 */
static int
proxy_sweep(struct proxy *p)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	int64_t now = gd_mono_ms(), next = now + PROXY_TICK_MS;
	struct pconn **pp = &p->conns, *pc;
	struct chunk *c;

	if (p->accept_resume_ms != 0 && p->accept_resume_ms <= now &&
	    epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->listen_fd, &ev) == 0)
		p->accept_resume_ms = 0;
	while ((pc = *pp) != NULL) {
		if (pc->dead) {
			*pp = pc->next;
			gd_free(pc);
			continue;
		}
		if (conn_due(pc, now))
			conn_settle(p, pc, conn_pump(pc));
		if ((c = conn_next(pc)) != NULL && c->release_ms < next)
			next = c->release_ms;
		pp = &pc->next;
	}
	/* Everything due was written above, so next > now; 1 ms is only a guard against a spin. */
	return next <= now ? 1 : (int)(next - now);
}

static int
proxy_init(struct proxy *p, int listen_fd, uint64_t delay_ms, uint64_t jitter_ms,
    uint32_t mark)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

	memset(p, 0, sizeof(*p));
	p->listen_fd = listen_fd;
	p->delay_ms = (int64_t)delay_ms;
	p->jitter_ms = (int64_t)jitter_ms;
	p->mark = mark;
	if (getrandom(&p->rng, sizeof(p->rng), GRND_NONBLOCK) != sizeof(p->rng))
		p->rng = (uint64_t)gd_mono_ms();
	p->rng |= 1;
	if ((p->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return -errno;
	if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, listen_fd, &ev) == -1) {
		int r = -errno;

		close(p->epfd);
		return r;
	}
	return 0;
}

/*
 * Resets every connection still open: the fault is over, and bytes still queued would be
 * lost without either peer knowing.  Clients reconnect, and then go direct.
 */
static void
proxy_fini(struct proxy *p)
{
	struct pconn *pc;

	while ((pc = p->conns) != NULL) {
		p->conns = pc->next;
		conn_close(p, pc, true);
		gd_free(pc);
	}
	close(p->epfd);
}

/* Listens on the wildcard address of family, on an ephemeral port. */
static int
proxy_listen_family(int family, int *ret_fd, uint16_t *ret_port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	socklen_t len = family == AF_INET6 ? sizeof(*s6) : sizeof(*s4);
	int fd, zero = 0, r;

	/* All zero: the wildcard address (:: or 0.0.0.0) and port 0, an ephemeral one. */
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = (sa_family_t)family;
	if ((fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP)) == -1)
		return -errno;
	if ((family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) == -1) ||
	    bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(fd, SOMAXCONN) == -1 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) == -1) {
		r = -errno;
		close(fd);
		return r;
	}
	*ret_fd = fd;
	*ret_port = ntohs(family == AF_INET6 ? s6->sin6_port : s4->sin_port);
	return 0;
}

int
proxy_listen(int *ret_fd, uint16_t *ret_port)
{
	int r = proxy_listen_family(AF_INET6, ret_fd, ret_port);

	/* A kernel booted with ipv6.disable=1 has IPv4 only. */
	if (r == -EAFNOSUPPORT)
		r = proxy_listen_family(AF_INET, ret_fd, ret_port);
	return r;
}

int
proxy_run(int listen_fd, uint64_t delay_ms, uint64_t jitter_ms, uint32_t mark,
    const volatile sig_atomic_t *stop)
{
	struct epoll_event evs[PROXY_EVENTS];
	struct proxy p;
	int timeout = PROXY_TICK_MS, n, i, r;

	if (delay_ms > GD_MAX_DELAY_MS || jitter_ms > GD_MAX_DELAY_MS)
		return -EINVAL;
	if ((r = proxy_init(&p, listen_fd, delay_ms, jitter_ms, mark)) < 0)
		return r;
	while (!*stop) {
		n = epoll_wait(p.epfd, evs, PROXY_EVENTS, timeout);
		if (n == -1 && errno != EINTR) {
			r = -errno;
			break;
		}
		for (i = 0; i < n; i++) {
			struct pend *e = evs[i].data.ptr;

			if (e == NULL)
				proxy_accept(&p);
			else if (!e->pc->dead)
				conn_event(&p, e, evs[i].events);
		}
		timeout = proxy_sweep(&p);
	}
	proxy_fini(&p);
	return r;
}
