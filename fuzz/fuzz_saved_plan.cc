// libFuzzer target: the saved-plan reader (engine/saved_plan.h), which reads
// a file `ecertctl apply PLAN` is given. Properties, whatever the bytes:
//  - parse_saved_plan never crashes, hangs or throws;
//  - a refusal is the one message naming the file;
//  - an accepted plan, written back as a saved-plan document, reads back as
//    exactly itself (parse(render(p)) == p).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "engine/saved_plan.h"

namespace {

using nlohmann::json;
const std::string kFile = "/fuzz/ecert.plan";

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "property violated: %s\n", what);
  std::abort();
}

// `p` as a saved-plan document: each change as a site of its own, whose
// name and resource type join again into the change's key.
std::string render(const ecert::SavedPlan& p) {
  json sites = json::array();
  for (const auto& [key, change] : p.changes) {
    const std::size_t space = key.find(' ');
    if (space == std::string::npos) fail("a change key without a space");
    const json c = json::parse(change);
    sites.push_back({{"name", key.substr(0, space)},
                     {"resources", json::array({{{"type", key.substr(space + 1)},
                                                 {"action", c.at("action")},
                                                 {"payload", c.at("payload")}}})}});
  }
  return json{{"kind", "ecertctl-plan"},
              {"format_version", "1"},
              {"manifest_path", p.manifest_path},
              {"manifest_sha256", p.manifest_sha256},
              {"selected_sites", p.selected_sites},
              {"inputs", p.inputs},
              {"sites", sites}}
      .dump(2);
}

bool same(const ecert::SavedPlan& a, const ecert::SavedPlan& b) {
  return a.manifest_path == b.manifest_path && a.manifest_sha256 == b.manifest_sha256 &&
         a.selected_sites == b.selected_sites && a.inputs == b.inputs && a.changes == b.changes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto plan = ecert::parse_saved_plan(text, kFile);
  if (!plan) {
    if (plan.status().message() != kFile + " is not a plan saved by `ecertctl plan --out`")
      fail("a refusal that is not the one message");
    return 0;
  }
  auto again = ecert::parse_saved_plan(render(*plan), kFile);
  if (!again) fail("a plan written back is refused");
  if (!same(*again, *plan)) fail("parse(render(p)) != p");
  return 0;
}
