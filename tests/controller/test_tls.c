/*
 * gamedayd with tls_cert and tls_key in its config file: the API answers HTTPS with that
 * certificate, and plain HTTP on the same port gets no API.  The certificate is made for
 * the test by openssl(1) (scaffolding; gamedayd itself never runs a program).
 */
#include "harness.h"
#include "test.h"

static size_t
discard(char *data, size_t size, size_t n, void *arg)
{
	(void)data;
	(void)arg;
	return size * n;
}

static long
get(const char *url, const char *cainfo)
{
	long status = 0;
	CURL *h = curl_easy_init();

	if (h == NULL)
		return 0;
	(void)curl_easy_setopt(h, CURLOPT_URL, url);
	(void)curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	(void)curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
	(void)curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	if (cainfo != NULL)
		(void)curl_easy_setopt(h, CURLOPT_CAINFO, cainfo);
	if (curl_easy_perform(h) == CURLE_OK)
		(void)curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	return status;
}

int
main(void)
{
	char dir[64] = "/tmp/gdtls.XXXXXX", cert[128], key[128], conf[128], state[128];
	char out[256], line[4096] = "", url[96];
	const char *openssl = "/usr/bin/openssl";
	posix_spawn_file_actions_t fa;
	size_t len = 0;
	double t0;
	pid_t pid;
	int p[2], port = 0;
	FILE *f;

	if (access(openssl, X_OK) != 0 || access(h_bin("GD_CTL_BIN", ""), X_OK) != 0) {
		printf("SKIP: needs %s and GD_CTL_BIN\n", openssl);
		return 77;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (mkdtemp(dir) == NULL)
		return 1;
	(void)snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	(void)snprintf(key, sizeof(key), "%s/key.pem", dir);
	(void)snprintf(conf, sizeof(conf), "%s/gamedayd.json", dir);
	(void)snprintf(state, sizeof(state), "%s/state", dir);
	(void)mkdir(state, 0700);

	TEST_START("gamedayd serves HTTPS with the configured certificate");
	{
		char *argv[] = { (char *)openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
		    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj",
		    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key,
		    "-out", cert, NULL };

		ASSERT_INT_EQ(h_run(argv, out, sizeof(out)), 0);
	}
	if ((f = fopen(conf, "w")) != NULL) {
		(void)fprintf(f, "{\"state_dir\": \"%s\", \"listen\": \"127.0.0.1:0\", "
		    "\"tls_cert\": \"%s\", \"tls_key\": \"%s\"}\n", state, cert, key);
		(void)fclose(f);
	}
	{
		char *argv[] = { (char *)h_bin("GD_CTL_BIN", "gamedayd"), "--config", conf, NULL };

		ASSERT_INT_EQ(pipe2(p, O_CLOEXEC), 0);
		(void)posix_spawn_file_actions_init(&fa);
		(void)posix_spawn_file_actions_adddup2(&fa, p[1], STDERR_FILENO);
		ASSERT_INT_EQ(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
		(void)posix_spawn_file_actions_destroy(&fa);
		(void)close(p[1]);
	}
	for (t0 = h_now_ms(); h_now_ms() - t0 < 10000 && port == 0 && len < sizeof(line) - 1;) {
		struct pollfd pf = { p[0], POLLIN, 0 };
		const char *at;
		ssize_t n;

		if (poll(&pf, 1, 100) <= 0)
			continue;
		if ((n = read(p[0], line + len, sizeof(line) - 1 - len)) <= 0)
			break;
		len += (size_t)n;
		line[len] = '\0';
		if ((at = strstr(line, "listening on 127.0.0.1:")) != NULL &&
		    strstr(at, "(TLS)") != NULL)
			port = atoi(at + strlen("listening on 127.0.0.1:"));
	}
	ASSERT_TRUE(port > 0);
	(void)snprintf(url, sizeof(url), "https://127.0.0.1:%d/healthz", port);
	ASSERT_INT_EQ(get(url, cert), 200);
	ASSERT_INT_EQ(get(url, NULL), 0);	/* Not trusted without the certificate. */
	(void)snprintf(url, sizeof(url), "http://127.0.0.1:%d/healthz", port);
	ASSERT_TRUE(get(url, NULL) != 200);	/* No API over plain HTTP. */

	TEST_START("a config with tls_cert but no tls_key is refused at start (exit 2)");
	if ((f = fopen(conf, "w")) != NULL) {
		(void)fprintf(f, "{\"state_dir\": \"%s\", \"tls_cert\": \"%s\"}\n", state, cert);
		(void)fclose(f);
	}
	{
		char *argv[] = { (char *)h_bin("GD_CTL_BIN", "gamedayd"), "--config", conf, NULL };

		ASSERT_INT_EQ(h_run(argv, out, sizeof(out)), 2);
	}
	(void)kill(pid, SIGTERM);
	(void)waitpid(pid, NULL, 0);
	(void)close(p[0]);
	{
		static const char *const files[] = { "cert.pem", "key.pem", "gamedayd.json",
		    "state/gameday.db", "state/gameday.db-wal", "state/gameday.db-shm",
		    "state/audit.head", "state", NULL };
		char path[160];

		for (size_t i = 0; files[i] != NULL; i++) {
			(void)snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
			(void)remove(path);
		}
		(void)rmdir(dir);
	}
	curl_global_cleanup();
	return test_done();
}
