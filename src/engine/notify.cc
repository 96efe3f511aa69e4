#include "engine/notify.h"

#include "util/json_text.h"
#include <nlohmann/json.hpp>

#include "util/time.h"

namespace ecert {
namespace {

using nlohmann::json;

// The first error of a site that is a cause of its own, for the message.
std::string first_error(const Report& r, std::size_t i) {
  for (std::size_t j = 0; j < r.plan.sites[i].changes.size(); ++j)
    if (ChangeView v = view_change(r, i, j); v.action == Action::kError && v.root_cause) return v.reason;
  if (!r.apache().error.empty()) return r.apache().error;
  return "see the report of the run";
}

// Whether the run installed a new certificate for site `i`: it now serves
// one it did not serve before (a first certificate, a renewal, a re-issue).
bool installed_now(const Report& r, std::size_t i) {
  if (site_state(r, i) == SitePlan::State::kError || !r.apache().restarted) return false;
  for (std::size_t j = 0; j < r.plan.sites[i].changes.size(); ++j) {
    const Change& c = r.plan.sites[i].changes[j];
    const ChangeResult* res = r.result(i, j);
    if (c.kind != ResourceKind::kCertificate && c.kind != ResourceKind::kVhost) continue;
    if (c.acts() && res && res->outcome == Outcome::kDone && (c.get<PromoteCertificate>() || c.get<Reload>() ||
                                                             c.kind == ResourceKind::kVhost))
      return true;
  }
  return false;
}

Notice notice(const SitePlan& sp, NotifyEvent event, std::string message) {
  return Notice{sp.name, event, std::move(message), sp.renewal.certificate, "", sp.renewal.not_after};
}

long days_left(std::time_t not_after, std::time_t now) { return static_cast<long>((not_after - now) / 86400); }

}  // namespace

std::vector<Notice> notices_of(const Manifest& manifest, const Report& r) {
  std::vector<Notice> out;
  for (std::size_t i = 0; i < r.plan.sites.size(); ++i) {
    const SitePlan& sp = r.plan.sites[i];
    if (site_state(r, i) == SitePlan::State::kError) {
      out.push_back(notice(sp, NotifyEvent::kError, sp.name + ": " + first_error(r, i)));
      continue;
    }
    if (installed_now(r, i)) {
      Notice n = notice(sp, NotifyEvent::kInstalled, sp.name + ": a new certificate is served");
      if (sp.renewal.promoting) {  // about the certificate installed, not the one it replaced
        n.about = sp.renewal.renewed_certificate;
        n.not_after = sp.renewal.renewed_not_after;
      }
      out.push_back(std::move(n));
    }
    if (!sp.renewal.csr_to_submit.empty()) {
      Notice n = notice(sp, NotifyEvent::kRenewalDue,
                        sp.name + ": renewal due: submit the CSR " + sp.renewal.csr_to_submit +
                            " to the CA and place the certificate it issues at " +
                            staged_path(manifest.sites[i].certificate));
      n.csr = sp.renewal.csr_to_submit;
      out.push_back(std::move(n));
    }
    if (sp.renewal.warn && !sp.renewal.promoting)
      out.push_back(notice(sp, NotifyEvent::kExpiring, sp.name + ": the certificate expires soon and its renewal is not installed"));
  }
  return out;
}

fs::path notify_state_path(const fs::path& state_dir) { return state_dir / "notified.json"; }

NotifyState parse_notify_state(std::string_view text) {
  NotifyState state;
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("sites") || !j["sites"].is_object()) return {};
  try {
    for (const auto& [site, events] : j["sites"].items())
      for (const auto& [event, sent] : events.items())
        state[site][event] = Sent{sent.at("about").get<std::string>(), sent.at("at").get<std::time_t>()};
  } catch (const json::exception&) {
    return {};
  }
  return state;
}

std::string render_notify_state(const NotifyState& state) {
  json sites = json::object();
  for (const auto& [site, events] : state)
    for (const auto& [event, sent] : events) sites[site][event] = {{"about", sent.about}, {"at", sent.at}};
  return json_text(json{{"format_version", "1"}, {"sites", sites}}, 2) + "\n";
}

NotifyDecision decide_notices(const NotifySpec& spec, const std::vector<Notice>& current, const NotifyState& sent,
                              std::time_t now) {
  NotifyDecision d;
  const std::time_t repeat = static_cast<std::time_t>(std::chrono::seconds(spec.repeat).count());
  for (const Notice& n : current) {
    const std::string event = notify_event_name(n.event);
    if (std::find(spec.events.begin(), spec.events.end(), n.event) == spec.events.end()) continue;
    const Sent* before = nullptr;
    if (auto s = sent.find(n.site); s != sent.end())
      if (auto e = s->second.find(event); e != s->second.end()) before = &e->second;
    const bool repeats = n.event == NotifyEvent::kRenewalDue || n.event == NotifyEvent::kExpiring;
    const bool due = !before || before->about != n.about || (repeats && now - before->at >= repeat);
    if (due) d.send.push_back(n);
    d.next[n.site][event] = due ? Sent{n.about, now} : *before;
  }
  return d;
}

std::string render_notification(const std::string& host, const std::vector<Notice>& notices, std::time_t now) {
  json events = json::array();
  for (const Notice& n : notices) {
    json e = {{"site", n.site}, {"event", notify_event_name(n.event)}, {"message", n.message}};
    if (!n.csr.empty()) e["csr"] = n.csr;
    if (n.not_after) {
      e["not_after"] = format_utc(n.not_after, "%Y-%m-%dT%H:%M:%SZ");
      e["days_left"] = days_left(n.not_after, now);
    }
    events.push_back(std::move(e));
  }
  return json_text(json{{"format_version", "1"}, {"host", host}, {"events", std::move(events)}}, 2) + "\n";
}

}  // namespace ecert
