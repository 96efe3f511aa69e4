#include <doctest/doctest.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <sstream>
#include <string>

#include "util/harden.h"
#include "util/process.h"

namespace ecert {
namespace {

// "Max core file size  1048576  unlimited  bytes" from /proc/<pid>/limits
// text: the soft and hard values as written.
std::string core_line(const std::string& limits) {
  std::istringstream in(limits);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("Max core file size", 0) == 0) {
      std::istringstream words(line.substr(std::string("Max core file size").size()));
      std::string soft, hard;
      words >> soft >> hard;
      return soft + " " + hard;
    }
  return "(none)";
}

std::string as_limit(rlim_t v) { return v == RLIM_INFINITY ? "unlimited" : std::to_string(v); }

}  // namespace

TEST_CASE("core dumps are off for the process; the commands it runs get the earlier limit back") {
  struct rlimit start;
  REQUIRE(::getrlimit(RLIMIT_CORE, &start) == 0);
  // A soft limit that differs from 0, so that giving it back shows (any user
  // may raise the soft limit up to the hard one).
  const struct rlimit earlier {std::min<rlim_t>(start.rlim_max, 1 << 20), start.rlim_max};
  REQUIRE(::setrlimit(RLIMIT_CORE, &earlier) == 0);
  CHECK(core_limit_for_commands() == nullptr);

  REQUIRE(disable_core_dumps().is_ok());
  struct rlimit now;
  REQUIRE(::getrlimit(RLIMIT_CORE, &now) == 0);
  CHECK(now.rlim_cur == 0);
  CHECK(now.rlim_max == earlier.rlim_max);
  CHECK(::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0);
  REQUIRE(core_limit_for_commands() != nullptr);
  CHECK(core_limit_for_commands()->rlim_cur == earlier.rlim_cur);
  CHECK(core_limit_for_commands()->rlim_max == earlier.rlim_max);

  RealCommandRunner runner;
  auto r = runner.run({"/bin/cat", "/proc/self/limits"}, std::chrono::seconds(10));
  REQUIRE(r.is_ok());
  CHECK(core_line(r->output) == as_limit(earlier.rlim_cur) + " " + as_limit(earlier.rlim_max));
}

}  // namespace ecert
