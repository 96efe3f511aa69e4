// Making disk and Apache agree with the plan: lock, act in order, back up
// what is replaced, configtest, restart at most once, verify, roll back on
// failure. The plan says what to write; apply only executes it and reports,
// change by change, what became of it (engine/result.h).
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "engine/result.h"
#include "engine/saved_plan.h"
#include "engine/services.h"
#include "manifest/model.h"

namespace ecert {

struct ApplyOptions {
  bool dry_run = false;
  bool restart = true;  // false: leave the restart to the caller (Ansible handler)
  fs::path state_dir = "/var/lib/ecertctl";
  std::chrono::seconds lock_wait{60};
  std::string manifest_arg;              // for commands shown to the operator
  const SavedPlan* saved_plan = nullptr;  // apply exactly this plan, refusing if it no longer holds
  bool narrowed = false;                 // the manifest was narrowed to some of its sites (--site)
  bool diffs = false;                    // fill Report::diffs (an Ansible --diff wants them; they cost memory)
  std::string host;                      // this machine's name, for notifications
  // Called as keys are generated (done, total); may be empty.
  std::function<void(std::size_t, std::size_t)> progress;
};

// Observes, plans and (unless dry_run) applies. Never throws; every failure
// is in the report. REQUIRES: a manifest that loaded without errors.
Report apply(const Manifest& manifest, Services& services, const ApplyOptions& options);

// Plans without applying (plan and --dry-run): writes nothing, takes no lock.
// `runner` only asks the Apache binary what it has compiled in and its
// version (engine/apache_probe.h), which writes nothing either.
Report plan_only(const Manifest& manifest, const FileSystem& fs, const Clock& clock, CommandRunner& runner,
                 const ApplyOptions& options);

}  // namespace ecert
