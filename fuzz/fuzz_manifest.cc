// libFuzzer target: the manifest loader must never crash, hang or throw on
// any bytes (YAML bombs, deep nesting, NUL bytes, invalid UTF-8 ...), and
// every failure must carry at least one diagnostic.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "manifest/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  ecert::LoadResult r = ecert::load_manifest_text(text, "/fuzz/ecert.yaml");
  // Property: a refused manifest says why.
  if (!r.ok() && r.diagnostics.empty()) std::abort();
  return 0;
}
