// Server names: IDN to A-label conversion and syntax checks.
#pragma once

#include <string>
#include <string_view>

#include "util/status.h"

namespace ecert {

// Lower-cases `name`, converts Unicode labels to A-labels (libidn2,
// IDNA 2008 with transitional fallback), and checks the result: at least two
// labels, each 1-63 letters, digits or hyphens (no leading or trailing
// hyphen), at most 253 characters, no trailing dot. When `allow_wildcard`,
// a "*" is allowed as the whole left-most label and nowhere else; otherwise
// no "*" at all. Returns the A-label form, or an error saying what is wrong
// and what to write instead.
Result<std::string> normalize_server_name(std::string_view name, bool allow_wildcard);

}  // namespace ecert
