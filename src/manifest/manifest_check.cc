// Loads one manifest and prints its diagnostics: the corpus test's view of
// the loader, independent of the ecertctl command line.
#include <iostream>

#include "manifest/loader.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: manifest_check MANIFEST\n";
    return 2;
  }
  ecert::RealFileSystem fs;
  ecert::LoadResult result = ecert::load_manifest_file(fs, argv[1]);
  for (const auto& d : result.diagnostics) std::cerr << d.str() << "\n";
  return result.ok() ? 0 : 1;
}
