// SPDX-License-Identifier: GPL-2.0-only
/*
 * khupd - the khup restore daemon.
 *
 * After boot: make sure khup.ko is loaded (so every page handed over by
 * the previous kernel is claimed), log what came across, then follow the
 * module's events and release images that are fully restored or were
 * abandoned past a TTL. One poll() loop over the netlink event socket and a
 * signalfd; signal handlers do nothing. See doc/daemon.md (khupd(8)).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "khupd.h"
#include "version.h"	/* generated: scripts/version --header */

#ifndef MODULE_INIT_COMPRESSED_FILE
#define MODULE_INIT_COMPRESSED_FILE 4
#endif

/* An unrestored image is the only copy of its memory: no TTL unless asked. */
#define DEFAULT_TTL	0
#define DEFAULT_INTERVAL 10
/* The Makefile sets it from SYSCONFDIR, where 'make install' puts it. */
#ifndef DEFAULT_CONFIG
#define DEFAULT_CONFIG	"/etc/khup/khupd.conf"
#endif

struct khupd_config cfg = {
	.state_dir = "/run/khupd",
	.ttl = DEFAULT_TTL,
	.interval = DEFAULT_INTERVAL,
};

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: khupd [OPTIONS]\n"
		"The khup restore daemon: loads khup.ko so pages handed over by the\n"
		"previous kernel are claimed, logs them, and releases images that are\n"
		"fully restored; with --ttl, also those not restored within the TTL.\n"
		"An image nobody restored is otherwise kept (it is the only copy of its\n"
		"processes' memory) and reported at start and every hour.\n"
		"\n"
		"  -c, --config FILE       settings file (default " DEFAULT_CONFIG ");\n"
		"                          options on the command line override it\n"
		"  -f, --foreground        do not detach (systemd, tests)\n"
		"  -m, --module PATH       khup.ko to load if the module is not loaded\n"
		"                          (default: the installed module of the running\n"
		"                          kernel, from modules.dep)\n"
		"  -o, --module-params S   parameters for the module (e.g. trace=khup;\n"
		"                          default: khup.NAME=VALUE words of the kernel\n"
		"                          command line, as modprobe does)\n"
		"  -t, --ttl SECONDS       release images carried over a kexec and not\n"
		"                          restored within SECONDS of being first seen\n"
		"                          (default %d: never)\n"
		"  -i, --interval SECONDS  rescan period (default %d)\n"
		"  -s, --state-dir DIR     lock and state file (default /run/khupd)\n"
		"  -S, --syslog            log to syslog instead of stderr\n"
		"  -v, --verbose           debug messages\n"
		"  -h, --help              this text\n"
		"  -V, --version           print the version\n"
		"\n"
		"Signals: SIGTERM/SIGINT stop (images stay with the module), SIGHUP\n"
		"logs the inventory again.\n"
		"Exit status: 0 clean stop, 1 runtime error, 2 usage or settings error,\n"
		"3 khup.ko could not be loaded, 4 the khup netlink family is unusable,\n"
		"5 another khupd is running.\n"
		"See khupd(8).\n",
		DEFAULT_TTL, DEFAULT_INTERVAL);
}

static bool module_loaded(void)
{
	char state[32] = "";
	FILE *f = fopen("/sys/module/khup/initstate", "re");

	if (!f)
		return false;
	if (!fgets(state, sizeof(state), f))
		state[0] = 0;
	fclose(f);
	return !strncmp(state, "live", 4);
}

/* The installed khup.ko of the running kernel, from modules.dep. */
static char *find_installed(void)
{
	char path[512], line[1024], *res = NULL;
	struct utsname u;
	FILE *f;

	if (uname(&u))
		return NULL;
	snprintf(path, sizeof(path), "/lib/modules/%s/modules.dep",
		 u.release);
	f = fopen(path, "re");
	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':'), *base;

		if (!colon)
			continue;
		*colon = 0;
		base = strrchr(line, '/');
		base = base ? base + 1 : line;
		if (!strncmp(base, "khup.ko", 7)) {
			/* relative to /lib/modules/RELEASE (absolute: old kmod) */
			if (line[0] == '/')
				res = strdup(line);
			else if (asprintf(&res, "/lib/modules/%s/%s", u.release,
					  line) < 0)
				res = NULL;
			break;
		}
	}
	fclose(f);
	return res;
}

/*
 * Like modprobe: "khup.NAME=VALUE" words of the kernel command line become
 * module parameters (khup-upgrade puts khup.trace=INSTANCE there so the
 * restore at module load is traced).
 */
static char *cmdline_params(void)
{
	char buf[4096], *res = NULL, *tok, *save;
	size_t len = 0;
	FILE *f = fopen("/proc/cmdline", "re");

	if (!f)
		return NULL;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	for (tok = strtok_r(buf, " \t\n", &save); tok;
	     tok = strtok_r(NULL, " \t\n", &save)) {
		char *nr;

		if (strncmp(tok, "khup.", 5) || !strchr(tok, '='))
			continue;
		nr = realloc(res, len + strlen(tok) + 2);
		if (!nr)
			break;
		res = nr;
		len += sprintf(res + len, "%s%s", len ? " " : "", tok + 5);
	}
	return res;
}

/*
 * Keeps the "NAME=VALUE" words of @params whose NAME the module declares
 * ("parmtype=NAME:" in its .modinfo), so unrelated khup.* words of the
 * command line do not end up as unknown parameters. A compressed module
 * cannot be searched: everything is kept.
 */
static void filter_params(char *params, const char *path)
{
	char *buf = NULL, *out = params, *tok, *save;
	size_t len = 0, cap = 0;
	ssize_t r;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	for (;;) {
		if (len == cap) {
			char *nb = realloc(buf, cap ? cap * 2 : 1 << 20);

			if (!nb)
				goto out;
			buf = nb;
			cap = cap ? cap * 2 : 1 << 20;
		}
		r = read(fd, buf + len, cap - len);
		if (r <= 0)
			break;
		len += r;
	}
	if (len < 4 || memcmp(buf, "\177ELF", 4))
		goto out;
	for (tok = strtok_r(params, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save)) {
		char key[128];
		size_t n = strcspn(tok, "=");

		snprintf(key, sizeof(key), "parmtype=%.*s:", (int)n, tok);
		if (memmem(buf, len, key, strlen(key))) {
			if (out != params)
				*out++ = ' ';
			memmove(out, tok, strlen(tok));
			out += strlen(tok);
		} else {
			log_debug("command line khup.%s: not a parameter of %s",
				  tok, path);
		}
	}
	*out = 0;
out:
	free(buf);
	close(fd);
}

static int load_module(void)
{
	char *from_cmdline = cfg.module_params ? NULL : cmdline_params();
	const char *params = cfg.module_params ? cfg.module_params :
			     from_cmdline ? from_cmdline : "";
	char *found = NULL;
	const char *path;
	int fd, flags = 0, ret = KHUPD_EXIT_MODULE;
	size_t len;

	if (module_loaded()) {
		log_info("khup.ko is already loaded");
		free(from_cmdline);
		return 0;
	}
	path = cfg.module_path;
	if (!path) {
		found = find_installed();
		if (!found) {
			log_err("khup.ko is not loaded and not installed for this kernel (modules.dep); use --module PATH");
			free(from_cmdline);
			return KHUPD_EXIT_MODULE;
		}
		path = found;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		log_err("cannot open %s: %m", path);
		goto out_free;
	}
	if (from_cmdline)
		filter_params(from_cmdline, path);
	len = strlen(path);
	if ((len > 3 && !strcmp(path + len - 3, ".xz")) ||
	    (len > 4 && !strcmp(path + len - 4, ".zst")) ||
	    (len > 3 && !strcmp(path + len - 3, ".gz")))
		flags |= MODULE_INIT_COMPRESSED_FILE;
	if (syscall(SYS_finit_module, fd, params, flags)) {
		if (errno == EEXIST) {
			log_info("khup.ko was loaded meanwhile");
			ret = 0;
		} else {
			log_err("loading %s: %m (see the kernel log)", path);
		}
		goto out_close;
	}
	log_notice("loaded %s%s%s", path, *params ? " with " : "", params);
	ret = 0;
out_close:
	close(fd);
out_free:
	free(found);
	free(from_cmdline);
	return ret;
}

static void on_event(uint32_t event, const struct khup_image *img)
{
	reclaim_event(event, img);
}

static int run(void)
{
	struct pollfd pfd[2];
	struct signalfd_siginfo si;
	sigset_t mask;
	int sfd, err, ret = KHUPD_EXIT_FAILURE;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL)) {
		log_err("sigprocmask: %m");
		return KHUPD_EXIT_FAILURE;
	}
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		log_err("signalfd: %m");
		return KHUPD_EXIT_FAILURE;
	}

	ret = reclaim_init();
	if (ret)
		goto out_sfd;
	ret = load_module();
	if (ret)
		goto out_reclaim;
	if (khupd_nl_open(on_event)) {
		ret = KHUPD_EXIT_NETLINK;
		goto out_reclaim;
	}
	/* Subscribed before the dump: nothing falls between the two. */
	if (reclaim_scan(true)) {
		ret = KHUPD_EXIT_NETLINK;
		goto out_nl;
	}
	if (!cfg.ttl)
		log_notice("ready (pid %d, no TTL: unrestored images are kept, rescan every %lus)",
			   getpid(), cfg.interval);
	else
		log_notice("ready (pid %d, TTL %lus, rescan every %lus)",
			   getpid(), cfg.ttl, cfg.interval);

	pfd[0].fd = sfd;
	pfd[0].events = POLLIN;
	pfd[1].fd = khupd_nl_event_fd();
	pfd[1].events = POLLIN;
	for (;;) {
		int n = poll(pfd, 2, reclaim_timeout_ms());

		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_err("poll: %m");
			ret = KHUPD_EXIT_FAILURE;
			goto out_nl;
		}
		if (pfd[0].revents & POLLIN) {
			while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGHUP) {
					log_info("SIGHUP: inventory");
					reclaim_scan(true);
					continue;
				}
				log_notice("%s: stopping; images stay with khup.ko",
					   strsignal(si.ssi_signo));
				ret = KHUPD_EXIT_OK;
				goto out_nl;
			}
		}
		if (pfd[1].revents & (POLLERR | POLLHUP)) {
			log_err("netlink event socket failed");
			ret = KHUPD_EXIT_NETLINK;
			goto out_nl;
		}
		if (pfd[1].revents & POLLIN) {
			err = khupd_nl_handle_events();
			if (err == -ENOBUFS)
				log_warn("netlink events were lost; rescanning");
			else if (err) {
				ret = KHUPD_EXIT_NETLINK;
				goto out_nl;
			}
		}
		/* Events, timeouts: the module's view is the truth. */
		if (reclaim_scan(false) && !module_loaded()) {
			log_err("khup.ko was unloaded");
			ret = KHUPD_EXIT_MODULE;
			goto out_nl;
		}
	}

out_nl:
	khupd_nl_close();
out_reclaim:
	reclaim_exit();
out_sfd:
	close(sfd);
	return ret;
}

/*
 * The settings file comes first and the command line overrides it, so
 * --config is looked for (with --help and --version, which need no file)
 * in a first, silent pass; the second pass applies every option.
 */
static const char short_opts[] = "c:fm:o:t:i:s:SvhV";
static const struct option long_opts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "foreground", no_argument, NULL, 'f' },
	{ "module", required_argument, NULL, 'm' },
	{ "module-params", required_argument, NULL, 'o' },
	{ "ttl", required_argument, NULL, 't' },
	{ "interval", required_argument, NULL, 'i' },
	{ "state-dir", required_argument, NULL, 's' },
	{ "syslog", no_argument, NULL, 'S' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/* First pass: returns -1 to go on, else the exit status. */
static int early_options(int argc, char **argv, const char **config,
			 bool *must_exist)
{
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, short_opts, long_opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			*config = optarg;
			*must_exist = true;
			break;
		case 'h':
			usage(stdout);
			return KHUPD_EXIT_OK;
		case 'V':
			printf("khupd %s\n", KHUP_VERSION);
			return KHUPD_EXIT_OK;
		}
	}
	return -1;
}

/* The option's long name, which is also its key in the settings file. */
static const char *long_name(int c)
{
	const struct option *o;

	for (o = long_opts; o->name; o++)
		if (o->val == c)
			return o->name;
	return "?";
}

int main(int argc, char **argv)
{
	const char *config = DEFAULT_CONFIG;
	bool must_exist = false;
	char where[32];
	int c, ret;

	ret = early_options(argc, argv, &config, &must_exist);
	if (ret >= 0)
		return ret;
	ret = config_load(config, must_exist);
	if (ret)
		return ret;

	optind = 0;	/* rescan from the start (glibc) */
	opterr = 1;
	while ((c = getopt_long(argc, argv, short_opts, long_opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			break;
		case 'f':
			cfg.foreground = true;
			break;
		case 'S':
			cfg.syslog = true;
			break;
		case 'v':
			cfg.verbose = true;
			break;
		case 'm':
		case 'o':
		case 't':
		case 'i':
		case 's':
			snprintf(where, sizeof(where), "--%s", long_name(c));
			ret = config_set(long_name(c), optarg, where);
			if (ret)
				return ret;
			break;
		default:
			usage(stderr);
			return KHUPD_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "khupd: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return KHUPD_EXIT_USAGE;
	}
	if (!cfg.foreground && daemon(0, 0)) {
		perror("khupd: daemon");
		return KHUPD_EXIT_FAILURE;
	}
	if (!cfg.foreground)
		cfg.syslog = true;	/* stderr is /dev/null now */
	log_init();
	log_info("khupd %s starting (settings: %s, then the command line)",
		 KHUP_VERSION, config);
	return run();
}
