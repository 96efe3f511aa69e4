// Merging sites over the defaults and the checks that need more than one
// mapping: required settings, features against names, ciphers against
// passphrases, and clashes between sites.
#include <map>

#include "manifest/names.h"
#include "manifest/parts.h"

namespace ecert {
namespace {

std::string quote(std::string_view s) { return "'" + std::string(s) + "'"; }

fs::path resolve(const fs::path& dir, const std::string& written) {
  fs::path p(written);
  return (p.is_absolute() ? p : dir / p).lexically_normal();
}

void missing(Walker& w, const SourcePos& parent, std::string_view key, std::string_view where,
             bool may_default) {
  w.error(parent, "missing required key " + quote(key) + " in " + std::string(where) +
                      (may_default ? "; set it here or in defaults" : ""));
}

// One file a site names, for the clash checks.
struct FileUse {
  std::size_t site;
  const char* role;  // "key", "csr", "certificate", "chain"
  std::string written;
  SourcePos pos;
};

void check_files(Walker& w, const std::vector<Site>& sites,
                 const std::vector<const SitePart*>& parts) {
  std::map<fs::path, FileUse> seen;
  for (std::size_t i = 0; i < sites.size(); ++i) {
    const Site& s = sites[i];
    const SitePart& p = *parts[i];
    const FileUse uses[] = {
        {i, "key", p.key.path.value, p.key.path.pos},
        {i, "csr", p.csr.value, s.csr_pos},
        {i, "certificate", p.certificate.value, s.certificate_pos},
        {i, "chain", p.chain.value, s.chain_pos},
    };
    const fs::path paths[] = {s.key.path, s.csr, s.certificate, s.chain};
    for (int k = 0; k < 4; ++k) {
      if (paths[k].empty()) continue;
      const FileUse& use = uses[k];
      auto [it, inserted] = seen.emplace(paths[k], use);
      if (inserted) continue;
      const FileUse& first = it->second;
      const Site& other = sites[first.site];
      std::string other_site = first.site == i ? "this site"
                                               : "site " + quote(parts[first.site]->name.value) +
                                                     " (line " +
                                                     std::to_string(first.pos.line) + ")";
      if (std::string_view(first.role) == "chain" && std::string_view(use.role) == "chain") {
        if (is_ev(other.feature) != is_ev(s.feature)) {
          w.error(use.pos, "chain " + quote(use.written) + " is shared with " +
                               (is_ev(other.feature) ? "EV " : "non-EV ") + other_site +
                               "; EV and non-EV sites chain to different CAs, give this site "
                               "its own chain file");
        } else if (other.ca.sub != s.ca.sub || other.ca.cross != s.ca.cross) {
          w.error(use.pos, "chain " + quote(use.written) + " is shared with " + other_site +
                               ", which has a different " +
                               (other.ca.sub != s.ca.sub ? "ca.sub" : "ca.cross") +
                               "; give this site its own chain file");
        }
        continue;
      }
      w.error(use.pos, std::string(use.role) + " " + quote(use.written) + " is already the " +
                           first.role + " of " + other_site +
                           "; sites never share key, CSR or certificate files");
    }
  }
}

void build_site(Walker& w, const SitePart& d, const SitePart& p, const fs::path& dir,
                Site* s) {
  s->pos = p.pos;

  const auto& feature = pick(p.feature, d.feature);
  if (!feature.given) missing(w, p.pos, "feature", "site", true);
  if (feature.valid) s->feature = feature.value;
  bool wildcard = feature.valid && feature.value == Feature::kWildcard;

  if (!p.name.given) missing(w, p.pos, "name", "site", false);
  s->name_pos = p.name.pos;
  if (p.name.valid) {
    s->unicode_name = p.name.value;
    auto name = normalize_server_name(p.name.value, wildcard || !feature.valid);
    if (!name) {
      w.error(p.name.pos, name.status().message());
    } else if (wildcard && name->rfind("*.", 0) != 0) {
      std::size_t dot = name->find('.');
      bool has_parent = dot != std::string::npos && name->find('.', dot + 1) != std::string::npos;
      w.error(p.name.pos, "a wildcard site's name must start with '*.', as in " +
                              quote("*." + (has_parent ? name->substr(dot + 1) : *name)));
    } else {
      s->name = *name;
    }
  }

  const auto& extra = pick(p.additional_names, d.additional_names);
  if (extra.valid) {
    if (!extra.value.empty() && feature.valid && !is_multi_domain(feature.value)) {
      w.error(extra.pos, std::string("additional_names is only for multi-domain and "
                                     "ev-multi-domain sites; this site is ") +
                             feature_name(feature.value));
    }
    for (const NameAt& n : extra.value) s->additional_names.push_back(n.name);
  }

  const auto& org = pick(p.organization, d.organization);
  if (!org.given) missing(w, p.pos, "organization", "site", true);
  if (org.valid) s->organization = org.value;

  // key
  SourcePos key_parent = p.key.given ? p.key.pos : p.pos;
  s->key.pos = key_parent;
  if (!p.key.given)
    missing(w, p.pos, "key", "site", false);
  else if (!p.key.path.given)
    missing(w, p.key.pos, "path", "key", false);
  if (p.key.path.valid) s->key.path = resolve(dir, p.key.path.value);
  const auto& bits = pick(p.key.bits, d.key.bits);
  if (bits.valid) s->key.bits = bits.value;
  const auto& cipher = pick(p.key.cipher, d.key.cipher);
  if (cipher.valid) s->key.cipher = cipher.value;
  // A site that says cipher: none drops the passphrase it would inherit:
  // otherwise one unencrypted site would force the passphrase out of defaults.
  static const Setting<PassphraseSource> kNoPassphrase;
  bool drop_inherited = p.key.cipher.valid && p.key.cipher.value == Cipher::kNone &&
                        !p.key.passphrase.given;
  const auto& pass = drop_inherited ? kNoPassphrase : pick(p.key.passphrase, d.key.passphrase);
  if (pass.valid) {
    s->key.passphrase = pass.value;
    if (s->key.passphrase.kind == PassphraseSource::Kind::kFile)
      s->key.passphrase.file = resolve(dir, s->key.passphrase.file.string());
  }
  bool cipher_ok = !cipher.given || cipher.valid;
  if (cipher_ok && pass.valid && s->key.cipher == Cipher::kNone) {
    w.error(pass.pos, "a passphrase is given but key.cipher is none; remove the passphrase or "
                "choose a cipher");
  } else if (cipher_ok && !pass.given && s->key.cipher != Cipher::kNone && p.key.given) {
    w.error(key_parent, std::string("key.cipher is ") + cipher_name(s->key.cipher) +
                            " but no passphrase is given; add passphrase: {env: NAME} or "
                            "{file: PATH}, or set cipher: none");
  }

  // csr, certificate, chain
  struct {
    const Setting<std::string>& setting;
    const char* key;
    PathString* path;
    SourcePos* pos;
  } files[] = {{p.csr, "csr", &s->csr, &s->csr_pos},
               {p.certificate, "certificate", &s->certificate, &s->certificate_pos},
               {p.chain, "chain", &s->chain, &s->chain_pos}};
  for (auto& f : files) {
    if (!f.setting.given) missing(w, p.pos, f.key, "site", false);
    *f.pos = f.setting.pos;
    if (f.setting.valid) *f.path = resolve(dir, f.setting.value);
  }

  // ca
  SourcePos ca_parent = p.ca.given ? p.ca.pos : p.pos;
  s->ca.pos = p.ca.given ? p.ca.pos : d.ca.given ? d.ca.pos : p.pos;
  const auto& sub = pick(p.ca.sub, d.ca.sub);
  const auto& cross = pick(p.ca.cross, d.ca.cross);
  const auto& trust = pick(p.ca.trust, d.ca.trust);
  if (!sub.given) missing(w, ca_parent, "sub", "ca", true);
  if (!cross.given) missing(w, ca_parent, "cross", "ca", true);
  if (sub.valid) s->ca.sub = resolve(dir, sub.value);
  if (cross.valid) s->ca.cross = resolve(dir, cross.value);
  if (trust.valid) s->ca.trust = resolve(dir, trust.value);

  // vhost
  s->vhost.pos = p.vhost.given ? p.vhost.pos : p.pos;
  if (p.vhost.server_name.valid) {
    auto sn = normalize_server_name(p.vhost.server_name.value, wildcard || !feature.valid);
    if (sn)
      s->vhost.server_name = *sn;
    else
      w.error(p.vhost.server_name.pos, sn.status().message());
  } else if (!p.vhost.server_name.given) {
    if (wildcard)
      w.error(p.pos, "a wildcard site needs vhost.server_name: the ServerName of its "
                     "VirtualHost, e.g. " +
                         quote(s->name.empty() ? "www.example.com" : "www" + s->name.substr(1)));
    else
      s->vhost.server_name = s->name;
  }
  const auto& port = pick(p.vhost.port, d.vhost.port);
  if (port.valid) s->vhost.port = port.value;
  const auto& vfile = pick(p.vhost.file, d.vhost.file);
  if (vfile.valid) s->vhost.file = resolve(dir, vfile.value);
  const auto& verify = pick(p.vhost.verify, d.vhost.verify);
  if (verify.valid) s->vhost.verify = verify.value;
}

}  // namespace

void build_sites(Walker& w, const SitePart& defaults, const std::vector<SitePart>& parts,
                 const fs::path& dir, std::vector<Site>* sites) {
  std::vector<const SitePart*> built;
  std::map<std::string, const SitePart*> names;
  for (const SitePart& p : parts) {
    Site s;
    build_site(w, defaults, p, dir, &s);
    if (!s.name.empty()) {
      auto [it, inserted] = names.emplace(s.name, &p);
      if (!inserted)
        w.error(p.name.pos, "duplicate site name " + quote(s.name) + " (first at line " +
                                std::to_string(it->second->name.pos.line) + ")");
    }
    sites->push_back(std::move(s));
    built.push_back(&p);
  }
  check_files(w, *sites, built);
}

}  // namespace ecert
