#include "util/syslog.h"

#include <syslog.h>

namespace ecert {
namespace {

int syslog_level(LogPriority priority) {
  switch (priority) {
    case LogPriority::kError: return LOG_ERR;
    case LogPriority::kWarning: return LOG_WARNING;
    case LogPriority::kNotice: return LOG_NOTICE;
    case LogPriority::kInfo: return LOG_INFO;
  }
  return LOG_NOTICE;
}

}  // namespace

// The identifier is what `journalctl -t ecertctl` and syslog filters match,
// whatever the binary was called as.
Syslog::Syslog() { ::openlog("ecertctl", LOG_PID, LOG_DAEMON); }

Syslog::~Syslog() { ::closelog(); }

void Syslog::log(LogPriority priority, std::string_view line) {
  ::syslog(syslog_level(priority), "%.*s", static_cast<int>(line.size()), line.data());
}

}  // namespace ecert
