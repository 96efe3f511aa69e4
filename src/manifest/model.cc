#include "manifest/model.h"

namespace ecert {

const char* feature_name(Feature f) {
  switch (f) {
    case Feature::kStandard: return "standard";
    case Feature::kEv: return "ev";
    case Feature::kWildcard: return "wildcard";
    case Feature::kMultiDomain: return "multi-domain";
    case Feature::kEvMultiDomain: return "ev-multi-domain";
  }
  return "?";
}

std::string staged_path(const fs::path& live) { return live.string() + ".new"; }

const char* notify_event_name(NotifyEvent e) {
  switch (e) {
    case NotifyEvent::kRenewalDue: return "renewal-due";
    case NotifyEvent::kExpiring: return "expiring";
    case NotifyEvent::kInstalled: return "installed";
    case NotifyEvent::kError: return "error";
  }
  return "?";
}

}  // namespace ecert
