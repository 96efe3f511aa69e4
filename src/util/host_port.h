// "host:port" and "[IPv6]:port", as vhost.verify names the address to
// check: parsed in one place for the manifest's validation and the probe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ecert {

struct HostPort {
  std::string host;  // a name, an IPv4 address, or an IPv6 address without its brackets
  int port = 0;      // 1..65535
};

// nullopt unless `text` is HOST:PORT (HOST of letters, digits, '.', '-',
// '_') or [IPv6]:PORT (hex digits, ':' and '.') with a decimal port 1..65535.
std::optional<HostPort> parse_host_port(std::string_view text);

}  // namespace ecert
