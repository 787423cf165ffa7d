# SPDX-License-Identifier: GPL-2.0-only
#
# The helpers khupd and khupctl share (lib/): included by daemon/Makefile
# and tools/Makefile, which set O and CFLAGS (with libnl's flags) first.
# Each program links the objects it needs from $(O)/lib-*.o.

KHUP_LIB_DIR := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
KHUP_LIB_HDRS := $(wildcard $(KHUP_LIB_DIR)/*.h) $(KHUP_LIB_DIR)/../include/uapi/linux/khup.h
CFLAGS += -I$(KHUP_LIB_DIR)

$(O)/lib-%.o: $(KHUP_LIB_DIR)/%.c $(KHUP_LIB_HDRS)
	@mkdir -p $(O)
	$(CC) $(CFLAGS) -c -o $@ $<
