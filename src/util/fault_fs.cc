#include "util/fault_fs.h"

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

}  // namespace ecert
