/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Tracepoints khup:* for the life of an image - pin, seal, restore after
 * kexec, claim, read-back, consume, commit or rollback, lost pages, release -
 * so the persistent ftrace buffer records an upgrade on both sides of the
 * kexec. The field names are an interface: khup-tracedat and the tests read
 * them by name from each kernel's own event formats.
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

/*
 * Per-task page counts: khup_release (pages freed or unpinned; pid 0 = the
 * whole image), khup_consume (pages a restore read and punched: held until
 * it commits), khup_lost (pages that will never be read again: not claimable
 * after kexec, or consumed pages freed under memory pressure).
 */
DECLARE_EVENT_CLASS(khup_task_pages,
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

DEFINE_EVENT(khup_task_pages, khup_release,
	     TP_PROTO(u64 id, pid_t pid, u64 pages),
	     TP_ARGS(id, pid, pages));

DEFINE_EVENT(khup_task_pages, khup_consume,
	     TP_PROTO(u64 id, pid_t pid, u64 pages),
	     TP_ARGS(id, pid, pages));

DEFINE_EVENT(khup_task_pages, khup_lost,
	     TP_PROTO(u64 id, pid_t pid, u64 pages),
	     TP_ARGS(id, pid, pages));

/*
 * A restore's claim on an image: khup_claim (pages = held by the image),
 * khup_commit (pages = consumed, now freed with the image), khup_rollback
 * (pages = consumed, readable again).
 */
DECLARE_EVENT_CLASS(khup_image_pages,
		    TP_PROTO(u64 id, u64 pages),
		    TP_ARGS(id, pages),
		    TP_STRUCT__entry(__field(u64, id)
				     __field(u64, pages)),
		    TP_fast_assign(__entry->id = id;
				   __entry->pages = pages;),
		    TP_printk("image=%llu pages=%llu", __entry->id,
			      __entry->pages)
);

DEFINE_EVENT(khup_image_pages, khup_claim,
	     TP_PROTO(u64 id, u64 pages),
	     TP_ARGS(id, pages));

DEFINE_EVENT(khup_image_pages, khup_commit,
	     TP_PROTO(u64 id, u64 pages),
	     TP_ARGS(id, pages));

DEFINE_EVENT(khup_image_pages, khup_rollback,
	     TP_PROTO(u64 id, u64 pages),
	     TP_ARGS(id, pages));
#endif /* _KHUP_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
