#include "util/diag.h"

#include <cerrno>
#include <cstring>

#include "util/status.h"

namespace ecert {

std::string SourcePos::str() const {
  std::string out = file;
  if (line > 0) {
    out += ":" + std::to_string(line);
    if (column > 0) out += ":" + std::to_string(column);
  }
  return out;
}

std::string Diagnostic::str() const {
  return pos.str() + (severity == Severity::kError ? ": error: " : ": warning: ") + message;
}

Status Status::from_errno(int err, const std::string& what, const std::string& path) {
  std::string msg = what + " " + path + ": " + std::strerror(err);
  switch (err) {
    case ENOENT: return not_found(msg);
    case EACCES:
    case EPERM:
    case EROFS: return permission(msg);
    case ENOSPC:
    case EDQUOT: return io_error(msg + " (free some space and run again; nothing was replaced)");
    default: return io_error(msg);
  }
}

}  // namespace ecert
