// What the commands act through: the real system in ecertctl (cli/main.cc),
// a disk with numbered write faults in its test build (tests/faults/).
#pragma once

#include "engine/services.h"
#include "util/syslog.h"

namespace ecert::cli {

struct Runtime {
  FileSystem& fs;
  CommandRunner& runner;
  const Clock& clock;
  TlsProbe& tls;
  KeySource& keys;
  SystemLog& log;
};

// Parses the command line and runs one subcommand through `rt`. Returns the
// process exit code: 0 success, 1 error, 2 (plan --detailed-exitcode)
// changes to make.
int run_cli(int argc, char** argv, Runtime& rt);

// run_cli with the real command runner, clock, TLS probe and system log,
// on `fs` (the real disk; in the test build, one with numbered write faults).
int run_cli_on(FileSystem& fs, int argc, char** argv);

}  // namespace ecert::cli
