#include "engine/apply.h"

#include <malloc.h>

#include <set>

#include "engine/apache_probe.h"
#include "engine/apply_run.h"
#include "engine/facts_cache.h"
#include "engine/lock.h"
#include "engine/observe.h"
#include "engine/state_dir.h"
#include "util/time.h"

namespace ecert {
namespace {

// Rewrites the facts cache when this run proved something new or stopped
// needing an entry. A run narrowed to some sites keeps the others' entries.
Status remember_facts(FileSystem& fs, const ApplyOptions& options, const FactsCache& before, FactsUse&& use) {
  std::optional<FactsCache> next = next_facts_cache(before, std::move(use), options.narrowed);
  if (!next) return Status::ok();
  return write_state_file(fs, facts_cache_path(options.state_dir), render_facts_cache(*next));
}

// Observes under the lock, and records the facts cache before anything
// changes: a disk too full for the cache is too full for the run, and
// stopping there leaves every file as it was.
Result<Observed> observe_for_apply(const Manifest& manifest, Services& sv, const ApplyOptions& options, Report& r) {
  const FactsCache cache = read_facts_cache(sv.fs, options.state_dir);
  const ProbeMemory memory{sv.fs, options.state_dir};
  ApacheProbe apache = probe_apache(manifest.apache, sv.runner, &memory);
  if (!apache.warning.empty()) r.warnings.push_back(apache.warning);
  if (Status s = remember_probe(sv.fs, options.state_dir, apache); !s)
    return Status::io_error("cannot record what Apache's binary answered, so nothing was done: " + s.message());
  Observed obs =
      observe(manifest, sv.fs, ObserveOptions{sv.clock.now(), &cache, options.state_dir, std::move(apache.options)});
  if (Status s = remember_facts(sv.fs, options, cache, std::move(obs.facts)); !s)
    return Status::io_error("cannot record the verified facts, so nothing was done: " + s.message());
  obs.facts = FactsUse{};
  return obs;
}

// What the chain and vhost files would become: the plan's payloads beside
// what is on disk now.
std::vector<FileDiff> predict_diffs(const Plan& plan, const FileSystem& fs) {
  std::vector<FileDiff> out;
  std::set<std::string> seen;  // two sites sharing one chain file write it once
  auto add = [&](const std::string& path, std::string after) {
    auto real = fs.write_target(path);
    const std::string shown = real ? real->string() : path;
    if (!seen.insert(shown).second) return;
    auto before = fs.read_file(shown);
    out.push_back(FileDiff{shown, diff_text(before ? std::move(*before) : std::string()), diff_text(std::move(after))});
  };
  for (const auto& sp : plan.sites)
    for (const auto& c : sp.changes)
      if (auto* w = c.get<WriteFile>(); w && c.acts()) add(c.path, *w->bytes);
  for (const auto& w : plan.config_writes) add(w.path, w.after);
  return out;
}

// What reading Apache's configuration warned about (an unresolved ${VAR} in
// an Include, an optional glob that matched nothing).
void add_config_warnings(const Observed& obs, Report& r) {
  if (obs.apache_config)
    for (const auto& d : obs.apache_config->warnings) r.warnings.push_back(d.str());
}

Report new_report(const char* command, bool dry_run) {
  Report r;
  r.command = command;
  r.dry_run = dry_run;
  return r;
}

void execute_plan(const Manifest& manifest, const Observed& obs, Services& sv, const ApplyOptions& options,
                  Report& r) {
  r.applied.emplace();
  for (const auto& sp : r.plan.sites) r.applied->changes.emplace_back(sp.changes.size());
  const std::string stamp = format_utc(sv.clock.now(), "%Y%m%dT%H%M%SZ");
  ApplyRun run{manifest, obs, r.plan, sv, options, r, Journal(sv.fs, options.state_dir / kBackupsName, stamp), {}};
  remove_leftover_temp_files(run);
  generate_keys_step(run);
  for (std::size_t i = 0; i < manifest.sites.size(); ++i) site_files_step(run, i);
  config_writes_step(run);
  apache_step(run);
  notify_step(run);
}

}  // namespace

Report plan_only(const Manifest& manifest, const FileSystem& fs, const Clock& clock, CommandRunner& runner,
                 const ApplyOptions& options) {
  Report r = new_report("plan", true);
  const ProbeMemory memory{fs, options.state_dir};
  ApacheProbe apache = probe_apache(manifest.apache, runner, &memory);
  if (!apache.warning.empty()) r.warnings.push_back(apache.warning);
  Observed obs = observe_with_cache(manifest, fs, options.state_dir, clock.now(), std::move(apache.options));
  add_config_warnings(obs, r);
  r.plan = make_plan(manifest, obs, options.manifest_arg);
  r.plan.inputs = std::move(obs.inputs);
  if (options.diffs) r.diffs = predict_diffs(r.plan, fs);
  return r;
}

Report apply(const Manifest& manifest, Services& sv, const ApplyOptions& options) {
  if (options.dry_run) {
    Report r = plan_only(manifest, sv.fs, sv.clock, sv.runner, options);
    r.command = "apply";
    return r;
  }
  Report r = new_report("apply", false);
  auto lock = RunLock::acquire(sv.fs, options.state_dir, options.lock_wait);
  if (!lock) {
    r.errors.push_back(lock.status().message());
    return r;
  }
  auto obs = observe_for_apply(manifest, sv, options, r);
  if (!obs) {
    r.errors.push_back(obs.status().message());
    return r;
  }
  // The digests of what was read are for comparing with a saved plan only
  // (some 10 MiB at 10,000 sites).
  if (!options.saved_plan) decltype(obs->inputs)().swap(obs->inputs);
  // The cache, its rendering, those digests and the workers' transient
  // allocations are freed by now: hand their pages back, so that planning
  // and acting do not stack on top of them (peak memory of a fleet's first
  // run).
  malloc_trim(0);
  add_config_warnings(*obs, r);
  r.plan = make_plan(manifest, *obs, options.manifest_arg);
  r.plan.inputs = std::move(obs->inputs);
  if (options.saved_plan)
    if (Status s = check_saved_plan(*options.saved_plan, r.plan); !s) {
      r.errors.push_back(s.message());
      r.plan = Plan{};  // nothing of it was done: report no changes
      return r;
    }
  execute_plan(manifest, *obs, sv, options, r);
  return r;
}

}  // namespace ecert
