// The filesystem as an interface: RealFileSystem touches disk, MemoryFileSystem
// backs unit tests and records every write so tests can assert side effects.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace ecert {

namespace fs = std::filesystem;

struct FileInfo {
  bool is_regular = false;
  bool is_directory = false;
  uid_t uid = 0;
  gid_t gid = 0;
  mode_t mode = 0;  // permission bits only
  std::int64_t mtime_ns = 0;
  std::uint64_t size = 0;
};

struct WriteOptions {
  // Mode of a file that does not exist yet. A replaced file keeps its mode
  // and owner whatever this says.
  mode_t new_file_mode = 0644;
  // Refuse to write through a symlink that sits in a directory writable by
  // users other than root: someone could have planted it.
  bool refuse_untrusted_symlinks = true;
};

// An exclusive lock taken through FileSystem::lock; released when destroyed.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // The whole content of a regular file (following symlinks).
  // Returns NotFound when nothing is there; other errors name the path.
  virtual Result<std::string> read_file(const fs::path& path) const = 0;

  // Follows symlinks. NotFound when nothing is there.
  virtual Result<FileInfo> stat(const fs::path& path) const = 0;

  // Names (not paths) of the entries of a directory, sorted bytewise.
  virtual Result<std::vector<std::string>> list_dir(const fs::path& dir) const = 0;

  // The path a write to `path` must replace: symlinks are followed (also when
  // the final target does not exist yet), so a write through Debian's
  // sites-enabled link lands on the file in sites-available and the link stays.
  virtual Result<fs::path> write_target(const fs::path& path) const = 0;

  // Replaces `path` atomically: temp file in the same directory, fsync,
  // rename, fsync of the directory. Follows symlinks to the real target, keeps
  // the replaced file's owner and mode. REQUIRES: the parent directory exists.
  virtual Status write_atomic(const fs::path& path, std::string_view data,
                              const WriteOptions& options = {}) = 0;

  // Like write_atomic, but never replaces anything: when `path` exists (also
  // when it appeared meanwhile), returns Status::conflict and leaves it as it
  // was. For private keys, which are never overwritten.
  virtual Status create_exclusive(const fs::path& path, std::string_view data, mode_t mode) = 0;

  // Creates the directory and its missing parents with `mode`.
  virtual Status create_directories(const fs::path& dir, mode_t mode) = 0;

  // Renames atomically within a filesystem and fsyncs the directory.
  virtual Status rename(const fs::path& from, const fs::path& to) = 0;

  // Removes a file; absent is not an error.
  virtual Status remove(const fs::path& path) = 0;

  // Takes an exclusive lock on the file `path` (created empty, 0600, if
  // missing; never through a symlink), waiting at most `wait` for another
  // holder to let go. On timeout returns Status::conflict whose message
  // names the holder ("pid N: its command line") as far as it is known.
  // REQUIRES: the parent directory exists.
  virtual Result<std::unique_ptr<FileLock>> lock(const fs::path& path, std::chrono::seconds wait) = 0;
};

// The real disk.
class RealFileSystem : public FileSystem {
 public:
  Result<std::string> read_file(const fs::path& path) const override;
  Result<FileInfo> stat(const fs::path& path) const override;
  Result<std::vector<std::string>> list_dir(const fs::path& dir) const override;
  Result<fs::path> write_target(const fs::path& path) const override;
  Status write_atomic(const fs::path& path, std::string_view data,
                      const WriteOptions& options = {}) override;
  Status create_exclusive(const fs::path& path, std::string_view data, mode_t mode) override;
  Status create_directories(const fs::path& dir, mode_t mode) override;
  Status rename(const fs::path& from, const fs::path& to) override;
  Status remove(const fs::path& path) override;
  Result<std::unique_ptr<FileLock>> lock(const fs::path& path, std::chrono::seconds wait) override;
};

// In-memory filesystem for unit tests. Paths are used as given (no
// normalisation beyond lexically_normal); symlinks are explicit entries.
class MemoryFileSystem : public FileSystem {
 public:
  struct Entry {
    std::string data;
    mode_t mode = 0644;
  };

  void add_file(const fs::path& path, std::string data, mode_t mode = 0644);
  void add_symlink(const fs::path& link, const fs::path& target);

  Result<std::string> read_file(const fs::path& path) const override;
  Result<FileInfo> stat(const fs::path& path) const override;
  Result<std::vector<std::string>> list_dir(const fs::path& dir) const override;
  Result<fs::path> write_target(const fs::path& path) const override;
  Status write_atomic(const fs::path& path, std::string_view data,
                      const WriteOptions& options = {}) override;
  Status create_exclusive(const fs::path& path, std::string_view data, mode_t mode) override;
  Status create_directories(const fs::path& dir, mode_t mode) override;
  Status rename(const fs::path& from, const fs::path& to) override;
  Status remove(const fs::path& path) override;
  // Never waits: a lock held in this filesystem is a conflict at once.
  Result<std::unique_ptr<FileLock>> lock(const fs::path& path, std::chrono::seconds wait) override;

  const std::map<std::string, Entry>& files() const { return files_; }
  // Every mutating call, in order, e.g. "write /a", "rename /a /b".
  const std::vector<std::string>& log() const { return log_; }
  std::size_t read_count() const { return reads_; }

 private:
  fs::path resolve(const fs::path& path) const;
  std::map<std::string, Entry> files_;
  std::map<std::string, std::string> symlinks_;
  std::map<std::string, mode_t> dirs_;
  std::vector<std::string> log_;
  std::set<std::string> locked_;
  mutable std::size_t reads_ = 0;
};

}  // namespace ecert
