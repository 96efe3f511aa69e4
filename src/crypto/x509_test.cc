#include "crypto/x509.h"

#include <doctest/doctest.h>

#include <algorithm>

#include "crypto/test_pki.h"
#include "util/time.h"

namespace ecert::crypto {
namespace {

using testpki::hkpost_pki;

constexpr std::time_t kDay = 24 * 60 * 60;

const Certificate& leaf() {
  static const Certificate cert = [] {
    auto c = hkpost_pki().issue_leaf(testpki::cached_key(1), "www.myserver.com", false,
                                     {"www.myserver.com", "myserver.com"});
    REQUIRE(c);
    return std::move(c).value();
  }();
  return cert;
}

// Same subject as the standard sub CA, its own key: a CA that merely
// claims the name.
const Certificate& impostor_sub() {
  static const Certificate cert = [] {
    testpki::CertSpec spec;
    spec.subject = testpki::hkpost_name("Hongkong Post e-Cert SSL CA 3 - 17");
    spec.ca = true;
    auto c = testpki::make_root(testpki::cached_key(3), spec);
    REQUIRE(c);
    return std::move(c).value();
  }();
  return cert;
}

}  // namespace

TEST_CASE("PEM and DER parse to the same certificate") {
  const std::string pem = leaf().pem();
  CHECK(pem.rfind("-----BEGIN CERTIFICATE-----\n", 0) == 0);
  CHECK(pem.size() > 40);
  CHECK(pem.substr(pem.size() - 26) == "-----END CERTIFICATE-----\n");

  auto from_pem = Certificate::parse("Subject: some text a tool put first\n" + pem);
  REQUIRE(from_pem);
  CHECK_FALSE(from_pem->was_der());
  CHECK(from_pem->der() == leaf().der());

  auto from_der = Certificate::parse(leaf().der());
  REQUIRE(from_der);
  CHECK(from_der->was_der());
  CHECK(from_der->pem() == pem);
}

TEST_CASE("parse takes the first certificate of a bundle and skips other blocks") {
  const auto& pki = hkpost_pki();
  auto first = Certificate::parse(pki.chain_pem());
  REQUIRE(first);
  CHECK(first->common_name() == "Hongkong Post e-Cert SSL CA 3 - 17");

  auto csr = make_csr_pem(testpki::cached_key(1), ecert_subject("Org", "a.example.com"));
  REQUIRE(csr);
  auto after_csr = Certificate::parse(*csr + leaf().pem());
  REQUIRE(after_csr);
  CHECK(after_csr->der() == leaf().der());
}

TEST_CASE("parse rejects what is not a certificate") {
  auto empty = Certificate::parse("");
  REQUIRE_FALSE(empty);
  CHECK(empty.status().message().find("empty") != std::string::npos);

  auto text = Certificate::parse("hello world");
  REQUIRE_FALSE(text);
  CHECK(text.status().message().find("neither PEM") != std::string::npos);

  auto csr = make_csr_pem(testpki::cached_key(1), ecert_subject("Org", "a.example.com"));
  REQUIRE(csr);
  auto only_csr = Certificate::parse(*csr);
  REQUIRE_FALSE(only_csr);
  CHECK(only_csr.status().message() ==
        "not a certificate: no \"-----BEGIN CERTIFICATE-----\" block");

  auto bad_base64 =
      Certificate::parse("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n");
  REQUIRE_FALSE(bad_base64);
  CHECK(bad_base64.status().message().rfind("not a valid PEM certificate: ", 0) == 0);

  std::string der = leaf().der();
  der.resize(der.size() / 2);
  auto truncated = Certificate::parse(der);
  REQUIRE_FALSE(truncated);
  CHECK(truncated.status().message().rfind("not a valid DER certificate: ", 0) == 0);
}

TEST_CASE("parse_bundle returns every certificate in order") {
  const auto& pki = hkpost_pki();
  auto bundle = Certificate::parse_bundle(pki.chain_pem() + "\n# a comment\n" + leaf().pem());
  REQUIRE(bundle);
  REQUIRE(bundle->size() == 3);
  CHECK((*bundle)[0].der() == pki.sub.der());
  CHECK((*bundle)[1].der() == pki.cross.der());
  CHECK((*bundle)[2].der() == leaf().der());

  auto der_one = Certificate::parse_bundle(leaf().der());
  REQUIRE(der_one);
  CHECK(der_one->size() == 1);

  CHECK_FALSE(Certificate::parse_bundle(""));
  CHECK_FALSE(Certificate::parse_bundle("no certificates here\n"));
  auto damaged = Certificate::parse_bundle(
      pki.sub.pem() + "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
  REQUIRE_FALSE(damaged);
  CHECK(damaged.status().message().rfind("certificate #2 is not valid: ", 0) == 0);
}

TEST_CASE("facts of a certificate") {
  const auto& pki = hkpost_pki();
  const Certificate& c = leaf();
  CHECK(c.common_name() == "www.myserver.com");
  CHECK(c.dns_names() == std::vector<std::string>{"www.myserver.com", "myserver.com"});
  CHECK(format_name(c.subject()) == "C=HK, O=Test Organization, CN=www.myserver.com");
  CHECK(format_name(c.issuer()) ==
        "C=HK, ST=Hong Kong, L=Hong Kong, O=Hongkong Post, CN=Hongkong Post e-Cert SSL CA 3 - 17");
  CHECK(c.public_key_der() == testpki::cached_key(1).public_key_der());
  CHECK(pki.gs_root.dns_names().empty());
  CHECK(pki.gs_root.subject().front() == std::pair<std::string, std::string>{"OU", "GlobalSign Root CA - R3"});

  const std::string serial = c.serial_hex();
  CHECK_FALSE(serial.empty());
  CHECK(serial.find_first_not_of("0123456789ABCDEF") == std::string::npos);
  CHECK(serial != pki.sub.serial_hex());

  const std::time_t now = std::time(nullptr);
  CHECK(c.not_before() <= now);
  CHECK(c.not_before() > now - 2 * kDay);
  CHECK(c.not_after() - c.not_before() == 365 * kDay);
}

TEST_CASE("validity times survive exactly, also past 2049 (GeneralizedTime)") {
  const std::time_t nb = 1700000000;   // 2023-11-14T22:13:20Z
  const std::time_t na = 2600000000;   // 2052-05-24, GeneralizedTime
  auto c = hkpost_pki().issue_leaf(testpki::cached_key(1), "t.example.com", false, {}, nb, na);
  REQUIRE(c);
  CHECK(c->not_before() == nb);
  CHECK(c->not_after() == na);
}

TEST_CASE("signed_by is a signature proof, not a name match") {
  const auto& pki = hkpost_pki();
  CHECK(leaf().signed_by(pki.sub));
  CHECK(pki.sub.signed_by(pki.cross));
  CHECK(pki.sub.signed_by(pki.hk_root));
  CHECK(pki.cross.signed_by(pki.gs_root));
  CHECK(pki.gs_root.signed_by(pki.gs_root));

  CHECK_FALSE(leaf().signed_by(pki.ev_sub));
  CHECK_FALSE(leaf().signed_by(pki.cross));
  CHECK_FALSE(pki.sub.signed_by(pki.gs_root));
  // Same issuer name, different key.
  REQUIRE(format_name(impostor_sub().subject()) == format_name(pki.sub.subject()));
  CHECK_FALSE(leaf().signed_by(impostor_sub()));
}

TEST_CASE("signed_by fails on a same-name issuer even without key identifiers") {
  // A leaf with no AKID: the check may not lean on key identifiers.
  const auto& pki = hkpost_pki();
  ossl::X509Ptr x(X509_dup(leaf().get()));
  REQUIRE(x);
  int idx = X509_get_ext_by_NID(x.get(), NID_authority_key_identifier, -1);
  REQUIRE(idx >= 0);
  X509_EXTENSION_free(X509_delete_ext(x.get(), idx));
  REQUIRE(X509_sign(x.get(), pki.sub_key.get(), EVP_sha256()) > 0);
  Certificate no_akid = Certificate::adopt(std::move(x));
  CHECK(no_akid.signed_by(pki.sub));
  CHECK_FALSE(no_akid.signed_by(impostor_sub()));
}

TEST_CASE("the Hongkong Post shaped chain verifies against the GlobalSign-like root") {
  const auto& pki = hkpost_pki();
  const std::time_t now = std::time(nullptr);
  CHECK(verify_chain(leaf(), pki.sub, pki.cross, pki.trust_pem(), now).is_ok());
  // The real bundle holds both roots: the served chain still goes through the cross certificate.
  CHECK(verify_chain(leaf(), pki.sub, pki.cross, pki.hk_root.pem() + pki.gs_root.pem(), now)
            .is_ok());

  auto ev_leaf = pki.issue_leaf(testpki::cached_key(2), "ev.example.com", true);
  REQUIRE(ev_leaf);
  CHECK(verify_chain(*ev_leaf, pki.ev_sub, pki.cross, pki.trust_pem(), now).is_ok());
}

TEST_CASE("verify_chain skips non-certificate blocks in the trust bundle") {
  const auto& pki = hkpost_pki();
  auto csr = make_csr_pem(testpki::cached_key(1), ecert_subject("Org", "a.example.com"));
  REQUIRE(csr);
  CHECK(verify_chain(leaf(), pki.sub, pki.cross, "# roots\n" + *csr + pki.gs_root.pem(),
                     std::time(nullptr))
            .is_ok());
}

TEST_CASE("verify_chain names the link that fails") {
  const auto& pki = hkpost_pki();
  const std::time_t now = std::time(nullptr);

  Status wrong_sub = verify_chain(leaf(), pki.ev_sub, pki.cross, pki.trust_pem(), now);
  CHECK(wrong_sub.message() ==
        "the sub CA 'Hongkong Post e-Cert EV SSL CA 3 - 17' did not sign the certificate "
        "(issuer: 'Hongkong Post e-Cert SSL CA 3 - 17')");

  Status impostor = verify_chain(leaf(), impostor_sub(), pki.cross, pki.trust_pem(), now);
  CHECK(impostor.message() ==
        "the sub CA 'Hongkong Post e-Cert SSL CA 3 - 17' did not sign the certificate "
        "(its issuer has that name but a different key)");

  Status wrong_cross = verify_chain(leaf(), pki.sub, pki.gs_root, pki.trust_pem(), now);
  CHECK(wrong_cross.message() ==
        "the cross certificate 'GlobalSign' did not sign the sub CA "
        "'Hongkong Post e-Cert SSL CA 3 - 17'");

  // A trust bundle without either root.
  Status unrooted = verify_chain(leaf(), pki.sub, pki.cross, impostor_sub().pem(), now);
  CHECK(unrooted.message().rfind("the chain does not reach a root in the trust bundle: ", 0) == 0);
  CHECK(unrooted.message().find("unable to get local issuer certificate") != std::string::npos);

  Status no_trust = verify_chain(leaf(), pki.sub, pki.cross, "", now);
  CHECK(no_trust.message() == "the trust bundle holds no certificate");
}

TEST_CASE("verify_chain checks validity at the given time") {
  const auto& pki = hkpost_pki();
  const std::time_t now = std::time(nullptr);
  auto expired = pki.issue_leaf(testpki::cached_key(1), "old.example.com", false, {},
                                now - 400 * kDay, now - 10 * kDay);
  REQUIRE(expired);
  Status st = verify_chain(*expired, pki.sub, pki.cross, pki.trust_pem(), now);
  REQUIRE_FALSE(st);
  CHECK(st.message() == "the certificate 'old.example.com' expired on " +
                            format_utc(now - 10 * kDay, "%Y-%m-%d") + "; the CA must issue it again");
  // The same chain was fine while the certificate was current.
  CHECK(verify_chain(*expired, pki.sub, pki.cross, pki.trust_pem(), now - 100 * kDay).is_ok());

  Status future = verify_chain(leaf(), pki.sub, pki.cross, pki.trust_pem(), now + 400 * kDay);
  CHECK(future.message().rfind("the certificate 'www.myserver.com' expired on ", 0) == 0);
}

namespace {

// "Hongkong Post Root CA 3" cross-signed by the GlobalSign-like root, as
// `spec` says (validity, digest).
Certificate cross_with(testpki::CertSpec spec) {
  const auto& pki = hkpost_pki();
  spec.subject = testpki::hkpost_name("Hongkong Post Root CA 3");
  spec.ca = true;
  auto c = testpki::issue(pki.gs_root, pki.gs_root_key, pki.hk_root_key.get(), spec);
  REQUIRE(c);
  return std::move(c).value();
}

// The standard sub CA (same name and key) signed by Hongkong Post Root CA 3 as `spec` says.
Certificate sub_with(testpki::CertSpec spec) {
  const auto& pki = hkpost_pki();
  spec.subject = testpki::hkpost_name("Hongkong Post e-Cert SSL CA 3 - 17");
  spec.ca = true;
  auto c = testpki::issue(pki.hk_root, pki.hk_root_key, pki.sub_key.get(), spec);
  REQUIRE(c);
  return std::move(c).value();
}

std::string both_roots() { return hkpost_pki().hk_root.pem() + hkpost_pki().gs_root.pem(); }

}  // namespace

TEST_CASE("the served cross certificate is checked even when the trust bundle holds Hongkong Post Root CA 3") {
  const auto& pki = hkpost_pki();
  const std::time_t now = std::time(nullptr);
  testpki::CertSpec spec;
  spec.not_before = now - 1000 * kDay;
  spec.not_after = now - 10 * kDay;
  const Certificate expired = cross_with(spec);
  REQUIRE(pki.sub.signed_by(expired));  // the same key: only its validity is wrong

  const std::string expected = "the cross certificate 'Hongkong Post Root CA 3' expired on " +
                               format_utc(spec.not_after, "%Y-%m-%d") +
                               "; download the current one from Hongkong Post";
  for (const std::string& trust : {both_roots(), pki.trust_pem()}) {
    Status st = verify_chain(leaf(), pki.sub, expired, trust, now);
    CHECK(st.message() == expected);
    CHECK(verify_chain(leaf(), pki.sub, expired, TrustStore::from_pem(trust), now).message() == expected);
  }

  // A trust bundle with Hongkong Post Root CA 3 alone cannot vouch for the
  // served cross certificate: the path must go through it.
  Status hk_only = verify_chain(leaf(), pki.sub, pki.cross, pki.hk_root.pem(), now);
  CHECK(hk_only.message() ==
        "the chain does not reach a root in the trust bundle: unable to get local issuer certificate "
        "(at the cross certificate 'Hongkong Post Root CA 3', issued by 'GlobalSign'); use a trust bundle "
        "that holds that root");
}

TEST_CASE("every signature on the served chain uses SHA-256 or better") {
  const auto& pki = hkpost_pki();
  const std::time_t now = std::time(nullptr);
  testpki::CertSpec sha1;
  sha1.digest = "SHA1";

  const Certificate sha1_sub = sub_with(sha1);
  REQUIRE(leaf().signed_by(sha1_sub));
  for (const std::string& trust : {pki.trust_pem(), both_roots()})
    CHECK(verify_chain(leaf(), sha1_sub, pki.cross, trust, now).message() ==
          "the sub CA 'Hongkong Post e-Cert SSL CA 3 - 17' is signed with SHA1 (sha1WithRSAEncryption), "
          "which is no longer safe: every certificate Apache serves must be signed with SHA-256 or "
          "stronger; download the current one from Hongkong Post");

  CHECK(verify_chain(leaf(), pki.sub, cross_with(sha1), both_roots(), now).message() ==
        "the cross certificate 'Hongkong Post Root CA 3' is signed with SHA1 (sha1WithRSAEncryption), "
        "which is no longer safe: every certificate Apache serves must be signed with SHA-256 or "
        "stronger; download the current one from Hongkong Post");

  testpki::CertSpec leaf_spec;
  leaf_spec.subject = {{"C", "HK"}, {"O", "Test Organization"}, {"CN", "sha1.example.com"}};
  leaf_spec.digest = "SHA1";
  auto sha1_leaf = testpki::issue(pki.sub, pki.sub_key, testpki::cached_key(1).get(), leaf_spec);
  REQUIRE(sha1_leaf);
  CHECK(verify_chain(*sha1_leaf, pki.sub, pki.cross, pki.trust_pem(), now).message() ==
        "the certificate 'sha1.example.com' is signed with SHA1 (sha1WithRSAEncryption), which is no "
        "longer safe: every certificate Apache serves must be signed with SHA-256 or stronger; the CA must "
        "issue it again");

  testpki::CertSpec md5;
  md5.digest = "MD5";
  CHECK(verify_chain(leaf(), sub_with(md5), pki.cross, pki.trust_pem(), now).message().rfind(
            "the sub CA 'Hongkong Post e-Cert SSL CA 3 - 17' is signed with MD5 (md5WithRSAEncryption), which is "
            "no longer safe",
            0) == 0);

  testpki::CertSpec sha384;
  sha384.digest = "SHA384";
  CHECK(verify_chain(leaf(), sub_with(sha384), pki.cross, both_roots(), now).is_ok());
}

TEST_CASE("the validity window of a verified chain includes the served cross certificate") {
  const auto& pki = hkpost_pki();
  const std::time_t now = std::time(nullptr);
  testpki::CertSpec spec;
  spec.not_before = now - 100 * kDay;
  spec.not_after = now + 20 * kDay;  // ends before anything else on the path
  const Certificate short_cross = cross_with(spec);
  for (const std::string& trust : {both_roots(), pki.trust_pem()}) {
    ValidityWindow valid;
    REQUIRE(verify_chain(leaf(), pki.sub, short_cross, TrustStore::from_pem(trust), now, &valid).is_ok());
    CHECK(valid.until == spec.not_after);
    CHECK(valid.from == std::max({leaf().not_before(), pki.sub.not_before(), spec.not_before,
                                  pki.gs_root.not_before()}));
  }
}

TEST_CASE("an expired root in the trust bundle is a chain not valid at this time") {
  const auto& pki = hkpost_pki();
  const std::time_t now = std::time(nullptr);
  testpki::CertSpec spec{{{"OU", "GlobalSign Root CA - R3"}, {"O", "GlobalSign"}, {"CN", "GlobalSign"}},
                         {}, now - 4000 * kDay, now - 1 * kDay, true};
  auto old_root = testpki::make_root(pki.gs_root_key, spec);  // the same key: it signed the cross certificate
  REQUIRE(old_root);
  CHECK(verify_chain(leaf(), pki.sub, pki.cross, old_root->pem(), now).message() ==
        "the chain is not valid at this time: certificate has expired (at 'GlobalSign')");
}

TEST_CASE("a served certificate that is not yet valid is named") {
  const auto& pki = hkpost_pki();
  const std::time_t now = std::time(nullptr);
  testpki::CertSpec spec;
  spec.not_before = now + 5 * kDay;
  spec.not_after = now + 900 * kDay;
  CHECK(verify_chain(leaf(), sub_with(spec), pki.cross, both_roots(), now).message() ==
        "the sub CA 'Hongkong Post e-Cert SSL CA 3 - 17' is not valid before " +
            format_utc(spec.not_before, "%Y-%m-%d") + "; download the current one from Hongkong Post");
}

TEST_CASE("a certificate issued from our CSR carries its subject and key, and chains") {
  const auto& pki = hkpost_pki();
  const PrivateKey& key = testpki::cached_key(2);
  auto csr = make_csr_pem(key, ecert_subject("My Organization", "shop.example.com"));
  REQUIRE(csr);
  testpki::CertSpec spec;
  spec.dns_names = {"shop.example.com", "www.shop.example.com"};
  auto cert = testpki::issue_from_csr(pki.sub, pki.sub_key, *csr, spec);
  REQUIRE(cert);
  CHECK(cert->subject() == ecert_subject("My Organization", "shop.example.com"));
  CHECK(cert->public_key_der() == key.public_key_der());
  CHECK(cert->dns_names() == spec.dns_names);
  CHECK(verify_chain(*cert, pki.sub, pki.cross, pki.trust_pem(), std::time(nullptr)).is_ok());
}

TEST_CASE("copies share the certificate") {
  Certificate copy = leaf();
  CHECK(copy.get() == leaf().get());
  Certificate other = hkpost_pki().sub;
  other = copy;
  CHECK(other.der() == leaf().der());
}

}  // namespace ecert::crypto
