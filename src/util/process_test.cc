#include <doctest/doctest.h>

#include <cstdlib>
#include <string>
#include <vector>

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

// ---- the child's environment and stdin ----

namespace {

// The names of the variables a command's `env` output shows, one per line.
std::vector<std::string> env_names(const std::string& env_output) {
  std::vector<std::string> names;
  std::size_t start = 0;
  while (start < env_output.size()) {
    std::size_t end = env_output.find('\n', start);
    if (end == std::string::npos) end = env_output.size();
    std::string line = env_output.substr(start, end - start);
    if (!line.empty()) names.push_back(line.substr(0, line.find('=')));
    start = end + 1;
  }
  return names;
}

bool is_minimal_name(const std::string& name) {
  return name == "PATH" || name == "LANG" || name.rfind("LC_", 0) == 0;
}

}  // namespace

TEST_CASE("a command gets only PATH, LANG, LC_* and the names it is given") {
  ::setenv("ECERT_TEST_UNLISTED", "must-not-reach-the-child", 1);
  ::setenv("ECERT_TEST_PASSED", "passed-value", 1);
  ::setenv("LANG", "C.UTF-8", 1);
  ::setenv("LC_ALL", "C", 1);
  RealCommandRunner runner;
  CommandRequest request;
  request.argv = {"/usr/bin/env"};
  request.pass_env = {"ECERT_TEST_PASSED", "ECERT_TEST_NOT_SET"};
  auto r = runner.execute(request);
  REQUIRE(r.is_ok());
  CHECK(r->exit_code == 0);
  CHECK(r->output.find("PATH=") != std::string::npos);
  CHECK(r->output.find("LANG=C.UTF-8\n") != std::string::npos);
  CHECK(r->output.find("LC_ALL=C\n") != std::string::npos);
  CHECK(r->output.find("ECERT_TEST_PASSED=passed-value\n") != std::string::npos);
  CHECK(r->output.find("must-not-reach-the-child") == std::string::npos);
  CHECK(r->output.find("ECERT_TEST_NOT_SET") == std::string::npos);  // unset stays unset
  for (const auto& name : env_names(r->output)) {
    CAPTURE(name);
    CHECK((is_minimal_name(name) || name == "ECERT_TEST_PASSED"));
  }
  ::unsetenv("ECERT_TEST_UNLISTED");
  ::unsetenv("ECERT_TEST_PASSED");
}

TEST_CASE("run() passes no name beyond PATH, LANG and LC_*") {
  ::setenv("ECERT_TEST_PASSED", "passed-value", 1);
  RealCommandRunner runner;
  auto r = runner.run({"/usr/bin/env"}, std::chrono::seconds(10));
  REQUIRE(r.is_ok());
  CHECK(r->output.find("PATH=") != std::string::npos);
  for (const auto& name : env_names(r->output)) {
    CAPTURE(name);
    CHECK(is_minimal_name(name));
  }
  ::unsetenv("ECERT_TEST_PASSED");
}

TEST_CASE("input reaches the command's stdin, which is a pipe") {
  RealCommandRunner runner;
  CommandRequest request;
  request.argv = {"cat"};
  request.input = "{\"format_version\": \"1\"}\n";
  auto r = runner.execute(request);
  REQUIRE(r.is_ok());
  CHECK(r->exit_code == 0);
  CHECK(r->output == request.input);

  // More than a pipe holds at once: written piece by piece as the child reads.
  request.argv = {"wc", "-c"};
  request.input = std::string(1 << 20, 'x');
  r = runner.execute(request);
  REQUIRE(r.is_ok());
  CHECK(r->output.find("1048576") != std::string::npos);

  request.argv = {"/bin/sh", "-c", "ls -l /proc/self/fd/0"};
  request.input = "x";
  r = runner.execute(request);
  REQUIRE(r.is_ok());
  CHECK(r->output.find("pipe:") != std::string::npos);
}

TEST_CASE("a command that never reads its large input still finishes or times out") {
  RealCommandRunner runner;
  CommandRequest request;
  request.input = std::string(4 << 20, 'x');  // far beyond a pipe's buffer

  // Exits without reading: the rest of the input is dropped (no SIGPIPE kills the caller).
  request.argv = {"/bin/sh", "-c", "exit 4"};
  auto start = std::chrono::steady_clock::now();
  auto r = runner.execute(request);
  REQUIRE(r.is_ok());
  CHECK(r->exit_code == 4);
  CHECK_FALSE(r->timed_out);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));

  // Neither reads nor exits: killed at the timeout, the writer does not block.
  request.argv = {"/bin/sleep", "30"};
  request.timeout = std::chrono::seconds(1);
  start = std::chrono::steady_clock::now();
  r = runner.execute(request);
  REQUIRE(r.is_ok());
  CHECK(r->timed_out);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
}

}  // namespace ecert
