#include "util/harden.h"

#include <sys/prctl.h>

#include <cerrno>
#include <optional>

namespace ecert {
namespace {

std::optional<struct rlimit>& saved_core_limit() {
  static std::optional<struct rlimit> limit;
  return limit;
}

}  // namespace

Status disable_core_dumps() {
  struct rlimit before;
  if (::getrlimit(RLIMIT_CORE, &before) != 0) return Status::from_errno(errno, "cannot read", "RLIMIT_CORE");
  const struct rlimit none {0, before.rlim_max};
  if (::setrlimit(RLIMIT_CORE, &none) != 0) return Status::from_errno(errno, "cannot set", "RLIMIT_CORE to 0");
  saved_core_limit() = before;
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return Status::from_errno(errno, "cannot set", "PR_SET_DUMPABLE to 0");
  return Status::ok();
}

const struct rlimit* core_limit_for_commands() {
  const auto& limit = saved_core_limit();
  return limit ? &*limit : nullptr;
}

}  // namespace ecert
