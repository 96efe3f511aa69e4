// The key and CSR planners: which key the site uses, and its CSR.
#include "engine/plan_site.h"
#include "util/strings.h"

namespace ecert::planning {
namespace {

KeyDecision stopped() {
  KeyDecision d;
  d.stop = true;
  return d;
}

// Why an existing key cannot serve the site, or "" when it can.
std::string key_problem(const KeySpec& spec, const KeyFacts& key) {
  if (!key.file.error.is_ok()) return key.file.error.message();
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
  for (auto kind : {ResourceKind::kCsr, ResourceKind::kCertificate, ResourceKind::kChain, ResourceKind::kVhost}) {
    Change c = make_change(kind, Action::kPending, "", "waiting for the certificate for the staged key");
    c.blocked_by = Blocker{ResourceKind::kKey, false};
    sp.changes.push_back(std::move(c));
  }
  return stopped();
}

// A renewal is staged: it is promoted once the certificate for the staged
// key has arrived, and waits for it until then.
KeyDecision plan_staged(const SiteInput& in, SitePlan& sp, const std::string& live_problem) {
  const Site& site = in.site;
  const SiteFacts& f = in.facts;
  const std::string staged = staged_path(site.key.path);
  if (std::string problem = key_problem(site.key, f.staged_key); !problem.empty())
    return stop_with_error(in, sp, staged, "staged key: " + problem + "; run " + in.rotate_cmd + " again",
                           "staged key");
  KeyDecision d;
  d.staged = true;
  d.key_id = f.key.public_key_id;
  d.promote = f.cert.parsed && f.cert.info.public_key_id == f.staged_key.public_key_id;
  if (d.promote) {
    sp.changes.push_back(make_change(ResourceKind::kKey, Action::kUpdate, site.key.path,
                                     "promote the staged key " + staged +
                                         " (its certificate arrived); the old key is kept as a backup",
                                     PromoteKey{staged}, true));
    d.key_id = f.staged_key.public_key_id;
    return d;
  }
  const std::string waiting =
      "renewal staged at " + staged + ": waiting for the CA's certificate for the new key (" + in.csr_cmd + ")";
  if (!live_problem.empty()) return stop_waiting(in, sp, live_problem, waiting);
  sp.changes.push_back(make_change(ResourceKind::kKey, Action::kPending, site.key.path, waiting));
  return d;
}

// Differences between a CSR and what the manifest asks for, as reasons.
std::vector<std::string> csr_differences(const CachedCsr& have, const crypto::NameEntries& want,
                                         const std::string& key_id) {
  std::vector<std::string> out;
  if (have.subject != want) {
    for (const auto& [field, value] : want) {
      std::string old;
      int count = 0;
      for (const auto& [f, v] : have.subject)
        if (f == field) old = v, ++count;
      if (count == 0) out.push_back("CSR subject lacks " + field + " (want " + squote(value) + ")");
      else if (old != value) out.push_back("CSR subject " + field + " differs: " + squote(old) + " -> " + squote(value));
    }
    if (out.empty())
      out.push_back("CSR subject is " + squote(crypto::format_name(have.subject)) + ", want " +
                    squote(crypto::format_name(want)));
  }
  if (have.public_key_id != key_id) out.push_back("CSR was made for another key");
  if (!have.signature_valid) out.push_back("CSR signature does not verify");
  if (have.attribute_count != 0) out.push_back("CSR carries attributes or extensions; the CA wants none");
  if (lower(have.signature_digest) != "sha256")
    out.push_back("CSR is signed with " + have.signature_digest + ", want SHA-256");
  return out;
}

// Promotion: the staged CSR (the one the CA signed) becomes the live one
// when it is right for the promoted key, else a new one is signed.
Change promoted_csr(const SiteInput& in, const KeyDecision& key, const crypto::NameEntries& subject) {
  const CsrFacts& staged = in.facts.staged_csr;
  const std::string staged_csr = staged_path(in.site.csr);
  std::string why = !staged.file.exists ? "the staged CSR " + staged_csr + " is missing"
                    : !staged.parsed    ? "the staged CSR " + staged_csr + " is not a valid CSR"
                                        : join(csr_differences(staged.info, subject, key.key_id), "; ");
  if (why.empty())
    return make_change(ResourceKind::kCsr, Action::kUpdate, in.site.csr, "promote the staged CSR " + staged_csr,
                       MoveStagedCsr{staged_csr});
  return make_change(ResourceKind::kCsr, Action::kUpdate, in.site.csr, "rewrite for the promoted key: " + why,
                     NewCsr{subject, KeyRole::kLive});
}

}  // namespace

KeyDecision plan_key(const SiteInput& in, SitePlan& sp) {
  const Site& site = in.site;
  const SiteFacts& f = in.facts;
  if (!f.passphrase_error.is_ok()) return stop_with_error(in, sp, site.key.path, f.passphrase_error.message());
  const bool live_exists = f.key.file.exists || !f.key.file.error.is_ok();
  const bool staged = f.staged_key.file.exists;
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
  const std::string live_problem = key_problem(site.key, f.key);
  if (staged) return plan_staged(in, sp, live_problem);
  if (!live_problem.empty())
    return stop_with_error(in, sp, site.key.path,
                           live_problem + "; the key is never replaced implicitly: to replace it, run " +
                               in.rotate_cmd);
  sp.changes.push_back(settled(in, sp, ResourceKind::kKey, site.key.path,
                               "RSA " + std::to_string(f.key.bits) +
                                   (f.key.encrypted ? ", opens with the passphrase" : ", unencrypted")));
  KeyDecision d;
  d.key_id = f.key.public_key_id;
  return d;
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
  } else if (auto diffs = csr_differences(csr.info, subject, key.key_id); !diffs.empty()) {
    add(Action::kUpdate, join(diffs, "; "), sign);
  } else {
    add(Action::kNoOp, crypto::format_name(subject));
  }
}

}  // namespace ecert::planning
