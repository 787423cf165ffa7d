/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Requests to the "khup" generic netlink family (libnl-genl-3), shared by
 * khupd and khupctl: image dump and get, release, statistics. Requests
 * need CAP_NET_ADMIN (the family's GENL_ADMIN_PERM). Functions return 0
 * or a negative errno: the kernel's for a refused request, -EIO for a
 * transport failure (khup_nl_error() says which).
 */
#ifndef KHUP_LIB_KHUP_NL_H
#define KHUP_LIB_KHUP_NL_H

#include <stddef.h>
#include <stdint.h>

#include <linux/khup.h>

struct nl_msg;
struct nl_sock;

/* One image as the module reports it (KHUP_A_IMAGE_* attributes). */
struct khup_image {
	uint64_t id;
	char name[KHUP_NAME_LEN];
	uint32_t owner;
	char release[KHUP_RELEASE_LEN];
	uint64_t ctime_ns;
	uint32_t tasks;
	uint64_t pages;
	uint64_t bytes;
	uint32_t state;
	uint64_t kexec_count;
	int32_t claimer;	/* pid of the restore holding it, 0 if none */
	uint64_t consumed;	/* pages a claim has consumed */
	uint64_t lost;
};

/* The module's statistics: attribute and the name tools print. */
struct khup_stat {
	int attr;
	const char *name;
};
extern const struct khup_stat khup_stats[];
extern const size_t khup_nr_stats;

struct khup_nl;

/* Connects and resolves the family; NULL and *err (-errno) on failure
 * (-ENOENT: no family, khup.ko not loaded). */
struct khup_nl *khup_nl_open(int *err);
void khup_nl_close(struct khup_nl *nl);
/* The request socket, e.g. to resolve a multicast group. */
struct nl_sock *khup_nl_sock(struct khup_nl *nl);
/* Text of the last transport failure (-EIO). */
const char *khup_nl_error(void);

/* Fills @img from a message's attributes; -EINVAL without an id. @event
 * (may be NULL) gets KHUP_A_EVENT_TYPE, 0 if absent. */
int khup_nl_parse_image(struct nl_msg *msg, struct khup_image *img,
			uint32_t *event);

typedef void (*khup_image_fn)(const struct khup_image *img, void *ctx);
int khup_nl_dump_images(struct khup_nl *nl, khup_image_fn fn, void *ctx);
/* -ENOENT if there is no image @id. */
int khup_nl_get_image(struct khup_nl *nl, uint64_t id, struct khup_image *img);
/* -ENOENT: already gone; -EBUSY: a restore holds it. */
int khup_nl_release(struct khup_nl *nl, uint64_t id);
/* @v gets khup_nr_stats values, in khup_stats[] order. */
int khup_nl_get_stats(struct khup_nl *nl, uint64_t *v);

#endif /* KHUP_LIB_KHUP_NL_H */
