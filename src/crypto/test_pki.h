// An in-memory PKI for tests: roots, intermediates and leaves made with the
// OpenSSL API, no disk, no `openssl` command. Shaped like Hongkong Post's
// hierarchy so tests of later stages can use the real names.
#pragma once

#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/key.h"
#include "crypto/x509.h"

namespace ecert::crypto::testpki {

struct CertSpec {
  NameEntries subject;                 // empty: taken from the CSR (issue_from_csr)
  std::vector<std::string> dns_names;  // subjectAltName dNSName entries
  std::time_t not_before = 0;          // 0: now - 1 day
  std::time_t not_after = 0;           // 0: not_before + 365 days
  bool ca = false;                     // basicConstraints CA:TRUE + keyCertSign
  std::string digest = "SHA256";       // of the issuer's signature, e.g. "SHA1" for an outdated CA
};

// A 2048-bit RSA key, generated once per process for each `slot`, so tests
// can share keys without paying for generation again.
const PrivateKey& cached_key(int slot);

// Generates the keys of those `slots` not cached yet, all at once, one
// thread each: a fixture that needs several pays for the slowest one.
void warm_keys(const std::vector<int>& slots);

// A self-signed CA certificate for `key`.
Result<Certificate> make_root(const PrivateKey& key, CertSpec spec);

// A certificate for `subject_key`'s public key, signed by issuer/issuer_key.
Result<Certificate> issue(const Certificate& issuer, const PrivateKey& issuer_key,
                          EVP_PKEY* subject_key, CertSpec spec);

// A certificate for the public key in `csr_pem`, signed by issuer/issuer_key;
// the subject is the CSR's unless `spec.subject` is given.
Result<Certificate> issue_from_csr(const Certificate& issuer, const PrivateKey& issuer_key,
                                   std::string_view csr_pem, CertSpec spec);

NameEntries hkpost_name(const std::string& common_name);

// GlobalSign Root CA - R3 -> cross "Hongkong Post Root CA 3" -> sub CAs,
// plus the self-signed Hongkong Post Root CA 3 (same key as the cross).
struct HkpostPki {
  PrivateKey gs_root_key, hk_root_key, sub_key, ev_sub_key;
  Certificate gs_root;  // "GlobalSign", OU=GlobalSign Root CA - R3
  Certificate hk_root;  // self-signed "Hongkong Post Root CA 3"
  Certificate cross;    // "Hongkong Post Root CA 3" issued by gs_root
  Certificate sub;      // "Hongkong Post e-Cert SSL CA 3 - 17"
  Certificate ev_sub;   // "Hongkong Post e-Cert EV SSL CA 3 - 17"

  // A leaf for `key` issued by the standard (or EV) sub CA, subject as the
  // CA issues it (C=HK, O, CN), with `dns_names` (default: {cn}).
  Result<Certificate> issue_leaf(const PrivateKey& key, const std::string& cn, bool ev = false,
                                 std::vector<std::string> dns_names = {},
                                 std::time_t not_before = 0, std::time_t not_after = 0) const;
  // "sub then cross" as the chain file holds it.
  std::string chain_pem(bool ev = false) const;
  // A trust bundle with only the GlobalSign-like root.
  std::string trust_pem() const { return gs_root.pem(); }
};

// Built once per process (keys in slots 100..103).
const HkpostPki& hkpost_pki();

}  // namespace ecert::crypto::testpki
