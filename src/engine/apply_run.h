// One apply run, as its steps see it: the plan to execute, the services to
// act through, and what happened so far. Internal to engine/apply.cc; each
// step is a free function of the run (engine/apply_steps.cc,
// engine/apply_apache.cc), in the order apply calls them.
#pragma once

#include <map>
#include <string>

#include "crypto/key.h"
#include "engine/apply.h"
#include "engine/journal.h"
#include "engine/observed.h"

namespace ecert {

struct ApplyRun {
  const Manifest& manifest;
  const Observed& observed;
  const Plan& plan;
  Services& services;
  const ApplyOptions& options;
  Report& report;  // report.applied is the result being filled in
  Journal journal;  // also the run's unique stamp, for backups and .old-<stamp> copies
  std::map<std::size_t, crypto::PrivateKey> new_keys;  // by site: the keys generated in this run

  ApplyResult& result() { return *report.applied; }
  ChangeResult& result(std::size_t site, std::size_t change) { return result().changes[site][change]; }
  // The site has an error: in the plan, or a change that failed (or was not attempted).
  bool failed(std::size_t site) const;
  // Marks the change done.
  void done(std::size_t site, std::size_t change) { result(site, change).outcome = Outcome::kDone; }
  // Marks the change failed with `why`, and the site's later changes that
  // had something to do as not attempted.
  void fail(std::size_t site, std::size_t change, Status why);
  // The index of the site's change with payload type T that acts, if any.
  template <class T>
  std::optional<std::size_t> acting(std::size_t site) const {
    const auto& changes = plan.sites[site].changes;
    for (std::size_t j = 0; j < changes.size(); ++j)
      if (changes[j].acts() && changes[j].get<T>()) return j;
    return std::nullopt;
  }
};

// Steps, in order.
void remove_leftover_temp_files(ApplyRun& run);
void generate_keys_step(ApplyRun& run);
void site_files_step(ApplyRun& run, std::size_t site);
void config_writes_step(ApplyRun& run);
void apache_step(ApplyRun& run);
// Tells notify.command the run's events (engine/notify.h; apply_notify.cc).
void notify_step(ApplyRun& run);

// Parts of the Apache phase (engine/apply_record.cc).
// Every key/certificate pair Apache will load for a managed site matches
// (apache2 -t does not load keys, and one bad pair stops every vhost);
// the error names both files of each pair that does not.
Status check_pairs(ApplyRun& run);
// Remembers what Apache now runs with (engine/installed.h).
void record_installed(ApplyRun& run);
// After a verified promotion: its staged files go.
void remove_promoted_staged(ApplyRun& run);

}  // namespace ecert
