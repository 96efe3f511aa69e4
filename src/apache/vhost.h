// Finding the one <VirtualHost> that serves a site.
#pragma once

#include <optional>
#include <string>

#include "apache/config.h"

namespace ecert::apache {

struct VhostQuery {
  std::string server_name;
  int port = 443;
  std::optional<fs::path> only_file;  // compared against both path and real path
};

// Exactly one vhost on `port` whose ServerName/ServerAlias serves the name
// (exact matches win over wildcard aliases). None or several is an error
// listing the candidates by file:line, and saying what to do.
Result<const VirtualHost*> find_vhost(const Config& config, const VhostQuery& query);

}  // namespace ecert::apache
