// Checks on the raw manifest bytes, made before yaml-cpp sees them: yaml-cpp
// 0.7 passes invalid UTF-8 and control characters through, reports tabs in
// indentation as "illegal map value", and answers deep nesting with "bad file"
// or a stack overflow.
#pragma once

#include <string>
#include <string_view>

#include "util/diag.h"

namespace ecert {

inline constexpr int kMaxManifestNesting = 64;

// Appends one error per kind of problem found (the first occurrence of each),
// positioned at the offending byte. Columns count bytes, as yaml-cpp's do.
// Returns false when the text must not be parsed.
bool prescan_manifest(std::string_view text, const std::string& file, Diagnostics* diags);

}  // namespace ecert
