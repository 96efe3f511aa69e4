// Certificate signing requests in the form the CA's guide asks for.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crypto/key.h"

namespace ecert::crypto {

// Ordered (short name, value) pairs, e.g. {"C","HK"},{"ST","Hong Kong"}.
using NameEntries = std::vector<std::pair<std::string, std::string>>;

// C=HK, ST=Hong Kong, L=Hong Kong, O=<organization>, CN=<common_name>.
NameEntries ecert_subject(const std::string& organization, const std::string& common_name);

// "C=HK, ST=Hong Kong, ..." for messages.
std::string format_name(const NameEntries& name);

// A PEM CSR: version 1 (0), `subject` in order (UTF8String), SHA-256, no
// extensions, no attributes, signed by `key`.
Result<std::string> make_csr_pem(const PrivateKey& key, const NameEntries& subject);

struct CsrInfo {
  long version = 0;  // 0 means "version 1", the only one PKCS#10 defines
  NameEntries subject;
  std::string public_key_der;  // SPKI DER
  bool signature_valid = false;
  int attribute_count = 0;  // includes extension requests
  std::string signature_digest;  // e.g. "SHA256"
};

// Parses a PEM CSR. Errors name what is wrong ("not a PEM certificate request").
Result<CsrInfo> parse_csr(std::string_view pem);

// Shared by the crypto files and test helpers.
// An X509_NAME with `entries` in order, UTF8String where the attribute
// allows it (C stays PrintableString, as `openssl req` writes it).
Result<ossl::X509Name> make_x509_name(const NameEntries& entries);
// The entries of `name` in order: short names (numeric OID when OpenSSL has
// none) and UTF-8 values.
NameEntries name_entries(const X509_NAME* name);

}  // namespace ecert::crypto
