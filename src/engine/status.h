// status: what is there now, per site, without changing anything.
#pragma once

#include <optional>

#include "engine/observed.h"
#include "engine/plan.h"
#include "engine/services.h"
#include "manifest/model.h"

namespace ecert {

struct SiteStatus {
  const Site* site = nullptr;
  const SiteFacts* facts = nullptr;
  const SitePlan* plan = nullptr;
  std::optional<ServedFacts> served;  // only with vhost.verify
};

struct StatusReport {
  Observed observed;
  Plan plan;
  std::vector<SiteStatus> sites;
  std::vector<std::string> warnings;  // about the run as a whole (the Apache binary could not be asked)
};

// Observes and plans (writes nothing, takes no lock); for sites with
// vhost.verify, also asks the server what it serves. `runner` only asks the
// Apache binary what it has compiled in and its version (engine/apache_probe.h).
StatusReport collect_status(const Manifest& manifest, const FileSystem& fs, const Clock& clock, TlsProbe& tls,
                            CommandRunner& runner, const std::string& manifest_arg, const fs::path& state_dir);

}  // namespace ecert
