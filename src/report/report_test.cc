// The streamed JSON writers must print exactly what the JSON documents dump.
#include <doctest/doctest.h>

#include <sstream>

#include "report/report.h"
#include "report/status_view.h"

namespace ecert {
namespace {

Report sample(std::size_t sites) {
  Report r;
  r.command = "apply";
  for (std::size_t i = 0; i < sites; ++i) {
    SitePlan s;
    s.name = "www" + std::to_string(i) + ".xn--3pqw8o2pk43espw.com";
    s.unicode_name = i % 2 ? "www" + std::to_string(i) + ".我的伺服器.com" : s.name;
    s.feature = "standard";
    s.changes.push_back({ResourceKind::kKey, Action::kNoOp, "/srv/k\"ey\n" + std::to_string(i), "RSA 2048,\topens", false,
                         false, std::nullopt, {}});
    s.changes.push_back({ResourceKind::kVhost, Action::kUpdate, "/etc/a.conf:3", "SSLCertificateFile a -> b", true,
                         false, std::nullopt, EditConfig{}});
    if (i == 1) s.warnings.push_back("expires in 10 days");
    r.plan.sites.push_back(std::move(s));
  }
  r.applied.emplace();
  for (const auto& sp : r.plan.sites) r.applied->changes.emplace_back(sp.changes.size());
  if (sites > 1) r.applied->verified.push_back({r.plan.sites[1].name, true, "127.0.0.1:8443: matches"});
  r.diffs.push_back({"/etc/a.conf", "before\n", "after\n"});
  r.errors.push_back("an error");
  return r;
}

TEST_CASE("write_report_json and write_report_ansible print what the documents dump") {
  for (std::size_t n : {0, 1, 3}) {
    CAPTURE(n);
    const Report r = sample(n);
    std::ostringstream json, ansible;
    write_report_json(json, r, "/srv/ecert.yaml");
    write_report_ansible(ansible, r);
    CHECK(json.str() == report_json(r, "/srv/ecert.yaml").dump(2) + "\n");
    CHECK(ansible.str() == report_ansible(r, "/srv/ecert.yaml").dump(2) + "\n");
  }
}

TEST_CASE("write_status_json prints what status_json dumps") {
  Manifest m;
  for (int i = 0; i < 3; ++i) {
    Site s;
    s.name = "www" + std::to_string(i) + ".example.com";
    m.sites.push_back(s);
  }
  StatusReport r;
  r.observed.sites.resize(3);
  r.observed.sites[1].key.opened = true;
  r.observed.sites[1].key.bits = 2048;
  r.observed.sites[2].cert.parsed = true;
  r.observed.sites[2].cert.info.serial = "0A";
  r.plan = sample(3).plan;
  for (std::size_t i = 0; i < 3; ++i) r.sites.push_back({&m.sites[i], &r.observed.sites[i], &r.plan.sites[i], std::nullopt});
  std::ostringstream out;
  write_status_json(out, r, "m.yaml");
  CHECK(out.str() == status_json(r, "m.yaml").dump(2) + "\n");
  StatusReport none;
  std::ostringstream empty;
  write_status_json(empty, none, "m.yaml");
  CHECK(empty.str() == status_json(none, "m.yaml").dump(2) + "\n");
}

}  // namespace
}  // namespace ecert
