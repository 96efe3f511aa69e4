#include "util/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace ecert {
namespace {

FileInfo to_info(const struct stat& st) {
  FileInfo info;
  info.is_regular = S_ISREG(st.st_mode);
  info.is_directory = S_ISDIR(st.st_mode);
  info.uid = st.st_uid;
  info.gid = st.st_gid;
  info.mode = st.st_mode & 07777;
  info.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  info.size = static_cast<std::uint64_t>(st.st_size);
  return info;
}

Status fsync_directory(const fs::path& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::from_errno(errno, "cannot open directory", dir.string());
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return Status::from_errno(err, "cannot sync directory", dir.string());
  return Status::ok();
}

// A directory another user could have planted a symlink in.
bool writable_by_others(const fs::path& dir) {
  struct stat st;
  if (::stat(dir.empty() ? "." : dir.c_str(), &st) != 0) return false;
  if (st.st_uid != 0 && st.st_uid != ::geteuid()) return true;
  if (st.st_mode & S_IWOTH) return true;
  if ((st.st_mode & S_IWGRP) && st.st_gid != 0 && st.st_gid != ::getegid()) return true;
  return false;
}

Status write_all(int fd, std::string_view data, const fs::path& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::from_errno(errno, "cannot write", path.string());
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return Status::ok();
}

// What a path holds when it is not a regular file, in the operator's words.
const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

Status not_regular(const fs::path& path, const char* kind) {
  return Status::invalid("cannot read " + path.string() + ": it is " + kind +
                         ", not a regular file; put the file itself there or correct the path");
}

std::string format_size(std::uint64_t bytes) {
  if (bytes % (1 << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  return std::to_string(bytes) + " bytes";
}

Status too_large(const fs::path& path, std::uint64_t max) {
  return Status::invalid("cannot read " + path.string() + ": it is larger than " + format_size(max) +
                         ", the most ecertctl reads from one file; check that the path names the file meant");
}

Status refused_symlink(const fs::path& path) {
  return Status::permission("cannot read " + path.string() +
                            ": it is a symbolic link, which ecertctl does not follow here; "
                            "put the file itself there or remove the link");
}

struct OpenFile {
  int fd;
  struct stat st;  // of the open descriptor
};

// Opens a regular file of at most `max` bytes for reading, or says what is
// there instead. O_NONBLOCK makes opening a FIFO return at once instead of
// waiting for a writer (forever, while apply holds its lock); O_NOCTTY keeps
// a terminal device from becoming ours. Blocking reads are restored after
// (F_SETFL 0: no other status flag was set). With `no_follow`, a symlink at
// `path` itself fails the open (O_NOFOLLOW: ELOOP) and is refused.
Result<OpenFile> open_regular_file(const fs::path& path, std::uint64_t max, bool no_follow = false) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | (no_follow ? O_NOFOLLOW : 0));
  if (fd < 0) {
    const int err = errno;
    struct stat st;  // a socket, or a device without a driver, cannot be opened at all
    if (no_follow && err == ELOOP && ::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode))
      return refused_symlink(path);
    if (err != ENOENT && ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
      return not_regular(path, kind_of(st.st_mode));
    return Status::from_errno(err, "cannot read", path.string());
  }
  struct stat st;
  Status refused;
  if (::fstat(fd, &st) != 0) refused = Status::from_errno(errno, "cannot read", path.string());
  else if (!S_ISREG(st.st_mode)) refused = not_regular(path, kind_of(st.st_mode));
  else if (static_cast<std::uint64_t>(st.st_size) > max) refused = too_large(path, max);
  else if (::fcntl(fd, F_SETFL, 0) != 0) refused = Status::from_errno(errno, "cannot read", path.string());
  if (!refused) {
    ::close(fd);
    return refused;
  }
  return OpenFile{fd, st};
}

// Reads to the end into `out`; a file that grows past `max` meanwhile is refused.
Status read_all(const OpenFile& file, const fs::path& path, std::uint64_t max, std::string& out) {
  const int fd = file.fd;
  out.reserve(static_cast<std::size_t>(file.st.st_size));
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::from_errno(errno, "cannot read", path.string());
    }
    if (n == 0) return Status::ok();
    if (out.size() + static_cast<std::uint64_t>(n) > max) return too_large(path, max);
    out.append(buf, static_cast<std::size_t>(n));
  }
}

}  // namespace

Result<std::string> RealFileSystem::read_file(const fs::path& path) const {
  auto file = open_regular_file(path, max_read_size_);
  if (!file) return file.status();
  std::string out;
  Status st = read_all(*file, path, max_read_size_, out);
  ::close(file->fd);
  if (!st) return st;
  return out;
}

Result<FileContent> RealFileSystem::read_with_info(const fs::path& path, const ReadOptions& options) const {
  auto file = open_regular_file(path, max_read_size_, options.no_follow);
  if (!file) return file.status();
  FileContent out{{}, to_info(file->st)};
  Status st = read_all(*file, path, max_read_size_, out.data);
  ::close(file->fd);
  if (!st) return st;
  return out;
}

Result<FileInfo> RealFileSystem::stat(const fs::path& path) const {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Status::from_errno(errno, "cannot stat", path.string());
  return to_info(st);
}

Result<FileInfo> RealFileSystem::lstat(const fs::path& path) const {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return Status::from_errno(errno, "cannot stat", path.string());
  FileInfo info = to_info(st);
  info.is_symlink = S_ISLNK(st.st_mode);
  return info;
}

Result<fs::path> RealFileSystem::real_path(const fs::path& path) const {
  char* real = ::realpath(path.c_str(), nullptr);
  if (!real) return Status::from_errno(errno, "cannot resolve", path.string());
  fs::path out(real);
  std::free(real);
  return out;
}

uid_t RealFileSystem::user() const { return ::geteuid(); }

Result<std::vector<std::string>> RealFileSystem::list_dir(const fs::path& dir) const {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return Status::from_errno(errno, "cannot list directory", dir.string());
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

Result<fs::path> RealFileSystem::write_target(const fs::path& path) const {
  fs::path current = path;
  for (int hops = 0; hops < 40; ++hops) {
    struct stat st;
    if (::lstat(current.c_str(), &st) != 0) {
      if (errno == ENOENT) return current;
      return Status::from_errno(errno, "cannot stat", current.string());
    }
    if (!S_ISLNK(st.st_mode)) return current;
    char buf[PATH_MAX];
    ssize_t n = ::readlink(current.c_str(), buf, sizeof buf - 1);
    if (n < 0) return Status::from_errno(errno, "cannot read symlink", current.string());
    fs::path target(std::string(buf, static_cast<std::size_t>(n)));
    current = target.is_absolute() ? target : (current.parent_path() / target).lexically_normal();
  }
  return Status::invalid("too many levels of symbolic links at " + path.string());
}

Status RealFileSystem::write_atomic(const fs::path& path, std::string_view data,
                                    const WriteOptions& options) {
  fs::path real = path;  // replace_with_new_file: the path itself, whatever is there
  mode_t mode = options.new_file_mode;
  struct stat old;
  bool keep_owner = false;
  if (!options.replace_with_new_file) {
    struct stat lst;
    if (options.refuse_untrusted_symlinks && ::lstat(path.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode) &&
        writable_by_others(path.parent_path()))
      return Status::permission("refusing to write through symlink " + path.string() +
                                ": its directory is writable by other users; replace the link "
                                "with the real path in the manifest");
    auto target = write_target(path);
    if (!target) return target.status();
    real = *target;
    if (::stat(real.c_str(), &old) == 0) {
      if (!S_ISREG(old.st_mode))
        return Status::invalid("cannot replace " + real.string() + ": not a regular file");
      keep_owner = true;
      mode = old.st_mode & 07777;
    }
  }

  auto tmp = write_temp(real, data, mode, keep_owner ? &old : nullptr);
  if (!tmp) return tmp.status();
  int rename_err = step("rename", real);
  if (rename_err == 0 && ::rename(tmp->c_str(), real.c_str()) != 0) rename_err = errno;
  if (rename_err) {
    ::unlink(tmp->c_str());
    return Status::from_errno(rename_err, "cannot rename into place", real.string());
  }
  if (int err = step("sync-dir", real)) return Status::from_errno(err, "cannot sync directory of", real.string());
  return fsync_directory(real.parent_path());
}

Result<fs::path> RealFileSystem::write_temp(const fs::path& target, std::string_view data, mode_t mode,
                                            const struct stat* owner) const {
  std::string tmpl = (target.parent_path() / ("." + target.filename().string() + ".ecertctl-tmp.XXXXXX")).string();
  if (int err = step("create-temp", target))
    return Status::from_errno(err, "cannot create a temporary file beside", target.string());
  int fd = ::mkostemp(tmpl.data(), O_CLOEXEC);  // created 0600: never readable by others
  if (fd < 0) return Status::from_errno(errno, "cannot create a temporary file beside", target.string());
  const fs::path tmp = tmpl;
  auto fail = [&](Status s) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return s;
  };
  if (::fchmod(fd, mode) != 0) return fail(Status::from_errno(errno, "cannot set mode of", target.string()));
  if (int err = step("write-temp", target)) return fail(Status::from_errno(err, "cannot write", target.string()));
  if (Status s = write_all(fd, data, target); !s) return fail(s);
  if (owner && ::fchown(fd, owner->st_uid, owner->st_gid) != 0 && errno != EPERM)
    return fail(Status::from_errno(errno, "cannot set owner of", target.string()));
  if (owner && ::fchmod(fd, mode) != 0)  // a chown clears set-id bits: set the mode again
    return fail(Status::from_errno(errno, "cannot set mode of", target.string()));
  if (::fsync(fd) != 0) return fail(Status::from_errno(errno, "cannot sync", target.string()));
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Status::from_errno(err, "cannot close", target.string());
  }
  return tmp;
}

Status RealFileSystem::create_exclusive(const fs::path& path, std::string_view data, mode_t mode) {
  auto tmp = write_temp(path, data, mode, nullptr);
  if (!tmp) return tmp.status();
  // link() fails with EEXIST instead of replacing: the no-overwrite guarantee
  // holds even against a file that appeared after we looked.
  int link_err = step("link", path);
  if (link_err == 0 && ::link(tmp->c_str(), path.c_str()) != 0) link_err = errno;
  ::unlink(tmp->c_str());
  if (link_err == EEXIST) return Status::conflict(path.string() + " appeared meanwhile; it was left untouched");
  if (link_err) return Status::from_errno(link_err, "cannot create", path.string());
  return fsync_directory(path.parent_path());
}

Status RealFileSystem::create_directories(const fs::path& dir, mode_t mode) {
  if (dir.empty()) return Status::ok();
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Status::ok();
    return Status::invalid("cannot create directory " + dir.string() + ": a file is in the way");
  }
  if (dir.has_parent_path() && dir.parent_path() != dir)
    if (Status s = create_directories(dir.parent_path(), mode); !s) return s;
  if (int err = step("mkdir", dir)) return Status::from_errno(err, "cannot create directory", dir.string());
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST)
    return Status::from_errno(errno, "cannot create directory", dir.string());
  return fsync_directory(dir.parent_path());
}

Status RealFileSystem::rename(const fs::path& from, const fs::path& to) {
  if (int err = step("rename", to))
    return Status::from_errno(err, "cannot rename " + from.string() + " to", to.string());
  if (::rename(from.c_str(), to.c_str()) != 0)
    return Status::from_errno(errno, "cannot rename " + from.string() + " to", to.string());
  if (Status s = fsync_directory(to.parent_path()); !s) return s;
  if (from.parent_path() != to.parent_path()) return fsync_directory(from.parent_path());
  return Status::ok();
}

Status RealFileSystem::remove(const fs::path& path) {
  if (int err = step("remove", path)) return Status::from_errno(err, "cannot remove", path.string());
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return Status::from_errno(errno, "cannot remove", path.string());
  return Status::ok();
}

namespace {

// Who holds the flock on `fd`'s file: from /proc/locks, so that taking the
// lock never has to write anything (a converged apply touches no file).
std::string lock_holder(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return "unknown holder";
  char want[64];
  std::snprintf(want, sizeof want, ":%lu", static_cast<unsigned long>(st.st_ino));
  std::ifstream locks("/proc/locks");
  std::string line;
  while (std::getline(locks, line)) {
    std::istringstream in(line);
    std::string id, type, mode, access, pid, dev_inode;
    in >> id >> type;
    if (type == "->") in >> type;  // a waiter: "1: -> FLOCK ..."
    in >> mode >> access >> pid >> dev_inode;
    if (type != "FLOCK" || dev_inode.size() < std::strlen(want) ||
        dev_inode.compare(dev_inode.size() - std::strlen(want), std::string::npos, want) != 0 ||
        line.find("->") != std::string::npos)
      continue;
    std::ifstream cmdline("/proc/" + pid + "/cmdline");
    std::string args, arg;
    while (std::getline(cmdline, arg, '\0')) args += (args.empty() ? "" : " ") + arg;
    return "pid " + pid + (args.empty() ? "" : ": " + args);
  }
  return "unknown holder";
}

class FlockLock : public FileLock {
 public:
  explicit FlockLock(int fd) : fd_(fd) {}
  ~FlockLock() override { ::close(fd_); }  // closing releases the flock

 private:
  int fd_;
};

}  // namespace

Result<std::unique_ptr<FileLock>> RealFileSystem::lock(const fs::path& path, std::chrono::seconds wait) {
  // O_NONBLOCK: a FIFO planted at the path must not hold the run in open().
  int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
  if (fd < 0) return Status::from_errno(errno, "cannot open lock file", path.string());
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return Status::from_errno(err, "cannot open lock file", path.string());
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::invalid("cannot use the lock file " + path.string() + ": it is " + kind_of(st.st_mode) +
                           ", not a regular file; remove it (the next run creates it)");
  }
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) {
      int err = errno;
      ::close(fd);
      return Status::from_errno(err, "cannot lock", path.string());
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      std::string who = lock_holder(fd);
      ::close(fd);
      return Status::conflict(who);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return std::unique_ptr<FileLock>(std::make_unique<FlockLock>(fd));
}

// ---- MemoryFileSystem ----

namespace {

class MemoryLock : public FileLock {
 public:
  MemoryLock(std::set<std::string>& held, std::string path) : held_(held), path_(std::move(path)) {}
  ~MemoryLock() override { held_.erase(path_); }

 private:
  std::set<std::string>& held_;
  std::string path_;
};

}  // namespace

Result<std::unique_ptr<FileLock>> MemoryFileSystem::lock(const fs::path& path, std::chrono::seconds) {
  const std::string p = path.lexically_normal().string();
  if (!dirs_.count(fs::path(p).parent_path().string()))
    return Status::not_found("cannot open lock file " + p + ": No such file or directory");
  if (symlinks_.count(p)) return Status::from_errno(ELOOP, "cannot open lock file", p);  // O_NOFOLLOW
  if (specials_.count(p) || dirs_.count(p))
    return Status::invalid("cannot use the lock file " + p + ": it is not a regular file; remove it "
                           "(the next run creates it)");
  if (!locked_.insert(p).second) return Status::conflict("held by another lock in this process");
  if (!files_.count(p)) files_[p] = new_entry("", 0600);
  log_.push_back("lock " + p);
  return std::unique_ptr<FileLock>(std::make_unique<MemoryLock>(locked_, p));
}

void MemoryFileSystem::add_parents(const fs::path& path) {
  // Directories nobody asked for are as on a fresh system: root's, 0755.
  for (fs::path p = path.lexically_normal().parent_path(); !p.empty() && p != p.parent_path(); p = p.parent_path())
    dirs_.emplace(p.string(), Directory{});
  if (path.is_absolute()) dirs_.emplace("/", Directory{});
}

void MemoryFileSystem::add_file(const fs::path& path, std::string data, mode_t mode) {
  files_[path.lexically_normal().string()] = new_entry(std::move(data), mode);
  add_parents(path);
}

void MemoryFileSystem::add_directory(const fs::path& path, mode_t mode) {
  dirs_[path.lexically_normal().string()] = Directory{mode, user_, group_};
  add_parents(path);
}

void MemoryFileSystem::add_symlink(const fs::path& link, const fs::path& target) {
  symlinks_[link.lexically_normal().string()] = target.string();
}

void MemoryFileSystem::add_special(const fs::path& path, Special kind) {
  specials_[path.lexically_normal().string()] = kind;
  add_parents(path);
}

void MemoryFileSystem::set_owner(const fs::path& path, uid_t uid, gid_t gid) {
  const std::string real = resolve(path).string();
  if (auto it = files_.find(real); it != files_.end()) {
    it->second.uid = uid;
    it->second.gid = gid;
  } else if (auto dir = dirs_.find(real); dir != dirs_.end()) {
    dir->second.uid = uid;
    dir->second.gid = gid;
  }
}

namespace {

mode_t special_mode(MemoryFileSystem::Special kind) {
  switch (kind) {
    case MemoryFileSystem::Special::kFifo: return S_IFIFO;
    case MemoryFileSystem::Special::kCharDevice: return S_IFCHR;
    case MemoryFileSystem::Special::kBlockDevice: return S_IFBLK;
    case MemoryFileSystem::Special::kSocket: return S_IFSOCK;
  }
  return 0;
}

}  // namespace

fs::path MemoryFileSystem::resolve(const fs::path& path) const {
  // Symlinks in any component, as the kernel resolves them.
  fs::path current = path.lexically_normal();
  for (int hops = 0; hops < 40; ++hops) {
    bool replaced = false;
    fs::path prefix;
    for (auto it = current.begin(); it != current.end() && !replaced; ++it) {
      prefix /= *it;
      auto link = symlinks_.find(prefix.string());
      if (link == symlinks_.end()) continue;
      fs::path target(link->second);
      fs::path resolved = target.is_absolute() ? target : prefix.parent_path() / target;
      for (auto rest = std::next(it); rest != current.end(); ++rest) resolved /= *rest;
      current = resolved.lexically_normal();
      replaced = true;
    }
    if (!replaced) return current;
  }
  return current;
}

fs::path MemoryFileSystem::resolve_parent(const fs::path& path) const {
  const fs::path normal = path.lexically_normal();
  if (!normal.has_filename() || normal == normal.parent_path()) return resolve(normal);
  return (resolve(normal.parent_path()) / normal.filename()).lexically_normal();
}

Result<std::string> MemoryFileSystem::read_file(const fs::path& path) const {
  auto content = read_with_info(path, ReadOptions{});
  if (!content) return content.status();
  return std::move(content->data);
}

Result<FileContent> MemoryFileSystem::read_with_info(const fs::path& path, const ReadOptions& options) const {
  ++reads_.n;
  if (options.no_follow && symlinks_.count(resolve_parent(path).string())) return refused_symlink(path);
  const std::string real = resolve(path).string();
  auto it = files_.find(real);
  if (it == files_.end()) {
    if (auto special = specials_.find(real); special != specials_.end())
      return not_regular(path, kind_of(special_mode(special->second)));
    if (dirs_.count(real)) return not_regular(path, kind_of(S_IFDIR));
    return Status::not_found("cannot read " + path.string() + ": No such file or directory");
  }
  if (it->second.data.size() > max_read_size_) return too_large(path, max_read_size_);
  return FileContent{it->second.data, info_of(real)};
}

FileInfo MemoryFileSystem::info_of(const std::string& real) const {
  FileInfo info;
  if (auto it = files_.find(real); it != files_.end()) {
    info.is_regular = true;
    info.mode = it->second.mode;
    info.uid = it->second.uid;
    info.gid = it->second.gid;
    info.size = it->second.data.size();
  } else if (auto dir = dirs_.find(real); dir != dirs_.end()) {
    info.is_directory = true;
    info.mode = dir->second.mode;
    info.uid = dir->second.uid;
    info.gid = dir->second.gid;
  } else {
    info.mode = 0644;  // a special file (callers check that one is there)
  }
  return info;
}

Result<FileInfo> MemoryFileSystem::stat(const fs::path& path) const {
  const std::string real = resolve(path).string();
  if (!files_.count(real) && !dirs_.count(real) && !specials_.count(real))
    return Status::not_found("cannot stat " + path.string() + ": No such file or directory");
  return info_of(real);
}

Result<FileInfo> MemoryFileSystem::lstat(const fs::path& path) const {
  const std::string here = resolve_parent(path).string();
  if (symlinks_.count(here)) {
    FileInfo info;
    info.is_symlink = true;
    info.mode = 0777;
    return info;
  }
  if (!files_.count(here) && !dirs_.count(here) && !specials_.count(here))
    return Status::not_found("cannot stat " + path.string() + ": No such file or directory");
  return info_of(here);
}

Result<fs::path> MemoryFileSystem::real_path(const fs::path& path) const {
  const fs::path real = resolve(path);
  const std::string r = real.string();
  if (!files_.count(r) && !dirs_.count(r) && !specials_.count(r))
    return Status::not_found("cannot resolve " + path.string() + ": No such file or directory");
  return real;
}

Result<std::vector<std::string>> MemoryFileSystem::list_dir(const fs::path& dir) const {
  fs::path real = resolve(dir);
  if (!dirs_.count(real.string()))
    return Status::not_found("cannot list directory " + dir.string() + ": No such file or directory");
  std::vector<std::string> names;
  auto collect = [&](const std::string& p) {
    fs::path fp(p);
    // "/" is its own parent: never list a directory inside itself.
    if (fp != real && fp.parent_path() == real) names.push_back(fp.filename().string());
  };
  for (const auto& [p, e] : files_) collect(p);
  for (const auto& [p, k] : specials_) collect(p);
  for (const auto& [p, t] : symlinks_) collect(p);
  for (const auto& [p, m] : dirs_) collect(p);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

Result<fs::path> MemoryFileSystem::write_target(const fs::path& path) const { return resolve(path); }

Status MemoryFileSystem::write_atomic(const fs::path& path, std::string_view data,
                                      const WriteOptions& options) {
  // A new file replaces whatever is at the path itself (rename(2) replaces a
  // symlink or a FIFO, not what a link points to).
  const fs::path real = options.replace_with_new_file ? resolve_parent(path) : resolve(path);
  if (!dirs_.count(real.parent_path().string()))
    return Status::not_found("cannot create a temporary file beside " + real.string() +
                             ": No such file or directory");
  if (dirs_.count(real.string()) || (specials_.count(real.string()) && !options.replace_with_new_file))
    return Status::invalid("cannot replace " + real.string() + ": not a regular file");
  Entry entry = new_entry(std::string(data), options.new_file_mode);
  auto it = files_.find(real.string());
  if (it != files_.end() && !options.replace_with_new_file) {  // keeps owner and mode
    entry.mode = it->second.mode;
    entry.uid = it->second.uid;
    entry.gid = it->second.gid;
  }
  symlinks_.erase(real.string());
  specials_.erase(real.string());
  files_[real.string()] = std::move(entry);
  log_.push_back("write " + real.string());
  return Status::ok();
}

Status MemoryFileSystem::create_exclusive(const fs::path& path, std::string_view data, mode_t mode) {
  fs::path real = path.lexically_normal();
  if (files_.count(real.string()) || symlinks_.count(real.string()) || specials_.count(real.string()))
    return Status::conflict(path.string() + " appeared meanwhile; it was left untouched");
  if (!dirs_.count(real.parent_path().string()))
    return Status::not_found("cannot create " + path.string() + ": No such file or directory");
  files_[real.string()] = new_entry(std::string(data), mode);
  log_.push_back("create " + real.string());
  return Status::ok();
}

Status MemoryFileSystem::create_directories(const fs::path& dir, mode_t mode) {
  for (fs::path p = dir.lexically_normal(); !p.empty() && p != p.parent_path(); p = p.parent_path())
    if (dirs_.emplace(p.string(), Directory{mode, user_, group_}).second) log_.push_back("mkdir " + p.string());
  if (dir.is_absolute()) dirs_.emplace("/", Directory{});
  return Status::ok();
}

Status MemoryFileSystem::rename(const fs::path& from, const fs::path& to) {
  auto it = files_.find(from.lexically_normal().string());
  if (it == files_.end()) return Status::not_found("cannot rename " + from.string() + ": No such file or directory");
  files_[to.lexically_normal().string()] = it->second;
  files_.erase(it);
  log_.push_back("rename " + from.string() + " " + to.string());
  return Status::ok();
}

Status MemoryFileSystem::remove(const fs::path& path) {
  files_.erase(path.lexically_normal().string());
  specials_.erase(path.lexically_normal().string());
  symlinks_.erase(path.lexically_normal().string());  // unlink(2) removes a link, not its target
  log_.push_back("remove " + path.string());
  return Status::ok();
}

}  // namespace ecert
