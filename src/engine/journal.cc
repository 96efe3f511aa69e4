#include "engine/journal.h"

namespace ecert {

Result<std::string> Journal::stamp() {
  if (!stamp_.empty()) return stamp_;
  std::string candidate = base_stamp_;
  for (int n = 2; fs_.stat(backups_ / candidate).is_ok(); ++n) candidate = base_stamp_ + "-" + std::to_string(n);
  if (Status s = fs_.create_directories(backups_ / candidate, 0700); !s) return s;
  return stamp_ = candidate;
}

Status Journal::backup(const fs::path& real, std::string_view content) {
  auto run_stamp = stamp();
  if (!run_stamp) return run_stamp.status();
  const fs::path dest = backups_ / *run_stamp / real.relative_path();
  if (Status s = fs_.create_directories(dest.parent_path(), 0700); !s) return s;
  WriteOptions wo;
  wo.new_file_mode = 0600;
  return fs_.write_atomic(dest, content, wo);
}

Status Journal::replace(const fs::path& path, std::string_view data, mode_t new_mode,
                        const std::set<std::size_t>& sites, FileDiff* diff) {
  auto real = fs_.write_target(path);
  if (!real) return real.status();
  Entry e{*real, std::nullopt, new_mode, sites};
  auto old = fs_.read_file(*real);
  if (old) {
    if (*old == data) {
      for (auto& earlier : entries_)
        if (earlier.path == *real) earlier.sites.insert(sites.begin(), sites.end());
      return Status::ok();
    }
    if (Status s = backup(*real, *old); !s) return s;
    e.old.emplace(std::move(*old));
  } else if (!old.status().is_not_found()) {
    return old.status();
  }
  if (Status s = fs_.create_directories(real->parent_path(), 0755); !s) return s;
  WriteOptions wo;
  wo.new_file_mode = new_mode;
  if (diff) *diff = FileDiff{real->string(), diff_text(e.old ? e.old->expose() : std::string()), diff_text(std::string(data))};
  // Recorded before writing: a failure after the rename (syncing the
  // directory) leaves the new content in place, and it must be undone too.
  entries_.push_back(std::move(e));
  return fs_.write_atomic(path, data, wo);
}

void Journal::record(const fs::path& path, std::optional<SecretString> old, mode_t mode,
                     std::set<std::size_t> sites) {
  auto real = fs_.write_target(path);
  entries_.push_back(Entry{real ? *real : path, std::move(old), mode, std::move(sites)});
}

Status Journal::restore(const Entry& e) {
  WriteOptions wo;
  wo.new_file_mode = e.mode;
  Status s = e.old ? fs_.write_atomic(e.path, e.old->expose(), wo) : fs_.remove(e.path);
  if (!s) return Status::io_error("rollback of " + e.path.string() + " failed: " + s.message());
  return s;
}

std::vector<std::string> Journal::undo_sites(const std::function<bool(std::size_t)>& failed) {
  std::vector<std::string> errors;
  std::vector<Entry> kept;
  std::set<std::string> kept_paths;
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
    bool all_failed = !it->sites.empty();
    for (std::size_t i : it->sites) all_failed &= failed(i);
    if (!all_failed) {
      kept_paths.insert(it->path.string());
      kept.push_back(std::move(*it));
      continue;
    }
    // A later write for a site that succeeded owns the file now (a chain
    // file two sites share, written by the second after the first failed).
    if (kept_paths.count(it->path.string())) continue;
    if (Status s = restore(*it); !s) errors.push_back(s.message());
  }
  entries_.assign(std::make_move_iterator(kept.rbegin()), std::make_move_iterator(kept.rend()));
  return errors;
}

bool Journal::wrote(const fs::path& path) const {
  auto real = fs_.write_target(path);
  const fs::path target = (real ? *real : path).lexically_normal();
  for (const auto& e : entries_)
    if (e.path.lexically_normal() == target) return true;
  return false;
}

std::vector<std::string> Journal::rollback() {
  std::vector<std::string> errors;
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it)
    if (Status s = restore(*it); !s) errors.push_back(s.message());
  return errors;
}

}  // namespace ecert
