/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Host shim: lets kernel/fdt.c and kernel/format.c compile unchanged in
 * userspace. Adds the kernel's short integer types on top of the UAPI
 * header of the same name.
 */
#ifndef KHUP_UNIT_LINUX_TYPES_H
#define KHUP_UNIT_LINUX_TYPES_H

#include_next <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;

#define U64_MAX UINT64_MAX

#endif
