#include "engine/plan.h"
#include "util/time.h"

#include <algorithm>
#include <cctype>

namespace ecert {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string squote(const std::string& s) { return "'" + s + "'"; }

std::string site_flag(const std::string& manifest_arg, const std::string& site) {
  return "-f " + manifest_arg + " --site " + site;
}

Change make(ResourceKind kind, Action action, const fs::path& path, std::string reason,
            Operation op = Operation::kNone, bool apache_reads = false) {
  Change c;
  c.kind = kind;
  c.action = action;
  c.path = path.string();
  c.reason = std::move(reason);
  c.op = op;
  c.apache_reads = apache_reads;
  return c;
}

// Why an existing key cannot serve the site, or "" when it can.
std::string key_problem(const KeySpec& spec, const KeyFacts& key) {
  if (!key.file.error.is_ok()) return key.file.error.message();
  if (!key.opened) return key.open_error.message();
  if (!key.is_rsa) return "not an RSA key; the CA's procedure needs RSA";
  if (key.bits != spec.bits)
    return "the key has " + std::to_string(key.bits) + " bits, the manifest says " +
           std::to_string(spec.bits);
  if (spec.cipher == Cipher::kNone && key.encrypted)
    return "the key is encrypted, the manifest says cipher none";
  if (spec.cipher != Cipher::kNone && !key.encrypted)
    return "the key is not encrypted, the manifest says " + std::string(cipher_name(spec.cipher));
  return "";
}

// Differences between a CSR and what the manifest asks for, as reasons.
std::vector<std::string> csr_differences(const CsrFacts& csr, const crypto::NameEntries& want,
                                         const std::string& key_id) {
  const CachedCsr& have = csr;
  std::vector<std::string> out;
  if (have.subject != want) {
    bool named = false;
    for (const auto& [field, value] : want) {
      std::string old;
      int count = 0;
      for (const auto& [f, v] : have.subject)
        if (f == field) old = v, ++count;
      if (count == 0) {
        out.push_back("CSR subject lacks " + field + " (want " + squote(value) + ")");
        named = true;
      } else if (old != value) {
        out.push_back("CSR subject " + field + " differs: " + squote(old) + " -> " + squote(value));
        named = true;
      }
    }
    if (!named)
      out.push_back("CSR subject is " + squote(crypto::format_name(have.subject)) + ", want " +
                    squote(crypto::format_name(want)));
  }
  if (csr.public_key_id != key_id) out.push_back("CSR was made for another key");
  if (!have.signature_valid) out.push_back("CSR signature does not verify");
  if (have.attribute_count != 0) out.push_back("CSR carries attributes or extensions; the CA wants none");
  if (lower(have.signature_digest) != "sha256") out.push_back("CSR is signed with " + have.signature_digest + ", want SHA-256");
  return out;
}

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : sep) + p;
  return out;
}

std::string format_date(std::time_t t) { return format_utc(t, "%Y-%m-%d"); }

bool name_in(const std::string& name, const std::vector<std::string>& names) {
  for (const auto& n : names)
    if (lower(n) == name) return true;
  return false;
}

// Everything wrong with a parsed certificate for this site, or empty.
std::vector<std::string> certificate_problems(const Site& site, const CertFacts& cert,
                                              const CaFacts& ca, std::time_t now) {
  std::vector<std::string> out;
  if (lower(cert.common_name) != site.name)
    out.push_back("certificate CN is " + squote(cert.common_name) + ", the manifest says " +
                  squote(site.name));
  for (const auto& n : site.additional_names)
    if (!name_in(n, cert.dns_names)) out.push_back("certificate does not carry " + squote(n));
  if (!cert.signed_by_sub) {
    if (cert.signed_by_other_feature_sub)
      out.push_back("certificate was issued by " + squote(cert.other_feature_sub_cn) + " but a " +
                    feature_name(site.feature) + " site needs " + squote(ca.sub_cn) + " (" +
                    site.ca.sub.front().string() + ")");
    else
      out.push_back("certificate was not issued by the sub CA " + squote(ca.sub_cn) + " in " +
                    site.ca.sub.front().string() + " (its issuer says " + squote(cert.issuer_cn) +
                    ", but the signature does not verify with that CA)");
  }
  if (now < cert.not_before) out.push_back("certificate is not valid before " + format_date(cert.not_before));
  if (now > cert.not_after) out.push_back("certificate expired on " + format_date(cert.not_after));
  return out;
}

}  // namespace

const char* resource_name(ResourceKind kind) {
  switch (kind) {
    case ResourceKind::kKey: return "key";
    case ResourceKind::kCsr: return "csr";
    case ResourceKind::kCertificate: return "certificate";
    case ResourceKind::kChain: return "chain";
    case ResourceKind::kVhost: return "vhost";
  }
  return "?";
}

const char* action_name(Action action) {
  switch (action) {
    case Action::kNoOp: return "no-op";
    case Action::kCreate: return "create";
    case Action::kUpdate: return "update";
    case Action::kPending: return "pending";
    case Action::kError: return "error";
  }
  return "?";
}

const char* site_state_name(SitePlan::State state) {
  switch (state) {
    case SitePlan::State::kConverged: return "ok";
    case SitePlan::State::kChanges: return "changed";
    case SitePlan::State::kPending: return "pending";
    case SitePlan::State::kError: return "error";
  }
  return "?";
}

bool SitePlan::has(Action action) const {
  return std::any_of(changes.begin(), changes.end(), [&](const Change& c) { return c.action == action; });
}

SitePlan::State SitePlan::state() const {
  if (has(Action::kError)) return State::kError;
  if (has(Action::kCreate) || has(Action::kUpdate)) return State::kChanges;
  if (has(Action::kPending)) return State::kPending;
  return State::kConverged;
}

bool Plan::has_changes() const {
  return std::any_of(sites.begin(), sites.end(), [](const SitePlan& s) {
    return s.has(Action::kCreate) || s.has(Action::kUpdate);
  });
}

bool Plan::has_errors() const {
  return std::any_of(sites.begin(), sites.end(), [](const SitePlan& s) { return s.has(Action::kError); });
}

std::string staged_path(const fs::path& live) { return live.string() + ".new"; }

namespace {

SitePlan plan_site(const Site& site, const SiteFacts& f, const Observed& obs,
                   const std::string& manifest_arg) {
  SitePlan sp;
  sp.name = site.name;
  sp.unicode_name = site.unicode_name;
  sp.feature = feature_name(site.feature);
  const std::string rotate_cmd = "ecertctl rotate " + site_flag(manifest_arg, site.name);
  const std::string csr_cmd = "ecertctl csr " + site_flag(manifest_arg, site.name);

  auto blocked = [&](ResourceKind kind, const fs::path& path, const std::string& by) {
    sp.changes.push_back(make(kind, Action::kError, path, "not checked: " + by + " has an error"));
  };
  auto block_rest = [&](std::size_t from, const std::string& by) {
    const ResourceKind kinds[] = {ResourceKind::kKey, ResourceKind::kCsr, ResourceKind::kCertificate,
                                  ResourceKind::kChain, ResourceKind::kVhost};
    const fs::path paths[] = {site.key.path, site.csr, site.certificate, site.chain,
                              site.vhost.file.value_or(fs::path())};
    for (std::size_t i = from; i < 5; ++i) blocked(kinds[i], paths[i], by);
  };

  // ---- key ----
  const bool staged = f.staged_key.file.exists;
  bool key_new = false;
  std::string key_id;  // the key the CSR and certificate must belong to
  if (!f.passphrase_error.is_ok()) {
    sp.changes.push_back(make(ResourceKind::kKey, Action::kError, site.key.path, f.passphrase_error.message()));
    block_rest(1, "the key");
    return sp;
  }
  const bool live_exists = f.key.file.exists || !f.key.file.error.is_ok();
  const std::string live_problem = live_exists ? key_problem(site.key, f.key) : "";
  if (!live_exists && staged) {
    sp.changes.push_back(make(ResourceKind::kKey, Action::kError, site.key.path,
                              "the live key is missing but a staged key exists at " +
                                  staged_path(site.key.path) + "; restore the live key from your backup"));
    block_rest(1, "the key");
    return sp;
  }
  if (!live_exists) {
    key_new = true;
    sp.changes.push_back(make(ResourceKind::kKey, Action::kCreate, site.key.path,
                              "generate RSA " + std::to_string(site.key.bits) + " (" +
                                  cipher_name(site.key.cipher) + "), mode 0600",
                              Operation::kGenerateKey));
  }
  if (!live_problem.empty() && !staged) {
    sp.changes.push_back(make(ResourceKind::kKey, Action::kError, site.key.path,
                              live_problem + "; the key is never replaced implicitly: to replace it, run " +
                                  rotate_cmd));
    block_rest(1, "the key");
    return sp;
  }
  key_id = f.key.public_key_id;

  // A renewal in progress decides which key the certificate must match.
  bool promote = false;
  if (staged) {
    if (std::string problem = key_problem(site.key, f.staged_key); !problem.empty()) {
      sp.changes.push_back(make(ResourceKind::kKey, Action::kError, staged_path(site.key.path),
                                "staged key: " + problem + "; run " + rotate_cmd + " again"));
      block_rest(1, "the staged key");
      return sp;
    }
    promote = f.cert.parsed && f.cert.public_key_id == f.staged_key.public_key_id;
    if (!promote) {
      const std::string waiting = "renewal staged at " + staged_path(site.key.path) +
                                  ": waiting for the CA's certificate for the new key (" + csr_cmd + ")";
      if (!live_problem.empty()) {
        // The live key is unusable and its replacement has no certificate yet.
        sp.changes.push_back(make(ResourceKind::kKey, Action::kPending, site.key.path,
                                  "live key: " + live_problem + "; " + waiting));
        for (auto kind : {ResourceKind::kCsr, ResourceKind::kCertificate, ResourceKind::kChain, ResourceKind::kVhost})
          sp.changes.push_back(make(kind, Action::kPending, "", "waiting for the certificate for the staged key"));
        return sp;
      }
      sp.changes.push_back(make(ResourceKind::kKey, Action::kPending, site.key.path, waiting));
    }
  }
  if (promote) {
    sp.changes.push_back(make(ResourceKind::kKey, Action::kUpdate, site.key.path,
                              "promote the staged key " + staged_path(site.key.path) +
                                  " (its certificate arrived); the old key is kept as a backup",
                              Operation::kPromoteStaged, true));
    key_id = f.staged_key.public_key_id;
  } else if (!key_new && !staged) {
    sp.changes.push_back(make(ResourceKind::kKey, Action::kNoOp, site.key.path,
                              "RSA " + std::to_string(f.key.bits) +
                                  (f.key.encrypted ? ", opens with the passphrase" : ", unencrypted")));
  }

  // ---- csr ----
  const crypto::NameEntries subject = crypto::ecert_subject(site.organization, site.name);
  if (promote) {
    const auto& csr = f.staged_csr;
    std::string why = csr.parsed ? join(csr_differences(csr, subject, key_id), "; ") : "";
    sp.changes.push_back(make(ResourceKind::kCsr, Action::kUpdate, site.csr,
                              why.empty() ? "promote the staged CSR " + staged_path(site.csr)
                                          : "rewrite for the promoted key: " + why,
                              Operation::kWriteCsr));
  } else if (key_new) {
    sp.changes.push_back(make(ResourceKind::kCsr, f.csr.file.exists ? Action::kUpdate : Action::kCreate,
                              site.csr, "for the new key: " + crypto::format_name(subject),
                              Operation::kWriteCsr));
  } else if (!f.csr.file.error.is_ok()) {
    sp.changes.push_back(make(ResourceKind::kCsr, Action::kError, site.csr, f.csr.file.error.message()));
  } else if (!f.csr.file.exists) {
    sp.changes.push_back(make(ResourceKind::kCsr, Action::kCreate, site.csr, crypto::format_name(subject),
                              Operation::kWriteCsr));
  } else if (!f.csr.parsed) {
    sp.changes.push_back(make(ResourceKind::kCsr, Action::kUpdate, site.csr,
                              "not a valid CSR (" + f.csr.parse_error.message() + "); regenerate",
                              Operation::kWriteCsr));
  } else if (auto diffs = csr_differences(f.csr, subject, key_id); !diffs.empty()) {
    sp.changes.push_back(make(ResourceKind::kCsr, Action::kUpdate, site.csr, join(diffs, "; "),
                              Operation::kWriteCsr));
  } else {
    sp.changes.push_back(make(ResourceKind::kCsr, Action::kNoOp, site.csr, crypto::format_name(subject)));
  }

  // ---- certificate ----
  const auto& cert = f.cert;
  const fs::path vhost_path = f.vhost.vhost ? fs::path(f.vhost.vhost->file) : site.vhost.file.value_or(fs::path());
  auto pending_rest = [&](const std::string& why) {
    sp.changes.push_back(make(ResourceKind::kChain, Action::kPending, site.chain, why));
    if (!f.vhost.error.is_ok())
      sp.changes.push_back(make(ResourceKind::kVhost, Action::kError, vhost_path, f.vhost.error.message()));
    else
      sp.changes.push_back(make(ResourceKind::kVhost, Action::kPending, vhost_path, why));
  };
  if (!cert.file.error.is_ok()) {
    sp.changes.push_back(make(ResourceKind::kCertificate, Action::kError, site.certificate,
                              cert.file.error.message()));
    block_rest(3, "the certificate");
    return sp;
  }
  if (!cert.file.exists || (key_new && !cert.parsed)) {
    sp.changes.push_back(make(ResourceKind::kCertificate, Action::kPending, site.certificate,
                              "waiting for the CA: submit the CSR (" + csr_cmd +
                                  ") and place the issued certificate at " + site.certificate.string()));
    pending_rest("waiting for the certificate");
    return sp;
  }
  if (!cert.parsed) {
    sp.changes.push_back(make(ResourceKind::kCertificate, Action::kError, site.certificate,
                              cert.parse_error.message() + "; place the PEM or DER certificate the CA issued here"));
    block_rest(3, "the certificate");
    return sp;
  }
  if (cert.public_key_id != key_id) {
    std::string which = key_new ? "the key being generated now (it belongs to a key that is gone)"
                                : "the key at " + site.key.path.string();
    if (staged) which += " nor the staged key";
    sp.changes.push_back(make(ResourceKind::kCertificate, Action::kError, site.certificate,
                              "certificate does not match " + which +
                                  "; place the certificate issued for this key's CSR"));
    block_rest(3, "the certificate");
    return sp;
  }
  if (auto problems = certificate_problems(site, cert, f.ca, obs.now); !problems.empty()) {
    sp.changes.push_back(make(ResourceKind::kCertificate, Action::kError, site.certificate,
                              join(problems, "; ") + "; Apache keeps serving what it serves now"));
    block_rest(3, "the certificate");
    return sp;
  }
  const long days_left = static_cast<long>((cert.not_after - obs.now) / 86400);
  std::string cert_summary = "issued by " + squote(cert.issuer_cn) + ", serial " + cert.serial +
                             ", valid until " + format_date(cert.not_after) + " (" +
                             std::to_string(days_left) + " days left)";
  if (days_left < kExpiryWarningDays)
    sp.warnings.push_back("certificate expires in " + std::to_string(days_left) + " days (" +
                          format_date(cert.not_after) + "); renew it with " + rotate_cmd);
  if (cert.was_der)
    sp.changes.push_back(make(ResourceKind::kCertificate, Action::kUpdate, site.certificate,
                              "DER file rewritten as PEM in place (Apache reads PEM); " + cert_summary,
                              Operation::kConvertToPem, true));
  else
    sp.changes.push_back(make(ResourceKind::kCertificate, Action::kNoOp, site.certificate, cert_summary));

  // ---- chain ----
  if (!f.ca.error.is_ok()) {
    sp.changes.push_back(make(ResourceKind::kChain, Action::kError, site.chain, f.ca.error.message()));
    block_rest(4, "the chain");
    return sp;
  }
  if (!f.ca.chain_verification.is_ok()) {
    sp.changes.push_back(make(ResourceKind::kChain, Action::kError, site.chain,
                              f.ca.chain_verification.message()));
    block_rest(4, "the chain");
    return sp;
  }
  const std::string chain_desc = squote(f.ca.sub_cn) + " then " + squote(f.ca.cross_cn);
  if (!f.chain.error.is_ok())
    sp.changes.push_back(make(ResourceKind::kChain, Action::kError, site.chain, f.chain.error.message()));
  else if (!f.chain.exists)
    sp.changes.push_back(make(ResourceKind::kChain, Action::kCreate, site.chain, chain_desc,
                              Operation::kWriteChain, true));
  else if (f.chain.digest != f.ca.chain_digest)
    sp.changes.push_back(make(ResourceKind::kChain, Action::kUpdate, site.chain,
                              "content differs; write " + chain_desc, Operation::kWriteChain, true));
  else
    sp.changes.push_back(make(ResourceKind::kChain, Action::kNoOp, site.chain, chain_desc));

  // ---- vhost ----
  if (!f.vhost.error.is_ok() || !f.vhost.vhost) {
    sp.changes.push_back(make(ResourceKind::kVhost, Action::kError, vhost_path,
                              f.vhost.error.is_ok() ? "no vhost" : f.vhost.error.message()));
    return sp;
  }
  const auto& vh = *f.vhost.vhost;
  const std::string where = vh.file + ":" + std::to_string(vh.line);
  const std::pair<const char*, std::string> want[] = {
      {"SSLCertificateFile", site.certificate.string()},
      {"SSLCertificateKeyFile", site.key.path.string()},
      {"SSLCertificateChainFile", site.chain.string()},
  };
  std::vector<std::string> diffs;
  for (const auto& [directive, value] : want) {
    auto have = vh.ssl_value(directive);
    if (!have) diffs.push_back("add " + std::string(directive) + " " + value);
    else if (*have != value) diffs.push_back(std::string(directive) + " " + *have + " -> " + value);
  }
  Change vc = make(ResourceKind::kVhost, diffs.empty() ? Action::kNoOp : Action::kUpdate, where,
                   diffs.empty() ? "SSL directives in place" : join(diffs, "; "),
                   diffs.empty() ? Operation::kNone : Operation::kPatchVhost, true);
  sp.changes.push_back(vc);

  // Everything is in place, but a file may have been replaced since Apache
  // last loaded it (a re-issued certificate dropped over the old one).
  if (f.installed && sp.state() == SitePlan::State::kConverged) {
    const std::pair<ResourceKind, std::pair<std::string, std::string>> loaded[] = {
        {ResourceKind::kKey, {f.installed->key, f.key.file.digest}},
        {ResourceKind::kCertificate, {f.installed->certificate, f.cert.file.digest}},
        {ResourceKind::kChain, {f.installed->chain, f.chain.digest}},
    };
    for (const auto& [kind, digests] : loaded) {
      if (digests.first == digests.second) continue;
      for (auto& c : sp.changes)
        if (c.kind == kind) {
          c.action = Action::kUpdate;
          c.op = Operation::kReload;
          c.apache_reads = true;
          c.reason = "changed on disk since Apache was last restarted; Apache must reload it (" + c.reason + ")";
        }
    }
  }
  return sp;
}

}  // namespace

Plan make_plan(const Manifest& manifest, const Observed& observed, const std::string& manifest_arg) {
  Plan plan;
  std::vector<std::string> reasons;
  for (std::size_t i = 0; i < manifest.sites.size(); ++i) {
    SitePlan sp = plan_site(manifest.sites[i], observed.sites[i], observed, manifest_arg);
    for (const auto& c : sp.changes)
      if (c.apache_reads && (c.action == Action::kCreate || c.action == Action::kUpdate))
        reasons.push_back(sp.name + " " + resource_name(c.kind));
    plan.sites.push_back(std::move(sp));
  }
  plan.restart = !reasons.empty();
  // A fleet's first run changes thousands of files: name the first few.
  constexpr std::size_t kNamed = 10;
  const std::size_t more = reasons.size() > kNamed ? reasons.size() - kNamed : 0;
  if (more) reasons.resize(kNamed);
  plan.restart_reason = plan.restart ? "changed: " + join(reasons, ", ") +
                                           (more ? " and " + std::to_string(more) + " more" : "")
                                     : "nothing Apache reads changes";
  return plan;
}

}  // namespace ecert
