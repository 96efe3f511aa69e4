// The desired state: a manifest loaded, defaults merged, names converted to
// their A-labels and paths made absolute. Every value keeps where it came from
// so that later stages can point the operator at the right line.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "crypto/cipher.h"
#include "util/path_string.h"
#include "util/diag.h"
#include "util/fs.h"

namespace ecert {

enum class Feature { kStandard, kEv, kWildcard, kMultiDomain, kEvMultiDomain };

// "standard", "ev", "wildcard", "multi-domain", "ev-multi-domain".
const char* feature_name(Feature f);
inline bool is_ev(Feature f) { return f == Feature::kEv || f == Feature::kEvMultiDomain; }
inline bool is_multi_domain(Feature f) {
  return f == Feature::kMultiDomain || f == Feature::kEvMultiDomain;
}

struct PassphraseSource {
  enum class Kind { kNone, kEnv, kFile };
  Kind kind = Kind::kNone;
  std::string env;  // kEnv: the variable's name
  PathString file;  // kFile: absolute path
  SourcePos pos;
};

struct KeySpec {
  PathString path;  // absolute
  int bits = 2048;
  Cipher cipher = Cipher::kAes256Cbc;
  PassphraseSource passphrase;
  SourcePos pos;  // the site's key value (path or mapping)
};

struct CaSpec {
  PathString sub;    // absolute
  PathString cross;  // absolute
  PathString trust = "/etc/ssl/certs/ca-certificates.crt";
  SourcePos pos;
};

struct VhostSpec {
  std::string server_name;  // A-label form; defaults to the site's name
  int port = 443;
  std::optional<fs::path> file;    // absolute: only look in this file
  std::optional<std::string> verify;  // "host:port" for the post-restart handshake
  SourcePos pos;
};

struct Site {
  std::string name;          // A-label, lower case: the CSR's CN
  std::string unicode_name;  // as written in the manifest (for display)
  Feature feature = Feature::kStandard;
  std::vector<std::string> additional_names;  // A-labels
  std::string organization;
  KeySpec key;
  // Paths are PathStrings, not fs::paths: a fleet's manifest holds many.
  PathString csr;          // absolute
  PathString certificate;  // absolute
  PathString chain;        // absolute
  CaSpec ca;
  VhostSpec vhost;
  SourcePos pos;  // the site's mapping
  // Where the name and the file paths were written, for messages about them.
  SourcePos name_pos;
  SourcePos csr_pos;
  SourcePos certificate_pos;
  SourcePos chain_pos;
};

struct ApacheSpec {
  fs::path config;  // absolute
  std::vector<std::string> configtest{"apache2ctl", "configtest"};
  std::vector<std::vector<std::string>> restart{{"apache2ctl", "graceful"}};
  int timeout_seconds = 30;
  SourcePos pos;
};

struct Manifest {
  fs::path file;  // as given on the command line
  fs::path dir;   // absolute directory relative paths were resolved against
  ApacheSpec apache;
  std::vector<Site> sites;
};

// Where a renewal is staged beside a live file: `live` + ".new" (the staged
// key, CSR, and the renewed certificate the operator drops there).
std::string staged_path(const fs::path& live);

}  // namespace ecert
