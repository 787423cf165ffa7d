/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Tracepoints khup:* for pin, seal, restore, read-back and release, so the
 * persistent ftrace buffer records an upgrade on both sides of the kexec.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM khup

#if !defined(_KHUP_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _KHUP_TRACE_H

#include <linux/tracepoint.h>

TRACE_EVENT(khup_pin,
	    TP_PROTO(u64 id, pid_t pid, u64 pages, u64 extents),
	    TP_ARGS(id, pid, pages, extents),
	    TP_STRUCT__entry(__field(u64, id)
			     __field(pid_t, pid)
			     __field(u64, pages)
			     __field(u64, extents)),
	    TP_fast_assign(__entry->id = id;
			   __entry->pid = pid;
			   __entry->pages = pages;
			   __entry->extents = extents;),
	    TP_printk("image=%llu pid=%d pages=%llu new_extents=%llu",
		      __entry->id, __entry->pid, __entry->pages,
		      __entry->extents)
);

TRACE_EVENT(khup_seal,
	    TP_PROTO(u64 id, u32 tasks, u64 pages),
	    TP_ARGS(id, tasks, pages),
	    TP_STRUCT__entry(__field(u64, id)
			     __field(u32, tasks)
			     __field(u64, pages)),
	    TP_fast_assign(__entry->id = id;
			   __entry->tasks = tasks;
			   __entry->pages = pages;),
	    TP_printk("image=%llu tasks=%u pages=%llu",
		      __entry->id, __entry->tasks, __entry->pages)
);

TRACE_EVENT(khup_restore,
	    TP_PROTO(u64 id, pid_t pid, u64 pages, u64 lost),
	    TP_ARGS(id, pid, pages, lost),
	    TP_STRUCT__entry(__field(u64, id)
			     __field(pid_t, pid)
			     __field(u64, pages)
			     __field(u64, lost)),
	    TP_fast_assign(__entry->id = id;
			   __entry->pid = pid;
			   __entry->pages = pages;
			   __entry->lost = lost;),
	    TP_printk("image=%llu pid=%d pages=%llu lost=%llu",
		      __entry->id, __entry->pid, __entry->pages, __entry->lost)
);

TRACE_EVENT(khup_readback,
	    TP_PROTO(u64 id, pid_t pid, u64 offset, u64 bytes),
	    TP_ARGS(id, pid, offset, bytes),
	    TP_STRUCT__entry(__field(u64, id)
			     __field(pid_t, pid)
			     __field(u64, offset)
			     __field(u64, bytes)),
	    TP_fast_assign(__entry->id = id;
			   __entry->pid = pid;
			   __entry->offset = offset;
			   __entry->bytes = bytes;),
	    TP_printk("image=%llu pid=%d offset=%llu bytes=%llu",
		      __entry->id, __entry->pid, __entry->offset,
		      __entry->bytes)
);

/* @what: KHUP_TRACE_CLAIM_* */
TRACE_EVENT(khup_claim,
	    TP_PROTO(u64 id, u32 what, u64 consumed),
	    TP_ARGS(id, what, consumed),
	    TP_STRUCT__entry(__field(u64, id)
			     __field(u32, what)
			     __field(u64, consumed)),
	    TP_fast_assign(__entry->id = id;
			   __entry->what = what;
			   __entry->consumed = consumed;),
	    TP_printk("image=%llu %s consumed=%llu", __entry->id,
		      __print_symbolic(__entry->what,
				       { 0, "rolled-back" },
				       { 1, "committed" },
				       { 2, "claimed" }),
		      __entry->consumed)
);

TRACE_EVENT(khup_release,
	    TP_PROTO(u64 id, pid_t pid, u64 pages),
	    TP_ARGS(id, pid, pages),
	    TP_STRUCT__entry(__field(u64, id)
			     __field(pid_t, pid)
			     __field(u64, pages)),
	    TP_fast_assign(__entry->id = id;
			   __entry->pid = pid;
			   __entry->pages = pages;),
	    TP_printk("image=%llu pid=%d pages=%llu",
		      __entry->id, __entry->pid, __entry->pages)
);
#endif /* _KHUP_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
