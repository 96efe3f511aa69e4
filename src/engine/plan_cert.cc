// The certificate and chain planners, and what the planners share.
#include "engine/plan_site.h"
#include "engine/installed.h"
#include "util/digest.h"
#include "util/strings.h"
#include "util/time.h"

namespace ecert::planning {

Change make_change(ResourceKind kind, Action action, const fs::path& path, std::string reason, Payload payload,
                   bool apache_reads) {
  Change c;
  c.kind = kind;
  c.action = action;
  c.path = path.string();
  c.reason = std::move(reason);
  c.payload = std::move(payload);
  c.apache_reads = apache_reads;
  return c;
}

namespace {

constexpr ResourceKind kOrder[] = {ResourceKind::kKey, ResourceKind::kCsr, ResourceKind::kCertificate,
                                   ResourceKind::kChain, ResourceKind::kFullchain, ResourceKind::kVhost};

fs::path path_of(const Site& site, ResourceKind kind) {
  switch (kind) {
    case ResourceKind::kKey: return site.key.path;
    case ResourceKind::kCsr: return site.csr;
    case ResourceKind::kCertificate: return site.certificate;
    case ResourceKind::kChain: return site.chain;
    case ResourceKind::kFullchain: return site.fullchain ? site.fullchain->path() : fs::path();
    case ResourceKind::kVhost: return site.vhost.file.value_or(fs::path());
  }
  return {};
}

std::string format_date(std::time_t t) { return format_utc(t, "%Y-%m-%d"); }

bool name_in(const std::string& name, const std::vector<std::string>& names) {
  for (const auto& n : names)
    if (lower(n) == name) return true;
  return false;
}

std::string sub_files(const Site& site) {
  std::vector<std::string> files;
  for (const auto& f : site.ca.sub) files.push_back(f.string());
  return join(files, ", ");
}

std::string issuer_problem(const Site& site, const CertFacts& cert, const CaFacts& ca) {
  const std::string& issuer = cert.info.issuer_cn;
  if (cert.signed_by_other_feature_sub)
    return "certificate was issued by " + squote(cert.other_feature_sub_cn) + " but a " + feature_name(site.feature) +
           " site needs " + squote(ca.sub_cn) + " (" + sub_files(site) + ")";
  if (!cert.same_name_sub.empty())
    return "certificate was not issued by the sub CA in " + cert.same_name_sub + ": its issuer name " +
           squote(issuer) + " matches that CA's, but that CA's key did not sign it. If the CA has reissued " +
           squote(issuer) + " with a new key, download the reissued file from the CA's site and list it in ca.sub "
           "beside " + cert.same_name_sub + "; otherwise this certificate does not come from that CA";
  return "certificate was not issued by the sub CA " + squote(ca.sub_cn) + " in " + sub_files(site) +
         " (its issuer says " + squote(issuer) + ", but the signature does not verify with that CA)";
}

// A CA certificate on the served path that ends before the leaf does: the
// chain stops verifying before the certificate expires.
void warn_if_shorter(SitePlan& sp, const CertFacts& cert, std::time_t ca_not_after, const std::string& what,
                     const std::string& file) {
  if (ca_not_after == 0 || ca_not_after >= cert.info.not_after) return;
  sp.warnings.push_back(what + " " + file + " expires on " + format_date(ca_not_after) +
                        ", before the certificate does (" + format_date(cert.info.not_after) +
                        "): the chain stops verifying then; get its successor from the CA's site and list it");
}

// Everything wrong with a parsed certificate for this site, or empty.
std::vector<std::string> certificate_problems(const Site& site, const CertFacts& cert, const CaFacts& ca,
                                              std::time_t now) {
  std::vector<std::string> out;
  const CachedCert& c = cert.info;
  if (lower(c.common_name) != site.name)
    out.push_back("certificate CN is " + squote(c.common_name) + ", the manifest says " + squote(site.name));
  for (const auto& n : site.additional_names)
    if (!name_in(n, c.dns_names)) out.push_back("certificate does not carry " + squote(n));
  if (!cert.signed_by_sub) out.push_back(issuer_problem(site, cert, ca));
  if (now < c.not_before) out.push_back("certificate is not valid before " + format_date(c.not_before));
  if (now > c.not_after) out.push_back("certificate expired on " + format_date(c.not_after));
  return out;
}

// Why the certificate cannot serve the site, or "" when it can.
std::string certificate_error(const SiteInput& in, const KeyDecision& key, const CertFacts& cert, const CaFacts& ca) {
  if (!cert.parsed)
    return cert.parse_error.message() + "; place the PEM or DER certificate the CA issued here";
  if (cert.info.public_key_id != key.key_id) {
    std::string which = key.new_key ? "the key being generated now (it belongs to a key that is gone)"
                                    : "the key at " + in.site.key.path.string();
    if (key.staged) which += " nor the staged key";
    return "certificate does not match " + which + "; place the certificate issued for this key's CSR";
  }
  auto problems = certificate_problems(in.site, cert, ca, in.observed.now);
  if (!problems.empty()) return join(problems, "; ") + "; Apache keeps serving what it serves now";
  return "";
}

std::string summary_of(const SiteInput& in, const CertFacts& cert) {
  const CachedCert& c = cert.info;
  const long days_left = static_cast<long>((c.not_after - in.observed.now) / 86400);
  return "issued by " + squote(c.issuer_cn) + ", serial " + c.serial + ", valid until " + format_date(c.not_after) +
         " (" + std::to_string(days_left) + " days left)";
}

// Inside renewal.warn (or 30 days of the end), a renewal that is not
// installed is a warning that says what to do next.
void warn_renewal(const SiteInput& in, SitePlan& sp) {
  const CachedCert& c = in.facts.cert.info;
  const long days_left = static_cast<long>((c.not_after - in.observed.now) / 86400);
  const bool in_window = c.not_before <= c.not_after &&
                         window_reached(in.site.renewal.warn, c.not_before, c.not_after, in.observed.now).has_value();
  // DESIGN's certificate checks warn inside 30 days of the end, whatever the
  // lifetime; renewal.warn may open earlier.
  if (!in_window && days_left >= kExpiryWarningDays) return;
  sp.renewal.warn = true;
  const std::string next = !sp.renewal.csr_to_submit.empty()
                               ? "submit the CSR " + sp.renewal.csr_to_submit + " (" + in.csr_cmd() +
                                     ") and place the certificate at " + staged_path(in.site.certificate)
                           : sp.renewal.staged_since ? "place the renewed certificate at " +
                                                           staged_path(in.site.certificate)
                                                     : "stage the renewal with " + in.rotate_cmd();
  sp.warnings.push_back("certificate expires in " + std::to_string(days_left) + " days (" + format_date(c.not_after) +
                        ") and its renewal is not installed: " + next);
}

// The renewed certificate passed every check: it is installed with the
// staged key (and the chain of the sub CA that signed it).
bool has_previous_copy(const SiteFacts& f) {
  return f.installed && f.previous_cert.exists && f.previous_cert.digest == f.installed->certificate;
}

void plan_promotion(const SiteInput& in, SitePlan& sp, const CertFacts& renewed) {
  const Site& site = in.site;
  PromoteCertificate p;
  if (&renewed == &in.facts.staged().cert) p.staged = staged_path(site.certificate);
  else p.previous = installed_certificate_copy(in.observed.state_dir, site.name).string();
  if (renewed.was_der) p.pem = std::make_shared<const std::string>(renewed.pem);
  sp.renewal.renewed_not_after = renewed.info.not_after;
  sp.renewal.renewed_certificate = renewed.file.digest;
  Change c = make_change(ResourceKind::kCertificate, Action::kUpdate, site.certificate,
                         "install the renewed certificate" + (p.staged.empty() ? "" : " from " + p.staged) + ": " +
                             summary_of(in, renewed) + "; the previous one is kept as " +
                             site.certificate.string() + ".old-<UTC time>",
                         p, true);
  sp.changes.push_back(std::move(c));
}

// The certificate is not there yet: it and everything after it wait.
void plan_waiting(const SiteInput& in, SitePlan& sp) {
  const Site& site = in.site;
  sp.changes.push_back(make_change(ResourceKind::kCertificate, Action::kPending, site.certificate,
                                   "waiting for the CA: submit the CSR (" + in.csr_cmd() +
                                       ") and place the issued certificate at " + site.certificate.string()));
  const Blocker waits{ResourceKind::kCertificate, false};
  for (ResourceKind kind : {ResourceKind::kChain, ResourceKind::kFullchain}) {
    if (kind == ResourceKind::kFullchain && !site.fullchain) continue;
    Change c = make_change(kind, Action::kPending, path_of(site, kind), "waiting for the certificate");
    c.blocked_by = waits;
    sp.changes.push_back(std::move(c));
  }
  const VhostFacts& vh = in.facts.vhost;
  const fs::path vhost_path = vh.vhost ? fs::path(vh.vhost->file) : path_of(site, ResourceKind::kVhost);
  std::string reason = "waiting for the certificate";
  if (!vh.error.is_ok()) {
    // Weeks may pass before the CA answers: not an error yet, but what to fix before then.
    sp.warnings.push_back("fix before the certificate arrives (it is an error then): " + vh.error.message());
    reason += "; no vhost is ready for it yet (see the warning)";
  }
  Change vhost = make_change(ResourceKind::kVhost, Action::kPending, vhost_path, reason);
  vhost.blocked_by = waits;
  sp.changes.push_back(std::move(vhost));
}

// What Apache last loaded of a resource, and what is on disk now.
const std::string* loaded_digest(const InstalledRecord& r, ResourceKind kind) {
  switch (kind) {
    case ResourceKind::kKey: return &r.key;
    case ResourceKind::kCertificate: return &r.certificate;
    case ResourceKind::kChain: return &r.chain;
    default: return nullptr;
  }
}

const std::string* disk_digest(const SiteFacts& f, ResourceKind kind) {
  switch (kind) {
    case ResourceKind::kKey: return &f.key.file.digest;
    case ResourceKind::kCertificate: return &f.cert.file.digest;
    case ResourceKind::kChain: return &f.chain.digest;
    default: return nullptr;
  }
}

}  // namespace

Change settled(const SiteInput& in, const SitePlan& sp, ResourceKind kind, const fs::path& path,
               std::string reason) {
  const InstalledRecord* loaded = in.facts.installed ? &*in.facts.installed : nullptr;
  bool clean = !sp.has(Action::kError) && !sp.has(Action::kPending);
  // A key is reloaded only with its certificate: Apache refuses to start on a pair that does not match.
  if (kind == ResourceKind::kKey)
    clean &= in.facts.cert.parsed && in.facts.cert.info.public_key_id == in.facts.key.public_key_id;
  if (!loaded || !clean || *loaded_digest(*loaded, kind) == *disk_digest(in.facts, kind))
    return make_change(kind, Action::kNoOp, path, std::move(reason));
  return make_change(kind, Action::kUpdate, path,
                     "changed on disk since Apache was last restarted; Apache must reload it (" + reason + ")",
                     Reload{}, true);
}

void block_after(const SiteInput& in, SitePlan& sp, ResourceKind from, const char* what) {
  const std::string by = std::string("the ") + (what ? what : resource_name(from));
  bool after = false;
  for (ResourceKind kind : kOrder) {
    if (kind == ResourceKind::kFullchain && !in.site.fullchain) continue;
    if (after) {
      Change c = make_change(kind, Action::kError, path_of(in.site, kind), "not checked: " + by + " has an error");
      c.blocked_by = Blocker{from, true};
      sp.changes.push_back(std::move(c));
    }
    after |= kind == from;
  }
}

std::string renewed_certificate_error(const SiteInput& in) {
  KeyDecision staged;
  staged.staged = true;
  staged.key_id = in.facts.staged().key.public_key_id;
  const std::string error = certificate_error(in, staged, served_cert(in.facts), served_ca(in.facts));
  if (!error.empty() || renewed_at_staged_path(in.facts) || has_previous_copy(in.facts)) return error;
  return "the renewed certificate was placed over the live one, and ecertctl has no copy of the certificate "
         "Apache runs with to fall back on if the renewal fails; move the renewed certificate to " +
         staged_path(in.site.certificate) + " and put the previous one back, then run again";
}

bool plan_certificate(const SiteInput& in, const KeyDecision& key, SitePlan& sp) {
  const Site& site = in.site;
  const bool renewed = key.promote || !key.renewal_error.empty();
  const CertFacts& cert = renewed ? served_cert(in.facts) : in.facts.cert;
  const bool staged_file = &cert == &in.facts.staged().cert ||
                           (!key.renewal_error.empty() && in.facts.staged().cert.file.exists);
  const fs::path path = staged_file ? fs::path(staged_path(site.certificate)) : site.certificate.path();
  auto refuse = [&](const std::string& why) {
    sp.changes.push_back(make_change(ResourceKind::kCertificate, Action::kError, path, why));
    block_after(in, sp, ResourceKind::kCertificate);
    return false;
  };
  if (!cert.file.error.is_ok()) return refuse(cert.file.error.message());
  if (!cert.file.exists || (key.new_key && !cert.parsed)) {
    plan_waiting(in, sp);
    return false;
  }
  if (!key.renewal_error.empty()) return refuse(key.renewal_error);
  if (std::string error = certificate_error(in, key, cert, key.promote ? served_ca(in.facts) : in.facts.ca);
      !error.empty())
    return refuse(error);
  if (key.promote) {
    plan_promotion(in, sp, cert);
    return true;
  }
  warn_renewal(in, sp);
  const std::string summary = summary_of(in, cert);
  if (cert.was_der)
    sp.changes.push_back(make_change(ResourceKind::kCertificate, Action::kUpdate, site.certificate,
                                     "DER file rewritten as PEM in place (Apache reads PEM); " + summary,
                                     WriteFile{std::make_shared<const std::string>(cert.pem), {}}, true));
  else
    sp.changes.push_back(settled(in, sp, ResourceKind::kCertificate, site.certificate, summary));
  return true;
}

bool plan_chain(const SiteInput& in, const KeyDecision& key, SitePlan& sp) {
  const Site& site = in.site;
  const CaFacts& ca = key.promote ? served_ca(in.facts) : in.facts.ca;
  const CertFacts& cert = key.promote ? served_cert(in.facts) : in.facts.cert;
  const FileFacts& chain = in.facts.chain;
  const Status conflict = in.chain_conflict.empty() ? Status::ok() : Status::conflict(in.chain_conflict);
  const Status& problem = !ca.error.is_ok() ? ca.error : !conflict.is_ok() ? conflict : ca.chain_verification;
  if (!problem.is_ok()) {
    sp.changes.push_back(make_change(ResourceKind::kChain, Action::kError, site.chain, problem.message()));
    block_after(in, sp, ResourceKind::kChain);
    return false;
  }
  // The sub CA's file too: a reissued sub CA has the old one's name.
  const std::string desc = squote(ca.sub_cn) + " (" + ca.sub_path + ") then " + squote(ca.cross_cn);
  const WriteFile content{ca.chain_pem, {ca.sub_path, site.ca.cross.string()}, key.promote};
  warn_if_shorter(sp, cert, ca.sub_not_after, "the sub CA " + squote(ca.sub_cn) + " in", ca.sub_path);
  warn_if_shorter(sp, cert, ca.cross_not_after, "the cross certificate", site.ca.cross.string());
  if (!chain.error.is_ok())
    sp.changes.push_back(make_change(ResourceKind::kChain, Action::kError, site.chain, chain.error.message()));
  else if (!chain.exists)
    sp.changes.push_back(make_change(ResourceKind::kChain, Action::kCreate, site.chain, desc, content, true));
  else if (chain.digest != ca.chain_digest)
    sp.changes.push_back(
        make_change(ResourceKind::kChain, Action::kUpdate, site.chain, "content differs; write " + desc, content, true));
  else
    sp.changes.push_back(settled(in, sp, ResourceKind::kChain, site.chain, desc));
  return true;
}

void plan_fullchain(const SiteInput& in, const KeyDecision& key, SitePlan& sp) {
  const fs::path path = *in.site.fullchain;
  const CertFacts& cert = key.promote ? served_cert(in.facts) : in.facts.cert;
  const CaFacts& ca = key.promote ? served_ca(in.facts) : in.facts.ca;
  const FileFacts& file = in.facts.fullchain;
  if (!file.error.is_ok()) {
    sp.changes.push_back(make_change(ResourceKind::kFullchain, Action::kError, path, file.error.message()));
    return;
  }
  auto bytes = std::make_shared<const std::string>(cert.pem + *ca.chain_pem);
  const std::string desc = "the certificate, then " + squote(ca.sub_cn) + " and " + squote(ca.cross_cn);
  const std::string leaf = &cert == &in.facts.staged().cert ? staged_path(in.site.certificate) : in.site.certificate.string();
  const WriteFile content{bytes, {leaf, ca.sub_path, in.site.ca.cross.string()}, key.promote};
  if (!file.exists)
    sp.changes.push_back(make_change(ResourceKind::kFullchain, Action::kCreate, path, desc, content, true));
  else if (file.digest != sha256_hex(*bytes))
    sp.changes.push_back(
        make_change(ResourceKind::kFullchain, Action::kUpdate, path, "content differs; write " + desc, content, true));
  else
    sp.changes.push_back(make_change(ResourceKind::kFullchain, Action::kNoOp, path, desc));
}

}  // namespace ecert::planning
