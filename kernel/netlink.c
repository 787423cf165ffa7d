// SPDX-License-Identifier: GPL-2.0-only
/*
 * Generic netlink family "khup" (spec: spec/khup.yaml): image queries,
 * release, statistics, and an "events" multicast group. Laid out like the
 * YNL-generated families (net/handshake/genl.c). Anything that changes
 * state is GENL_ADMIN_PERM and additionally subject to the same ownership
 * rules as the ioctls.
 */
#include <linux/atomic.h>
#include <net/genetlink.h>
#include <net/netlink.h>

#include "internal.h"

static struct genl_family khup_nl_family;

enum { KHUP_NLGRP_EVENTS };

static int khup_nl_put_image(struct sk_buff *skb, struct khup_image *img)
{
	u64 pages = khup_image_pages(img);

	if (nla_put_u64_64bit(skb, KHUP_A_IMAGE_ID, img->id, KHUP_A_PAD) ||
	    nla_put_string(skb, KHUP_A_IMAGE_NAME, img->name) ||
	    nla_put_u32(skb, KHUP_A_IMAGE_OWNER,
			from_kuid_munged(&init_user_ns, img->owner)) ||
	    nla_put_string(skb, KHUP_A_IMAGE_RELEASE, img->release) ||
	    nla_put_u64_64bit(skb, KHUP_A_IMAGE_CTIME, img->created_ns,
			      KHUP_A_PAD) ||
	    nla_put_u32(skb, KHUP_A_IMAGE_TASKS, img->nr_tasks) ||
	    nla_put_u64_64bit(skb, KHUP_A_IMAGE_PAGES, pages, KHUP_A_PAD) ||
	    nla_put_u64_64bit(skb, KHUP_A_IMAGE_BYTES, pages << PAGE_SHIFT,
			      KHUP_A_PAD) ||
	    nla_put_u32(skb, KHUP_A_IMAGE_STATE, img->state) ||
	    nla_put_u64_64bit(skb, KHUP_A_IMAGE_KEXEC_COUNT, img->kexec_count,
			      KHUP_A_PAD) ||
	    nla_put_s32(skb, KHUP_A_IMAGE_CLAIMER,
			img->claim ? khup_claim_owner(img->claim) : 0) ||
	    nla_put_u64_64bit(skb, KHUP_A_IMAGE_CONSUMED,
			      khup_image_consumed(img), KHUP_A_PAD) ||
	    nla_put_u64_64bit(skb, KHUP_A_IMAGE_LOST, khup_image_lost(img),
			      KHUP_A_PAD))
		return -EMSGSIZE;
	return 0;
}

static int khup_nl_image_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct khup_image *img;
	struct sk_buff *msg;
	void *hdr;
	int err;

	if (GENL_REQ_ATTR_CHECK(info, KHUP_A_IMAGE_ID))
		return -EINVAL;
	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_iput(msg, info);
	if (!hdr) {
		err = -EMSGSIZE;
		goto err_free;
	}
	mutex_lock(&khup_lock);
	img = khup_image_find(nla_get_u64(info->attrs[KHUP_A_IMAGE_ID]));
	err = img ? khup_nl_put_image(msg, img) : -ENOENT;
	mutex_unlock(&khup_lock);
	if (err)
		goto err_free;
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

err_free:
	nlmsg_free(msg);
	return err;
}

/* Dumps images in id order; cb->args[0] is the last id sent. */
static int khup_nl_image_get_dumpit(struct sk_buff *skb,
				    struct netlink_callback *cb)
{
	struct khup_image *img, *next;
	void *hdr;
	int err = 0;

	mutex_lock(&khup_lock);
	for (;;) {
		next = NULL;
		list_for_each_entry(img, &khup_images, node)
			if (img->id > cb->args[0] &&
			    (!next || img->id < next->id))
				next = img;
		if (!next)
			break;
		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
				  cb->nlh->nlmsg_seq, &khup_nl_family,
				  NLM_F_MULTI, KHUP_NL_CMD_IMAGE_GET);
		if (!hdr) {
			err = -EMSGSIZE;
			break;
		}
		if (khup_nl_put_image(skb, next)) {
			genlmsg_cancel(skb, hdr);
			err = -EMSGSIZE;
			break;
		}
		genlmsg_end(skb, hdr);
		cb->args[0] = next->id;
	}
	mutex_unlock(&khup_lock);
	/* A full skb ends this round; the dump continues from args[0]. */
	if (err == -EMSGSIZE && skb->len)
		return skb->len;
	return err ? err : skb->len;
}

static int khup_nl_image_release_doit(struct sk_buff *skb,
				      struct genl_info *info)
{
	long err;

	if (GENL_REQ_ATTR_CHECK(info, KHUP_A_IMAGE_ID))
		return -EINVAL;
	mutex_lock(&khup_lock);
	err = khup_release_locked(nla_get_u64(info->attrs[KHUP_A_IMAGE_ID]));
	mutex_unlock(&khup_lock);
	return err;
}

static int khup_nl_stats_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	static const struct {
		int attr;
		atomic64_t *val;
	} stats[] = {
		{ KHUP_A_STATS_PINNED, &khup_stats.pinned },
		{ KHUP_A_STATS_PRESERVED, &khup_stats.preserved },
		{ KHUP_A_STATS_RESTORED, &khup_stats.restored },
		{ KHUP_A_STATS_FREED, &khup_stats.freed },
		{ KHUP_A_STATS_CMA_MIGRATED, &khup_stats.cma_migrated },
		{ KHUP_A_STATS_PIN_NS, &khup_stats.pin_ns },
		{ KHUP_A_STATS_SEAL_NS, &khup_stats.seal_ns },
		{ KHUP_A_STATS_RESTORE_NS, &khup_stats.restore_ns },
		{ KHUP_A_STATS_READ_BYTES, &khup_stats.read_bytes },
		{ KHUP_A_STATS_READ_NS, &khup_stats.read_ns },
		{ KHUP_A_STATS_CONSUMED, &khup_stats.consumed },
		{ KHUP_A_STATS_COMMIT_NS, &khup_stats.commit_ns },
		{ KHUP_A_STATS_PREPARED, &khup_stats.prepared },
		{ KHUP_A_STATS_PREPARE_MIGRATED, &khup_stats.prepare_migrated },
		{ KHUP_A_STATS_KMEM_BYTES, &khup_stats.kmem_bytes },
		{ KHUP_A_STATS_PREPARE_NS, &khup_stats.prepare_ns },
		{ KHUP_A_STATS_HELD, &khup_stats.held },
		{ KHUP_A_STATS_CHARGED, &khup_stats.charged },
		{ KHUP_A_STATS_SNAPSHOT, &khup_stats.snapshot },
		{ KHUP_A_STATS_SNAPSHOT_NS, &khup_stats.snapshot_ns },
	};
	struct sk_buff *msg;
	void *hdr;
	int i;

	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_iput(msg, info);
	if (!hdr)
		goto err_free;
	mutex_lock(&khup_lock);
	atomic64_set(&khup_stats.kmem_bytes, khup_kmem_bytes());
	mutex_unlock(&khup_lock);
	for (i = 0; i < ARRAY_SIZE(stats); i++)
		if (nla_put_u64_64bit(msg, stats[i].attr,
				      atomic64_read(stats[i].val), KHUP_A_PAD))
			goto err_free;
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

err_free:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

static const struct nla_policy khup_nl_image_policy[KHUP_A_IMAGE_ID + 1] = {
	[KHUP_A_IMAGE_ID] = { .type = NLA_U64 },
};

static const struct genl_split_ops khup_nl_ops[] = {
	{
		.cmd		= KHUP_NL_CMD_IMAGE_GET,
		.doit		= khup_nl_image_get_doit,
		.policy		= khup_nl_image_policy,
		.maxattr	= KHUP_A_IMAGE_ID,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= KHUP_NL_CMD_IMAGE_GET,
		.dumpit		= khup_nl_image_get_dumpit,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DUMP,
	},
	{
		.cmd		= KHUP_NL_CMD_IMAGE_RELEASE,
		.doit		= khup_nl_image_release_doit,
		.policy		= khup_nl_image_policy,
		.maxattr	= KHUP_A_IMAGE_ID,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= KHUP_NL_CMD_STATS_GET,
		.doit		= khup_nl_stats_get_doit,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
};

/*
 * Image names, owners and sizes are the administrator's business: every
 * request and the events group need CAP_NET_ADMIN.
 */
static const struct genl_multicast_group khup_nl_mcgrps[] = {
	[KHUP_NLGRP_EVENTS] = {
		.name = KHUP_MCGRP_EVENTS,
		.flags = GENL_MCAST_CAP_NET_ADMIN,
	},
};

static struct genl_family khup_nl_family __ro_after_init = {
	.name		= KHUP_GENL_NAME,
	.version	= KHUP_GENL_VERSION,
	.module		= THIS_MODULE,
	.split_ops	= khup_nl_ops,
	.n_split_ops	= ARRAY_SIZE(khup_nl_ops),
	.mcgrps		= khup_nl_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(khup_nl_mcgrps),
};

/* Multicasts @event for @img; best effort, nobody may be listening. */
void khup_notify(struct khup_image *img, u32 event)
{
	struct sk_buff *msg;
	void *hdr;

	if (!genl_has_listeners(&khup_nl_family, &init_net, KHUP_NLGRP_EVENTS))
		return;
	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return;
	hdr = genlmsg_put(msg, 0, 0, &khup_nl_family, 0, KHUP_NL_CMD_EVENT);
	if (!hdr || nla_put_u32(msg, KHUP_A_EVENT_TYPE, event) ||
	    khup_nl_put_image(msg, img)) {
		nlmsg_free(msg);
		return;
	}
	genlmsg_end(msg, hdr);
	genlmsg_multicast(&khup_nl_family, msg, 0, KHUP_NLGRP_EVENTS,
			  GFP_KERNEL);
}

int khup_netlink_init(void)
{
	return genl_register_family(&khup_nl_family);
}

void khup_netlink_exit(void)
{
	genl_unregister_family(&khup_nl_family);
}
