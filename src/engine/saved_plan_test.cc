// Reading a saved plan: whatever the file holds, a plan or the one message
// that names the file (fuzz_saved_plan replays the corpus of such files).
#include <doctest/doctest.h>

#include <string>

#include "engine/saved_plan.h"

namespace ecert {
namespace {

const std::string kNotAPlan = "/srv/x.plan is not a plan saved by `ecertctl plan --out`";

}  // namespace

TEST_CASE("parse_saved_plan: the members it reads, with the change of each site's resource") {
  auto p = parse_saved_plan(R"({"kind": "ecertctl-plan", "format_version": "1", "manifest_path": "/m.yaml",
    "manifest_sha256": "d", "selected_sites": ["a"], "inputs": {"/k": "absent"},
    "sites": [{"name": "a", "resources": [{"type": "key", "action": "create", "payload": {"kind": "new-key"}},
                                          {"type": "csr", "action": "no-op", "payload": null}]}]})",
                            "/srv/x.plan");
  REQUIRE(p);
  CHECK(p->manifest_path == "/m.yaml");
  CHECK(p->manifest_sha256 == "d");
  CHECK(p->selected_sites == std::vector<std::string>{"a"});
  CHECK(p->inputs == std::map<std::string, std::string>{{"/k", "absent"}});
  CHECK(p->changes == std::map<std::string, std::string>{
                          {"a key", R"({"action":"create","payload":{"kind":"new-key"}})"},
                          {"a csr", R"({"action":"no-op","payload":null})"}});
}

TEST_CASE("parse_saved_plan: anything else is the one message naming the file, never an exception") {
  const char* not_plans[] = {
      "", "plan", "[]", R"({"kind": "terraform"})", R"({"kind": "ecertctl-plan", "format_version": "2"})",
      // Members of another type (found by reading the parser beside fuzz_saved_plan: value() threw).
      R"({"kind": 1})", R"({"kind": "ecertctl-plan", "format_version": 1})", R"({"kind": null})",
      R"({"kind": "ecertctl-plan", "format_version": "1", "manifest_path": 5})",
      R"({"kind": "ecertctl-plan", "format_version": "1", "manifest_path": "/m", "manifest_sha256": "d",
          "selected_sites": [], "inputs": {}, "sites": [{"name": "a", "resources": [{"type": 1}]}]})",
  };
  for (const char* text : not_plans) {
    CAPTURE(text);
    Result<SavedPlan> p = Status::invalid("unset");
    CHECK_NOTHROW(p = parse_saved_plan(text, "/srv/x.plan"));
    CHECK(p.status().message() == kNotAPlan);
  }
}

}  // namespace ecert
