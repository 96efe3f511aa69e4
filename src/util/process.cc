#include "util/process.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/process.hpp>
#include <cstdlib>
#include <thread>

namespace ecert {
namespace bp = boost::process;

Result<CommandResult> RealCommandRunner::run(const std::vector<std::string>& argv,
                                             std::chrono::seconds timeout) {
  if (argv.empty()) return Status::invalid("empty command");
  boost::filesystem::path exe = argv[0];
  if (argv[0].find('/') == std::string::npos) {
    exe = bp::search_path(argv[0]);
    if (exe.empty()) return Status::not_found("command not found: " + argv[0] + " (not on PATH)");
  }
  // Output goes to an unlinked-on-return temp file rather than a pipe: a
  // daemon the command starts (httpd) may keep the descriptor open forever.
  char tmpl[] = "/tmp/ecertctl-cmd.XXXXXX";
  int fd = ::mkostemp(tmpl, O_CLOEXEC);
  if (fd < 0) return Status::from_errno(errno, "cannot create output file for", argv[0]);
  ::close(fd);
  const std::string out_path = tmpl;

  CommandResult result;
  try {
    std::vector<std::string> args(argv.begin() + 1, argv.end());
    bp::group group;
    // stdin is /dev/null, not a closed descriptor: a daemon started from
    // here (apachectl start) would otherwise get a listening socket as fd 0
    // and then lose it when it points its stdio at /dev/null.
    bp::child child(exe, bp::args(args), bp::std_in < bp::null,
                    (bp::std_out & bp::std_err) > out_path, group);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::error_code ec;
    while (child.running(ec)) {
      if (std::chrono::steady_clock::now() >= deadline) {
        result.timed_out = true;
        group.terminate(ec);
        child.terminate(ec);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    child.wait(ec);
    result.exit_code = result.timed_out ? -1 : child.exit_code();
  } catch (const std::exception& e) {
    ::unlink(out_path.c_str());
    return Status::io_error("cannot run " + format_argv(argv) + ": " + e.what());
  }
  if (FILE* f = std::fopen(out_path.c_str(), "rb")) {
    char buf[8192];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0 && result.output.size() < (1 << 20))
      result.output.append(buf, n);
    std::fclose(f);
  }
  ::unlink(out_path.c_str());
  return result;
}

std::string format_argv(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    if (a.empty() || a.find_first_of(" \t'\"\\$") != std::string::npos) {
      out += '\'';
      for (char c : a) out += (c == '\'') ? std::string("'\\''") : std::string(1, c);
      out += '\'';
    } else {
      out += a;
    }
  }
  return out;
}

}  // namespace ecert
