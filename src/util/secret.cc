#include "util/secret.h"

#include <openssl/crypto.h>

namespace ecert {

void SecretString::wipe() noexcept {
  if (!value_.empty()) OPENSSL_cleanse(value_.data(), value_.size());
  value_.clear();
}

}  // namespace ecert
