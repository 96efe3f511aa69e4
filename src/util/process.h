// Running external commands (apache2ctl) as an interface, so that dry runs and
// unit tests use a runner that records instead of executing.
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

class CommandRunner {
 public:
  virtual ~CommandRunner() = default;
  // Runs argv without a shell, stdin at /dev/null (never a terminal). A command still running after
  // `timeout` is killed with its process group and reported as timed_out.
  // Returns an error only when the command could not be started at all.
  virtual Result<CommandResult> run(const std::vector<std::string>& argv,
                                    std::chrono::seconds timeout) = 0;
};

class RealCommandRunner : public CommandRunner {
 public:
  Result<CommandResult> run(const std::vector<std::string>& argv,
                            std::chrono::seconds timeout) override;
};

// Renders argv for messages: words with spaces or quotes are quoted.
std::string format_argv(const std::vector<std::string>& argv);

}  // namespace ecert
