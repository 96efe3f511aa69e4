// The filesystem as an interface: RealFileSystem touches disk, MemoryFileSystem
// backs unit tests and records every write so tests can assert side effects.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <atomic>
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
  bool is_symlink = false;  // only from lstat(): stat() and reads follow links
  uid_t uid = 0;
  gid_t gid = 0;
  mode_t mode = 0;  // permission bits only
  std::int64_t mtime_ns = 0;
  std::uint64_t size = 0;
};

struct WriteOptions {
  // Mode of a file that does not exist yet. A replaced file keeps its mode
  // and owner whatever this says (unless replace_with_new_file).
  mode_t new_file_mode = 0644;
  // Refuse to write through a symlink that sits in a directory writable by
  // users other than root: someone could have planted it.
  bool refuse_untrusted_symlinks = true;
  // Write a new file at `path` itself, owned by the user ecertctl runs as,
  // with new_file_mode: a symlink there is replaced, not followed, and what
  // was there before lends the new file neither its owner nor its mode. For
  // ecertctl's own records (engine/state_dir.h), which must never inherit a
  // foreign owner or a loose mode.
  bool replace_with_new_file = false;
};

struct ReadOptions {
  // Refuse a symlink at `path` itself instead of following it (O_NOFOLLOW).
  // Symlinks in the directories above it are still followed.
  bool no_follow = false;
};

// A file's content with what fstat() said of the very file it was read from.
struct FileContent {
  std::string data;
  FileInfo info;
};

// An exclusive lock taken through FileSystem::lock; released when destroyed.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

// The most read_file() returns by default: far above anything ecertctl
// reads (Debian's trust bundle is about 0.2 MiB, a 10,000-vhost Apache
// configuration about 4 MiB in all, the facts cache of a 10,000-site fleet
// about 15 MiB), yet a file that is not what the manifest meant (a disk
// image, a log, a sparse file) is refused before it costs memory or time.
inline constexpr std::uint64_t kMaxReadSize = std::uint64_t{64} << 20;

// Thread safety: the const methods (read_file, stat, list_dir, write_target)
// may be called from several threads at once; observe() reads on every core.
// The others change the filesystem: RealFileSystem's may run concurrently
// with anything (the kernel orders them), MemoryFileSystem's need the object
// to themselves (no other call, const or not, at the same time).
class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // The whole content of a regular file (following symlinks), at most the
  // implementation's bound in size (kMaxReadSize unless constructed with
  // another). Never blocks on what is not a regular file: a FIFO, a device,
  // a socket or a directory is refused at once (kInvalid, naming the path,
  // what is there and what to do), as is a larger file.
  // Returns NotFound when nothing is there; other errors name the path.
  virtual Result<std::string> read_file(const fs::path& path) const = 0;

  // read_file() with `options`, also returning the FileInfo of the file read
  // (taken from the open descriptor: it describes the bytes returned, even
  // if the path is replaced meanwhile). With no_follow, a symlink at `path`
  // is refused (kPermission, naming the path and saying it is a symlink).
  virtual Result<FileContent> read_with_info(const fs::path& path, const ReadOptions& options) const = 0;

  // Follows symlinks. NotFound when nothing is there.
  virtual Result<FileInfo> stat(const fs::path& path) const = 0;

  // Like stat(), but a symlink at `path` itself is described, not followed
  // (is_symlink). NotFound when nothing is there.
  virtual Result<FileInfo> lstat(const fs::path& path) const = 0;

  // The absolute path of what `path` names, with every symlink, "." and ".."
  // resolved (realpath(3)). NotFound when it does not exist.
  virtual Result<fs::path> real_path(const fs::path& path) const = 0;

  // The user ecertctl runs as (the effective uid): the owner of the files it
  // creates, and the one user whose records it trusts.
  virtual uid_t user() const = 0;

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

// The numbered steps of RealFileSystem's writes, for tests that make one
// fail or stop the process there, as a full disk or a power cut would
// (util/fault_fs.h). The shipped binary installs none.
class WriteSteps {
 public:
  virtual ~WriteSteps() = default;
  // Called before `step` ("create-temp", "write-temp", "rename", "sync-dir",
  // "link", "mkdir", "remove") on `path`: 0 to go on, or the errno that
  // step fails with. May be called from several threads.
  virtual int before(const char* step, const fs::path& path) = 0;
};

// The real disk.
class RealFileSystem : public FileSystem {
 public:
  explicit RealFileSystem(std::uint64_t max_read_size = kMaxReadSize, WriteSteps* steps = nullptr)
      : max_read_size_(max_read_size), steps_(steps) {}

  Result<std::string> read_file(const fs::path& path) const override;
  Result<FileContent> read_with_info(const fs::path& path, const ReadOptions& options) const override;
  Result<FileInfo> stat(const fs::path& path) const override;
  Result<FileInfo> lstat(const fs::path& path) const override;
  Result<fs::path> real_path(const fs::path& path) const override;
  uid_t user() const override;
  Result<std::vector<std::string>> list_dir(const fs::path& dir) const override;
  Result<fs::path> write_target(const fs::path& path) const override;
  Status write_atomic(const fs::path& path, std::string_view data,
                      const WriteOptions& options = {}) override;
  Status create_exclusive(const fs::path& path, std::string_view data, mode_t mode) override;
  Status create_directories(const fs::path& dir, mode_t mode) override;
  Status rename(const fs::path& from, const fs::path& to) override;
  Status remove(const fs::path& path) override;
  // Also refuses (kInvalid) a lock path that is not a regular file, without
  // waiting on it: opening a FIFO there would block.
  Result<std::unique_ptr<FileLock>> lock(const fs::path& path, std::chrono::seconds wait) override;

 private:
  int step(const char* name, const fs::path& path) const { return steps_ ? steps_->before(name, path) : 0; }
  // A temp file beside `target` holding `data` with `mode` (and `owner`'s
  // owner when given), synced and closed: the first half of every write.
  Result<fs::path> write_temp(const fs::path& target, std::string_view data, mode_t mode,
                              const struct stat* owner) const;
  std::uint64_t max_read_size_;
  WriteSteps* steps_;
};

// In-memory filesystem for unit tests. Paths are used as given (no
// normalisation beyond lexically_normal); symlinks are explicit entries.
class MemoryFileSystem : public FileSystem {
 public:
  // What a path can hold besides a regular file, a directory or a symlink.
  enum class Special { kFifo, kCharDevice, kBlockDevice, kSocket };

  struct Entry {
    std::string data;
    mode_t mode = 0644;
    uid_t uid = 0;
    gid_t gid = 0;
  };

  explicit MemoryFileSystem(std::uint64_t max_read_size = kMaxReadSize) : max_read_size_(max_read_size) {}

  // Files and directories added or created from now on belong to `uid`
  // (and `gid`), and user() returns it. Default: root (0, 0).
  void set_user(uid_t uid, gid_t gid) {
    user_ = uid;
    group_ = gid;
  }
  // A file, owned by the current user; missing parent directories are added 0755.
  void add_file(const fs::path& path, std::string data, mode_t mode = 0644);
  // A directory with `mode` (replacing the mode of one already there), owned
  // by the current user; missing parents are added 0755.
  void add_directory(const fs::path& path, mode_t mode = 0755);
  void add_symlink(const fs::path& link, const fs::path& target);
  // A FIFO, device or socket: stat() shows neither a regular file nor a
  // directory and read_file() refuses it as RealFileSystem does.
  void add_special(const fs::path& path, Special kind);
  void add_fifo(const fs::path& path) { add_special(path, Special::kFifo); }
  // Gives the file or directory `path` (symlinks followed) to `uid`:`gid`.
  void set_owner(const fs::path& path, uid_t uid, gid_t gid);

  Result<std::string> read_file(const fs::path& path) const override;
  Result<FileContent> read_with_info(const fs::path& path, const ReadOptions& options) const override;
  Result<FileInfo> stat(const fs::path& path) const override;
  Result<FileInfo> lstat(const fs::path& path) const override;
  Result<fs::path> real_path(const fs::path& path) const override;
  uid_t user() const override { return user_; }
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
  // Calls of read_file() so far, from every thread.
  std::size_t read_count() const { return reads_.n.load(); }

 private:
  struct Directory {
    mode_t mode = 0755;
    uid_t uid = 0;
    gid_t gid = 0;
  };
  fs::path resolve(const fs::path& path) const;
  // The path with the symlinks of its directories resolved, not its own.
  fs::path resolve_parent(const fs::path& path) const;
  void add_parents(const fs::path& path);
  Entry new_entry(std::string data, mode_t mode) const { return Entry{std::move(data), mode, user_, group_}; }
  FileInfo info_of(const std::string& real) const;
  std::uint64_t max_read_size_;
  uid_t user_ = 0;
  gid_t group_ = 0;
  std::map<std::string, Entry> files_;
  std::map<std::string, Special> specials_;
  std::map<std::string, std::string> symlinks_;
  std::map<std::string, Directory> dirs_;
  std::vector<std::string> log_;
  // Atomic, since reads come from several threads, yet copyable with the
  // filesystem (tests build one and return it by value).
  struct ReadCounter {
    std::atomic<std::size_t> n{0};
    ReadCounter() = default;
    ReadCounter(const ReadCounter& other) : n(other.n.load()) {}
    ReadCounter& operator=(const ReadCounter& other) {
      n.store(other.n.load());
      return *this;
    }
  };
  std::set<std::string> locked_;
  mutable ReadCounter reads_;
};

}  // namespace ecert
