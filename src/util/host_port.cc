#include "util/host_port.h"

#include <algorithm>
#include <cctype>

namespace ecert {
namespace {

bool all_of(std::string_view s, bool (*ok)(unsigned char)) {
  return std::all_of(s.begin(), s.end(), [&](char c) { return ok(static_cast<unsigned char>(c)); });
}

bool ipv6_char(unsigned char c) { return std::isxdigit(c) || c == ':' || c == '.'; }
bool name_char(unsigned char c) { return std::isalnum(c) || c == '.' || c == '-' || c == '_'; }
bool digit(unsigned char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::optional<HostPort> parse_host_port(std::string_view s) {
  std::string_view host, port;
  if (!s.empty() && s[0] == '[') {
    const std::size_t close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') return std::nullopt;
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
    if (host.find(':') == std::string_view::npos || !all_of(host, ipv6_char)) return std::nullopt;
  } else {
    const std::size_t colon = s.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
    if (!all_of(host, name_char)) return std::nullopt;
  }
  if (host.empty() || port.empty() || port.size() > 5 || !all_of(port, digit)) return std::nullopt;
  const int number = std::stoi(std::string(port));
  if (number < 1 || number > 65535) return std::nullopt;
  return HostPort{std::string(host), number};
}

}  // namespace ecert
