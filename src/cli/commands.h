// One function per subcommand. Each returns the process exit code:
// 0 success, 1 error, 2 (plan --detailed-exitcode) changes to make.
#pragma once

#include <string>
#include <vector>

namespace ecert::cli {

// Where the Debian package installs the manifest; -f's default.
inline constexpr const char* kDefaultManifest = "/etc/ecertctl/ecert.yaml";

struct CommonOptions {
  std::string manifest;            // -f; kDefaultManifest unless applying a saved plan
  std::string format = "text";     // text | json | ansible | salt | prometheus
  std::vector<std::string> sites;  // --site, repeatable
  std::string state_dir;           // --state-dir, default $ECERTCTL_STATE_DIR or /var/lib/ecertctl
};

int cmd_validate(const CommonOptions& opt);
int cmd_plan(const CommonOptions& opt, const std::string& out_path, bool detailed_exitcode);
int cmd_apply(const CommonOptions& opt, bool dry_run, const std::string& saved_plan, bool restart,
              int lock_wait_seconds);
int cmd_status(const CommonOptions& opt, const std::string& textfile_dir);
int cmd_csr(const CommonOptions& opt);
int cmd_rotate(const CommonOptions& opt);

}  // namespace ecert::cli
