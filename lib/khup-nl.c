// SPDX-License-Identifier: GPL-2.0-only
/*
 * Requests to the "khup" generic netlink family (see khup-nl.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include "khup-nl.h"

struct khup_nl {
	struct nl_sock *sock;
	int family;
};

const struct khup_stat khup_stats[] = {
	{ KHUP_A_STATS_PINNED, "pinned_pages" },
	{ KHUP_A_STATS_PRESERVED, "preserved_pages" },
	{ KHUP_A_STATS_RESTORED, "restored_pages" },
	{ KHUP_A_STATS_FREED, "freed_pages" },
	{ KHUP_A_STATS_CMA_MIGRATED, "cma_migrated_pages" },
	{ KHUP_A_STATS_PIN_NS, "pin_ns" },
	{ KHUP_A_STATS_SEAL_NS, "seal_ns" },
	{ KHUP_A_STATS_RESTORE_NS, "restore_ns" },
	{ KHUP_A_STATS_READ_BYTES, "read_bytes" },
	{ KHUP_A_STATS_READ_NS, "read_ns" },
	{ KHUP_A_STATS_CONSUMED, "consumed_pages" },
	{ KHUP_A_STATS_COMMIT_NS, "commit_ns" },
	{ KHUP_A_STATS_PREPARED, "prepared_pages" },
	{ KHUP_A_STATS_PREPARE_MIGRATED, "prepare_migrated_pages" },
	{ KHUP_A_STATS_KMEM_BYTES, "kmem_bytes" },
	{ KHUP_A_STATS_PREPARE_NS, "prepare_ns" },
};
const size_t khup_nr_stats = sizeof(khup_stats) / sizeof(khup_stats[0]);

static char last_error[128];

const char *khup_nl_error(void)
{
	return last_error;
}

static int transport_error(const char *what, int nlerr)
{
	snprintf(last_error, sizeof(last_error), "netlink %s: %s", what,
		 nl_geterror(nlerr));
	return -EIO;
}

struct khup_nl *khup_nl_open(int *err)
{
	struct khup_nl *nl = calloc(1, sizeof(*nl));
	int e;

	if (!nl) {
		*err = -ENOMEM;
		return NULL;
	}
	nl->sock = nl_socket_alloc();
	if (!nl->sock) {
		*err = -ENOMEM;
		goto out_free;
	}
	e = genl_connect(nl->sock);
	if (e) {
		*err = transport_error("connect", e);
		goto out_free;
	}
	nl->family = genl_ctrl_resolve(nl->sock, KHUP_GENL_NAME);
	if (nl->family < 0) {
		transport_error("family \"" KHUP_GENL_NAME "\"", nl->family);
		*err = -ENOENT;
		goto out_free;
	}
	return nl;

out_free:
	khup_nl_close(nl);
	return NULL;
}

void khup_nl_close(struct khup_nl *nl)
{
	if (!nl)
		return;
	nl_socket_free(nl->sock);
	free(nl);
}

struct nl_sock *khup_nl_sock(struct khup_nl *nl)
{
	return nl->sock;
}

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

int khup_nl_parse_image(struct nl_msg *msg, struct khup_image *img,
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
	if (tb[KHUP_A_IMAGE_CONSUMED])
		img->consumed = nla_get_u64(tb[KHUP_A_IMAGE_CONSUMED]);
	if (tb[KHUP_A_IMAGE_LOST])
		img->lost = nla_get_u64(tb[KHUP_A_IMAGE_LOST]);
	if (event)
		*event = tb[KHUP_A_EVENT_TYPE] ?
			 nla_get_u32(tb[KHUP_A_EVENT_TYPE]) : 0;
	return 0;
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
static int request(struct khup_nl *nl, uint8_t cmd, int flags,
		   const uint64_t *id, int (*valid)(struct nl_msg *, void *),
		   void *arg)
{
	struct req_state st = { 0 };
	struct nl_msg *msg;
	struct nl_cb *cb;
	int err;

	msg = nlmsg_alloc();
	cb = nl_cb_clone(nl_socket_get_cb(nl->sock));
	if (!msg || !cb) {
		err = -ENOMEM;
		goto out;
	}
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, nl->family, 0, flags,
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
	err = nl_send_auto(nl->sock, msg);	/* requests an ACK */
	if (err < 0) {
		err = transport_error("send", err);
		goto out;
	}
	err = 0;
	while (!st.done && err >= 0)
		err = nl_recvmsgs(nl->sock, cb);
	if (st.kerr)
		err = st.kerr;
	else if (err < 0)
		err = transport_error("receive", err);
	else
		err = 0;
out:
	nl_cb_put(cb);
	nlmsg_free(msg);
	return err;
}

struct dump_ctx {
	khup_image_fn fn;
	void *ctx;
};

static int dump_valid(struct nl_msg *msg, void *arg)
{
	struct dump_ctx *d = arg;
	struct khup_image img;

	if (!khup_nl_parse_image(msg, &img, NULL))
		d->fn(&img, d->ctx);
	return NL_OK;
}

int khup_nl_dump_images(struct khup_nl *nl, khup_image_fn fn, void *ctx)
{
	struct dump_ctx d = { .fn = fn, .ctx = ctx };

	return request(nl, KHUP_NL_CMD_IMAGE_GET, NLM_F_DUMP, NULL,
		       dump_valid, &d);
}

static void copy_image(const struct khup_image *img, void *ctx)
{
	*(struct khup_image *)ctx = *img;
}

int khup_nl_get_image(struct khup_nl *nl, uint64_t id, struct khup_image *img)
{
	struct dump_ctx d = { .fn = copy_image, .ctx = img };

	memset(img, 0, sizeof(*img));
	return request(nl, KHUP_NL_CMD_IMAGE_GET, 0, &id, dump_valid, &d);
}

int khup_nl_release(struct khup_nl *nl, uint64_t id)
{
	return request(nl, KHUP_NL_CMD_IMAGE_RELEASE, 0, &id, NULL, NULL);
}

static int stats_valid(struct nl_msg *msg, void *arg)
{
	struct nlattr *tb[KHUP_A_MAX + 1];
	uint64_t *v = arg;
	size_t i;

	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, KHUP_A_MAX, NULL))
		return NL_SKIP;
	for (i = 0; i < khup_nr_stats; i++)
		if (tb[khup_stats[i].attr])
			v[i] = nla_get_u64(tb[khup_stats[i].attr]);
	return NL_OK;
}

int khup_nl_get_stats(struct khup_nl *nl, uint64_t *v)
{
	memset(v, 0, khup_nr_stats * sizeof(*v));
	return request(nl, KHUP_NL_CMD_STATS_GET, 0, NULL, stats_valid, v);
}
