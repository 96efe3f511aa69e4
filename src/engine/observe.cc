#include "engine/observe.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "apache/vhost.h"
#include "crypto/key.h"
#include "crypto/x509.h"
#include "engine/passphrase.h"
#include "engine/csr_check.h"
#include "engine/installed.h"
#include "engine/state_dir.h"
#include "util/digest.h"

namespace ecert {
namespace {

// Reads a file, recording its digest (or absence) as an input of the plan.
class InputReader {
 public:
  InputReader(const FileSystem& fs, std::map<std::string, std::string>& inputs) : fs_(fs), inputs_(inputs) {}

  // Content when present; FileFacts say what happened.
  std::optional<std::string> read(const fs::path& path, FileFacts& facts) {
    auto data = fs_.read_file(path);
    if (!data) {
      if (data.status().is_not_found()) {
        inputs_[path.string()] = "absent";
      } else {
        facts.error = data.status();
      }
      return std::nullopt;
    }
    facts.exists = true;
    facts.digest = sha256_hex(*data);
    inputs_[path.string()] = facts.digest;
    return std::move(*data);
  }

  const FileSystem& fs() const { return fs_; }

 private:
  const FileSystem& fs_;
  std::map<std::string, std::string>& inputs_;
};

// What a run may take from the facts cache, what it took and what it
// learned. One per worker.
struct FactsIo {
  const FactsCache* cache = nullptr;  // null: verify everything
  FactsUse use;
  void used(FactKind kind, const std::string& id) { use.used.push_back(fact_id(kind, id)); }
};

// `witness`: the digest of the key of this site's passphrase source that
// opened this run ("" when none did; see engine/facts_cache.h).
void observe_key(InputReader& in, const fs::path& path, const SecretString* passphrase, const std::string& witness,
                 FactsIo& io, KeyFacts& key) {
  auto pem = in.read(path, key.file);
  if (!pem) return;
  SecretString secret(std::move(*pem));
  if (auto info = in.fs().stat(path)) {
    key.mode = info->mode;
    key.modified = static_cast<std::time_t>(info->mtime_ns / 1000000000);
  }
  key.encrypted = crypto::pem_is_encrypted(secret.expose());
  // An encrypted key's facts are only as good as the passphrase check: with
  // no witness this run, it is decrypted and nothing is remembered.
  const bool cacheable = !key.encrypted || !witness.empty();
  const std::string want_witness = key.encrypted ? witness : std::string();
  auto use = [&](const CachedKey& k) {
    key.opened = true;
    key.is_rsa = k.is_rsa;
    key.bits = k.bits;
    key.public_key_id = k.public_key_id;
  };
  if (cacheable && io.cache) {
    auto it = io.cache->keys.find(key.file.digest);
    if (it != io.cache->keys.end() && it->second.witness == want_witness) {
      use(it->second);
      io.used(FactKind::kKey, it->first);
      return;
    }
  }
  auto parsed = crypto::PrivateKey::from_pem(secret.expose(), passphrase);
  if (!parsed) {
    key.open_error = Status::invalid("cannot open the key " + path.string() + ": " + parsed.status().message());
    return;
  }
  CachedKey k{want_witness, parsed->is_rsa(), parsed->bits(), sha256_hex(parsed->public_key_der())};
  use(k);
  if (cacheable) io.use.learned.keys.emplace(key.file.digest, std::move(k));
}

void observe_csr(InputReader& in, const fs::path& path, FactsIo& io, CsrFacts& csr) {
  auto pem = in.read(path, csr.file);
  if (!pem) return;
  if (io.cache) {
    if (auto it = io.cache->csrs.find(csr.file.digest); it != io.cache->csrs.end()) {
      csr.parsed = true;
      csr.info = it->second;
      io.used(FactKind::kCsr, it->first);
      return;
    }
  }
  auto info = crypto::parse_csr(*pem);
  if (!info) {
    csr.parse_error = info.status();
    return;
  }
  csr.parsed = true;
  csr.info = summarize_csr(*info);
  io.use.learned.csrs.emplace(csr.file.digest, csr.info);
}

std::string cn_of(const crypto::NameEntries& name) {
  std::string cn;
  for (const auto& [k, v] : name)
    if (k == "CN") cn = v;
  return cn;
}

// CA files are shared by many sites: parse each once.
class CaCache {
 public:
  explicit CaCache(InputReader& in) : in_(in) {}

  struct Entry {
    FileFacts facts;
    Status error;
    std::optional<crypto::Certificate> cert;
  };
  const Entry& cert(const fs::path& path, const char* role) {
    auto it = certs_.find(path.string());
    if (it != certs_.end()) return it->second;
    Entry e;
    if (auto data = in_.read(path, e.facts)) {
      auto parsed = crypto::Certificate::parse(*data);
      if (parsed) e.cert.emplace(std::move(*parsed));
      else e.error = Status::invalid(std::string(role) + " " + path.string() + " is not a certificate: " +
                                     parsed.status().message());
    } else if (!e.facts.error.is_ok()) {
      e.error = e.facts.error;
    } else {
      e.error = Status::not_found(std::string(role) + " " + path.string() +
                                  " is missing; download it from the CA's site and place it there");
    }
    return certs_.emplace(path.string(), std::move(e)).first->second;
  }

  // The chain file's expected content for a (sub, cross) pair.
  // REQUIRES: both certificates parsed.
  struct Chain {
    std::shared_ptr<const std::string> pem;
    std::string digest;
  };
  const Chain& chain(const fs::path& sub, const fs::path& cross) {
    const std::string key = sub.string() + '\n' + cross.string();
    auto it = chains_.find(key);
    if (it != chains_.end()) return it->second;
    auto pem = std::make_shared<const std::string>(cert(sub, "ca.sub").cert->pem() + cert(cross, "ca.cross").cert->pem());
    return chains_.emplace(key, Chain{pem, sha256_hex(*pem)}).first->second;
  }

  struct Trust {
    FileFacts facts;
    std::string pem;
    // Parsed once, on first use (a cached proof needs none), for every site
    // that names this bundle; workers share it.
    mutable std::optional<crypto::TrustStore> store;
    mutable std::mutex mu;
    const crypto::TrustStore& get_store() const {
      std::lock_guard<std::mutex> hold(mu);
      if (!store) store.emplace(crypto::TrustStore::from_pem(pem));
      return *store;
    }
  };
  const Trust& trust(const fs::path& path) {
    auto it = trusts_.find(path.string());
    if (it != trusts_.end()) return it->second;
    Trust& t = trusts_[path.string()];
    if (auto data = in_.read(path, t.facts)) t.pem = std::move(*data);
    return t;
  }

  // Loads every CA file a site names (observe() does this for all sites
  // before its workers start, so that they only ever look entries up).
  void load(const Site& site) {
    const bool cross = cert(site.ca.cross, "ca.cross").cert.has_value();
    for (const auto& sub : site.ca.sub)
      if (cert(sub, "ca.sub").cert && cross) chain(sub, site.ca.cross);
    trust(site.ca.trust);
  }

 private:
  InputReader& in_;
  std::map<std::string, Entry> certs_;
  std::map<std::string, Trust> trusts_;
  std::map<std::string, Chain> chains_;
};

// Points the site's CA facts at one of its sub CA candidates: that file,
// and the chain file content it makes with the cross certificate.
void choose_sub(CaCache& cas, const Site& site, const PathString& candidate, CaFacts& ca) {
  const auto& sub = cas.cert(candidate, "ca.sub");
  const auto& cross = cas.cert(site.ca.cross, "ca.cross");
  ca.sub_path = candidate.string();
  ca.sub_file = sub.facts;
  ca.sub_cn = sub.cert ? sub.cert->common_name() : "";
  ca.sub_not_after = sub.cert ? sub.cert->not_after() : 0;
  ca.chain_pem.reset();
  ca.chain_digest.clear();
  if (sub.cert && cross.cert) {
    const auto& chain = cas.chain(candidate, site.ca.cross);
    ca.chain_pem = chain.pem;
    ca.chain_digest = chain.digest;
  }
}

// The CA files of a site. The first sub CA candidate stands for the site
// until its certificate says which one signed it.
void observe_ca(CaCache& cas, const Site& site, CaFacts& ca) {
  const auto& cross = cas.cert(site.ca.cross, "ca.cross");
  const auto& trust = cas.trust(site.ca.trust);
  ca.cross_file = cross.facts;
  ca.trust_file = trust.facts;
  for (const auto& candidate : site.ca.sub)
    if (const auto& sub = cas.cert(candidate, "ca.sub"); !sub.error.is_ok() && ca.error.is_ok()) ca.error = sub.error;
  if (!ca.error.is_ok()) {
  } else if (!cross.error.is_ok()) {
    ca.error = cross.error;
  } else if (!trust.facts.exists) {
    ca.error = trust.facts.error.is_ok() ? Status::not_found("ca.trust " + site.ca.trust.string() + " is missing")
                                         : trust.facts.error;
  }
  if (cross.cert) {
    ca.cross_cn = cross.cert->common_name();
    ca.cross_not_after = cross.cert->not_after();
  }
  choose_sub(cas, site, site.ca.sub.front(), ca);
}

// The certificate's bytes, parsed only when the cache cannot answer (and
// then at most once). Bytes the cache knows parsed before; should they not
// parse now, no proof is made from them.
class LeafBytes {
 public:
  explicit LeafBytes(std::string data) : data_(std::move(data)) {}
  const crypto::Certificate* cert() {
    if (!tried_) {
      tried_ = true;
      auto p = crypto::Certificate::parse(data_);
      if (p) parsed_.emplace(std::move(*p));
      else error_ = p.status();
    }
    return parsed_ ? &*parsed_ : nullptr;
  }
  const Status& error() const { return error_; }

 private:
  std::string data_;
  bool tried_ = false;
  std::optional<crypto::Certificate> parsed_;
  Status error_;
};

// What the certificate says: from the cache, or parsed. False when it does
// not parse (CertFacts::parse_error says why).
bool read_certificate(LeafBytes& leaf, FactsIo& io, CertFacts& c) {
  const std::string& digest = c.file.digest;
  if (io.cache)
    if (auto it = io.cache->certs.find(digest); it != io.cache->certs.end()) {
      c.info = it->second;
      io.used(FactKind::kCert, it->first);
      return c.parsed = true;
    }
  const crypto::Certificate* cert = leaf.cert();
  if (!cert) {
    c.parse_error = Status::invalid("not a certificate (" + leaf.error().message() + ")");
    return false;
  }
  c.was_der = cert->was_der();
  if (c.was_der) c.pem = cert->pem();
  c.info = CachedCert{cert->common_name(), cert->dns_names(),  cn_of(cert->issuer()),           cert->serial_hex(),
                      cert->not_before(),  cert->not_after(),  sha256_hex(cert->public_key_der())};
  // A DER file is rewritten as PEM by apply; only PEM facts are remembered.
  if (!c.was_der) io.use.learned.certs.emplace(digest, c.info);
  return c.parsed = true;
}

// Whether `sub`'s key signed the certificate: a signature proof, taken
// from the cache when it holds one.
bool proven_issuer(LeafBytes& leaf, const CaCache::Entry& sub, const std::string& cert_digest, FactsIo& io) {
  if (!sub.cert) return false;
  const std::string proof = cert_digest + ' ' + sub.facts.digest;
  if (io.cache && io.cache->signatures.count(proof)) {
    io.used(FactKind::kSignature, proof);
    return true;
  }
  const bool signed_it = leaf.cert() && leaf.cert()->signed_by(*sub.cert);
  if (signed_it) io.use.learned.signatures.insert(proof);
  return signed_it;
}

// Why no candidate signed it, for the message: a candidate with the
// issuer's name but another key (the CA reissued its sub CA), or the sub CA
// of another site's feature that did sign it.
void explain_issuer(LeafBytes& leaf, CaCache& cas, const Manifest& manifest, const Site& site, CertFacts& c) {
  for (const auto& candidate : site.ca.sub) {
    const auto& sub = cas.cert(candidate, "ca.sub");
    if (sub.cert && sub.cert->common_name() == c.info.issuer_cn) c.same_name_sub = candidate.string();
  }
  for (const auto& other : manifest.sites)
    for (const auto& candidate : other.ca.sub) {
      if (std::find(site.ca.sub.begin(), site.ca.sub.end(), candidate) != site.ca.sub.end()) continue;
      const auto& o = cas.cert(candidate, "ca.sub");
      if (o.cert && leaf.cert() && leaf.cert()->signed_by(*o.cert)) {
        c.signed_by_other_feature_sub = true;
        c.other_feature_sub_cn = o.cert->common_name();
        return;
      }
    }
}

// Which of the site's sub CA candidates signed the certificate: that one
// goes into the chain (a CA rollover lists the old and the reissued file).
void prove_issuer(LeafBytes& leaf, CaCache& cas, const Manifest& manifest, const Site& site, FactsIo& io,
                  CertFacts& cert, CaFacts& ca) {
  for (const auto& candidate : site.ca.sub)
    if (proven_issuer(leaf, cas.cert(candidate, "ca.sub"), cert.file.digest, io)) {
      cert.signed_by_sub = true;
      choose_sub(cas, site, candidate, ca);
      return;
    }
  explain_issuer(leaf, cas, manifest, site, cert);
}

// leaf <- sub <- cross -> trust, from the cache while its proof still holds.
void prove_chain(LeafBytes& leaf, CaCache& cas, const Site& site, std::time_t now, FactsIo& io,
                 const CertFacts& cert, CaFacts& ca) {
  const std::string proof =
      cert.file.digest + ' ' + ca.sub_file.digest + ' ' + ca.cross_file.digest + ' ' + ca.trust_file.digest;
  if (io.cache) {
    auto it = io.cache->chains.find(proof);
    if (it != io.cache->chains.end() && it->second.valid_from <= now && now <= it->second.valid_until) {
      io.used(FactKind::kChain, it->first);
      return;
    }
  }
  if (!leaf.cert()) {
    ca.chain_verification = Status::invalid("the certificate no longer parses");
    return;
  }
  crypto::ValidityWindow valid;
  ca.chain_verification = crypto::verify_chain(*leaf.cert(), *cas.cert(ca.sub_path, "ca.sub").cert,
                                               *cas.cert(site.ca.cross, "ca.cross").cert,
                                               cas.trust(site.ca.trust).get_store(), now, &valid);
  if (ca.chain_verification.is_ok())
    io.use.learned.chains.insert_or_assign(proof, CachedChain{valid.from, valid.until});
}

// The certificate at `path` (the live one, or the renewal at <certificate>.new)
// and the CA files its chain is made of. A renewal's CA facts are only
// observed when it arrived: nothing looks at them before (a fleet would
// otherwise hold a copy per site).
void observe_ca_and_cert(InputReader& in, CaCache& cas, const Manifest& manifest, const Site& site,
                         const fs::path& path, std::time_t now, FactsIo& io, CertFacts& cert, CaFacts& ca) {
  const bool renewal = path != fs::path(site.certificate);
  auto data = in.read(path, cert.file);
  if (data || !renewal) observe_ca(cas, site, ca);
  if (!data) return;
  LeafBytes leaf(std::move(*data));
  if (!read_certificate(leaf, io, cert)) return;
  // A fullchain file starts with the certificate, as PEM.
  if (site.fullchain && cert.pem.empty() && leaf.cert()) cert.pem = leaf.cert()->pem();
  prove_issuer(leaf, cas, manifest, site, io, cert, ca);
  if (ca.error.is_ok() && cert.signed_by_sub) prove_chain(leaf, cas, site, now, io, cert, ca);
}

// The copy of the certificate Apache was last restarted with, kept in the
// state directory: read only when a renewed certificate was placed over the
// live one, since it is then the only copy of the previous certificate.
void observe_previous_certificate(InputReader& in, const fs::path& state_dir, const Site& site, SiteFacts& f) {
  const bool renewed_in_place = f.staged().key.opened && f.cert.parsed &&
                                f.cert.info.public_key_id == f.staged().key.public_key_id;
  if (state_dir.empty() || !renewed_in_place) return;
  // A record: trusted only when it is ecertctl's own (engine/state_dir.h).
  auto copy = read_state_file(in.fs(), installed_certificate_copy(state_dir, site.name));
  if (copy) {
    f.previous_cert.exists = true;
    f.previous_cert.digest = sha256_hex(*copy);
  }
}

std::string passphrase_source_id(const PassphraseSource& source) {
  switch (source.kind) {
    case PassphraseSource::Kind::kEnv: return "env:" + source.env;
    case PassphraseSource::Kind::kFile: return "file:" + source.file.string();
    case PassphraseSource::Kind::kNone: break;
  }
  return "none";
}

// The witness of each passphrase source (engine/facts_cache.h): the digest of
// the first encrypted key of its sites, in manifest order, that opens with
// it. Tries a few keys only: when they all fail, the passphrase is most
// likely wrong and every key is checked (and reported) by the workers.
std::map<std::string, std::string> find_witnesses(const Manifest& manifest, const FileSystem& fs) {
  constexpr int kTries = 3;
  std::map<std::string, std::string> witness;
  std::map<std::string, int> tries;
  for (const auto& site : manifest.sites) {
    if (site.key.cipher == Cipher::kNone) continue;
    const std::string source = passphrase_source_id(site.key.passphrase);
    if (witness.count(source) || tries[source] >= kTries) continue;
    for (const fs::path& path : {site.key.path.path(), fs::path(staged_path(site.key.path))}) {
      auto pem = fs.read_file(path);
      if (!pem) continue;
      SecretString secret(std::move(*pem));
      if (!crypto::pem_is_encrypted(secret.expose())) continue;
      auto pass = load_passphrase(site.key.passphrase, fs);
      if (!pass) {
        tries[source] = kTries;
        break;
      }
      ++tries[source];
      if (crypto::PrivateKey::from_pem(secret.expose(), &*pass)) {
        witness[source] = sha256_hex(secret.expose());
        break;
      }
      if (tries[source] >= kTries) break;
    }
  }
  return witness;
}

// Everything about one site. Reads through `in` (this worker's inputs);
// `cas` is only looked up (observe() loaded every CA file beforehand).
void observe_site(const Manifest& manifest, std::size_t i, const FileSystem& fs, InputReader& in, CaCache& cas,
                  const apache::VhostIndex* vhosts, const std::map<std::string, std::string>& witnesses,
                  const Observed& obs, const fs::path& state_dir, FactsIo& io, SiteFacts& f) {
  const Site& site = manifest.sites[i];
  std::optional<SecretString> passphrase;
  std::string witness;
  if (site.key.cipher != Cipher::kNone) {
    auto p = load_passphrase(site.key.passphrase, fs);
    if (p) passphrase.emplace(std::move(*p));
    else f.passphrase_error = p.status();
    if (auto it = witnesses.find(passphrase_source_id(site.key.passphrase)); it != witnesses.end())
      witness = it->second;
  }
  const SecretString* pass = passphrase ? &*passphrase : nullptr;
  RenewalFacts staged;
  if (f.passphrase_error.is_ok()) {
    observe_key(in, site.key.path, pass, witness, io, f.key);
    observe_key(in, staged_path(site.key.path), pass, witness, io, staged.key);
  }
  observe_csr(in, site.csr, io, f.csr);
  observe_csr(in, staged_path(site.csr), io, staged.csr);
  observe_ca_and_cert(in, cas, manifest, site, site.certificate, obs.now, io, f.cert, f.ca);
  observe_ca_and_cert(in, cas, manifest, site, staged_path(site.certificate), obs.now, io, staged.cert, staged.ca);
  f.set_staged(std::move(staged));
  in.read(site.chain, f.chain);
  if (site.fullchain) in.read(*site.fullchain, f.fullchain);
  observe_previous_certificate(in, state_dir, site, f);

  if (!vhosts) {
    f.vhost.error = obs.apache_error;
    return;
  }
  auto found = vhosts->find(apache::VhostQuery{site.vhost.server_name, site.vhost.port, site.vhost.file});
  if (found) f.vhost.vhost = *found;
  else f.vhost.error = found.status();
}

// Attaches to each site the record of what Apache was last restarted with.
// The record is an input too: a saved plan is stale once it changed.
void attach_installed(const Manifest& manifest, const FileSystem& fs, const fs::path& state_dir, Observed& obs) {
  const fs::path path = installed_state_path(state_dir);
  auto text = read_state_file(fs, path);  // a record that is not ecertctl's own is as none
  obs.inputs[path.string()] = text ? sha256_hex(*text) : "absent";
  if (!text) return;
  InstalledState state = parse_installed(*text);
  for (std::size_t i = 0; i < manifest.sites.size(); ++i)
    if (auto it = state.find(manifest.sites[i].name); it != state.end()) obs.sites[i].installed = it->second;
}

}  // namespace

Observed observe(const Manifest& manifest, const FileSystem& fs, const ObserveOptions& options) {
  Observed obs;
  obs.now = options.now ? options.now : std::time(nullptr);
  obs.state_dir = options.state_dir;
  obs.sites.resize(manifest.sites.size());
  // First: the record's text and parse are gone before the sites' facts grow.
  if (!options.state_dir.empty()) attach_installed(manifest, fs, options.state_dir, obs);
  InputReader in(fs, obs.inputs);
  CaCache cas(in);

  std::optional<apache::VhostIndex> vhosts;
  apache::LoadOptions apache_options;
  if (options.apache) apache_options = *options.apache;
  else apache_options.defines = apache::defines_in_argv(manifest.apache.configtest);
  if (auto loaded = apache::load_config(fs, manifest.apache.config, apache_options)) {
    auto config = std::make_shared<const apache::Config>(std::move(*loaded));
    obs.apache_config = config;
    for (const auto& file : config->files) obs.inputs[file.real_path.string()] = sha256_hex(file.content);
    vhosts.emplace(*config);
  } else {
    obs.apache_error = loaded.status();
  }
  // CA files are shared by many sites: load them all first, so that the
  // workers below only ever look them up.
  for (const auto& site : manifest.sites) cas.load(site);
  const auto witnesses = find_witnesses(manifest, fs);

  // Opening keys (the passphrase's key derivation) dominates: use every core.
  const std::size_t n = manifest.sites.size();
  const std::size_t workers = std::min<std::size_t>(std::max(1u, std::thread::hardware_concurrency()), n);
  std::vector<std::map<std::string, std::string>> inputs(workers);
  std::vector<FactsIo> facts(workers);
  std::atomic<std::size_t> next{0};
  auto work = [&](std::size_t w) {
    InputReader reader(fs, inputs[w]);
    facts[w].cache = options.cache;
    for (std::size_t i; (i = next.fetch_add(1)) < n;)
      observe_site(manifest, i, fs, reader, cas, vhosts ? &*vhosts : nullptr, witnesses, obs, options.state_dir,
                   facts[w], obs.sites[i]);
  };
  std::vector<std::thread> pool;
  for (std::size_t w = 1; w < workers; ++w) pool.emplace_back(work, w);
  if (workers > 0) work(0);
  for (auto& t : pool) t.join();
  for (auto& m : inputs) obs.inputs.merge(m);
  for (auto& f : facts) obs.facts.merge(std::move(f.use));
  obs.facts.finish();
  return obs;
}

Observed observe_with_cache(const Manifest& manifest, const FileSystem& fs, const fs::path& state_dir,
                            std::time_t now, std::optional<apache::LoadOptions> apache) {
  const FactsCache cache = read_facts_cache(fs, state_dir);
  Observed obs = observe(manifest, fs, ObserveOptions{now, &cache, state_dir, std::move(apache)});
  obs.facts = FactsUse{};  // what it used of the cache is apply's business
  return obs;
}

}  // namespace ecert
