/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Small helpers khupd and khupctl both print with.
 */
#ifndef KHUP_LIB_UTIL_H
#define KHUP_LIB_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* "open", "sealed", "restored" (enum khup_image_state), else "unknown" */
const char *khup_state_name(uint32_t state);
/* "512 B", "1.5 MiB": binary units, one decimal; returns buf */
const char *khup_human_bytes(uint64_t bytes, char *buf, size_t len);
/* CLOCK_REALTIME ns as "2026-11-26T03:00:00Z", 0 as "-"; returns buf */
const char *khup_human_time(uint64_t ns, char *buf, size_t len);

#endif /* KHUP_LIB_UTIL_H */
