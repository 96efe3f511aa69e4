#include "engine/status.h"

#include "engine/apply.h"
#include "engine/observe.h"

namespace ecert {

StatusReport collect_status(const Manifest& manifest, const FileSystem& fs, const std::string& manifest_arg,
                            const fs::path& state_dir) {
  StatusReport r;
  const FactsCache cache = read_facts_cache(fs, state_dir);
  r.observed = observe(manifest, fs, ObserveOptions{0, &cache});
  attach_installed(manifest, fs, state_dir, r.observed);
  r.plan = make_plan(manifest, r.observed, manifest_arg);
  for (std::size_t i = 0; i < manifest.sites.size(); ++i) {
    SiteStatus s{&manifest.sites[i], &r.observed.sites[i], &r.plan.sites[i], std::nullopt};
    if (manifest.sites[i].vhost.verify) s.served = probe_served(manifest.sites[i], fs, std::chrono::milliseconds(5000));
    r.sites.push_back(s);
  }
  return r;
}

}  // namespace ecert
