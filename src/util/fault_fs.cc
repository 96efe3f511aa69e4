#include "util/fault_fs.h"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>

namespace ecert {

Status FaultInjectionFileSystem::step(const char* op, const fs::path& path) {
  const long n = ++count_;
  steps_.push_back(std::to_string(n) + " " + op + " " + path.string());
  bool hit = n == at_;
  if (!path_.empty()) {
    auto target = base_.write_target(path);
    hit |= path.lexically_normal().string() == path_ || (target && target->lexically_normal().string() == path_);
  }
  if (!hit) return Status::ok();
  return Status::from_errno(err_, std::string("cannot ") + op, path.string());
}

Status FaultInjectionFileSystem::write_atomic(const fs::path& path, std::string_view data,
                                              const WriteOptions& options) {
  if (Status s = step("write", path); !s) return s;
  return base_.write_atomic(path, data, options);
}

Status FaultInjectionFileSystem::create_exclusive(const fs::path& path, std::string_view data, mode_t mode) {
  if (Status s = step("create", path); !s) return s;
  return base_.create_exclusive(path, data, mode);
}

Status FaultInjectionFileSystem::create_directories(const fs::path& dir, mode_t mode) {
  if (Status s = step("mkdir", dir); !s) return s;
  return base_.create_directories(dir, mode);
}

Status FaultInjectionFileSystem::rename(const fs::path& from, const fs::path& to) {
  if (Status s = step("rename", to); !s) return s;
  return base_.rename(from, to);
}

Status FaultInjectionFileSystem::remove(const fs::path& path) {
  if (Status s = step("remove", path); !s) return s;
  return base_.remove(path);
}

EnvWriteSteps::EnvWriteSteps() {
  if (const char* at = std::getenv("ECERTCTL_FAULT_AT")) at_ = std::atol(at);
  if (const char* what = std::getenv("ECERTCTL_FAULT")) {
    const std::string w = what;
    err_ = w == "ENOSPC" ? ENOSPC : w == "EACCES" ? EACCES : w == "EIO" ? EIO : 0;
  }
  if (const char* trace = std::getenv("ECERTCTL_FAULT_TRACE")) trace_ = trace;
}

int EnvWriteSteps::before(const char* step, const fs::path& path) {
  if (at_ == 0 && trace_.empty()) return 0;
  const long n = ++count_;
  if (!trace_.empty())
    if (FILE* f = std::fopen(trace_.c_str(), "a")) {
      std::fprintf(f, "%ld %s %s\n", n, step, path.c_str());
      std::fclose(f);
    }
  if (n != at_) return 0;
  if (err_ == 0) ::raise(SIGKILL);
  return err_;
}

}  // namespace ecert
