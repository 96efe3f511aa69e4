#include "engine/passphrase.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>

extern char** environ;

namespace ecert {
namespace {

// The captured variables: name -> value (nullopt: it was not set).
struct EnvStore {
  std::mutex mu;
  std::map<std::string, std::optional<SecretString>> values;
};

EnvStore& env_store() {
  static EnvStore store;
  return store;
}

// Overwrites the value of every "NAME=value" entry of the environment in
// place: the strings ecertctl was started with live in the memory that
// /proc/<pid>/environ shows, and unsetenv() only drops the pointers to them.
void wipe_from_environment(const std::string& name) {
  for (char** entry = environ; entry && *entry; ++entry) {
    if (std::strncmp(*entry, name.c_str(), name.size()) == 0 && (*entry)[name.size()] == '=') {
      char* value = *entry + name.size() + 1;
      OPENSSL_cleanse(value, std::strlen(value));
    }
  }
}

Result<SecretString> env_passphrase(const std::string& name) {
  std::optional<SecretString> value;
  {
    EnvStore& store = env_store();
    std::lock_guard<std::mutex> lock(store.mu);
    if (auto it = store.values.find(name); it != store.values.end()) {
      value = it->second;
    } else if (const char* live = std::getenv(name.c_str())) {
      value.emplace(live);
    }
  }
  if (!value)
    return Status::invalid("environment variable " + name +
                           " (the key passphrase) is not set; export it before running ecertctl");
  if (value->empty()) return Status::invalid("environment variable " + name + " (the key passphrase) is empty");
  return std::move(*value);
}

Result<SecretString> file_passphrase(const PassphraseSource& source, const FileSystem& fs) {
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

}  // namespace

Result<SecretString> load_passphrase(const PassphraseSource& source, const FileSystem& fs) {
  if (source.kind == PassphraseSource::Kind::kEnv) return env_passphrase(source.env);
  return file_passphrase(source, fs);
}

void capture_env_passphrases(const std::vector<std::string>& names) {
  EnvStore& store = env_store();
  std::lock_guard<std::mutex> lock(store.mu);
  for (const auto& name : names) {
    if (name.empty() || name.find('=') != std::string::npos) continue;  // not a variable name
    if (!store.values.count(name)) {
      const char* value = std::getenv(name.c_str());
      store.values[name] = value ? std::optional<SecretString>(SecretString(value)) : std::nullopt;
    }
    wipe_from_environment(name);
    ::unsetenv(name.c_str());
  }
}

std::vector<std::string> passphrase_env_names(const Manifest& manifest) {
  std::vector<std::string> names;
  for (const Site& site : manifest.sites)
    if (site.key.passphrase.kind == PassphraseSource::Kind::kEnv) names.push_back(site.key.passphrase.env);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

}  // namespace ecert
