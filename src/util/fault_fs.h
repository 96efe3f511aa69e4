// Fault injection for tests, as a decorator (leveldb's FaultInjectionTestEnv):
// the production code never knows faults exist. Linked only into tests and
// the test build of the command (tests/ecertctl_faults.cc), never into the
// shipped binary.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "util/fs.h"

namespace ecert {

// Passes every call to `base`, numbering each mutating call (write_atomic,
// create_exclusive, create_directories, rename, remove; locks are not
// numbered) from 1, and makes the chosen ones fail with an errno, as the
// disk would (ENOSPC, EACCES, EIO).
class FaultInjectionFileSystem : public FileSystem {
 public:
  explicit FaultInjectionFileSystem(FileSystem& base) : base_(base) {}

  // Fails the mutating call numbered `n` with `err`.
  void fail_at(long n, int err) {
    at_ = n;
    err_ = err;
  }
  // Fails every mutating call on `path` (the path as the caller gave it, or
  // its write target) with `err`.
  void fail_path(const fs::path& path, int err) {
    path_ = path.lexically_normal().string();
    err_ = err;
  }
  // Every mutating call so far, as "N op path".
  const std::vector<std::string>& steps() const { return steps_; }

  Result<std::string> read_file(const fs::path& path) const override { return base_.read_file(path); }
  Result<FileContent> read_with_info(const fs::path& path, const ReadOptions& options) const override {
    return base_.read_with_info(path, options);
  }
  Result<FileInfo> stat(const fs::path& path) const override { return base_.stat(path); }
  Result<FileInfo> lstat(const fs::path& path) const override { return base_.lstat(path); }
  Result<fs::path> real_path(const fs::path& path) const override { return base_.real_path(path); }
  uid_t user() const override { return base_.user(); }
  Result<std::vector<std::string>> list_dir(const fs::path& dir) const override { return base_.list_dir(dir); }
  Result<fs::path> write_target(const fs::path& path) const override { return base_.write_target(path); }
  Status write_atomic(const fs::path& path, std::string_view data, const WriteOptions& options = {}) override;
  Status create_exclusive(const fs::path& path, std::string_view data, mode_t mode) override;
  Status create_directories(const fs::path& dir, mode_t mode) override;
  Status rename(const fs::path& from, const fs::path& to) override;
  Status remove(const fs::path& path) override;
  Result<std::unique_ptr<FileLock>> lock(const fs::path& path, std::chrono::seconds wait) override {
    return base_.lock(path, wait);
  }

 private:
  // The status a mutating call `op` on `path` fails with, or ok to pass it on.
  Status step(const char* op, const fs::path& path);

  FileSystem& base_;
  long at_ = 0;
  std::string path_;
  int err_ = 0;
  long count_ = 0;
  std::vector<std::string> steps_;
};

// The write steps of a RealFileSystem, numbered from 1 across the process,
// as the reliability tests drive them in the test build of the command
// (tests/ecertctl_faults.cc), configured from its environment:
//   ECERTCTL_FAULT_AT=N ECERTCTL_FAULT=kill|ENOSPC|EACCES|EIO
//     step N kills the process (SIGKILL, as a power cut would) or fails
//     with that errno;
//   ECERTCTL_FAULT_TRACE=FILE
//     appends "N step path" for every step, so a test can enumerate them.
class EnvWriteSteps : public WriteSteps {
 public:
  EnvWriteSteps();
  int before(const char* step, const fs::path& path) override;

 private:
  long at_ = 0;
  int err_ = 0;  // 0: kill
  std::string trace_;
  std::atomic<long> count_{0};
};

}  // namespace ecert
