#include "engine/lock.h"

namespace ecert {

Result<RunLock> RunLock::acquire(FileSystem& fs, const fs::path& dir, std::chrono::seconds wait) {
  if (Status s = fs.create_directories(dir, 0700); !s) return s;
  const fs::path path = dir / "lock";
  auto held = fs.lock(path, wait);
  if (held) return RunLock(std::move(*held));
  if (held.status().code() != Status::Code::kConflict) return held.status();
  return Status::conflict("another ecertctl run holds the lock " + path.string() + " (" + held.status().message() +
                          "); waited " + std::to_string(wait.count()) + "s. Run again when it has finished");
}

}  // namespace ecert
