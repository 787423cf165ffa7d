// SPDX-License-Identifier: GPL-2.0-only
/*
 * luo-images - the benchmarks' LUO-memfd baseline: CRIU images kept in
 * memfds that the kernel's Live Update Orchestrator preserves across a
 * kexec (the approach of the CRIU "memfd images" / LUO-backend proposals),
 * instead of in khup's pinned process pages.
 *
 *   luo-images save NAME DIR
 *	Copies every regular file of DIR (a CRIU images directory) into a
 *	memfd, preserves the memfds and a manifest in the LUO session NAME,
 *	deletes the files, and leaves a process in the background holding
 *	the session until the kexec (LUO preserves only sessions that are
 *	open then). Prints "bytes N", "files N", "copy_ns N".
 *
 *   luo-images restore NAME DIR
 *	After the kexec: retrieves the session, the manifest and every
 *	memfd, finishes the session, and makes DIR/FILE a symlink to the
 *	memfd, held open by a process left in the background (no copy:
 *	CRIU reads the preserved pages in place). Prints the holder's pid
 *	("holder PID"); killing it frees the memory. Prints "bytes N",
 *	"files N", "retrieve_ns N".
 *
 * Needs a kernel with CONFIG_LIVEUPDATE_MEMFD booted with liveupdate=on
 * (and kho=on). Exit status 0, or 1 with a message naming the step.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/liveupdate.h>

#define MANIFEST_TOKEN	1	/* files are 2, 3, ... */
#define MAX_FILES	4096
#define NAME_MAX_LEN	255

struct entry {
	uint64_t token;
	uint64_t size;
	char name[NAME_MAX_LEN + 1];
	int fd;
};

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("luo-images: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* CRIU image names: letters, digits, '.', '_', '-'; nothing else is kept. */
static bool good_name(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > NAME_MAX_LEN || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (!(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') &&
		    !(*s >= '0' && *s <= '9') && !strchr("._-", *s))
			return false;
	return true;
}

static int open_luo(void)
{
	int fd = open("/dev/liveupdate", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		die("open /dev/liveupdate: %s (CONFIG_LIVEUPDATE, boot with liveupdate=on)",
		    strerror(errno));
	return fd;
}

static void copy_all(int to, int from, uint64_t size, const char *what)
{
	off_t off = 0;

	while ((uint64_t)off < size) {
		ssize_t n = sendfile(to, from, &off, size - off);

		if (n <= 0)
			die("copy %s: %s", what, n ? strerror(errno) : "short file");
	}
}

static void preserve(int session, int fd, uint64_t token, const char *what)
{
	struct liveupdate_session_preserve_fd p = {
		.size = sizeof(p), .fd = fd, .token = token,
	};

	if (ioctl(session, LIVEUPDATE_SESSION_PRESERVE_FD, &p))
		die("preserve %s: %s", what, strerror(errno));
}

static int retrieve(int session, uint64_t token, const char *what)
{
	struct liveupdate_session_retrieve_fd r = {
		.size = sizeof(r), .token = token,
	};

	if (ioctl(session, LIVEUPDATE_SESSION_RETRIEVE_FD, &r))
		die("retrieve %s (token %" PRIu64 "): %s", what, token,
		    strerror(errno));
	return r.fd;
}

/*
 * Leaves a child holding every open fd but the standard ones (a caller
 * reading our output must see it end); the parent returns its pid.
 */
static pid_t hold_in_background(void)
{
	pid_t pid;
	int null;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid)
		return pid;
	null = open("/dev/null", O_RDWR);
	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
	    dup2(null, 2) < 0)
		_exit(1);
	setsid();
	for (;;)
		pause();
}

static int cmd_save(const char *name, const char *dir)
{
	struct liveupdate_ioctl_create_session cs = { .size = sizeof(cs) };
	struct entry *e = calloc(MAX_FILES, sizeof(*e));
	uint64_t bytes = 0, t0, t1;
	int luo, dfd, mfd, n = 0, i;
	struct dirent *de;
	FILE *man;
	DIR *d;

	if (!e)
		die("out of memory");
	if (strlen(name) >= sizeof(cs.name))
		die("session name too long: %s", name);
	d = opendir(dir);
	if (!d)
		die("open %s: %s", dir, strerror(errno));
	dfd = dirfd(d);
	luo = open_luo();
	strcpy((char *)cs.name, name);
	if (ioctl(luo, LIVEUPDATE_IOCTL_CREATE_SESSION, &cs))
		die("create session %s: %s", name, strerror(errno));

	t0 = now_ns();
	while ((de = readdir(d))) {
		struct stat st;
		int fd;

		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
		    !S_ISREG(st.st_mode))
			die("%s/%s: not a regular file", dir, de->d_name);
		if (!good_name(de->d_name))
			die("%s/%s: not a CRIU image name", dir, de->d_name);
		if (n == MAX_FILES)
			die("%s: more than %d files", dir, MAX_FILES);
		fd = openat(dfd, de->d_name, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die("open %s/%s: %s", dir, de->d_name, strerror(errno));
		e[n].fd = memfd_create(de->d_name, MFD_CLOEXEC);
		if (e[n].fd < 0)
			die("memfd_create: %s", strerror(errno));
		copy_all(e[n].fd, fd, st.st_size, de->d_name);
		close(fd);
		e[n].size = st.st_size;
		e[n].token = MANIFEST_TOKEN + 1 + n;
		strcpy(e[n].name, de->d_name);
		preserve(cs.fd, e[n].fd, e[n].token, e[n].name);
		/* the memfd is now the only copy */
		if (unlinkat(dfd, de->d_name, 0))
			die("unlink %s/%s: %s", dir, de->d_name, strerror(errno));
		bytes += st.st_size;
		n++;
	}
	closedir(d);

	mfd = memfd_create("luo-images-manifest", MFD_CLOEXEC);
	man = mfd < 0 ? NULL : fdopen(dup(mfd), "w");
	if (!man)
		die("manifest: %s", strerror(errno));
	for (i = 0; i < n; i++)
		fprintf(man, "%" PRIu64 " %" PRIu64 " %s\n", e[i].token,
			e[i].size, e[i].name);
	if (fclose(man))
		die("manifest: %s", strerror(errno));
	preserve(cs.fd, mfd, MANIFEST_TOKEN, "the manifest");
	t1 = now_ns();
	close(luo);

	printf("holder %d\nbytes %" PRIu64 "\nfiles %d\ncopy_ns %" PRIu64 "\n",
	       (int)hold_in_background(), bytes, n, t1 - t0);
	return 0;
}

/* One manifest line; 0, or -1 if it is not "TOKEN SIZE NAME". */
static int parse_line(const char *line, struct entry *e)
{
	char name[NAME_MAX_LEN + 2];
	int used = 0;

	if (sscanf(line, "%" SCNu64 " %" SCNu64 " %256s%n", &e->token,
		   &e->size, name, &used) != 3 || line[used] != '\n' ||
	    !good_name(name) || e->token <= MANIFEST_TOKEN)
		return -1;
	strcpy(e->name, name);
	return 0;
}

static int cmd_restore(const char *name, const char *dir)
{
	struct liveupdate_ioctl_retrieve_session rs = { .size = sizeof(rs) };
	struct liveupdate_session_finish fin = { .size = sizeof(fin) };
	uint64_t bytes = 0, t0, t1;
	char line[NAME_MAX_LEN + 64];
	int luo, mfd, n = 0, i;
	struct entry *e = calloc(MAX_FILES, sizeof(*e));
	pid_t holder;
	FILE *man;

	if (!e)
		die("out of memory");
	if (strlen(name) >= sizeof(rs.name))
		die("session name too long: %s", name);
	if (mkdir(dir, 0700) && errno != EEXIST)
		die("mkdir %s: %s", dir, strerror(errno));
	t0 = now_ns();
	luo = open_luo();
	strcpy((char *)rs.name, name);
	if (ioctl(luo, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, &rs))
		die("retrieve session %s: %s", name, strerror(errno));
	mfd = retrieve(rs.fd, MANIFEST_TOKEN, "the manifest");
	man = fdopen(mfd, "r");
	if (!man)
		die("manifest: %s", strerror(errno));
	rewind(man);
	while (fgets(line, sizeof(line), man)) {
		struct stat st;

		if (n == MAX_FILES || parse_line(line, &e[n]))
			die("manifest line %d is bad: %s", n + 1, line);
		e[n].fd = retrieve(rs.fd, e[n].token, e[n].name);
		if (fstat(e[n].fd, &st) || (uint64_t)st.st_size != e[n].size)
			die("%s: %lld bytes after the kexec, %" PRIu64 " before",
			    e[n].name, (long long)st.st_size, e[n].size);
		bytes += e[n].size;
		n++;
	}
	fclose(man);
	if (ioctl(rs.fd, LIVEUPDATE_SESSION_FINISH, &fin))
		die("finish session %s: %s", name, strerror(errno));
	close(rs.fd);
	close(luo);
	/* the memfds stay open in the holder; CRIU opens them by path */
	for (i = 0; i < n; i++) {
		int fl = fcntl(e[i].fd, F_GETFD);

		fcntl(e[i].fd, F_SETFD, fl & ~FD_CLOEXEC);
	}
	holder = hold_in_background();
	for (i = 0; i < n; i++) {
		char target[64], path[PATH_MAX];

		snprintf(target, sizeof(target), "/proc/%d/fd/%d", (int)holder,
			 e[i].fd);
		snprintf(path, sizeof(path), "%s/%s", dir, e[i].name);
		if (symlink(target, path))
			die("symlink %s: %s", path, strerror(errno));
	}
	t1 = now_ns();
	printf("holder %d\nbytes %" PRIu64 "\nfiles %d\nretrieve_ns %" PRIu64 "\n",
	       (int)holder, bytes, n, t1 - t0);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "save"))
		return cmd_save(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "restore"))
		return cmd_restore(argv[2], argv[3]);
	fprintf(stderr, "usage: luo-images save|restore NAME DIR\n");
	return 2;
}
