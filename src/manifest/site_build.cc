// Merging sites over the defaults and the checks that need more than one
// mapping: required settings, features against names, ciphers against
// passphrases, and clashes between sites.
#include "util/strings.h"
#include <algorithm>
#include <map>
#include <set>

#include "manifest/names.h"
#include "manifest/parts.h"

namespace ecert {
namespace {


fs::path resolve(const fs::path& dir, const std::string& written) {
  fs::path p(written);
  return (p.is_absolute() ? p : dir / p).lexically_normal();
}

void missing(Walker& w, const SourcePos& parent, std::string_view key, std::string_view where,
             bool may_default) {
  w.error(parent, "missing required key " + squote(key) + " in " + std::string(where) +
                      (may_default ? "; set it here or in defaults" : ""));
}

// One file a site names, for the clash checks.
struct FileUse {
  std::size_t site;
  std::string_view role;  // "key", "csr", "certificate", "chain", "fullchain"
  std::string written;
  SourcePos pos;
};

bool same_subs(const CaSpec& a, const CaSpec& b) {
  return a.sub.size() == b.sub.size() && std::is_permutation(a.sub.begin(), a.sub.end(), b.sub.begin());
}

// `use` names the file `first` named. Sites may share a chain file when it
// holds the same certificates; any other shared file is an error.
void check_shared(Walker& w, const std::vector<Site>& sites, const std::vector<const SitePart*>& parts,
                  const FileUse& first, const FileUse& use) {
  const Site& s = sites[use.site];
  const Site& other = sites[first.site];
  std::string other_site = first.site == use.site
                               ? "this site"
                               : "site " + squote(parts[first.site]->name.value) + " (line " +
                                     std::to_string(first.pos.line) + ")";
  std::string head = std::string(use.role) + " " + squote(use.written) + " is ";
  if (first.role == "chain" && use.role == "chain") {
    if (is_ev(other.feature) != is_ev(s.feature)) {
      w.error(use.pos, head + "shared with " + (is_ev(other.feature) ? "EV " : "non-EV ") +
                           other_site + "; EV and non-EV sites chain to different CAs, give "
                                        "this site its own chain file");
    } else if (!same_subs(other.ca, s.ca) || other.ca.cross != s.ca.cross) {
      w.error(use.pos, head + "shared with " + other_site + ", which has a different " +
                           (!same_subs(other.ca, s.ca) ? "ca.sub" : "ca.cross") +
                           "; give this site its own chain file");
    }
    return;
  }
  head += "already the " + std::string(first.role) + " of " + other_site;
  if (first.role == "fullchain" && use.role == "fullchain")
    w.error(use.pos, head + "; sites never share a fullchain file: give this site its own");
  else if (first.role == "fullchain" || use.role == "fullchain")
    w.error(use.pos, head + "; a fullchain needs a file of its own, apart from every key, CSR, "
                            "certificate and chain");
  else
    w.error(use.pos, head + "; sites never share key, CSR or certificate files");
}

void check_files(Walker& w, const std::vector<Site>& sites,
                 const std::vector<const SitePart*>& parts) {
  std::map<PathString, FileUse> seen;
  for (std::size_t i = 0; i < sites.size(); ++i) {
    const Site& s = sites[i];
    const SitePart& p = *parts[i];
    const std::pair<const PathString*, FileUse> uses[] = {
        {&s.key.path, {i, "key", p.key.path.value, p.key.path.pos}},
        {&s.csr, {i, "csr", p.csr.value, s.csr_pos}},
        {&s.certificate, {i, "certificate", p.certificate.value, s.certificate_pos}},
        {&s.chain, {i, "chain", p.chain.value, s.chain_pos}},
        {s.fullchain ? &*s.fullchain : nullptr, {i, "fullchain", p.fullchain.value, s.fullchain_pos}},
    };
    for (const auto& [path, use] : uses) {
      if (path == nullptr || path->empty()) continue;
      auto [it, inserted] = seen.emplace(*path, use);
      if (!inserted) check_shared(w, sites, parts, it->second, use);
    }
  }
}

void build_name(Walker& w, const SitePart& p, const Setting<Feature>& feature, Site* s) {
  bool wildcard = feature.valid && feature.value == Feature::kWildcard;
  if (!p.name.given) missing(w, p.pos, "name", "site", false);
  s->name_pos = p.name.pos;
  if (!p.name.valid) return;
  s->unicode_name = p.name.value;
  auto name = normalize_server_name(p.name.value, wildcard || !feature.valid);
  if (!name) {
    w.error(p.name.pos, name.status().message());
  } else if (wildcard && name->rfind("*.", 0) != 0) {
    std::size_t dot = name->find('.');
    bool has_parent = dot != std::string::npos && name->find('.', dot + 1) != std::string::npos;
    w.error(p.name.pos, "a wildcard site's name must start with '*.', as in " +
                            squote("*." + (has_parent ? name->substr(dot + 1) : *name)));
  } else {
    s->name = *name;
  }
}

void build_key(Walker& w, const SitePart& d, const SitePart& p, const fs::path& dir, Site* s) {
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
}

// csr, certificate, chain (required) and fullchain (optional).
void build_files(Walker& w, const SitePart& p, const fs::path& dir, Site* s) {
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
  s->fullchain_pos = p.fullchain.pos;
  if (p.fullchain.valid) s->fullchain = resolve(dir, p.fullchain.value);
}

void build_ca(Walker& w, const SitePart& d, const SitePart& p, const fs::path& dir, Site* s) {
  SourcePos ca_parent = p.ca.given ? p.ca.pos : p.pos;
  s->ca.pos = p.ca.given ? p.ca.pos : d.ca.given ? d.ca.pos : p.pos;
  const auto& sub = pick(p.ca.sub, d.ca.sub);
  const auto& cross = pick(p.ca.cross, d.ca.cross);
  const auto& trust = pick(p.ca.trust, d.ca.trust);
  if (!sub.given) missing(w, ca_parent, "sub", "ca", true);
  if (!cross.given) missing(w, ca_parent, "cross", "ca", true);
  if (sub.valid)
    for (const std::string& written : sub.value) s->ca.sub.push_back(resolve(dir, written));
  if (cross.valid) s->ca.cross = resolve(dir, cross.value);
  if (trust.valid) s->ca.trust = resolve(dir, trust.value);
}

void build_vhost(Walker& w, const SitePart& d, const SitePart& p, bool wildcard,
                 bool feature_valid, const fs::path& dir, Site* s) {
  s->vhost.pos = p.vhost.given ? p.vhost.pos : p.pos;
  if (p.vhost.server_name.valid) {
    auto sn = normalize_server_name(p.vhost.server_name.value, wildcard || !feature_valid);
    if (sn)
      s->vhost.server_name = *sn;
    else
      w.error(p.vhost.server_name.pos, sn.status().message());
  } else if (!p.vhost.server_name.given) {
    if (wildcard)
      w.error(p.pos, "a wildcard site needs vhost.server_name: the ServerName of its "
                     "VirtualHost, e.g. " +
                         squote(s->name.empty() ? "www.example.com" : "www" + s->name.substr(1)));
    else
      s->vhost.server_name = s->name;
  }
  const auto& port = pick(p.vhost.port, d.vhost.port);
  if (port.valid) s->vhost.port = port.value;
  const auto& vfile = pick(p.vhost.file, d.vhost.file);
  if (vfile.valid) s->vhost.file = resolve(dir, vfile.value);
  const auto& verify = pick(p.vhost.verify, d.vhost.verify);
  if (verify.valid) s->vhost.verify = verify.value;
  const auto& stapling = pick(p.vhost.stapling, d.vhost.stapling);
  if (stapling.valid) s->vhost.stapling = stapling.value;
}

void build_renewal(Walker& w, const SitePart& d, const SitePart& p, RenewalSpec* r) {
  r->pos = p.renewal.given ? p.renewal.pos : d.renewal.given ? d.renewal.pos : p.pos;
  const auto& before = pick(p.renewal.before, d.renewal.before);
  const auto& stage = pick(p.renewal.stage, d.renewal.stage);
  const auto& warn = pick(p.renewal.warn, d.renewal.warn);
  if (before.valid) r->before = before.value;
  if (stage.valid) r->stage = stage.value;
  if (warn.valid) r->warn = warn.value;
  if ((before.given && !before.valid) || (warn.given && !warn.valid)) return;
  if (!wider_than(r->warn, r->before)) return;
  // Reported at the value written: warn when given, else the before that
  // narrowed the window below the default warn.
  if (warn.given) {
    // Say where before was written when it is not beside warn (site and defaults).
    const bool apart = (&before == &p.renewal.before) != (&warn == &p.renewal.warn);
    std::string before_text = !before.given ? "(" + r->before.str() + " by default)"
                              : apart ? r->before.str() + " (line " + std::to_string(before.pos.line) + ")"
                                      : r->before.str();
    w.error(warn.pos, "renewal.warn " + r->warn.str() + " is wider than renewal.before " +
                          before_text + ": a renewal is late only after it is due; make warn at "
                          "most " + r->before.str());
    return;
  }
  w.error(before.pos, "renewal.before " + r->before.str() + " is narrower than renewal.warn (" +
                          r->warn.str() + " by default): a renewal is late only after it is "
                          "due; set renewal.warn to at most " + r->before.str() + " too");
}


void build_site(Walker& w, const SitePart& d, const SitePart& p, const fs::path& dir,
                Site* s) {
  s->pos = p.pos;
  const auto& feature = pick(p.feature, d.feature);
  if (!feature.given) missing(w, p.pos, "feature", "site", true);
  if (feature.valid) s->feature = feature.value;
  build_name(w, p, feature, s);

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

  build_key(w, d, p, dir, s);
  build_files(w, p, dir, s);
  build_ca(w, d, p, dir, s);
  bool wildcard = feature.valid && feature.value == Feature::kWildcard;
  build_vhost(w, d, p, wildcard, feature.valid, dir, s);
  build_renewal(w, d, p, &s->renewal);
}

}  // namespace

void build_sites(Walker& w, const SitePart& defaults, const std::vector<SitePart>& parts,
                 const fs::path& dir, std::vector<Site>* sites) {
  std::vector<const SitePart*> built;
  std::map<std::string, const SitePart*> names;
  sites->reserve(sites->size() + parts.size());  // a Site is ~1 KiB: no doubling at 10,000 sites
  built.reserve(parts.size());
  for (const SitePart& p : parts) {
    Site s;
    build_site(w, defaults, p, dir, &s);
    if (!s.name.empty()) {
      auto [it, inserted] = names.emplace(s.name, &p);
      if (!inserted)
        w.error(p.name.pos, "duplicate site name " + squote(s.name) + " (first at line " +
                                std::to_string(it->second->name.pos.line) + ")");
    }
    sites->push_back(std::move(s));
    built.push_back(&p);
  }
  check_files(w, *sites, built);
}

void check_environment(Walker& w, const std::vector<NameAt>& environment,
                       const std::vector<Site>& sites) {
  std::map<std::string_view, const NameAt*> listed;
  for (const NameAt& n : environment) listed.emplace(n.name, &n);
  std::set<std::string_view> reported;
  for (const Site& s : sites) {
    if (s.key.passphrase.kind != PassphraseSource::Kind::kEnv) continue;
    auto it = listed.find(s.key.passphrase.env);
    if (it == listed.end() || !reported.insert(it->first).second) continue;
    w.error(it->second->pos,
            "apache.environment lists " + squote(it->first) + ", the passphrase variable of site " +
                squote(s.unicode_name) + " (passphrase at line " +
                std::to_string(s.key.passphrase.pos.line) +
                "); the passphrase must never reach configtest, restart or notify: remove it "
                "from the list");
  }
}

}  // namespace ecert
