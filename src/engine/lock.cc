#include "engine/lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

namespace ecert {

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

Result<RunLock> RunLock::acquire(const fs::path& dir, std::chrono::seconds wait, const std::string& holder) {
  RealFileSystem disk;
  if (Status s = disk.create_directories(dir, 0700); !s) return s;
  const fs::path path = dir / "lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Status::from_errno(errno, "cannot open lock file", path.string());
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) {
      int err = errno;
      ::close(fd);
      return Status::from_errno(err, "cannot lock", path.string());
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      char buf[512] = {0};
      ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
      ::close(fd);
      std::string who = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "unknown";
      while (!who.empty() && (who.back() == '\n' || who.back() == '\0')) who.pop_back();
      return Status::conflict("another ecertctl apply holds the lock " + path.string() + " (" + who +
                              "); waited " + std::to_string(wait.count()) +
                              "s. Run again when it has finished");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::string info = holder + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, info.data(), info.size(), 0) < 0) {
    // The lock is held all the same; the holder text is only a courtesy.
  }
  return RunLock(fd);
}

}  // namespace ecert
