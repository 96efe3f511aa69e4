// ecertctl-faults: ecertctl on a disk whose write steps are numbered and can
// be made to fail or to kill the process (util/fault_fs.h: EnvWriteSteps),
// for the reliability tests. Built for tests only, never installed.
#include "cli/runtime.h"
#include "util/fault_fs.h"

int main(int argc, char** argv) {
  ecert::EnvWriteSteps steps;
  ecert::RealFileSystem fs(ecert::kMaxReadSize, &steps);
  return ecert::cli::run_cli_on(fs, argc, argv);
}
