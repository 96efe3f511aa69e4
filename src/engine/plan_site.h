// The planners of one site, one per resource, in the order apply acts:
// key -> csr -> certificate -> chain -> vhost. Internal to make_plan.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "apache/config.h"
#include "engine/plan.h"

namespace ecert::planning {

// What every planner of a site reads.
struct SiteInput {
  const Site& site;
  const SiteFacts& facts;
  const Observed& observed;
  const std::string& manifest_arg;  // the manifest as the operator named it, for messages
  // Set when an earlier site shares this site's chain file but needs other
  // bytes in it (their certificates come from different sub CAs): why.
  std::string chain_conflict = {};

  // "ecertctl rotate -f M --site NAME" and "ecertctl csr -f ...", for messages
  // (made when a message needs them: a fleet's plan holds no copy per site).
  std::string rotate_cmd() const { return command("rotate"); }
  std::string csr_cmd() const { return command("csr"); }

 private:
  std::string command(const char* verb) const {
    return std::string("ecertctl ") + verb + " -f " + manifest_arg + " --site " + site.name;
  }
};

// Which key the CSR and the certificate must belong to, as the key planner
// decided it; the only state the later planners share.
struct KeyDecision {
  bool stop = false;     // the key planner has planned the whole site (an error, or waiting)
  bool new_key = false;  // the key is generated in this run
  bool staged = false;   // a renewal is staged (<key>.new exists)
  bool promote = false;  // the staged key's certificate arrived and passed every check: it is installed
  // The staged key's certificate arrived but cannot be installed: why (the
  // certificate planner reports it; Apache keeps serving the live pair).
  std::string renewal_error;
  std::string key_id;    // the public key the CSR and the certificate must carry ("" for a new key)
};

// The certificate the site will serve after this run, and the sub CA that
// signed it: the renewal at <certificate>.new once it is there for the
// staged key, else the live certificate.
bool renewed_at_staged_path(const SiteFacts& f);
const CertFacts& served_cert(const SiteFacts& f);
const CaFacts& served_ca(const SiteFacts& f);

// The certificate for the staged key has arrived (at <certificate>.new, or
// over the live one).
bool renewal_arrived(const SiteFacts& f);
// Why the renewed certificate cannot be installed, or "" when it can: a
// failed certificate check, or (placed over the live one) no copy of the
// certificate Apache runs with to fall back on.
std::string renewed_certificate_error(const SiteInput& in);

// How a site's vhost must be edited: its own block, and the SSL directives
// that files Included inside the block set.
struct VhostEdits {
  std::string block_file;  // real file of the <VirtualHost> block
  apache::VhostEdit block;
  std::vector<std::pair<std::string, apache::DirectiveEdit>> included;  // (real file, edit)
  // The server-level OCSP stapling cache: added to the root file (true).
  std::optional<bool> stapling_cache;
  std::string root_file;  // real path of the root configuration file
};

// Each returns false when the site's later resources have been planned
// too (as blocked by this one), so planning the site stops.
KeyDecision plan_key(const SiteInput& in, SitePlan& sp);
void plan_csr(const SiteInput& in, const KeyDecision& key, SitePlan& sp);
bool plan_certificate(const SiteInput& in, const KeyDecision& key, SitePlan& sp);
bool plan_chain(const SiteInput& in, const KeyDecision& key, SitePlan& sp);
// The fullchain file (leaf, sub CA, cross certificate) of a site that has one.
void plan_fullchain(const SiteInput& in, const KeyDecision& key, SitePlan& sp);
// Plans the vhost change; when the directives must change, `edits` says how
// (make_plan turns every site's edits into whole-file ConfigWrites).
void plan_vhost(const SiteInput& in, SitePlan& sp, std::optional<VhostEdits>& edits);

// ---- shared by the planners ----

Change make_change(ResourceKind kind, Action action, const fs::path& path, std::string reason,
                   Payload payload = {}, bool apache_reads = false);
// Adds every resource after `from` (in key..vhost order) as an error that
// was not checked because `from` (called `what` when given) has one.
void block_after(const SiteInput& in, SitePlan& sp, ResourceKind from, const char* what = nullptr);
// The change of a key, certificate or chain that is as the manifest wants
// it: a no-op, or a reload when Apache was last restarted with other bytes
// (a re-issued certificate dropped over the old file) and the site has no
// error and nothing pending so far.
Change settled(const SiteInput& in, const SitePlan& sp, ResourceKind kind, const fs::path& path, std::string reason);

}  // namespace ecert::planning
