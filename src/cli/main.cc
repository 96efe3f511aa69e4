// ecertctl: the real system behind the command line (cli/cli.cc).
#include <iostream>

#include "cli/runtime.h"
#include "util/harden.h"

int main(int argc, char** argv) {
  // First thing: passphrases and keys will be in memory; no core file, no
  // reading it through /proc by another process of the same user.
  if (ecert::Status s = ecert::disable_core_dumps(); !s) {
    std::cerr << "ecertctl: " << s.message() << "; refusing to handle keys without it\n";
    return 1;
  }
  ecert::RealFileSystem fs;
  return ecert::cli::run_cli_on(fs, argc, argv);
}
