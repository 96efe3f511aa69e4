#include "apache/vhost.h"

namespace ecert::apache {

namespace {

bool in_file(const VirtualHost& vh, const fs::path& wanted) {
  return vh.file.lexically_normal() == wanted || vh.real_file.lexically_normal() == wanted;
}

std::string where(const VirtualHost& vh) { return vh.file.string() + ":" + std::to_string(vh.line); }

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
                             "> block with ServerName " + query.server_name + " or set vhost.port");
  }
  const auto& matches = exact.empty() ? wildcard : exact;
  if (matches.size() == 1) return matches.front();
  if (matches.empty()) {
    std::string list;
    for (const VirtualHost* vh : candidates) list += (list.empty() ? "" : ", ") + vh->describe();
    return Status::not_found("no <VirtualHost> on port " + port + " serves " + query.server_name +
                             "; candidates: " + list + "; add ServerName " + query.server_name +
                             " to one of them or set vhost.server_name");
  }
  std::string list;
  for (const VirtualHost* vh : matches) list += (list.empty() ? "" : ", ") + where(*vh);
  return Status::conflict(std::to_string(matches.size()) + " <VirtualHost> blocks on port " + port + " serve " +
                          query.server_name + ": " + list + "; keep one or set vhost.file");
}

}  // namespace ecert::apache
