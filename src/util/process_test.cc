#include <doctest/doctest.h>

#include "util/process.h"

namespace ecert {

TEST_CASE("a command's output and exit code are captured") {
  RealCommandRunner runner;
  auto r = runner.run({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}, std::chrono::seconds(10));
  REQUIRE(r.is_ok());
  CHECK(r->exit_code == 3);
  CHECK_FALSE(r->timed_out);
  CHECK(r->output.find("out") != std::string::npos);
  CHECK(r->output.find("err") != std::string::npos);
}

TEST_CASE("stdin is /dev/null: a command waiting for input gets end-of-file at once") {
  RealCommandRunner runner;
  auto r = runner.run({"/bin/sh", "-c", "read line; echo \"got:$?\"; ls -l /proc/self/fd/0"}, std::chrono::seconds(10));
  REQUIRE(r.is_ok());
  CHECK(r->output.find("got:1") != std::string::npos);
  CHECK(r->output.find("/dev/null") != std::string::npos);
}

TEST_CASE("a command that hangs is killed at the timeout") {
  RealCommandRunner runner;
  auto start = std::chrono::steady_clock::now();
  auto r = runner.run({"/bin/sleep", "30"}, std::chrono::seconds(1));
  auto took = std::chrono::steady_clock::now() - start;
  REQUIRE(r.is_ok());
  CHECK(r->timed_out);
  CHECK(took < std::chrono::seconds(5));
}

TEST_CASE("a missing command is an error naming it") {
  RealCommandRunner runner;
  auto r = runner.run({"no-such-command-ecert"}, std::chrono::seconds(1));
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().message() == "command not found: no-such-command-ecert (not on PATH)");
}

TEST_CASE("format_argv quotes words a shell would split") {
  CHECK(format_argv({"apache2ctl", "configtest"}) == "apache2ctl configtest");
  CHECK(format_argv({"/usr/sbin/apache2", "-f", "/a b/httpd.conf"}) == "/usr/sbin/apache2 -f '/a b/httpd.conf'");
}

}  // namespace ecert
