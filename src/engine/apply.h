// Making disk and Apache agree with the plan: lock, act in order, back up
// what is replaced, configtest, restart at most once, verify, roll back on
// failure.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "engine/plan.h"
#include "manifest/model.h"
#include "util/fs.h"
#include "util/process.h"

namespace ecert {

struct ApacheOutcome {
  bool restart_needed = false;   // something Apache reads changed (or would)
  bool configtest_ok = false;    // configtest ran and passed
  bool restarted = false;
  bool rolled_back = false;
  std::string error;             // the failure, with the command's output
};

struct SiteVerify {
  std::string site;
  bool ok = false;
  std::string detail;
};

// A file Apache reads, before and after (never key material).
struct FileDiff {
  std::string path;
  std::string before;  // "" when the file did not exist
  std::string after;
};

struct Report {
  std::string command;  // "plan", "apply"
  bool dry_run = false;
  Plan plan;            // after apply: actions are the outcomes
  ApacheOutcome apache;
  std::vector<SiteVerify> verified;
  std::vector<std::string> errors;  // run-level errors (lock, stale plan)
  std::vector<FileDiff> diffs;      // with ApplyOptions::diffs: plan: predicted; apply: written (rolled-back ones too)
  bool failed() const { return plan.has_errors() || !errors.empty() || !apache.error.empty(); }
};

struct ApplyOptions {
  bool dry_run = false;
  bool restart = true;  // false: leave the restart to the caller (Ansible handler)
  fs::path state_dir = "/var/lib/ecertctl";
  std::chrono::seconds lock_wait{60};
  std::string manifest_arg;        // for commands shown to the operator
  const Plan* saved_plan = nullptr;  // apply exactly this plan, refusing if its inputs changed
  bool narrowed = false;           // the manifest was narrowed to some of its sites (--site)
  bool diffs = false;              // fill Report::diffs (an Ansible --diff wants them; they cost memory)
  // Called as keys are generated (done, total); may be empty.
  std::function<void(std::size_t, std::size_t)> progress;
};

// Observes, plans and (unless dry_run) applies. Never throws; every failure
// is in the report. REQUIRES: a manifest that loaded without errors.
Report apply(const Manifest& manifest, FileSystem& fs, CommandRunner& runner, const ApplyOptions& options);

// Attaches to each site of `obs` the record of what Apache was last
// restarted with (read from `state_dir`; reading only).
void attach_installed(const Manifest& manifest, const FileSystem& fs, const fs::path& state_dir, Observed& obs);

// Plans without applying (plan and --dry-run): writes nothing, takes no lock.
Report plan_only(const Manifest& manifest, const FileSystem& fs, const ApplyOptions& options);

}  // namespace ecert
