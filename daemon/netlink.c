// SPDX-License-Identifier: GPL-2.0-only
/*
 * khupd's side of the "khup" generic netlink family (libnl-genl-3): one
 * non-blocking socket subscribed to the "events" multicast group, polled by
 * the main loop, and one blocking connection for requests (image dump,
 * release) through the library khupctl uses too (lib/khup-nl.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include "khupd.h"

static struct nl_sock *ev_sock;
static struct khup_nl *req;
static event_fn event_cb;

static int event_valid(struct nl_msg *msg, void *arg)
{
	struct genlmsghdr *g = genlmsg_hdr(nlmsg_hdr(msg));
	struct khup_image img;
	uint32_t event;

	(void)arg;
	if (g->cmd != KHUP_NL_CMD_EVENT || khup_nl_parse_image(msg, &img, &event))
		return NL_SKIP;
	event_cb(event, &img);
	return NL_OK;
}

int khupd_nl_open(event_fn on_event)
{
	int grp, err;

	event_cb = on_event;
	req = khup_nl_open(&err);
	if (!req) {
		if (err == -ENOENT)
			log_err("netlink: family \"%s\" not found (is khup.ko loaded?)",
				KHUP_GENL_NAME);
		else
			log_err("netlink: %s", err == -EIO ? khup_nl_error() :
				strerror(-err));
		goto out_free;
	}
	ev_sock = nl_socket_alloc();
	if (!ev_sock) {
		log_err("netlink: out of memory");
		goto out_free;
	}
	err = genl_connect(ev_sock);
	if (err) {
		log_err("netlink: cannot connect: %s", nl_geterror(err));
		goto out_free;
	}
	grp = genl_ctrl_resolve_grp(khup_nl_sock(req), KHUP_GENL_NAME,
				    KHUP_MCGRP_EVENTS);
	if (grp < 0) {
		log_err("netlink: group \"%s\" not found: %s",
			KHUP_MCGRP_EVENTS, nl_geterror(grp));
		goto out_free;
	}
	nl_socket_disable_seq_check(ev_sock);
	nl_socket_modify_cb(ev_sock, NL_CB_VALID, NL_CB_CUSTOM, event_valid,
			    NULL);
	err = nl_socket_add_membership(ev_sock, grp);
	if (err) {
		log_err("netlink: cannot join \"%s\": %s", KHUP_MCGRP_EVENTS,
			nl_geterror(err));
		goto out_free;
	}
	nl_socket_set_nonblocking(ev_sock);
	/* Bursts of events (many images sealed at once) must not overrun. */
	nl_socket_set_buffer_size(ev_sock, 1 << 20, 0);
	return 0;

out_free:
	khupd_nl_close();
	return -1;
}

void khupd_nl_close(void)
{
	nl_socket_free(ev_sock);
	khup_nl_close(req);
	ev_sock = NULL;
	req = NULL;
}

int khupd_nl_event_fd(void)
{
	return nl_socket_get_fd(ev_sock);
}

/*
 * Reads every pending event. Returns 0, or -ENOBUFS when events were lost
 * (the caller rescans), or another -errno.
 */
int khupd_nl_handle_events(void)
{
	int err;

	for (;;) {
		err = nl_recvmsgs_default(ev_sock);
		if (err == -NLE_AGAIN)
			return 0;
		if (err == -NLE_NOMEM)	/* ENOBUFS: overrun */
			return -ENOBUFS;
		if (err < 0) {
			log_err("netlink: receiving events: %s",
				nl_geterror(err));
			return -EIO;
		}
	}
}

/* A transport failure is logged here; the kernel's errnos are the caller's. */
static int logged(int err)
{
	if (err == -EIO)
		log_err("%s", khup_nl_error());
	return err;
}

int khupd_nl_dump_images(khup_image_fn fn, void *ctx)
{
	return logged(khup_nl_dump_images(req, fn, ctx));
}

/* Returns 0, or the kernel's -errno (-ENOENT: already gone). */
int khupd_nl_release(uint64_t id)
{
	return logged(khup_nl_release(req, id));
}
