// What an apply run tells the system log: one line per resource it created
// or updated, one per error, and what became of Apache (restarted, restart
// left to the caller, or the failure and the rollback). The lines are made
// from the report alone, which never holds a secret.
#pragma once

#include <string>
#include <vector>

#include "engine/result.h"
#include "util/syslog.h"

namespace ecert {

struct LogLine {
  LogPriority priority;
  std::string text;  // one line: no control characters, at most kMaxLogLineBytes
};

inline constexpr std::size_t kMaxLogLineBytes = 4096;

// The lines for `report`, sites in report order, then Apache, then run-level
// errors. Empty for a plan, a dry run, and a run that changed nothing and
// failed nowhere.
std::vector<LogLine> apply_log_lines(const Report& report);

// Sends apply_log_lines(report) to `log`.
void log_apply(const Report& report, SystemLog& log);

// `text` as one log line: each line break (and the blanks around it) becomes
// " | ", any other control character a space, and text beyond
// kMaxLogLineBytes is cut at a UTF-8 character boundary and marked "...".
std::string one_log_line(const std::string& text);

}  // namespace ecert
