#include "engine/result.h"

namespace ecert {

const char* apache_step_name(ApacheStep step) {
  switch (step) {
    case ApacheStep::kNone: return "none";
    case ApacheStep::kConfigtest: return "configtest";
    case ApacheStep::kPairCheck: return "the key/certificate check";
    case ApacheStep::kRestart: return "restart";
    case ApacheStep::kVerify: return "verify";
  }
  return "?";
}

namespace {

// Valid UTF-8 without NUL bytes.
bool is_text(const std::string& s) {
  for (std::size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const int len = c == 0 ? 0 : c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (int k = 1; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    i += len;
  }
  return true;
}

}  // namespace

std::string diff_text(std::string bytes) {
  if (is_text(bytes)) return bytes;
  return "(" + std::to_string(bytes.size()) + " bytes of binary data)";
}

const ApacheOutcome& Report::apache() const {
  static const ApacheOutcome kNone;
  return applied ? applied->apache : kNone;
}

const ChangeResult* Report::result(std::size_t site, std::size_t change) const {
  if (!applied || site >= applied->changes.size() || change >= applied->changes[site].size()) return nullptr;
  return &applied->changes[site][change];
}

ChangeView view_change(const Change& c, const ChangeResult* r) {
  const bool own_error = c.action == Action::kError && !c.blocked_by;
  if (!r) return {c.action, c.reason, own_error};
  switch (r->outcome) {
    case Outcome::kNotRun:
    case Outcome::kDone: return {c.action, c.reason, own_error};
    case Outcome::kFailed: return {Action::kError, r->status.message(), true};
    case Outcome::kRolledBack:
      return {Action::kError, std::string("rolled back: ") + apache_step_name(r->rolled_back_by) + " failed", false};
    case Outcome::kNotAttempted:
      return {Action::kError,
              std::string("not done: the ") + resource_name(r->after) +
                  (r->after_planned_error ? " has an error" : " step failed"),
              false};
  }
  return {c.action, c.reason, own_error};
}

ChangeView view_change(const Report& report, std::size_t site, std::size_t change) {
  return view_change(report.plan.sites[site].changes[change], report.result(site, change));
}

SitePlan::State site_state(const Report& report, std::size_t site) {
  bool error = false, changes = false, pending = false;
  const auto& sp = report.plan.sites[site];
  for (std::size_t j = 0; j < sp.changes.size(); ++j) {
    const Action a = report.applied ? view_change(report, site, j).action : sp.changes[j].action;
    error |= a == Action::kError;
    changes |= a == Action::kCreate || a == Action::kUpdate;
    pending |= a == Action::kPending;
  }
  return error ? SitePlan::State::kError
         : changes ? SitePlan::State::kChanges
         : pending ? SitePlan::State::kPending
                   : SitePlan::State::kConverged;
}

std::map<std::string, int> action_counts(const Report& report) {
  std::map<std::string, int> counts{{"create", 0}, {"update", 0}, {"no-op", 0}, {"pending", 0}, {"error", 0}};
  for (std::size_t i = 0; i < report.plan.sites.size(); ++i)
    for (std::size_t j = 0; j < report.plan.sites[i].changes.size(); ++j)
      ++counts[action_name(report.applied ? view_change(report, i, j).action : report.plan.sites[i].changes[j].action)];
  return counts;
}

bool Report::failed() const {
  if (!errors.empty() || !apache().error.empty()) return true;
  for (std::size_t i = 0; i < plan.sites.size(); ++i)
    if (site_state(*this, i) == SitePlan::State::kError) return true;
  return false;
}

bool Report::changed() const {
  if (!applied) return plan.has_changes();
  for (std::size_t i = 0; i < plan.sites.size(); ++i)
    for (std::size_t j = 0; j < plan.sites[i].changes.size(); ++j)
      if (const ChangeResult* r = result(i, j); r && r->outcome == Outcome::kDone && plan.sites[i].changes[j].acts())
        return true;
  return false;
}

}  // namespace ecert
