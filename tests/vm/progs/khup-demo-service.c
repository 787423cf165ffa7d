// SPDX-License-Identifier: GPL-2.0-only
/*
 * khup-demo-service: the systemd service of the host-systemd-upgrade test.
 *
 *   khup-demo-service DIR MIB
 *
 * Fills MIB MiB of private anonymous memory with pseudo-random data, keeps
 * its checksum, writes DIR/ready ("pid P", "sum S") and then waits for
 * requests. SIGUSR1 is a request: the data is summed again and
 * DIR/answer.tmp renamed to DIR/answer carries "pid P", "sum S" (now),
 * "expected S" (at start), "requests N" (how many were answered, this one
 * included: it survives a checkpoint only if the process does), "ok 1" if
 * the sums match. SIGTERM ends it. Runs in the foreground (Type=simple).
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static volatile sig_atomic_t request;

static void on_usr1(int sig)
{
	(void)sig;
	request = 1;
}

static uint64_t checksum(const uint64_t *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char tmp[4096], path[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, name);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(tmp, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) || rename(tmp, path)) {
		perror(path);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	uint64_t *mem, x = 88172645463325252ULL, sum, now;
	unsigned long requests = 0;
	struct sigaction sa;
	char text[256];
	sigset_t mask, old;
	size_t n, i;

	if (argc != 3 || atol(argv[2]) <= 0) {
		fprintf(stderr, "usage: khup-demo-service DIR MIB\n");
		return 2;
	}
	n = (size_t)atol(argv[2]) << 17;	/* 8-byte words in MIB MiB */
	mem = mmap(NULL, n * 8, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	x ^= (uint64_t)getpid() << 32;
	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		mem[i] = x;
	}
	sum = checksum(mem, n);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	sigprocmask(SIG_BLOCK, &mask, &old);

	snprintf(text, sizeof(text), "pid %d\nsum %016llx\n", getpid(),
		 (unsigned long long)sum);
	write_file(argv[1], "ready", text);
	printf("khup-demo-service: pid %d holds %s MiB, sum %016llx\n",
	       getpid(), argv[2], (unsigned long long)sum);
	fflush(stdout);
	for (;;) {
		while (!request)
			sigsuspend(&old);
		request = 0;
		now = checksum(mem, n);
		requests++;
		snprintf(text, sizeof(text),
			 "pid %d\nsum %016llx\nexpected %016llx\nrequests %lu\nok %d\n",
			 getpid(), (unsigned long long)now,
			 (unsigned long long)sum, requests, now == sum);
		write_file(argv[1], "answer", text);
	}
}
