#include "engine/state_dir.h"

#include <pwd.h>
#include <sys/stat.h>

#include <cstdio>

#include "engine/apache_probe.h"
#include "engine/facts_cache.h"
#include "engine/installed.h"
#include "engine/notify.h"
#include "util/strings.h"

namespace ecert {
namespace {

// The records a run reads, so that it can say which it will ignore. A new
// record joins this list, and is read and written through
// read_state_file() and write_state_file().
std::vector<fs::path> records(const fs::path& dir) {
  return {facts_cache_path(dir), installed_state_path(dir), notify_state_path(dir), apache_probe_path(dir)};
}

// "root", or the number when the user has no name here.
std::string user_name(uid_t uid) {
  struct passwd pw;
  struct passwd* found = nullptr;
  char buf[4096];
  if (::getpwuid_r(uid, &pw, buf, sizeof buf, &found) == 0 && found) return pw.pw_name;
  return std::to_string(uid);
}

std::string owner_text(uid_t uid) {
  const std::string name = user_name(uid);
  return "uid " + std::to_string(uid) + (name == std::to_string(uid) ? "" : " (" + name + ")");
}

std::string mode_text(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

bool loose(mode_t mode) { return (mode & (S_IWGRP | S_IWOTH)) != 0; }

std::string writable_by(mode_t mode) {
  const bool group = mode & S_IWGRP, others = mode & S_IWOTH;
  return std::string("writable by ") + (group && others ? "group and others" : group ? "group" : "others") +
         " (mode " + mode_text(mode) + ")";
}

// What makes `info` not the user's own ("" when it is): a foreign owner, a
// mode that lets group or others write.
std::string faults(const FileInfo& info, uid_t user) {
  std::vector<std::string> out;
  if (info.uid != user) out.push_back("owned by " + owner_text(info.uid) + ", not " + user_name(user));
  if (loose(info.mode)) out.push_back(writable_by(info.mode));
  return join(out, " and ");
}

// The commands that make `info` at `path` the user's own.
std::string fix(const FileInfo& info, uid_t user, const fs::path& path) {
  std::vector<std::string> out;
  if (info.uid != user) out.push_back("chown " + shell_word(user_name(user)) + " " + shell_word(path.string()));
  if (loose(info.mode)) out.push_back("chmod go-w " + shell_word(path.string()));
  return join(out, " && ");
}

const char* kind_of(const FileInfo& info) {
  if (info.is_symlink) return "a symbolic link";
  if (info.is_directory) return "a directory";
  if (info.is_regular) return "a regular file";
  return "a special file (FIFO, device or socket)";
}

Status refuse(const fs::path& dir, const std::string& why) {
  return Status::permission("refusing to use the state directory " + dir.string() + ": " + why);
}

// `dir` absolute and without "." or a trailing slash (".." is refused before).
fs::path normal_absolute(const fs::path& dir) {
  fs::path p = fs::absolute(dir).lexically_normal();
  if (!p.has_filename() && p != p.root_path()) p = p.parent_path();
  return p;
}

// The deepest of `dir` and the directories above it that exists.
Result<fs::path> deepest_existing(const FileSystem& fs, const fs::path& dir) {
  for (fs::path p = dir;; p = p.parent_path()) {
    auto info = fs.lstat(p);
    if (info) return p;
    if (!info.status().is_not_found()) return info.status();
    if (p == p.root_path()) return p;
  }
}

// Refuses a path that passes through a symlink: its real path differs.
Status check_no_symlink(const FileSystem& fs, const fs::path& dir, const fs::path& existing) {
  auto real = fs.real_path(existing);
  if (real && *real == existing) return Status::ok();
  std::string where;
  if (real) {
    where = " (its real path is " + normal_absolute(*real / dir.lexically_relative(existing)).string() + ")";
  }
  return refuse(dir, "it is reached through a symbolic link" + where +
                         ", which is only as safe as every directory on its way; give --state-dir (or "
                         "ECERTCTL_STATE_DIR) the real path");
}

// Each directory above `dir`, from the root down to `existing` (the deepest
// that exists, `dir` itself excluded), must be root's or the user's and not
// writable by group or others unless sticky.
Status check_parents(const FileSystem& fs, const fs::path& dir, const fs::path& existing) {
  std::vector<fs::path> above;
  for (fs::path p = existing == dir ? dir.parent_path() : existing;; p = p.parent_path()) {
    above.push_back(p);
    if (p == p.root_path()) break;
  }
  const uid_t user = fs.user();
  for (auto it = above.rbegin(); it != above.rend(); ++it) {
    auto info = fs.stat(*it);
    if (!info) return refuse(dir, info.status().message());
    const bool foreign = info->uid != 0 && info->uid != user;
    const bool open = loose(info->mode) && !(info->mode & S_ISVTX);
    if (!foreign && !open) continue;
    FileInfo wrong = *info;
    if (!open) wrong.mode &= ~(S_IWGRP | S_IWOTH);  // only what is wrong goes into the message and the fix
    if (!foreign) wrong.uid = user;
    return refuse(dir, "the directory above it, " + it->string() + ", is " + faults(wrong, user) +
                           ", so another user could put a directory of their own in its place; fix it with: " +
                           fix(wrong, user, *it) + " (or choose another --state-dir)");
  }
  return Status::ok();
}

// The state directory itself, once it exists.
Status check_itself(const FileSystem& fs, const fs::path& dir) {
  auto info = fs.lstat(dir);
  if (!info) return refuse(dir, info.status().message());
  if (!info->is_directory)
    return refuse(dir, std::string("it is ") + kind_of(*info) + ", not a directory; remove it or choose another "
                                                                 "--state-dir");
  const std::string wrong = faults(*info, fs.user());
  if (wrong.empty()) return Status::ok();
  return refuse(dir, "it is " + wrong + ", so another user could plant the records it trusts; fix it with: " +
                         fix(*info, fs.user(), dir));
}

// The lock file and backups/, which apply and rotate use: the user's own
// file and directory, or refused.
Status check_entry(const FileSystem& fs, const fs::path& dir, const char* name, bool want_directory) {
  const fs::path path = dir / name;
  auto info = fs.lstat(path);
  if (!info) return info.status().is_not_found() ? Status::ok() : refuse(dir, info.status().message());
  if (want_directory ? !info->is_directory : !info->is_regular)
    return refuse(dir, "its " + std::string(name) + " is " + kind_of(*info) + ", not " +
                           (want_directory ? "a directory" : "a regular file") +
                           "; move it away (the next run creates a new one): mv " + shell_word(path.string()) + " " +
                           shell_word(path.string() + ".suspect"));
  const std::string wrong = faults(*info, fs.user());
  if (wrong.empty()) return Status::ok();
  return refuse(dir, "its " + std::string(name) + " " + path.string() + " is " + wrong + "; fix it with: " +
                         fix(*info, fs.user(), path));
}

// Why the record at `path` is not trusted, or "" when it is.
std::string distrust(const FileInfo& info, uid_t user) {
  if (!info.is_regular) return std::string("it is ") + kind_of(info) + ", not a regular file";
  const std::string wrong = faults(info, user);
  return wrong.empty() ? "" : "it is " + wrong;
}

void warn_about_records(const FileSystem& fs, const fs::path& dir, std::vector<std::string>& warnings) {
  for (const fs::path& record : records(dir)) {
    auto info = fs.lstat(record);
    if (!info) continue;  // none yet: nothing to ignore
    const std::string why = distrust(*info, fs.user());
    if (!why.empty())
      warnings.push_back("ignoring " + record.string() + ": " + why +
                         "; ecertctl trusts only records that are its own (remove it: the next apply writes a new "
                         "one)");
  }
}

}  // namespace

Status check_state_dir(const FileSystem& fs, const fs::path& dir_in, StateDirUse use,
                       std::vector<std::string>* warnings) {
  // The kernel resolves ".." after symlinks, lexically_normal() before: the
  // directory checked could be another than the one used.
  for (const auto& part : dir_in)
    if (part == "..")
      return refuse(dir_in, "its path goes up with '..', which names another directory once a symlink is on the "
                            "way; give --state-dir (or ECERTCTL_STATE_DIR) without '..'");
  const fs::path dir = normal_absolute(dir_in);
  auto existing = deepest_existing(fs, dir);
  if (!existing) return refuse(dir, existing.status().message());
  if (Status s = check_no_symlink(fs, dir, *existing); !s) return s;
  if (Status s = check_parents(fs, dir, *existing); !s) return s;
  if (*existing != dir) return Status::ok();  // not there yet: apply creates it 0700, plan reads nothing
  if (Status s = check_itself(fs, dir); !s) return s;
  if (use == StateDirUse::kWrite) {
    if (Status s = check_entry(fs, dir, kLockName, false); !s) return s;
    if (Status s = check_entry(fs, dir, kBackupsName, true); !s) return s;
  }
  if (warnings) warn_about_records(fs, dir, *warnings);
  return Status::ok();
}

Result<std::string> read_state_file(const FileSystem& fs, const fs::path& path) {
  ReadOptions options;
  options.no_follow = true;
  auto content = fs.read_with_info(path, options);
  if (!content) return content.status();
  if (const std::string why = distrust(content->info, fs.user()); !why.empty())
    return Status::permission("not reading " + path.string() + ": " + why);
  return std::move(content->data);
}

Status write_state_file(FileSystem& fs, const fs::path& path, std::string_view data) {
  WriteOptions options;
  options.new_file_mode = 0600;
  options.replace_with_new_file = true;
  return fs.write_atomic(path, data, options);
}

}  // namespace ecert
