// RealFileSystem is the one place that touches disk: these tests use a
// private temporary directory. MemoryFileSystem tests need no disk.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

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

}  // namespace

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
