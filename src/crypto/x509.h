// Certificates: PEM/DER reading, facts for checks, signature and chain proofs.
#pragma once

#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/csr.h"

namespace ecert::crypto {

class Certificate {
 public:
  // One certificate from PEM (the first CERTIFICATE block; text before it
  // is skipped) or DER bytes.
  static Result<Certificate> parse(std::string_view bytes);
  // Every CERTIFICATE block of a PEM bundle, in order; other PEM blocks are
  // skipped. A single DER certificate is accepted too. Input with no
  // certificate is an error.
  static Result<std::vector<Certificate>> parse_bundle(std::string_view pem);
  // Takes ownership of an OpenSSL certificate. REQUIRES: x is not null.
  static Certificate adopt(ossl::X509Ptr x, bool was_der = false) {
    return Certificate(std::move(x), was_der);
  }

  // Copies share the one reference-counted OpenSSL certificate.
  Certificate(const Certificate& other);
  Certificate& operator=(const Certificate& other);
  Certificate(Certificate&&) noexcept = default;
  Certificate& operator=(Certificate&&) noexcept = default;
  ~Certificate() = default;

  NameEntries subject() const;
  NameEntries issuer() const;
  std::string common_name() const;            // last CN of the subject, "" if none
  std::vector<std::string> dns_names() const;  // subjectAltName dNSName entries
  std::string serial_hex() const;              // upper-case hex, no separators
  std::time_t not_before() const;
  std::time_t not_after() const;
  std::string public_key_der() const;  // SPKI DER
  std::string der() const;
  std::string pem() const;  // "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n"
  // The input was DER rather than PEM.
  bool was_der() const { return was_der_; }

  // The signature on this certificate verifies under `issuer`'s public key
  // (and the issuer name matches). Proves issuance; names alone prove nothing.
  bool signed_by(const Certificate& issuer) const;

  X509* get() const { return x509_.get(); }

 private:
  Certificate(ossl::X509Ptr x, bool was_der) : x509_(std::move(x)), was_der_(was_der) {}
  ossl::X509Ptr x509_;
  bool was_der_ = false;
};

// The roots of a trust bundle, parsed once into an OpenSSL store that many
// verifications share (parsing Debian's bundle of ~150 roots costs far more
// than one verification). A bundle that does not parse keeps its error, which
// verify_chain reports where it would have reported the parse failure.
// Copies share the one reference-counted store; safe to use from several
// threads at once.
class TrustStore {
 public:
  static TrustStore from_pem(std::string_view trust_pem);
  const Status& status() const { return status_; }
  X509_STORE* get() const { return store_.get(); }

  TrustStore(const TrustStore& other);
  TrustStore& operator=(const TrustStore& other);
  TrustStore(TrustStore&&) noexcept = default;
  TrustStore& operator=(TrustStore&&) noexcept = default;
  ~TrustStore() = default;

 private:
  TrustStore() = default;
  ossl::X509Store store_;
  Status status_;
};

// Verifies exactly the chain Apache serves, leaf <- sub <- cross, up to a
// root in `trust_pem` (a bundle such as /etc/ssl/certs/ca-certificates.crt)
// at time `at`. Every served certificate is on the verified path, also when
// the bundle holds Hongkong Post Root CA 3 (a shorter path that skips the
// cross certificate is not taken), and each one must be inside its validity
// and signed with SHA-256 or stronger (SHA-1 and MD5 are refused). Only the
// given sub and cross certificates are used as intermediates. The error says
// which certificate or link failed and what to do, in the operator's words.
Status verify_chain(const Certificate& leaf, const Certificate& sub, const Certificate& cross,
                    std::string_view trust_pem, std::time_t at);
// The same, against a prebuilt store (what a fleet of sites sharing one
// bundle should use). The sub <- cross link, shared by every site of a
// feature, is proven once per process for the same two certificate objects.
// On success, `valid` (when given) receives the span of time inside every
// certificate's validity on the verified path (leaf, sub, cross and root):
// the result holds while the time stays inside it.
struct ValidityWindow {
  std::time_t from = 0;
  std::time_t until = 0;
};
Status verify_chain(const Certificate& leaf, const Certificate& sub, const Certificate& cross,
                    const TrustStore& trust, std::time_t at, ValidityWindow* valid = nullptr);

}  // namespace ecert::crypto
