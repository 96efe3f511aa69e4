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

TEST_CASE("status shows each site's renewal: due since, staged since, days left, and the metrics") {
  Manifest m;
  Site s;
  s.name = "www0.example.com";
  m.sites.push_back(s);
  StatusReport r;
  r.observed.now = 1800000000;
  r.observed.sites.resize(1);
  r.plan = sample(1).plan;
  RenewalState& rs = r.plan.sites[0].renewal;
  rs.due_since = r.observed.now - 5 * 86400;
  rs.staged_since = r.observed.now - 4 * 86400;
  rs.csr_to_submit = "/srv/www.csr.new";
  rs.not_after = r.observed.now + 40 * 86400;
  r.sites.push_back({&m.sites[0], &r.observed.sites[0], &r.plan.sites[0], std::nullopt});
  const nlohmann::json j = status_json(r, "m.yaml")["sites"][0]["renewal"];
  CHECK(j["due"] == true);
  CHECK(j["due_since"] == "2027-01-10T08:00:00Z");
  CHECK(j["staged_since"] == "2027-01-11T08:00:00Z");
  CHECK(j["days_left"] == 40);
  CHECK(j["csr_to_submit"] == "/srv/www.csr.new");
  CHECK(status_text(r).find("  renewal      due since 2027-01-10, staged since 2027-01-11, CSR to submit: "
                            "/srv/www.csr.new, 40 days left\n") != std::string::npos);
  const std::string metrics = status_prometheus(r);
  CHECK(metrics.find("ecertctl_certificate_renewal_due{site=\"www0.example.com\",feature=\"standard\"} 1\n") !=
        std::string::npos);
  CHECK(metrics.find("ecertctl_certificate_renewal_staged_timestamp_seconds{site=\"www0.example.com\","
                     "feature=\"standard\"} 1799654400\n") != std::string::npos);
  rs = RenewalState{};
  const std::string quiet = status_prometheus(r);
  CHECK(quiet.find("ecertctl_certificate_renewal_due{site=\"www0.example.com\",feature=\"standard\"} 0\n") !=
        std::string::npos);
  CHECK(quiet.find("ecertctl_certificate_renewal_staged_timestamp_seconds{") == std::string::npos);
}

TEST_CASE("a reason with bytes that are not UTF-8 (a certificate's name) is written, not thrown") {
  Report r = sample(1);
  r.plan.sites[0].changes[0].reason = "certificate CN is 'www.\xff\xfe.example'";
  std::ostringstream json, ansible;
  CHECK_NOTHROW(write_report_json(json, r, "/srv/ecert.yaml"));
  CHECK_NOTHROW(write_report_ansible(ansible, r));
  CHECK(json.str().find("www.\xef\xbf\xbd\xef\xbf\xbd.example") != std::string::npos);  // U+FFFD twice
  CHECK_NOTHROW(report_salt(r));
}

}  // namespace
}  // namespace ecert
