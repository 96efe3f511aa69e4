// Running external commands (apache2ctl, the notify command) as an interface,
// so that dry runs and unit tests use a runner that records instead of
// executing.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "util/status.h"

namespace ecert {

struct CommandResult {
  int exit_code = -1;
  bool timed_out = false;
  std::string output;  // stdout and stderr interleaved, as a terminal shows them
};

struct CommandRequest {
  std::vector<std::string> argv;  // argv[0] without a '/' is looked up on PATH
  std::chrono::seconds timeout{30};
  // Environment variables passed on to the command (by name, with their
  // value in ecertctl's environment; an unset name stays unset) beyond the
  // minimal set every command gets: PATH, LANG and LC_*. Nothing else of
  // ecertctl's environment reaches a command.
  std::vector<std::string> pass_env;
  // Written to the command's stdin (a pipe), which is then closed. Empty:
  // stdin is /dev/null.
  std::string input;
};

class CommandRunner {
 public:
  virtual ~CommandRunner() = default;

  // Runs request.argv without a shell, in the environment described at
  // CommandRequest::pass_env, stdin as CommandRequest::input says (never a
  // terminal). A command still running after request.timeout is killed with
  // its process group and reported as timed_out. Input the command does not
  // read is dropped when it exits; it never blocks the runner.
  // Returns an error only when the command could not be started at all.
  // REQUIRES: request.argv is not empty.
  virtual Result<CommandResult> execute(const CommandRequest& request) = 0;

  // execute() with no extra environment and stdin at /dev/null.
  Result<CommandResult> run(const std::vector<std::string>& argv, std::chrono::seconds timeout) {
    CommandRequest request;
    request.argv = argv;
    request.timeout = timeout;
    return execute(request);
  }
};

class RealCommandRunner : public CommandRunner {
 public:
  Result<CommandResult> execute(const CommandRequest& request) override;
};

// Renders argv for messages: words with spaces or quotes are quoted.
std::string format_argv(const std::vector<std::string>& argv);

}  // namespace ecert
