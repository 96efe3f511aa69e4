#include "report/report.h"

#include <functional>
#include <ostream>
#include <sstream>
#include <string_view>

namespace ecert {

std::map<std::string, int> action_counts(const Plan& plan) {
  std::map<std::string, int> counts{{"create", 0}, {"update", 0}, {"no-op", 0}, {"pending", 0}, {"error", 0}};
  for (const auto& site : plan.sites)
    for (const auto& c : site.changes) ++counts[action_name(c.action)];
  return counts;
}

namespace {

using nlohmann::json;

std::map<std::string, const SiteVerify*> verified_by_site(const Report& r) {
  std::map<std::string, const SiteVerify*> out;
  for (const auto& v : r.verified) out[v.site] = &v;
  return out;
}

json site_json(const SitePlan& s, const std::map<std::string, const SiteVerify*>& verified) {
  json resources = json::array();
  for (const auto& c : s.changes)
    resources.push_back({{"type", resource_name(c.kind)},
                         {"action", action_name(c.action)},
                         {"path", c.path},
                         {"reason", c.reason}});
  json site = {{"name", s.name},
               {"feature", s.feature},
               {"state", site_state_name(s.state())},
               {"resources", std::move(resources)},
               {"warnings", s.warnings}};
  if (!s.unicode_name.empty() && s.unicode_name != s.name) site["unicode_name"] = s.unicode_name;
  if (auto it = verified.find(s.name); it != verified.end())
    site["verify"] = {{"ok", it->second->ok}, {"detail", it->second->detail}};
  return site;
}

json apache_json(const Report& r) {
  const bool would = r.dry_run || r.command == "plan";
  json apache = {{"restart", would ? r.plan.restart : r.apache.restarted},
                 {"restart_needed", would ? r.plan.restart : r.apache.restart_needed},
                 {"reason", r.plan.restart_reason}};
  if (!would) {
    apache["configtest"] = r.apache.restart_needed ? (r.apache.configtest_ok ? "ok" : "failed") : "not-run";
    apache["rolled_back"] = r.apache.rolled_back;
    if (!r.apache.error.empty()) apache["error"] = r.apache.error;
  }
  return apache;
}

// The report document without its "sites".
json report_head(const Report& r, const std::string& manifest_arg) {
  return {{"format_version", "1"},
          {"command", r.command},
          {"dry_run", r.dry_run},
          {"manifest", manifest_arg},
          {"changed", r.plan.has_changes()},
          {"failed", r.failed()},
          {"apache", apache_json(r)},
          {"errors", r.errors},
          {"summary", action_counts(r.plan)}};
}

json ansible_head(const Report& r) {
  json diff = json::array();
  for (const auto& d : r.diffs)
    diff.push_back({{"before_header", d.path}, {"after_header", d.path}, {"before", d.before}, {"after", d.after}});
  const bool would = r.dry_run || r.command == "plan";
  return {{"format_version", "1"},
          {"changed", r.plan.has_changes() && !(r.failed() && r.apache.rolled_back && !r.plan.has_changes())},
          {"failed", r.failed()},
          {"msg", report_summary(r)},
          {"restart_needed", would ? r.plan.restart : (r.apache.restart_needed && !r.apache.restarted && r.apache.error.empty())},
          {"restarted", !would && r.apache.restarted},
          {"apache", apache_json(r)},
          {"diff", std::move(diff)}};
}

json with_sites(json head, const Report& r) {
  const auto verified = verified_by_site(r);
  json sites = json::array();
  for (const auto& s : r.plan.sites) sites.push_back(site_json(s, verified));
  head["sites"] = std::move(sites);
  return head;
}

// Writes with_sites(head, r).dump(2) and a newline, one site at a time.
void write_with_sites(std::ostream& out, json head, const Report& r) {
  const auto verified = verified_by_site(r);
  write_json_streaming(out, std::move(head), "sites", r.plan.sites.size(),
                       [&](std::size_t i) { return site_json(r.plan.sites[i], verified); });
}

}  // namespace

void write_json_streaming(std::ostream& out, nlohmann::json document, const std::string& key, std::size_t n,
                          const std::function<nlohmann::json(std::size_t)>& element) {
  document[key] = json::array();
  const std::string text = document.dump(2);
  // Keys are sorted and strings never hold a raw newline: this is the
  // top-level key, at one level of indentation.
  const std::string marker = "\n  " + json(key).dump() + ": ";
  const std::size_t at = text.find(marker + "[]");
  if (n == 0 || at == std::string::npos) {
    out << text << "\n";
    return;
  }
  out.write(text.data(), static_cast<std::streamsize>(at + marker.size()));
  out << "[\n";
  for (std::size_t i = 0; i < n; ++i) {
    const std::string item = element(i).dump(2);
    std::string indented = "    ";
    indented.reserve(item.size() + item.size() / 8);
    for (char c : item) {
      indented += c;
      if (c == '\n') indented += "    ";
    }
    out << (i == 0 ? "" : ",\n") << indented;
  }
  out << "\n  ]" << std::string_view(text).substr(at + marker.size() + 2) << "\n";
}

nlohmann::json report_json(const Report& r, const std::string& manifest_arg) {
  return with_sites(report_head(r, manifest_arg), r);
}

void write_report_json(std::ostream& out, const Report& r, const std::string& manifest_arg) {
  write_with_sites(out, report_head(r, manifest_arg), r);
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

nlohmann::json report_ansible(const Report& r, const std::string& /*manifest_arg*/) {
  return with_sites(ansible_head(r), r);
}

void write_report_ansible(std::ostream& out, const Report& r) { write_with_sites(out, ansible_head(r), r); }

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
