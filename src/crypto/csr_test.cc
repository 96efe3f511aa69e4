#include "crypto/csr.h"

#include <doctest/doctest.h>
#include <openssl/pem.h>

#include "crypto/test_pki.h"

namespace ecert::crypto {

TEST_CASE("ecert_subject is in the CA's order") {
  NameEntries expected{{"C", "HK"}, {"ST", "Hong Kong"}, {"L", "Hong Kong"},
                       {"O", "My Organization"}, {"CN", "www.myserver.com"}};
  CHECK(ecert_subject("My Organization", "www.myserver.com") == expected);
  CHECK(format_name(expected) ==
        "C=HK, ST=Hong Kong, L=Hong Kong, O=My Organization, CN=www.myserver.com");
  CHECK(format_name({}) == "");
}

TEST_CASE("make_csr_pem writes the CSR the CA asks for") {
  const PrivateKey& key = testpki::cached_key(1);
  auto pem = make_csr_pem(key, ecert_subject("My Organization", "www.myserver.com"));
  REQUIRE(pem);
  CHECK(pem->rfind("-----BEGIN CERTIFICATE REQUEST-----\n", 0) == 0);

  auto info = parse_csr(*pem);
  REQUIRE(info);
  CHECK(info->version == 0);
  CHECK(info->subject == ecert_subject("My Organization", "www.myserver.com"));
  CHECK(info->public_key_der == key.public_key_der());
  CHECK(info->signature_valid);
  CHECK(info->attribute_count == 0);
  CHECK(info->signature_digest == "SHA256");

  // No extension request hides anywhere, and the strings are as openssl req
  // makes them: C PrintableString, the rest UTF8String.
  ossl::Bio bio = ossl::read_bio(*pem);
  ossl::X509Req req(PEM_read_bio_X509_REQ(bio.get(), nullptr, ossl::no_passphrase_cb, nullptr));
  REQUIRE(req);
  STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(req.get());
  CHECK(sk_X509_EXTENSION_num(exts) <= 0);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  CHECK(ASN1_STRING_type(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, 0))) ==
        V_ASN1_PRINTABLESTRING);
  for (int i = 1; i < X509_NAME_entry_count(name); ++i) {
    CHECK(ASN1_STRING_type(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i))) ==
          V_ASN1_UTF8STRING);
  }
}

TEST_CASE("a Chinese organization survives in UTF-8") {
  const std::string org = "香港郵政測試有限公司";
  auto pem = make_csr_pem(testpki::cached_key(1), ecert_subject(org, "www.xn--3pqw8o2pk43espw.com"));
  REQUIRE(pem);
  auto info = parse_csr(*pem);
  REQUIRE(info);
  REQUIRE(info->subject.size() == 5);
  CHECK(info->subject[3] == std::pair<std::string, std::string>{"O", org});
  CHECK(info->subject[4].second == "www.xn--3pqw8o2pk43espw.com");
}

TEST_CASE("a wildcard CN goes in as written") {
  auto pem = make_csr_pem(testpki::cached_key(1), ecert_subject("Org", "*.myserver.com"));
  REQUIRE(pem);
  auto info = parse_csr(*pem);
  REQUIRE(info);
  CHECK(info->subject.back().second == "*.myserver.com");
}

TEST_CASE("a CN over 64 characters is refused with OpenSSL's reason") {
  std::string cn(60, 'a');
  cn += ".example.com";
  auto pem = make_csr_pem(testpki::cached_key(1), ecert_subject("Org", cn));
  REQUIRE_FALSE(pem);
  CHECK(pem.status().message().find("string too long") != std::string::npos);
}

TEST_CASE("parse_csr notices a broken signature") {
  auto pem = make_csr_pem(testpki::cached_key(1), ecert_subject("Org", "www.example.com"));
  REQUIRE(pem);
  // Re-sign the request body with a different key but keep the first key in
  // it: the signature no longer matches.
  ossl::Bio bio = ossl::read_bio(*pem);
  ossl::X509Req req(PEM_read_bio_X509_REQ(bio.get(), nullptr, ossl::no_passphrase_cb, nullptr));
  REQUIRE(req);
  REQUIRE(X509_REQ_sign(req.get(), testpki::cached_key(2).get(), EVP_sha256()) > 0);
  REQUIRE(X509_REQ_set_pubkey(req.get(), testpki::cached_key(1).get()) == 1);
  ossl::Bio out(BIO_new(BIO_s_mem()));
  REQUIRE(PEM_write_bio_X509_REQ(out.get(), req.get()) == 1);
  auto info = parse_csr(ossl::bio_contents(out.get()));
  REQUIRE(info);
  CHECK_FALSE(info->signature_valid);
}

TEST_CASE("parse_csr rejects what is not a CSR") {
  auto none = parse_csr("hello");
  REQUIRE_FALSE(none);
  CHECK(none.status().message().find("not a PEM certificate request") != std::string::npos);
  auto broken =
      parse_csr("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n");
  REQUIRE_FALSE(broken);
  CHECK(broken.status().message().rfind("not a readable PEM certificate request: ", 0) == 0);
}

}  // namespace ecert::crypto
