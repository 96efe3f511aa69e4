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
};

// Observes and plans (writes nothing, takes no lock); for sites with
// vhost.verify, also asks the server what it serves.
StatusReport collect_status(const Manifest& manifest, const FileSystem& fs, const Clock& clock, TlsProbe& tls,
                            const std::string& manifest_arg, const fs::path& state_dir);

}  // namespace ecert
