#include "engine/status.h"

#include "engine/apache_probe.h"
#include "engine/observe.h"

namespace ecert {

StatusReport collect_status(const Manifest& manifest, const FileSystem& fs, const Clock& clock, TlsProbe& tls,
                            CommandRunner& runner, const std::string& manifest_arg, const fs::path& state_dir) {
  StatusReport r;
  const ProbeMemory memory{fs, state_dir};
  ApacheProbe apache = probe_apache(manifest.apache, runner, &memory);
  if (!apache.warning.empty()) r.warnings.push_back(apache.warning);
  r.observed = observe_with_cache(manifest, fs, state_dir, clock.now(), std::move(apache.options));
  if (r.observed.apache_config)
    for (const auto& d : r.observed.apache_config->warnings) r.warnings.push_back(d.str());
  r.plan = make_plan(manifest, r.observed, manifest_arg);
  r.observed.inputs.clear();  // a saved plan's business, not status's
  for (std::size_t i = 0; i < manifest.sites.size(); ++i) {
    SiteStatus s{&manifest.sites[i], &r.observed.sites[i], &r.plan.sites[i], std::nullopt};
    if (manifest.sites[i].vhost.verify) s.served = tls.probe(manifest.sites[i], std::chrono::milliseconds(5000));
    r.sites.push_back(s);
  }
  return r;
}

}  // namespace ecert
