// Finding the one <VirtualHost> that serves a site.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "apache/config.h"

namespace ecert::apache {

struct VhostQuery {
  std::string server_name;
  int port = 443;
  std::optional<fs::path> only_file;  // compared against both path and real path
};

// Exactly one vhost on `port` whose ServerName/ServerAlias serves the name
// (exact matches win over wildcard aliases, and those over a block without
// ServerName that inherits the main server's), among the blocks Apache reads
// (Config::vhosts). None or several is an error listing the candidates by
// file:line, and saying what to do; "none" also names the unread blocks
// (Config::unread_vhosts) that would have matched, and why Apache skips
// them. A match whose VirtualHost::condition is set (Apache may not read it)
// is never returned: the error names it and its condition. Nor is a block
// that another one answering to the name comes before, on a shared address:
// Apache serves the name from the first, whatever the kind of match (the
// error names both).
Result<const VirtualHost*> find_vhost(const Config& config, const VhostQuery& query);

// find_vhost for many queries against one config: names are indexed once,
// so a fleet of N sites costs O(N), not O(N^2). Same answers and messages.
// REQUIRES: `config` outlives the index.
class VhostIndex {
 public:
  explicit VhostIndex(const Config& config);
  Result<const VirtualHost*> find(const VhostQuery& query) const;

 private:
  const Config& config_;
  std::unordered_map<std::string, std::vector<std::size_t>> by_name_;  // lower-cased ServerName and aliases
  std::vector<std::size_t> wildcard_;  // vhosts with a wildcard ServerAlias
  std::unordered_map<std::string, std::vector<std::size_t>> by_inherited_name_;  // lower-cased

  Result<const VirtualHost*> first_served(const VirtualHost* chosen, const VhostQuery& query) const;
};

}  // namespace ecert::apache
