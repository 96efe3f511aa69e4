// RealFileSystem is the one place that touches disk: these tests use a
// private temporary directory. MemoryFileSystem tests need no disk.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <future>
#include <thread>
#include <vector>

#include "util/fs.h"

namespace ecert {
namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/ecert-fs-test.XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

mode_t mode_of(const fs::path& p) {
  struct stat st;
  ::stat(p.c_str(), &st);
  return st.st_mode & 07777;
}

// read_file on another thread, given `limit` to answer: a regression that
// blocks (on a FIFO: until a writer comes) fails the test instead of hanging
// the suite. `unblock` releases the stuck reader so the thread can be joined.
Result<std::string> read_within(const FileSystem& disk, const fs::path& path, std::chrono::seconds limit,
                                const std::function<void()>& unblock = [] {}) {
  auto pending = std::async(std::launch::async, [&] { return disk.read_file(path); });
  if (pending.wait_for(limit) == std::future_status::timeout) {
    FAIL_CHECK("read_file(" << path.string() << ") did not return within " << limit.count() << " s");
    unblock();
  }
  return pending.get();
}

// Opening a FIFO for writing lets a reader blocked in open() go on; closing
// it then gives that reader end-of-file.
void open_fifo_writer(const fs::path& fifo) {
  int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
  if (fd >= 0) ::close(fd);
}

std::string not_regular_message(const fs::path& path, const std::string& kind) {
  return "cannot read " + path.string() + ": it is " + kind +
         ", not a regular file; put the file itself there or correct the path";
}

}  // namespace

TEST_CASE("read_file refuses a FIFO at once, naming the file and what it is") {
  TempDir dir;
  RealFileSystem disk;
  const fs::path fifo = dir.path / "cert0000812104.cer";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  auto r = read_within(disk, fifo, std::chrono::seconds(5), [&] { open_fifo_writer(fifo); });
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().code() == Status::Code::kInvalid);
  CHECK(r.status().message() == not_regular_message(fifo, "a FIFO (named pipe)"));

  // Through a symlink too: the message names the path that was asked for.
  const fs::path link = dir.path / "hkpostca.crt";
  fs::create_symlink(fifo, link);
  r = read_within(disk, link, std::chrono::seconds(5), [&] { open_fifo_writer(fifo); });
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().message() == not_regular_message(link, "a FIFO (named pipe)"));
}

TEST_CASE("read_file refuses a device, a directory and a socket") {
  TempDir dir;
  RealFileSystem disk;
  auto zero = read_within(disk, "/dev/zero", std::chrono::seconds(5));
  REQUIRE_FALSE(zero.is_ok());
  CHECK(zero.status().message() == not_regular_message("/dev/zero", "a character device"));

  auto directory = read_within(disk, dir.path, std::chrono::seconds(5));
  REQUIRE_FALSE(directory.is_ok());
  CHECK(directory.status().message() == not_regular_message(dir.path, "a directory"));

  const fs::path sock_path = dir.path / "ecert.sock";
  int sock = ::socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(sock >= 0);
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, sock_path.c_str(), sizeof addr.sun_path - 1);
  REQUIRE(::bind(sock, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) == 0);
  auto socket = read_within(disk, sock_path, std::chrono::seconds(5));
  ::close(sock);
  REQUIRE_FALSE(socket.is_ok());
  CHECK(socket.status().message() == not_regular_message(sock_path, "a socket"));
}

TEST_CASE("read_file refuses a file over the bound without reading it") {
  TempDir dir;
  const fs::path huge = dir.path / "ca-certificates.crt";
  {
    // Sparse: costs no disk, but reading it would cost kMaxReadSize of memory.
    int fd = ::open(huge.c_str(), O_WRONLY | O_CREAT, 0644);
    REQUIRE(fd >= 0);
    REQUIRE(::ftruncate(fd, static_cast<off_t>(kMaxReadSize + 1)) == 0);
    ::close(fd);
  }
  RealFileSystem disk;
  const auto start = std::chrono::steady_clock::now();
  auto r = read_within(disk, huge, std::chrono::seconds(5));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(500));
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().code() == Status::Code::kInvalid);
  CHECK(r.status().message() == "cannot read " + huge.string() +
                                    ": it is larger than 64 MiB, the most ecertctl reads from one file; "
                                    "check that the path names the file meant");

  // The bound itself is allowed.
  std::ofstream(dir.path / "small") << std::string(1024, 'x');
  RealFileSystem bounded(1024);
  CHECK(bounded.read_file(dir.path / "small")->size() == 1024);
  std::ofstream(dir.path / "small", std::ios::app) << "y";
  CHECK(bounded.read_file(dir.path / "small").status().message() ==
        "cannot read " + (dir.path / "small").string() +
            ": it is larger than 1024 bytes, the most ecertctl reads from one file; "
            "check that the path names the file meant");
}

TEST_CASE("MemoryFileSystem refuses a FIFO, a device, a directory and a large file as the disk does") {
  MemoryFileSystem mem(16);
  mem.add_fifo("/srv/ssl.crt/cert.cer");
  mem.add_special("/srv/ssl.crt/tty", MemoryFileSystem::Special::kCharDevice);
  mem.add_file("/srv/ssl.crt/big.cer", std::string(17, 'x'));
  mem.add_file("/srv/ssl.crt/ok.cer", std::string(16, 'x'));
  mem.add_symlink("/srv/link.cer", "ssl.crt/cert.cer");

  auto info = mem.stat("/srv/ssl.crt/cert.cer");
  REQUIRE(info.is_ok());
  CHECK_FALSE(info->is_regular);
  CHECK_FALSE(info->is_directory);
  CHECK(*mem.list_dir("/srv/ssl.crt") == std::vector<std::string>{"big.cer", "cert.cer", "ok.cer", "tty"});

  CHECK(mem.read_file("/srv/ssl.crt/cert.cer").status().message() ==
        not_regular_message("/srv/ssl.crt/cert.cer", "a FIFO (named pipe)"));
  CHECK(mem.read_file("/srv/link.cer").status().message() ==
        not_regular_message("/srv/link.cer", "a FIFO (named pipe)"));
  CHECK(mem.read_file("/srv/ssl.crt/tty").status().message() ==
        not_regular_message("/srv/ssl.crt/tty", "a character device"));
  CHECK(mem.read_file("/srv/ssl.crt").status().message() == not_regular_message("/srv/ssl.crt", "a directory"));
  CHECK(mem.read_file("/srv/ssl.crt/big.cer").status().message() ==
        "cannot read /srv/ssl.crt/big.cer: it is larger than 16 bytes, the most ecertctl reads from one file; "
        "check that the path names the file meant");
  CHECK(mem.read_file("/srv/ssl.crt/ok.cer")->size() == 16);
  CHECK(mem.write_atomic("/srv/ssl.crt/cert.cer", "x").code() == Status::Code::kInvalid);
  CHECK(mem.create_exclusive("/srv/ssl.crt/cert.cer", "x", 0600).code() == Status::Code::kConflict);
}

TEST_CASE("MemoryFileSystem counts reads from several threads") {
  MemoryFileSystem mem;
  mem.add_file("/a", "x");
  constexpr int kThreads = 4;
  constexpr int kReads = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < kReads; ++i) (void)mem.read_file("/a");
    });
  for (auto& t : threads) t.join();
  CHECK(mem.read_count() == std::size_t{kThreads} * kReads);
  MemoryFileSystem copy = mem;  // a filesystem built in a helper is returned by value
  CHECK(copy.read_count() == mem.read_count());
}

TEST_CASE("write_atomic creates with the requested mode and replaces keeping the old mode") {
  TempDir dir;
  RealFileSystem disk;
  const fs::path f = dir.path / "chain.crt";
  WriteOptions wo;
  wo.new_file_mode = 0640;
  REQUIRE(disk.write_atomic(f, "one", wo).is_ok());
  CHECK(slurp(f) == "one");
  CHECK(mode_of(f) == 0640);
  ::chmod(f.c_str(), 0604);
  REQUIRE(disk.write_atomic(f, "two").is_ok());
  CHECK(slurp(f) == "two");
  CHECK(mode_of(f) == 0604);
  auto names = disk.list_dir(dir.path);
  REQUIRE(names.is_ok());
  CHECK(names->size() == 1);  // no temp file left behind
}

TEST_CASE("write_atomic through a symlink replaces the target and keeps the link") {
  TempDir dir;
  RealFileSystem disk;
  fs::create_directories(dir.path / "sites-available");
  fs::create_directories(dir.path / "sites-enabled");
  const fs::path real = dir.path / "sites-available" / "a.conf";
  const fs::path link = dir.path / "sites-enabled" / "a.conf";
  std::ofstream(real) << "old\n";
  fs::create_symlink("../sites-available/a.conf", link);
  REQUIRE(disk.write_atomic(link, "new\n").is_ok());
  CHECK(fs::is_symlink(link));
  CHECK(slurp(real) == "new\n");
  auto target = disk.write_target(link);
  REQUIRE(target.is_ok());
  CHECK(*target == real);
}

TEST_CASE("write_atomic refuses a symlink in a directory other users can write") {
  TempDir dir;
  RealFileSystem disk;
  const fs::path shared = dir.path / "shared";
  fs::create_directories(shared);
  ::chmod(shared.c_str(), 01777);
  std::ofstream(dir.path / "victim") << "precious";
  fs::create_symlink(dir.path / "victim", shared / "chain.crt");
  Status s = disk.write_atomic(shared / "chain.crt", "evil");
  CHECK_FALSE(s.is_ok());
  CHECK(s.message().find("refusing to write through symlink") != std::string::npos);
  CHECK(slurp(dir.path / "victim") == "precious");
}

TEST_CASE("read_with_info: the fstat of the file read; with no_follow a symlink is refused, not followed") {
  TempDir dir;
  RealFileSystem disk;
  const fs::path real = dir.path / "planted.jsonl";
  const fs::path link = dir.path / "facts.jsonl";
  std::ofstream(real) << "planted";
  ::chmod(real.c_str(), 0640);
  fs::create_symlink(real, link);
  auto followed = disk.read_with_info(link, ReadOptions{});
  REQUIRE(followed.is_ok());
  CHECK(followed->data == "planted");
  CHECK(followed->info.is_regular);
  CHECK(followed->info.mode == 0640);
  CHECK(followed->info.uid == ::geteuid());
  CHECK(followed->info.size == 7);
  ReadOptions no_follow;
  no_follow.no_follow = true;
  auto refused = disk.read_with_info(link, no_follow);
  CHECK(refused.status().code() == Status::Code::kPermission);
  CHECK(refused.status().message() == "cannot read " + link.string() +
                                          ": it is a symbolic link, which ecertctl does not follow here; put the file "
                                          "itself there or remove the link");
  CHECK(disk.read_with_info(real, no_follow)->data == "planted");
  // The other refusals stay as read_file's.
  REQUIRE(::mkfifo((dir.path / "fifo").c_str(), 0600) == 0);
  auto fifo = disk.read_with_info(dir.path / "fifo", no_follow);
  CHECK(fifo.status().message() == not_regular_message(dir.path / "fifo", "a FIFO (named pipe)"));
  CHECK(disk.read_with_info(dir.path / "none", no_follow).status().is_not_found());
  // MemoryFileSystem says the same.
  MemoryFileSystem mem;
  mem.add_file(real, "planted", 0640);
  mem.add_symlink(link, real);
  CHECK(mem.read_with_info(link, ReadOptions{})->info.mode == 0640);
  CHECK(mem.read_with_info(link, no_follow).status().message() == refused.status().message());
}

TEST_CASE("lstat describes a symlink itself; real_path resolves every link; user() is the effective uid") {
  TempDir dir;
  RealFileSystem disk;
  fs::create_directories(dir.path / "real" / "state");
  fs::create_symlink(dir.path / "real", dir.path / "link");
  const fs::path via = dir.path / "link" / "state";
  CHECK(disk.lstat(dir.path / "link")->is_symlink);
  CHECK_FALSE(disk.stat(dir.path / "link")->is_symlink);
  CHECK(disk.stat(dir.path / "link")->is_directory);
  CHECK(disk.lstat(via)->is_directory);  // links above the last name are followed
  CHECK(*disk.real_path(via) == *disk.real_path(dir.path / "real" / "state"));
  CHECK(disk.real_path(via)->string().find("/link/") == std::string::npos);
  CHECK(disk.real_path(dir.path / "none").status().is_not_found());
  CHECK(disk.lstat(dir.path / "none").status().is_not_found());
  CHECK(disk.user() == ::geteuid());

  MemoryFileSystem mem;
  mem.add_directory("/real/state", 0700);
  mem.add_symlink("/link", "/real");
  CHECK(mem.lstat("/link")->is_symlink);
  CHECK(mem.stat("/link")->is_directory);
  CHECK(mem.lstat("/link/state")->mode == 0700);
  CHECK(*mem.real_path("/link/state") == "/real/state");
  CHECK(mem.real_path("/link/none").status().is_not_found());
}

TEST_CASE("write_atomic replace_with_new_file: a new 0600 file of ours, not the old owner, mode or link target") {
  TempDir dir;
  RealFileSystem disk;
  WriteOptions fresh;
  fresh.new_file_mode = 0600;
  fresh.replace_with_new_file = true;
  const fs::path record = dir.path / "installed.json";
  std::ofstream(record) << "theirs";
  ::chmod(record.c_str(), 0666);
  const bool root = ::geteuid() == 0;  // only root can give a file away
  if (root) REQUIRE(::chown(record.c_str(), 65534, 65534) == 0);
  REQUIRE(disk.write_atomic(record, "ours", fresh).is_ok());
  struct stat st;
  REQUIRE(::stat(record.c_str(), &st) == 0);
  CHECK(slurp(record) == "ours");
  CHECK((st.st_mode & 07777) == 0600);
  CHECK(st.st_uid == ::geteuid());
  // A symlink at the path is replaced by the file; its target is untouched.
  const fs::path victim = dir.path / "victim";
  std::ofstream(victim) << "precious";
  fs::remove(record);
  fs::create_symlink(victim, record);
  REQUIRE(disk.write_atomic(record, "ours again", fresh).is_ok());
  CHECK_FALSE(fs::is_symlink(record));
  CHECK(slurp(record) == "ours again");
  CHECK(slurp(victim) == "precious");
  CHECK(disk.list_dir(dir.path)->size() == 2);  // no temp file left behind
  // Without the flag, a replaced file keeps its owner and mode, as before.
  if (root) REQUIRE(::chown(victim.c_str(), 65534, 65534) == 0);
  ::chmod(victim.c_str(), 0644);
  REQUIRE(disk.write_atomic(victim, "kept").is_ok());
  REQUIRE(::stat(victim.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0644);
  CHECK(st.st_uid == (root ? 65534u : ::geteuid()));

  MemoryFileSystem mem;
  mem.add_file("/state/installed.json", "theirs", 0666);
  mem.set_owner("/state/installed.json", 65534, 65534);
  REQUIRE(mem.write_atomic("/state/installed.json", "kept").is_ok());
  CHECK(mem.files().at("/state/installed.json").uid == 65534);
  CHECK(mem.files().at("/state/installed.json").mode == 0666);
  REQUIRE(mem.write_atomic("/state/installed.json", "ours", fresh).is_ok());
  CHECK(mem.files().at("/state/installed.json").uid == 0);
  CHECK(mem.files().at("/state/installed.json").mode == 0600);
}

TEST_CASE("lock refuses a FIFO at the lock path at once instead of waiting for a writer") {
  TempDir dir;
  RealFileSystem disk;
  const fs::path lock = dir.path / "lock";
  REQUIRE(::mkfifo(lock.c_str(), 0600) == 0);
  auto pending = std::async(std::launch::async, [&] { return disk.lock(lock, std::chrono::seconds(0)); });
  if (pending.wait_for(std::chrono::seconds(5)) == std::future_status::timeout) {
    FAIL_CHECK("lock(" << lock.string() << ") did not return within 5 s");
    open_fifo_writer(lock);
  }
  auto held = pending.get();
  CHECK(held.status().message() == "cannot use the lock file " + lock.string() +
                                       ": it is a FIFO (named pipe), not a regular file; remove it (the next run "
                                       "creates it)");
  // A regular lock file is taken as before.
  fs::remove(lock);
  CHECK(disk.lock(lock, std::chrono::seconds(0)).is_ok());
}

TEST_CASE("create_exclusive never replaces an existing file") {
  TempDir dir;
  RealFileSystem disk;
  const fs::path key = dir.path / "server.key";
  REQUIRE(disk.create_exclusive(key, "first", 0600).is_ok());
  CHECK(mode_of(key) == 0600);
  Status s = disk.create_exclusive(key, "second", 0600);
  CHECK(s.code() == Status::Code::kConflict);
  CHECK(slurp(key) == "first");
  CHECK(disk.list_dir(dir.path)->size() == 1);
}

TEST_CASE("errors name the path and the system's reason") {
  RealFileSystem disk;
  auto r = disk.read_file("/nonexistent/dir/file.pem");
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().is_not_found());
  CHECK(r.status().message() == "cannot read /nonexistent/dir/file.pem: No such file or directory");
  Status w = disk.write_atomic("/nonexistent/dir/file.pem", "x");
  CHECK(w.message().find("/nonexistent/dir/file.pem") != std::string::npos);
}

TEST_CASE("MemoryFileSystem records writes and follows symlinks") {
  MemoryFileSystem mem;
  mem.add_file("/etc/apache2/sites-available/a.conf", "x");
  mem.add_symlink("/etc/apache2/sites-enabled/a.conf", "../sites-available/a.conf");
  mem.create_directories("/etc/apache2/sites-enabled", 0755);
  CHECK(*mem.read_file("/etc/apache2/sites-enabled/a.conf") == "x");
  REQUIRE(mem.write_atomic("/etc/apache2/sites-enabled/a.conf", "y").is_ok());
  CHECK(*mem.read_file("/etc/apache2/sites-available/a.conf") == "y");
  CHECK(mem.log().back() == "write /etc/apache2/sites-available/a.conf");
  CHECK(mem.create_exclusive("/etc/apache2/sites-available/a.conf", "z", 0600).code() == Status::Code::kConflict);
}

}  // namespace ecert
