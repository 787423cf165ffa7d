/* SPDX-License-Identifier: GPL-2.0-only */
/* Host shim for kernel/fdt.c and kernel/format.c. */
#ifndef KHUP_UNIT_LINUX_STRING_H
#define KHUP_UNIT_LINUX_STRING_H
#include <string.h>
#endif
