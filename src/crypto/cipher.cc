#include "crypto/cipher.h"

namespace ecert {

const char* cipher_name(Cipher c) {
  switch (c) {
    case Cipher::kAes256Cbc: return "aes-256-cbc";
    case Cipher::kDesEde3Cbc: return "des-ede3-cbc";
    case Cipher::kNone: return "none";
  }
  return "?";
}

}  // namespace ecert
