#include "report/report.h"

#include "util/json_text.h"
#include <functional>
#include <ostream>
#include <sstream>
#include <string_view>

namespace ecert {

namespace {

using nlohmann::json;

std::map<std::string, const SiteVerify*> verified_by_site(const Report& r) {
  std::map<std::string, const SiteVerify*> out;
  if (r.applied)
    for (const auto& v : r.applied->verified) out[v.site] = &v;
  return out;
}

json site_json(const Report& r, std::size_t i, const std::map<std::string, const SiteVerify*>& verified) {
  const SitePlan& s = r.plan.sites[i];
  json resources = json::array();
  for (std::size_t j = 0; j < s.changes.size(); ++j) {
    const Change& c = s.changes[j];
    ChangeView v = view_change(r, i, j);
    resources.push_back({{"type", resource_name(c.kind)},
                         {"action", action_name(v.action)},
                         {"path", c.path},
                         {"reason", std::move(v.reason)}});
  }
  json site = {{"name", s.name},
               {"feature", s.feature},
               {"state", site_state_name(site_state(r, i))},
               {"resources", std::move(resources)},
               {"warnings", s.warnings}};
  if (!s.unicode_name.empty() && s.unicode_name != s.name) site["unicode_name"] = s.unicode_name;
  if (auto it = verified.find(s.name); it != verified.end())
    site["verify"] = {{"ok", it->second->ok}, {"detail", it->second->detail}};
  return site;
}

json apache_json(const Report& r) {
  const bool would = r.would();
  const ApacheOutcome& a = r.apache();
  json apache = {{"restart", would ? r.plan.restart : a.restarted},
                 {"restart_needed", would ? r.plan.restart : a.restart_needed},
                 {"reason", r.plan.restart_reason}};
  if (!would) {
    apache["configtest"] = a.restart_needed ? (a.configtest_ok ? "ok" : "failed") : "not-run";
    apache["rolled_back"] = a.rolled_back;
    apache["down"] = a.down;
    if (!a.error.empty()) apache["error"] = a.error;
  }
  return apache;
}

// The report document without its "sites".
json report_head(const Report& r, const std::string& manifest_arg) {
  return {{"format_version", "1"},
          {"command", r.command},
          {"dry_run", r.dry_run},
          {"manifest", manifest_arg},
          {"changed", r.changed()},
          {"failed", r.failed()},
          {"apache", apache_json(r)},
          {"errors", r.errors},
          {"warnings", r.warnings},
          {"summary", action_counts(r)}};
}

json ansible_head(const Report& r) {
  json diff = json::array();
  for (const auto& d : r.diffs)
    diff.push_back({{"before_header", d.path}, {"after_header", d.path}, {"before", d.before}, {"after", d.after}});
  const bool would = r.would();
  const ApacheOutcome& a = r.apache();
  return {{"format_version", "1"},
          {"changed", r.changed()},
          {"failed", r.failed()},
          {"msg", report_summary(r)},
          {"restart_needed", would ? r.plan.restart : (a.restart_needed && !a.restarted && a.error.empty())},
          {"restarted", !would && a.restarted},
          {"apache", apache_json(r)},
          {"diff", std::move(diff)}};
}

json with_sites(json head, const Report& r) {
  const auto verified = verified_by_site(r);
  json sites = json::array();
  for (std::size_t i = 0; i < r.plan.sites.size(); ++i) sites.push_back(site_json(r, i, verified));
  head["sites"] = std::move(sites);
  return head;
}

// Writes with_sites(head, r).dump(2) and a newline, one site at a time.
void write_with_sites(std::ostream& out, json head, const Report& r) {
  const auto verified = verified_by_site(r);
  write_json_streaming(out, std::move(head), "sites", r.plan.sites.size(),
                       [&](std::size_t i) { return site_json(r, i, verified); });
}

}  // namespace

void write_json_streaming(std::ostream& out, nlohmann::json document, const std::string& key, std::size_t n,
                          const std::function<nlohmann::json(std::size_t)>& element) {
  document[key] = json::array();
  const std::string text = json_text(document, 2);
  // Keys are sorted and strings never hold a raw newline: this is the
  // top-level key, at one level of indentation.
  const std::string marker = "\n  " + json_text(json(key)) + ": ";
  const std::size_t at = text.find(marker + "[]");
  if (n == 0 || at == std::string::npos) {
    out << text << "\n";
    return;
  }
  out.write(text.data(), static_cast<std::streamsize>(at + marker.size()));
  out << "[\n";
  for (std::size_t i = 0; i < n; ++i) {
    const std::string item = json_text(element(i), 2);
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

namespace {

void site_text(std::ostream& out, const Report& r, std::size_t i) {
  const SitePlan& s = r.plan.sites[i];
  out << s.name << " (" << (s.unicode_name.empty() || s.unicode_name == s.name ? "" : s.unicode_name + ", ")
      << s.feature << "): " << site_state_name(site_state(r, i)) << "\n";
  for (std::size_t j = 0; j < s.changes.size(); ++j) {
    const Change& c = s.changes[j];
    const ChangeView v = view_change(r, i, j);
    std::string kind = resource_name(c.kind), action = action_name(v.action);
    out << "  " << kind << std::string(13 - kind.size(), ' ') << action << std::string(9 - action.size(), ' ');
    if (!c.path.empty()) out << c.path << ": ";
    out << v.reason << "\n";
  }
  for (const auto& w : s.warnings) out << "  warning: " << w << "\n";
  if (r.applied)
    for (const auto& v : r.applied->verified)
      if (v.site == s.name) out << "  verify       " << (v.ok ? "ok       " : "error    ") << v.detail << "\n";
}

std::string apache_text(const Report& r) {
  const ApacheOutcome& a = r.apache();
  if (r.would())
    return r.plan.restart ? "would be restarted (" + r.plan.restart_reason + ")"
                          : "no restart (" + r.plan.restart_reason + ")";
  if (!a.error.empty()) return a.error;
  if (a.restarted) return "configtest ok, restarted (" + r.plan.restart_reason + ")";
  if (a.restart_needed) return "configtest ok; restart needed (" + r.plan.restart_reason + ")";
  return "not restarted (nothing Apache reads changed)";
}

}  // namespace

std::string report_text(const Report& r) {
  std::ostringstream out;
  if (r.apache().down)  // before anything else: every site of the server is affected
    out << "Apache is DOWN: it did not come back on the restored files; start it by hand and check its error log\n";
  if (r.plan.sites.empty() && !r.errors.empty()) {  // refused before planning (lock, stale plan)
    for (const auto& e : r.errors) out << "error: " << e << "\n";
    return out.str();
  }
  for (std::size_t i = 0; i < r.plan.sites.size(); ++i) site_text(out, r, i);
  out << "Apache: " << apache_text(r) << "\n";
  for (const auto& e : r.errors) out << "error: " << e << "\n";
  for (const auto& w : r.warnings) out << "warning: " << w << "\n";
  auto n = action_counts(r);
  if (r.would())
    out << "Plan: " << n["create"] << " to create, " << n["update"] << " to update, ";
  else
    out << "Applied: " << n["create"] << " created, " << n["update"] << " updated, ";
  out << n["pending"] << " pending, " << n["error"] << " errors, " << n["no-op"] << " unchanged.\n";
  return out.str();
}

std::string report_summary(const Report& r) {
  auto n = action_counts(r);
  const bool would = r.would();
  const ApacheOutcome& a = r.apache();
  std::string out = a.down ? "Apache is DOWN (it did not come back on the restored files); " : "";
  out += would ? std::to_string(n["create"]) + " to create, " + std::to_string(n["update"]) + " to update, "
               : std::to_string(n["create"]) + " created, " + std::to_string(n["update"]) + " updated, ";
  out += std::to_string(n["pending"]) + " pending, " + std::to_string(n["error"]) + " errors";
  if (would) out += r.plan.restart ? "; Apache would be restarted" : "; no Apache restart";
  else if (a.restarted) out += "; Apache restarted";
  else if (a.restart_needed && a.error.empty()) out += "; Apache restart needed";
  std::vector<std::string> problems = r.errors;
  if (!a.error.empty()) problems.push_back(a.error);
  for (std::size_t i = 0; i < r.plan.sites.size(); ++i)
    for (std::size_t j = 0; j < r.plan.sites[i].changes.size(); ++j)
      if (ChangeView v = view_change(r, i, j); v.action == Action::kError && v.root_cause)
        problems.push_back(r.plan.sites[i].name + " " + resource_name(r.plan.sites[i].changes[j].kind) + ": " +
                           v.reason);
  for (std::size_t i = 0; i < problems.size() && i < 3; ++i) out += "; " + problems[i];
  if (problems.size() > 3) out += "; (" + std::to_string(problems.size() - 3) + " more)";
  for (const auto& s : r.plan.sites)  // the next step of a renewal waiting for the CA
    if (const Change* key = s.find(ResourceKind::kKey); key && !s.renewal.csr_to_submit.empty())
      out += "; " + s.name + ": " + key->reason;
  for (const auto& s : r.plan.sites)  // e.g. a certificate expiring within 30 days
    for (const auto& w : s.warnings) out += "; warning: " + s.name + ": " + w;
  for (const auto& w : r.warnings) out += "; warning: " + w;
  return out;
}

nlohmann::json report_ansible(const Report& r, const std::string& /*manifest_arg*/) {
  return with_sites(ansible_head(r), r);
}

void write_report_ansible(std::ostream& out, const Report& r) { write_with_sites(out, ansible_head(r), r); }

std::string report_salt(const Report& r) {
  nlohmann::json j = {{"changed", r.changed()}, {"comment", report_summary(r)}};
  return json_text(j);
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
