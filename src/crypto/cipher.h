// How a private key is encrypted at rest. A crypto notion: the manifest
// names one, the key writer uses it.
#pragma once

namespace ecert {

enum class Cipher { kAes256Cbc, kDesEde3Cbc, kNone };

// "aes-256-cbc", "des-ede3-cbc", "none".
const char* cipher_name(Cipher c);

}  // namespace ecert
