#include "report/report.h"

#include <sstream>

namespace ecert {

std::map<std::string, int> action_counts(const Plan& plan) {
  std::map<std::string, int> counts{{"create", 0}, {"update", 0}, {"no-op", 0}, {"pending", 0}, {"error", 0}};
  for (const auto& site : plan.sites)
    for (const auto& c : site.changes) ++counts[action_name(c.action)];
  return counts;
}

nlohmann::json report_json(const Report& r, const std::string& manifest_arg) {
  using nlohmann::json;
  json sites = json::array();
  for (const auto& s : r.plan.sites) {
    json resources = json::array();
    for (const auto& c : s.changes)
      resources.push_back({{"type", resource_name(c.kind)},
                           {"action", action_name(c.action)},
                           {"path", c.path},
                           {"reason", c.reason}});
    json site = {{"name", s.name},
                 {"feature", s.feature},
                 {"state", site_state_name(s.state())},
                 {"resources", resources},
                 {"warnings", s.warnings}};
    if (!s.unicode_name.empty() && s.unicode_name != s.name) site["unicode_name"] = s.unicode_name;
    for (const auto& v : r.verified)
      if (v.site == s.name) site["verify"] = {{"ok", v.ok}, {"detail", v.detail}};
    sites.push_back(std::move(site));
  }
  const bool would = r.dry_run || r.command == "plan";
  json apache = {{"restart", would ? r.plan.restart : r.apache.restarted},
                 {"restart_needed", would ? r.plan.restart : r.apache.restart_needed},
                 {"reason", r.plan.restart_reason}};
  if (!would) {
    apache["configtest"] = r.apache.restart_needed ? (r.apache.configtest_ok ? "ok" : "failed") : "not-run";
    apache["rolled_back"] = r.apache.rolled_back;
    if (!r.apache.error.empty()) apache["error"] = r.apache.error;
  }
  return {{"format_version", "1"},
          {"command", r.command},
          {"dry_run", r.dry_run},
          {"manifest", manifest_arg},
          {"changed", r.plan.has_changes()},
          {"failed", r.failed()},
          {"sites", sites},
          {"apache", apache},
          {"errors", r.errors},
          {"summary", action_counts(r.plan)}};
}

std::string report_text(const Report& r) {
  std::ostringstream out;
  if (r.plan.sites.empty() && !r.errors.empty()) {  // refused before planning (lock, stale plan)
    for (const auto& e : r.errors) out << "error: " << e << "\n";
    return out.str();
  }
  const bool would = r.dry_run || r.command == "plan";
  for (const auto& s : r.plan.sites) {
    out << s.name << " (" << (s.unicode_name.empty() || s.unicode_name == s.name ? "" : s.unicode_name + ", ")
        << s.feature << "): " << site_state_name(s.state()) << "\n";
    for (const auto& c : s.changes) {
      std::string kind = resource_name(c.kind), action = action_name(c.action);
      out << "  " << kind << std::string(13 - kind.size(), ' ') << action
          << std::string(9 - action.size(), ' ');
      if (!c.path.empty()) out << c.path << ": ";
      out << c.reason << "\n";
    }
    for (const auto& w : s.warnings) out << "  warning: " << w << "\n";
    for (const auto& v : r.verified)
      if (v.site == s.name) out << "  verify       " << (v.ok ? "ok       " : "error    ") << v.detail << "\n";
  }
  if (would) {
    out << "Apache: " << (r.plan.restart ? "would be restarted (" + r.plan.restart_reason + ")" : "no restart (" + r.plan.restart_reason + ")") << "\n";
  } else if (!r.apache.error.empty()) {
    out << "Apache: " << r.apache.error << "\n";
  } else if (r.apache.restarted) {
    out << "Apache: configtest ok, restarted (" << r.plan.restart_reason << ")\n";
  } else if (r.apache.restart_needed) {
    out << "Apache: configtest ok; restart needed (" << r.plan.restart_reason << ")\n";
  } else {
    out << "Apache: not restarted (nothing Apache reads changed)\n";
  }
  for (const auto& e : r.errors) out << "error: " << e << "\n";
  auto n = action_counts(r.plan);
  if (would)
    out << "Plan: " << n["create"] << " to create, " << n["update"] << " to update, ";
  else
    out << "Applied: " << n["create"] << " created, " << n["update"] << " updated, ";
  out << n["pending"] << " pending, " << n["error"] << " errors, " << n["no-op"] << " unchanged.\n";
  return out.str();
}

std::string report_summary(const Report& r) {
  auto n = action_counts(r.plan);
  const bool would = r.dry_run || r.command == "plan";
  std::string out = would ? std::to_string(n["create"]) + " to create, " + std::to_string(n["update"]) + " to update, "
                          : std::to_string(n["create"]) + " created, " + std::to_string(n["update"]) + " updated, ";
  out += std::to_string(n["pending"]) + " pending, " + std::to_string(n["error"]) + " errors";
  if (would) out += r.plan.restart ? "; Apache would be restarted" : "; no Apache restart";
  else if (r.apache.restarted) out += "; Apache restarted";
  else if (r.apache.restart_needed && r.apache.error.empty()) out += "; Apache restart needed";
  std::vector<std::string> problems = r.errors;
  if (!r.apache.error.empty()) problems.push_back(r.apache.error);
  for (const auto& s : r.plan.sites)
    for (const auto& c : s.changes)
      if (c.action == Action::kError && c.reason.rfind("not checked:", 0) != 0 && c.reason.rfind("not done:", 0) != 0)
        problems.push_back(s.name + " " + resource_name(c.kind) + ": " + c.reason);
  for (std::size_t i = 0; i < problems.size() && i < 3; ++i) out += "; " + problems[i];
  if (problems.size() > 3) out += "; (" + std::to_string(problems.size() - 3) + " more)";
  for (const auto& s : r.plan.sites)  // e.g. a certificate expiring within 30 days
    for (const auto& w : s.warnings) out += "; warning: " + s.name + ": " + w;
  return out;
}

nlohmann::json report_ansible(const Report& r, const std::string& manifest_arg) {
  nlohmann::json full = report_json(r, manifest_arg);
  nlohmann::json diff = nlohmann::json::array();
  for (const auto& d : r.diffs)
    diff.push_back({{"before_header", d.path}, {"after_header", d.path}, {"before", d.before}, {"after", d.after}});
  const bool would = r.dry_run || r.command == "plan";
  return {{"format_version", "1"},
          {"changed", r.plan.has_changes() && !(r.failed() && r.apache.rolled_back && !r.plan.has_changes())},
          {"failed", r.failed()},
          {"msg", report_summary(r)},
          {"restart_needed", would ? r.plan.restart : (r.apache.restart_needed && !r.apache.restarted && r.apache.error.empty())},
          {"restarted", !would && r.apache.restarted},
          {"sites", full["sites"]},
          {"apache", full["apache"]},
          {"diff", diff}};
}

std::string report_salt(const Report& r) {
  nlohmann::json j = {{"changed", r.plan.has_changes()}, {"comment", report_summary(r)}};
  return j.dump();
}

nlohmann::json diagnostics_json(const Diagnostics& diags) {
  nlohmann::json errors = nlohmann::json::array(), warnings = nlohmann::json::array();
  for (const auto& d : diags) {
    nlohmann::json j = {{"file", d.pos.file}, {"line", d.pos.line}, {"column", d.pos.column},
                        {"message", d.message}, {"text", d.str()}};
    (d.severity == Diagnostic::Severity::kError ? errors : warnings).push_back(std::move(j));
  }
  return {{"format_version", "1"}, {"valid", errors.empty()}, {"errors", errors}, {"warnings", warnings}};
}

}  // namespace ecert
