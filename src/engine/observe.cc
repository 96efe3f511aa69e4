#include "engine/observe.h"

#include <map>
#include <memory>
#include <atomic>
#include <optional>
#include <thread>

#include "apache/vhost.h"
#include "crypto/key.h"
#include "crypto/x509.h"
#include "engine/passphrase.h"
#include "engine/plan.h"
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

void observe_key(InputReader& in, const fs::path& path, const SecretString* passphrase, KeyFacts& key) {
  auto pem = in.read(path, key.file);
  if (!pem) return;
  SecretString secret(std::move(*pem));
  if (auto info = in.fs().stat(path)) key.mode = info->mode;
  key.encrypted = crypto::pem_is_encrypted(secret.expose());
  auto parsed = crypto::PrivateKey::from_pem(secret.expose(), passphrase);
  if (!parsed) {
    key.open_error = Status::invalid("cannot open the key " + path.string() + ": " + parsed.status().message());
    return;
  }
  key.opened = true;
  key.is_rsa = parsed->is_rsa();
  key.bits = parsed->bits();
  key.public_key_der = parsed->public_key_der();
}

void observe_csr(InputReader& in, const fs::path& path, CsrFacts& csr) {
  auto pem = in.read(path, csr.file);
  if (!pem) return;
  auto info = crypto::parse_csr(*pem);
  if (!info) {
    csr.parse_error = info.status();
    return;
  }
  csr.parsed = true;
  csr.info = std::move(*info);
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
    // Parsed once, on first use, for every site that names this bundle.
    mutable std::optional<crypto::TrustStore> store;
    const crypto::TrustStore& get_store() const {
      if (!store) store.emplace(crypto::TrustStore::from_pem(pem));
      return *store;
    }
  };
  const Trust& trust(const fs::path& path) {
    auto it = trusts_.find(path.string());
    if (it != trusts_.end()) return it->second;
    Trust t;
    if (auto data = in_.read(path, t.facts)) t.pem = std::move(*data);
    return trusts_.emplace(path.string(), std::move(t)).first->second;
  }

 private:
  InputReader& in_;
  std::map<std::string, Entry> certs_;
  std::map<std::string, Trust> trusts_;
  std::map<std::string, Chain> chains_;
};

void observe_ca_and_cert(InputReader& in, CaCache& cas, const Manifest& manifest, const Site& site,
                         std::time_t now, SiteFacts& f) {
  const auto& sub = cas.cert(site.ca.sub, "ca.sub");
  const auto& cross = cas.cert(site.ca.cross, "ca.cross");
  const auto& trust = cas.trust(site.ca.trust);
  f.ca.sub_file = sub.facts;
  f.ca.cross_file = cross.facts;
  f.ca.trust_file = trust.facts;
  if (!sub.error.is_ok()) f.ca.error = sub.error;
  else if (!cross.error.is_ok()) f.ca.error = cross.error;
  else if (!trust.facts.exists)
    f.ca.error = trust.facts.error.is_ok()
                     ? Status::not_found("ca.trust " + site.ca.trust.string() + " is missing")
                     : trust.facts.error;
  if (sub.cert) f.ca.sub_cn = sub.cert->common_name();
  if (cross.cert) f.ca.cross_cn = cross.cert->common_name();
  if (sub.cert && cross.cert) {
    const auto& chain = cas.chain(site.ca.sub, site.ca.cross);
    f.ca.chain_pem = chain.pem;
    f.ca.chain_digest = chain.digest;
  }

  auto data = in.read(site.certificate, f.cert.file);
  if (!data) return;
  auto parsed = crypto::Certificate::parse(*data);
  if (!parsed) {
    f.cert.parse_error = Status::invalid("not a certificate (" + parsed.status().message() + ")");
    return;
  }
  const crypto::Certificate& cert = *parsed;
  auto& c = f.cert;
  c.parsed = true;
  c.was_der = cert.was_der();
  if (c.was_der) c.pem = cert.pem();
  c.common_name = cert.common_name();
  c.dns_names = cert.dns_names();
  c.issuer_cn = cn_of(cert.issuer());
  c.serial = cert.serial_hex();
  c.not_before = cert.not_before();
  c.not_after = cert.not_after();
  c.public_key_der = cert.public_key_der();
  if (sub.cert) c.signed_by_sub = cert.signed_by(*sub.cert);
  if (!c.signed_by_sub) {
    // Name the CA that did sign it, when the manifest knows it as another site's sub CA.
    for (const auto& other : manifest.sites) {
      if (other.ca.sub == site.ca.sub) continue;
      const auto& o = cas.cert(other.ca.sub, "ca.sub");
      if (o.cert && cert.signed_by(*o.cert)) {
        c.signed_by_other_feature_sub = true;
        c.other_feature_sub_cn = o.cert->common_name();
        break;
      }
    }
  }
  if (f.ca.error.is_ok() && c.signed_by_sub)
    f.ca.chain_verification = crypto::verify_chain(cert, *sub.cert, *cross.cert, trust.get_store(), now);
}

// Everything about one site. Reads through `in` (this worker's inputs);
// `cas` is only looked up (observe() loaded every CA file beforehand).
void observe_site(const Manifest& manifest, std::size_t i, const FileSystem& fs, InputReader& in, CaCache& cas,
                  const apache::VhostIndex* vhosts, const Observed& obs, SiteFacts& f) {
  const Site& site = manifest.sites[i];
  std::optional<SecretString> passphrase;
  if (site.key.cipher != Cipher::kNone) {
    auto p = load_passphrase(site.key.passphrase, fs);
    if (p) passphrase.emplace(std::move(*p));
    else f.passphrase_error = p.status();
  }
  const SecretString* pass = passphrase ? &*passphrase : nullptr;
  if (f.passphrase_error.is_ok()) {
    observe_key(in, site.key.path, pass, f.key);
    observe_key(in, staged_path(site.key.path), pass, f.staged_key);
  }
  observe_csr(in, site.csr, f.csr);
  observe_csr(in, staged_path(site.csr), f.staged_csr);
  observe_ca_and_cert(in, cas, manifest, site, obs.now, f);
  in.read(site.chain, f.chain);

  if (!vhosts) {
    f.vhost.error = obs.apache_error;
    return;
  }
  auto found = vhosts->find(apache::VhostQuery{site.vhost.server_name, site.vhost.port, site.vhost.file});
  if (found) f.vhost.vhost = **found;
  else f.vhost.error = found.status();
}

}  // namespace

Observed observe(const Manifest& manifest, const FileSystem& fs, const ObserveOptions& options) {
  Observed obs;
  obs.now = options.now ? options.now : std::time(nullptr);
  obs.sites.resize(manifest.sites.size());
  InputReader in(fs, obs.inputs);
  CaCache cas(in);

  std::optional<apache::Config> config;
  std::optional<apache::VhostIndex> vhosts;
  if (auto loaded = apache::load_config(fs, manifest.apache.config)) {
    config.emplace(std::move(*loaded));
    for (const auto& file : config->files) obs.inputs[file.real_path.string()] = sha256_hex(file.content);
    vhosts.emplace(*config);
  } else {
    obs.apache_error = loaded.status();
  }
  // CA files are shared by many sites: load them all first, so that the
  // workers below only ever look them up.
  for (const auto& site : manifest.sites) {
    cas.cert(site.ca.sub, "ca.sub");
    cas.cert(site.ca.cross, "ca.cross");
    cas.trust(site.ca.trust).get_store();
    if (cas.cert(site.ca.sub, "ca.sub").cert && cas.cert(site.ca.cross, "ca.cross").cert)
      cas.chain(site.ca.sub, site.ca.cross);
  }

  // Opening keys (the passphrase's key derivation) dominates: use every core.
  const std::size_t n = manifest.sites.size();
  const std::size_t workers = std::min<std::size_t>(std::max(1u, std::thread::hardware_concurrency()), n);
  std::vector<std::map<std::string, std::string>> inputs(workers);
  std::atomic<std::size_t> next{0};
  auto work = [&](std::size_t w) {
    InputReader reader(fs, inputs[w]);
    for (std::size_t i; (i = next.fetch_add(1)) < n;)
      observe_site(manifest, i, fs, reader, cas, vhosts ? &*vhosts : nullptr, obs, obs.sites[i]);
  };
  std::vector<std::thread> pool;
  for (std::size_t w = 1; w < workers; ++w) pool.emplace_back(work, w);
  if (workers > 0) work(0);
  for (auto& t : pool) t.join();
  for (auto& m : inputs) obs.inputs.merge(m);
  return obs;
}

}  // namespace ecert
