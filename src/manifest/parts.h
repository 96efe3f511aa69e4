// The manifest as written, before defaults are merged: every setting keeps
// whether it was given, whether it was valid, and where it was written.
// Internal to the loader.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "manifest/model.h"
#include "manifest/yaml_walk.h"

namespace ecert {

template <class T>
struct Setting {
  T value{};
  SourcePos pos;      // the value (the key when the value was empty)
  bool given = false; // the key was present, valid or not
  bool valid = false;
  void set(T v, SourcePos at) {
    value = std::move(v);
    pos = std::move(at);
    given = valid = true;
  }
  void invalid(SourcePos at) {
    pos = std::move(at);
    given = true;
    valid = false;
  }
};

// A setting on the site when given there, else the one from defaults.
template <class T>
const Setting<T>& pick(const Setting<T>& site, const Setting<T>& defaults) {
  return site.given ? site : defaults;
}

struct KeyPart {
  bool given = false;
  SourcePos pos;
  Setting<std::string> path;
  Setting<int> bits;
  Setting<Cipher> cipher;
  Setting<PassphraseSource> passphrase;
};

struct CaPart {
  bool given = false;
  SourcePos pos;
  Setting<std::vector<std::string>> sub;  // one path, or the candidates of a rollover
  Setting<std::string> cross, trust;
};

struct VhostPart {
  bool given = false;
  SourcePos pos;
  Setting<std::string> server_name;  // as written
  Setting<int> port;
  Setting<std::string> file, verify;
  Setting<bool> stapling;
};

struct RenewalPart {
  bool given = false;
  SourcePos pos;
  Setting<Window> before, warn;
  Setting<RenewalSpec::Stage> stage;
};

struct NameAt {
  std::string name;  // A-label form
  SourcePos pos;
};

struct SitePart {
  SourcePos pos;
  Setting<std::string> name;  // as written
  Setting<Feature> feature;
  Setting<std::vector<NameAt>> additional_names;
  Setting<std::string> organization;
  KeyPart key;
  Setting<std::string> csr, certificate, chain, fullchain;
  CaPart ca;
  VhostPart vhost;
  RenewalPart renewal;
};

// True for a name an environment variable can portably have:
// [A-Za-z_][A-Za-z0-9_]*.
bool is_env_name(std::string_view s);

// Reads one site (or, with `is_defaults`, the defaults mapping), reporting
// everything that can be judged from the mapping alone.
void parse_site_part(Walker& w, const yaml::Node& map, bool is_defaults, SitePart* out);

// Merges each site over the defaults, checks what needs both (required keys,
// names against features, cipher against passphrase) and what needs all
// sites (shared files, duplicate names), and fills `sites`.
void build_sites(Walker& w, const SitePart& defaults, const std::vector<SitePart>& parts,
                 const fs::path& dir, std::vector<Site>* sites);

// Reads the apache mapping into `apache`; the names of apache.environment
// also go to `environment` with where each was written.
void read_apache(Walker& w, const Entry& e, const fs::path& dir, ApacheSpec* apache,
                 std::vector<NameAt>* environment);

// Reads the notify mapping into `notify`.
void read_notify(Walker& w, const Entry& e, NotifySpec* notify);

// Reports each name of apache.environment that is the passphrase variable of
// a site: the passphrase must never reach a command ecertctl runs.
void check_environment(Walker& w, const std::vector<NameAt>& environment,
                       const std::vector<Site>& sites);

}  // namespace ecert
