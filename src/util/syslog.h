// The system log as an interface: Syslog sends lines through syslog(3)
// (journald's /dev/log on systemd machines, any syslogd elsewhere);
// RecordingSystemLog keeps them for unit tests.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ecert {

enum class LogPriority { kError, kWarning, kNotice, kInfo };

class SystemLog {
 public:
  virtual ~SystemLog() = default;
  // Sends `line` as one message, byte for byte (nothing in it is read as a
  // format directive). Never fails: a machine without a system log loses it.
  // REQUIRES: `line` holds no newline (one message is one line).
  virtual void log(LogPriority priority, std::string_view line) = 0;
};

// syslog(3) with openlog("ecertctl", LOG_PID, LOG_DAEMON). The log socket is
// connected at the first line, so an instance that logs nothing opens nothing.
class Syslog final : public SystemLog {
 public:
  Syslog();
  ~Syslog() override;  // closelog(3)
  Syslog(const Syslog&) = delete;
  Syslog& operator=(const Syslog&) = delete;
  void log(LogPriority priority, std::string_view line) override;
};

// Keeps every line in `entries`, in order.
class RecordingSystemLog final : public SystemLog {
 public:
  struct Entry {
    LogPriority priority;
    std::string line;
  };
  void log(LogPriority priority, std::string_view line) override { entries.push_back({priority, std::string(line)}); }
  std::vector<Entry> entries;
};

}  // namespace ecert
