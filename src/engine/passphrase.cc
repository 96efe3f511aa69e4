#include "engine/passphrase.h"

#include <cstdio>
#include <cstdlib>

#include <openssl/crypto.h>

namespace ecert {

Result<SecretString> load_passphrase(const PassphraseSource& source, const FileSystem& fs) {
  if (source.kind == PassphraseSource::Kind::kEnv) {
    const char* value = std::getenv(source.env.c_str());
    if (!value)
      return Status::invalid("environment variable " + source.env +
                             " (the key passphrase) is not set; export it before running ecertctl");
    if (!*value) return Status::invalid("environment variable " + source.env + " (the key passphrase) is empty");
    return SecretString(value);
  }
  const std::string path = source.file.string();
  auto info = fs.stat(source.file);
  if (!info) return Status::invalid("cannot read the passphrase file: " + info.status().message());
  if (!info->is_regular) return Status::invalid("passphrase file " + path + " is not a regular file");
  if (info->mode & 077) {
    char mode[16];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(info->mode));
    return Status::permission("passphrase file " + path + " is readable or writable by group or others (mode " +
                              mode + "); run: chmod 600 " + path);
  }
  auto data = fs.read_file(source.file);
  if (!data) return Status::invalid("cannot read the passphrase file: " + data.status().message());
  std::string& raw = *data;
  std::size_t len = raw.size();
  if (len && raw[len - 1] == '\n') --len;
  if (len && raw[len - 1] == '\r') --len;
  SecretString secret(raw.substr(0, len));
  OPENSSL_cleanse(raw.data(), raw.size());
  if (secret.empty()) return Status::invalid("passphrase file " + path + " is empty");
  return secret;
}

}  // namespace ecert
