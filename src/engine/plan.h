// The plan: per site, one change per resource, each with an action and a
// reason for humans. A pure function of (Manifest, Observed): no I/O here.
#pragma once

#include <string>
#include <vector>

#include "engine/observed.h"
#include "manifest/model.h"

namespace ecert {

enum class ResourceKind { kKey, kCsr, kCertificate, kChain, kVhost };
enum class Action { kNoOp, kCreate, kUpdate, kPending, kError };

const char* resource_name(ResourceKind kind);  // "key", "csr", ...
const char* action_name(Action action);        // "no-op", "create", ...

// What apply does for a change; kNone for no-op, pending and error.
enum class Operation {
  kNone,
  kGenerateKey,      // write a new key (never over an existing one)
  kWriteCsr,         // (re)write the CSR for the site's key
  kPromoteStaged,    // renewal: staged key and CSR become the live ones
  kConvertToPem,     // certificate was DER: rewrite it as PEM in place
  kWriteChain,       // write sub CA + cross certificate
  kPatchVhost,       // set the three SSL directives in the vhost
  kReload,           // nothing to write: a file Apache reads changed on disk since its last restart
};

struct Change {
  ResourceKind kind = ResourceKind::kKey;
  Action action = Action::kNoOp;
  Operation op = Operation::kNone;
  std::string path;    // the file this resource is (vhost: file:line)
  std::string reason;  // for display only; apply never reads it
  // Whether the file this change writes is read by Apache.
  bool apache_reads = false;
};

struct SitePlan {
  std::string name;          // A-label
  std::string unicode_name;  // as the manifest writes it (differs for IDN names)
  std::string feature;
  std::vector<Change> changes;  // key, csr, certificate, chain, vhost
  std::vector<std::string> warnings;

  enum class State { kConverged, kChanges, kPending, kError };
  State state() const;
  bool has(Action action) const;
};

const char* site_state_name(SitePlan::State state);  // "ok", "changed", "pending", "error"

struct Plan {
  std::vector<SitePlan> sites;
  bool restart = false;        // something Apache reads would change
  std::string restart_reason;
  std::map<std::string, std::string> inputs;  // Observed::inputs, moved here by the caller (make_plan leaves it empty)
  bool has_changes() const;  // any create or update
  bool has_errors() const;
};

// Days before not-after at which a certificate earns a warning.
inline constexpr int kExpiryWarningDays = 30;

// The staged renewal files of a site.
std::string staged_path(const fs::path& live);  // live + ".new"

// REQUIRES: observed.sites.size() == manifest.sites.size().
Plan make_plan(const Manifest& manifest, const Observed& observed, const std::string& manifest_arg);

}  // namespace ecert
