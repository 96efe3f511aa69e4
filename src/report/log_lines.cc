#include "report/log_lines.h"

namespace ecert {
namespace {

const char* past_tense(Action action) {
  switch (action) {
    case Action::kCreate: return "created";
    case Action::kUpdate: return "updated";
    default: return action_name(action);
  }
}

bool logged(Action action) { return action == Action::kCreate || action == Action::kUpdate || action == Action::kError; }

std::string change_line(const SitePlan& site, const Change& change, const ChangeView& view) {
  std::string line = site.name + ": " + resource_name(change.kind) + " " + past_tense(view.action) + ": ";
  if (!change.path.empty()) line += change.path + ": ";
  return line + view.reason;
}

// Apache's part of the run, if it had one.
void add_apache_lines(const Report& r, std::vector<LogLine>& out) {
  const ApacheOutcome& a = r.apache();
  if (!a.error.empty())
    out.push_back({LogPriority::kError, "Apache: " + a.error});
  else if (a.restarted)
    out.push_back({LogPriority::kNotice, "Apache restarted: " + r.plan.restart_reason});
  else if (a.restart_needed)
    out.push_back({LogPriority::kNotice, "Apache restart left to the caller: " + r.plan.restart_reason});
}

}  // namespace

std::string one_log_line(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\n' || c == '\r') {
      while (!out.empty() && (out.back() == ' ' || out.back() == '\t')) out.pop_back();
      while (i + 1 < text.size() && (text[i + 1] == '\n' || text[i + 1] == '\r' || text[i + 1] == ' ' ||
                                     text[i + 1] == '\t'))
        ++i;
      if (!out.empty() && i + 1 < text.size()) out += " | ";
    } else {
      out += (c < 0x20 || c == 0x7f) ? ' ' : static_cast<char>(c);
    }
  }
  if (out.size() > kMaxLogLineBytes) {
    std::size_t cut = kMaxLogLineBytes - 3;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;  // not inside a character
    out.resize(cut);
    out += "...";
  }
  return out;
}

std::vector<LogLine> apply_log_lines(const Report& r) {
  std::vector<LogLine> out;
  if (r.would()) return out;
  for (std::size_t i = 0; i < r.plan.sites.size(); ++i) {
    const SitePlan& site = r.plan.sites[i];
    for (std::size_t j = 0; j < site.changes.size(); ++j) {
      const ChangeView view = view_change(r, i, j);
      if (logged(view.action))
        out.push_back({view.action == Action::kError ? LogPriority::kError : LogPriority::kNotice,
                       change_line(site, site.changes[j], view)});
    }
    if (r.applied)
      for (const auto& v : r.applied->verified)
        if (v.site == site.name && !v.ok)
          out.push_back({LogPriority::kError, site.name + ": verify failed: " + v.detail});
  }
  add_apache_lines(r, out);
  for (const auto& e : r.errors) out.push_back({LogPriority::kError, "error: " + e});
  for (auto& line : out) line.text = one_log_line(line.text);
  return out;
}

void log_apply(const Report& report, SystemLog& log) {
  for (const auto& line : apply_log_lines(report)) log.log(line.priority, line.text);
}

}  // namespace ecert
