#include "policy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "parse.h"
#include "procfs.h"

void
policy_init(struct policy *p)
{
	memset(p, 0, sizeof(*p));
	for (size_t i = 0; i < FAULT_TYPE_MAX; i++)
		p->type_allowed[i] = true;
	p->ttl_cap_ms = GD_MAX_RUN_MS;
	p->protected_comms[p->nprotected_comms++] = "sshd";
	p->protected_comms[p->nprotected_comms++] = "sshd-session";	/* OpenSSH 9.8 on. */
	p->protected_comms[p->nprotected_comms++] = "sshd-auth";
	p->protected_comms[p->nprotected_comms++] = "gameday-agent";
	p->protected_comms[p->nprotected_comms++] = "gamedayd";
	p->protected_comms[p->nprotected_comms++] = "systemd";
	p->protected_comms[p->nprotected_comms++] = "init";
	p->max_memory_bytes = 0;	/* 0: half of MemAvailable at inject time (agent.c). */
	p->exempt.local_ports[p->exempt.nlocal_ports++] = 22;
}

static int
exempt_add(struct policy *p, const char *host, uint16_t port, const char **why)
{
	struct net_exempt *ex = &p->exempt;

	if (ex->nhosts == GD_MAX_EXEMPT_HOSTS) {
		*why = "too many exempt hosts";
		return -E2BIG;
	}
	if (inet_pton(AF_INET, host, ex->hosts[ex->nhosts].addr) == 1)
		ex->hosts[ex->nhosts].family = AF_INET;
	else if (inet_pton(AF_INET6, host, ex->hosts[ex->nhosts].addr) == 1)
		ex->hosts[ex->nhosts].family = AF_INET6;
	else {
		*why = "not an IPv4 or IPv6 address (the agent does not resolve names here)";
		return -EINVAL;
	}
	ex->hosts[ex->nhosts++].port = port;
	return 0;
}

int
policy_exempt_hostport(struct policy *p, const char *hostport, const char **why)
{
	char host[64];
	const char *colon = strrchr(hostport, ':');
	uint64_t port;
	size_t hlen;

	if (colon == NULL) {
		*why = "expected HOST:PORT";
		return -EINVAL;
	}
	hlen = (size_t)(colon - hostport);
	if (hlen >= 2 && hostport[0] == '[' && hostport[hlen - 1] == ']') {
		hostport++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(host)) {
		*why = "expected HOST:PORT";
		return -EINVAL;
	}
	memcpy(host, hostport, hlen);
	host[hlen] = '\0';
	if (parse_uint(colon + 1, 1, 65535, &port, why) < 0)
		return -EINVAL;
	return exempt_add(p, host, (uint16_t)port, why);
}

int
policy_exempt_url(struct policy *p, const char *url, const char **why)
{
	char *host = NULL, *port = NULL;
	CURLU *u = curl_url();
	uint64_t pn = 0;
	int r = -EINVAL;

	if (u == NULL)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
	    parse_uint(port, 1, 65535, &pn, why) < 0) {
		*why = "not a URL with a host and port";
		goto out;
	}
	/* curl keeps the brackets of an IPv6 literal. */
	if (host[0] == '[' && strlen(host) > 2) {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	r = exempt_add(p, host, (uint16_t)pn, why);
out:
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return r;
}

static int
check_disk_path(const struct policy *p, const char *path, char *why, size_t whylen)
{
	for (size_t i = 0; i < p->nallow_paths; i++) {
		size_t n = strlen(p->allow_paths[i]);

		while (n > 1 && p->allow_paths[i][n - 1] == '/')
			n--;
		if (strncmp(path, p->allow_paths[i], n) == 0 && (path[n] == '/' ||
		    path[n] == '\0' || n == 1))
			return 0;
	}
	(void)snprintf(why, whylen, p->nallow_paths == 0 ?
	    "disk.fill is refused: this agent has no allow path (--allow-path)" :
	    "disk.fill path %s is not under an allow path (--allow-path) of this agent", path);
	return -EPERM;
}

int
policy_check(const struct policy *p, const struct fault *f, uint64_t ttl_ms, char *why,
    size_t whylen)
{
	if (f->type >= FAULT_TYPE_MAX || !p->type_allowed[f->type]) {
		(void)snprintf(why, whylen, "fault type %s is not allowed on this host",
		    fault_type_name(f->type));
		return -EPERM;
	}
	if (ttl_ms == 0 || ttl_ms > p->ttl_cap_ms) {
		(void)snprintf(why, whylen, "the TTL must be between 1ms and this host's cap of "
		    "%llu s", (unsigned long long)(p->ttl_cap_ms / 1000));
		return -EPERM;
	}
	if (f->type == FAULT_DISK_FILL)
		return check_disk_path(p, f->u.disk.path, why, whylen);
	if (f->type == FAULT_CPU_BURN && p->max_cpu_cores > 0 &&
	    f->u.cpu.cores > p->max_cpu_cores) {
		(void)snprintf(why, whylen, "cpu.burn asks for %u cores; this host allows %u",
		    f->u.cpu.cores, p->max_cpu_cores);
		return -EPERM;
	}
	if (f->type == FAULT_MEMORY_HOG && p->max_memory_bytes > 0 &&
	    (f->u.mem.size.is_percent || f->u.mem.size.bytes > p->max_memory_bytes)) {
		(void)snprintf(why, whylen, "memory.hog asks for more than this host's cap of "
		    "%llu bytes", (unsigned long long)p->max_memory_bytes);
		return -EPERM;
	}
	return 0;
}

bool
policy_pid_protected(const struct policy *p, pid_t pid, const char *comm)
{
	struct procstat st;

	if (pid <= 1 || pid == getpid())
		return true;
	for (size_t i = 0; i < p->nprotected_comms; i++)
		if (strcmp(comm, p->protected_comms[i]) == 0)
			return true;
	if (procfs_stat(pid, &st) < 0 || (st.flags & PROCFS_PF_KTHREAD) != 0)
		return true;
	/* Our ancestors: killing the shell or service manager that started us. */
	for (pid_t a = getppid(); a > 1;) {
		struct procstat ast;

		if (a == pid)
			return true;
		if (procfs_stat(a, &ast) < 0)
			break;
		a = ast.ppid;
	}
	return false;
}
