// SPDX-License-Identifier: GPL-2.0-only
/*
 * khup-exec-race: the attacker of the module-exec-race test. Run it as an
 * unprivileged user with CAP_CHECKPOINT_RESTORE only:
 *
 *   khup-exec-race ROUNDS SETUID_BIN
 *
 * Each round: a child (same user) maps SECRET_PAGES pages of public data
 * at SECRET_VA; we attach to it (PTRACE_SEIZE, stopped), and a second
 * thread of ours calls KHUP_IOC_PIN on that range again and again. Once
 * a pin went through, we detach and the child execs SETUID_BIN, a setuid
 * root program that maps the same address and fills it with a secret.
 * The pinning goes on until that program says it runs as root, and a
 * while longer. Then every page the image holds is read back: each must
 * be the child's public data from before the exec. A secret page, any
 * other content, or a PIN error other than EPERM (not the tracer) or
 * ESRCH (gone) fails the round: it would mean the pin reached the new,
 * privileged mm. The last line counts rounds, pins before the detach and
 * attempts refused between the detach and the end of the exec.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/khup.h>

#include "exec-race.h"

#define PS 4096UL

static int dev_fd;
static int failures;
static atomic_int stop, detached;
static atomic_uint_least64_t pins_before, pins_after, refused_after,
	other_errors, round_pins;
static uint64_t image;
static pid_t tracee;

static void __attribute__((noreturn)) die(const char *msg)
{
	fprintf(stderr, "khup-exec-race: %s: %s\n", msg, strerror(errno));
	if (tracee > 0)
		kill(tracee, SIGKILL);
	exit(2);
}

static void *hammer(void *arg)
{
	struct iovec iov = { (void *)SECRET_VA, SECRET_PAGES * PS };

	(void)arg;
	while (!stop) {
		struct khup_pin p = { .size = sizeof(p), .id = image,
				      .pid = tracee, .nr_iovecs = 1,
				      .iovecs = (uintptr_t)&iov };
		int after = detached;

		if (!ioctl(dev_fd, KHUP_IOC_PIN, &p)) {
			atomic_fetch_add(after ? &pins_after : &pins_before, 1);
			atomic_fetch_add(&round_pins, 1);
		} else if (errno == EPERM || errno == ESRCH) {
			if (after)
				atomic_fetch_add(&refused_after, 1);
		} else if (atomic_fetch_add(&other_errors, 1) < 5) {
			fprintf(stderr, "khup-exec-race: FAIL: PIN %s the detach: %s\n",
				after ? "after" : "before", strerror(errno));
		}
	}
	return NULL;
}

/* Reads every page the image holds for the tracee; 0 if all public. */
static int check_image(int round)
{
	struct khup_open_pages o = { .size = sizeof(o), .id = image,
				     .pid = tracee };
	static uint64_t buf[PS / 8];
	uint64_t pg, w, secret = 0, other = 0;

	if (ioctl(dev_fd, KHUP_IOC_OPEN_PAGES, &o)) {
		if (errno == ENOENT)	/* nothing pinned for the tracee */
			return 0;
		die("OPEN_PAGES");
	}
	for (pg = 0; pg < o.nr_pages; pg++) {
		if (pread(o.fd, buf, PS, pg * PS) != (ssize_t)PS)
			die("read back");
		for (w = 0; w < PS / 8; w++) {
			secret += buf[w] == SECRET_WORD;
			other += buf[w] != SECRET_WORD && buf[w] != PUBLIC_WORD;
		}
	}
	close(o.fd);
	if (secret || other) {
		fprintf(stderr, "khup-exec-race: FAIL: round %d: of %llu pinned pages, %llu words are the secret, %llu neither secret nor the tracee's data\n",
			round, (unsigned long long)o.nr_pages,
			(unsigned long long)secret, (unsigned long long)other);
		return 1;
	}
	return 0;
}

static int cap_checkpoint_restore(void)
{
	char line[256];
	unsigned long long eff = 0;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	return !!(eff & (1ULL << 40));	/* CAP_CHECKPOINT_RESTORE */
}

static void round_once(int round, const char *bin)
{
	int go[2], ready[2], mapped[2], st;
	struct khup_create c = { .size = sizeof(c) };
	struct khup_image_op op = { .size = sizeof(op) };
	struct pollfd pfd;
	pthread_t th;
	char who = 0;
	int i;

	snprintf(c.name, sizeof(c.name), "race-%d", round);
	if (ioctl(dev_fd, KHUP_IOC_CREATE, &c))
		die("CREATE");
	image = op.id = c.id;
	if (pipe2(go, O_CLOEXEC) || pipe(ready) || pipe2(mapped, O_CLOEXEC))
		die("pipe");
	tracee = fork();
	if (tracee < 0)
		die("fork");
	if (!tracee) {
		uint64_t *p = mmap((void *)SECRET_VA, SECRET_PAGES * PS,
				   PROT_READ | PROT_WRITE, MAP_PRIVATE |
				   MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		char *argv[] = { (char *)bin, NULL };
		char x;

		if (p == MAP_FAILED)
			_exit(126);
		for (i = 0; i < (int)(SECRET_PAGES * PS / 8); i++)
			p[i] = PUBLIC_WORD;
		if (dup2(ready[1], 3) != 3 || write(mapped[1], "m", 1) != 1)
			_exit(126);
		if (read(go[0], &x, 1) != 1)
			_exit(126);
		execve(bin, argv, environ);
		_exit(127);
	}
	close(ready[1]);
	close(go[0]);
	close(mapped[1]);
	/* Attach once the public data is in place. */
	if (read(mapped[0], &who, 1) != 1)
		die("the tracee did not map its memory");
	close(mapped[0]);
	who = 0;
	if (ptrace(PTRACE_SEIZE, tracee, 0, 0) ||
	    ptrace(PTRACE_INTERRUPT, tracee, 0, 0) ||
	    waitpid(tracee, &st, 0) != tracee || !WIFSTOPPED(st))
		die("attach");
	stop = detached = 0;
	round_pins = 0;
	if (pthread_create(&th, NULL, hammer, NULL))
		die("pthread_create");
	/* A pin of the tracee as it is now, before the detach. */
	for (i = 0; i < 5000 && !round_pins; i++)
		usleep(1000);
	if (write(go[1], "x", 1) != 1)
		die("write");
	detached = 1;
	if (ptrace(PTRACE_DETACH, tracee, 0, 0))
		die("detach");
	pfd.fd = ready[0];
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 10000) != 1 || read(ready[0], &who, 1) != 1) {
		errno = ETIMEDOUT;
		die("the setuid program did not start");
	}
	usleep(20000);		/* and a while with the secret in place */
	stop = 1;
	pthread_join(th, NULL);
	if (who != 'r') {
		errno = EPERM;
		die("the setuid program does not run as root (nosuid mount?)");
	}
	if (waitpid(tracee, &st, 0) != tracee)
		die("waitpid");
	failures += check_image(round);
	if (ioctl(dev_fd, KHUP_IOC_RELEASE, &op))
		die("RELEASE");
	close(go[1]);
	close(ready[0]);
}

int main(int argc, char **argv)
{
	int rounds, r;

	if (argc != 3) {
		fprintf(stderr, "usage: khup-exec-race ROUNDS SETUID_BIN\n");
		return 2;
	}
	rounds = atoi(argv[1]);
	if (!getuid() || !geteuid() || !cap_checkpoint_restore()) {
		errno = EPERM;
		die("run me as a user other than root with CAP_CHECKPOINT_RESTORE");
	}
	dev_fd = open("/dev/khup", O_RDWR | O_CLOEXEC);
	if (dev_fd < 0)
		die("open /dev/khup");
	for (r = 0; r < rounds; r++)
		round_once(r, argv[2]);
	printf("%d rounds as uid %d: %llu pins before the detach, %llu attempts refused after it, %llu pins after it, %llu other errors, %d rounds with privileged pages\n",
	       rounds, (int)getuid(), (unsigned long long)pins_before,
	       (unsigned long long)refused_after,
	       (unsigned long long)pins_after,
	       (unsigned long long)other_errors, failures);
	return failures || other_errors ? 1 : 0;
}
