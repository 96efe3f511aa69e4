#include "util/process.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <boost/process.hpp>
#include <boost/process/extend.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string_view>
#include <thread>

#include "util/harden.h"

extern char** environ;

namespace ecert {
namespace bp = boost::process;
namespace {

// Used when ecertctl itself runs without PATH (e.g. `env -i`): apachectl
// scripts call other programs by name.
constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

bool in_minimal_set(std::string_view name) {
  return name == "PATH" || name == "LANG" || name.substr(0, 3) == "LC_";
}

// PATH, LANG, LC_* and the names the request passes on, with their values
// here; nothing else, so a secret in ecertctl's environment (the key
// passphrase, a cloud token) never reaches Apache or the CGI under it.
bp::environment child_environment(const std::vector<std::string>& pass_env) {
  bp::environment env;
  for (char** entry = environ; entry && *entry; ++entry) {
    std::string_view var(*entry);
    const std::size_t eq = var.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    const std::string name(var.substr(0, eq));
    bool wanted = in_minimal_set(name);
    for (const auto& passed : pass_env) wanted = wanted || passed == name;
    if (wanted) env[name] = std::string(var.substr(eq + 1));
  }
  if (env.find("PATH") == env.end()) env["PATH"] = kDefaultPath;
  return env;
}

// write() that reports a reader gone away as EPIPE instead of letting
// SIGPIPE kill ecertctl: the signal is blocked in this thread for the call
// and a SIGPIPE it raised is consumed (also after a partial write, which
// raises it too). Blocking it for the whole run instead would hand a blocked
// SIGPIPE down to every command started from this thread.
ssize_t write_without_sigpipe(int fd, const char* data, std::size_t size) {
  sigset_t pipe_only, old, pending;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
  const ssize_t n = ::write(fd, data, size);
  const int err = errno;
  if (!sigismember(&old, SIGPIPE) && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE)) {
    const struct timespec no_wait {};
    while (sigtimedwait(&pipe_only, nullptr, &no_wait) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = err;
  return n;
}

// The command's stdin when it is given input: a pipe whose write end is
// non-blocking, fed a piece at a time between checks of the child and the
// clock, so a command that never reads cannot stall the runner past its
// timeout.
class StdinFeeder {
 public:
  explicit StdinFeeder(std::string_view input) : rest_(input) {}
  StdinFeeder(const StdinFeeder&) = delete;
  StdinFeeder& operator=(const StdinFeeder&) = delete;
  ~StdinFeeder() {
    close_read_end();
    close_write_end();
  }

  Status open() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return Status::from_errno(errno, "cannot create a pipe for", "stdin");
    read_end_ = ::fdopen(fds[0], "r");
    write_fd_ = fds[1];
    if (!read_end_) {
      ::close(fds[0]);
      return Status::from_errno(errno, "cannot create a pipe for", "stdin");
    }
    if (::fcntl(write_fd_, F_SETFL, O_NONBLOCK) != 0) return Status::from_errno(errno, "cannot set up", "stdin");
    return Status::ok();
  }

  FILE* read_end() const { return read_end_; }

  // Once the child has its copy: only the child may hold the read end, so
  // that its exit turns our writes into EPIPE instead of a full pipe.
  void close_read_end() {
    if (read_end_) std::fclose(read_end_);
    read_end_ = nullptr;
  }

  // Writes what the pipe takes now, waiting at most `wait` for room.
  // Closes the pipe when everything is written or the reader is gone.
  void pump(std::chrono::milliseconds wait) {
    if (write_fd_ < 0) {
      std::this_thread::sleep_for(wait);
      return;
    }
    struct pollfd p {write_fd_, POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return;
    while (!rest_.empty()) {
      const ssize_t n = write_without_sigpipe(write_fd_, rest_.data(), rest_.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;
      if (n < 0) break;  // EPIPE: the command exited or closed its stdin
      rest_.remove_prefix(static_cast<std::size_t>(n));
    }
    close_write_end();
  }

 private:
  void close_write_end() {
    if (write_fd_ >= 0) ::close(write_fd_);
    write_fd_ = -1;
  }

  std::string_view rest_;
  FILE* read_end_ = nullptr;
  int write_fd_ = -1;
};

// Starts the command and waits for it, feeding stdin when there is input.
// Output goes to `out_path`. Throws what Boost.Process throws.
CommandResult run_child(const boost::filesystem::path& exe, const CommandRequest& request,
                        const std::string& out_path, StdinFeeder* feeder) {
  CommandResult result;
  std::vector<std::string> args(request.argv.begin() + 1, request.argv.end());
  bp::group group;
  const bp::environment env = child_environment(request.pass_env);
  // ecertctl dumps no core (util/harden.h); the command gets its limit back.
  const struct rlimit* core_limit = core_limit_for_commands();
  auto restore_core_limit = bp::extend::on_exec_setup([core_limit](auto&) {
    if (core_limit) ::setrlimit(RLIMIT_CORE, core_limit);
  });
  // Without input stdin is /dev/null, not a closed descriptor: a daemon
  // started from here (apachectl start) would otherwise get a listening
  // socket as fd 0 and then lose it when it points its stdio at /dev/null.
  bp::child child = feeder ? bp::child(exe, bp::args(args), env, bp::std_in < feeder->read_end(),
                                       (bp::std_out & bp::std_err) > out_path, group, restore_core_limit)
                           : bp::child(exe, bp::args(args), env, bp::std_in < bp::null,
                                       (bp::std_out & bp::std_err) > out_path, group, restore_core_limit);
  if (feeder) feeder->close_read_end();
  const auto deadline = std::chrono::steady_clock::now() + request.timeout;
  std::error_code ec;
  StdinFeeder no_input{std::string_view()};
  StdinFeeder& input = feeder ? *feeder : no_input;
  while (child.running(ec)) {
    if (std::chrono::steady_clock::now() >= deadline) {
      result.timed_out = true;
      group.terminate(ec);
      child.terminate(ec);
      break;
    }
    input.pump(std::chrono::milliseconds(5));
  }
  child.wait(ec);
  result.exit_code = result.timed_out ? -1 : child.exit_code();
  return result;
}

}  // namespace

Result<CommandResult> RealCommandRunner::execute(const CommandRequest& request) {
  const std::vector<std::string>& argv = request.argv;
  if (argv.empty()) return Status::invalid("empty command");
  boost::filesystem::path exe = argv[0];
  if (argv[0].find('/') == std::string::npos) {
    exe = bp::search_path(argv[0]);
    if (exe.empty()) return Status::not_found("command not found: " + argv[0] + " (not on PATH)");
  }
  std::optional<StdinFeeder> feeder;
  if (!request.input.empty()) {
    feeder.emplace(request.input);
    if (Status s = feeder->open(); !s) return s;
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
    result = run_child(exe, request, out_path, feeder ? &*feeder : nullptr);
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
