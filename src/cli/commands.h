// One function per subcommand. Each returns the process exit code:
// 0 success, 1 error, 2 (plan --detailed-exitcode) changes to make.
#pragma once

#include <string>
#include <vector>

#include "cli/runtime.h"

namespace ecert::cli {

// Where the Debian package installs the manifest; -f's default.
inline constexpr const char* kDefaultManifest = "/etc/ecertctl/ecert.yaml";

struct CommonOptions {
  std::string manifest;            // -f; kDefaultManifest unless applying a saved plan
  std::string format = "text";     // text | json | ansible | salt | prometheus
  std::vector<std::string> sites;  // --site, repeatable
  std::string state_dir;           // --state-dir, default $ECERTCTL_STATE_DIR or /var/lib/ecertctl
};

struct ApplyFlags {
  bool dry_run = false;
  std::string saved_plan;  // apply PLAN
  bool restart = true;     // false: --no-restart
  int lock_wait_seconds = 60;
};

int cmd_validate(Runtime& rt, const CommonOptions& opt);
int cmd_plan(Runtime& rt, const CommonOptions& opt, const std::string& out_path, bool detailed_exitcode);
int cmd_apply(Runtime& rt, const CommonOptions& opt, const ApplyFlags& flags);
int cmd_status(Runtime& rt, const CommonOptions& opt, const std::string& textfile_dir);
int cmd_csr(Runtime& rt, const CommonOptions& opt);
int cmd_rotate(Runtime& rt, const CommonOptions& opt);

}  // namespace ecert::cli
