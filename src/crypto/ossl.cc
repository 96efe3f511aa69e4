#include "crypto/ossl.h"

#include <openssl/err.h>

#include <climits>

namespace ecert::ossl {

std::string last_error() {
  std::string out;
  std::string previous;
  const char* data = nullptr;
  int flags = 0;
  while (unsigned long code = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) {
    std::string part;
    const char* lib = ERR_lib_error_string(code);
    const char* reason = ERR_reason_error_string(code);
    if (reason != nullptr) {
      part = lib != nullptr ? std::string(lib) + ": " + reason : std::string(reason);
    } else {
      // System errors and unregistered reasons have no string of their own.
      char buf[256];
      ERR_error_string_n(code, buf, sizeof buf);
      part = buf;
    }
    // The extra data is OpenSSL's own detail ("Expecting: CERTIFICATE",
    // "maxsize=64"); it never holds passphrases or key bytes.
    if ((flags & ERR_TXT_STRING) != 0 && data != nullptr && *data != '\0') {
      part += std::string(" (") + data + ")";
    }
    // The decoders repeat one failure at several layers; once is enough.
    if (part == previous) continue;
    if (!out.empty()) out += "; ";
    out += part;
    previous = std::move(part);
  }
  if (out.empty()) out = "no detail from OpenSSL";
  return out;
}

Status error(const std::string& what) { return Status::invalid(what + ": " + last_error()); }

Bio read_bio(std::string_view bytes) {
  if (bytes.size() > static_cast<std::size_t>(INT_MAX)) return Bio();
  return Bio(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
}

std::string bio_contents(BIO* bio) {
  BUF_MEM* mem = nullptr;
  BIO_get_mem_ptr(bio, &mem);
  if (mem == nullptr || mem->data == nullptr) return {};
  return std::string(mem->data, mem->length);
}

int no_passphrase_cb(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) {
  return -1;
}

}  // namespace ecert::ossl
