// Notifications: after an apply run, one command is told the run's events
// (renewal-due, expiring, installed, error) as JSON on stdin. Each event is
// sent when it first holds for a site and its certificate; a renewal-due or
// expiring that still holds again at most every notify.repeat. What was sent
// is recorded in the state directory (notified.json); an event that no
// longer holds is forgotten, so it is sent again should it come back.
#pragma once

#include <ctime>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "engine/result.h"
#include "manifest/model.h"
#include "util/fs.h"
#include "util/process.h"

namespace ecert {

struct Notice {
  std::string site;
  NotifyEvent event = NotifyEvent::kError;
  std::string message;
  std::string about;        // what makes it the same event: the digest of the site's certificate ("" without one)
  std::string csr;          // renewal-due: the CSR to submit
  std::time_t not_after = 0;  // 0: no certificate
};

// The events that hold for each site after the run `report` describes.
// REQUIRES: report.applied (an apply that acted).
std::vector<Notice> notices_of(const Manifest& manifest, const Report& report);

// What was sent, per site and event: about what, and when.
struct Sent {
  std::string about;
  std::time_t at = 0;
  bool operator==(const Sent&) const = default;
};
using NotifyState = std::map<std::string, std::map<std::string, Sent>>;  // site -> event name -> sent

fs::path notify_state_path(const fs::path& state_dir);
NotifyState parse_notify_state(std::string_view text);  // empty when it does not parse
std::string render_notify_state(const NotifyState& state);

struct NotifyDecision {
  std::vector<Notice> send;  // what to send now
  NotifyState next;          // the state to record once it was sent
};

// Which of `current` to send at `now`, given what `sent` records: the
// events `spec` names, new or about another certificate, or (renewal-due,
// expiring) last sent at least `spec.repeat` ago.
NotifyDecision decide_notices(const NotifySpec& spec, const std::vector<Notice>& current, const NotifyState& sent,
                              std::time_t now);

// The document on the command's stdin: format_version, host, events.
std::string render_notification(const std::string& host, const std::vector<Notice>& notices, std::time_t now);

}  // namespace ecert
