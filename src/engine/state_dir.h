// The state directory (--state-dir, $ECERTCTL_STATE_DIR, default
// /var/lib/ecertctl) holds the run lock, backups/ and the records ecertctl
// trusts: facts.jsonl (engine/facts_cache.h: what verifying keys, CSRs and
// certificates proved; a planted entry would let any certificate pass every
// check) and installed.json (engine/installed.h). So ecertctl uses it only
// when nobody but the user it runs as could have written there, and reads a
// record only when it is that user's own.
//
// The rules, path by path:
//  - The state directory: a directory owned by the user ecertctl runs as and
//    not writable by group or others, reached without any symlink. A
//    symlinked state directory (or one below a symlink) is refused, naming
//    its real path: a link is only as safe as every directory it passes
//    through, so the operator gives the real path instead. So is a path
//    with "..", which after a symlink names another directory than it reads.
//  - Every directory above it: owned by root or that user, and not writable
//    by group or others unless sticky (as /tmp is). Otherwise another user
//    could rename the state directory away and put their own in its place.
//  - lock and backups/, for the commands that use them (StateDirUse::kWrite):
//    a regular file and a directory, not symlinks, owned by the user and not
//    writable by group or others.
//  - The records: read only through read_state_file(), which opens them
//    without following a symlink and returns them only when they are regular
//    files owned by the user and not writable by group or others. Anything
//    else is ignored, as if there were no record (check_state_dir() warns),
//    and the next apply replaces it. Written only through write_state_file():
//    a new file, 0600, owned by the user, in place of whatever was there.
// Anything else breaks the run: it is refused with one message naming the
// path, what is wrong and the command that fixes it. That command is never
// `chown -R`: records someone else could write must not become trusted.
//
// Per command:
//  - apply and rotate (kWrite): refused as above. A missing state directory
//    is fine: RunLock (engine/lock.h) creates it 0700 and checks it again
//    before taking the lock, so a directory that appeared meanwhile is caught.
//  - plan, status and apply --dry-run (kRead): they only read, yet an unsafe
//    state directory is refused all the same (they would read records from
//    it). A missing one is fine; they never create it.
//  - validate and csr never read the state directory and do not check it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "util/fs.h"

namespace ecert {

enum class StateDirUse {
  kRead,   // plan, status, apply --dry-run: records are read if they are there
  kWrite,  // apply, rotate: the lock is taken and records and backups written
};

// The names of the entries that are not records.
inline constexpr const char* kLockName = "lock";
inline constexpr const char* kBackupsName = "backups";

// Checks `dir` (made absolute against the working directory), the
// directories above it and, for kWrite, its lock and backups/ as the header
// says. Returns ok, or kPermission whose message names the path, what is
// wrong and the command that fixes it. Every record that is there but will
// be ignored adds one line to `warnings` (when given).
Status check_state_dir(const FileSystem& fs, const fs::path& dir, StateDirUse use,
                       std::vector<std::string>* warnings = nullptr);

// The record at `path` (in the state directory): its bytes, or NotFound when
// nothing is there, or kPermission / kInvalid naming the path and why it is
// not trusted (a symlink, not a regular file, owned by another user than
// fs.user(), writable by group or others). Never follows a symlink at `path`.
Result<std::string> read_state_file(const FileSystem& fs, const fs::path& path);

// Writes the record `path` as a new file: mode 0600, owned by fs.user(),
// atomically replacing whatever is at `path` (a symlink there is replaced,
// not followed). REQUIRES: the state directory exists.
Status write_state_file(FileSystem& fs, const fs::path& path, std::string_view data);

}  // namespace ecert
