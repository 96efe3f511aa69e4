// Process-wide protections for a program that holds key passphrases and
// private keys in its memory.
#pragma once

#include <sys/resource.h>

#include "util/status.h"

namespace ecert {

// From now on no core file is written for this process: it is not dumpable
// (PR_SET_DUMPABLE 0, which the kernel checks before any core dump, also
// one piped to systemd-coredump) and its RLIMIT_CORE is 0. Not dumpable also
// makes its /proc/<pid>/ files (environ, mem, maps) root's, so other
// processes of the same user can neither read its memory nor ptrace it.
// Commands started later get the process's earlier core limit back (see
// core_limit_for_commands), and execve makes them dumpable again, so an
// Apache that a restart starts keeps what the operator gave it. That is why
// only the soft limit goes to 0: a lowered hard limit cannot be raised again
// without CAP_SYS_RESOURCE, which containers often drop.
// Returns an error naming the call that failed.
// REQUIRES: called once, at start-up, before other threads run.
Status disable_core_dumps();

// The core file limit the process had before disable_core_dumps(), which
// the commands it runs are given back; nullptr when it was never called.
const struct rlimit* core_limit_for_commands();

}  // namespace ecert
