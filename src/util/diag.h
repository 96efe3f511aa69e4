// Source positions and diagnostics. Positions are 1-based, as editors show them.
#pragma once

#include <string>
#include <vector>

namespace ecert {

struct SourcePos {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based; 0 when unknown

  // "file:line:column", or fewer parts when line/column are unknown.
  std::string str() const;
};

struct Diagnostic {
  enum class Severity { kError, kWarning };
  SourcePos pos;
  std::string message;
  Severity severity = Severity::kError;

  // "file:line:column: error: message"
  std::string str() const;
};

using Diagnostics = std::vector<Diagnostic>;

inline bool has_errors(const Diagnostics& diags) {
  for (const auto& d : diags)
    if (d.severity == Diagnostic::Severity::kError) return true;
  return false;
}

}  // namespace ecert
