// The undo log of one apply run: every file it replaced or created, with
// what to put back. What is replaced is first copied under the run's backup
// directory, so that even a run killed between steps loses nothing.
#pragma once

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "engine/result.h"
#include "util/fs.h"
#include "util/secret.h"

namespace ecert {

class Journal {
 public:
  // Copies of replaced files go to `backups`/<stamp>/, where <stamp> is
  // `base_stamp` (the run's UTC time), made unique by a suffix when another
  // run took it; claimed (created, 0700) on first use.
  Journal(FileSystem& fs, fs::path backups, std::string base_stamp)
      : fs_(fs), backups_(std::move(backups)), base_stamp_(std::move(base_stamp)) {}

  // The run's unique stamp (for backups and <path>.old-<stamp> copies),
  // claimed on the first call. Fails when its directory cannot be created.
  Result<std::string> stamp();

  // Replaces (or creates, with `new_mode`) the file `path` leads to with
  // `data`, for `sites`. A file that already holds `data` is not rewritten,
  // but `sites` rely on it from now on too (a chain file two sites share).
  // When `diff` is given it receives the file's real path, before and after.
  // REQUIRES: `data` is not key material (use record() for keys).
  Status replace(const fs::path& path, std::string_view data, mode_t new_mode, const std::set<std::size_t>& sites,
                 FileDiff* diff = nullptr);

  // Records a change made by other means (a key promoted by rename): on
  // undo, `old` is written back to `path` (with `mode`), or `path` is
  // removed when `old` is nullopt. The bytes are kept as a secret.
  void record(const fs::path& path, std::optional<SecretString> old, mode_t mode, std::set<std::size_t> sites);

  // Puts back what was written only for sites that `failed` (and for no
  // site that succeeded). Returns the errors of putting back.
  std::vector<std::string> undo_sites(const std::function<bool(std::size_t)>& failed);

  // Puts back everything, newest first. Returns the errors of putting back.
  std::vector<std::string> rollback();

  bool empty() const { return entries_.empty(); }
  // Whether the file `path` leads to was written (and not undone) in this run.
  bool wrote(const fs::path& path) const;

 private:
  struct Entry {
    fs::path path;                     // the real file
    std::optional<SecretString> old;   // nullopt: the file did not exist
    mode_t mode = 0644;                // for recreating a file that is gone
    std::set<std::size_t> sites;       // the sites it was written for
  };
  Status backup(const fs::path& real, std::string_view content);
  Status restore(const Entry& e);

  FileSystem& fs_;
  fs::path backups_;
  std::string base_stamp_;
  std::string stamp_;  // "" until claimed
  std::vector<Entry> entries_;
};

}  // namespace ecert
