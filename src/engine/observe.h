// Reading the world: keys, CSRs, certificates, CA files and Apache's
// configuration, turned into facts. Never writes anything.
#pragma once

#include <ctime>
#include <optional>

#include "apache/sections.h"
#include "engine/facts_cache.h"
#include "engine/observed.h"
#include "manifest/model.h"
#include "util/fs.h"

namespace ecert {

struct ObserveOptions {
  std::time_t now = 0;  // 0: the current time
  // Facts proven by earlier runs (engine/facts_cache.h); null: verify everything.
  const FactsCache* cache = nullptr;
  // Where the record of what Apache was last restarted with is kept
  // (engine/installed.h); empty: none is read and SiteFacts::installed stays unset.
  fs::path state_dir;
  // What Apache knows before it reads its config (engine/apache_probe.h:
  // probe_apache). Unset: the -D names of apache.configtest with the
  // defaults of apache::LoadOptions.
  std::optional<apache::LoadOptions> apache = std::nullopt;
};

// Observes every site of `manifest`. Problems with one site are facts
// about that site (its SiteFacts statuses), never a failure of the whole.
Observed observe(const Manifest& manifest, const FileSystem& fs, const ObserveOptions& options);

// observe() helped by the facts cache under `state_dir`, which it only reads
// (plan, status); the cache is released before it returns. `apache`: see
// ObserveOptions::apache.
Observed observe_with_cache(const Manifest& manifest, const FileSystem& fs, const fs::path& state_dir,
                            std::time_t now = 0, std::optional<apache::LoadOptions> apache = std::nullopt);

}  // namespace ecert
