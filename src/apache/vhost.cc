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

}  // namespace

Result<const VirtualHost*> find_vhost(const Config& config, const VhostQuery& query) {
  const std::string port = std::to_string(query.port);
  std::optional<fs::path> only;
  if (query.only_file)  // a relative vhost.file is taken relative to ServerRoot, like Apache paths
    only = (query.only_file->is_absolute() ? *query.only_file : config.server_root / *query.only_file).lexically_normal();

  std::vector<const VirtualHost*> candidates, exact, wildcard;
  for (const VirtualHost& vh : config.vhosts) {
    if (!vh.listens_on(query.port) || (only && !in_file(vh, *only))) continue;
    candidates.push_back(&vh);
    switch (vh.match_name(query.server_name)) {
      case VirtualHost::NameMatch::kExact: exact.push_back(&vh); break;
      case VirtualHost::NameMatch::kWildcard: wildcard.push_back(&vh); break;
      case VirtualHost::NameMatch::kNone: break;
    }
  }
  if (candidates.empty()) {
    std::string scope = only ? only->string() + " (vhost.file)" : config.root.string() + " or the files it includes";
    return Status::not_found("no <VirtualHost> on port " + port + " in " + scope + "; add a <VirtualHost *:" + port +
                             "> block with ServerName " + query.server_name + " or set vhost.port" +
                             unread_note(config, query, only));
  }
  const auto& matches = exact.empty() ? wildcard : exact;
  if (matches.size() == 1 && matches.front()->condition.empty()) return matches.front();
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
  }
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
  if (matches.size() == 1 && matches.front()->condition.empty()) return matches.front();
  return find_vhost(config_, query);  // none, several or unsure: the full scan words the error
}

}  // namespace ecert::apache
