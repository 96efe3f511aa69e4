#include "engine/lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace ecert {

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
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

}  // namespace

Result<RunLock> RunLock::acquire(const fs::path& dir, std::chrono::seconds wait) {
  RealFileSystem disk;
  if (Status s = disk.create_directories(dir, 0700); !s) return s;
  const fs::path path = dir / "lock";
  int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Status::from_errno(errno, "cannot open lock file", path.string());
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
      return Status::conflict("another ecertctl run holds the lock " + path.string() + " (" + who +
                              "); waited " + std::to_string(wait.count()) + "s. Run again when it has finished");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return RunLock(fd);
}

}  // namespace ecert
