// Reading a site mapping (or the defaults) into a SitePart.
#include "util/strings.h"
#include <algorithm>

#include "util/host_port.h"
#include "manifest/names.h"
#include "manifest/parts.h"

namespace ecert {
namespace {

const std::vector<std::string_view> kSiteKeys = {
    "name", "feature", "additional_names", "organization", "key",   "csr",
    "certificate", "chain", "fullchain",   "ca",           "vhost", "renewal"};
const std::vector<std::string_view> kDefaultsKeys = {
    "feature", "additional_names", "organization", "key", "ca", "vhost", "renewal"};
const std::vector<MapReader::Hint> kSiteHints = {
    {"path", "it belongs under 'key'"},       {"bits", "it belongs under 'key'"},
    {"cipher", "it belongs under 'key'"},     {"passphrase", "it belongs under 'key'"},
    {"sub", "it belongs under 'ca'"},         {"cross", "it belongs under 'ca'"},
    {"trust", "it belongs under 'ca'"},       {"server_name", "it belongs under 'vhost'"},
    {"port", "it belongs under 'vhost'"},     {"verify", "it belongs under 'vhost'"},
    {"file", "it belongs under 'vhost'"},     {"stapling", "it belongs under 'vhost'"},
    {"before", "it belongs under 'renewal'"}, {"stage", "it belongs under 'renewal'"},
    {"warn", "it belongs under 'renewal'"},
    {"notify", "it belongs at the top level of the manifest"},
    {"environment", "it belongs under 'apache'"}};
const std::vector<MapReader::Hint> kDefaultsHints = [] {
  std::vector<MapReader::Hint> hints = {
      {"name", "each site needs its own; set it on the site"},
      {"csr", "each site needs its own; set it on the site"},
      {"certificate", "each site needs its own; set it on the site"},
      {"chain", "each site needs its own; set it on the site"},
      {"fullchain", "each site needs its own; set it on the site"}};
  hints.insert(hints.end(), kSiteHints.begin(), kSiteHints.end());
  return hints;
}();

const std::vector<std::string_view> kFeatures = {"standard", "ev", "wildcard", "multi-domain",
                                                 "ev-multi-domain"};
const std::vector<std::string_view> kCiphers = {"aes-256-cbc", "des-ede3-cbc", "none"};
const std::vector<std::string_view> kStages = {"auto", "manual"};


std::size_t code_points(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

void read_path(Walker& w, const MapReader& m, std::string_view key, std::string_view label,
               Setting<std::string>* out, std::string_view expected = "a path") {
  const Entry* e = m.find(key);
  if (e == nullptr) return;
  auto text = read_string(w, *e, label, expected);
  if (text && text->empty()) {
    w.error(w.pos(e->value), squote(label) + " must be a path, not an empty string");
    text.reset();
  }
  if (text)
    out->set(*text, w.pos(e->value));
  else
    out->invalid(e->value.IsNull() ? e->key_pos : w.pos(e->value));
}

void read_passphrase(Walker& w, const Entry& e, Setting<PassphraseSource>* out) {
  SourcePos at = e.value.IsNull() ? e.key_pos : w.pos(e.value);
  out->invalid(at);
  if (e.value.IsScalar()) {
    w.error(at, "passphrase must come from {env: NAME} or {file: PATH}, never a literal");
    return;
  }
  if (!expect_map(w, e, "key.passphrase", "{env: NAME} or {file: PATH}")) return;
  MapReader m(w, e.value, "passphrase", {"env", "file"});
  const Entry* env = m.find("env");
  const Entry* file = m.find("file");
  if (env != nullptr && file != nullptr) {
    const Entry* later = env->key_pos.line > file->key_pos.line ||
                                 (env->key_pos.line == file->key_pos.line &&
                                  env->key_pos.column > file->key_pos.column)
                             ? env
                             : file;
    w.error(later->key_pos, "passphrase has both env and file; keep one");
    return;
  }
  if (env == nullptr && file == nullptr) {
    w.error(at, "passphrase needs env or file, e.g. {env: ECERT_KEY_PASSPHRASE}");
    return;
  }
  PassphraseSource src;
  src.pos = at;
  if (env != nullptr) {
    auto name = read_string(w, *env, "passphrase.env", "an environment variable name");
    if (!name) return;
    if (!is_env_name(*name)) {
      w.error(w.pos(env->value), "'passphrase.env' must be an environment variable name like "
                                 "ECERT_KEY_PASSPHRASE, got " + squote(*name));
      return;
    }
    src.kind = PassphraseSource::Kind::kEnv;
    src.env = *name;
  } else {
    auto path = read_string(w, *file, "passphrase.file", "a path");
    if (!path) return;
    if (path->empty()) {
      w.error(w.pos(file->value), "'passphrase.file' must be a path, not an empty string");
      return;
    }
    src.kind = PassphraseSource::Kind::kFile;
    src.file = *path;  // resolved against the manifest's directory when merged
  }
  out->set(std::move(src), at);
}

void read_key_mapping(Walker& w, const Entry& e, bool is_defaults, KeyPart* key) {
  std::vector<std::string_view> allowed = {"bits", "cipher", "passphrase"};
  std::vector<MapReader::Hint> hints;
  if (is_defaults)
    hints.push_back({"path", "each site needs its own key; set key.path on the site"});
  else
    allowed.insert(allowed.begin(), "path");
  MapReader m(w, e.value, "key", allowed, hints);
  if (!is_defaults) read_path(w, m, "path", "key.path", &key->path);
  if (const Entry* b = m.find("bits")) {
    SourcePos at = w.pos(b->value);
    auto bits = read_int(w, *b, "key.bits", 0, 1 << 20, "2048, 3072 or 4096");
    if (bits && *bits != 2048 && *bits != 3072 && *bits != 4096) {
      w.error(at, "'key.bits' must be 2048, 3072 or 4096, got " + std::to_string(*bits));
      bits.reset();
    }
    if (bits && *bits != 2048)
      w.warning(at, std::to_string(*bits) +
                        "-bit keys may break old browsers; the CA's guide uses 2048");
    if (bits)
      key->bits.set(static_cast<int>(*bits), at);
    else
      key->bits.invalid(at);
  }
  if (const Entry* c = m.find("cipher")) {
    auto i = read_enum(w, *c, "key.cipher", kCiphers);
    if (i)
      key->cipher.set(static_cast<Cipher>(*i), w.pos(c->value));
    else
      key->cipher.invalid(w.pos(c->value));
  }
  if (const Entry* p = m.find("passphrase")) read_passphrase(w, *p, &key->passphrase);
}

void read_key(Walker& w, const Entry& e, bool is_defaults, KeyPart* key) {
  key->given = true;
  key->pos = e.value.IsNull() ? e.key_pos : w.pos(e.value);
  if (e.value.IsMap()) {
    read_key_mapping(w, e, is_defaults, key);
    return;
  }
  if (is_defaults) {
    if (e.value.IsScalar())
      w.error(key->pos, "defaults cannot give a key path; write key: {bits, cipher, passphrase} "
                        "here and the path on each site");
    else
      expect_map(w, e, "key", "a mapping of bits, cipher and passphrase");
    return;
  }
  auto text = read_string(w, e, "key", "a path or a mapping with path");
  if (text && text->empty()) {
    w.error(key->pos, "'key' must be a path, not an empty string");
    text.reset();
  }
  if (text)
    key->path.set(*text, key->pos);
  else
    key->path.invalid(key->pos);
}

// ca.sub: one path, or the candidates of a CA rollover.
void read_sub(Walker& w, const MapReader& m, Setting<std::vector<std::string>>* out) {
  const Entry* e = m.find("sub");
  if (e == nullptr) return;
  const char* expected = "a path or a non-empty list of paths";
  if (!e->value.IsSequence()) {
    Setting<std::string> one;
    read_path(w, m, "sub", "ca.sub", &one, expected);
    if (one.valid)
      out->set({one.value}, one.pos);
    else
      out->invalid(one.pos);
    return;
  }
  out->invalid(w.pos(e->value));
  auto items = read_string_list(w, *e, "ca.sub", expected, "a path");
  if (!items) return;
  if (items->empty()) {
    w.error(w.pos(e->value), std::string("'ca.sub' must be ") + expected + ", not an empty list");
    return;
  }
  bool ok = true;
  for (const TextAt& item : *items) {
    if (!item.text.empty()) continue;
    w.error(item.pos, "each entry of 'ca.sub' must be a path, not an empty string");
    ok = false;
  }
  auto same_file = [](const std::string& p) { return fs::path(p).lexically_normal().string(); };
  if (!ok || !check_no_duplicates(w, *items, "ca.sub", same_file)) return;
  std::vector<std::string> paths;
  for (TextAt& item : *items) paths.push_back(std::move(item.text));
  out->set(std::move(paths), w.pos(e->value));
}

void read_ca(Walker& w, const Entry& e, CaPart* ca) {
  ca->given = true;
  ca->pos = e.value.IsNull() ? e.key_pos : w.pos(e.value);
  if (!expect_map(w, e, "ca", "a mapping of sub, cross and trust")) return;
  MapReader m(w, e.value, "ca", {"sub", "cross", "trust"});
  read_sub(w, m, &ca->sub);
  read_path(w, m, "cross", "ca.cross", &ca->cross);
  read_path(w, m, "trust", "ca.trust", &ca->trust);
}

void read_vhost(Walker& w, const Entry& e, bool is_defaults, VhostPart* vhost) {
  vhost->given = true;
  vhost->pos = e.value.IsNull() ? e.key_pos : w.pos(e.value);
  if (!expect_map(w, e, "vhost", "a mapping of server_name, port, file, verify and stapling"))
    return;
  std::vector<std::string_view> allowed = {"port", "file", "verify", "stapling"};
  std::vector<MapReader::Hint> hints;
  if (is_defaults)
    hints.push_back({"server_name", "each site's VirtualHost has its own; set it on the site"});
  else
    allowed.insert(allowed.begin(), "server_name");
  MapReader m(w, e.value, "vhost", allowed, hints);
  if (const Entry* s = m.find("server_name")) {
    auto text = read_string(w, *s, "vhost.server_name", "a server name");
    if (text)
      vhost->server_name.set(*text, w.pos(s->value));
    else
      vhost->server_name.invalid(w.pos(s->value));
  }
  if (const Entry* p = m.find("port")) {
    auto port = read_int(w, *p, "vhost.port", 1, 65535);
    if (port)
      vhost->port.set(static_cast<int>(*port), w.pos(p->value));
    else
      vhost->port.invalid(w.pos(p->value));
  }
  read_path(w, m, "file", "vhost.file", &vhost->file);
  if (const Entry* v = m.find("verify")) {
    auto text = read_string(w, *v, "vhost.verify", "HOST:PORT");
    if (text && !parse_host_port(*text)) {
      w.error(w.pos(v->value), "'vhost.verify' must be HOST:PORT or [IPv6]:PORT with a port "
                               "from 1 to 65535, got " + squote(*text));
      text.reset();
    }
    if (text)
      vhost->verify.set(*text, w.pos(v->value));
    else
      vhost->verify.invalid(w.pos(v->value));
  }
  if (const Entry* s = m.find("stapling")) {
    SourcePos at = s->value.IsNull() ? s->key_pos : w.pos(s->value);
    if (auto on = read_bool(w, *s, "vhost.stapling"))
      vhost->stapling.set(*on, at);
    else
      vhost->stapling.invalid(at);
  }
}

void read_window(Walker& w, const MapReader& m, std::string_view key, std::string_view label,
                 Setting<Window>* out) {
  const Entry* e = m.find(key);
  if (e == nullptr) return;
  SourcePos at = e->value.IsNull() ? e->key_pos : w.pos(e->value);
  out->invalid(at);
  auto text = read_string(w, *e, label, "a share of the certificate's lifetime like 33% or a "
                                        "number of days like 30d");
  if (!text) return;
  auto window = parse_window(*text, label);
  if (!window) {
    w.error(at, window.status().message());
    return;
  }
  out->set(*window, at);
}

void read_renewal(Walker& w, const Entry& e, RenewalPart* renewal) {
  renewal->given = true;
  renewal->pos = e.value.IsNull() ? e.key_pos : w.pos(e.value);
  if (!expect_map(w, e, "renewal", "a mapping of before, stage and warn")) return;
  MapReader m(w, e.value, "renewal", {"before", "stage", "warn"});
  read_window(w, m, "before", "renewal.before", &renewal->before);
  if (const Entry* s = m.find("stage")) {
    SourcePos at = s->value.IsNull() ? s->key_pos : w.pos(s->value);
    if (auto i = read_enum(w, *s, "renewal.stage", kStages))
      renewal->stage.set(static_cast<RenewalSpec::Stage>(*i), at);
    else
      renewal->stage.invalid(at);
  }
  read_window(w, m, "warn", "renewal.warn", &renewal->warn);
}

void read_additional_names(Walker& w, const Entry& e, Setting<std::vector<NameAt>>* out) {
  SourcePos at = e.value.IsNull() ? e.key_pos : w.pos(e.value);
  out->invalid(at);
  if (!expect_list(w, e, "additional_names", "a list of server names")) return;
  std::vector<NameAt> names;
  bool ok = true;
  for (auto it = e.value.begin(); it != e.value.end(); ++it) {
    yaml::Node n = *it;
    SourcePos npos = w.pos(n);
    if (!n.IsScalar()) {
      w.error(npos, "each entry of 'additional_names' must be a server name, not " +
                        std::string(describe(n)));
      ok = false;
      continue;
    }
    auto name = normalize_server_name(n.Scalar(), false);
    if (!name) {
      w.error(npos, name.status().message());
      ok = false;
      continue;
    }
    auto dup = std::find_if(names.begin(), names.end(),
                            [&](const NameAt& x) { return x.name == *name; });
    if (dup != names.end()) {
      w.error(npos, "additional name " + squote(*name) + " is listed twice (first at line " +
                        std::to_string(dup->pos.line) + ")");
      ok = false;
      continue;
    }
    names.push_back({*name, npos});
  }
  if (ok) out->set(std::move(names), at);
}

}  // namespace

bool is_env_name(std::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '_';
  });
}

void parse_site_part(Walker& w, const yaml::Node& map, bool is_defaults, SitePart* out) {
  out->pos = w.pos(map);
  MapReader m(w, map, is_defaults ? "defaults" : "site", is_defaults ? kDefaultsKeys : kSiteKeys,
              is_defaults ? kDefaultsHints : kSiteHints);
  if (const Entry* e = m.find("name")) {
    auto text = read_string(w, *e, "name", "a server name");
    if (text)
      out->name.set(*text, w.pos(e->value));
    else
      out->name.invalid(e->value.IsNull() ? e->key_pos : w.pos(e->value));
  }
  if (const Entry* e = m.find("feature")) {
    auto i = read_enum(w, *e, "feature", kFeatures);
    if (i)
      out->feature.set(static_cast<Feature>(*i), w.pos(e->value));
    else
      out->feature.invalid(w.pos(e->value));
  }
  if (const Entry* e = m.find("additional_names"))
    read_additional_names(w, *e, &out->additional_names);
  if (const Entry* e = m.find("organization")) {
    auto text = read_string(w, *e, "organization", "1 to 64 characters");
    std::size_t n = text ? code_points(*text) : 0;
    if (text && (n < 1 || n > 64)) {
      w.error(w.pos(e->value),
              "'organization' must be 1 to 64 characters, got " + std::to_string(n));
      text.reset();
    }
    if (text)
      out->organization.set(*text, w.pos(e->value));
    else
      out->organization.invalid(w.pos(e->value));
  }
  if (const Entry* e = m.find("key")) read_key(w, *e, is_defaults, &out->key);
  read_path(w, m, "csr", "csr", &out->csr);
  read_path(w, m, "certificate", "certificate", &out->certificate);
  read_path(w, m, "chain", "chain", &out->chain);
  read_path(w, m, "fullchain", "fullchain", &out->fullchain);
  if (const Entry* e = m.find("ca")) read_ca(w, *e, &out->ca);
  if (const Entry* e = m.find("vhost")) read_vhost(w, *e, is_defaults, &out->vhost);
  if (const Entry* e = m.find("renewal")) read_renewal(w, *e, &out->renewal);
}

}  // namespace ecert
