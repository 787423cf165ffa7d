/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * khupd - the khup restore daemon: shared declarations.
 */
#ifndef KHUPD_H
#define KHUPD_H

#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

#include <linux/khup.h>

#include "khup-nl.h"
#include "util.h"

/* Exit codes, documented in khupd(8) (doc/daemon.md). */
enum {
	KHUPD_EXIT_OK = 0,		/* clean shutdown (SIGTERM/SIGINT) */
	KHUPD_EXIT_FAILURE = 1,		/* unexpected runtime error */
	KHUPD_EXIT_USAGE = 2,		/* bad command line or settings file */
	KHUPD_EXIT_MODULE = 3,		/* khup.ko not loaded and cannot be */
	KHUPD_EXIT_NETLINK = 4,		/* "khup" genetlink family unusable */
	KHUPD_EXIT_RUNNING = 5,		/* another khupd holds the lock */
};

struct khupd_config {
	const char *module_path;	/* NULL: find the installed module */
	const char *module_params;	/* parameters for finit_module() */
	const char *state_dir;		/* lock and state file */
	unsigned long ttl;		/* seconds; 0 = never release by TTL */
	unsigned long interval;		/* seconds between rescans */
	bool foreground;
	bool verbose;
	bool syslog;
};

extern struct khupd_config cfg;

/* One image as the module reports it: struct khup_image (lib/khup-nl.h). */

/* log.c */
void log_init(void);
void log_msg(int prio, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
#define log_err(...)	log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...)	log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_DEBUG, __VA_ARGS__)

/* netlink.c */
typedef void (*event_fn)(uint32_t event, const struct khup_image *img);
int khupd_nl_open(event_fn on_event);
void khupd_nl_close(void);
int khupd_nl_event_fd(void);
int khupd_nl_handle_events(void);
int khupd_nl_dump_images(khup_image_fn fn, void *ctx);
int khupd_nl_release(uint64_t id);

/* reclaim.c */
int reclaim_init(void);
void reclaim_exit(void);
int reclaim_scan(bool inventory);
void reclaim_event(uint32_t event, const struct khup_image *img);
int reclaim_timeout_ms(void);

/* config.c */
int config_set(const char *key, const char *value, const char *where);
int config_load(const char *path, bool must_exist);

/* main.c */
uint64_t now_ns(void);	/* CLOCK_BOOTTIME */

#endif /* KHUPD_H */
