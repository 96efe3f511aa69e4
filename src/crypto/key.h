// RSA private keys: generation, encrypted PKCS#8 PEM in and out.
#pragma once

#include <string>
#include <string_view>

#include "crypto/ossl.h"
#include "crypto/cipher.h"
#include "util/secret.h"

namespace ecert::crypto {

class PrivateKey {
 public:
  // A fresh RSA key (public exponent 65537). `bits` must be 2048..16384.
  // Error carries OpenSSL's text.
  static Result<PrivateKey> generate_rsa(int bits);

  // Reads a PEM private key (PKCS#8 encrypted or not, or traditional RSA).
  // `passphrase` may be null for an unencrypted key. An encrypted key with a
  // missing or wrong passphrase is Status::permission("... passphrase ...");
  // never prompts on a terminal.
  static Result<PrivateKey> from_pem(std::string_view pem, const SecretString* passphrase);

  // PKCS#8 PEM, encrypted with `cipher` under `passphrase` (required unless
  // cipher is kNone). The result is key material: a SecretString.
  Result<SecretString> to_pem(Cipher cipher, const SecretString* passphrase) const;

  bool is_rsa() const;
  int bits() const;
  // DER SubjectPublicKeyInfo: compares keys without exposing private parts.
  std::string public_key_der() const;
  EVP_PKEY* get() const { return pkey_.get(); }

  // Takes ownership of an OpenSSL key (e.g. one built by test helpers).
  // REQUIRES: pkey is not null.
  static PrivateKey adopt(ossl::PKey pkey) { return PrivateKey(std::move(pkey)); }

  // Copies share the one reference-counted OpenSSL key.
  PrivateKey(const PrivateKey& other);
  PrivateKey& operator=(const PrivateKey& other);
  PrivateKey(PrivateKey&&) noexcept = default;
  PrivateKey& operator=(PrivateKey&&) noexcept = default;
  ~PrivateKey() = default;

 private:
  explicit PrivateKey(ossl::PKey pkey) : pkey_(std::move(pkey)) {}
  ossl::PKey pkey_;
};

// True when `pem` looks encrypted (ENCRYPTED PRIVATE KEY, or Proc-Type:
// 4,ENCRYPTED), without needing a passphrase.
bool pem_is_encrypted(std::string_view pem);

}  // namespace ecert::crypto
