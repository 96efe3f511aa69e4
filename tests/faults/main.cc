// ecertctl-faults: ecertctl on a disk whose write steps are numbered and can
// be made to fail or to kill the process (util/fault_fs.h: EnvWriteSteps),
// for the reliability tests. Built for tests only, never installed.
#include "cli/runtime.h"
#include "util/fault_fs.h"

int main(int argc, char** argv) {
  ecert::EnvWriteSteps steps;
  ecert::RealFileSystem fs(ecert::kMaxReadSize, &steps);
  ecert::RealCommandRunner runner;
  ecert::SystemClock clock;
  ecert::RealTlsProbe tls(fs);
  ecert::Syslog log;
  ecert::cli::Runtime rt{fs, runner, clock, tls, log};
  return ecert::cli::run_cli(argc, argv, rt);
}
