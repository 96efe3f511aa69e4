#include "apache/vhost.h"

#include "util/strings.h"

#include <cctype>

namespace ecert::apache {

namespace {

bool in_file(const VirtualHost& vh, const fs::path& wanted) {
  return fs::path(vh.file).lexically_normal() == wanted || fs::path(vh.real_file).lexically_normal() == wanted;
}

std::string where(const VirtualHost& vh) { return vh.file + ":" + std::to_string(vh.line); }

// "; /c/a.conf:3 serves www.example.com but Apache does not read it (<IfDefine
// STAGING> at /c/a.conf:1 is false)" for each unread vhost that would have
// matched: the likely reason a site finds no vhost.
std::string unread_note(const Config& config, const VhostQuery& query, const std::optional<fs::path>& only) {
  std::string note;
  for (const VirtualHost& vh : config.unread_vhosts)
    if (vh.listens_on(query.port) && (!only || in_file(vh, *only)) && vh.serves(query.server_name))
      note += "; " + where(vh) + " serves " + query.server_name + " but Apache does not read it (" + vh.condition + ")";
  return note;
}

// Several blocks, or blocks Apache may not read: an error naming them.
Status ambiguous(const std::vector<const VirtualHost*>& matches, const VhostQuery& query, const std::string& port) {
  std::vector<const VirtualHost*> sure, unsure;
  for (const VirtualHost* vh : matches) (vh->condition.empty() ? sure : unsure).push_back(vh);
  if (sure.size() > 1) {
    std::string list;
    for (const VirtualHost* vh : matches) list += (list.empty() ? "" : ", ") + where(*vh);
    return Status::conflict(std::to_string(matches.size()) + " <VirtualHost> blocks on port " + port + " serve " +
                            query.server_name + ": " + list + "; keep one or set vhost.file");
  }
  std::string list;
  for (const VirtualHost* vh : unsure) list += (list.empty() ? "" : "; ") + where(*vh) + ": " + vh->condition;
  return Status::conflict("ecertctl cannot tell whether Apache reads the <VirtualHost> on port " + port + " that serves " +
                          query.server_name + " (" + list + "); put it under a section ecertctl evaluates (<IfModule>, "
                          "<IfDefine>) or set vhost.file to the file of the block Apache reads");
}

bool share_an_address(const VirtualHost& a, const VirtualHost& b) {
  for (const auto& x : a.addresses)
    for (const auto& y : b.addresses)
      if (address_key(x) == address_key(y)) return true;
  return false;
}

// Apache serves a name from the first block on the address that answers to
// it, whatever the kind of match (its ServerName, an alias, a wildcard
// alias, or the main server's name inherited): `other` does so before
// `chosen` when it comes first in the configuration (Config::vhosts is in
// that order), Apache certainly reads it, and it shares an address.
bool served_before(const VirtualHost& other, const VirtualHost& chosen, const VhostQuery& query) {
  return &other < &chosen && other.condition.empty() && other.listens_on(query.port) &&
         share_an_address(other, chosen) && other.serves(query.server_name);
}

Status served_by_earlier(const VirtualHost& first, const VirtualHost& chosen, const VhostQuery& query) {
  return Status::conflict("Apache serves " + query.server_name + " on port " + std::to_string(query.port) +
                          " from " + first.describe() + ", the first block that answers to it, not from " +
                          where(chosen) + "; take the name out of the first block or move the site's block before it");
}

// `chosen`, unless a block Apache reads first also answers to the name.
Result<const VirtualHost*> check_first(const Config& config, const VirtualHost* chosen, const VhostQuery& query) {
  for (const VirtualHost& vh : config.vhosts) {
    if (&vh == chosen) break;
    if (served_before(vh, *chosen, query)) return served_by_earlier(vh, *chosen, query);
  }
  return chosen;
}

}  // namespace

Result<const VirtualHost*> find_vhost(const Config& config, const VhostQuery& query) {
  const std::string port = std::to_string(query.port);
  std::optional<fs::path> only;
  if (query.only_file)  // a relative vhost.file is taken relative to ServerRoot, like Apache paths
    only = (query.only_file->is_absolute() ? *query.only_file : config.server_root / *query.only_file).lexically_normal();

  std::vector<const VirtualHost*> candidates, exact, wildcard, inherited;
  for (const VirtualHost& vh : config.vhosts) {
    if (!vh.listens_on(query.port) || (only && !in_file(vh, *only))) continue;
    candidates.push_back(&vh);
    switch (vh.match_name(query.server_name)) {
      case VirtualHost::NameMatch::kExact: exact.push_back(&vh); break;
      case VirtualHost::NameMatch::kWildcard: wildcard.push_back(&vh); break;
      case VirtualHost::NameMatch::kInherited: inherited.push_back(&vh); break;
      case VirtualHost::NameMatch::kNone: break;
    }
  }
  if (candidates.empty()) {
    std::string scope = only ? only->string() + " (vhost.file)" : config.root.string() + " or the files it includes";
    return Status::not_found("no <VirtualHost> on port " + port + " in " + scope + "; add a <VirtualHost *:" + port +
                             "> block with ServerName " + query.server_name + " or set vhost.port" +
                             unread_note(config, query, only));
  }
  // A name of its own first, then a wildcard alias, then the main server's
  // name inherited by a block without ServerName (a Debian default-ssl.conf
  // or a Red Hat ssl.conf on a one-site server).
  const auto& matches = !exact.empty() ? exact : !wildcard.empty() ? wildcard : inherited;
  if (matches.size() == 1 && matches.front()->condition.empty()) return check_first(config, matches.front(), query);
  if (matches.empty()) {
    std::string list;
    for (const VirtualHost* vh : candidates) list += (list.empty() ? "" : ", ") + vh->describe();
    return Status::not_found("no <VirtualHost> on port " + port + " serves " + query.server_name +
                             "; candidates: " + list + "; add ServerName " + query.server_name +
                             " to one of them or set vhost.server_name" + unread_note(config, query, only));
  }
  return ambiguous(matches, query, port);
}

namespace {

}  // namespace

VhostIndex::VhostIndex(const Config& config) : config_(config) {
  for (std::size_t i = 0; i < config.vhosts.size(); ++i) {
    const VirtualHost& vh = config.vhosts[i];
    auto add = [&](const std::string& name) {
      auto& list = by_name_[lower(name)];
      if (list.empty() || list.back() != i) list.push_back(i);
    };
    if (!vh.server_name.empty()) add(vh.server_name);
    bool wildcard = false;
    for (const auto& alias : vh.aliases) {
      add(alias);
      wildcard |= is_alias_pattern(alias);
    }
    if (wildcard) wildcard_.push_back(i);
    if (!vh.inherited_name.empty()) by_inherited_name_[lower(vh.inherited_name)].push_back(i);
  }
}

// check_first through the index: only blocks with a wildcard alias or the
// inherited name can answer to a name that one block alone has as its own.
Result<const VirtualHost*> VhostIndex::first_served(const VirtualHost* chosen, const VhostQuery& query) const {
  const VirtualHost* first = nullptr;
  auto consider = [&](std::size_t i) {
    const VirtualHost& vh = config_.vhosts[i];
    if (served_before(vh, *chosen, query) && (!first || &vh < first)) first = &vh;
  };
  for (std::size_t i : wildcard_) consider(i);
  if (auto it = by_inherited_name_.find(lower(query.server_name)); it != by_inherited_name_.end())
    for (std::size_t i : it->second) consider(i);
  if (first) return served_by_earlier(*first, *chosen, query);
  return chosen;
}

Result<const VirtualHost*> VhostIndex::find(const VhostQuery& query) const {
  std::optional<fs::path> only;
  if (query.only_file)
    only = (query.only_file->is_absolute() ? *query.only_file : config_.server_root / *query.only_file).lexically_normal();
  auto eligible = [&](const VirtualHost& vh) { return vh.listens_on(query.port) && (!only || in_file(vh, *only)); };
  std::vector<const VirtualHost*> exact, wildcard;
  if (auto it = by_name_.find(lower(query.server_name)); it != by_name_.end())
    for (std::size_t i : it->second)
      if (eligible(config_.vhosts[i])) exact.push_back(&config_.vhosts[i]);
  if (exact.empty())
    for (std::size_t i : wildcard_)
      if (eligible(config_.vhosts[i]) &&
          config_.vhosts[i].match_name(query.server_name) == VirtualHost::NameMatch::kWildcard)
        wildcard.push_back(&config_.vhosts[i]);
  const auto& matches = exact.empty() ? wildcard : exact;
  if (matches.size() == 1 && matches.front()->condition.empty()) return first_served(matches.front(), query);
  return find_vhost(config_, query);  // none, several or unsure: the full scan words the error
}

}  // namespace ecert::apache
