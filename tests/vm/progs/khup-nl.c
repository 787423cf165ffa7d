// SPDX-License-Identifier: GPL-2.0-only
/*
 * khup-nl: minimal client of the "khup" generic netlink family for the VM
 * tests (raw netlink sockets, no libnl, so it runs anywhere).
 *
 *   khup-nl dump                 one line per image: id name state pages tasks
 *   khup-nl get ID               the same for one image
 *   khup-nl stats                "name value" per statistic
 *   khup-nl release ID           KHUP_NL_CMD_IMAGE_RELEASE
 *   khup-nl listen N SECONDS     print the first N events: "event id name"
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/khup.h>

static int sock;
static uint16_t family;
static uint32_t events_grp;
static uint32_t seq = 1;

static void die(const char *msg, int err)
{
	fprintf(stderr, "khup-nl: %s%s%s\n", msg, err ? ": " : "",
		err ? strerror(err) : "");
	exit(1);
}

struct req {
	struct nlmsghdr n;
	struct genlmsghdr g;
	char buf[256];
};

static void put_attr(struct req *r, uint16_t type, const void *data,
		     uint16_t len)
{
	struct nlattr *a = (void *)((char *)r + NLMSG_ALIGN(r->n.nlmsg_len));

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy((char *)a + NLA_HDRLEN, data, len);
	r->n.nlmsg_len = NLMSG_ALIGN(r->n.nlmsg_len) + NLA_ALIGN(a->nla_len);
}

static void send_req(struct req *r, uint16_t type, uint8_t cmd, uint16_t flags)
{
	r->n.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	r->n.nlmsg_type = type;
	r->n.nlmsg_flags = NLM_F_REQUEST | flags;
	r->n.nlmsg_seq = seq++;
	r->g.cmd = cmd;
	r->g.version = 1;
}

static void xsend(struct req *r)
{
	if (send(sock, r, r->n.nlmsg_len, 0) < 0)
		die("send", errno);
}

/* Calls @fn for each attribute of a genl message or nested attribute. */
static void attrs(void *data, int len,
		  void (*fn)(struct nlattr *a, void *ctx), void *ctx)
{
	struct nlattr *a = data;

	while (len >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN &&
	       a->nla_len <= len) {
		fn(a, ctx);
		len -= NLA_ALIGN(a->nla_len);
		a = (void *)((char *)a + NLA_ALIGN(a->nla_len));
	}
}

#define PAYLOAD(a) ((void *)((char *)(a) + NLA_HDRLEN))

struct grp {
	uint32_t id;
	int match;
};

static void grp_attr(struct nlattr *a, void *ctx)
{
	struct grp *g = ctx;

	if (a->nla_type == CTRL_ATTR_MCAST_GRP_ID)
		g->id = *(uint32_t *)PAYLOAD(a);
	if (a->nla_type == CTRL_ATTR_MCAST_GRP_NAME &&
	    !strcmp(PAYLOAD(a), KHUP_MCGRP_EVENTS))
		g->match = 1;
}

static void grp_list(struct nlattr *a, void *ctx)
{
	struct grp g = { 0 };

	attrs(PAYLOAD(a), a->nla_len - NLA_HDRLEN, grp_attr, &g);
	if (g.match)
		*(uint32_t *)ctx = g.id;
}

static void family_attr(struct nlattr *a, void *ctx)
{
	(void)ctx;
	if (a->nla_type == CTRL_ATTR_FAMILY_ID)
		family = *(uint16_t *)PAYLOAD(a);
	if (a->nla_type == CTRL_ATTR_MCAST_GROUPS)
		attrs(PAYLOAD(a), a->nla_len - NLA_HDRLEN, grp_list,
		      &events_grp);
}

/* Receives until DONE/ACK; calls @fn per genl message. Returns -errno. */
static int recv_all(void (*fn)(struct genlmsghdr *g, int len))
{
	static char buf[65536];

	for (;;) {
		int len = recv(sock, buf, sizeof(buf), 0);
		struct nlmsghdr *n = (void *)buf;

		if (len < 0)
			die("recv", errno);
		for (; NLMSG_OK(n, (unsigned int)len); n = NLMSG_NEXT(n, len)) {
			if (n->nlmsg_type == NLMSG_DONE)
				return 0;
			if (n->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(n);

				return e->error;
			}
			fn(NLMSG_DATA(n), n->nlmsg_len - NLMSG_HDRLEN);
			if (!(n->nlmsg_flags & NLM_F_MULTI))
				return 0;
		}
	}
}

static void ctrl_reply(struct genlmsghdr *g, int len)
{
	attrs((char *)g + GENL_HDRLEN, len - GENL_HDRLEN, family_attr, NULL);
}

static void resolve(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct req r = { 0 };
	int err;

	sock = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (sock < 0 || bind(sock, (void *)&sa, sizeof(sa)))
		die("netlink socket", errno);
	send_req(&r, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 0);
	put_attr(&r, CTRL_ATTR_FAMILY_NAME, KHUP_GENL_NAME,
		 sizeof(KHUP_GENL_NAME));
	xsend(&r);
	err = recv_all(ctrl_reply);
	if (err || !family)
		die("family khup not found", -err);
}

struct image {
	uint64_t id, pages;
	uint32_t state, tasks, event;
	char name[KHUP_NAME_LEN];
};

static void image_attr(struct nlattr *a, void *ctx)
{
	struct image *im = ctx;
	void *p = PAYLOAD(a);

	switch (a->nla_type) {
	case KHUP_A_IMAGE_ID:
		memcpy(&im->id, p, 8);
		break;
	case KHUP_A_IMAGE_PAGES:
		memcpy(&im->pages, p, 8);
		break;
	case KHUP_A_IMAGE_STATE:
		im->state = *(uint32_t *)p;
		break;
	case KHUP_A_IMAGE_TASKS:
		im->tasks = *(uint32_t *)p;
		break;
	case KHUP_A_EVENT_TYPE:
		im->event = *(uint32_t *)p;
		break;
	case KHUP_A_IMAGE_NAME:
		snprintf(im->name, sizeof(im->name), "%s", (char *)p);
		break;
	}
}

static void print_image(struct genlmsghdr *g, int len)
{
	struct image im = { 0 };

	attrs((char *)g + GENL_HDRLEN, len - GENL_HDRLEN, image_attr, &im);
	if (g->cmd == KHUP_NL_CMD_EVENT)
		printf("%s %llu %s\n",
		       im.event == KHUP_EVENT_SEALED ? "sealed" :
		       im.event == KHUP_EVENT_RESTORED ? "restored" :
		       im.event == KHUP_EVENT_RELEASED ? "released" :
		       im.event == KHUP_EVENT_FREED ? "freed" : "unknown",
		       (unsigned long long)im.id, im.name);
	else
		printf("%llu %s %u %llu %u\n", (unsigned long long)im.id,
		       im.name, im.state, (unsigned long long)im.pages,
		       im.tasks);
	fflush(stdout);
}

static const char *stat_name(int t)
{
	switch (t) {
	case KHUP_A_STATS_PINNED: return "pinned";
	case KHUP_A_STATS_PRESERVED: return "preserved";
	case KHUP_A_STATS_RESTORED: return "restored";
	case KHUP_A_STATS_FREED: return "freed";
	case KHUP_A_STATS_CMA_MIGRATED: return "cma_migrated";
	case KHUP_A_STATS_PIN_NS: return "pin_ns";
	case KHUP_A_STATS_SEAL_NS: return "seal_ns";
	case KHUP_A_STATS_RESTORE_NS: return "restore_ns";
	case KHUP_A_STATS_READ_BYTES: return "read_bytes";
	case KHUP_A_STATS_READ_NS: return "read_ns";
	case KHUP_A_STATS_CONSUMED: return "consumed";
	case KHUP_A_STATS_COMMIT_NS: return "commit_ns";
	case KHUP_A_STATS_PREPARED: return "prepared";
	case KHUP_A_STATS_PREPARE_MIGRATED: return "prepare_migrated";
	case KHUP_A_STATS_KMEM_BYTES: return "kmem_bytes";
	case KHUP_A_STATS_PREPARE_NS: return "prepare_ns";
	case KHUP_A_STATS_HELD: return "held";
	case KHUP_A_STATS_CHARGED: return "charged";
	case KHUP_A_STATS_SNAPSHOT: return "snapshot";
	case KHUP_A_STATS_SNAPSHOT_NS: return "snapshot_ns";
	}
	return NULL;
}

static void stat_attr(struct nlattr *a, void *ctx)
{
	uint64_t v;

	(void)ctx;
	if (!stat_name(a->nla_type))
		return;
	memcpy(&v, PAYLOAD(a), 8);
	printf("%s %llu\n", stat_name(a->nla_type), (unsigned long long)v);
}

static void print_stats(struct genlmsghdr *g, int len)
{
	attrs((char *)g + GENL_HDRLEN, len - GENL_HDRLEN, stat_attr, NULL);
}

int main(int argc, char **argv)
{
	struct req r = { 0 };
	uint64_t id;
	int err;

	if (argc < 2)
		die("usage: see khup-nl.c", 0);
	resolve();
	if (!strcmp(argv[1], "dump")) {
		send_req(&r, family, KHUP_NL_CMD_IMAGE_GET, NLM_F_DUMP);
		xsend(&r);
		err = recv_all(print_image);
	} else if (argc == 3 && (!strcmp(argv[1], "get") ||
				 !strcmp(argv[1], "release"))) {
		int rel = !strcmp(argv[1], "release");

		id = strtoull(argv[2], NULL, 0);
		send_req(&r, family, rel ? KHUP_NL_CMD_IMAGE_RELEASE :
			 KHUP_NL_CMD_IMAGE_GET, rel ? NLM_F_ACK : 0);
		put_attr(&r, KHUP_A_IMAGE_ID, &id, 8);
		xsend(&r);
		err = recv_all(print_image);
	} else if (!strcmp(argv[1], "stats")) {
		send_req(&r, family, KHUP_NL_CMD_STATS_GET, 0);
		xsend(&r);
		err = recv_all(print_stats);
	} else if (argc == 4 && !strcmp(argv[1], "listen")) {
		int n = atoi(argv[2]), got = 0;
		static char buf[65536];
		struct pollfd pfd = { .fd = sock, .events = POLLIN };

		if (!events_grp)
			die("no events group", 0);
		if (setsockopt(sock, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP,
			       &events_grp, sizeof(events_grp)))
			die("join events group", errno);
		printf("listening\n");
		fflush(stdout);
		while (got < n && poll(&pfd, 1, atoi(argv[3]) * 1000) == 1) {
			int len = recv(sock, buf, sizeof(buf), 0);
			struct nlmsghdr *nh = (void *)buf;

			for (; len > 0 && NLMSG_OK(nh, (unsigned int)len);
			     nh = NLMSG_NEXT(nh, len), got++)
				print_image(NLMSG_DATA(nh),
					    nh->nlmsg_len - NLMSG_HDRLEN);
		}
		return got < n;
	} else {
		die("unknown command", 0);
	}
	if (err)
		die(argv[1], -err);
	return 0;
}
