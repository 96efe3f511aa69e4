// libFuzzer target: the PEM/DER readers (certificates, bundles, CSRs,
// private keys with a dummy passphrase) must reject any bytes cleanly.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/csr.h"
#include "crypto/key.h"
#include "crypto/x509.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  using namespace ecert::crypto;
  if (auto c = Certificate::parse(bytes); c.is_ok()) {
    (void)c->subject();
    (void)c->issuer();
    (void)c->common_name();
    (void)c->dns_names();
    (void)c->serial_hex();
    (void)c->not_before();
    (void)c->not_after();
  }
  if (auto b = Certificate::parse_bundle(bytes); b.is_ok()) {
    for (const auto& c : *b) (void)c.common_name();
  }
  if (auto csr = parse_csr(bytes); csr.is_ok()) (void)csr->subject.size();
  static const ecert::SecretString kDummy(std::string("fuzz-dummy-passphrase"));
  if (auto k = PrivateKey::from_pem(bytes, &kDummy); k.is_ok()) {
    (void)k->bits();
    (void)k->public_key_der();
  }
  if (auto k = PrivateKey::from_pem(bytes, nullptr); k.is_ok()) (void)k->is_rsa();
  return 0;
}
