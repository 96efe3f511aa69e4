#include "engine/plan.h"

#include <algorithm>
#include <set>

#include "apache/config.h"
#include "engine/plan_site.h"
#include "util/digest.h"
#include "util/strings.h"

namespace ecert {

const char* resource_name(ResourceKind kind) {
  switch (kind) {
    case ResourceKind::kKey: return "key";
    case ResourceKind::kCsr: return "csr";
    case ResourceKind::kCertificate: return "certificate";
    case ResourceKind::kChain: return "chain";
    case ResourceKind::kFullchain: return "fullchain";
    case ResourceKind::kVhost: return "vhost";
  }
  return "?";
}

const char* action_name(Action action) {
  switch (action) {
    case Action::kNoOp: return "no-op";
    case Action::kCreate: return "create";
    case Action::kUpdate: return "update";
    case Action::kPending: return "pending";
    case Action::kError: return "error";
  }
  return "?";
}

const char* site_state_name(SitePlan::State state) {
  switch (state) {
    case SitePlan::State::kConverged: return "ok";
    case SitePlan::State::kChanges: return "changed";
    case SitePlan::State::kPending: return "pending";
    case SitePlan::State::kError: return "error";
  }
  return "?";
}

bool SitePlan::has(Action action) const {
  return std::any_of(changes.begin(), changes.end(), [&](const Change& c) { return c.action == action; });
}

const Change* SitePlan::find(ResourceKind kind) const {
  for (const auto& c : changes)
    if (c.kind == kind) return &c;
  return nullptr;
}

SitePlan::State SitePlan::state() const {
  if (has(Action::kError)) return State::kError;
  if (has(Action::kCreate) || has(Action::kUpdate)) return State::kChanges;
  if (has(Action::kPending)) return State::kPending;
  return State::kConverged;
}

bool Plan::has_changes() const {
  return std::any_of(sites.begin(), sites.end(), [](const SitePlan& s) {
    return s.has(Action::kCreate) || s.has(Action::kUpdate);
  });
}

bool Plan::has_errors() const {
  return std::any_of(sites.begin(), sites.end(), [](const SitePlan& s) { return s.has(Action::kError); });
}

namespace {

using namespace planning;

SitePlan plan_site(const SiteInput& in, std::optional<VhostEdits>& edits) {
  SitePlan sp;
  sp.changes.reserve(in.site.fullchain ? 6 : 5);  // key, csr, certificate, chain, [fullchain,] vhost
  sp.name = in.site.name;
  sp.unicode_name = in.site.unicode_name;
  sp.feature = feature_name(in.site.feature);
  const KeyDecision key = plan_key(in, sp);
  if (key.stop) return sp;
  plan_csr(in, key, sp);
  if (!plan_certificate(in, key, sp)) return sp;
  if (!plan_chain(in, key, sp)) return sp;
  if (in.site.fullchain) plan_fullchain(in, key, sp);
  plan_vhost(in, sp, edits);
  return sp;
}

const apache::ConfigFile* observed_file(const Observed& obs, const std::string& real) {
  if (!obs.apache_config) return nullptr;
  for (const auto& f : obs.apache_config->files)
    if (f.real_path == real) return &f;
  return nullptr;
}

// Fails the vhost change of a site whose file edit cannot be made.
void fail_vhost(SitePlan& sp, const std::string& why) {
  for (auto& c : sp.changes)
    if (c.kind == ResourceKind::kVhost) {
      c.action = Action::kError;
      c.reason = why;
      c.payload = {};
      c.apache_reads = false;
    }
}

// Every site's vhost edits, grouped by the file they land in.
std::map<std::string, ConfigWrite> group_by_file(const std::vector<std::optional<VhostEdits>>& edits) {
  std::map<std::string, ConfigWrite> by_file;
  auto edit_of = [&](const std::string& file, std::size_t i) -> SiteConfigEdit& {
    ConfigWrite& w = by_file[file];
    w.path = file;
    if (w.edits.empty() || w.edits.back().site != i) {
      w.edits.push_back(SiteConfigEdit{i, {}, {}});
      w.sites.push_back(i);
    }
    return w.edits.back();
  };
  for (std::size_t i = 0; i < edits.size(); ++i) {
    if (!edits[i]) continue;
    edit_of(edits[i]->block_file, i).blocks.push_back(edits[i]->block);
    for (const auto& [file, edit] : edits[i]->included) edit_of(file, i).directives.push_back(edit);
    if (edits[i]->stapling_cache) edit_of(edits[i]->root_file, i).stapling_cache = edits[i]->stapling_cache;
  }
  return by_file;
}

// Computes each file's new bytes from the bytes observed, leaving out the
// sites in `failed`. A file whose edit fails adds its sites to `failed`
// and returns false (the writes must be computed again without them).
bool compute_writes(const Observed& obs, std::map<std::string, ConfigWrite> by_file, std::set<std::size_t>& failed,
                    Plan& plan) {
  plan.config_writes.clear();
  auto ok = [&](std::size_t i) { return failed.count(i) == 0; };
  for (auto& [path, w] : by_file) {
    std::erase_if(w.edits, [&](const SiteConfigEdit& e) { return !ok(e.site); });
    std::erase_if(w.sites, [&](std::size_t i) { return !ok(i); });
    if (w.sites.empty()) continue;
    const apache::ConfigFile* file = observed_file(obs, path);
    auto after = file ? edit_config(w, file->content, ok)
                      : Result<std::string>(Status::not_found(path + " was not read with the config; run again"));
    if (!after) {
      for (std::size_t i : w.sites) fail_vhost(plan.sites[i], after.status().message()), failed.insert(i);
      return false;
    }
    w.before_digest = sha256_hex(file->content);
    w.after = std::move(*after);
    plan.config_writes.push_back(std::move(w));
  }
  return true;
}

// Turns every site's vhost edits into whole-file ConfigWrites, and points
// each site's vhost change at the writes it needs. A file whose edit fails
// fails the vhost change of every site in it, and those sites are left out
// of the other files.
void plan_config_writes(const Observed& obs, const std::vector<std::optional<VhostEdits>>& edits, Plan& plan) {
  const auto by_file = group_by_file(edits);
  std::set<std::size_t> failed;
  while (!compute_writes(obs, by_file, failed, plan)) {
  }
  std::map<std::size_t, std::vector<std::size_t>> writes_of_site;
  for (std::size_t k = 0; k < plan.config_writes.size(); ++k)
    for (std::size_t i : plan.config_writes[k].sites) writes_of_site[i].push_back(k);
  for (auto& [i, writes] : writes_of_site)
    for (auto& c : plan.sites[i].changes)
      if (c.kind == ResourceKind::kVhost && c.acts()) c.payload = EditConfig{writes};
}

// Sites may share a chain file only when it holds the same certificates.
// During a CA rollover two sites listing the same candidates can need
// different sub CAs: the later one is refused instead of rewriting the
// earlier one's chain.
void find_chain_conflicts(const Manifest& manifest, const Observed& obs, std::vector<SiteInput>& inputs) {
  std::map<std::string, std::size_t> first;  // chain path -> first site that needs it
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const CaFacts& ca = served_ca(obs.sites[i]);
    if (!served_cert(obs.sites[i]).signed_by_sub || !ca.chain_pem) continue;
    auto [it, fresh] = first.emplace(manifest.sites[i].chain.string(), i);
    if (fresh || served_ca(obs.sites[it->second]).chain_digest == ca.chain_digest) continue;
    inputs[i].chain_conflict = manifest.sites[i].chain.string() + " is shared with " +
                               manifest.sites[it->second].name + ", whose certificate chains to the sub CA in " +
                               served_ca(obs.sites[it->second]).sub_path + ", while this one's chains to " +
                               ca.sub_path +
                               "; give this site a chain file of its own";
  }
}

void explain_restart(Plan& plan) {
  std::vector<std::string> reasons;
  for (const auto& sp : plan.sites)
    for (const auto& c : sp.changes)
      if (c.apache_reads && c.acts()) reasons.push_back(sp.name + " " + resource_name(c.kind));
  plan.restart = !reasons.empty();
  // A fleet's first run changes thousands of files: name the first few.
  constexpr std::size_t kNamed = 10;
  const std::size_t more = reasons.size() > kNamed ? reasons.size() - kNamed : 0;
  if (more) reasons.resize(kNamed);
  plan.restart_reason = plan.restart ? "changed: " + join(reasons, ", ") +
                                           (more ? " and " + std::to_string(more) + " more" : "")
                                     : "nothing Apache reads changes";
}

}  // namespace

Result<std::string> edit_config(const ConfigWrite& write, std::string_view content,
                                const std::function<bool(std::size_t)>& keep) {
  std::vector<apache::VhostEdit> blocks;
  std::vector<apache::DirectiveEdit> directives;
  std::optional<bool> stapling_cache;
  for (const auto& e : write.edits)
    if (keep(e.site)) {
      blocks.insert(blocks.end(), e.blocks.begin(), e.blocks.end());
      directives.insert(directives.end(), e.directives.begin(), e.directives.end());
      if (e.stapling_cache) stapling_cache = e.stapling_cache;
    }
  if (!blocks.empty() && !directives.empty())
    return Status::invalid(write.path +
                           " holds a vhost and SSL directives Included into another vhost; edit it by hand or "
                           "move the directives into the vhost");
  auto patched = blocks.empty() ? apache::patch_directive_lines(content, directives)
                                : apache::patch_config_text(content, blocks);
  if (patched && stapling_cache) patched = apache::set_stapling_cache(*patched, *stapling_cache);
  if (!patched) return Status::invalid(write.path + ": " + patched.status().message());
  return patched;
}

Plan make_plan(const Manifest& manifest, const Observed& observed, const std::string& manifest_arg) {
  Plan plan;
  std::vector<SiteInput> inputs;
  inputs.reserve(manifest.sites.size());
  for (std::size_t i = 0; i < manifest.sites.size(); ++i) {
    const Site& site = manifest.sites[i];
    inputs.push_back(SiteInput{site, observed.sites[i], observed, manifest_arg});
  }
  find_chain_conflicts(manifest, observed, inputs);
  std::vector<std::optional<VhostEdits>> edits(inputs.size());
  plan.sites.reserve(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) plan.sites.push_back(plan_site(inputs[i], edits[i]));
  plan_config_writes(observed, edits, plan);
  explain_restart(plan);
  return plan;
}

}  // namespace ecert
