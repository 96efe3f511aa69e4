// libFuzzer target: the installed-state reader (engine/installed.h), which
// reads installed.json in the state directory event by event (SAX).
// Properties, whatever the bytes:
//  - parse_installed never crashes, hangs or throws;
//  - it reads what the JSON document says: the same records as a plain
//    reading of the whole document (json::parse), or none when that refuses
//    the text;
//  - what it reads renders and reads back as exactly itself.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "engine/installed.h"

namespace {

using nlohmann::json;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "property violated: %s\n", what);
  std::abort();
}

// The records of the document, read the obvious way: "sites" of the
// top-level object, each site an object whose string-valued "key",
// "certificate" and "chain" are taken.
ecert::InstalledState read_whole(std::string_view text) {
  ecert::InstalledState out;
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("sites") || !j["sites"].is_object()) return out;
  for (auto it = j["sites"].begin(); it != j["sites"].end(); ++it) {
    const json& site = it.value();
    if (!site.is_object()) continue;
    ecert::InstalledRecord r;
    auto field = [&](const char* k, std::string& to) {
      if (site.contains(k) && site[k].is_string()) to = site[k].get<std::string>();
    };
    field("key", r.key);
    field("certificate", r.certificate);
    field("chain", r.chain);
    out[it.key()] = r;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  const ecert::InstalledState state = ecert::parse_installed(text);
  if (state != read_whole(text)) fail("the event reader and the document disagree");
  if (ecert::parse_installed(ecert::render_installed(state)) != state) fail("parse(render(s)) != s");
  return 0;
}
