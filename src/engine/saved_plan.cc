#include "engine/saved_plan.h"

#include "util/json_text.h"
#include <nlohmann/json.hpp>

#include "util/digest.h"

namespace ecert {
namespace {

using nlohmann::json;

constexpr const char* kKind = "ecertctl-plan";

std::string digest_of(const std::shared_ptr<const std::string>& bytes) { return bytes ? sha256_hex(*bytes) : ""; }

// A payload as data: what apply will do, with the digest of any bytes.
json payload_json(const Plan& plan, const Payload& payload) {
  struct Visit {
    const Plan& plan;
    json operator()(std::monostate) const { return nullptr; }
    json operator()(const NewKey& p) const { return {{"kind", "new-key"}, {"bits", p.bits}, {"cipher", cipher_name(p.cipher)}}; }
    json operator()(const PromoteKey& p) const { return {{"kind", "promote-key"}, {"staged", p.staged}}; }
    json operator()(const NewCsr& p) const {
      return {{"kind", "new-csr"}, {"subject", crypto::format_name(p.subject)},
              {"key", p.key == KeyRole::kNew ? "new" : "live"}};
    }
    json operator()(const StageRenewal& p) const {
      return {{"kind", "stage-renewal"}, {"new_key", p.new_key}, {"bits", p.bits}, {"cipher", cipher_name(p.cipher)},
              {"subject", crypto::format_name(p.subject)}};
    }
    json operator()(const PromoteCsr& p) const { return {{"kind", "promote-csr"}, {"staged", p.staged}}; }
    json operator()(const PromoteCertificate& p) const {
      return {{"kind", "promote-certificate"}, {"staged", p.staged}, {"previous", p.previous}};
    }
    json operator()(const RemoveStaged& p) const { return {{"kind", "remove-staged"}, {"paths", p.paths}}; }
    json operator()(const WriteFile& p) const {
      return {{"kind", "write-file"}, {"sha256", digest_of(p.bytes)}, {"sources", p.sources}};
    }
    json operator()(const EditConfig& p) const {
      json writes = json::array();
      for (std::size_t w : p.writes)
        writes.push_back({{"path", plan.config_writes[w].path}, {"after_sha256", sha256_hex(plan.config_writes[w].after)}});
      return {{"kind", "edit-config"}, {"writes", std::move(writes)}};
    }
    json operator()(const Reload&) const { return {{"kind", "reload"}}; }
  };
  return std::visit(Visit{plan}, payload);
}

std::string change_key(const SitePlan& site, const Change& c) { return site.name + " " + resource_name(c.kind); }

// What is compared between a saved and a fresh plan.
std::string comparable(const Plan& plan, const Change& c) {
  return json_text(json{{"action", action_name(c.action)}, {"payload", payload_json(plan, c.payload)}});
}

std::map<std::string, std::string> changes_of(const Plan& plan) {
  std::map<std::string, std::string> out;
  for (const auto& site : plan.sites)
    for (const auto& c : site.changes) out.emplace(change_key(site, c), comparable(plan, c));
  return out;
}

json sites_json(const Plan& plan) {
  json sites = json::array();
  for (const auto& s : plan.sites) {
    json resources = json::array();
    for (const auto& c : s.changes)
      resources.push_back({{"type", resource_name(c.kind)}, {"action", action_name(c.action)}, {"path", c.path},
                           {"reason", c.reason}, {"payload", payload_json(plan, c.payload)}});
    sites.push_back({{"name", s.name}, {"feature", s.feature}, {"state", site_state_name(s.state())},
                     {"resources", std::move(resources)}, {"warnings", s.warnings}});
  }
  return sites;
}

std::string list_of(const std::vector<std::string>& items) {
  std::string list;
  for (std::size_t k = 0; k < items.size() && k < 10; ++k) list += "\n  " + items[k];
  if (items.size() > 10) list += "\n  (" + std::to_string(items.size() - 10) + " more)";
  return list;
}

std::vector<std::string> changed_inputs(const SavedPlan& saved, const Plan& fresh) {
  std::vector<std::string> changed;
  for (const auto& [path, digest] : fresh.inputs) {
    auto it = saved.inputs.find(path);
    if (it == saved.inputs.end() || it->second != digest) changed.push_back(path);
  }
  for (const auto& [path, digest] : saved.inputs)
    if (!fresh.inputs.count(path)) changed.push_back(path);
  return changed;
}

std::vector<std::string> changed_changes(const SavedPlan& saved, const Plan& fresh) {
  std::vector<std::string> changed;
  const auto now = changes_of(fresh);
  for (const auto& [key, value] : now) {
    auto it = saved.changes.find(key);
    if (it == saved.changes.end() || it->second != value) changed.push_back(key);
  }
  for (const auto& [key, value] : saved.changes)
    if (!now.count(key)) changed.push_back(key);
  return changed;
}

}  // namespace

std::string render_saved_plan(const Report& r, const std::string& manifest_path, const std::string& manifest_sha256,
                              const std::vector<std::string>& selected_sites) {
  json config_writes = json::array();
  for (const auto& w : r.plan.config_writes)
    config_writes.push_back({{"path", w.path}, {"before_sha256", w.before_digest}, {"after_sha256", sha256_hex(w.after)}});
  json doc = {{"kind", kKind},
              {"format_version", "1"},
              {"manifest_path", manifest_path},
              {"manifest_sha256", manifest_sha256},
              {"selected_sites", selected_sites},
              {"inputs", r.plan.inputs},
              {"restart", r.plan.restart},
              {"restart_reason", r.plan.restart_reason},
              {"sites", sites_json(r.plan)},
              {"config_writes", std::move(config_writes)}};
  return json_text(doc, 2) + "\n";
}

Result<SavedPlan> parse_saved_plan(std::string_view text, const std::string& file) {
  const Status not_a_plan = Status::invalid(file + " is not a plan saved by `ecertctl plan --out`");
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return not_a_plan;
  SavedPlan p;
  // Every member read with at(), inside the try: value() and get() throw on
  // a member of another type too (a "kind" that is a number).
  try {
    if (j.at("kind") != kKind || j.at("format_version") != "1") return not_a_plan;
    p.manifest_path = j.at("manifest_path").get<std::string>();
    p.manifest_sha256 = j.at("manifest_sha256").get<std::string>();
    p.selected_sites = j.at("selected_sites").get<std::vector<std::string>>();
    p.inputs = j.at("inputs").get<std::map<std::string, std::string>>();
    for (const auto& site : j.at("sites"))
      for (const auto& c : site.at("resources"))
        p.changes.emplace(site.at("name").get<std::string>() + " " + c.at("type").get<std::string>(),
                          json_text(json{{"action", c.at("action")}, {"payload", c.at("payload")}}));
  } catch (const json::exception&) {
    return not_a_plan;
  }
  return p;
}

Status check_saved_plan(const SavedPlan& saved, const Plan& fresh) {
  if (auto inputs = changed_inputs(saved, fresh); !inputs.empty())
    return Status::conflict("the saved plan is stale: " + std::to_string(inputs.size()) +
                            " input(s) changed since it was made; nothing was done. Make a new plan." +
                            list_of(inputs));
  if (auto changes = changed_changes(saved, fresh); !changes.empty())
    return Status::conflict("the saved plan is stale: the plan made now differs from it in " +
                            std::to_string(changes.size()) + " change(s); nothing was done. Make a new plan." +
                            list_of(changes));
  return Status::ok();
}

}  // namespace ecert
