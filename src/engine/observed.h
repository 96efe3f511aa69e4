// What is on disk and in Apache's configuration, as facts the planner can
// decide on without any I/O. Produced by observe(); never written back.
#pragma once

#include <ctime>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "apache/config.h"
#include "crypto/csr.h"
#include "engine/facts_cache.h"
#include "engine/installed.h"
#include "util/status.h"

namespace ecert {

struct FileFacts {
  bool exists = false;
  std::string digest;  // sha256 of the content, when it exists
  Status error;        // a read error other than "not there"
};

struct KeyFacts {
  FileFacts file;
  bool opened = false;     // parsed and (if encrypted) decrypted
  Status open_error;       // why not, when it exists but did not open
  bool is_rsa = false;
  int bits = 0;
  bool encrypted = false;
  std::string public_key_id;  // sha256 of the SubjectPublicKeyInfo DER
  mode_t mode = 0;
  std::time_t modified = 0;  // for a staged key: when the renewal was staged
};

struct CsrFacts {
  FileFacts file;
  bool parsed = false;
  Status parse_error;
  CachedCsr info;  // what it says, when parsed (what the facts cache remembers of it)
};

struct CertFacts {
  FileFacts file;
  bool parsed = false;
  Status parse_error;
  CachedCert info;  // what it says, when parsed (what the facts cache remembers of it)
  bool was_der = false;
  std::string pem;  // the certificate as PEM; only kept when was_der, or for a site's fullchain
  // Signature proofs, computed from the CA files named by the manifest.
  bool signed_by_sub = false;
  bool signed_by_other_feature_sub = false;  // the standard sub CA for EV and vice versa
  std::string other_feature_sub_cn;
  // When no candidate signed it: a ca.sub file with the issuer's name whose
  // key did not sign it (the CA reissued that sub CA with a new key).
  std::string same_name_sub;
};

struct CaFacts {
  // The sub CA candidate (ca.sub lists several during a CA rollover) whose
  // key signed the certificate; the first candidate until a certificate
  // says which.
  std::string sub_path;
  FileFacts sub_file, cross_file, trust_file;
  Status error;                 // a CA file unreadable or not a certificate
  std::string sub_cn, cross_cn;
  std::time_t sub_not_after = 0, cross_not_after = 0;
  // Sub then cross, PEM: what the chain file must hold. Shared by every site
  // with the same CA files (a fleet would otherwise hold N copies).
  std::shared_ptr<const std::string> chain_pem;
  std::string chain_digest;     // sha256 of *chain_pem
  Status chain_verification;    // leaf <- sub <- cross -> trust; only when a certificate parsed
};

struct VhostFacts {
  Status error;  // not found, ambiguous, or the config did not load
  // The one vhost that serves the site, inside Observed::apache_config.
  const apache::VirtualHost* vhost = nullptr;
};

// A renewal staged beside the live files.
struct RenewalFacts {
  KeyFacts key;  // <key>.new
  CsrFacts csr;  // <csr>.new
  // The certificate the CA issued for the staged key, placed at
  // <certificate>.new, and the sub CA that signed it (only observed when
  // that file is there).
  CertFacts cert;
  CaFacts ca;

  // Any of its files is there (or could not be read).
  bool any() const {
    return key.file.exists || csr.file.exists || cert.file.exists || !key.file.error.is_ok() ||
           !csr.file.error.is_ok() || !cert.file.error.is_ok();
  }
};

struct SiteFacts {
  Status passphrase_error;  // the passphrase source could not be read
  KeyFacts key;
  CsrFacts csr;
  CertFacts cert;
  CaFacts ca;  // the CA files, and the sub CA that signed `cert`
  // The renewal staged for the site: all absent when there is none.
  const RenewalFacts& staged() const {
    static const RenewalFacts kNone;
    return staged_ ? *staged_ : kNone;
  }
  // For writing it (tests). A copy of these facts keeps its own renewal
  // facts: they are copied here when shared.
  RenewalFacts& stage() {
    if (!staged_) staged_ = std::make_shared<RenewalFacts>();
    else if (staged_.use_count() > 1) staged_ = std::make_shared<RenewalFacts>(*staged_);
    return *staged_;
  }
  // What observe found: kept only when any of it is there.
  void set_staged(RenewalFacts facts) {
    staged_ = facts.any() ? std::make_shared<RenewalFacts>(std::move(facts)) : nullptr;
  }
  FileFacts chain;
  FileFacts fullchain;  // when the site has one
  VhostFacts vhost;
  // The copy of the certificate Apache was last restarted with (in the state
  // directory); read only when a renewed certificate replaced the live one.
  FileFacts previous_cert;
  // What Apache was last restarted with (engine/installed.h); unset when
  // there is no record for the site (or observe was not asked to read it).
  std::optional<InstalledRecord> installed;

 private:
  // Held apart: most sites of a fleet have no renewal staged most of the
  // time, and these facts are half the size of a site's.
  std::shared_ptr<RenewalFacts> staged_;
};

struct Observed {
  std::time_t now = 0;
  fs::path state_dir;  // the state directory observe read (empty: none)
  Status apache_error;  // apache.config could not be read or parsed
  // The parsed configuration the sites' vhosts point into (null on error).
  std::shared_ptr<const apache::Config> apache_config;
  std::vector<SiteFacts> sites;  // parallel to Manifest::sites
  // Every input read, path -> sha256 (or "absent"): a saved plan is stale
  // when any of these changed.
  std::map<std::string, std::string> inputs;
  // What this run took from the facts cache and what it proved anew.
  FactsUse facts;
};

}  // namespace ecert
