// SPDX-License-Identifier: GPL-2.0-only
/*
 * khupd's side of the "khup" generic netlink family (libnl-genl-3): one
 * non-blocking socket subscribed to the "events" multicast group, polled by
 * the main loop, and one blocking socket for requests (image dump,
 * release).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include "khupd.h"

static struct nl_sock *ev_sock;
static struct nl_sock *req_sock;
static int family;
static event_fn event_cb;

static struct nla_policy image_policy[KHUP_A_MAX + 1] = {
	[KHUP_A_IMAGE_ID] = { .type = NLA_U64 },
	[KHUP_A_IMAGE_NAME] = { .type = NLA_STRING },
	[KHUP_A_IMAGE_OWNER] = { .type = NLA_U32 },
	[KHUP_A_IMAGE_RELEASE] = { .type = NLA_STRING },
	[KHUP_A_IMAGE_CTIME] = { .type = NLA_U64 },
	[KHUP_A_IMAGE_TASKS] = { .type = NLA_U32 },
	[KHUP_A_IMAGE_PAGES] = { .type = NLA_U64 },
	[KHUP_A_IMAGE_BYTES] = { .type = NLA_U64 },
	[KHUP_A_IMAGE_STATE] = { .type = NLA_U32 },
	[KHUP_A_EVENT_TYPE] = { .type = NLA_U32 },
	[KHUP_A_IMAGE_KEXEC_COUNT] = { .type = NLA_U64 },
	[KHUP_A_IMAGE_CLAIMER] = { .type = NLA_U32 },
	[KHUP_A_IMAGE_CONSUMED] = { .type = NLA_U64 },
	[KHUP_A_IMAGE_LOST] = { .type = NLA_U64 },
};

/* Fills @img from a message's attributes; -EINVAL without an id. */
static int parse_image(struct nl_msg *msg, struct khupd_image *img,
		       uint32_t *event)
{
	struct nlattr *tb[KHUP_A_MAX + 1];

	memset(img, 0, sizeof(*img));
	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, KHUP_A_MAX, image_policy))
		return -EINVAL;
	if (!tb[KHUP_A_IMAGE_ID])
		return -EINVAL;
	img->id = nla_get_u64(tb[KHUP_A_IMAGE_ID]);
	if (tb[KHUP_A_IMAGE_NAME])
		nla_strlcpy(img->name, tb[KHUP_A_IMAGE_NAME],
			    sizeof(img->name));
	if (tb[KHUP_A_IMAGE_RELEASE])
		nla_strlcpy(img->release, tb[KHUP_A_IMAGE_RELEASE],
			    sizeof(img->release));
	if (tb[KHUP_A_IMAGE_OWNER])
		img->owner = nla_get_u32(tb[KHUP_A_IMAGE_OWNER]);
	if (tb[KHUP_A_IMAGE_CTIME])
		img->ctime_ns = nla_get_u64(tb[KHUP_A_IMAGE_CTIME]);
	if (tb[KHUP_A_IMAGE_TASKS])
		img->tasks = nla_get_u32(tb[KHUP_A_IMAGE_TASKS]);
	if (tb[KHUP_A_IMAGE_PAGES])
		img->pages = nla_get_u64(tb[KHUP_A_IMAGE_PAGES]);
	if (tb[KHUP_A_IMAGE_BYTES])
		img->bytes = nla_get_u64(tb[KHUP_A_IMAGE_BYTES]);
	if (tb[KHUP_A_IMAGE_STATE])
		img->state = nla_get_u32(tb[KHUP_A_IMAGE_STATE]);
	if (tb[KHUP_A_IMAGE_KEXEC_COUNT])
		img->kexec_count = nla_get_u64(tb[KHUP_A_IMAGE_KEXEC_COUNT]);
	if (tb[KHUP_A_IMAGE_CLAIMER])
		img->claimer = (int32_t)nla_get_u32(tb[KHUP_A_IMAGE_CLAIMER]);
	if (tb[KHUP_A_IMAGE_LOST])
		img->lost = nla_get_u64(tb[KHUP_A_IMAGE_LOST]);
	if (event)
		*event = tb[KHUP_A_EVENT_TYPE] ?
			 nla_get_u32(tb[KHUP_A_EVENT_TYPE]) : 0;
	return 0;
}

static int event_valid(struct nl_msg *msg, void *arg)
{
	struct genlmsghdr *g = genlmsg_hdr(nlmsg_hdr(msg));
	struct khupd_image img;
	uint32_t event;

	(void)arg;
	if (g->cmd != KHUP_NL_CMD_EVENT || parse_image(msg, &img, &event))
		return NL_SKIP;
	event_cb(event, &img);
	return NL_OK;
}

int khupd_nl_open(event_fn on_event)
{
	int grp, err;

	event_cb = on_event;
	req_sock = nl_socket_alloc();
	ev_sock = nl_socket_alloc();
	if (!req_sock || !ev_sock) {
		log_err("netlink: out of memory");
		goto out_free;
	}
	err = genl_connect(req_sock);
	if (!err)
		err = genl_connect(ev_sock);
	if (err) {
		log_err("netlink: cannot connect: %s", nl_geterror(err));
		goto out_free;
	}
	family = genl_ctrl_resolve(req_sock, KHUP_GENL_NAME);
	if (family < 0) {
		log_err("netlink: family \"%s\" not found: %s (is khup.ko loaded?)",
			KHUP_GENL_NAME, nl_geterror(family));
		goto out_free;
	}
	grp = genl_ctrl_resolve_grp(req_sock, KHUP_GENL_NAME,
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
	nl_socket_free(req_sock);
	ev_sock = req_sock = NULL;
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

struct dump_ctx {
	image_fn fn;
	void *ctx;
};

static int dump_valid(struct nl_msg *msg, void *arg)
{
	struct dump_ctx *d = arg;
	struct khupd_image img;

	if (!parse_image(msg, &img, NULL))
		d->fn(&img, d->ctx);
	return NL_OK;
}

struct req_state {
	int kerr;	/* kernel errno of an NLMSG_ERROR */
	bool done;	/* ACK or DONE seen */
};

static int req_error(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	struct req_state *st = arg;

	(void)nla;
	st->kerr = e->error;
	st->done = true;
	return NL_STOP;
}

static int req_done(struct nl_msg *msg, void *arg)
{
	(void)msg;
	((struct req_state *)arg)->done = true;
	return NL_STOP;
}

/*
 * Sends @cmd (with KHUP_A_IMAGE_ID if @id) and receives until the ACK (do)
 * or DONE (dump); @valid sees every reply. Returns 0 or -errno.
 */
static int request(uint8_t cmd, int flags, uint64_t *id,
		   int (*valid)(struct nl_msg *, void *), void *arg)
{
	struct req_state st = { 0 };
	struct nl_msg *msg;
	struct nl_cb *cb;
	int err;

	msg = nlmsg_alloc();
	cb = nl_cb_clone(nl_socket_get_cb(req_sock));
	if (!msg || !cb) {
		err = -ENOMEM;
		goto out;
	}
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, flags,
			 cmd, KHUP_GENL_VERSION) ||
	    (id && nla_put_u64(msg, KHUP_A_IMAGE_ID, *id))) {
		err = -ENOMEM;
		goto out;
	}
	if (valid)
		nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, valid, arg);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, req_done, &st);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, req_done, &st);
	nl_cb_err(cb, NL_CB_CUSTOM, req_error, &st);
	err = nl_send_auto(req_sock, msg);	/* requests an ACK */
	if (err < 0) {
		log_err("netlink: send: %s", nl_geterror(err));
		err = -EIO;
		goto out;
	}
	err = 0;
	while (!st.done && err >= 0)
		err = nl_recvmsgs(req_sock, cb);
	if (st.kerr)
		err = st.kerr;
	else if (err < 0) {
		log_err("netlink: receive: %s", nl_geterror(err));
		err = -EIO;
	} else {
		err = 0;
	}
out:
	nl_cb_put(cb);
	nlmsg_free(msg);
	return err;
}

int khupd_nl_dump_images(image_fn fn, void *ctx)
{
	struct dump_ctx d = { .fn = fn, .ctx = ctx };

	return request(KHUP_NL_CMD_IMAGE_GET, NLM_F_DUMP, NULL, dump_valid,
		       &d);
}

/* Returns 0, or the kernel's -errno (-ENOENT: already gone). */
int khupd_nl_release(uint64_t id)
{
	return request(KHUP_NL_CMD_IMAGE_RELEASE, 0, &id, NULL, NULL);
}
