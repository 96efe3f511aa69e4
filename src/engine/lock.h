// The run lock: one apply (or rotate) at a time per state directory.
#pragma once

#include <chrono>
#include <memory>

#include "util/fs.h"

namespace ecert {

class RunLock {
 public:
  // Takes the exclusive lock `dir`/lock through `fs`, creating `dir` (0700)
  // and the file if needed (and writing nothing else), waiting at most
  // `wait`. On timeout the error names the holder's pid and command line.
  // Refuses (kPermission) a state directory that check_state_dir (kWrite,
  // engine/state_dir.h) refuses, checked once it exists.
  static Result<RunLock> acquire(FileSystem& fs, const fs::path& dir, std::chrono::seconds wait);

 private:
  explicit RunLock(std::unique_ptr<FileLock> held) : held_(std::move(held)) {}
  std::unique_ptr<FileLock> held_;
};

}  // namespace ecert
