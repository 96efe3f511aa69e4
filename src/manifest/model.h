// The desired state: a manifest loaded, defaults merged, names converted to
// their A-labels and paths made absolute. Every value keeps where it came from
// so that later stages can point the operator at the right line.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "crypto/cipher.h"
#include "manifest/durations.h"
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
  // Absolute; never empty once loaded. More than one during a CA rollover: the
  // one whose key signed the certificate goes into the chain.
  std::vector<PathString> sub;
  PathString cross;  // absolute
  PathString trust = "/etc/ssl/certs/ca-certificates.crt";
  SourcePos pos;
};

struct VhostSpec {
  std::string server_name;  // A-label form; defaults to the site's name
  int port = 443;
  std::optional<fs::path> file;    // absolute: only look in this file
  std::optional<std::string> verify;  // "host:port" for the post-restart handshake
  bool stapling = false;              // OCSP stapling (SSLUseStapling) for this vhost
  SourcePos pos;
};

struct RenewalSpec {
  enum class Stage { kAuto, kManual };
  // Renewal is due when what is left of the live certificate is inside `before`.
  Window before{Window::Kind::kPercent, 33};
  // kAuto: apply stages the next key and CSR once renewal is due; kManual: only `rotate` does.
  Stage stage = Stage::kAuto;
  // Inside `warn`, a renewal not yet installed is a warning. Never wider than
  // `before` when both are of one kind.
  Window warn{Window::Kind::kPercent, 10};
  SourcePos pos;  // the site's renewal mapping, else the defaults', else the site
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
  // Leaf, sub CA and cross certificate in one file (Apache >= 2.4.8): when
  // given, SSLCertificateFile points here and SSLCertificateChainFile goes.
  std::optional<PathString> fullchain;  // absolute
  CaSpec ca;
  VhostSpec vhost;
  RenewalSpec renewal;
  SourcePos pos;  // the site's mapping
  // Where the name and the file paths were written, for messages about them.
  SourcePos name_pos;
  SourcePos csr_pos;
  SourcePos certificate_pos;
  SourcePos chain_pos;
  SourcePos fullchain_pos;
};

struct ApacheSpec {
  fs::path config;  // absolute
  std::vector<std::string> configtest{"apache2ctl", "configtest"};
  std::vector<std::vector<std::string>> restart{{"apache2ctl", "graceful"}};
  int timeout_seconds = 30;
  // Variables passed on to configtest, restart and notify beyond PATH, LANG
  // and LC_*. Never the name of a site's passphrase variable.
  std::vector<std::string> environment;
  SourcePos pos;
};

enum class NotifyEvent { kRenewalDue, kExpiring, kInstalled, kError };
inline constexpr NotifyEvent kAllNotifyEvents[] = {NotifyEvent::kRenewalDue, NotifyEvent::kExpiring,
                                                   NotifyEvent::kInstalled, NotifyEvent::kError};
// "renewal-due", "expiring", "installed", "error".
const char* notify_event_name(NotifyEvent e);

struct NotifySpec {
  std::vector<std::string> command;  // argv, run without a shell; never empty once loaded
  // The events sent, in the order the manifest lists them; no duplicates.
  std::vector<NotifyEvent> events{std::begin(kAllNotifyEvents), std::end(kAllNotifyEvents)};
  // A renewal-due or expiring event that still holds is sent again at most this often.
  std::chrono::hours repeat{24};
  SourcePos pos;  // the notify mapping
};

struct Manifest {
  fs::path file;  // as given on the command line
  fs::path dir;   // absolute directory relative paths were resolved against
  ApacheSpec apache;
  std::optional<NotifySpec> notify;  // nullopt: nobody is notified
  std::vector<Site> sites;
};

// Where a renewal is staged beside a live file: `live` + ".new" (the staged
// key, CSR, and the renewed certificate the operator drops there).
std::string staged_path(const fs::path& live);

}  // namespace ecert
