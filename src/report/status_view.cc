#include "report/status_view.h"
#include "report/report.h"
#include "util/strings.h"
#include "util/time.h"

#include <sstream>

namespace ecert {
namespace {

const Change* change_of(const SitePlan& p, ResourceKind kind) {
  for (const auto& c : p.changes)
    if (c.kind == kind) return &c;
  return nullptr;
}

std::string iso_date(std::time_t t) { return format_utc(t, "%Y-%m-%dT%H:%M:%SZ"); }

long days_left(const StatusReport& r, const CertFacts& c) {
  return static_cast<long>((c.info.not_after - r.observed.now) / 86400);
}

nlohmann::json resource_json(const SitePlan& p, ResourceKind kind) {
  const Change* c = change_of(p, kind);
  if (!c) return nullptr;
  // In status an action says what apply would do; "state" says how it is now.
  std::string state = c->action == Action::kNoOp      ? "ok"
                      : c->action == Action::kPending ? "pending"
                      : c->action == Action::kError   ? "error"
                      : c->action == Action::kCreate  ? "missing"
                                                      : "outdated";
  return {{"path", c->path}, {"state", state}, {"action", action_name(c->action)}, {"reason", c->reason}};
}

std::string escape_label(const std::string& v) {
  std::string out;
  for (char ch : v) {
    if (ch == '\\' || ch == '"') out += '\\';
    if (ch == '\n') {
      out += "\\n";
      continue;
    }
    out += ch;
  }
  return out;
}

}  // namespace

namespace {

// Where the site stands in its renewal cycle.
nlohmann::json renewal_json(const StatusReport& r, const SitePlan& p) {
  const RenewalState& rs = p.renewal;
  nlohmann::json j = {{"due", rs.due_since.has_value()}, {"staged", rs.staged_since.has_value()}, {"warn", rs.warn}};
  j["due_since"] = rs.due_since ? nlohmann::json(iso_date(*rs.due_since)) : nlohmann::json(nullptr);
  j["staged_since"] = rs.staged_since ? nlohmann::json(iso_date(*rs.staged_since)) : nlohmann::json(nullptr);
  if (rs.not_after) j["days_left"] = static_cast<long>((rs.not_after - r.observed.now) / 86400);
  if (!rs.csr_to_submit.empty()) j["csr_to_submit"] = rs.csr_to_submit;
  return j;
}

nlohmann::json site_status_json(const StatusReport& r, const SiteStatus& s) {
  const auto& p = *s.plan;
  nlohmann::json j = {{"name", s.site->name}, {"feature", feature_name(s.site->feature)},
                      {"state", site_state_name(p.state())}, {"warnings", p.warnings}};
  j["key"] = resource_json(p, ResourceKind::kKey);
  if (s.facts->key.opened) j["key"]["bits"] = s.facts->key.bits;
  j["csr"] = resource_json(p, ResourceKind::kCsr);
  j["certificate"] = resource_json(p, ResourceKind::kCertificate);
  const auto& c = s.facts->cert;
  if (c.parsed) {
    j["certificate"]["issuer"] = c.info.issuer_cn;
    j["certificate"]["serial"] = c.info.serial;
    j["certificate"]["not_before"] = iso_date(c.info.not_before);
    j["certificate"]["not_after"] = iso_date(c.info.not_after);
    j["certificate"]["days_left"] = days_left(r, c);
  }
  j["renewal"] = renewal_json(r, p);
  j["chain"] = resource_json(p, ResourceKind::kChain);
  if (!s.facts->ca.sub_path.empty()) j["chain"]["sub_ca"] = s.facts->ca.sub_path;  // which ca.sub file was chosen
  if (p.find(ResourceKind::kFullchain)) j["fullchain"] = resource_json(p, ResourceKind::kFullchain);
  j["vhost"] = resource_json(p, ResourceKind::kVhost);
  if (const apache::VirtualHost* vh = s.facts->vhost.vhost) {
    j["vhost"]["file"] = vh->file;
    j["vhost"]["line"] = vh->line;
  }
  if (s.served)
    j["served"] = {{"address", s.served->address}, {"reachable", s.served->reachable},
                   {"matches", s.served->matches}, {"detail", s.served->detail}};
  return j;
}

nlohmann::json status_head(const std::string& manifest_arg) {
  return {{"format_version", "1"}, {"command", "status"}, {"manifest", manifest_arg}};
}

}  // namespace

nlohmann::json status_json(const StatusReport& r, const std::string& manifest_arg) {
  nlohmann::json sites = nlohmann::json::array();
  for (const auto& s : r.sites) sites.push_back(site_status_json(r, s));
  nlohmann::json j = status_head(manifest_arg);
  j["sites"] = std::move(sites);
  return j;
}

void write_status_json(std::ostream& out, const StatusReport& r, const std::string& manifest_arg) {
  write_json_streaming(out, status_head(manifest_arg), "sites", r.sites.size(),
                       [&](std::size_t i) { return site_status_json(r, r.sites[i]); });
}

namespace {

// "due since D, staged since D, N days left", or "" when none applies.
std::string renewal_text(const StatusReport& r, const RenewalState& rs) {
  std::vector<std::string> parts;
  if (rs.due_since) parts.push_back("due since " + format_utc(*rs.due_since, "%Y-%m-%d"));
  if (rs.staged_since) parts.push_back("staged since " + format_utc(*rs.staged_since, "%Y-%m-%d"));
  if (!rs.csr_to_submit.empty()) parts.push_back("CSR to submit: " + rs.csr_to_submit);
  if (parts.empty()) return "";
  if (rs.not_after) parts.push_back(std::to_string((rs.not_after - r.observed.now) / 86400) + " days left");
  return join(parts, ", ");
}

}  // namespace

std::string status_text(const StatusReport& r) {
  std::ostringstream out;
  for (const auto& s : r.sites) {
    const auto& p = *s.plan;
    out << s.site->name << " (" << feature_name(s.site->feature) << "): " << site_state_name(p.state()) << "\n";
    for (const auto& c : p.changes) {
      std::string kind = resource_name(c.kind);
      auto j = resource_json(p, c.kind);
      std::string state = j["state"];
      out << "  " << kind << std::string(13 - kind.size(), ' ') << state << std::string(10 - state.size(), ' ');
      if (!c.path.empty()) out << c.path << ": ";
      out << c.reason << "\n";
    }
    if (s.served)
      out << "  served       " << (s.served->matches ? "ok        " : "differs   ") << s.served->address << ": "
          << s.served->detail << "\n";
    if (std::string line = renewal_text(r, p.renewal); !line.empty()) out << "  renewal      " << line << "\n";
    for (const auto& w : p.warnings) out << "  warning: " << w << "\n";
  }
  return out.str();
}

namespace {

void prometheus_header(std::ostringstream& out, const char* name, const char* help) {
  out << "# HELP " << name << " " << help << "\n# TYPE " << name << " gauge\n";
}

constexpr const char* kManifestValidHelp = "1 when the manifest loaded and validated; 0 when it did not (other metrics absent).";

}  // namespace

std::string invalid_manifest_prometheus() {
  std::ostringstream out;
  prometheus_header(out, "ecertctl_manifest_valid", kManifestValidHelp);
  out << "ecertctl_manifest_valid 0\n";
  return out.str();
}

std::string status_prometheus(const StatusReport& r) {
  std::ostringstream out;
  auto header = [&](const char* name, const char* help) { prometheus_header(out, name, help); };
  header("ecertctl_manifest_valid", kManifestValidHelp);
  out << "ecertctl_manifest_valid 1\n";
  auto labels = [](const SiteStatus& s) {
    return "site=\"" + escape_label(s.site->name) + "\",feature=\"" + feature_name(s.site->feature) + "\"";
  };
  header("ecertctl_certificate_expiration_timestamp_seconds",
         "The date after which the site's certificate expires, as a Unix timestamp.");
  for (const auto& s : r.sites)
    if (s.facts->cert.parsed)
      out << "ecertctl_certificate_expiration_timestamp_seconds{" << labels(s) << ",issuer=\""
          << escape_label(s.facts->cert.info.issuer_cn) << "\",serial=\"" << s.facts->cert.info.serial << "\"} "
          << s.facts->cert.info.not_after << "\n";
  header("ecertctl_certificate_ready_status",
         "The ready status of the site: certificate valid, chain written, vhost configured.");
  for (const auto& s : r.sites) {
    const auto state = s.plan->state();
    const char* cond = state == SitePlan::State::kConverged ? "True"
                       : state == SitePlan::State::kError   ? "False"
                                                            : "Unknown";
    for (const char* c : {"True", "False", "Unknown"})
      out << "ecertctl_certificate_ready_status{" << labels(s) << ",condition=\"" << c << "\"} "
          << (std::string(c) == cond ? 1 : 0) << "\n";
  }
  header("ecertctl_certificate_pending", "1 while the site waits for the CA to issue its certificate.");
  for (const auto& s : r.sites)
    out << "ecertctl_certificate_pending{" << labels(s) << "} " << (s.plan->has(Action::kPending) ? 1 : 0) << "\n";
  header("ecertctl_site_error", "1 when a resource of the site has an error.");
  for (const auto& s : r.sites)
    out << "ecertctl_site_error{" << labels(s) << "} " << (s.plan->has(Action::kError) ? 1 : 0) << "\n";
  header("ecertctl_certificate_expiring", "1 when the certificate expires within 30 days (a warning).");
  for (const auto& s : r.sites)
    if (s.facts->cert.parsed)
      out << "ecertctl_certificate_expiring{" << labels(s) << "} "
          << (days_left(r, s.facts->cert) < kExpiryWarningDays ? 1 : 0) << "\n";
  header("ecertctl_certificate_renewal_due", "1 when the site's renewal window (renewal.before) has opened.");
  for (const auto& s : r.sites)
    out << "ecertctl_certificate_renewal_due{" << labels(s) << "} " << (s.plan->renewal.due_since ? 1 : 0) << "\n";
  header("ecertctl_certificate_renewal_staged_timestamp_seconds",
         "When the site's renewal (its next key and CSR) was staged, as a Unix timestamp; absent when none is.");
  for (const auto& s : r.sites)
    if (s.plan->renewal.staged_since)
      out << "ecertctl_certificate_renewal_staged_timestamp_seconds{" << labels(s) << "} "
          << *s.plan->renewal.staged_since << "\n";
  header("ecertctl_certificate_renewal_warning",
         "1 inside renewal.warn (or 30 days) while the renewal is not installed.");
  for (const auto& s : r.sites)
    out << "ecertctl_certificate_renewal_warning{" << labels(s) << "} " << (s.plan->renewal.warn ? 1 : 0) << "\n";
  header("ecertctl_served_matches", "1 when the served leaf and chain equal the files on disk (sites with vhost.verify).");
  for (const auto& s : r.sites)
    if (s.served) out << "ecertctl_served_matches{" << labels(s) << "} " << (s.served->matches ? 1 : 0) << "\n";
  return out.str();
}

}  // namespace ecert
