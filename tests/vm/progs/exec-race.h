/* SPDX-License-Identifier: GPL-2.0-only */
/* Shared by khup-secret.c and khup-exec-race.c (module-exec-race test). */
#ifndef KHUP_EXEC_RACE_H
#define KHUP_EXEC_RACE_H

#define SECRET_VA	0x5ec000000000UL
#define SECRET_PAGES	16
/* What the privileged program writes, and what the tracee had before. */
#define SECRET_WORD	0x5345435245542121ULL	/* "!!TERCES" */
#define PUBLIC_WORD	0x7075626c69632e2eULL

#endif
