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
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libkmod.h>

#include "khupd.h"
#include "version.h"	/* generated: scripts/version --header */

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
		"                          (default: 'modprobe khup' through libkmod)\n"
		"  -o, --module-params S   parameters for the module (e.g. trace=khup),\n"
		"                          after those of modprobe.d and the khup.NAME=VALUE\n"
		"                          words of the kernel command line\n"
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
		"Under systemd (Type=notify) it reports READY=1 once the module is loaded\n"
		"and its images are listed, and its state in STATUS=.\n"
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

/* libkmod's messages go where khupd's go. */
static void kmod_log(void *data, int prio, const char *file, int line,
		     const char *fn, const char *fmt, va_list args)
{
	char buf[512];

	(void)data;
	(void)file;
	(void)line;
	(void)fn;
	vsnprintf(buf, sizeof(buf), fmt, args);
	buf[strcspn(buf, "\n")] = 0;
	log_msg(prio > LOG_INFO ? LOG_DEBUG : prio, "libkmod: %s", buf);
}

/*
 * Loads khup.ko the way modprobe does, through libkmod: the module of the
 * running kernel from modules.dep (or --module PATH), with the options of
 * /etc/modprobe.d (and /run, /lib) and the "khup.NAME=VALUE" words of the
 * kernel command line (khup-upgrade puts khup.trace=INSTANCE there), then
 * --module-params on top; install/blacklist commands of modprobe.d apply to
 * the installed module as they would to 'modprobe khup'.
 */
static int load_module(void)
{
	struct kmod_list *list = NULL;
	struct kmod_module *mod = NULL;
	struct kmod_ctx *ctx;
	const char *opts, *path;
	char *all = NULL;
	int err, ret = KHUPD_EXIT_MODULE;

	if (module_loaded()) {
		log_info("khup.ko is already loaded");
		return 0;
	}
	ctx = kmod_new(NULL, NULL);
	if (!ctx) {
		log_err("libkmod: cannot read the module configuration of this kernel");
		return KHUPD_EXIT_MODULE;
	}
	kmod_set_log_fn(ctx, kmod_log, NULL);
	kmod_set_log_priority(ctx, cfg.verbose ? LOG_DEBUG : LOG_WARNING);
	if (cfg.module_path) {
		err = kmod_module_new_from_path(ctx, cfg.module_path, &mod);
		if (err) {
			log_err("cannot use %s: %s", cfg.module_path,
				strerror(-err));
			goto out;
		}
	} else {
		err = kmod_module_new_from_lookup(ctx, "khup", &list);
		if (err || !list) {
			log_err("khup.ko is not loaded and not installed for this kernel (modules.dep); use --module PATH");
			goto out;
		}
		mod = kmod_module_get_module(list);
	}
	opts = kmod_module_get_options(mod);
	if (cfg.module_params &&
	    asprintf(&all, "%s%s%s", opts ? opts : "", opts ? " " : "",
		     cfg.module_params) < 0)
		all = NULL;
	if (!all && opts)
		all = strdup(opts);
	path = kmod_module_get_path(mod);
	if (cfg.module_path) {
		/* A file: no dependencies, no install commands. */
		err = kmod_module_insert_module(mod, 0, all ? all : "");
	} else {
		/* modprobe khup: its install commands, its softdeps */
		err = kmod_module_probe_insert_module(mod, 0,
				cfg.module_params, NULL, NULL, NULL);
	}
	if (err == -EEXIST) {
		log_info("khup.ko was loaded meanwhile");
	} else if (err) {
		log_err("loading %s: %s (see the kernel log)",
			path ? path : "khup", strerror(-err));
		goto out;
	} else if (!module_loaded()) {
		/* an install command of modprobe.d that did not load it */
		log_err("khup.ko is still not loaded after modprobe's install command for it");
		goto out;
	} else {
		log_notice("loaded %s%s%s", path ? path : "khup",
			   all && *all ? " with " : "", all ? all : "");
	}
	ret = 0;
out:
	free(all);
	if (mod)
		kmod_module_unref(mod);
	kmod_module_unref_list(list);
	kmod_unref(ctx);
	return ret;
}

/* READY=1 (once) and a STATUS= line with what khup.ko holds. */
static void notify_status(bool ready)
{
	static unsigned int last_n = -1U;
	static uint64_t last_pages;
	unsigned int n;
	uint64_t pages;
	char b[32];

	reclaim_summary(&n, &pages);
	if (!ready && n == last_n && pages == last_pages)
		return;
	last_n = n;
	last_pages = pages;
	notify("%sSTATUS=khup.ko loaded; %u image(s) held, %s",
	       ready ? "READY=1\n" : "", n,
	       khup_human_bytes(pages * (uint64_t)sysconf(_SC_PAGESIZE), b,
			   sizeof(b)));
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
	notify("STATUS=loading khup.ko");
	ret = load_module();
	if (ret) {
		notify("STATUS=khup.ko could not be loaded (see the log)");
		goto out_reclaim;
	}
	if (khupd_nl_open(on_event)) {
		notify("STATUS=the khup netlink family is unusable");
		ret = KHUPD_EXIT_NETLINK;
		goto out_reclaim;
	}
	/* Subscribed before the dump: nothing falls between the two. */
	if (reclaim_scan(true)) {
		notify("STATUS=the module's images could not be listed");
		ret = KHUPD_EXIT_NETLINK;
		goto out_nl;
	}
	if (!cfg.ttl)
		log_notice("ready (pid %d, no TTL: unrestored images are kept, rescan every %lus)",
			   getpid(), cfg.interval);
	else
		log_notice("ready (pid %d, TTL %lus, rescan every %lus)",
			   getpid(), cfg.ttl, cfg.interval);
	/*
	 * Ready for systemd only now: khup.ko is loaded, so every page the
	 * previous kernel handed over is claimed and its images registered;
	 * units ordered After=khupd.service can restore from them.
	 */
	notify_status(true);

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
					notify_status(false);
					continue;
				}
				notify("STOPPING=1\nSTATUS=stopping; images stay with khup.ko");
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
		notify_status(false);
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
