// Saved plans: written, read back, and refused when the plan made now differs.
#include <doctest/doctest.h>

#include "engine/saved_plan.h"

namespace ecert {
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
