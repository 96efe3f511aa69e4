// Saved plans (`plan --out`, later `apply PLAN`): the one place their format
// is written and read. A saved plan records the digest of every input and
// every change with its payload, so that apply can refuse it the moment the
// plan it would make now is not exactly the plan that was reviewed.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "engine/result.h"
#include "util/status.h"

namespace ecert {

struct SavedPlan {
  std::string manifest_path;    // absolute
  std::string manifest_sha256;  // of the exact bytes the plan was made from
  std::vector<std::string> selected_sites;  // --site, as given
  std::map<std::string, std::string> inputs;  // path -> sha256 or "absent"
  // "site resource" -> the change as saved: action and payload, as JSON text.
  std::map<std::string, std::string> changes;
};

// The saved-plan document for `report` (a plan), as text.
std::string render_saved_plan(const Report& report, const std::string& manifest_path,
                              const std::string& manifest_sha256, const std::vector<std::string>& selected_sites);

// Reads a saved plan; `file` names it in the error.
Result<SavedPlan> parse_saved_plan(std::string_view text, const std::string& file);

// Whether `fresh` (the plan made now) may be applied in place of `saved`:
// every input still has its recorded digest and every change has the same
// action and payload. The error says what differs and that nothing was done.
Status check_saved_plan(const SavedPlan& saved, const Plan& fresh);

}  // namespace ecert
