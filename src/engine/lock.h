// The run lock: one apply at a time per state directory.
#pragma once

#include <chrono>
#include <string>

#include "util/fs.h"

namespace ecert {

class RunLock {
 public:
  RunLock() = default;
  RunLock(RunLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  RunLock& operator=(RunLock&&) = delete;
  ~RunLock();

  // Takes an exclusive lock on `dir`/lock, creating `dir` (0700) and the
  // file if needed (and writing nothing else), waiting at most `wait`. On
  // timeout the error names the holder's pid and command line.
  static Result<RunLock> acquire(const fs::path& dir, std::chrono::seconds wait);

 private:
  explicit RunLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace ecert
