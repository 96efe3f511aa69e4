#include "engine/lock.h"

#include "engine/state_dir.h"

namespace ecert {

Result<RunLock> RunLock::acquire(FileSystem& fs, const fs::path& dir, std::chrono::seconds wait) {
  if (Status s = fs.create_directories(dir, 0700); !s) return s;
  // Again now that it exists: a directory someone else made meanwhile (in a
  // parent they could write) is refused before anything is written in it.
  if (Status s = check_state_dir(fs, dir, StateDirUse::kWrite); !s) return s;
  const fs::path path = dir / kLockName;
  auto held = fs.lock(path, wait);
  if (held) return RunLock(std::move(*held));
  if (held.status().code() != Status::Code::kConflict) return held.status();
  return Status::conflict("another ecertctl run holds the lock " + path.string() + " (" + held.status().message() +
                          "); waited " + std::to_string(wait.count()) + "s. Run again when it has finished");
}

}  // namespace ecert
