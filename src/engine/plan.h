// The plan: per site, one change per resource, each with an action, the
// payload apply will write, what holds it back, and a reason for humans.
// A pure function of (Manifest, Observed): no I/O here. The plan is data:
// apply executes the payloads, renderers show them, and nothing ever reads
// a reason to decide anything.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "apache/config.h"
#include "crypto/csr.h"
#include "engine/observed.h"
#include "manifest/model.h"

namespace ecert {

enum class ResourceKind { kKey, kCsr, kCertificate, kChain, kFullchain, kVhost };
enum class Action { kNoOp, kCreate, kUpdate, kPending, kError };

const char* resource_name(ResourceKind kind);  // "key", "csr", ...
const char* action_name(Action action);        // "no-op", "create", ...

// What holds a change back: the resource of the same site that it waits on
// (pending), or that has an error so this one could not be checked.
struct Blocker {
  ResourceKind resource = ResourceKind::kKey;
  bool failed = false;  // true: `resource` has an error; false: this waits for it
  bool operator==(const Blocker&) const = default;
};

// ---- Payloads: exactly what apply does for a change ----

// A new private key, created exclusively (never over an existing file),
// mode 0600, encrypted with the site's passphrase.
struct NewKey {
  int bits = 2048;
  Cipher cipher = Cipher::kAes256Cbc;
};

// Renewal, first half (what `rotate` does): a new key at <key>.new
// (created exclusively, 0600; unless `new_key` is false and one is there)
// and its CSR at <csr>.new. The live key is never touched.
struct StageRenewal {
  bool new_key = true;
  int bits = 2048;
  Cipher cipher = Cipher::kAes256Cbc;
  crypto::NameEntries subject;
};

// Renewal, second half: the staged key's bytes become the live key's; the
// live key is kept beside it as <key>.old-<UTC time> (0600). The staged
// files stay until Apache was restarted on the new pair and verified.
struct PromoteKey {
  std::string staged;
};

// Which key a CSR is signed with.
enum class KeyRole {
  kLive,      // the key at the site's key path (after a promotion: the promoted one)
  kNew,       // the key this run generates
};

// A CSR signed by `key` with exactly `subject`. Its bytes depend on the
// private key, which a plan never holds, so apply signs it.
struct NewCsr {
  crypto::NameEntries subject;
  KeyRole key = KeyRole::kLive;
};

// Promotion: the staged CSR (the one that went to the CA) becomes the live one.
struct PromoteCsr {
  std::string staged;
};

// Promotion: the renewed certificate becomes the live one, the previous one
// kept as <certificate>.old-<UTC time>. `staged` is <certificate>.new, or ""
// when the operator placed the renewed certificate over the live one: then
// `previous` is the copy in the state directory of the certificate Apache
// was last restarted with (what a rollback puts back), and the renewed one
// is kept at <certificate>.new until the promotion is verified.
struct PromoteCertificate {
  std::string staged;
  std::string previous;
  // The renewed certificate as PEM when it came as DER (Apache reads PEM):
  // what is installed instead of its bytes.
  std::shared_ptr<const std::string> pem;
};

// A promotion that completed: its staged files go.
struct RemoveStaged {
  std::vector<std::string> paths;
};

// The whole new content of a file Apache reads (a DER certificate as PEM;
// a chain file), and the files it was assembled from.
struct WriteFile {
  std::shared_ptr<const std::string> bytes;  // shared: a fleet's sites share one chain
  std::vector<std::string> sources;           // e.g. the sub CA and cross certificate files
  bool keep_old = false;  // a promotion: the replaced file is kept as <path>.old-<UTC time>
};

// The vhost's SSL directives, set by rewriting these Plan::config_writes.
struct EditConfig {
  std::vector<std::size_t> writes;
};

// Nothing to write: the file changed on disk since Apache last loaded it,
// so Apache must be restarted to serve it.
struct Reload {};

using Payload = std::variant<std::monostate, NewKey, StageRenewal, PromoteKey, NewCsr, PromoteCsr, PromoteCertificate,
                             RemoveStaged, WriteFile, EditConfig, Reload>;

struct Change {
  ResourceKind kind = ResourceKind::kKey;
  Action action = Action::kNoOp;
  std::string path;    // the file this resource is (vhost: file:line)
  std::string reason;  // for display only
  bool apache_reads = false;  // what this change writes is read by Apache
  // Put back when Apache fails (configtest, restart, verify): whatever
  // Apache reads, and the rest of a renewal's promotion.
  bool undone_on_rollback = false;
  std::optional<Blocker> blocked_by;
  Payload payload;

  // A create or update: apply has something to do.
  bool acts() const { return action == Action::kCreate || action == Action::kUpdate; }
  template <class T>
  const T* get() const { return std::get_if<T>(&payload); }
};

// Where a site stands in its renewal cycle, for status, the metrics and
// notifications (the plan's changes say what apply does about it).
struct RenewalState {
  std::optional<std::time_t> due_since;     // renewal.before reached for the live certificate
  std::optional<std::time_t> staged_since;  // a renewal is staged (when <key>.new was written)
  bool warn = false;           // inside renewal.warn (or 30 days) with the renewal not installed
  bool promoting = false;      // the renewed certificate arrived: this run installs it
  std::string csr_to_submit;   // the staged CSR the CA has not yet answered, if any
  std::time_t not_after = 0;   // of the live certificate (0: none)
  std::string certificate;     // sha256 of the live certificate file (what notifications are about)
  std::time_t renewed_not_after = 0;  // promoting: of the renewed certificate
  std::string renewed_certificate;    // promoting: sha256 of the renewed certificate file
};

struct SitePlan {
  std::string name;          // A-label
  std::string unicode_name;  // as the manifest writes it (differs for IDN names)
  std::string feature;
  std::vector<Change> changes;  // key, csr, certificate, chain, fullchain (when the site has one), vhost
  std::vector<std::string> warnings;
  RenewalState renewal;

  enum class State { kConverged, kChanges, kPending, kError };
  State state() const;
  bool has(Action action) const;
  const Change* find(ResourceKind kind) const;
};

const char* site_state_name(SitePlan::State state);  // "ok", "changed", "pending", "error"

// The edits one site's vhost change makes in one configuration file.
struct SiteConfigEdit {
  std::size_t site = 0;
  std::vector<apache::VhostEdit> blocks;          // its <VirtualHost> block, when it is in this file
  std::vector<apache::DirectiveEdit> directives;  // SSL lines Included into its vhost from this file
  std::optional<bool> stapling_cache;             // the root file: add (true) or remove (false) the stapling cache
};

// One Apache configuration file the plan rewrites: its new bytes, computed
// from the bytes observed, and the edits of each site they are made of (a
// site that fails before the write is left out of it). apply refuses to
// write it if it changed since it was observed.
struct ConfigWrite {
  std::string path;           // the real file (symlinks resolved)
  std::string before_digest;  // sha256 of the content the edit was computed from
  std::string after;          // the whole new content, with every site's edits
  std::vector<std::size_t> sites;  // indexes of the sites whose vhost change needs it
  std::vector<SiteConfigEdit> edits;
};

// The content of `write`'s file after the edits of the sites `keep` accepts,
// made on `content` (the bytes observed). Pure.
Result<std::string> edit_config(const ConfigWrite& write, std::string_view content,
                                const std::function<bool(std::size_t)>& keep);

struct Plan {
  std::vector<SitePlan> sites;
  std::vector<ConfigWrite> config_writes;
  bool restart = false;  // something Apache reads would change
  std::string restart_reason;
  std::map<std::string, std::string> inputs;  // Observed::inputs, moved here by the caller (make_plan leaves it empty)
  bool has_changes() const;  // any create or update
  bool has_errors() const;
};

// Days before not-after at which a certificate earns a warning.
inline constexpr int kExpiryWarningDays = 30;

// REQUIRES: observed.sites.size() == manifest.sites.size().
Plan make_plan(const Manifest& manifest, const Observed& observed, const std::string& manifest_arg);

}  // namespace ecert
