// The key and CSR planners: which key the site uses, its CSR, and where the
// site stands in its renewal cycle (due, staged, promoted).
#include <cstdio>

#include "engine/csr_check.h"
#include "engine/plan_site.h"
#include "util/strings.h"
#include "util/time.h"

namespace ecert::planning {

bool renewed_at_staged_path(const SiteFacts& f) {
  return f.staged().key.opened && f.staged().cert.parsed && f.staged().cert.info.public_key_id == f.staged().key.public_key_id;
}

const CertFacts& served_cert(const SiteFacts& f) { return renewed_at_staged_path(f) ? f.staged().cert : f.cert; }

const CaFacts& served_ca(const SiteFacts& f) { return renewed_at_staged_path(f) ? f.staged().ca : f.ca; }

bool renewal_arrived(const SiteFacts& f) {
  return renewed_at_staged_path(f) ||
         (f.staged().key.opened && f.cert.parsed && f.cert.info.public_key_id == f.staged().key.public_key_id);
}

namespace {

KeyDecision stopped() {
  KeyDecision d;
  d.stop = true;
  return d;
}

std::string format_date(std::time_t t) { return format_utc(t, "%Y-%m-%d"); }

// A key file others may read or write (or its group write): private key
// material must not be, whatever else is right. Group-readable is fine
// (Debian's ssl-cert convention: 0640 root:ssl-cert).
std::string mode_problem(const fs::path& path, mode_t mode) {
  if ((mode & 027) == 0) return "";
  char octal[8];
  std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode & 07777));
  return "the key " + path.string() + " is " + ((mode & 007) ? "readable or writable by others" : "writable by its group") +
         " (mode " + octal + "); run: chmod 600 " + path.string() + " (or 640 with the group ssl-cert)";
}

// Why an existing key cannot serve the site, or "" when it can.
std::string key_problem(const KeySpec& spec, const KeyFacts& key, const fs::path& path) {
  if (!key.file.error.is_ok()) return key.file.error.message();
  if (std::string mode = mode_problem(path, key.mode); !mode.empty()) return mode;
  if (!key.opened) return key.open_error.message();
  if (!key.is_rsa) return "not an RSA key; the CA's procedure needs RSA";
  if (key.bits != spec.bits)
    return "the key has " + std::to_string(key.bits) + " bits, the manifest says " + std::to_string(spec.bits);
  if (spec.cipher == Cipher::kNone && key.encrypted) return "the key is encrypted, the manifest says cipher none";
  if (spec.cipher != Cipher::kNone && !key.encrypted)
    return "the key is not encrypted, the manifest says " + std::string(cipher_name(spec.cipher));
  return "";
}

KeyDecision stop_with_error(const SiteInput& in, SitePlan& sp, const fs::path& path, std::string why,
                            const char* what = nullptr) {
  sp.changes.push_back(make_change(ResourceKind::kKey, Action::kError, path, std::move(why)));
  block_after(in, sp, ResourceKind::kKey, what);
  return stopped();
}

// The live key is unusable and its replacement has no certificate yet:
// everything waits for that certificate.
KeyDecision stop_waiting(const SiteInput& in, SitePlan& sp, const std::string& live_problem,
                         const std::string& waiting) {
  sp.changes.push_back(make_change(ResourceKind::kKey, Action::kPending, in.site.key.path,
                                   "live key: " + live_problem + "; " + waiting));
  for (auto kind : {ResourceKind::kCsr, ResourceKind::kCertificate, ResourceKind::kChain, ResourceKind::kFullchain,
                    ResourceKind::kVhost}) {
    if (kind == ResourceKind::kFullchain && !in.site.fullchain) continue;
    Change c = make_change(kind, Action::kPending, "", "waiting for the certificate for the staged key");
    c.blocked_by = Blocker{ResourceKind::kKey, false};
    sp.changes.push_back(std::move(c));
  }
  return stopped();
}

// Why the staged CSR is not the one to send for the staged key, or "".
std::string staged_csr_problem(const SiteInput& in) {
  const CsrFacts& csr = in.facts.staged().csr;
  const std::string path = staged_path(in.site.csr);
  if (!csr.file.error.is_ok()) return csr.file.error.message();
  if (!csr.file.exists) return "the staged CSR " + path + " is missing";
  if (!csr.parsed) return "the staged CSR " + path + " is not a valid CSR (" + csr.parse_error.message() + ")";
  return join(csr_problems(csr.info, crypto::ecert_subject(in.site.organization, in.site.name),
                              in.facts.staged().key.public_key_id),
              "; ");
}

// When the live certificate's renewal window opened, if it has.
std::optional<std::time_t> renewal_due(const SiteInput& in) {
  const CertFacts& c = in.facts.cert;
  if (!c.parsed || c.info.public_key_id != in.facts.key.public_key_id || c.info.not_before > c.info.not_after)
    return std::nullopt;
  return window_reached(in.site.renewal.before, c.info.not_before, c.info.not_after, in.observed.now);
}

StageRenewal staging(const SiteInput& in, bool new_key) {
  return StageRenewal{new_key, in.site.key.bits, in.site.key.cipher,
                      crypto::ecert_subject(in.site.organization, in.site.name)};
}

std::string next_step(const SiteInput& in) {
  return "submit the CSR " + staged_path(in.site.csr) + " to the CA (" + in.csr_cmd() +
         ") and place the certificate it issues at " + staged_path(in.site.certificate);
}

// Why the file at <certificate>.new is not the renewal of the staged key.
std::string staged_certificate_error(const SiteInput& in) {
  const CertFacts& c = in.facts.staged().cert;
  const std::string path = staged_path(in.site.certificate);
  if (!c.file.error.is_ok()) return c.file.error.message();
  if (!c.parsed) return path + ": " + c.parse_error.message() + "; place the certificate the CA issued for " +
                        staged_path(in.site.csr) + " there";
  const std::string whose = c.info.public_key_id == in.facts.key.public_key_id ? "the live key" : "another key";
  return path + " is not for the staged key " + staged_path(in.site.key.path) + " but for " + whose +
         ": the CA must issue it for the staged CSR " + staged_path(in.site.csr) +
         "; submit that CSR and replace " + path + " with what the CA issues";
}

// A promotion that completed (the live key holds the staged key's bytes):
// once Apache runs with it, the staged files go.
KeyDecision plan_completed(const SiteInput& in, SitePlan& sp) {
  const Site& site = in.site;
  const SiteFacts& f = in.facts;
  KeyDecision d;
  d.key_id = f.key.public_key_id;
  if (!f.installed || f.installed->key != f.key.file.digest) {
    sp.changes.push_back(settled(in, sp, ResourceKind::kKey, site.key.path, "the renewed key, promoted"));
    return d;
  }
  std::vector<std::string> staged{staged_path(site.key.path), staged_path(site.csr)};
  if (f.staged().cert.file.exists) staged.push_back(staged_path(site.certificate));
  sp.changes.push_back(make_change(ResourceKind::kKey, Action::kUpdate, site.key.path,
                                   "the renewal is installed and Apache serves it; remove the staged files " +
                                       join(staged, ", "),
                                   RemoveStaged{staged}));
  return d;
}

// A renewal is staged: it is promoted once the certificate for the staged
// key has arrived (at <certificate>.new or over the live one), and waits
// for it until then.
KeyDecision plan_staged(const SiteInput& in, SitePlan& sp, const std::string& live_problem) {
  const Site& site = in.site;
  const SiteFacts& f = in.facts;
  const std::string staged = staged_path(site.key.path);
  if (std::string problem = key_problem(site.key, f.staged().key, staged); !problem.empty())
    return stop_with_error(in, sp, staged, "staged key: " + problem + "; run " + in.rotate_cmd() + " again",
                           "staged key");
  if (f.staged().key.file.digest == f.key.file.digest) return plan_completed(in, sp);
  sp.renewal.staged_since = f.staged().key.modified;
  sp.renewal.due_since = renewal_due(in);  // still due while staged: status and the metrics say since when
  KeyDecision d;
  d.staged = true;
  d.key_id = f.key.public_key_id;
  if (renewal_arrived(f)) d.renewal_error = renewed_certificate_error(in);
  else if (f.staged().cert.file.exists || !f.staged().cert.file.error.is_ok()) d.renewal_error = staged_certificate_error(in);
  d.promote = renewal_arrived(f) && d.renewal_error.empty();
  if (d.promote) {
    sp.renewal.promoting = true;
    sp.changes.push_back(make_change(ResourceKind::kKey, Action::kUpdate, site.key.path,
                                     "promote the staged key " + staged +
                                         " (its certificate arrived); the live key is kept as " +
                                         site.key.path.string() + ".old-<UTC time>",
                                     PromoteKey{staged}, true));
    d.key_id = f.staged().key.public_key_id;
    return d;
  }
  if (std::string problem = staged_csr_problem(in); !problem.empty()) {
    sp.changes.push_back(make_change(ResourceKind::kKey, Action::kUpdate, staged,
                                     "renewal staged, but " + problem + ": write it for the staged key",
                                     staging(in, false)));
    return d;
  }
  if (!d.renewal_error.empty()) {
    sp.changes.push_back(make_change(ResourceKind::kKey, Action::kPending, site.key.path,
                                     "renewal staged; its certificate arrived but cannot be installed (see the "
                                     "certificate); Apache keeps serving the live one"));
    return d;
  }
  sp.renewal.csr_to_submit = staged_path(site.csr);
  const std::string waiting = "renewal pending since " + format_date(f.staged().key.modified) + ": " + next_step(in);
  if (!live_problem.empty()) return stop_waiting(in, sp, live_problem, waiting);
  sp.changes.push_back(make_change(ResourceKind::kKey, Action::kPending, site.key.path, waiting));
  return d;
}

// Promotion: the staged CSR (the one the CA signed) becomes the live one
// when it is right for the promoted key, else a new one is signed.
Change promoted_csr(const SiteInput& in, const KeyDecision& key, const crypto::NameEntries& subject) {
  const CsrFacts& staged = in.facts.staged().csr;
  const std::string staged_csr = staged_path(in.site.csr);
  std::string why = !staged.file.exists ? "the staged CSR " + staged_csr + " is missing"
                    : !staged.parsed    ? "the staged CSR " + staged_csr + " is not a valid CSR"
                                        : join(csr_problems(staged.info, subject, key.key_id), "; ");
  Change c = why.empty() ? make_change(ResourceKind::kCsr, Action::kUpdate, in.site.csr,
                                       "promote the staged CSR " + staged_csr, PromoteCsr{staged_csr})
                         : make_change(ResourceKind::kCsr, Action::kUpdate, in.site.csr,
                                       "rewrite for the promoted key: " + why, NewCsr{subject, KeyRole::kLive});
  c.undone_on_rollback = true;  // it goes with the key
  return c;
}

// The live key serves; a renewal is staged now when it is due.
KeyDecision plan_live(const SiteInput& in, SitePlan& sp) {
  const Site& site = in.site;
  const SiteFacts& f = in.facts;
  KeyDecision d;
  d.key_id = f.key.public_key_id;
  sp.renewal.due_since = renewal_due(in);
  if (sp.renewal.due_since && site.renewal.stage == RenewalSpec::Stage::kAuto) {
    sp.changes.push_back(make_change(ResourceKind::kKey, Action::kCreate, staged_path(site.key.path),
                                     "renewal due since " + format_date(*sp.renewal.due_since) +
                                         ": stage a new key and its CSR at " + staged_path(site.csr) +
                                         " (the live key stays); then " + next_step(in),
                                     staging(in, true)));
    sp.renewal.csr_to_submit = staged_path(site.csr);
    return d;
  }
  if (sp.renewal.due_since)
    sp.warnings.push_back("renewal due since " + format_date(*sp.renewal.due_since) + " (renewal.stage is manual): run " +
                          in.rotate_cmd());
  if (f.staged().cert.file.exists)
    sp.warnings.push_back(staged_path(site.certificate) + " is ignored: no renewal is staged (" +
                          staged_path(site.key.path) + " is missing); a certificate for the live key goes to " +
                          site.certificate.string());
  sp.changes.push_back(settled(in, sp, ResourceKind::kKey, site.key.path,
                               "RSA " + std::to_string(f.key.bits) +
                                   (f.key.encrypted ? ", opens with the passphrase" : ", unencrypted")));
  return d;
}

}  // namespace

KeyDecision plan_key(const SiteInput& in, SitePlan& sp) {
  const Site& site = in.site;
  const SiteFacts& f = in.facts;
  if (f.cert.parsed) {
    sp.renewal.not_after = f.cert.info.not_after;
    sp.renewal.certificate = f.cert.file.digest;
  }
  if (!f.passphrase_error.is_ok()) return stop_with_error(in, sp, site.key.path, f.passphrase_error.message());
  const bool live_exists = f.key.file.exists || !f.key.file.error.is_ok();
  const bool staged = f.staged().key.file.exists || !f.staged().key.file.error.is_ok();
  if (!live_exists && staged)
    return stop_with_error(in, sp, site.key.path,
                           "the live key is missing but a staged key exists at " + staged_path(site.key.path) +
                               "; restore the live key from your backup");
  if (!live_exists) {
    sp.changes.push_back(make_change(ResourceKind::kKey, Action::kCreate, site.key.path,
                                     "generate RSA " + std::to_string(site.key.bits) + " (" +
                                         cipher_name(site.key.cipher) + "), mode 0600",
                                     NewKey{site.key.bits, site.key.cipher}));
    KeyDecision d;
    d.new_key = true;
    return d;
  }
  const std::string live_problem = key_problem(site.key, f.key, site.key.path);
  if (staged) return plan_staged(in, sp, live_problem);
  if (!live_problem.empty())
    return stop_with_error(in, sp, site.key.path,
                           live_problem + "; the key is never replaced implicitly: to replace it, run " +
                               in.rotate_cmd());
  return plan_live(in, sp);
}

void plan_csr(const SiteInput& in, const KeyDecision& key, SitePlan& sp) {
  const Site& site = in.site;
  const CsrFacts& csr = in.facts.csr;
  const crypto::NameEntries subject = crypto::ecert_subject(site.organization, site.name);
  auto add = [&](Action action, std::string reason, Payload payload = {}) {
    sp.changes.push_back(make_change(ResourceKind::kCsr, action, site.csr, std::move(reason), std::move(payload)));
  };
  const NewCsr sign{subject, key.new_key ? KeyRole::kNew : KeyRole::kLive};
  if (key.promote) {
    sp.changes.push_back(promoted_csr(in, key, subject));
  } else if (key.new_key) {
    add(csr.file.exists ? Action::kUpdate : Action::kCreate, "for the new key: " + crypto::format_name(subject), sign);
  } else if (!csr.file.error.is_ok()) {
    add(Action::kError, csr.file.error.message());
  } else if (!csr.file.exists) {
    add(Action::kCreate, crypto::format_name(subject), sign);
  } else if (!csr.parsed) {
    add(Action::kUpdate, "not a valid CSR (" + csr.parse_error.message() + "); regenerate", sign);
  } else if (auto diffs = csr_problems(csr.info, subject, key.key_id); !diffs.empty()) {
    add(Action::kUpdate, join(diffs, "; "), sign);
  } else {
    add(Action::kNoOp, crypto::format_name(subject));
  }
}

}  // namespace ecert::planning
