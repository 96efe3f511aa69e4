// Saved plans: reading whatever the file holds (a plan, or the one message
// that names the file; fuzz_saved_plan replays the corpus of such files),
// and refusing a plan when the plan made now differs from it.
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


namespace {

Report sample() {
  Report r;
  r.command = "plan";
  r.dry_run = true;
  SitePlan s;
  s.name = "www.example.com";
  s.feature = "standard";
  Change chain;
  chain.kind = ResourceKind::kChain;
  chain.action = Action::kCreate;
  chain.path = "/srv/chain.crt";
  chain.reason = "sub then cross";
  chain.apache_reads = true;
  chain.payload = WriteFile{std::make_shared<const std::string>("SUB+CROSS"), {"/ca/sub.crt", "/ca/cross.crt"}};
  s.changes.push_back(chain);
  r.plan.sites.push_back(s);
  r.plan.inputs = {{"/srv/www.cer", "d1"}, {"/srv/chain.crt", "absent"}};
  return r;
}

}  // namespace

TEST_CASE("saved plan: the plan made now must have every input's digest and every change's action and payload") {
  const Report r = sample();
  auto saved = parse_saved_plan(render_saved_plan(r, "/srv/ecert.yaml", "m1", {"www.example.com"}), "p.json");
  REQUIRE_MESSAGE(saved, saved.status().message());
  CHECK(saved->manifest_path == "/srv/ecert.yaml");
  CHECK(saved->manifest_sha256 == "m1");
  CHECK(saved->selected_sites == std::vector<std::string>{"www.example.com"});
  CHECK(check_saved_plan(*saved, r.plan).is_ok());

  Plan input_changed = r.plan;
  input_changed.inputs["/srv/www.cer"] = "d2";
  CHECK(check_saved_plan(*saved, input_changed).message() ==
        "the saved plan is stale: 1 input(s) changed since it was made; nothing was done. Make a new plan.\n"
        "  /srv/www.cer");

  Plan action_changed = r.plan;  // same inputs, yet another action (e.g. a clock moved past a window)
  action_changed.sites[0].changes[0].action = Action::kUpdate;
  CHECK(check_saved_plan(*saved, action_changed).message() ==
        "the saved plan is stale: the plan made now differs from it in 1 change(s); nothing was done. Make a new "
        "plan.\n  www.example.com chain");

  Plan payload_changed = r.plan;  // same action, other bytes
  payload_changed.sites[0].changes[0].payload =
      WriteFile{std::make_shared<const std::string>("OTHER"), {"/ca/sub.crt", "/ca/cross.crt"}};
  CHECK_FALSE(check_saved_plan(*saved, payload_changed).is_ok());

  CHECK_FALSE(parse_saved_plan("{\"kind\":\"something else\"}", "p.json"));
  CHECK(parse_saved_plan("not json", "p.json").status().message() ==
        "p.json is not a plan saved by `ecertctl plan --out`");
}

}  // namespace ecert
