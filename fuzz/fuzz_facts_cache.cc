// libFuzzer target: the facts cache reader (engine/facts_cache.h), which
// reads a file in the state directory. Properties, whatever the bytes:
//  - parse_facts_cache never crashes, hangs or throws;
//  - what it keeps renders and reads back as exactly itself
//    (parse(render(c)) == c), and renders to the same bytes again (an
//    unchanged cache is never rewritten).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "engine/facts_cache.h"

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "property violated: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  const ecert::FactsCache cache = ecert::parse_facts_cache(text);
  const std::string rendered = ecert::render_facts_cache(cache);
  const ecert::FactsCache again = ecert::parse_facts_cache(rendered);
  if (!(again == cache)) fail("parse(render(c)) != c");
  if (ecert::render_facts_cache(again) != rendered) fail("render(parse(render(c))) != render(c)");
  return 0;
}
