#include "crypto/key.h"

#include <doctest/doctest.h>
#include <openssl/pem.h>

#include "crypto/test_pki.h"

namespace ecert::crypto {
namespace {

const PrivateKey& key2048() { return testpki::cached_key(1); }

}  // namespace

TEST_CASE("generate_rsa makes an RSA key of the asked size") {
  const PrivateKey& key = key2048();
  CHECK(key.is_rsa());
  CHECK(key.bits() == 2048);
  CHECK_FALSE(key.public_key_der().empty());

  auto big = PrivateKey::generate_rsa(3072);
  REQUIRE(big);
  CHECK(big->bits() == 3072);
  CHECK(big->public_key_der() != key.public_key_der());
}

TEST_CASE("generate_rsa refuses sizes the CA would not take") {
  auto small = PrivateKey::generate_rsa(1024);
  REQUIRE_FALSE(small);
  CHECK(small.status().code() == Status::Code::kInvalid);
  CHECK(small.status().message().find("1024") != std::string::npos);
}

TEST_CASE("encrypted PKCS#8 round trip with each cipher") {
  const SecretString pass("correct horse battery staple");
  for (Cipher cipher : {Cipher::kAes256Cbc, Cipher::kDesEde3Cbc}) {
    const std::string cipher_text = cipher_name(cipher);
    CAPTURE(cipher_text);
    auto pem = key2048().to_pem(cipher, &pass);
    INFO(pem.status().message());
    REQUIRE(pem);
    const std::string& text = pem->expose();
    CHECK(text.rfind("-----BEGIN ENCRYPTED " "PRIVATE KEY-----\n", 0) == 0);
    CHECK(text.find("-----END ENCRYPTED PRIVATE KEY-----") != std::string::npos);
    CHECK(pem_is_encrypted(text));

    auto back = PrivateKey::from_pem(text, &pass);
    REQUIRE(back);
    CHECK(back->public_key_der() == key2048().public_key_der());
    CHECK(back->bits() == 2048);
  }
}

TEST_CASE("the cipher is the one asked for") {
  const SecretString pass("pw-for-cipher-check");
  // The PBES2 parameters name the cipher's OID; check the DER holds it.
  auto aes = key2048().to_pem(Cipher::kAes256Cbc, &pass);
  auto des = key2048().to_pem(Cipher::kDesEde3Cbc, &pass);
  REQUIRE(aes);
  REQUIRE(des);
  auto decode = [](const std::string& pem) {
    ossl::Bio bio = ossl::read_bio(pem);
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long len = 0;
    REQUIRE(PEM_read_bio(bio.get(), &name, &header, &data, &len) == 1);
    std::string der(reinterpret_cast<char*>(data), static_cast<std::size_t>(len));
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    return der;
  };
  // aes-256-cbc 2.16.840.1.101.3.4.1.42; des-ede3-cbc 1.2.840.113549.3.7
  const std::string aes_oid("\x06\x09\x60\x86\x48\x01\x65\x03\x04\x01\x2a", 11);
  const std::string des_oid("\x06\x08\x2a\x86\x48\x86\xf7\x0d\x03\x07", 10);
  CHECK(decode(aes->expose()).find(aes_oid) != std::string::npos);
  CHECK(decode(des->expose()).find(des_oid) != std::string::npos);
}

TEST_CASE("wrong passphrase is a permission error that does not leak secrets") {
  const SecretString pass("the-right-one");
  const SecretString wrong("the-wrong-one");
  for (Cipher cipher : {Cipher::kAes256Cbc, Cipher::kDesEde3Cbc}) {
    const std::string cipher_text = cipher_name(cipher);
    CAPTURE(cipher_text);
    auto pem = key2048().to_pem(cipher, &pass);
    REQUIRE(pem);
    auto back = PrivateKey::from_pem(pem->expose(), &wrong);
    REQUIRE_FALSE(back);
    CHECK(back.status().code() == Status::Code::kPermission);
    CHECK(back.status().message() ==
          "cannot open private key: wrong passphrase (or not the key's passphrase)");
    CHECK(back.status().message().find("the-wrong-one") == std::string::npos);
  }
}

TEST_CASE("missing passphrase on an encrypted key fails without prompting") {
  const SecretString pass("secret");
  auto pem = key2048().to_pem(Cipher::kAes256Cbc, &pass);
  REQUIRE(pem);
  auto none = PrivateKey::from_pem(pem->expose(), nullptr);
  REQUIRE_FALSE(none);
  CHECK(none.status().code() == Status::Code::kPermission);
  CHECK(none.status().message().find("passphrase") != std::string::npos);

  const SecretString empty;
  auto blank = PrivateKey::from_pem(pem->expose(), &empty);
  REQUIRE_FALSE(blank);
  CHECK(blank.status().code() == Status::Code::kPermission);
}

TEST_CASE("unencrypted PKCS#8 round trip") {
  auto pem = key2048().to_pem(Cipher::kNone, nullptr);
  REQUIRE(pem);
  CHECK(pem->expose().rfind("-----BEGIN " "PRIVATE KEY-----\n", 0) == 0);
  CHECK_FALSE(pem_is_encrypted(pem->expose()));
  auto back = PrivateKey::from_pem(pem->expose(), nullptr);
  REQUIRE(back);
  CHECK(back->public_key_der() == key2048().public_key_der());
  // A passphrase given for a plain key is simply not needed.
  const SecretString pass("unused");
  CHECK(PrivateKey::from_pem(pem->expose(), &pass));
}

TEST_CASE("encrypting without a passphrase is refused") {
  auto pem = key2048().to_pem(Cipher::kDesEde3Cbc, nullptr);
  REQUIRE_FALSE(pem);
  CHECK(pem.status().message().find("des-ede3-cbc") != std::string::npos);
}

TEST_CASE("traditional RSA PEM, plain and encrypted as `openssl genrsa -des3` writes it") {
  const SecretString pass("genrsa-pass");
  ossl::Bio plain(BIO_new(BIO_s_mem()));
  REQUIRE(PEM_write_bio_PrivateKey_traditional(plain.get(), key2048().get(), nullptr, nullptr, 0,
                                               nullptr, nullptr) == 1);
  const std::string plain_pem = ossl::bio_contents(plain.get());
  CHECK(plain_pem.rfind("-----BEGIN RSA " "PRIVATE KEY-----", 0) == 0);
  auto a = PrivateKey::from_pem(plain_pem, nullptr);
  REQUIRE(a);
  CHECK(a->public_key_der() == key2048().public_key_der());

  ossl::Bio enc(BIO_new(BIO_s_mem()));
  REQUIRE(PEM_write_bio_PrivateKey_traditional(
              enc.get(), key2048().get(), EVP_des_ede3_cbc(),
              reinterpret_cast<const unsigned char*>(pass.expose().data()),
              static_cast<int>(pass.size()), nullptr, nullptr) == 1);
  const std::string enc_pem = ossl::bio_contents(enc.get());
  CHECK(enc_pem.find("Proc-Type: 4,ENCRYPTED") != std::string::npos);
  CHECK(pem_is_encrypted(enc_pem));
  auto b = PrivateKey::from_pem(enc_pem, &pass);
  REQUIRE(b);
  CHECK(b->public_key_der() == key2048().public_key_der());
  const SecretString wrong("nope");
  auto c = PrivateKey::from_pem(enc_pem, &wrong);
  REQUIRE_FALSE(c);
  CHECK(c.status().code() == Status::Code::kPermission);
  auto d = PrivateKey::from_pem(enc_pem, nullptr);
  REQUIRE_FALSE(d);
  CHECK(d.status().code() == Status::Code::kPermission);
}

TEST_CASE("text that is not a private key is invalid, not a passphrase problem") {
  auto cert = PrivateKey::from_pem("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
                                   nullptr);
  REQUIRE_FALSE(cert);
  CHECK(cert.status().code() == Status::Code::kInvalid);
  CHECK(cert.status().message().find("not a private key PEM") != std::string::npos);

  auto garbage = PrivateKey::from_pem(
      "-----BEGIN " "PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n", nullptr);
  REQUIRE_FALSE(garbage);
  CHECK(garbage.status().code() == Status::Code::kInvalid);
  CHECK(garbage.status().message().rfind("cannot read private key: ", 0) == 0);

  CHECK_FALSE(PrivateKey::from_pem("", nullptr));

  // Damage is not a passphrase problem, even in an encrypted block.
  const SecretString pass("pw");
  auto damaged = PrivateKey::from_pem(
      "-----BEGIN ENCRYPTED " "PRIVATE KEY-----\nbm90IGEga2V5\n-----END ENCRYPTED PRIVATE KEY-----\n",
      &pass);
  REQUIRE_FALSE(damaged);
  CHECK(damaged.status().code() == Status::Code::kInvalid);
  CHECK(damaged.status().message().rfind(
            "cannot read private key (the encrypted PEM is damaged): ", 0) == 0);
}

TEST_CASE("a key after a certificate in the same file is found") {
  const SecretString pass("pw");
  auto cert = testpki::hkpost_pki().issue_leaf(key2048(), "www.example.com");
  REQUIRE(cert);
  auto pem = key2048().to_pem(Cipher::kAes256Cbc, &pass);
  REQUIRE(pem);
  auto back = PrivateKey::from_pem(cert->pem() + pem->expose(), &pass);
  REQUIRE(back);
  CHECK(back->public_key_der() == key2048().public_key_der());
}

TEST_CASE("copies share the key") {
  PrivateKey copy = key2048();
  CHECK(copy.get() == key2048().get());
  PrivateKey other = testpki::cached_key(2);
  other = copy;
  CHECK(other.public_key_der() == key2048().public_key_der());
}

}  // namespace ecert::crypto
