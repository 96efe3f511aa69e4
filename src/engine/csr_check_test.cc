// The csr command's choice: only a CSR that is right for its key is printed.
#include <doctest/doctest.h>

#include "engine/csr_check.h"

namespace ecert {
namespace {

Site site_of() {
  Site s;
  s.name = "www.example.com";
  s.organization = "My Organization";
  s.key.path = "/srv/www.key";
  s.csr = "/srv/www.csr";
  s.certificate = "/srv/www.cer";
  return s;
}

KeyFacts key(const std::string& id) {
  KeyFacts k;
  k.file = FileFacts{true, "key-" + id, Status::ok()};
  k.opened = true;
  k.public_key_id = id;
  return k;
}

CsrFacts csr(const Site& s, const std::string& key_id) {
  CsrFacts c;
  c.file = FileFacts{true, "csr-" + key_id, Status::ok()};
  c.parsed = true;
  c.info = CachedCsr{0, crypto::ecert_subject(s.organization, s.name), key_id, true, 0, "SHA256"};
  return c;
}

}  // namespace

TEST_CASE("csr_to_submit: the live CSR, the staged one while a renewal is staged, never a wrong one") {
  const Site s = site_of();
  SiteFacts f;
  f.key = key("LIVE");
  f.csr = csr(s, "LIVE");
  auto live = csr_to_submit(s, f, "m.yaml");
  REQUIRE(live);
  CHECK(live->csr_path == "/srv/www.csr");
  CHECK_FALSE(live->renewal);
  CHECK(live->digest == "csr-LIVE");

  SUBCASE("a <csr>.new without a staged key is not a renewal: the live CSR is the one") {
    f.stage().csr = csr(s, "PLANTED");
    CHECK(csr_to_submit(s, f, "m.yaml")->csr_path == "/srv/www.csr");
  }
  SUBCASE("a CSR with the right subject for another key is refused") {
    f.csr = csr(s, "PLANTED");
    auto planted = csr_to_submit(s, f, "m.yaml");
    REQUIRE_FALSE(planted);
    CHECK(planted.status().message() ==
          "/srv/www.csr is not the CSR to send for the key /srv/www.key: CSR was made for another key; run ecertctl "
          "apply -f m.yaml to write it again");
  }
  SUBCASE("a CSR whose signature does not verify is refused") {
    f.csr.info.signature_valid = false;
    CHECK(csr_to_submit(s, f, "m.yaml").status().message().find("CSR signature does not verify") != std::string::npos);
  }
  SUBCASE("staged: the staged CSR for the staged key") {
    f.stage().key = key("NEXT");
    f.stage().csr = csr(s, "NEXT");
    auto next = csr_to_submit(s, f, "m.yaml");
    REQUIRE(next);
    CHECK(next->csr_path == "/srv/www.csr.new");
    CHECK(next->key_path == "/srv/www.key.new");
    CHECK(next->renewal);
    f.stage().csr = csr(s, "LIVE");  // the live key's: not the one for the staged key
    CHECK(csr_to_submit(s, f, "m.yaml").status().message().find(
              "run ecertctl rotate -f m.yaml --site www.example.com") != std::string::npos);
  }
}

}  // namespace ecert
