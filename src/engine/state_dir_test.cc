// The state directory is used only when nobody but the running user could
// have written it, and its records are read only when they are that user's
// own (engine/state_dir.h). In memory: owners, modes and symlinks as a real
// disk has them, every message compared whole.
#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <vector>

#include "engine/lock.h"
#include "engine/state_dir.h"

namespace ecert {
namespace {

constexpr uid_t kOther = 4242;  // a user without a name on the test machine
const fs::path kDir = "/var/lib/ecertctl";

// /var/lib/ecertctl as the package leaves it (root's, 0700), after a run.
MemoryFileSystem safe_state() {
  MemoryFileSystem fs;
  fs.add_directory(kDir, 0700);
  fs.add_file(kDir / "facts.jsonl", "facts", 0600);
  fs.add_file(kDir / "installed.json", "{}", 0600);
  fs.add_file(kDir / "lock", "", 0600);
  return fs;
}

Status check(const MemoryFileSystem& fs, StateDirUse use = StateDirUse::kWrite, const fs::path& dir = kDir,
             std::vector<std::string>* warnings = nullptr) {
  return check_state_dir(fs, dir, use, warnings);
}

const std::string kRefused = "refusing to use the state directory /var/lib/ecertctl: ";

}  // namespace

TEST_CASE("state dir: root's and 0700 (or 0755) is used, for reading and for writing, without a warning") {
  for (mode_t mode : {0700, 0755, 0750, 01700}) {
    MemoryFileSystem fs = safe_state();
    fs.add_directory(kDir, mode);
    fs.add_directory(kDir / "backups", 0700);
    std::vector<std::string> warnings;
    CHECK(check(fs, StateDirUse::kRead, kDir, &warnings));
    CHECK(check(fs, StateDirUse::kWrite, kDir, &warnings));
    CHECK(warnings.empty());
  }
  // A trailing slash and ".": the same directory.
  MemoryFileSystem fs = safe_state();
  CHECK(check(fs, StateDirUse::kWrite, "/var/lib/ecertctl/"));
  CHECK(check(fs, StateDirUse::kWrite, "/var/./lib/ecertctl"));
  CHECK(fs.log().empty());  // checking writes nothing
}

TEST_CASE("state dir: a path with '..' is refused: after a symlink it names another directory") {
  // /var/lib/link/../ecertctl is /srv/ecertctl to the kernel when link -> /srv/x, /var/lib/ecertctl lexically.
  MemoryFileSystem fs = safe_state();
  fs.add_directory("/srv/x", 0755);
  fs.add_symlink("/var/lib/link", "/srv/x");
  CHECK(check(fs, StateDirUse::kRead, "/var/lib/link/../ecertctl").message() ==
        "refusing to use the state directory /var/lib/link/../ecertctl: its path goes up with '..', which names "
        "another directory once a symlink is on the way; give --state-dir (or ECERTCTL_STATE_DIR) without '..'");
}

TEST_CASE("state dir: a missing one is fine (apply creates it), its parents are still checked") {
  MemoryFileSystem fs;
  fs.add_directory("/var/lib", 0755);
  CHECK(check(fs, StateDirUse::kRead));
  CHECK(check(fs, StateDirUse::kWrite));
  CHECK(check(fs, StateDirUse::kWrite, "/var/lib/a/b/c"));
  CHECK(fs.log().empty());
  fs.add_directory("/var/lib", 0777);
  CHECK(check(fs, StateDirUse::kRead).message() ==
        kRefused + "the directory above it, /var/lib, is writable by group and others (mode 0777), so another user "
                   "could put a directory of their own in its place; fix it with: chmod go-w /var/lib (or choose "
                   "another --state-dir)");
}

TEST_CASE("state dir: owned by another user, or writable by group or others, is refused with the fix") {
  MemoryFileSystem fs = safe_state();
  fs.set_owner(kDir, kOther, kOther);
  Status s = check(fs, StateDirUse::kRead);
  CHECK(s.code() == Status::Code::kPermission);
  CHECK(s.message() == kRefused + "it is owned by uid 4242, not root, so another user could plant the records it "
                                  "trusts; fix it with: chown root /var/lib/ecertctl");
  CHECK(check(fs, StateDirUse::kWrite).message() == s.message());

  fs = safe_state();
  fs.add_directory(kDir, 0777);
  CHECK(check(fs).message() == kRefused + "it is writable by group and others (mode 0777), so another user could "
                                          "plant the records it trusts; fix it with: chmod go-w /var/lib/ecertctl");
  fs.add_directory(kDir, 0770);
  CHECK(check(fs).message().find("it is writable by group (mode 0770)") != std::string::npos);
  fs.add_directory(kDir, 0702);
  fs.set_owner(kDir, kOther, 0);
  CHECK(check(fs, StateDirUse::kRead).message() ==
        kRefused + "it is owned by uid 4242, not root and writable by others (mode 0702), so another user could "
                   "plant the records it trusts; fix it with: chown root /var/lib/ecertctl && chmod go-w "
                   "/var/lib/ecertctl");
}

TEST_CASE("state dir: the user it must belong to is the one running, not root as such") {
  MemoryFileSystem fs;
  fs.add_directory("/home/ops", 0755);
  fs.set_owner("/home/ops", 4243, 4243);
  fs.set_user(4243, 4243);
  fs.add_directory("/home/ops/state", 0700);
  CHECK(check(fs, StateDirUse::kWrite, "/home/ops/state"));
  fs.set_owner("/home/ops/state", 0, 0);
  CHECK(check(fs, StateDirUse::kWrite, "/home/ops/state").message() ==
        "refusing to use the state directory /home/ops/state: it is owned by uid 0 (root), not 4243, so another "
        "user could plant the records it trusts; fix it with: chown 4243 /home/ops/state");
}

TEST_CASE("state dir: a symlinked one, or one below a symlink, is refused naming the real path") {
  MemoryFileSystem fs;
  fs.add_directory("/srv/state", 0700);
  fs.add_symlink(kDir, "/srv/state");
  CHECK(check(fs, StateDirUse::kRead).message() ==
        kRefused + "it is reached through a symbolic link (its real path is /srv/state), which is only as safe as "
                   "every directory on its way; give --state-dir (or ECERTCTL_STATE_DIR) the real path");
  // A link to nowhere: refused too (apply would create the directory where it points).
  MemoryFileSystem dangling;
  dangling.add_directory("/var/lib", 0755);
  dangling.add_symlink(kDir, "/tmp/elsewhere");
  CHECK(check(dangling, StateDirUse::kWrite).message().find("it is reached through a symbolic link") !=
        std::string::npos);
  // A symlinked parent, the state directory not there yet.
  MemoryFileSystem parent;
  parent.add_directory("/data/lib", 0755);
  parent.add_symlink("/var/lib", "/data/lib");
  CHECK(check(parent, StateDirUse::kWrite).message().find("(its real path is /data/lib/ecertctl)") !=
        std::string::npos);
}

TEST_CASE("state dir: a parent other users may write is refused, unless it is sticky like /tmp") {
  MemoryFileSystem fs;
  fs.add_directory("/srv/shared", 0777);
  fs.add_directory("/srv/shared/state", 0700);
  CHECK(check(fs, StateDirUse::kWrite, "/srv/shared/state").message() ==
        "refusing to use the state directory /srv/shared/state: the directory above it, /srv/shared, is writable "
        "by group and others (mode 0777), so another user could put a directory of their own in its place; fix "
        "it with: chmod go-w /srv/shared (or choose another --state-dir)");
  fs.add_directory("/srv/shared", 01777);  // sticky: others cannot rename what is not theirs
  CHECK(check(fs, StateDirUse::kWrite, "/srv/shared/state"));
  // A parent owned by another user (even 0755: its owner can rename entries).
  fs.add_directory("/srv/shared", 0755);
  fs.set_owner("/srv/shared", kOther, kOther);
  CHECK(check(fs, StateDirUse::kRead, "/srv/shared/state").message() ==
        "refusing to use the state directory /srv/shared/state: the directory above it, /srv/shared, is owned by "
        "uid 4242, not root, so another user could put a directory of their own in its place; fix it with: chown "
        "root /srv/shared (or choose another --state-dir)");
  // The root directory is checked too.
  fs.add_directory("/", 0777);
  CHECK(check(fs, StateDirUse::kRead, "/srv/shared/state").message().find("the directory above it, /, is") !=
        std::string::npos);
}

TEST_CASE("state dir: a file where the directory should be is refused") {
  MemoryFileSystem fs;
  fs.add_file(kDir, "not a directory", 0600);
  CHECK(check(fs).message() == kRefused + "it is a regular file, not a directory; remove it or choose another "
                                          "--state-dir");
}

TEST_CASE("state dir: apply's lock and backups must be its own; plan and status do not look at them") {
  struct Case {
    const char* name;
    std::function<void(MemoryFileSystem&)> plant;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"foreign lock", [](MemoryFileSystem& fs) { fs.set_owner(kDir / "lock", kOther, kOther); },
       kRefused + "its lock /var/lib/ecertctl/lock is owned by uid 4242, not root; fix it with: chown root "
                  "/var/lib/ecertctl/lock"},
      {"symlinked lock",
       [](MemoryFileSystem& fs) {
         fs.remove(kDir / "lock");
         fs.add_symlink(kDir / "lock", "/etc/shadow");
       },
       kRefused + "its lock is a symbolic link, not a regular file; move it away (the next run creates a new "
                  "one): mv /var/lib/ecertctl/lock /var/lib/ecertctl/lock.suspect"},
      {"FIFO lock",
       [](MemoryFileSystem& fs) {
         fs.remove(kDir / "lock");
         fs.add_fifo(kDir / "lock");
       },
       kRefused + "its lock is a special file (FIFO, device or socket), not a regular file; move it away (the next "
                  "run creates a new one): mv /var/lib/ecertctl/lock /var/lib/ecertctl/lock.suspect"},
      {"open backups", [](MemoryFileSystem& fs) { fs.add_directory(kDir / "backups", 0777); },
       kRefused + "its backups /var/lib/ecertctl/backups is writable by group and others (mode 0777); fix it with: "
                  "chmod go-w /var/lib/ecertctl/backups"},
      {"symlinked backups",
       [](MemoryFileSystem& fs) {
         fs.add_directory("/tmp/b", 0700);
         fs.add_symlink(kDir / "backups", "/tmp/b");
       },
       kRefused + "its backups is a symbolic link, not a directory; move it away (the next run creates a new "
                  "one): mv /var/lib/ecertctl/backups /var/lib/ecertctl/backups.suspect"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    MemoryFileSystem fs = safe_state();
    c.plant(fs);
    CHECK(check(fs, StateDirUse::kWrite).message() == c.message);
    CHECK(check(fs, StateDirUse::kRead));
  }
}

TEST_CASE("state dir: records that are not its own are reported as ignored") {
  MemoryFileSystem fs = safe_state();
  fs.set_owner(kDir / "facts.jsonl", kOther, kOther);
  fs.add_file(kDir / "installed.json", "{}", 0666);
  std::vector<std::string> warnings;
  REQUIRE(check(fs, StateDirUse::kRead, kDir, &warnings));
  CHECK(warnings == std::vector<std::string>{
                        "ignoring /var/lib/ecertctl/facts.jsonl: it is owned by uid 4242, not root; ecertctl trusts "
                        "only records that are its own (remove it: the next apply writes a new one)",
                        "ignoring /var/lib/ecertctl/installed.json: it is writable by group and others (mode 0666); "
                        "ecertctl trusts only records that are its own (remove it: the next apply writes a new one)"});
  fs.remove(kDir / "facts.jsonl");
  fs.add_symlink(kDir / "facts.jsonl", "/root/poisoned.jsonl");
  fs.remove(kDir / "installed.json");
  fs.add_fifo(kDir / "installed.json");
  warnings.clear();
  REQUIRE(check(fs, StateDirUse::kWrite, kDir, &warnings));
  REQUIRE(warnings.size() == 2);
  CHECK(warnings[0].find("ignoring /var/lib/ecertctl/facts.jsonl: it is a symbolic link, not a regular file") == 0);
  CHECK(warnings[1].find("ignoring /var/lib/ecertctl/installed.json: it is a special file") == 0);
}

TEST_CASE("read_state_file: only a regular file of the running user that group and others cannot write") {
  MemoryFileSystem fs;
  const fs::path record = kDir / "facts.jsonl";
  fs.add_directory(kDir, 0700);
  CHECK(read_state_file(fs, record).status().is_not_found());
  fs.add_file(record, "ours", 0600);
  CHECK(*read_state_file(fs, record) == "ours");
  fs.add_file(record, "ours", 0644);  // readable by others is not the danger: writable is
  CHECK(*read_state_file(fs, record) == "ours");
  fs.add_file(record, "loose", 0620);
  CHECK(read_state_file(fs, record).status().message() ==
        "not reading /var/lib/ecertctl/facts.jsonl: it is writable by group (mode 0620)");
  fs.add_file(record, "theirs", 0600);
  fs.set_owner(record, kOther, kOther);
  auto theirs = read_state_file(fs, record);
  CHECK(theirs.status().code() == Status::Code::kPermission);
  CHECK(theirs.status().message() == "not reading /var/lib/ecertctl/facts.jsonl: it is owned by uid 4242, not root");
  // A symlink is not followed, even to a file of the right owner and mode.
  fs.remove(record);
  fs.add_file("/root/planted.jsonl", "planted", 0600);
  fs.add_symlink(record, "/root/planted.jsonl");
  CHECK(read_state_file(fs, record).status().message() ==
        "cannot read /var/lib/ecertctl/facts.jsonl: it is a symbolic link, which ecertctl does not follow here; "
        "put the file itself there or remove the link");
  fs.add_fifo(kDir / "installed.json");
  CHECK(read_state_file(fs, kDir / "installed.json").status().message().find("a FIFO") != std::string::npos);
}

TEST_CASE("write_state_file: a new file of the running user, 0600, in place of whatever was there") {
  MemoryFileSystem fs;
  const fs::path record = kDir / "installed.json";
  fs.add_directory(kDir, 0700);
  fs.add_file(record, "theirs", 0666);
  fs.set_owner(record, kOther, kOther);
  REQUIRE(write_state_file(fs, record, "ours"));
  const auto& e = fs.files().at(record.string());
  CHECK(e.data == "ours");
  CHECK(e.mode == 0600);
  CHECK(e.uid == 0);
  CHECK(*read_state_file(fs, record) == "ours");
  // A symlink is replaced, and what it pointed to stays as it was.
  fs.add_file("/etc/shadow", "root:*:", 0640);
  fs.remove(record);
  fs.add_symlink(record, "/etc/shadow");
  REQUIRE(write_state_file(fs, record, "ours again"));
  CHECK(fs.files().at("/etc/shadow").data == "root:*:");
  CHECK(*read_state_file(fs, record) == "ours again");
  CHECK(fs.lstat(record)->is_regular);
}

TEST_CASE("RunLock: refuses a state directory that is not the user's, and checks one it created") {
  MemoryFileSystem fs = safe_state();
  fs.set_owner(kDir, kOther, kOther);
  auto refused = RunLock::acquire(fs, kDir, std::chrono::seconds(0));
  CHECK(refused.status().message().find(kRefused + "it is owned by uid 4242") == 0);
  CHECK(fs.log().empty());  // no lock taken, nothing created

  MemoryFileSystem fresh;
  fresh.add_directory("/var/lib", 0755);
  REQUIRE(RunLock::acquire(fresh, kDir, std::chrono::seconds(0)));
  CHECK(fresh.stat(kDir)->mode == 0700);
  CHECK(fresh.log() == std::vector<std::string>{"mkdir /var/lib/ecertctl", "lock /var/lib/ecertctl/lock"});
}

}  // namespace ecert
